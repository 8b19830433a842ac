package httpsafe_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/internal/httpsafe"
	"github.com/ghprune/ghprune/internal/httpsafe/httpsafetest"
)

const secret = "Bearer ghp_HttpsafeTestToken0000000000000000"

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"https://api.github.com/x", "https://api.github.com/y?q=1", true},
		{"https://API.GitHub.com", "HTTPS://api.github.com", true},
		{"https://api.github.com:443", "https://api.github.com", true},
		{"http://ghe.example.com:80/api/v3", "http://ghe.example.com/api/v3", true},
		{"https://api.github.com", "http://api.github.com", false},
		{"https://api.github.com", "http://api.github.com:443", false},
		{"https://api.github.com", "https://api.github.com:8443", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081", false},
		{"https://api.github.com", "https://evil.api.github.com", false},
		{"https://api.github.com", "https://github.com", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := httpsafe.SameOrigin(a, b); got != tc.want {
			t.Errorf("SameOrigin(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := httpsafe.SameOrigin(b, a); got != tc.want {
			t.Errorf("SameOrigin(%s, %s) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
	if httpsafe.SameOrigin(nil, &url.URL{}) {
		t.Error("SameOrigin(nil, …) = true")
	}
}

// hostileRoutes starts an API at api.example.test (over https when tls) and
// a hostile server answering 204 to everything, reached as evil.
func hostileRoutes(t *testing.T, tls bool, evil string, api http.HandlerFunc) (*http.Client, *httpsafetest.Server) {
	t.Helper()
	var srv *httpsafetest.Server
	if tls {
		srv = httpsafetest.NewTLSServer(t, api)
	} else {
		srv = httpsafetest.NewServer(t, api)
	}
	bad := httpsafetest.NewServer(t, nil)
	port := "80"
	if tls {
		port = "443"
	}
	tr := httpsafetest.Transport(map[string]*httpsafetest.Server{"api.example.test:" + port: srv, evil: bad})
	return &http.Client{Transport: tr}, bad
}

// A redirect of a GET to another origin is refused before anything is sent
// there, whatever net/http's own header policy would have done.
func TestClient_RefusesGETRedirectToAnotherOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, base, location, evilAddr, wantMsg string
		tls                                     bool
	}{
		{"another port", "http://api.example.test", "http://api.example.test:8081/x?token=1", "api.example.test:8081",
			"refusing redirect from http://api.example.test to http://api.example.test:8081: another origin would receive the token", false},
		{"plain http", "https://api.example.test", "http://api.example.test/x", "api.example.test:80",
			"refusing redirect from https://api.example.test to http://api.example.test: another origin would receive the token", true},
		{"subdomain", "http://api.example.test", "http://evil.api.example.test/x", "evil.api.example.test:80",
			"refusing redirect from http://api.example.test to http://evil.api.example.test: another origin would receive the token", false},
	} {
		for _, status := range []int{301, 302, 307, 308} {
			t.Run(fmt.Sprintf("%s %d", tc.name, status), func(t *testing.T) {
				t.Parallel()
				hc, bad := hostileRoutes(t, tc.tls, tc.evilAddr, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, tc.location, status)
				})
				req, _ := http.NewRequest(http.MethodGet, tc.base+"/start", nil)
				req.Header.Set("Authorization", secret)
				resp, err := httpsafe.Client(hc).Do(req)
				if resp != nil {
					resp.Body.Close()
				}
				var re *httpsafe.RedirectError
				if !errors.As(err, &re) || !errors.Is(err, httpsafe.ErrRedirectRefused) {
					t.Fatalf("err = %v, want a *RedirectError", err)
				}
				if re.Error() != tc.wantMsg || re.Status != status || re.Method != http.MethodGet {
					t.Errorf("RedirectError = %q (status %d, method %s), want %q (%d, GET)", re, re.Status, re.Method, tc.wantMsg, status)
				}
				if got := bad.Requests(); len(got) != 0 {
					t.Errorf("the other origin received %+v", got)
				}
			})
		}
	}
}

// DELETE, POST, PUT and PATCH follow no redirect at all, not even on the same
// origin: the caller gets the 3xx itself.
func TestClient_MutationsFollowNoRedirect(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodDelete, http.MethodPost, http.MethodPut, http.MethodPatch} {
		for _, status := range []int{301, 302, 303, 307, 308} {
			t.Run(fmt.Sprintf("%s %d", method, status), func(t *testing.T) {
				t.Parallel()
				srv := httpsafetest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/start" {
						http.Redirect(w, r, "/elsewhere", status)
						return
					}
					w.WriteHeader(http.StatusNoContent)
				})
				req, _ := http.NewRequest(method, srv.URL+"/start", strings.NewReader("{}"))
				req.Header.Set("Authorization", secret)
				resp, err := httpsafe.Client(srv.Client()).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != status {
					t.Errorf("status = %d, want the redirect %d itself", resp.StatusCode, status)
				}
				if got := srv.Requests(); len(got) != 1 {
					t.Errorf("server received %+v, want the one request", got)
				}
			})
		}
	}
}

