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
)

func TestListVersions_FollowsNextLinksVerbatimAcrossThreePages(t *testing.T) {
	t.Parallel()
	var base string
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		// GitHub's next links use the numeric organization id; they must be
		// followed exactly, query and escaping included.
		switch r.URL.EscapedPath() + "?" + r.URL.RawQuery {
		case "/orgs/acme/packages/container/team%2Fsvc%2Fapi/versions?per_page=100&state=active":
			w.Header().Set("Link", fmt.Sprintf(`<%[1]s/organizations/123/packages/container/team%%2Fsvc%%2Fapi/versions?state=active&per_page=100&page=2>; rel="next", <%[1]s/organizations/123/packages/container/team%%2Fsvc%%2Fapi/versions?state=active&per_page=100&page=3>; rel="last"`, base))
			writeJSON(w, 200, versionsPage(1, 100))
		case "/organizations/123/packages/container/team%2Fsvc%2Fapi/versions?state=active&per_page=100&page=2":
			w.Header().Set("Link", fmt.Sprintf(`<%[1]s/organizations/123/packages/container/team%%2Fsvc%%2Fapi/versions?state=active&per_page=100&page=1>; rel="prev", <%[1]s/organizations/123/packages/container/team%%2Fsvc%%2Fapi/versions?state=active&per_page=100&page=3>; rel="next"`, base))
			writeJSON(w, 200, versionsPage(101, 100))
		case "/organizations/123/packages/container/team%2Fsvc%2Fapi/versions?state=active&per_page=100&page=3":
			w.Header().Set("Link", fmt.Sprintf(`<%[1]s/organizations/123/packages/container/team%%2Fsvc%%2Fapi/versions?state=active&per_page=100&page=2>; rel="prev"`, base))
			writeJSON(w, 200, versionsPage(201, 7))
		default:
			t.Errorf("unexpected request %s %s?%s", r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
			writeError(w, 404, "Not Found")
		}
	})
	base = f.srv.URL
	list, err := f.c.ListVersions(context.Background(), Org("acme"), "container", "team/svc/api", ListVersionsOptions{State: StateActive, VersionCount: 207})
	if err != nil {
		t.Fatal(err)
	}
	if list.Pages != 3 || list.Duplicates != 0 {
		t.Errorf("Pages = %d, Duplicates = %d; want 3, 0", list.Pages, list.Duplicates)
	}
	vs := list.Versions
	if len(vs) != 207 || vs[0].ID != 1 || vs[206].ID != 207 {
		t.Errorf("got %d versions, first %d last %d; want 207, 1, 207", len(vs), vs[0].ID, vs[len(vs)-1].ID)
	}
	want := []string{
		"GET /orgs/acme/packages/container/team%2Fsvc%2Fapi/versions?per_page=100&state=active",
		"GET /organizations/123/packages/container/team%2Fsvc%2Fapi/versions?state=active&per_page=100&page=2",
		"GET /organizations/123/packages/container/team%2Fsvc%2Fapi/versions?state=active&per_page=100&page=3",
	}
	if diff := cmp.Diff(want, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestListVersions_RetriesFailedPageFromSameURL(t *testing.T) {
	t.Parallel()
	var base string
	var page2 atomic.Int32
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "" {
			w.Header().Set("Link", fmt.Sprintf(`<%s/organizations/1/packages/npm/lib/versions?page=2&per_page=100>; rel="next"`, base))
			writeJSON(w, 200, versionsPage(1, 100))
			return
		}
		if page2.Add(1) <= 2 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body><h1>Unicorn!</h1></body></html>"))
			return
		}
		writeJSON(w, 200, versionsPage(101, 5))
	})
	base = f.srv.URL
	list, err := f.c.ListVersions(context.Background(), User("octocat"), "npm", "lib", ListVersionsOptions{State: StateDeleted})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Versions) != 105 || list.Pages != 2 {
		t.Errorf("%d versions in %d pages, want 105 in 2", len(list.Versions), list.Pages)
	}
	want := []string{
		"GET /users/octocat/packages/npm/lib/versions?per_page=100&state=deleted",
		"GET /organizations/1/packages/npm/lib/versions?page=2&per_page=100",
		"GET /organizations/1/packages/npm/lib/versions?page=2&per_page=100",
		"GET /organizations/1/packages/npm/lib/versions?page=2&per_page=100",
	}
	if diff := cmp.Diff(want, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestListPackages_SendsTypeVisibilityAndPerPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `[{"id":197,"name":"hello_docker","package_type":"container","owner":{"login":"github","id":9919,"type":"Organization"},
			"version_count":1,"visibility":"private","url":"https://api.github.com/orgs/github/packages/container/hello_docker",
			"created_at":"2020-05-19T22:19:11Z","updated_at":"2020-05-19T22:19:12Z","html_url":"https://github.com/orgs/github/packages/container/package/hello_docker"}]`)
	})
	got, err := f.c.ListPackages(context.Background(), Org("github"), "container", "private")
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{
		ID: 197, Name: "hello_docker", PackageType: "container", Visibility: "private", VersionCount: 1,
		CreatedAt:  time.Date(2020, 5, 19, 22, 19, 11, 0, time.UTC),
		UpdatedAt:  time.Date(2020, 5, 19, 22, 19, 12, 0, time.UTC),
		OwnerLogin: "github", HTMLURL: "https://github.com/orgs/github/packages/container/package/hello_docker",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GET /orgs/github/packages?package_type=container&per_page=100&visibility=private"}, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestListPackages_AllVisibilitiesOmitsParameter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `[]`) })
	if _, err := f.c.ListPackages(context.Background(), Self(), "npm", ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"GET /user/packages?package_type=npm&per_page=100"}, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestClient_OwnerPrefixes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		owner  Owner
		str    string
		prefix string
	}{
		{Org("acme"), "org acme", "/orgs/acme"},
		{User("octocat"), "user octocat", "/users/octocat"},
		{Self(), "authenticated user", "/user"},
		{Owner{Kind: OwnerOrg, Name: "we ird"}, "org we ird", "/orgs/we%20ird"},
	} {
		f := newFixture(t, withUser(allScopes, func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet:
				writeJSON(w, 200, `{"id":1}`)
			default:
				w.WriteHeader(http.StatusNoContent)
			}
		}))
		ctx := context.Background()
		if got := tc.owner.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if _, err := f.c.GetPackage(ctx, tc.owner, "container", "a/b"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.c.GetVersion(ctx, tc.owner, "container", "a/b", 5); err != nil {
			t.Fatal(err)
		}
		if err := f.c.DeleteVersion(ctx, tc.owner, "container", "a/b", 5); err != nil {
			t.Fatal(err)
		}
		if err := f.c.RestoreVersion(ctx, tc.owner, "container", "a/b", 5); err != nil {
			t.Fatal(err)
		}
		p := tc.prefix
		want := []string{
			"GET " + p + "/packages/container/a%2Fb",
			"GET " + p + "/packages/container/a%2Fb/versions/5",
			"GET /user",
			"DELETE " + p + "/packages/container/a%2Fb/versions/5",
			"POST " + p + "/packages/container/a%2Fb/versions/5/restore",
		}
		if diff := cmp.Diff(want, f.Calls()); diff != "" {
			t.Errorf("%s: calls (-want +got):\n%s", tc.owner, diff)
		}
	}
}

