package registry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/internal/httpsafe/httpsafetest"
	"github.com/ghprune/ghprune/simulator"
)

var retryNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// step is one answer of a scripted registry: a status with headers, or (hang
// up) a connection closed without an answer.
type step struct {
	status int
	header map[string]string
	hangUp bool
}

// scripted starts a registry at registry.example.test that answers each
// manifest GET with the next step of script (the last one repeats), and a
// Client for it on a fake clock that records what Observe saw.
func scripted(t *testing.T, script ...step) (*Client, *httpsafetest.Server, *clock.Fake, *[]int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	reg := httpsafetest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := script[min(n, len(script)-1)]
		n++
		mu.Unlock()
		if s.hangUp {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range s.header {
			w.Header().Set(k, v)
		}
		if s.status != http.StatusOK {
			w.WriteHeader(s.status)
			return
		}
		w.Header().Set("Content-Type", MediaOCIManifest)
		w.Write(manifest)
	})
	fake := clock.NewFake(retryNow)
	var seen []int
	c, err := New(Config{URL: "http://registry.example.test", Token: token, Clock: fake,
		HTTPClient: &http.Client{Transport: httpsafetest.Transport(map[string]*httpsafetest.Server{"registry.example.test:80": reg})},
		Observe: func(status int) {
			mu.Lock()
			seen = append(seen, status)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c, reg, fake, &seen
}

func TestFetch_RetriesServerErrorsAndRateLimits(t *testing.T) {
	t.Parallel()
	httpDate := retryNow.Add(30 * time.Second).Format(http.TimeFormat)
	cases := []struct {
		name      string
		script    []step
		wantSeen  []int
		wantSlept time.Duration
	}{
		{"503 then 200: backoff 1s", []step{{status: 503}, {status: 200}}, []int{503, 200}, time.Second},
		{"502, 500 then 200: backoff 1s, 2s", []step{{status: 502}, {status: 500}, {status: 200}}, []int{502, 500, 200}, 3 * time.Second},
		{"429 with Retry-After seconds", []step{{status: 429, header: map[string]string{"Retry-After": "7"}}, {status: 200}}, []int{429, 200}, 7 * time.Second},
		{"503 with Retry-After date", []step{{status: 503, header: map[string]string{"Retry-After": httpDate}}, {status: 200}}, []int{503, 200}, 30 * time.Second},
		{"429 without Retry-After: backoff", []step{{status: 429}, {status: 200}}, []int{429, 200}, time.Second},
		{"no answer, then 200", []step{{hangUp: true}, {status: 200}}, []int{0, 200}, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, reg, fake, seen := scripted(t, tc.script...)
			m, err := c.Fetch(context.Background(), "acme/app", digest)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if m.Digest != digest || c.Fetches() != 1 {
				t.Errorf("manifest %+v, Fetches %d", m, c.Fetches())
			}
			if got := len(reg.Requests()); got != len(tc.wantSeen) {
				t.Errorf("registry saw %d requests, want %d", got, len(tc.wantSeen))
			}
			if diff := cmp.Diff(tc.wantSeen, *seen); diff != "" {
				t.Errorf("Observe saw (-want +got):\n%s", diff)
			}
			if fake.Slept() != tc.wantSlept {
				t.Errorf("slept %s, want %s", fake.Slept(), tc.wantSlept)
			}
		})
	}
}

func TestFetch_GivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	c, reg, fake, seen := scripted(t, step{status: 500})
	_, err := c.Fetch(context.Background(), "acme/app", digest)
	var ue *UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want an *UnavailableError", err)
	}
	if ue.Status != 500 || ue.Attempts != DefaultMaxAttempts {
		t.Errorf("err = %+v, want status 500 after %d attempts", ue, DefaultMaxAttempts)
	}
	if want := "manifest " + digest + " of acme/app: registry unavailable: answered 500 on 4 attempts"; err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	if got := len(reg.Requests()); got != DefaultMaxAttempts {
		t.Errorf("registry saw %d requests, want %d", got, DefaultMaxAttempts)
	}
	if diff := cmp.Diff([]int{500, 500, 500, 500}, *seen); diff != "" {
		t.Errorf("Observe saw (-want +got):\n%s", diff)
	}
	if want := 7 * time.Second; fake.Slept() != want { // 1s + 2s + 4s
		t.Errorf("slept %s, want %s", fake.Slept(), want)
	}
	if c.Fetches() != 0 {
		t.Errorf("Fetches = %d", c.Fetches())
	}
}