func TestClient_FollowsSameOriginGETUpToTheLimit(t *testing.T) {
	t.Parallel()
	srv := httpsafetest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Query().Get("n"), "%d", &n)
		if n < httpsafe.MaxRedirects || r.URL.Query().Get("loop") != "" {
			http.Redirect(w, r, fmt.Sprintf("/next?n=%d&loop=%s", n+1, r.URL.Query().Get("loop")), http.StatusTemporaryRedirect)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	hc := httpsafe.Client(srv.Client())
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/start", nil)
	req.Header.Set("Authorization", secret)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%d same-origin redirects: %v", httpsafe.MaxRedirects, err)
	}
	resp.Body.Close()
	for _, r := range srv.Requests() {
		if r.Authorization != secret {
			t.Errorf("%s: Authorization %q, want it kept on the same origin", r.Path, r.Authorization)
		}
	}

	// A redirect loop, which gives up after 50 hops so that a client
	// without a limit ends the test too.
	var loop *httpsafetest.Server
	loop = httpsafetest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		if len(loop.Requests()) < 50 {
			http.Redirect(w, r, "/again", http.StatusFound)
		}
	})
	resp, err = httpsafe.Client(loop.Client()).Get(loop.URL + "/start")
	if resp != nil {
		resp.Body.Close()
	}
	if !errors.Is(err, httpsafe.ErrRedirectRefused) || !strings.Contains(err.Error(), fmt.Sprintf("more than %d redirects", httpsafe.MaxRedirects)) {
		t.Fatalf("err = %v, want the hop limit", err)
	}
	if got := len(loop.Requests()); got != httpsafe.MaxRedirects+1 {
		t.Errorf("%d requests, want %d", got, httpsafe.MaxRedirects+1)
	}
}

func TestClient_CopiesWithoutMutatingTheCaller(t *testing.T) {
	t.Parallel()
	var consulted bool
	tr := &http.Transport{}
	orig := &http.Client{Transport: tr, Timeout: 7 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		consulted = true
		return errors.New("caller says no")
	}}
	before := fmt.Sprintf("%p", orig.CheckRedirect)
	c := httpsafe.Client(orig)
	if c == orig || c.Transport != tr || c.Timeout != 7*time.Second {
		t.Errorf("copy = %+v, want a new client with the same transport and timeout", c)
	}
	if fmt.Sprintf("%p", orig.CheckRedirect) != before {
		t.Error("the caller's CheckRedirect was replaced")
	}
	// The caller's policy is still consulted after ours.
	srv := httpsafetest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/ok", http.StatusFound)
		}
	})
	c = httpsafe.Client(&http.Client{Transport: srv.Client().Transport, CheckRedirect: orig.CheckRedirect})
	resp, err := c.Get(srv.URL + "/start")
	if resp != nil {
		resp.Body.Close()
	}
	if err == nil || !consulted {
		t.Errorf("err = %v, consulted = %v; want the caller's CheckRedirect to refuse", err, consulted)
	}
	if httpsafe.Client(nil) == nil {
		t.Error("Client(nil) = nil")
	}
}

func TestUnsafeToken(t *testing.T) {
	t.Parallel()
	for tok, want := range map[string]bool{
		"ghp_abcDEF0123456789": false,
		"ghs_x-y.z":            false,
		"ghp_one\nghp_two":     true,
		"ghp_abc\r":            true,
		"ghp abc":              true,
		"ghp\tabc":             true,
		"ghp_abc\x00":          true,
		"ghp_abc\x7f":          true,
		"ghp_\u200babc":        true, // zero-width space pasted from a web page
		"\ufeffghp_abc":        true, // byte order mark
		"ghp_abc\u00a0def":     true, // no-break space
		"ghp_abc\u2028def":     true, // line separator
	} {
		if got := httpsafe.UnsafeToken(tok); got != want {
			t.Errorf("UnsafeToken(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"5": 5 * time.Second, " 0 ": 0, "86400": day, "18446744074": day, "99999999999999999999999": day,
		"Tue, 01 Dec 2026 12:01:00 GMT": time.Minute, "Tue, 01 Dec 2026 11:00:00 GMT": 0,
	} {
		if got, ok := httpsafe.RetryAfter(in, now); !ok || got != want {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := httpsafe.RetryAfter(bad, now); ok {
			t.Errorf("RetryAfter(%q) read", bad)
		}
	}
}