func TestClient_RefusesBadArgumentsWithoutSending(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected request %s", r.URL) })
	ctx := context.Background()
	for name, err := range map[string]error{
		"unknown type":     f.c.DeleteVersion(ctx, Org("acme"), "pypi", "x", 1),
		"empty name":       f.c.DeleteVersion(ctx, Org("acme"), "container", "", 1),
		"zero id":          f.c.DeleteVersion(ctx, Org("acme"), "container", "x", 0),
		"zero owner":       f.c.DeleteVersion(ctx, Owner{}, "container", "x", 1),
		"org without name": func() error { _, err := f.c.GetPackage(ctx, Org(""), "container", "x"); return err }(),
		"bad visibility":   func() error { _, err := f.c.ListPackages(ctx, Org("acme"), "container", "secret"); return err }(),
		"bad state": func() error {
			_, err := f.c.ListVersions(ctx, Org("acme"), "container", "x", ListVersionsOptions{State: "gone"})
			return err
		}(),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if n := f.c.Requests(); n != 0 {
		t.Errorf("Requests() = %d, want 0", n)
	}
}

func TestGetVersion_DecodesTagsAndDeletedAt(t *testing.T) {
	t.Parallel()
	deleted := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, tc := range []struct {
		name, body string
		want       Version
	}{
		{"tagged container", `{"id":836,"name":"sha256:b3d3","url":"u","package_html_url":"p","created_at":"2020-05-19T22:19:11Z","updated_at":"2020-05-19T22:19:11Z","html_url":"h","metadata":{"package_type":"container","container":{"tags":["latest","v1.2.0"]}}}`,
			Version{ID: 836, Name: "sha256:b3d3", Tags: []string{"latest", "v1.2.0"}, CreatedAt: time.Date(2020, 5, 19, 22, 19, 11, 0, time.UTC), UpdatedAt: time.Date(2020, 5, 19, 22, 19, 11, 0, time.UTC), HTMLURL: "h", PackageHTMLURL: "p"}},
		{"untagged container", `{"id":1,"name":"sha256:aa","metadata":{"package_type":"container","container":{"tags":[]}}}`,
			Version{ID: 1, Name: "sha256:aa", Tags: []string{}}},
		{"docker tag as string", `{"id":2,"name":"sha256:bb","metadata":{"package_type":"docker","docker":{"tag":"v1"}}}`,
			Version{ID: 2, Name: "sha256:bb", Tags: []string{"v1"}}},
		{"docker tags as list", `{"id":3,"name":"sha256:cc","metadata":{"package_type":"docker","docker":{"tags":["a","b"],"tag":["b"]}}}`,
			Version{ID: 3, Name: "sha256:cc", Tags: []string{"a", "b"}}},
		{"npm", `{"id":245301,"name":"1.0.4","metadata":{"package_type":"npm"},"deleted_at":"2024-02-03T04:05:06Z"}`,
			Version{ID: 245301, Name: "1.0.4", DeletedAt: &deleted}},
		{"GHES empty strings", `{"id":4,"name":"0.1.0","html_url":"","package_html_url":"","created_at":"2019-10-20T14:17:14Z","updated_at":"2019-10-20T14:17:15Z","deleted_at":null,"metadata":{"package_type":"rubygems"}}`,
			Version{ID: 4, Name: "0.1.0", CreatedAt: time.Date(2019, 10, 20, 14, 17, 14, 0, time.UTC), UpdatedAt: time.Date(2019, 10, 20, 14, 17, 15, 0, time.UTC)}},
	} {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tc.body) })
		got, err := f.c.GetVersion(context.Background(), Org("acme"), "container", "x", 9)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestDeleteVersion_SentinelErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		ctype   string
		want    error
		wantMsg string
	}{
		{"download limit", 400, `{"message":"Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance.","documentation_url":"https://docs.github.com/rest/packages/packages#delete-package-version-for-an-organization","status":"400"}`, "",
			ErrDownloadLimit, "DELETE /orgs/acme/packages/container/a%2Fb/versions/3: 400 Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance."},
		{"last version", 400, `{"message":"You cannot delete the last version of a package. You must delete the package instead.","documentation_url":"https://docs.github.com/rest","status":"400"}`, "",
			ErrLastVersion, "DELETE /orgs/acme/packages/container/a%2Fb/versions/3: 400 You cannot delete the last version of a package. You must delete the package instead."},
		{"last tagged version", 400, `{"message":"You cannot delete the last tagged version of a package. You must delete the package instead.","documentation_url":"https://docs.github.com/rest","status":"400"}`, "",
			ErrLastVersion, "400 You cannot delete the last tagged version"},
		{"not found", 404, `{"message":"Package not found.","documentation_url":"https://docs.github.com/rest/packages/packages#delete-package-version-for-an-organization","status":"404"}`, "",
			ErrNotFound, "DELETE /orgs/acme/packages/container/a%2Fb/versions/3: 404 Package not found."},
		{"bad credentials", 401, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`, "",
			ErrBadCredentials, "401 Bad credentials"},
		{"forbidden", 403, `{"message":"Must have admin rights to Repository.","documentation_url":"https://docs.github.com/rest","status":"403"}`, "",
			ErrForbidden, "403 Must have admin rights to Repository."},
		{"other 400", 400, `{"message":"The value of ` + "`per_page`" + ` multiplied by ` + "`page`" + ` cannot be greater than 10000.","documentation_url":"https://docs.github.com/rest","status":"400"}`, "",
			ErrInvalid, "400 The value of `per_page`"},
		{"422", 422, `{"message":"Validation Failed","errors":[{"code":"invalid"}],"documentation_url":"https://docs.github.com/rest","status":"422"}`, "",
			ErrInvalid, "422 Validation Failed"},
		{"html 5xx", 502, "<!DOCTYPE html>\n<html><head><title>Unicorn! &middot; GitHub</title><style>body{background:#f1f1f1}</style></head><body><img src=\"data:image/png;base64,iVBORw0KGgo\"><p>No server is currently available to service your request.</p></body></html>", "text/html; charset=utf-8",
			ErrServer, "DELETE /orgs/acme/packages/container/a%2Fb/versions/3: 502 bad gateway (non-JSON response body)"},
		{"empty 500", 500, "", "", ErrServer, "500 internal server error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, withUser(allScopes, func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				} else if tc.body != "" {
					w.Header().Set("Content-Type", "application/json; charset=utf-8")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			err := f.c.DeleteVersion(context.Background(), Org("acme"), "container", "a/b", 3)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, other := range []error{ErrNotFound, ErrDownloadLimit, ErrLastVersion, ErrBadCredentials, ErrForbidden, ErrInvalid, ErrServer, ErrPrimaryRateLimit, ErrSecondaryRateLimit, ErrMissingScope} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("err also matches %v", other)
				}
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %#v, want an *APIError", err)
			}
			if !strings.Contains(apiErr.Error(), tc.wantMsg) {
				t.Errorf("APIError = %q, want it to contain %q", apiErr.Error(), tc.wantMsg)
			}
			if apiErr.Status != tc.status || apiErr.Method != "DELETE" || apiErr.Op != "delete_version" ||
				apiErr.Path != "/orgs/acme/packages/container/a%2Fb/versions/3" {
				t.Errorf("APIError fields = %+v", apiErr)
			}
			if strings.Contains(err.Error(), "<") || len(apiErr.Message) > 600 {
				t.Errorf("message carries the HTML page: %q", apiErr.Message)
			}
			noToken(t, err)
			f.assertNoTokenInLogs(t)
		})
	}
}

func TestDeleteVersion_SuccessIs204(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withUser("read:packages, delete:packages", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete || r.URL.EscapedPath() != "/orgs/acme/packages/container/team%2Fapi/versions/42" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.EscapedPath())
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	for i := 0; i < 3; i++ {
		if err := f.c.DeleteVersion(context.Background(), Org("acme"), "container", "team/api", 42); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"GET /user",
		"DELETE /orgs/acme/packages/container/team%2Fapi/versions/42",
		"DELETE /orgs/acme/packages/container/team%2Fapi/versions/42",
		"DELETE /orgs/acme/packages/container/team%2Fapi/versions/42",
	}
	if diff := cmp.Diff(want, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s (the scopes are checked once)", diff)
	}
}

// A timestamp that is not RFC 3339 fails neither the page nor the version:
// the time stays zero and what GitHub sent is kept for the caller.
func TestListVersions_KeepsVersionsWithBadTimestamps(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `[
			{"id":1,"name":"null","created_at":null,"updated_at":"2024-01-02T00:00:00Z"},
			{"id":2,"name":"empty","created_at":"","updated_at":""},
			{"id":3,"name":"missing"},
			{"id":4,"name":"words","created_at":"not-a-date","updated_at":17},
			{"id":5,"name":"valid","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-02T03:04:05+02:00"}]`)
	})
	list, err := f.c.ListVersions(context.Background(), Org("acme"), "npm", "lib", ListVersionsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	day := func(d, h int) time.Time { return time.Date(2024, 1, d, h, 0, 0, 0, time.UTC) }
	want := []Version{
		{ID: 1, Name: "null", RawCreatedAt: "null", UpdatedAt: day(2, 0)},
		{ID: 2, Name: "empty", RawCreatedAt: `""`, RawUpdatedAt: `""`},
		{ID: 3, Name: "missing"},
		{ID: 4, Name: "words", RawCreatedAt: `"not-a-date"`, RawUpdatedAt: "17"},
		{ID: 5, Name: "valid", CreatedAt: day(1, 0), UpdatedAt: day(2, 1).Add(4*time.Minute + 5*time.Second)},
	}
	if diff := cmp.Diff(want, list.Versions, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
}

// Attempt tells a 404 that answered a retried DELETE (whose first attempt
// may have deleted the version) from one that answered the first attempt.
func TestDeleteVersion_ErrorNamesTheAttemptItAnswered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		failures   int32
		failStatus int
		want       int
		resent     bool
	}{
		{"first attempt", 0, 0, 1, false},
		{"after a 502", 1, http.StatusBadGateway, 2, true},
		// A rate-limit refusal was not carried out: the DELETE is not resent.
		{"after a secondary limit", 1, http.StatusTooManyRequests, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			f := newFixture(t, withUser(allScopes, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) <= tc.failures {
					if tc.failStatus == http.StatusTooManyRequests {
						w.Header().Set("Retry-After", "1")
					}
					writeError(w, tc.failStatus, "Server Error")
					return
				}
				writeError(w, http.StatusNotFound, "Package not found.")
			}))
			err := f.c.DeleteVersion(context.Background(), Org("acme"), "container", "api", 3)
			var apiErr *APIError
			if !errors.Is(err, ErrNotFound) || !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError wrapping ErrNotFound", err)
			}
			if apiErr.Attempt != tc.want || apiErr.Resent != tc.resent {
				t.Errorf("Attempt = %d, Resent = %v; want %d, %v", apiErr.Attempt, apiErr.Resent, tc.want, tc.resent)
			}
		})
	}
}
