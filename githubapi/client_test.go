package githubapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghprune/ghprune/internal/clock"
)

func TestNew_RefusesFineGrainedToken(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Token: "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"})
	if !errors.Is(err, ErrFineGrainedToken) {
		t.Fatalf("err = %v, want ErrFineGrainedToken", err)
	}
	for _, want := range []string{"fine-grained", "classic", "GITHUB_TOKEN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "abcdefghijklmnopqrstuvwxyz") {
		t.Errorf("message echoes the token: %v", err)
	}
}

func TestNew_RefusesEmptyToken(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", "  \n"} {
		if _, err := New(Config{Token: tok}); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("New(token %q) err = %v, want ErrBadCredentials", tok, err)
		}
	}
}

func TestNew_RefusesTokenWithControlCharacters(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{
		"ghp_FirstLine0123456789\nghp_SecondLine0123456789",
		"ghp_CarriageReturn0123\r456789",
		"ghp_Inner Space0123456789",
		"ghp_Tab\t0123456789",
		"ghp_Nul\x000123456789",
	} {
		_, err := New(Config{Token: "\n " + tok + "\r\n"})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "the token contains a newline or other control character") {
			t.Errorf("New(token %q) err = %v, want ErrInvalid naming the control character", tok, err)
			continue
		}
		for _, part := range strings.FieldsFunc(tok, func(r rune) bool { return r < '0' }) {
			if len(part) > 3 && strings.Contains(err.Error(), part) {
				t.Errorf("err = %q echoes the token", err)
			}
		}
	}
	// Surrounding white space (a newline from a mounted secret) is fine.
	if _, err := New(Config{Token: "\t" + testToken + "\r\n"}); err != nil {
		t.Errorf("token with surrounding white space: %v", err)
	}
}

func TestNew_ValidatesBaseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base    string
		wantErr bool
	}{
		{"", false},
		{"https://api.github.com/", false},
		{"https://ghe.example.com/api/v3/", false},
		{"http://127.0.0.1:8080", false},
		{"ftp://api.github.com", true},
		{"api.github.com", true},
		{"https://", true},
		{"https://x:" + testToken + "@api.github.com", true},
		{"https://api.github.com/?a=b", true},
		{"https://api.github.com:bad" + testToken, true},
	} {
		_, err := New(Config{Token: testToken, BaseURL: tc.base})
		if (err != nil) != tc.wantErr {
			t.Errorf("New(BaseURL %q) err = %v, wantErr %v", tc.base, err, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("New(BaseURL %q) err = %v, want ErrInvalid", tc.base, err)
		}
		noToken(t, err)
	}
}

