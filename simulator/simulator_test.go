package simulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// baseFixture is the world most tests run against.
const baseFixture = `
tokens:
  - {token: t-admin, login: admin, scopes: [read:packages, write:packages, delete:packages, repo]}
  - {token: t-member, login: member, scopes: [read:packages, write:packages, delete:packages, repo]}
  - {token: t-reader, login: reader, scopes: [read:packages]}
  - {token: t-nodelete, login: admin, scopes: [read:packages, write:packages, repo]}
  - {token: t-fg, login: admin, fine_grained: true}
  - {token: t-octo, login: octocat, scopes: [write:packages, delete:packages]}
orgs:
  - {login: acme, id: 9919, admins: [admin]}
users:
  - {login: octocat, id: 583231}
  - {login: admin, id: 1001}
packages:
  - owner: acme
    name: team/service/api
    type: container
    versions:
      - {tags: [latest], age: 1d}
      - {tags: [v1], age: 2d}
      - {age: 3d}
  - owner: acme
    name: web
    type: container
    visibility: public
    versions:
      - {tags: [latest], age: 1d, downloads: 10}
      - {tags: [old], age: 100d, downloads: 9000}
      - {age: 50d}
  - owner: acme
    name: lib
    type: npm
    versions:
      - {name: 1.0.0, age: 10d}
      - {name: 1.1.0, age: 5d}
  - owner: acme
    name: solo
    type: container
    versions:
      - {tags: [latest], age: 1d}
      - {age: 2d}
  - owner: acme
    name: one
    type: maven
    versions:
      - {name: "1.0", age: 1d}
  - owner: acme
    name: legacy
    type: docker
    docker_conflict: true
    versions:
      - {tags: [v1], age: 400d}
  - owner: octocat
    name: hello
    type: container
    versions:
      - {tags: [latest], age: 1d}
      - {age: 2d}
  - owner: octocat
    name: pub
    type: container
    visibility: public
    versions:
      - {tags: [latest], age: 1d}
`

type harness struct {
	sim *Server
	clk *clock.Fake
	srv *httptest.Server
}

