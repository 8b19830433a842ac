package githubapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ghprune/ghprune/internal/clock"
)

// testToken looks like a classic PAT so that a leak is easy to spot.
const testToken = "ghp_SECRETtoken0123456789abcdefABCDEF01"

// allScopes is what a token that may read, delete and restore everything reports.
const allScopes = "delete:packages, repo, write:packages"

// t0 is the fake clock's start.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// call is one request the test server received.
type call struct {
	Method, Path, Query string
}

func (c call) String() string {
	if c.Query == "" {
		return c.Method + " " + c.Path
	}
	return c.Method + " " + c.Path + "?" + c.Query
}

// fixture is an httptest server answering like GitHub, a Client pointed at
// it with a fake clock, and everything the client reported.
type fixture struct {
	srv  *httptest.Server
	clk  *clock.Fake
	c    *Client
	logs *observer.ObservedLogs

	mu       sync.Mutex
	calls    []call
	attempts []Attempt
}

// newFixture starts a server with handler h. Every request is checked for
// the headers GitHub requires before h sees it.
func newFixture(t *testing.T, h http.HandlerFunc, opts ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(t0)}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls = append(f.calls, call{r.Method, r.URL.EscapedPath(), r.URL.RawQuery})
		f.mu.Unlock()
		for k, want := range map[string]string{
			"Accept":               "application/vnd.github+json",
			"X-GitHub-Api-Version": "2022-11-28",
			"Authorization":        "Bearer " + testToken,
			"User-Agent":           "ghprune",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s %s: header %s = %q, want %q", r.Method, r.URL.EscapedPath(), k, got, want)
			}
		}
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	core, logs := observer.New(zapcore.DebugLevel)
	f.logs = logs
	cfg := Config{
		BaseURL:    f.srv.URL,
		Token:      testToken,
		HTTPClient: f.srv.Client(),
		Clock:      f.clk,
		Logger:     zap.New(core),
		Observe: func(a Attempt) {
			f.mu.Lock()
			f.attempts = append(f.attempts, a)
			f.mu.Unlock()
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.c = c
	return f
}

// Calls returns the requests received so far, as "METHOD path?query".
func (f *fixture) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.String()
	}
	return out
}

// Attempts returns what Observe received.
func (f *fixture) Attempts() []Attempt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Attempt(nil), f.attempts...)
}

// Waits returns the Wait of every attempt that was retried.
func (f *fixture) Waits() []time.Duration {
	var out []time.Duration
	for _, a := range f.Attempts() {
		if a.Retry {
			out = append(out, a.Wait)
		}
	}
	return out
}

// assertNoTokenInLogs fails if any log message or field holds the token.
func (f *fixture) assertNoTokenInLogs(t *testing.T) {
	t.Helper()
	for _, e := range f.logs.All() {
		if strings.Contains(e.Message, testToken) {
			t.Errorf("log message holds the token: %q", e.Message)
		}
		for k, v := range e.ContextMap() {
			if strings.Contains(fmt.Sprint(v), testToken) {
				t.Errorf("log field %s holds the token: %v", k, v)
			}
		}
	}
}

// withUser answers GET /user like github.com for a classic token with scopes,
// and passes everything else to next.
func withUser(scopes string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/user" {
			w.Header().Set("X-OAuth-Scopes", scopes)
			writeJSON(w, http.StatusOK, `{"login":"octocat","id":1}`)
			return
		}
		next(w, r)
	}
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// writeError answers with GitHub's basic-error shape.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, fmt.Sprintf(`{"message":%q,"documentation_url":"https://docs.github.com/rest","status":"%d"}`, message, status))
}

// setRate sets the x-ratelimit-* headers.
func setRate(w http.ResponseWriter, limit, remaining int, reset time.Time) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(limit-remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// noToken fails if err's text holds the token.
func noToken(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, testToken) {
			t.Errorf("error text holds the token: %s", s)
		}
	}
}

// versionsPage renders n container versions starting at id.
func versionsPage(id, n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"sha256:%064d","url":"x","package_html_url":"p","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-02T00:00:00Z","html_url":"h","metadata":{"package_type":"container","container":{"tags":[]}}}`, id+i, id+i)
	}
	b.WriteString("]")
	return b.String()
}