func TestClient_GHESBaseWithTrailingSlash(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"id":1,"name":"api","package_type":"container"}`)
	})
	c, err := New(Config{BaseURL: f.srv.URL + "/api/v3/", Token: testToken, HTTPClient: f.srv.Client(), Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPackage(context.Background(), Org("acme"), "container", "api"); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /api/v3/orgs/acme/packages/container/api"}
	if diff := cmp.Diff(want, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestClient_RetriesServerErrorsWithBackoff(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			writeError(w, http.StatusBadGateway, "Server Error")
			return
		}
		writeJSON(w, 200, `{"id":7,"name":"api"}`)
	})
	p, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != 7 {
		t.Errorf("ID = %d, want 7", p.ID)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, f.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if got := f.clk.Slept(); got != 3*time.Second {
		t.Errorf("slept %s, want 3s", got)
	}
	if got := f.c.Requests(); got != 3 {
		t.Errorf("Requests() = %d, want 3", got)
	}
}

func TestClient_GivesUpAfterMaxRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusServiceUnavailable, "Service Unavailable")
	})
	_, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if !errors.Is(err, ErrServer) {
		t.Fatalf("err = %v, want ErrServer", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("err = %#v, want *APIError with status 503", err)
	}
	if got := f.c.Requests(); got != 4 {
		t.Errorf("Requests() = %d, want 4 (1 + MaxRetries 3)", got)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, f.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if got := f.clk.Slept(); got != 7*time.Second {
		t.Errorf("slept %s, want 7s", got)
	}
}

func TestClient_NegativeMaxRetriesMeansNone(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusInternalServerError, "Server Error")
	}, func(c *Config) { c.MaxRetries = -1 })
	_, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if !errors.Is(err, ErrServer) {
		t.Fatalf("err = %v, want ErrServer", err)
	}
	if got := f.c.Requests(); got != 1 {
		t.Errorf("Requests() = %d, want 1", got)
	}
}

func TestClient_NotFoundIsNeverRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Package not found.")
	})
	_, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if got := f.c.Requests(); got != 1 {
		t.Errorf("Requests() = %d, want 1", got)
	}
}

// roundTripFunc lets a test fail at the network level.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClient_RetriesNetworkErrors(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	clk := clock.NewFake(t0)
	c, err := New(Config{
		Token: testToken,
		Clock: clk,
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			return nil, errors.New("connection reset by peer")
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if err == nil || !strings.Contains(err.Error(), "connection reset by peer") {
		t.Fatalf("err = %v, want the network error", err)
	}
	if !strings.HasPrefix(err.Error(), "get container") || !strings.Contains(err.Error(), "GET /orgs/acme/packages/container/api: ") {
		t.Errorf("err = %q, want the operation and the request named", err)
	}
	noToken(t, err)
	if got := n.Load(); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
	if got := clk.Slept(); got != 7*time.Second {
		t.Errorf("slept %s, want 7s", got)
	}
}

func TestClient_WaitsOutPrimaryRateLimitUntilReset(t *testing.T) {
	t.Parallel()
	reset := t0.Add(10 * time.Minute)
	var n atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			setRate(w, 5000, 0, reset)
			writeError(w, http.StatusForbidden, "API rate limit exceeded for user ID 1.")
			return
		}
		setRate(w, 5000, 4999, reset.Add(time.Hour))
		writeJSON(w, 200, `{"id":1}`)
	})
	if _, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.clk.Slept(), 10*time.Minute+time.Second; got != want {
		t.Errorf("slept %s, want %s (until reset + 1s)", got, want)
	}
	if got := f.c.Rate(); !got.Known || got.Remaining != 4999 || got.Resource != "core" {
		t.Errorf("Rate() = %+v, want the last headers", got)
	}
	a := f.Attempts()
	if len(a) != 2 || a[0].Status != 403 || !a[0].Retry || a[0].SecondaryLimited || a[0].Rate.Remaining != 0 {
		t.Errorf("attempts = %+v", a)
	}
}

func TestClient_PrimaryRateLimit429(t *testing.T) {
	t.Parallel()
	reset := t0.Add(30 * time.Second)
	var n atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			setRate(w, 5000, 0, reset)
			writeError(w, http.StatusTooManyRequests, "API rate limit exceeded for user ID 1.")
			return
		}
		writeJSON(w, 200, `{"id":1}`)
	})
	if _, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.clk.Slept(), 31*time.Second; got != want {
		t.Errorf("slept %s, want %s", got, want)
	}
}

func TestClient_PrimaryRateLimitBeyondMaxWaitReturnsError(t *testing.T) {
	t.Parallel()
	reset := t0.Add(2 * time.Hour)
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		setRate(w, 5000, 0, reset)
		writeError(w, http.StatusForbidden, "API rate limit exceeded for user ID 1.")
	})
	_, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if !errors.Is(err, ErrPrimaryRateLimit) {
		t.Fatalf("err = %v, want ErrPrimaryRateLimit", err)
	}
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %#v, want *RateLimitError", err)
	}
	if !rl.Rate.Reset.Equal(reset) || rl.Status != 403 {
		t.Errorf("RateLimitError = %+v, want reset %s, status 403", rl, reset)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Kind != ErrPrimaryRateLimit {
		t.Errorf("errors.As(*APIError) = %v", apiErr)
	}
	if f.clk.Slept() != 0 || f.c.Requests() != 1 {
		t.Errorf("slept %s with %d requests, want no wait and 1 request", f.clk.Slept(), f.c.Requests())
	}
	if !strings.Contains(err.Error(), "resets at") {
		t.Errorf("err = %q, want the reset time", err)
	}
}

func TestClient_PrimaryRateLimitGivesUpAfterMaxRateLimitWaits(t *testing.T) {
	t.Parallel()
	var f *fixture
	f = newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		setRate(w, 5000, 0, f.clk.Now().Add(time.Minute))
		writeError(w, http.StatusForbidden, "API rate limit exceeded for user ID 1.")
	}, func(c *Config) { c.MaxRateLimitWaits = 2 })
	_, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if !errors.Is(err, ErrPrimaryRateLimit) {
		t.Fatalf("err = %v, want ErrPrimaryRateLimit", err)
	}
	if got := f.c.Requests(); got != 3 {
		t.Errorf("Requests() = %d, want 3 (two waits)", got)
	}
	if apiErr := (*APIError)(nil); !errors.As(err, &apiErr) || apiErr.Attempt != 3 {
		t.Errorf("APIError = %+v, want Attempt 3", apiErr)
	}
}

func TestClient_SecondaryRateLimitWaitsRetryAfter(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			setRate(w, 5000, 4000, t0.Add(time.Hour))
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
			return
		}
		writeJSON(w, 200, `{"id":1}`)
	})
	if _, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api"); err != nil {
		t.Fatal(err)
	}
	if got := f.clk.Slept(); got != 30*time.Second {
		t.Errorf("slept %s, want 30s", got)
	}
	if a := f.Attempts(); !a[0].SecondaryLimited || a[0].Wait != 30*time.Second {
		t.Errorf("first attempt = %+v, want secondary with 30s wait", a[0])
	}
}

func TestClient_SecondaryRateLimitWithoutRetryAfterDoublesFromOneMinute(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			setRate(w, 5000, 4000, t0.Add(time.Hour))
			writeError(w, http.StatusTooManyRequests, "You have exceeded a secondary rate limit and have been temporarily blocked from content creation.")
			return
		}
		writeJSON(w, 200, `{"id":1}`)
	})
	if _, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api"); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute}
	if diff := cmp.Diff(want, f.Waits()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if got := f.clk.Slept(); got != 7*time.Minute {
		t.Errorf("slept %s, want 7m", got)
	}
}

func TestClient_SecondaryRateLimitWithExhaustedPrimaryWaitsUntilReset(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			setRate(w, 5000, 0, t0.Add(5*time.Minute))
			writeError(w, http.StatusForbidden, "You have exceeded a secondary rate limit.")
			return
		}
		writeJSON(w, 200, `{"id":1}`)
	})
	if _, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.clk.Slept(), 5*time.Minute+time.Second; got != want {
		t.Errorf("slept %s, want %s", got, want)
	}
}

func TestClient_SecondaryRateLimitGivesUpWithTypedError(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusForbidden, "You have exceeded a secondary rate limit.")
	})
	_, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if !errors.Is(err, ErrSecondaryRateLimit) {
		t.Fatalf("err = %v, want ErrSecondaryRateLimit", err)
	}
	var sl *SecondaryRateLimitError
	if !errors.As(err, &sl) || sl.RetryAfter != time.Minute {
		t.Fatalf("err = %#v, want *SecondaryRateLimitError with RetryAfter 1m", err)
	}
	if got := f.c.Requests(); got != 6 {
		t.Errorf("Requests() = %d, want 6 (1 + MaxRateLimitWaits 5)", got)
	}
	if got := f.clk.Slept(); got != 5*time.Minute {
		t.Errorf("slept %s, want 5m", got)
	}
}

// cancelingClock cancels the context when asked to wait, as a SIGTERM
// arriving during a rate-limit wait would.
type cancelingClock struct {
	*clock.Fake
	cancel context.CancelFunc
}

func (c cancelingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.cancel()
	return c.Fake.Sleep(ctx, d)
}

func TestClient_ContextCancelDuringRateLimitWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		setRate(w, 5000, 0, t0.Add(time.Minute))
		writeError(w, http.StatusForbidden, "API rate limit exceeded for user ID 1.")
	}, func(c *Config) { c.Clock = cancelingClock{clock.NewFake(t0), cancel} })
	_, err := f.c.GetPackage(ctx, Org("acme"), "container", "api")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := f.c.Requests(); got != 1 {
		t.Errorf("Requests() = %d, want 1", got)
	}
}

func TestClient_ContextCancelDuringRetryBackoff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusBadGateway, "Server Error")
	}, func(c *Config) { c.Clock = cancelingClock{clock.NewFake(t0), cancel} })
	_, err := f.c.ListVersions(ctx, Org("acme"), "container", "api", ListVersionsOptions{State: StateActive})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := f.c.Requests(); got != 1 {
		t.Errorf("Requests() = %d, want 1", got)
	}
}

func TestClient_ReusesCachedBodyOn304(t *testing.T) {
	t.Parallel()
	const etag = `W/"abc123"`
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag {
			// GitHub sends no body on a 304, and the primary limit is not charged.
			setRate(w, 5000, 4999, t0.Add(time.Hour))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			t.Errorf("If-None-Match = %q, want %q", inm, etag)
		}
		setRate(w, 5000, 4999, t0.Add(time.Hour))
		w.Header().Set("ETag", etag)
		writeJSON(w, 200, `{"id":42,"name":"api","package_type":"container","version_count":3}`)
	})
	ctx := context.Background()
	first, err := f.c.GetPackage(ctx, Org("acme"), "container", "api")
	if err != nil {
		t.Fatal(err)
	}
	second, err := f.c.GetPackage(ctx, Org("acme"), "container", "api")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("cached answer differs (-first +second):\n%s", diff)
	}
	if second.ID != 42 || second.VersionCount != 3 {
		t.Errorf("second = %+v", second)
	}
	var statuses []int
	for _, a := range f.Attempts() {
		statuses = append(statuses, a.Status)
	}
	if diff := cmp.Diff([]int{200, 304}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestClient_PagingFromCacheStillFollowsNextLinks(t *testing.T) {
	t.Parallel()
	var base string
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("page")
		etag := `"p` + page + `"`
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified) // no Link header on the 304
			return
		}
		w.Header().Set("ETag", etag)
		if page == "" {
			w.Header().Set("Link", fmt.Sprintf(`<%s/organizations/9/packages/container/api/versions?page=2&per_page=100>; rel="next"`, base))
			writeJSON(w, 200, versionsPage(1, 2))
			return
		}
		writeJSON(w, 200, versionsPage(3, 1))
	})
	base = f.srv.URL
	for i := 0; i < 2; i++ {
		list, err := f.c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{State: StateActive})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Versions) != 3 || list.Pages != 2 {
			t.Errorf("pass %d: %d versions on %d pages, want 3 on 2", i, len(list.Versions), list.Pages)
		}
	}
	if got := len(f.Calls()); got != 4 {
		t.Errorf("%d calls, want 4: %v", got, f.Calls())
	}
}

func TestClient_RefusesNextLinkToForeignHost(t *testing.T) {
	t.Parallel()
	for _, link := range []string{
		`<https://evil.example/organizations/1/packages/container/api/versions?page=2>; rel="next"`,
		`<http://127.0.0.1:1/organizations/1/packages/container/api/versions?page=2>; rel="next"`,
	} {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", link)
			writeJSON(w, 200, versionsPage(1, 1))
		})
		_, err := f.c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{State: StateActive})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not sending the token") {
			t.Errorf("link %s: err = %v, want a refusal wrapping ErrInvalid", link, err)
		}
		noToken(t, err)
		if got := len(f.Calls()); got != 1 {
			t.Errorf("%d calls, want 1", got)
		}
	}
}

