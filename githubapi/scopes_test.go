package githubapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDeleteVersion_ChecksScopesBeforeFirstDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withUser("read:packages, repo", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a token without delete:packages sent %s %s", r.Method, r.URL.EscapedPath())
		w.WriteHeader(http.StatusNoContent)
	}))
	err := f.c.DeleteVersion(context.Background(), Org("acme"), "container", "api", 1)
	if !errors.Is(err, ErrMissingScope) {
		t.Fatalf("err = %v, want ErrMissingScope", err)
	}
	var se *ScopeError
	if !errors.As(err, &se) {
		t.Fatalf("err = %#v, want *ScopeError", err)
	}
	want := &ScopeError{Op: OpDelete, Have: []string{"read:packages", "repo"}, Need: []string{"read:packages", "delete:packages"}, Missing: []string{"delete:packages"}}
	if diff := cmp.Diff(want, se); diff != "" {
		t.Errorf("ScopeError (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), "delete:packages") {
		t.Errorf("err = %q, want the missing scope named", err)
	}
	// A second attempt neither re-fetches /user nor sends the DELETE.
	_ = f.c.DeleteVersion(context.Background(), Org("acme"), "container", "api", 1)
	if diff := cmp.Diff([]string{"GET /user"}, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestCheckScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scopes      string
		op          Operation
		packageType string
		missing     []string
	}{
		{"read:packages", OpRead, "container", nil},
		{"write:packages", OpRead, "container", nil}, // write:packages implies read:packages
		{"", OpRead, "container", []string{"read:packages"}},
		{"repo", OpRead, "container", []string{"read:packages"}}, // repo implies no packages scope
		{"read:packages, delete:packages", OpDelete, "container", nil},
		{"delete:packages, write:packages", OpDelete, "container", nil},
		{"delete:packages", OpDelete, "container", []string{"read:packages"}}, // delete does not imply read
		{"read:packages, delete:packages", OpDelete, "npm", []string{"repo"}},
		{"read:packages, delete:packages, repo", OpDelete, "maven", nil},
		{"read:packages, delete:packages", OpDelete, "", nil},
		{"read:packages", OpRestore, "container", []string{"write:packages"}},
		{"write:packages", OpRestore, "container", nil},
		{"write:packages", OpRestore, "rubygems", []string{"repo"}},
		{"write:packages, repo", OpRestore, "nuget", nil},
	} {
		f := newFixture(t, withUser(tc.scopes, nil))
		err := f.c.CheckScopesFor(context.Background(), tc.op, tc.packageType)
		if tc.missing == nil {
			if err != nil {
				t.Errorf("scopes %q, %s %s: err = %v, want nil", tc.scopes, tc.op, tc.packageType, err)
			}
			continue
		}
		var se *ScopeError
		if !errors.As(err, &se) || !errors.Is(err, ErrMissingScope) {
			t.Errorf("scopes %q, %s %s: err = %v, want a ScopeError", tc.scopes, tc.op, tc.packageType, err)
			continue
		}
		if diff := cmp.Diff(tc.missing, se.Missing); diff != "" {
			t.Errorf("scopes %q, %s %s: missing (-want +got):\n%s", tc.scopes, tc.op, tc.packageType, diff)
		}
	}
}

func TestCheckScopes_ContainerByDefault(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withUser("read:packages, delete:packages", nil))
	if err := f.c.CheckScopes(context.Background(), OpDelete); err != nil {
		t.Errorf("CheckScopes = %v, want nil", err)
	}
	if err := f.c.CheckScopes(context.Background(), OpRestore); !errors.Is(err, ErrMissingScope) {
		t.Errorf("CheckScopes(restore) = %v, want ErrMissingScope", err)
	}
}

func TestIdentity_ClassicToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withUser("repo, write:packages, delete:packages", nil))
	for i := 0; i < 2; i++ {
		id, err := f.c.Identity(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := Identity{Login: "octocat", Scopes: []string{"repo", "write:packages", "delete:packages"}, ScopesKnown: true}
		if diff := cmp.Diff(want, id); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	if got := f.c.Requests(); got != 1 {
		t.Errorf("Requests() = %d, want 1 (cached)", got)
	}
}

func TestIdentity_ClassicTokenWithoutScopes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withUser("", nil))
	id, err := f.c.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !id.ScopesKnown || len(id.Scopes) != 0 {
		t.Errorf("Identity = %+v, want known and empty scopes", id)
	}
	if err := f.c.CheckScopes(context.Background(), OpRead); !errors.Is(err, ErrMissingScope) {
		t.Errorf("CheckScopes = %v, want ErrMissingScope", err)
	}
}