func newHarness(t *testing.T, opts Options, fixtures ...string) *harness {
	t.Helper()
	clk := clock.NewFake(t0)
	opts.Clock = clk
	sim := New(opts)
	if len(fixtures) == 0 {
		fixtures = []string{baseFixture}
	}
	for _, fx := range fixtures {
		f, err := LoadFixture(strings.NewReader(fx))
		if err != nil {
			t.Fatalf("LoadFixture: %v", err)
		}
		if err := sim.Seed(f); err != nil {
			t.Fatalf("Seed: %v", err)
		}
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &harness{sim: sim, clk: clk, srv: srv}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) errMessage(t *testing.T) string {
	t.Helper()
	var e struct {
		Message string `json:"message"`
		Status  string `json:"status"`
		Doc     string `json:"documentation_url"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Status != strconv.Itoa(r.status) || e.Doc == "" {
		t.Errorf("basic-error status %q doc %q, answer %d", e.Status, e.Doc, r.status)
	}
	return e.Message
}

// call sends a request; path is relative (escaped as given) or absolute.
func (h *harness) call(t *testing.T, method, path, token string, hdr ...string) reply {
	t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = h.srv.URL + path
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func (h *harness) versionID(t *testing.T, owner, typ, name string, pick func(VersionState) bool) int64 {
	t.Helper()
	for _, v := range h.sim.Versions(owner, typ, name) {
		if pick(v) {
			return v.ID
		}
	}
	t.Fatalf("no such version in %s/%s/%s", owner, typ, name)
	return 0
}

func tagged(tag string) func(VersionState) bool {
	return func(v VersionState) bool {
		for _, t := range v.Tags {
			if t == tag {
				return true
			}
		}
		return false
	}
}

func untagged(v VersionState) bool { return len(v.Tags) == 0 }

func named(n string) func(VersionState) bool {
	return func(v VersionState) bool { return v.Name == n }
}

type pkgOut struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	PackageType  string `json:"package_type"`
	VersionCount int    `json:"version_count"`
	Visibility   string `json:"visibility"`
	URL          string `json:"url"`
	Owner        struct {
		Login string `json:"login"`
		ID    int64  `json:"id"`
		Type  string `json:"type"`
	} `json:"owner"`
}

type verOut struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	CreatedAt string `json:"created_at"`
	DeletedAt string `json:"deleted_at"`
	Metadata  struct {
		PackageType string `json:"package_type"`
		Container   *struct {
			Tags []string `json:"tags"`
		} `json:"container"`
		Docker *struct {
			Tag  []string `json:"tag"`
			Tags []string `json:"tags"`
		} `json:"docker"`
	} `json:"metadata"`
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

func manyFixture(packages, versions int) string {
	var b strings.Builder
	b.WriteString("orgs: [{login: big, id: 4242}]\ntokens: [{token: t-big, login: admin, scopes: [read:packages, delete:packages, write:packages]}]\npackages:\n")
	for i := range packages {
		fmt.Fprintf(&b, "  - {owner: big, name: p%03d, type: container, versions: [{tags: [latest]}]}\n", i)
	}
	fmt.Fprintf(&b, "  - owner: big\n    name: deep/image\n    type: container\n    versions:\n      - {tags: [latest]}\n")
	if versions > 1 {
		fmt.Fprintf(&b, "      - {repeat: %d, every: 1h, age: 1h}\n", versions-1)
	}
	return b.String()
}

func TestPagination_LinkNextUsesOrganizationsAlias(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{}, manyFixture(45, 1))
	r := h.call(t, "GET", "/orgs/big/packages?package_type=container", "t-big")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	page1 := decode[[]pkgOut](t, r)
	if len(page1) != 30 {
		t.Fatalf("page 1 has %d packages, want the default 30", len(page1))
	}
	wantLink := fmt.Sprintf(`<%[1]s/organizations/4242/packages?package_type=container&page=2>; rel="next", <%[1]s/organizations/4242/packages?package_type=container&page=2>; rel="last"`, h.srv.URL)
	if got := r.header.Get("Link"); got != wantLink {
		t.Fatalf("Link:\n got %s\nwant %s", got, wantLink)
	}
	next := strings.TrimPrefix(strings.Split(wantLink, ">")[0], "<")
	r = h.call(t, "GET", next, "t-big")
	if r.status != 200 {
		t.Fatalf("following next: %d %s", r.status, r.body)
	}
	page2 := decode[[]pkgOut](t, r)
	if len(page2) != 16 { // 45 single packages + deep/image
		t.Errorf("page 2 has %d packages, want 16", len(page2))
	}
	if got := r.header.Get("Link"); !strings.Contains(got, `page=1>; rel="prev"`) || !strings.Contains(got, `rel="first"`) || strings.Contains(got, `rel="next"`) {
		t.Errorf("last page Link = %s", got)
	}
	seen := map[string]bool{}
	for _, p := range append(page1, page2...) {
		if seen[p.Name] {
			t.Errorf("package %s on two pages", p.Name)
		}
		seen[p.Name] = true
	}
}

func TestPagination_PerPageCapAndVersionLinks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{}, manyFixture(1, 250))
	r := h.call(t, "GET", "/orgs/big/packages/container/deep%2Fimage/versions?per_page=500", "t-big")
	vs := decode[[]verOut](t, r)
	if len(vs) != 100 {
		t.Fatalf("per_page=500 gave %d versions, want the cap 100", len(vs))
	}
	for i := 1; i < len(vs); i++ {
		if vs[i-1].CreatedAt < vs[i].CreatedAt {
			t.Fatalf("versions not newest first at %d: %s < %s", i, vs[i-1].CreatedAt, vs[i].CreatedAt)
		}
	}
	link := r.header.Get("Link")
	want := h.srv.URL + "/organizations/4242/packages/container/deep%2Fimage/versions?page=2&per_page=500>; rel=\"next\""
	if !strings.Contains(link, want) || !strings.Contains(link, "page=3&per_page=500>; rel=\"last\"") {
		t.Errorf("Link = %s\nwant it to contain %s", link, want)
	}
	// Walk every page through rel=next: 250 distinct versions.
	seen := map[int64]bool{}
	next := "/orgs/big/packages/container/deep%2Fimage/versions?per_page=100"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		r := h.call(t, "GET", next, "t-big")
		for _, v := range decode[[]verOut](t, r) {
			seen[v.ID] = true
		}
		next = ""
		for _, part := range strings.Split(r.header.Get("Link"), ", ") {
			if strings.HasSuffix(part, `rel="next"`) {
				next = strings.TrimPrefix(strings.Split(part, ">")[0], "<")
			}
		}
	}
	if len(seen) != 250 {
		t.Errorf("paged %d distinct versions, want 250", len(seen))
	}
}

func TestPagination_PackageListCapsAt10000(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	const msg = "The value of `per_page` multiplied by `page` cannot be greater than 10000."
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"page=100&per_page=100", 200},
		{"page=101&per_page=100", 400},
		{"page=101&per_page=1000", 400}, // per_page is cut to 100 first
		{"page=10001", 400},
		{"page=99999999999999999999", 200}, // not a number: page 1
	} {
		r := h.call(t, "GET", "/orgs/acme/packages?package_type=container&"+tc.query, "t-admin")
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.query, r.status, tc.status)
			continue
		}
		if tc.status == 400 {
			if got := r.errMessage(t); got != msg {
				t.Errorf("%s: message %q", tc.query, got)
			}
		}
	}
	// Version lists have no such cap.
	r := h.call(t, "GET", "/orgs/acme/packages/container/web/versions?page=200&per_page=100", "t-admin")
	if r.status != 200 || string(r.body) != "[]" {
		t.Errorf("version page 200: %d %s", r.status, r.body)
	}
}

func TestRouting_EscapedNamesWithSlash(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	r := h.call(t, "GET", "/orgs/acme/packages/container/team%2Fservice%2Fapi", "t-admin")
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	p := decode[pkgOut](t, r)
	if p.Name != "team/service/api" || p.VersionCount != 3 || !strings.HasSuffix(p.URL, "/orgs/acme/packages/container/team%2Fservice%2Fapi") {
		t.Errorf("package = %+v", p)
	}
	if p.Owner.Login != "acme" || p.Owner.ID != 9919 || p.Owner.Type != "Organization" {
		t.Errorf("owner = %+v", p.Owner)
	}
	id := h.versionID(t, "acme", "container", "team/service/api", untagged)
	r = h.call(t, "DELETE", fmt.Sprintf("/orgs/acme/packages/container/team%%2Fservice%%2Fapi/versions/%d", id), "t-admin")
	if r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	// Unescaped, the name splits into segments and matches nothing.
	r = h.call(t, "GET", "/orgs/acme/packages/container/team/service/api/versions", "t-admin")
	if r.status != 404 {
		t.Errorf("unescaped name: status %d", r.status)
	}
}

func TestVersions_StateDeleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	id := h.versionID(t, "acme", "container", "team/service/api", untagged)
	base := "/orgs/acme/packages/container/team%2Fservice%2Fapi/versions"
	if r := h.call(t, "DELETE", fmt.Sprintf("%s/%d", base, id), "t-admin"); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	active := decode[[]verOut](t, h.call(t, "GET", base, "t-admin"))
	deleted := decode[[]verOut](t, h.call(t, "GET", base+"?state=deleted", "t-admin"))
	if len(active) != 2 || len(deleted) != 1 || deleted[0].ID != id {
		t.Fatalf("active %d, deleted %+v", len(active), deleted)
	}
	if deleted[0].DeletedAt != t0.Format(time.RFC3339) {
		t.Errorf("deleted_at = %q, want %s", deleted[0].DeletedAt, t0.Format(time.RFC3339))
	}
	for _, v := range active {
		if v.ID == id || v.DeletedAt != "" {
			t.Errorf("active list has %+v", v)
		}
	}
	if r := h.call(t, "GET", fmt.Sprintf("%s/%d", base, id), "t-admin"); r.status != 404 {
		t.Errorf("GET deleted version: %d", r.status)
	}
	p := decode[pkgOut](t, h.call(t, "GET", "/orgs/acme/packages/container/team%2Fservice%2Fapi", "t-admin"))
	if p.VersionCount != 2 {
		t.Errorf("version_count = %d, want 2 active", p.VersionCount)
	}
	st, ok := h.sim.Version(id)
	if !ok || st.DeletedAt == nil || !st.DeletedAt.Equal(t0) {
		t.Errorf("Version(%d) = %+v", id, st)
	}
}

func TestDelete_Refusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	id := func(pkg, typ string, pick func(VersionState) bool) int64 {
		return h.versionID(t, "acme", typ, pkg, pick)
	}
	tests := []struct {
		name   string
		path   string
		token  string
		status int
		msg    string
	}{
		{"unknown version", "/orgs/acme/packages/container/web/versions/1", "t-admin", 404, "Not Found"},
		{"version of another package", fmt.Sprintf("/orgs/acme/packages/container/web/versions/%d", id("solo", "container", untagged)), "t-admin", 404, "Not Found"},
		{"non-numeric id", "/orgs/acme/packages/container/web/versions/abc", "t-admin", 404, "Not Found"},
		{"unknown package", "/orgs/acme/packages/container/nope/versions/1", "t-admin", 404, "Package not found."},
		{"public over 5000 downloads", fmt.Sprintf("/orgs/acme/packages/container/web/versions/%d", id("web", "container", tagged("old"))), "t-admin", 400,
			"Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance."},
		{"last version", fmt.Sprintf("/orgs/acme/packages/maven/one/versions/%d", id("one", "maven", named("1.0"))), "t-admin", 400,
			"You cannot delete the last version of a package. You must delete the package instead."},
		{"last tagged version", fmt.Sprintf("/orgs/acme/packages/container/solo/versions/%d", id("solo", "container", tagged("latest"))), "t-admin", 400,
			"You cannot delete the last tagged version of a package. You must delete the package instead."},
		{"not an org admin", fmt.Sprintf("/orgs/acme/packages/container/web/versions/%d", id("web", "container", untagged)), "t-member", 404, "Package not found."},
		{"another user's package", fmt.Sprintf("/users/octocat/packages/container/pub/versions/%d", h.versionID(t, "octocat", "container", "pub", tagged("latest"))), "t-admin", 404, "Package not found."},
		{"unknown org", "/orgs/nobody/packages/container/web/versions/1", "t-admin", 404, "Not Found"},
	}
	for _, tc := range tests {
		r := h.call(t, "DELETE", tc.path, tc.token)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, r.status, tc.status, r.body)
			continue
		}
		if got := r.errMessage(t); got != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.name, got, tc.msg)
		}
	}
	if s := h.sim.Stats(); s.Deletes != 0 {
		t.Errorf("Deletes = %d after refusals only", s.Deletes)
	}
	// The untagged one in solo can go; the tagged one in team/... can too
	// because another tagged version remains.
	for _, path := range []string{
		fmt.Sprintf("/orgs/acme/packages/container/solo/versions/%d", id("solo", "container", untagged)),
		fmt.Sprintf("/orgs/acme/packages/container/team%%2Fservice%%2Fapi/versions/%d", id("team/service/api", "container", tagged("v1"))),
		fmt.Sprintf("/user/packages/container/hello/versions/%d", h.versionID(t, "octocat", "container", "hello", untagged)),
	} {
		token := "t-admin"
		if strings.HasPrefix(path, "/user/") {
			token = "t-octo"
		}
		if r := h.call(t, "DELETE", path, token); r.status != 204 {
			t.Errorf("DELETE %s: %d %s", path, r.status, r.body)
		}
	}
}

func TestRestore_WindowAndReuse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	base := "/orgs/acme/packages/npm/lib/versions/"
	old := h.versionID(t, "acme", "npm", "lib", named("1.0.0"))
	newer := h.versionID(t, "acme", "npm", "lib", named("1.1.0"))
	if r := h.call(t, "DELETE", fmt.Sprint(base, old), "t-admin"); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	// Within 30 days: restored.
	h.clk.Advance(29 * 24 * time.Hour)
	if r := h.call(t, "POST", fmt.Sprint(base, old, "/restore"), "t-admin"); r.status != 204 {
		t.Fatalf("restore after 29 days: %d %s", r.status, r.body)
	}
	if st, ok := h.sim.Version(old); !ok || st.DeletedAt != nil {
		t.Errorf("restored version still deleted: %+v", st)
	}
	// Restoring an active version is refused.
	if r := h.call(t, "POST", fmt.Sprint(base, old, "/restore"), "t-admin"); r.status != 404 {
		t.Errorf("restore of an active version: %d", r.status)
	}
	// Past 30 days: gone.
	if r := h.call(t, "DELETE", fmt.Sprint(base, old), "t-admin"); r.status != 204 {
		t.Fatalf("delete again: %d %s", r.status, r.body)
	}
	h.clk.Advance(31 * 24 * time.Hour)
	r := h.call(t, "POST", fmt.Sprint(base, old, "/restore"), "t-admin")
	if r.status != 404 || r.errMessage(t) != "Not Found" {
		t.Errorf("restore after 31 days: %d %s", r.status, r.body)
	}
	// Reused name: refused until the newer version is deleted.
	if _, err := h.sim.AddVersion("acme", "npm", "lib", VersionSeed{Name: "2.0.0"}); err != nil {
		t.Fatal(err)
	}
	if r := h.call(t, "DELETE", fmt.Sprint(base, newer), "t-admin"); r.status != 204 {
		t.Fatalf("delete 1.1.0: %d %s", r.status, r.body)
	}
	if _, err := h.sim.AddVersion("acme", "npm", "lib", VersionSeed{Name: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	r = h.call(t, "POST", fmt.Sprint(base, newer, "/restore"), "t-admin")
	if r.status != 400 || !strings.Contains(r.errMessage(t), "Delete the newer version first") {
		t.Errorf("restore of a reused name: %d %s", r.status, r.body)
	}
	// A token without write:packages cannot restore.
	if r := h.call(t, "POST", fmt.Sprint(base, newer, "/restore"), "t-reader"); r.status != 403 {
		t.Errorf("restore without write:packages: %d", r.status)
	}
	if got := h.sim.Stats().Restores; got != 1 {
		t.Errorf("Restores = %d, want 1", got)
	}
}

func TestPackage_DeleteAndRestore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	const web = "/orgs/acme/packages/container/web"
	r := h.call(t, "DELETE", web, "t-admin")
	if r.status != 400 || !strings.HasPrefix(r.errMessage(t), "Publicly visible package versions with more than 5000 downloads") {
		t.Errorf("delete public package with a popular version: %d %s", r.status, r.body)
	}
	const api = "/orgs/acme/packages/container/team%2Fservice%2Fapi"
	if r := h.call(t, "DELETE", api, "t-member"); r.status != 404 {
		t.Errorf("non-admin package delete: %d", r.status)
	}
	if r := h.call(t, "DELETE", api, "t-admin"); r.status != 204 {
		t.Fatalf("delete package: %d %s", r.status, r.body)
	}
	if r := h.call(t, "GET", api, "t-admin"); r.status != 404 || r.errMessage(t) != "Package not found." {
		t.Errorf("GET deleted package: %d %s", r.status, r.body)
	}
	for _, v := range h.sim.Versions("acme", "container", "team/service/api") {
		if v.DeletedAt == nil {
			t.Errorf("version %d of a deleted package is active", v.ID)
		}
	}
	h.clk.Advance(24 * time.Hour)
	if r := h.call(t, "POST", api+"/restore", "t-admin"); r.status != 204 {
		t.Fatalf("restore package: %d %s", r.status, r.body)
	}
	if p := decode[pkgOut](t, h.call(t, "GET", api, "t-admin")); p.VersionCount != 3 {
		t.Errorf("restored package has %d versions, want 3", p.VersionCount)
	}
	// Past the 30 days a deleted package is gone.
	if r := h.call(t, "DELETE", "/orgs/acme/packages/maven/one", "t-admin"); r.status != 204 {
		t.Fatalf("delete maven/one: %d %s", r.status, r.body)
	}
	h.clk.Advance(31 * 24 * time.Hour)
	if r := h.call(t, "POST", "/orgs/acme/packages/maven/one/restore", "t-admin"); r.status != 404 || r.errMessage(t) != "Package not found." {
		t.Errorf("restore after 31 days: %d %s", r.status, r.body)
	}
	// Namespace reuse blocks the restore.
	if r := h.call(t, "DELETE", api, "t-admin"); r.status != 204 {
		t.Fatal(r.status)
	}
	if err := h.sim.AddPackage("acme", PackageSeed{Name: "team/service/api", Type: "container"}); err != nil {
		t.Fatal(err)
	}
	r = h.call(t, "POST", api+"/restore", "t-admin")
	if r.status != 400 || !strings.Contains(r.errMessage(t), "Delete the newer package first") {
		t.Errorf("restore over a reused namespace: %d %s", r.status, r.body)
	}
}

func TestAuth_ScopesAnd401(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.sim.AddToken("t-none", Token{Login: "admin"})
	lib := h.versionID(t, "acme", "npm", "lib", named("1.0.0"))
	web := h.versionID(t, "acme", "container", "web", untagged)
	tests := []struct {
		name, method, path, token string
		status                    int
		msg                       string
		accepted                  string
	}{
		{"no token", "GET", "/orgs/acme/packages?package_type=container", "", 401, "Requires authentication", ""},
		{"unknown token", "GET", "/orgs/acme/packages?package_type=container", "nope", 401, "Bad credentials", ""},
		{"fine-grained", "GET", "/orgs/acme/packages?package_type=container", "t-fg", 403, "Resource not accessible by personal access token", "read:packages"},
		{"no scopes", "GET", "/orgs/acme/packages?package_type=container", "t-none", 403, "", "read:packages"},
		{"npm needs repo", "GET", "/orgs/acme/packages/npm/lib", "t-reader", 403, "", "read:packages, repo"},
		{"npm list needs repo", "GET", "/orgs/acme/packages?package_type=npm", "t-reader", 403, "", "read:packages, repo"},
		{"delete needs delete:packages", "DELETE", fmt.Sprintf("/orgs/acme/packages/container/web/versions/%d", web), "t-nodelete", 403, "", "read:packages, delete:packages"},
		{"delete npm needs repo", "DELETE", fmt.Sprintf("/orgs/acme/packages/npm/lib/versions/%d", lib), "t-octo", 403, "", "read:packages, delete:packages, repo"},
		{"container read without repo", "GET", "/orgs/acme/packages/container/web", "t-reader", 200, "", "read:packages"},
		{"write implies read", "GET", "/user/packages?package_type=container", "t-octo", 200, "", "read:packages"},
	}
	for _, tc := range tests {
		r := h.call(t, tc.method, tc.path, tc.token)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, r.status, tc.status, r.body)
			continue
		}
		if tc.status >= 400 {
			msg := r.errMessage(t)
			if tc.msg != "" && msg != tc.msg {
				t.Errorf("%s: message %q, want %q", tc.name, msg, tc.msg)
			}
			if tc.status == 403 && tc.msg == "" && !strings.Contains(msg, "scopes") {
				t.Errorf("%s: message %q does not name the scopes", tc.name, msg)
			}
		}
		if got := r.header.Get("X-Accepted-OAuth-Scopes"); tc.status != 401 && got != tc.accepted {
			t.Errorf("%s: X-Accepted-OAuth-Scopes %q, want %q", tc.name, got, tc.accepted)
		}
	}
	// The token scheme and X-OAuth-Scopes.
	req, _ := http.NewRequest("GET", h.srv.URL+"/user", nil)
	req.Header.Set("Authorization", "token t-reader")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-OAuth-Scopes") != "read:packages" {
		t.Errorf("token scheme: %d scopes %q", resp.StatusCode, resp.Header.Get("X-OAuth-Scopes"))
	}
	if r := h.call(t, "GET", "/user", "t-fg"); r.status != 200 || r.header.Get("X-OAuth-Scopes") != "" || len(r.header.Values("X-OAuth-Scopes")) != 0 {
		t.Errorf("fine-grained GET /user: %d, X-OAuth-Scopes %q", r.status, r.header.Values("X-OAuth-Scopes"))
	}
}

func TestHeaders_OnEveryAuthenticatedAnswer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{PrimaryLimit: 5000})
	for _, path := range []string{"/user", "/orgs/acme/packages?package_type=container", "/orgs/acme/packages/container/nope"} {
		r := h.call(t, "GET", path, "t-admin")
		for _, k := range []string{"X-OAuth-Scopes", "X-GitHub-Request-Id", "Content-Type", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Used", "X-Ratelimit-Reset", "X-Ratelimit-Resource"} {
			if r.header.Get(k) == "" {
				t.Errorf("%s: no %s", path, k)
			}
		}
		if got := r.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", path, got)
		}
		if got := r.header.Get("X-OAuth-Scopes"); got != "read:packages, write:packages, delete:packages, repo" {
			t.Errorf("%s: X-OAuth-Scopes %q", path, got)
		}
	}
	r := h.call(t, "GET", "/user", "t-admin", "X-GitHub-Api-Version", "2021-01-01")
	if r.status != 400 || r.errMessage(t) != "API version '2021-01-01' is not supported." {
		t.Errorf("unsupported API version: %d %s", r.status, r.body)
	}
	if r := h.call(t, "GET", "/user", "t-admin", "X-GitHub-Api-Version", "2026-03-10"); r.status != 200 {
		t.Errorf("API version 2026-03-10: %d", r.status)
	}
	type user struct {
		Login string `json:"login"`
		ID    int64  `json:"id"`
		Type  string `json:"type"`
	}
	u := decode[user](t, h.call(t, "GET", "/user", "t-octo"))
	if u.Login != "octocat" || u.ID != 583231 || u.Type != "User" {
		t.Errorf("GET /user = %+v", u)
	}
}

func TestRateLimit_PrimaryExhaustion(t *testing.T) {
	t.Parallel()
	for _, status := range []int{0, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{PrimaryLimit: 3, RateLimitStatus: status})
			want := status
			if want == 0 {
				want = 403
			}
			reset := strconv.FormatInt(t0.Add(time.Hour).Unix(), 10)
			for i := 1; i <= 3; i++ {
				r := h.call(t, "GET", "/orgs/acme/packages?package_type=container", "t-admin")
				if r.status != 200 || r.header.Get("X-Ratelimit-Remaining") != strconv.Itoa(3-i) || r.header.Get("X-Ratelimit-Used") != strconv.Itoa(i) {
					t.Fatalf("request %d: %d remaining %s used %s", i, r.status, r.header.Get("X-Ratelimit-Remaining"), r.header.Get("X-Ratelimit-Used"))
				}
				h.clk.Advance(time.Minute)
			}
			r := h.call(t, "GET", "/orgs/acme/packages?package_type=container", "t-admin")
			if r.status != want {
				t.Fatalf("exhausted: status %d, want %d", r.status, want)
			}
			if r.header.Get("X-Ratelimit-Remaining") != "0" || r.header.Get("X-Ratelimit-Reset") != reset || r.header.Get("X-Ratelimit-Limit") != "3" || r.header.Get("X-Ratelimit-Resource") != "core" {
				t.Errorf("exhausted headers: %v", r.header)
			}
			if msg := r.errMessage(t); !strings.HasPrefix(msg, "API rate limit exceeded for user ID 1001.") {
				t.Errorf("message %q", msg)
			}
			// Another token has its own hour.
			if r := h.call(t, "GET", "/user", "t-octo"); r.status != 200 {
				t.Errorf("other token: %d", r.status)
			}
			h.clk.Advance(time.Hour)
			r = h.call(t, "GET", "/orgs/acme/packages?package_type=container", "t-admin")
			if r.status != 200 || r.header.Get("X-Ratelimit-Remaining") != "2" {
				t.Errorf("after reset: %d remaining %s", r.status, r.header.Get("X-Ratelimit-Remaining"))
			}
			if got := h.sim.Stats().RateLimited; got != 1 {
				t.Errorf("RateLimited = %d", got)
			}
		})
	}
}

func TestRateLimit_SecondaryRetryAfter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{MutationSpacing: 2500 * time.Millisecond})
	ids := h.sim.Versions("acme", "container", "team/service/api")
	del := func(id int64) reply {
		return h.call(t, "DELETE", fmt.Sprintf("/orgs/acme/packages/container/team%%2Fservice%%2Fapi/versions/%d", id), "t-admin")
	}
	if r := del(ids[2].ID); r.status != 204 {
		t.Fatalf("first delete: %d %s", r.status, r.body)
	}
	h.clk.Advance(time.Second)
	r := del(ids[1].ID)
	if r.status != 403 || r.header.Get("Retry-After") != "2" {
		t.Fatalf("second delete: %d retry-after %q", r.status, r.header.Get("Retry-After"))
	}
	if msg := r.errMessage(t); !strings.HasPrefix(msg, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ") {
		t.Errorf("message %q", msg)
	}
	if st, ok := h.sim.Version(ids[1].ID); !ok || st.DeletedAt != nil {
		t.Error("refused delete was performed")
	}
	// GETs are not spaced.
	if r := h.call(t, "GET", "/orgs/acme/packages/container/web", "t-admin"); r.status != 200 {
		t.Errorf("GET between mutations: %d", r.status)
	}
	h.clk.Advance(1500 * time.Millisecond)
	if r := del(ids[1].ID); r.status != 204 {
		t.Errorf("delete after the spacing: %d %s", r.status, r.body)
	}
	if s := h.sim.Stats(); s.SecondaryLimited != 1 || s.Deletes != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestETag_NotModified(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{PrimaryLimit: 100})
	const path = "/orgs/acme/packages/container/team%2Fservice%2Fapi/versions"
	r := h.call(t, "GET", path, "t-admin")
	etag := r.header.Get("ETag")
	if r.status != 200 || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("status %d ETag %q", r.status, etag)
	}
	used := r.header.Get("X-Ratelimit-Used")
	r = h.call(t, "GET", path, "t-admin", "If-None-Match", etag)
	if r.status != 304 || len(r.body) != 0 {
		t.Fatalf("conditional GET: %d %q", r.status, r.body)
	}
	if r.header.Get("X-Ratelimit-Used") != used {
		t.Errorf("304 used the limit: used %s then %s", used, r.header.Get("X-Ratelimit-Used"))
	}
	if r := h.call(t, "GET", path, "t-admin", "If-None-Match", "W/"+etag); r.status != 304 {
		t.Errorf("weak If-None-Match: %d", r.status)
	}
	id := h.versionID(t, "acme", "container", "team/service/api", untagged)
	h.call(t, "DELETE", fmt.Sprintf("%s/%d", path, id), "t-admin")
	if r := h.call(t, "GET", path, "t-admin", "If-None-Match", etag); r.status != 200 || r.header.Get("ETag") == etag {
		t.Errorf("after a change: %d ETag %s", r.status, r.header.Get("ETag"))
	}
	if got := h.sim.Stats().NotModified; got != 2 {
		t.Errorf("NotModified = %d, want 2", got)
	}
}

func TestFaults_SkipTimesAndDelay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.sim.InjectFault(Fault{Method: "GET", PathContains: "/versions", Status: 502, Skip: 1, Times: 2})
	const path = "/orgs/acme/packages/container/web/versions"
	var got []int
	for range 4 {
		r := h.call(t, "GET", path, "t-admin")
		got = append(got, r.status)
		if r.status == 502 && (!strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "<html>")) {
			t.Errorf("fault body %q (%s)", r.body, r.header.Get("Content-Type"))
		}
	}
	if diff := cmp.Diff([]int{200, 502, 502, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	// Other methods and paths are not hit.
	if r := h.call(t, "GET", "/orgs/acme/packages/container/web", "t-admin"); r.status != 200 {
		t.Errorf("unmatched path: %d", r.status)
	}
	h.sim.ClearFaults()
	h.sim.InjectFault(Fault{PathContains: "team/service", Status: 500, Body: `{"message":"Server Error"}`})
	if r := h.call(t, "GET", "/orgs/acme/packages/container/team%2Fservice%2Fapi", "t-admin"); r.status != 500 || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("unescaped match: %d %s", r.status, r.header.Get("Content-Type"))
	}
	h.sim.ClearFaults()
	h.sim.InjectFault(Fault{Delay: 90 * time.Second, Times: 1})
	before := h.clk.Now()
	if r := h.call(t, "GET", path, "t-admin"); r.status != 200 {
		t.Errorf("delay-only fault: %d", r.status)
	}
	if h.clk.Slept() != 90*time.Second || h.clk.Now().Sub(before) != 90*time.Second {
		t.Errorf("slept %v", h.clk.Slept())
	}
	if s := h.sim.Stats(); s.ByStatus[502] != 2 || s.ByStatus[500] != 1 {
		t.Errorf("ByStatus %v", s.ByStatus)
	}
}

func TestStats_Counts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	id := h.versionID(t, "acme", "container", "web", untagged)
	base := "/orgs/acme/packages/container/web"
	h.call(t, "GET", "/user", "t-admin")
	h.call(t, "GET", "/orgs/acme/packages?package_type=container", "t-admin")
	h.call(t, "GET", base, "t-admin")
	h.call(t, "GET", base+"/versions", "t-admin")
	h.call(t, "GET", fmt.Sprintf("%s/versions/%d", base, id), "t-admin")
	h.call(t, "DELETE", fmt.Sprintf("%s/versions/%d", base, id), "t-admin")
	h.call(t, "DELETE", fmt.Sprintf("%s/versions/%d", base, id), "t-admin") // 404 now
	h.call(t, "POST", fmt.Sprintf("%s/versions/%d/restore", base, id), "t-admin")
	h.call(t, "DELETE", "/orgs/acme/packages/maven/one", "t-admin")
	h.call(t, "POST", "/orgs/acme/packages/maven/one/restore", "t-admin")
	h.call(t, "GET", "/orgs/acme/docker/conflicts", "t-admin")
	h.call(t, "GET", "/nowhere", "t-admin")
	h.call(t, "GET", "/user", "")
	got := h.sim.Stats()
	want := Stats{
		Requests: 13,
		ByOp: map[string]int{
			"GET /user": 2, "GET packages": 1, "GET package": 1, "GET versions": 1, "GET version": 1,
			"DELETE version": 2, "POST version/restore": 1, "DELETE package": 1, "POST package/restore": 1,
			"GET docker/conflicts": 1, "other": 1,
		},
		ByStatus: map[int]int{200: 6, 204: 4, 404: 2, 401: 1},
		Deletes:  2,
		Restores: 2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	h.sim.ResetStats()
	if diff := cmp.Diff(Stats{ByOp: map[string]int{}, ByStatus: map[int]int{}}, h.sim.Stats()); diff != "" {
		t.Errorf("after reset:\n%s", diff)
	}
}

func TestOwners_UserSelfAliasesAndVisibility(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	names := func(r reply) []string {
		var out []string
		for _, p := range decode[[]pkgOut](t, r) {
			out = append(out, p.Name)
		}
		return out
	}
	// The owner sees both; others only the public one.
	if diff := cmp.Diff([]string{"hello", "pub"}, names(h.call(t, "GET", "/user/packages?package_type=container", "t-octo"))); diff != "" {
		t.Errorf("/user/packages:\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pub"}, names(h.call(t, "GET", "/users/octocat/packages?package_type=container", "t-admin"))); diff != "" {
		t.Errorf("/users/octocat/packages by another token:\n%s", diff)
	}
	if r := h.call(t, "GET", "/users/octocat/packages/container/hello", "t-admin"); r.status != 404 {
		t.Errorf("another user's private package: %d", r.status)
	}
	if r := h.call(t, "GET", "/user/packages?package_type=container&per_page=1", "t-octo"); !strings.Contains(r.header.Get("Link"), h.srv.URL+"/user/583231/packages?package_type=container&page=2&per_page=1>; rel=\"next\"") {
		t.Errorf("/user/packages Link = %s", r.header.Get("Link"))
	}
	// Aliases by id.
	if diff := cmp.Diff([]string{"hello", "pub"}, names(h.call(t, "GET", "/user/583231/packages?package_type=container", "t-octo"))); diff != "" {
		t.Errorf("/user/{id}/packages:\n%s", diff)
	}
	if r := h.call(t, "GET", "/organizations/9919/packages/container/web", "t-admin"); r.status != 200 {
		t.Errorf("/organizations/{id}: %d", r.status)
	}
	if r := h.call(t, "GET", "/organizations/583231/packages/container/hello", "t-octo"); r.status != 404 {
		t.Errorf("user id under /organizations: %d", r.status)
	}
	// GHES prefix, and its links keep it.
	r := h.call(t, "GET", "/api/v3/orgs/big/packages?package_type=container", "t-admin")
	if r.status != 404 {
		t.Errorf("unknown org under /api/v3: %d", r.status)
	}
	r = h.call(t, "GET", "/api/v3/orgs/acme/packages?package_type=container&per_page=1", "t-admin")
	if r.status != 200 || !strings.Contains(r.header.Get("Link"), h.srv.URL+"/api/v3/organizations/9919/packages?") {
		t.Errorf("/api/v3: %d Link %s", r.status, r.header.Get("Link"))
	}
	// Docker conflicts.
	conf := decode[[]pkgOut](t, h.call(t, "GET", "/orgs/acme/docker/conflicts", "t-admin"))
	if len(conf) != 1 || conf[0].Name != "legacy" || conf[0].PackageType != "docker" {
		t.Errorf("docker conflicts = %+v", conf)
	}
	// Docker metadata carries both tag and tags.
	vs := decode[[]verOut](t, h.call(t, "GET", "/orgs/acme/packages/docker/legacy/versions", "t-admin"))
	if len(vs) != 1 || vs[0].Metadata.Docker == nil || len(vs[0].Metadata.Docker.Tag) != 1 || len(vs[0].Metadata.Docker.Tags) != 1 {
		t.Errorf("docker versions = %s", h.call(t, "GET", "/orgs/acme/packages/docker/legacy/versions", "t-admin").body)
	}
	// Bad arguments.
	for _, q := range []string{"", "package_type=gradle", "package_type=container&visibility=secret"} {
		r := h.call(t, "GET", "/orgs/acme/packages?"+q, "t-admin")
		if r.status != 400 || r.errMessage(t) != "Invalid argument." {
			t.Errorf("list with %q: %d %s", q, r.status, r.body)
		}
	}
	if r := h.call(t, "GET", "/orgs/acme/packages?package_type=container&visibility=public", "t-admin"); len(decode[[]pkgOut](t, r)) != 1 {
		t.Errorf("visibility=public: %s", r.body)
	}
}

func TestServer_SeedAPIAndUntaggedMetadata(t *testing.T) {
	t.Parallel()
	sim := New(Options{Clock: clock.NewFake(t0)})
	if err := sim.AddPackage("ghost", PackageSeed{Name: "x", Type: "npm"}); err == nil {
		t.Error("package of an unknown owner accepted")
	}
	sim.AddOrg("acme", 1)
	for _, tc := range []PackageSeed{{Name: "x", Type: "gradle"}, {Name: "", Type: "npm"}, {Name: "x", Type: "npm", Visibility: "secret"}, {Name: "x", Type: "npm", Repository: "other/repo"}} {
		if err := sim.AddPackage("acme", tc); err == nil {
			t.Errorf("AddPackage(%+v) accepted", tc)
		}
	}
	if err := sim.AddPackage("acme", PackageSeed{Name: "img", Type: "container"}); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddPackage("acme", PackageSeed{Name: "img", Type: "container"}); err == nil {
		t.Error("duplicate package accepted")
	}
	a, err := sim.AddVersion("acme", "container", "img", VersionSeed{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sim.AddVersion("acme", "container", "img", VersionSeed{})
	if b <= a {
		t.Errorf("ids %d then %d", a, b)
	}
	va, _ := sim.Version(a)
	if !strings.HasPrefix(va.Name, "sha256:") || len(va.Name) != 71 || !va.CreatedAt.Equal(t0) || !va.UpdatedAt.Equal(t0) {
		t.Errorf("made-up version %+v", va)
	}
	if _, err := sim.AddVersion("acme", "container", "img", VersionSeed{Name: va.Name}); err == nil {
		t.Error("duplicate active version name accepted")
	}
	if err := sim.AddPackage("acme", PackageSeed{Name: "n", Type: "npm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AddVersion("acme", "npm", "n", VersionSeed{}); err == nil {
		t.Error("npm version without a name accepted")
	}
	sim.AddToken("tk", Token{Login: "me", Scopes: []string{"read:packages"}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+fmt.Sprintf("/orgs/acme/packages/container/img/versions/%d", a), nil)
	req.Header.Set("Authorization", "Bearer tk")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"metadata":{"package_type":"container","container":{"tags":[]}}`) {
		t.Errorf("untagged version body %s", body)
	}
}

func TestServeHTTP_OddPathsNeverPanic(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{PrimaryLimit: 1000, MutationSpacing: time.Second})
	for _, p := range []string{
		"/", "/orgs", "/orgs/", "/orgs//packages", "/orgs/acme/packages/", "/orgs/acme/packages/container",
		"/orgs/acme/packages/container/%252F", "/orgs/acme/packages/container/web/versions/", "/orgs/acme/packages/container/web/versions/-1",
		"/orgs/acme/packages/container/web/versions/99999999999999999999999", "/user/", "/user/0/packages", "/user/99999999999999999999/packages",
		"/organizations/abc/packages", "/api/v3", "/api/v3/", "/users/octocat/docker/conflicts/x", "/orgs/acme/packages/container/web/restore/x",
	} {
		for _, m := range []string{"GET", "DELETE", "POST", "PUT"} {
			r := h.call(t, m, p, "t-admin")
			if r.status < 200 || r.status >= 600 {
				t.Errorf("%s %s: %d", m, p, r.status)
			}
			h.clk.Advance(time.Second)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/orgs/a/packages/container/x%2Fy/versions/1/restore", "/user/1/packages", "/api/v3/user", "/%", "/orgs/acme/packages/container/%zz"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		rt := parseRoute(method, path)
		_ = rt.doc()
	})
}

