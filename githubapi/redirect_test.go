package githubapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/internal/httpsafe/httpsafetest"
)

// redirectTarget is where a hostile API sends a request: another port,
// plain http from an https API, a subdomain, or (for mutations) a path on
// the API itself.
type redirectTarget struct {
	name string
	// tls: the API is https://api.example.test, else http://api.example.test.
	tls bool
	// location is the Location sent; evilAddr the host:port it resolves to,
	// "" when it is the API itself.
	location, evilAddr string
	// origin is how errors name the target's origin.
	origin string
}

var foreignTargets = []redirectTarget{
	{"another port", false, "http://api.example.test:8081/x?leak=q1", "api.example.test:8081", "http://api.example.test:8081"},
	{"plain http", true, "http://api.example.test/x?leak=q1", "api.example.test:80", "http://api.example.test"},
	{"subdomain", false, "http://evil.api.example.test/x?leak=q1", "evil.api.example.test:80", "http://evil.api.example.test"},
}

// redirectRig starts an API at api.example.test that redirects every
// package request to tc.location with status (and answers GET /user with all
// scopes), a hostile server answering 204 to everything at tc.evilAddr, and
// a Client of the API whose transport reaches nothing else.
func redirectRig(t *testing.T, tc redirectTarget, status int) (c *Client, api, evil *httpsafetest.Server) {
	t.Helper()
	h := withUser(allScopes, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/orgs/") {
			w.Header().Set("Location", tc.location)
			w.WriteHeader(status)
			return
		}
		// A same-origin target that would acknowledge anything.
		w.WriteHeader(http.StatusNoContent)
	})
	base, port := "http://api.example.test", "80"
	if tc.tls {
		api, base, port = httpsafetest.NewTLSServer(t, h), "https://api.example.test", "443"
	} else {
		api = httpsafetest.NewServer(t, h)
	}
	evil = httpsafetest.NewServer(t, nil)
	routes := map[string]*httpsafetest.Server{"api.example.test:" + port: api}
	if tc.evilAddr != "" {
		routes[tc.evilAddr] = evil
	}
	c, err := New(Config{BaseURL: base, Token: testToken, Clock: clock.NewFake(t0),
		HTTPClient: &http.Client{Transport: httpsafetest.Transport(routes)}})
	if err != nil {
		t.Fatal(err)
	}
	return c, api, evil
}

// packageRequests returns the API's requests other than GET /user.
func packageRequests(s *httpsafetest.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Path != "/user" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// checkNothingReceived fails if the hostile server received any request,
// naming the ones that carried the token.
func checkNothingReceived(t *testing.T, evil *httpsafetest.Server) {
	t.Helper()
	for _, r := range evil.Requests() {
		if strings.Contains(r.Authorization, testToken) {
			t.Errorf("the other origin received the token: %s %s%s", r.Method, r.Host, r.Path)
		} else {
			t.Errorf("the other origin received %s %s%s", r.Method, r.Host, r.Path)
		}
	}
}

// checkRedirectError checks that err is an *APIError wrapping ErrRedirect for
// the first attempt with status, whose text holds want and neither the token
// nor the Location's query.
func checkRedirectError(t *testing.T, err error, status int, want string) {
	t.Helper()
	if !errors.Is(err, ErrRedirect) {
		t.Fatalf("err = %v, want ErrRedirect", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %#v, want an *APIError", err)
	}
	if apiErr.Status != status || apiErr.Attempt != 1 {
		t.Errorf("APIError status %d attempt %d, want %d and 1", apiErr.Status, apiErr.Attempt, status)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err, want)
	}
	if strings.Contains(err.Error(), "leak") {
		t.Errorf("err = %q names the Location's query", err)
	}
	noToken(t, err)
}

// A GET redirected to another origin is refused before the token goes
// there, and not retried.
func TestClient_GETRedirectToAnotherOriginNeverCarriesTheToken(t *testing.T) {
	t.Parallel()
	for _, tc := range foreignTargets {
		for _, status := range []int{301, 302, 307, 308} {
			t.Run(fmt.Sprintf("%s %d", tc.name, status), func(t *testing.T) {
				t.Parallel()
				c, api, evil := redirectRig(t, tc, status)
				_, err := c.GetPackage(context.Background(), Org("acme"), "container", "api")
				checkNothingReceived(t, evil)
				want := fmt.Sprintf("refusing redirect from %s://api.example.test to %s: another origin would receive the token",
					map[bool]string{true: "https", false: "http"}[tc.tls], tc.origin)
				checkRedirectError(t, err, status, want)
				if diff := cmp.Diff([]string{"GET /orgs/acme/packages/container/api"}, packageRequests(api)); diff != "" {
					t.Errorf("API requests (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// A DELETE or POST answered with a redirect failed, wherever the Location
// points (the API itself included): it is re-sent nowhere, retried never,
// and never reported as done.
func TestClient_MutationAnsweredWithRedirectFailsAndIsNotResent(t *testing.T) {
	t.Parallel()
	targets := append([]redirectTarget{
		{"same origin", false, "/elsewhere/x?leak=q1", "", "http://api.example.test"},
	}, foreignTargets...)
	for _, tc := range targets {
		for _, status := range []int{301, 302, 307, 308} {
			t.Run(fmt.Sprintf("%s %d", tc.name, status), func(t *testing.T) {
				t.Parallel()
				c, api, evil := redirectRig(t, tc, status)
				ctx := context.Background()
				path := "/elsewhere/x"
				if tc.evilAddr != "" {
					path = "/x"
				}

				delErr := c.DeleteVersion(ctx, Org("acme"), "container", "api", 42)
				postErr := c.RestoreVersion(ctx, Org("acme"), "container", "api", 42)
				checkNothingReceived(t, evil)
				want := []string{
					"DELETE /orgs/acme/packages/container/api/versions/42",
					"POST /orgs/acme/packages/container/api/versions/42/restore",
				}
				if diff := cmp.Diff(want, packageRequests(api)); diff != "" {
					t.Errorf("API requests (-want +got):\n%s", diff)
				}
				checkRedirectError(t, delErr, status, "redirect to "+tc.origin+path+" not followed (a DELETE never follows a redirect)")
				checkRedirectError(t, postErr, status, "redirect to "+tc.origin+path+" not followed (a POST never follows a redirect)")
			})
		}
	}
}

func TestClient_FollowsSameOriginGETRedirect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/orgs/acme/packages/container/api" {
			http.Redirect(w, r, "/organizations/1/packages/container/api", http.StatusTemporaryRedirect)
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
	// The fixture checks that both requests carried the token.
	want := []string{"GET /orgs/acme/packages/container/api", "GET /organizations/1/packages/container/api"}
	if diff := cmp.Diff(want, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// A caller's own HTTP client gets the same policy, and is left as it was.
func TestNew_AppliesRedirectPolicyToCallersClient(t *testing.T) {
	t.Parallel()
	tc := foreignTargets[2]
	_, api, evil := redirectRig(t, tc, http.StatusFound)
	hc := &http.Client{Transport: httpsafetest.Transport(map[string]*httpsafetest.Server{"api.example.test:80": api, tc.evilAddr: evil})}
	c, err := New(Config{BaseURL: "http://api.example.test", Token: testToken, HTTPClient: hc, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPackage(context.Background(), Org("acme"), "container", "api"); !errors.Is(err, ErrRedirect) {
		t.Errorf("err = %v, want ErrRedirect", err)
	}
	if len(evil.Requests()) != 0 {
		t.Errorf("the subdomain received %+v", evil.Requests())
	}
	if hc.CheckRedirect != nil {
		t.Error("New modified the caller's http.Client")
	}
}