func TestFetch_NetworkErrorsGiveUpWithAttemptCount(t *testing.T) {
	t.Parallel()
	c, reg, _, seen := scripted(t, step{hangUp: true})
	_, err := c.Fetch(context.Background(), "acme/app", digest)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Status != 0 || ue.Attempts != DefaultMaxAttempts || ue.Err == nil {
		t.Fatalf("err = %#v", err)
	}
	if len(reg.Requests()) != DefaultMaxAttempts || len(*seen) != DefaultMaxAttempts || (*seen)[0] != 0 {
		t.Errorf("requests %d, Observe saw %v", len(reg.Requests()), *seen)
	}
}

// A registry asking to come back in an hour is not waited for: the manifest
// is unreadable now, its package kept whole this run.
func TestFetch_RetryAfterLongerThanCapFailsAtOnce(t *testing.T) {
	t.Parallel()
	c, reg, fake, _ := scripted(t, step{status: 429, header: map[string]string{"Retry-After": strconv.Itoa(3600)}}, step{status: 200})
	_, err := c.Fetch(context.Background(), "acme/app", digest)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Status != 429 || ue.Attempts != 1 || ue.RetryAfter != time.Hour {
		t.Fatalf("err = %v", err)
	}
	if len(reg.Requests()) != 1 || fake.Slept() != 0 {
		t.Errorf("requests %d, slept %s: want 1, 0", len(reg.Requests()), fake.Slept())
	}
}

func TestFetch_NotRetried(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]error{404: ErrManifestUnknown, 403: ErrDenied} {
		c, reg, fake, seen := scripted(t, step{status: status}, step{status: 200})
		if _, err := c.Fetch(context.Background(), "acme/app", digest); !errors.Is(err, want) {
			t.Errorf("%d: err = %v, want %v", status, err, want)
		}
		if len(reg.Requests()) != 1 || fake.Slept() != 0 || !cmp.Equal(*seen, []int{status}) {
			t.Errorf("%d: requests %d, slept %s, seen %v", status, len(reg.Requests()), fake.Slept(), *seen)
		}
	}
}

// A cancelled context ends the wait between attempts.
func TestFetch_CancelStopsRetries(t *testing.T) {
	t.Parallel()
	c, reg, _, _ := scripted(t, step{status: 503})
	ctx, cancel := context.WithCancel(context.Background())
	c.observe = func(int) { cancel() }
	if _, err := c.Fetch(ctx, "acme/app", digest); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if len(reg.Requests()) != 1 {
		t.Errorf("requests %d, want 1", len(reg.Requests()))
	}
}

// Against the simulator's registry: a 503 on the manifest and on the token
// endpoint are both retried, and Observe sees every manifest attempt,
// including the 401 that asks for a bearer token.
func TestFetch_RetriesThroughTheTokenExchange(t *testing.T) {
	t.Parallel()
	sim, url, ms := rig(t)
	sim.InjectFault(simulator.Fault{Method: "GET", PathContains: "/manifests/", Status: 503, Times: 1})
	sim.InjectFault(simulator.Fault{Method: "GET", PathContains: "/token", Status: 502, Times: 1})
	fake := clock.NewFake(retryNow)
	var seen []int
	c, err := New(Config{URL: url, Token: token, Clock: fake, Observe: func(s int) { seen = append(seen, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(context.Background(), Repository("acme", "team/svc/api"), simulator.Digest(ms["idx"])); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if diff := cmp.Diff([]int{503, 401, 200}, seen); diff != "" {
		t.Errorf("Observe saw (-want +got):\n%s", diff)
	}
	if fake.Slept() != 2*time.Second {
		t.Errorf("slept %s, want 2s (one backoff each)", fake.Slept())
	}
}