func TestIdentity_TokenWithoutScopesHeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/user" {
			writeJSON(w, 200, `{"login":"some-app[bot]"}`) // no X-OAuth-Scopes
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	id, err := f.c.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Identity{Login: "some-app[bot]"}, id); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Unknown scopes cannot be checked: the delete goes ahead.
	if err := f.c.DeleteVersion(context.Background(), Org("acme"), "container", "api", 1); err != nil {
		t.Errorf("DeleteVersion = %v", err)
	}
}

func TestIdentity_ActionsTokenRefusedOnUser(t *testing.T) {
	t.Parallel()
	var users atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/user" {
			users.Add(1)
			setRate(w, 1000, 999, t0.Add(time.Hour))
			writeError(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	id, err := f.c.Identity(context.Background())
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}
	if diff := cmp.Diff(Identity{}, id); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := f.c.CheckScopes(context.Background(), OpDelete); err != nil {
		t.Errorf("CheckScopes = %v, want nil (cannot check)", err)
	}
	if err := f.c.DeleteVersion(context.Background(), Org("acme"), "container", "api", 1); err != nil {
		t.Errorf("DeleteVersion = %v", err)
	}
	if got := users.Load(); got != 1 {
		t.Errorf("GET /user sent %d times, want 1", got)
	}
}

func TestIdentity_BadCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusUnauthorized, "Bad credentials")
	})
	err := f.c.DeleteVersion(context.Background(), Org("acme"), "container", "api", 1)
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrBadCredentials", err)
	}
	if diff := cmp.Diff([]string{"GET /user"}, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestClient_TokenAbsentFromEveryError drives every error path, with a server
// that echoes the token back in its messages, and checks that no error text
// and no log entry holds it.
func TestClient_TokenAbsentFromEveryError(t *testing.T) {
	t.Parallel()
	echo := "Bad credentials: " + testToken
	var errs []error
	collect := func(err error) {
		if err == nil {
			t.Error("expected an error")
			return
		}
		errs = append(errs, err)
	}
	ctx := context.Background()

	// New's refusals.
	_, err := New(Config{Token: ""})
	collect(err)
	_, err = New(Config{Token: "github_pat_" + testToken})
	collect(err)
	_, err = New(Config{Token: testToken, BaseURL: "https://u:" + testToken + "@h"})
	collect(err)
	_, err = New(Config{Token: testToken, BaseURL: "ftp://" + testToken})
	collect(err)

	// Every status the server can answer, echoing the token.
	for _, st := range []int{400, 401, 403, 404, 422, 429, 500, 502} {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/user" {
				w.Header().Set("X-OAuth-Scopes", allScopes)
				writeJSON(w, 200, `{"login":"`+testToken+`"}`)
				return
			}
			setRate(w, 5000, 0, t0.Add(2*time.Hour))
			w.Header().Set("Retry-After", "7200")
			writeJSON(w, st, `{"message":"`+echo+` 5000 downloads last version secondary rate limit","documentation_url":"https://docs.github.com/`+testToken+`"}`)
		})
		collect(f.c.DeleteVersion(ctx, Org("acme"), "container", "a/b", 1))
		_, err := f.c.ListVersions(ctx, Org("acme"), "container", "a/b", ListVersionsOptions{State: StateActive})
		collect(err)
		f.assertNoTokenInLogs(t)
		for _, e := range errs {
			var apiErr *APIError
			if errors.As(e, &apiErr) && strings.Contains(apiErr.DocumentationURL, testToken) {
				t.Errorf("DocumentationURL holds the token: %s", apiErr.DocumentationURL)
			}
		}
	}

	// Missing scope.
	f := newFixture(t, withUser("read:packages", nil))
	collect(f.c.DeleteVersion(ctx, Org("acme"), "container", "a", 1))

	// Foreign next link, undecodable body, network error, cancelled context.
	f = newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<https://evil.example/x?page=2>; rel="next"`)
		writeJSON(w, 200, `[]`)
	})
	_, err = f.c.ListPackages(ctx, Org("acme"), "container", "")
	collect(err)
	f = newFixture(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"not":"a list"}`) })
	_, err = f.c.ListPackages(ctx, Org("acme"), "container", "")
	collect(err)
	c, _ := New(Config{Token: testToken, Clock: f.clk, HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("proxy said: " + r.Header.Get("Authorization"))
	})}})
	_, err = c.GetPackage(ctx, Org("acme"), "container", "a")
	collect(err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = f.c.GetPackage(cctx, Org("acme"), "container", "a")
	collect(err)

	if len(errs) < 20 {
		t.Errorf("only %d errors collected", len(errs))
	}
	for _, e := range errs {
		noToken(t, e)
	}
}