func TestServer_ConcurrentClients(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{PrimaryLimit: 5000, MutationSpacing: time.Millisecond}, manyFixture(5, 200))
	vs := h.sim.Versions("big", "container", "deep/image")
	// send is not h.call: t.Fatal must not run outside the test goroutine.
	send := func(method, path string) error {
		req, err := http.NewRequest(method, h.srv.URL+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer t-big")
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(vs)-1; i += 8 {
				if err := send("GET", "/orgs/big/packages/container/deep%2Fimage/versions?per_page=100"); err != nil {
					t.Error(err)
				}
				if err := send("DELETE", fmt.Sprintf("/orgs/big/packages/container/deep%%2Fimage/versions/%d", vs[i].ID)); err != nil {
					t.Error(err)
				}
				h.clk.Advance(time.Millisecond)
			}
		})
	}
	wg.Wait()
	s := h.sim.Stats()
	answered := 0
	for _, n := range s.ByStatus {
		answered += n
	}
	if s.Requests != answered || s.Deletes != s.ByStatus[204] || s.SecondaryLimited != s.ByStatus[403] {
		t.Errorf("stats do not add up: %+v", s)
	}
}

// BenchmarkListVersions pages through a package with 10,000 versions, the
// shape of a long-lived CI image.
func BenchmarkListVersions(b *testing.B) {
	sim := New(Options{Clock: clock.NewFake(t0), PrimaryLimit: 0})
	f, err := LoadFixture(strings.NewReader(manyFixture(1, 10000)))
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Seed(f); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for b.Loop() {
		req, _ := http.NewRequest("GET", srv.URL+"/orgs/big/packages/container/deep%2Fimage/versions?per_page=100&page=50", nil)
		req.Header.Set("Authorization", "Bearer t-big")
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