func TestClient_RefusesPaginationLoop(t *testing.T) {
	t.Parallel()
	var base string
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/orgs/acme/packages/container/api/versions?per_page=100&state=active>; rel="next"`, base))
		writeJSON(w, 200, versionsPage(1, 1))
	})
	base = f.srv.URL
	_, err := f.c.ListVersions(context.Background(), Org("acme"), "container", "api", ListVersionsOptions{State: StateActive})
	if !errors.Is(err, ErrPagination) || !strings.Contains(err.Error(), "already read") {
		t.Fatalf("err = %v, want ErrPagination for a page already read", err)
	}
	if got := len(f.Calls()); got != 1 {
		t.Errorf("%d calls, want 1", got)
	}
}

func TestNextLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ header, want string }{
		{``, ``},
		{`<https://api.github.com/organizations/1/packages?page=2>; rel="next", <https://api.github.com/organizations/1/packages?page=9>; rel="last"`,
			`https://api.github.com/organizations/1/packages?page=2`},
		{`<https://a/x?page=1>; rel="prev", <https://a/x?page=3&q=a,b>; rel="next"`, `https://a/x?page=3&q=a,b`},
		{`<https://a/x?page=1>; rel="first", <https://a/x?page=1>; rel="prev"`, ``},
		{`<https://a/x?page=2>;rel=next`, `https://a/x?page=2`},
		{`<https://a/x?page=2>; rel="next last"`, `https://a/x?page=2`},
		{`garbage`, ``},
	} {
		if got := nextLink(tc.header); got != tc.want {
			t.Errorf("nextLink(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestClient_ObservesEveryAttempt(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			writeError(w, http.StatusInternalServerError, "Server Error")
			return
		}
		setRate(w, 5000, 4321, t0.Add(time.Hour))
		writeJSON(w, 200, `[]`)
	})
	if _, err := f.c.ListPackages(context.Background(), Org("acme"), "container", ""); err != nil {
		t.Fatal(err)
	}
	got := f.Attempts()
	for i := range got {
		got[i].Duration = 0
	}
	want := []Attempt{
		{Op: "list_packages", Method: "GET", Status: 500, Retry: true, Wait: time.Second},
		{Op: "list_packages", Method: "GET", Status: 200, Rate: Rate{Limit: 5000, Remaining: 4321, Used: 679, Reset: t0.Add(time.Hour), Resource: "core", Known: true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
}

func TestClient_StringHidesToken(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Token: testToken, BaseURL: "https://api.github.com"}
	for _, s := range []string{
		c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
		cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
	} {
		if strings.Contains(s, testToken) {
			t.Errorf("output holds the token: %s", s)
		}
	}
}

// A Retry-After too large for a Duration is not read as a short wait (in
// seconds, 18446744074 would wrap to some 290 ms): it is a wait of a day
// at least, which no retry waits for.
func TestClient_HugeRetryAfterIsNoShortWait(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		setRate(w, 5000, 4000, t0.Add(time.Hour))
		w.Header().Set("Retry-After", "18446744074")
		writeError(w, http.StatusForbidden, "You have exceeded a secondary rate limit.")
	})
	_, err := f.c.GetPackage(context.Background(), Org("acme"), "container", "api")
	if err == nil {
		t.Fatal("the request succeeded")
	}
	if a := f.Attempts(); len(a) == 0 || a[0].Wait < 24*time.Hour && a[0].Wait != 0 {
		t.Errorf("attempts %+v: a wait under a day", a)
	}
	if got := f.clk.Slept(); got >= time.Nanosecond && got < 24*time.Hour {
		t.Errorf("slept %s before giving up", got)
	}
}
