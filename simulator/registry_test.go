package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// acceptAll is the Accept a registry client sends to get any manifest as
// stored.
const acceptAll = MediaOCIIndex + ", " + MediaOCIManifest + ", " + MediaDockerList + ", " + MediaDockerManifest

// regWorld holds the manifests seeded by newRegistryHarness.
type regWorld struct {
	amd64, arm64, att, index, sig []byte // acme/team/svc/api, private
	list, dockerAMD64, dockerARM  []byte // acme/legacy-list, public
	popular, fresh                []byte // acme/dl, public
}

// newRegistryHarness seeds, on top of baseFixture, a private multi-platform
// image with a buildx attestation and a signature, a public Docker manifest
// list, and a public image whose old version is near the download limit.
func newRegistryHarness(t *testing.T, opts Options) (*harness, regWorld) {
	t.Helper()
	h := newHarness(t, opts)
	var w regWorld
	w.amd64 = ImageManifest(MediaOCIManifest, "api-amd64", 1000, 2000)
	w.arm64 = ImageManifest(MediaOCIManifest, "api-arm64", 1100, 2100)
	w.att = ImageManifest(MediaOCIManifest, "api-attestation", 300)
	amd, arm, att := Describe(MediaOCIManifest, w.amd64), Describe(MediaOCIManifest, w.arm64), Describe(MediaOCIManifest, w.att)
	amd.Platform = &Platform{OS: "linux", Architecture: "amd64"}
	arm.Platform = &Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	att.Platform = &Platform{OS: "unknown", Architecture: "unknown"}
	att.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amd.Digest}
	w.index = Index(MediaOCIIndex, amd, arm, att)
	w.sig = ReferrerManifest(Describe(MediaOCIIndex, w.index), "application/vnd.dev.sigstore.bundle.v0.3+json", "api-sig")

	w.dockerAMD64 = ImageManifest(MediaDockerManifest, "legacy-amd64", 500)
	w.dockerARM = ImageManifest(MediaDockerManifest, "legacy-arm", 600)
	dAMD, dARM := Describe(MediaDockerManifest, w.dockerAMD64), Describe(MediaDockerManifest, w.dockerARM)
	dAMD.Platform = &Platform{OS: "linux", Architecture: "amd64"}
	dARM.Platform = &Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	w.list = Index(MediaDockerList, dAMD, dARM)

	w.popular = ImageManifest(MediaOCIManifest, "dl-old", 10)
	w.fresh = ImageManifest(MediaOCIManifest, "dl-new", 10)

	for _, p := range []PackageSeed{
		{Name: "team/svc/api", Type: "container"},
		{Name: "legacy-list", Type: "container", Visibility: "public"},
		{Name: "dl", Type: "container", Visibility: "public"},
	} {
		if err := h.sim.AddPackage("acme", p); err != nil {
			t.Fatal(err)
		}
	}
	add := func(pkg string, v VersionSeed) {
		t.Helper()
		if _, err := h.sim.AddVersion("acme", "container", pkg, v); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	add("team/svc/api", VersionSeed{Tags: []string{"broken"}, CreatedAt: t0.Add(-9 * day)}) // no manifest
	add("team/svc/api", VersionSeed{Manifest: w.amd64, CreatedAt: t0.Add(-2 * day)})
	add("team/svc/api", VersionSeed{Manifest: w.arm64, CreatedAt: t0.Add(-2 * day)})
	add("team/svc/api", VersionSeed{Manifest: w.att, CreatedAt: t0.Add(-2 * day)})
	add("team/svc/api", VersionSeed{Manifest: w.index, Tags: []string{"v1", "latest"}, CreatedAt: t0.Add(-2 * day)})
	add("team/svc/api", VersionSeed{Manifest: w.sig, CreatedAt: t0.Add(-2 * day)})
	add("legacy-list", VersionSeed{Manifest: w.dockerAMD64, CreatedAt: t0.Add(-3 * day)})
	add("legacy-list", VersionSeed{Manifest: w.dockerARM, CreatedAt: t0.Add(-3 * day)})
	add("legacy-list", VersionSeed{Manifest: w.list, Tags: []string{"v1"}, CreatedAt: t0.Add(-3 * day)})
	add("dl", VersionSeed{Manifest: w.popular, CreatedAt: t0.Add(-90 * day), Downloads: 4999})
	add("dl", VersionSeed{Manifest: w.fresh, Tags: []string{"latest"}, CreatedAt: t0.Add(-day)})
	return h, w
}

// reg sends a registry request: no API headers, the bearer when given, then
// hdr as name/value pairs (an Authorization there replaces the bearer).
func (h *harness) reg(t *testing.T, method, path, bearer string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return h.do(t, req)
}

func (h *harness) do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
}

// pullToken exchanges apiToken (empty: anonymous) for a bearer scoped to
// pull repos.
func (h *harness) pullToken(t *testing.T, apiToken string, repos ...string) string {
	t.Helper()
	r := h.tokenReply(t, apiToken, repos...)
	if r.status != http.StatusOK {
		t.Fatalf("GET /token: %d %s", r.status, r.body)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.body, &tok); err != nil {
		t.Fatalf("token body %q: %v", r.body, err)
	}
	if tok.Token == "" || tok.Token != tok.AccessToken {
		t.Fatalf("token %q, access_token %q", tok.Token, tok.AccessToken)
	}
	return tok.Token
}

func (h *harness) tokenReply(t *testing.T, apiToken string, repos ...string) reply {
	t.Helper()
	q := url.Values{"service": {"ghcr.io"}}
	for _, r := range repos {
		q.Add("scope", "repository:"+r+":pull")
	}
	req, err := http.NewRequest("GET", h.srv.URL+"/token?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if apiToken != "" {
		req.SetBasicAuth("whoever", apiToken)
	}
	return h.do(t, req)
}

// regCode is the code of a registry error answer, checking its shape.
func regCode(t *testing.T, r reply) string {
	t.Helper()
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Message == "" {
		t.Fatalf("registry error body %q (%v)", r.body, err)
	}
	return e.Errors[0].Code
}

func TestRegistry_TokenExchange(t *testing.T) {
	t.Parallel()
	h, _ := newRegistryHarness(t, Options{})
	a := h.pullToken(t, "t-admin", "acme/team/svc/api")
	b := h.pullToken(t, "t-admin", "acme/team/svc/api")
	if a == b {
		t.Errorf("two exchanges gave the same token %q", a)
	}
	h.pullToken(t, "") // anonymous
	for _, tc := range []struct {
		name, auth string
	}{
		{"wrong password", basic("whoever", "nope")},
		{"empty password", basic("whoever", "")},
		{"fine-grained", basic("whoever", "t-fg")},
		{"API token as bearer", "Bearer t-admin"},
	} {
		r := h.reg(t, "GET", "/token?service=ghcr.io&scope=repository:acme/web:pull", "", "Authorization", tc.auth)
		if r.status != http.StatusUnauthorized || regCode(t, r) != "UNAUTHORIZED" {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
}

func basic(user, pw string) string {
	req, _ := http.NewRequest("GET", "http://x/", nil)
	req.SetBasicAuth(user, pw)
	return req.Header.Get("Authorization")
}

func TestRegistry_V2Challenge(t *testing.T) {
	t.Parallel()
	h, _ := newRegistryHarness(t, Options{})
	want := `Bearer realm="` + h.srv.URL + `/token",service="ghcr.io"`
	for _, bearer := range []string{"", "not-a-token", "t-admin"} {
		r := h.reg(t, "GET", "/v2/", bearer)
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != want || regCode(t, r) != "UNAUTHORIZED" {
			t.Errorf("bearer %q: %d %q %s", bearer, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
	r := h.reg(t, "GET", "/v2/", h.pullToken(t, ""))
	if r.status != http.StatusOK || string(r.body) != "{}" || r.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("with a token: %d %s %v", r.status, r.body, r.header)
	}
}

func TestRegistry_ManifestByDigestAndTag(t *testing.T) {
	t.Parallel()
	h, w := newRegistryHarness(t, Options{})
	tok := h.pullToken(t, "t-reader", "acme/team/svc/api")
	for _, tc := range []struct {
		name, path string
		want       []byte
		mediaType  string
	}{
		{"tag", "/v2/acme/team/svc/api/manifests/latest", w.index, MediaOCIIndex},
		{"other tag", "/v2/acme/team/svc/api/manifests/v1", w.index, MediaOCIIndex},
		{"digest", "/v2/acme/team/svc/api/manifests/" + Digest(w.arm64), w.arm64, MediaOCIManifest},
		{"referrer", "/v2/acme/team/svc/api/manifests/" + Digest(w.sig), w.sig, MediaOCIManifest},
		{"case-insensitive names", "/v2/ACME/Team/Svc/API/manifests/" + Digest(w.amd64), w.amd64, MediaOCIManifest},
	} {
		r := h.reg(t, "GET", tc.path, tok, "Accept", acceptAll)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			continue
		}
		if !bytes.Equal(r.body, tc.want) {
			t.Errorf("%s: body %s, want %s", tc.name, r.body, tc.want)
		}
		if got := r.header.Get("Content-Type"); got != tc.mediaType {
			t.Errorf("%s: Content-Type %q, want %q", tc.name, got, tc.mediaType)
		}
		if got := r.header.Get("Docker-Content-Digest"); got != Digest(r.body) || got != Digest(tc.want) {
			t.Errorf("%s: Docker-Content-Digest %q, body digest %q", tc.name, got, Digest(r.body))
		}
		if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(tc.want)) {
			t.Errorf("%s: Content-Length %q, want %d", tc.name, got, len(tc.want))
		}
		h.reg(t, "GET", "/v2/acme/team/svc/api/manifests/latest", tok, "Accept", acceptAll)
	}

	// HEAD: the same headers, no body, and no fetch counted.
	before := h.sim.Stats().ManifestFetches
	r := h.reg(t, "HEAD", "/v2/acme/team/svc/api/manifests/latest", tok, "Accept", acceptAll)
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Type") != MediaOCIIndex ||
		r.header.Get("Docker-Content-Digest") != Digest(w.index) || r.header.Get("Content-Length") != strconv.Itoa(len(w.index)) {
		t.Errorf("HEAD: %d %q %v", r.status, r.body, r.header)
	}
	if got := h.sim.Stats().ManifestFetches; got != before {
		t.Errorf("HEAD counted as a fetch: %d → %d", before, got)
	}

	// Without a bearer: the challenge names the repository.
	r = h.reg(t, "GET", "/v2/acme/team/svc/api/manifests/latest", "", "Accept", acceptAll)
	want := `Bearer realm="` + h.srv.URL + `/token",service="ghcr.io",scope="repository:acme/team/svc/api:pull"`
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != want || regCode(t, r) != "UNAUTHORIZED" {
		t.Errorf("no bearer: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	// Unknown references.
	for _, ref := range []string{"nope", Digest([]byte("nothing")), "sha256:zz"} {
		r := h.reg(t, "GET", "/v2/acme/team/svc/api/manifests/"+ref, tok, "Accept", acceptAll)
		if r.status != http.StatusNotFound || regCode(t, r) != "MANIFEST_UNKNOWN" {
			t.Errorf("ref %s: %d %s", ref, r.status, r.body)
		}
	}
}

func TestRegistry_IndexNeedsItsMediaTypeInAccept(t *testing.T) {
	t.Parallel()
	h, w := newRegistryHarness(t, Options{})
	tok := h.pullToken(t, "", "acme/legacy-list")
	priv := h.pullToken(t, "t-admin", "acme/team/svc/api")
	for _, tc := range []struct {
		name, path, bearer, accept string
		status                     int
		want                       []byte
	}{
		{"OCI index, no Accept", "/v2/acme/team/svc/api/manifests/latest", priv, "", 404, nil},
		{"OCI index, manifests only", "/v2/acme/team/svc/api/manifests/latest", priv, MediaOCIManifest + ", " + MediaDockerManifest, 404, nil},
		{"OCI index, Docker list only", "/v2/acme/team/svc/api/manifests/latest", priv, MediaDockerList, 404, nil},
		{"OCI index, wildcard", "/v2/acme/team/svc/api/manifests/latest", priv, "*/*", 404, nil},
		{"OCI index, accepted with q", "/v2/acme/team/svc/api/manifests/latest", priv, MediaOCIManifest + ";q=0.5, " + MediaOCIIndex + " ; q=0.9", 200, w.index},
		{"Docker list, OCI index only", "/v2/acme/legacy-list/manifests/v1", tok, MediaOCIIndex + ", " + MediaOCIManifest, 404, nil},
		{"Docker list, accepted", "/v2/acme/legacy-list/manifests/v1", tok, MediaDockerList, 200, w.list},
		{"image manifest, no Accept", "/v2/acme/legacy-list/manifests/" + Digest(w.dockerARM), tok, "", 200, w.dockerARM},
	} {
		r := h.reg(t, "GET", tc.path, tc.bearer, "Accept", tc.accept)
		if r.status != tc.status {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			continue
		}
		if tc.status == 404 && regCode(t, r) != "MANIFEST_UNKNOWN" {
			t.Errorf("%s: %s", tc.name, r.body)
		}
		if tc.status == 200 && !bytes.Equal(r.body, tc.want) {
			t.Errorf("%s: body %s", tc.name, r.body)
		}
	}
}

// A client walks an index to its children; each child is a version of the
// package whose name is the digest the index names.
func TestRegistry_IndexChildrenAreSeededVersions(t *testing.T) {
	t.Parallel()
	h, w := newRegistryHarness(t, Options{})
	names := map[string]VersionState{}
	for _, v := range h.sim.Versions("acme", "container", "team/svc/api") {
		names[v.Name] = v
	}
	tok := h.pullToken(t, "t-admin", "acme/team/svc/api")
	r := h.reg(t, "GET", "/v2/acme/team/svc/api/manifests/v1", tok, "Accept", acceptAll)
	var ix struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(r.body, &ix); err != nil || ix.SchemaVersion != 2 || ix.MediaType != MediaOCIIndex || len(ix.Manifests) != 3 {
		t.Fatalf("index %s (%v)", r.body, err)
	}
	for i, want := range [][]byte{w.amd64, w.arm64, w.att} {
		d := ix.Manifests[i]
		if d.Digest != Describe("", want).Digest || d.Size != int64(len(want)) || d.MediaType != MediaOCIManifest {
			t.Errorf("child %d: %+v", i, d)
		}
		v, ok := names[d.Digest]
		if !ok || len(v.Tags) != 0 {
			t.Errorf("child %d %s: not an untagged version (%+v)", i, d.Digest, v)
		}
		c := h.reg(t, "GET", "/v2/acme/team/svc/api/manifests/"+d.Digest, tok, "Accept", acceptAll)
		if c.status != http.StatusOK || !bytes.Equal(c.body, want) {
			t.Errorf("child %d: %d", i, c.status)
		}
	}
	att := ix.Manifests[2]
	if diff := cmp.Diff(&Platform{OS: "unknown", Architecture: "unknown"}, att.Platform); diff != "" {
		t.Errorf("attestation platform (-want +got):\n%s", diff)
	}
	if att.Annotations["vnd.docker.reference.type"] != "attestation-manifest" || att.Annotations["vnd.docker.reference.digest"] != ix.Manifests[0].Digest {
		t.Errorf("attestation annotations %v", att.Annotations)
	}
	// The signature refers to the index.
	var sig struct {
		ArtifactType string      `json:"artifactType"`
		Subject      *Descriptor `json:"subject"`
	}
	if err := json.Unmarshal(w.sig, &sig); err != nil || sig.Subject == nil || sig.Subject.Digest != Digest(w.index) ||
		sig.Subject.MediaType != MediaOCIIndex || sig.ArtifactType == "" {
		t.Errorf("referrer %s (%v)", w.sig, err)
	}
	if _, ok := names[Digest(w.sig)]; !ok {
		t.Errorf("signature is not a version")
	}
}

func TestRegistry_PullRights(t *testing.T) {
	t.Parallel()
	h, _ := newRegistryHarness(t, Options{})
	h.sim.AddToken("t-noscope", Token{Login: "admin"})
	const api = "/v2/acme/team/svc/api/manifests/latest"
	for _, tc := range []struct {
		name, apiToken, scope, path string
		status                      int
		code                        string
	}{
		{"anonymous, private", "", "acme/team/svc/api", api, 403, "DENIED"},
		{"anonymous, public", "", "acme/legacy-list", "/v2/acme/legacy-list/manifests/v1", 200, ""},
		{"other scope", "t-admin", "acme/legacy-list", api, 403, "DENIED"},
		{"no read:packages", "t-noscope", "acme/team/svc/api", api, 403, "DENIED"},
		{"write implies read", "t-octo", "acme/team/svc/api", api, 200, ""},
		{"own private user package", "t-octo", "octocat/hello", "/v2/octocat/hello/manifests/latest", 404, "MANIFEST_UNKNOWN"},
		{"another user's private package", "t-member", "octocat/hello", "/v2/octocat/hello/manifests/latest", 403, "DENIED"},
		{"no such package", "t-admin", "acme/ghost", "/v2/acme/ghost/manifests/latest", 403, "DENIED"},
		{"API path is not a package", "t-admin", "acme/npm/lib", "/v2/acme/npm/lib/manifests/1.0.0", 403, "DENIED"},
	} {
		tok := h.pullToken(t, tc.apiToken, tc.scope)
		r := h.reg(t, "GET", tc.path, tok, "Accept", acceptAll)
		if r.status != tc.status || (tc.code != "" && regCode(t, r) != tc.code) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	// Scopes may be repeated, space-separated, upper-case, and list more
	// actions than pull; push alone grants nothing.
	r := h.reg(t, "GET", "/token?scope=repository:acme/legacy-list:pull&scope=repository:ACME/team/svc/api:push,pull+repository:acme/dl:push", "",
		"Authorization", basic("x", "t-admin"))
	var tok struct{ Token string }
	if err := json.Unmarshal(r.body, &tok); err != nil || r.status != 200 {
		t.Fatalf("multi-scope token: %d %s", r.status, r.body)
	}
	for path, want := range map[string]int{
		"/v2/acme/legacy-list/manifests/v1":   200,
		api:                                   200,
		"/v2/acme/dl/manifests/latest":        403,
		"/v2/acme/team/svc/api/manifests/v1":  200,
		"/v2/acme/legacy-list/manifests/nope": 404,
	} {
		if r := h.reg(t, "GET", path, tok.Token, "Accept", acceptAll); r.status != want {
			t.Errorf("multi-scope %s: %d, want %d", path, r.status, want)
		}
	}
}

func TestRegistry_DeletedAndManifestlessVersions(t *testing.T) {
	t.Parallel()
	h, w := newRegistryHarness(t, Options{})
	tok := h.pullToken(t, "t-admin", "acme/team/svc/api")
	get := func(ref string) reply {
		return h.reg(t, "GET", "/v2/acme/team/svc/api/manifests/"+ref, tok, "Accept", acceptAll)
	}
	// A version seeded without a manifest is a broken image.
	if r := get("broken"); r.status != 404 || regCode(t, r) != "MANIFEST_UNKNOWN" {
		t.Errorf("manifestless: %d %s", r.status, r.body)
	}
	broken := h.versionID(t, "acme", "container", "team/svc/api", tagged("broken"))
	bv, _ := h.sim.Version(broken)
	if r := get(bv.Name); r.status != 404 {
		t.Errorf("manifestless by digest: %d", r.status)
	}
	// Deleting through the API hides the manifest from the registry; restoring
	// brings it back.
	id := h.versionID(t, "acme", "container", "team/svc/api", named(Digest(w.arm64)))
	path := fmt.Sprintf("/orgs/acme/packages/container/team%%2Fsvc%%2Fapi/versions/%d", id)
	if r := h.call(t, "DELETE", path, "t-admin"); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := get(Digest(w.arm64)); r.status != 404 || regCode(t, r) != "MANIFEST_UNKNOWN" {
		t.Errorf("deleted: %d %s", r.status, r.body)
	}
	if r := h.call(t, "POST", path+"/restore", "t-admin"); r.status != 204 {
		t.Fatalf("restore: %d %s", r.status, r.body)
	}
	if r := get(Digest(w.arm64)); r.status != 200 {
		t.Errorf("restored: %d %s", r.status, r.body)
	}
	// Deleting the package: the repository is gone.
	if r := h.call(t, "DELETE", "/orgs/acme/packages/container/team%2Fsvc%2Fapi", "t-admin"); r.status != 204 {
		t.Fatalf("delete package: %d %s", r.status, r.body)
	}
	if r := get("latest"); r.status != 403 || regCode(t, r) != "DENIED" {
		t.Errorf("deleted package: %d %s", r.status, r.body)
	}
}

func TestRegistry_PublicGETsCountAsDownloads(t *testing.T) {
	t.Parallel()
	h, w := newRegistryHarness(t, Options{})
	id := h.versionID(t, "acme", "container", "dl", named(Digest(w.popular)))
	priv := h.versionID(t, "acme", "container", "team/svc/api", named(Digest(w.amd64)))
	pub := h.pullToken(t, "", "acme/dl")
	own := h.pullToken(t, "t-admin", "acme/team/svc/api")
	popular := "/v2/acme/dl/manifests/" + Digest(w.popular)

	h.reg(t, "HEAD", popular, pub, "Accept", acceptAll)
	h.reg(t, "GET", "/v2/acme/team/svc/api/manifests/"+Digest(w.amd64), own, "Accept", acceptAll)
	if v, _ := h.sim.Version(id); v.Downloads != 4999 {
		t.Errorf("after HEAD: %d downloads, want 4999", v.Downloads)
	}
	if v, _ := h.sim.Version(priv); v.Downloads != 0 {
		t.Errorf("private GET counted: %d downloads", v.Downloads)
	}
	for range 2 {
		if r := h.reg(t, "GET", popular, pub, "Accept", acceptAll); r.status != 200 {
			t.Fatalf("GET: %d %s", r.status, r.body)
		}
	}
	if v, _ := h.sim.Version(id); v.Downloads != 5001 {
		t.Errorf("after two GETs: %d downloads, want 5001", v.Downloads)
	}
	r := h.call(t, "DELETE", fmt.Sprintf("/orgs/acme/packages/container/dl/versions/%d", id), "t-admin")
	if r.status != 400 || r.errMessage(t) != msgDownloads {
		t.Errorf("delete after 5001 downloads: %d %s", r.status, r.body)
	}

	s := h.sim.Stats()
	if s.ManifestFetches != 3 {
		t.Errorf("ManifestFetches %d, want 3", s.ManifestFetches)
	}
	want := map[string]int{Digest(w.popular): 2, Digest(w.amd64): 1}
	if diff := cmp.Diff(want, s.ManifestFetchesByDigest); diff != "" {
		t.Errorf("ManifestFetchesByDigest (-want +got):\n%s", diff)
	}
}

func TestRegistry_DeleteManifestIsUnsupported(t *testing.T) {
	t.Parallel()
	h, w := newRegistryHarness(t, Options{})
	tok := h.pullToken(t, "t-admin", "acme/dl")
	for _, m := range []string{"DELETE", "PUT"} {
		r := h.reg(t, m, "/v2/acme/dl/manifests/"+Digest(w.popular), tok)
		if r.status != http.StatusMethodNotAllowed || regCode(t, r) != "UNSUPPORTED" {
			t.Errorf("%s: %d %s", m, r.status, r.body)
		}
	}
	if vs := h.sim.Versions("acme", "container", "dl"); vs[1].DeletedAt != nil {
		t.Errorf("DELETE manifest deleted the version")
	}
}

func TestRegistry_StatsFaultsAndLimits(t *testing.T) {
	t.Parallel()
	h, w := newRegistryHarness(t, Options{PrimaryLimit: 1, MutationSpacing: time.Hour})
	h.sim.InjectFault(Fault{Method: "GET", PathContains: "/manifests/", Status: 503, Times: 1})
	h.sim.ResetStats()
	tok := h.pullToken(t, "t-admin", "acme/dl")
	h.reg(t, "GET", "/v2/", tok)
	path := "/v2/acme/dl/manifests/latest"
	if r := h.reg(t, "GET", path, tok, "Accept", acceptAll); r.status != 503 {
		t.Errorf("faulted GET: %d", r.status)
	}
	for range 3 {
		if r := h.reg(t, "GET", path, tok, "Accept", acceptAll); r.status != 200 {
			t.Errorf("GET after the fault: %d %s", r.status, r.body)
		}
	}
	h.reg(t, "HEAD", path, tok)
	h.reg(t, "DELETE", path, tok)
	// The registry used none of the API's limit of one request an hour, and
	// needs no X-GitHub-Api-Version.
	if r := h.call(t, "GET", "/orgs/acme/packages/container/dl", "t-admin"); r.status != 200 {
		t.Errorf("API after registry requests: %d %s", r.status, r.body)
	}
	if r := h.call(t, "GET", "/orgs/acme/packages/container/dl", "t-admin"); r.status != 403 {
		t.Errorf("API primary limit: %d", r.status)
	}
	if r := h.reg(t, "GET", path, tok, "Accept", acceptAll, "X-GitHub-Api-Version", "1999-01-01"); r.status != 200 {
		t.Errorf("registry with an odd API version: %d", r.status)
	}
	s := h.sim.Stats()
	wantOps := map[string]int{"GET token": 1, "GET /v2/": 1, "GET manifest": 5, "HEAD manifest": 1, "DELETE manifest": 1, "GET package": 2}
	if diff := cmp.Diff(wantOps, s.ByOp); diff != "" {
		t.Errorf("ByOp (-want +got):\n%s", diff)
	}
	if s.ManifestFetches != 4 || s.ManifestFetchesByDigest[Digest(w.fresh)] != 4 || s.RateLimited != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestServeHTTP_OddRegistryPathsNeverPanic(t *testing.T) {
	t.Parallel()
	h, _ := newRegistryHarness(t, Options{PrimaryLimit: 1000})
	tok := h.pullToken(t, "t-admin", "acme/dl")
	for _, p := range []string{
		"/v2", "/v2/", "/v2//", "/v2/acme", "/v2/acme/manifests/latest", "/v2/acme/dl/manifests/", "/v2/acme/dl/manifests",
		"/v2/acme//manifests/x", "/v2/acme/dl/blobs/sha256:00", "/v2/acme/dl/tags/list",
		"/v2/acme/manifests/manifests/latest", "/v2/_catalog", "/token?scope=", "/token?scope=repository:", "/token?scope=repository::pull",
		"/token?scope=repository:acme/dl", "/v2/acme/dl/manifests/sha256:", "/v2/acme/dl%2Fx/manifests/latest",
	} {
		for _, m := range []string{"GET", "HEAD", "DELETE", "POST", "PUT"} {
			for _, b := range []string{"", tok} {
				r := h.reg(t, m, p, b)
				if r.status < 200 || r.status >= 600 {
					t.Errorf("%s %s: %d", m, p, r.status)
				}
			}
		}
	}
}

func FuzzParseRegistryRoute(f *testing.F) {
	for _, s := range []string{"/v2/acme/team/svc/api/manifests/sha256:ab", "/v2/", "/token", "/v2/a/manifests/manifests/x", "/v2/%", "/v2//manifests//", "/v2/acme/dl/manifests/%zz"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		rt, ok := parseRegistryRoute(method, path)
		if rt.manifests && (!ok || rt.owner == "" || rt.name == "" || rt.reference == "") {
			t.Errorf("%q: %+v", path, rt)
		}
	})
}

func TestAddVersion_Manifests(t *testing.T) {
	t.Parallel()
	sim := New(Options{})
	sim.AddOrg("acme", 1)
	for _, p := range []PackageSeed{{Name: "img", Type: "container"}, {Name: "old", Type: "docker"}, {Name: "lib", Type: "npm"}} {
		if err := sim.AddPackage("acme", p); err != nil {
			t.Fatal(err)
		}
	}
	m := ImageManifest(MediaOCIManifest, "a", 1)
	d := Digest(m)
	if _, err := sim.AddVersion("acme", "container", "img", VersionSeed{Name: "sha256:other", Manifest: m}); err == nil ||
		!strings.Contains(err.Error(), "is not the manifest's digest "+d) {
		t.Errorf("name/digest mismatch: %v", err)
	}
	id, err := sim.AddVersion("acme", "container", "img", VersionSeed{Manifest: m})
	if v, _ := sim.Version(id); err != nil || v.Name != d {
		t.Errorf("empty name: %+v, %v", v, err)
	}
	if _, err := sim.AddVersion("acme", "container", "img", VersionSeed{Name: d, Manifest: m}); err == nil {
		t.Errorf("same manifest twice: no error")
	}
	if _, err := sim.AddVersion("acme", "docker", "old", VersionSeed{Name: d, Manifest: m}); err != nil {
		t.Errorf("docker, name given: %v", err)
	}
	if _, err := sim.AddVersion("acme", "npm", "lib", VersionSeed{Name: "1.0.0", Manifest: m}); err == nil {
		t.Errorf("npm manifest: no error")
	}
	if _, err := sim.AddVersion("acme", "container", "img", VersionSeed{MediaType: MediaOCIManifest}); err == nil {
		t.Errorf("media type without a manifest: no error")
	}
	// The seed's bytes are copied: changing them later changes nothing.
	m2 := ImageManifest(MediaOCIManifest, "b", 1)
	if _, err := sim.AddVersion("acme", "container", "img", VersionSeed{Manifest: m2, Tags: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	want := Digest(m2)
	m2[0] = 'X'

	// Media types: explicit, the manifest's own field, index by shape, default.
	noType := []byte(`{"schemaVersion":2,"config":{},"layers":[]}`)
	idxNoType := []byte(`{"schemaVersion":2,"manifests":[]}`)
	for _, tc := range []struct {
		tag      string
		manifest []byte
		given    string
		want     string
	}{
		{"list", Index(MediaDockerList), "", MediaDockerList},
		{"given", []byte(`{"schemaVersion":2,"mediaType":"x"}`), "application/custom", "application/custom"},
		{"bare", noType, "", MediaOCIManifest},
		{"bare-index", idxNoType, "", MediaOCIIndex},
		{"not-json", []byte("not json"), "", MediaOCIManifest},
	} {
		if _, err := sim.AddVersion("acme", "container", "img", VersionSeed{Manifest: tc.manifest, MediaType: tc.given, Tags: []string{tc.tag}}); err != nil {
			t.Fatal(err)
		}
		if got := sim.versionsForTest("img", tc.tag); got.mediaType != tc.want {
			t.Errorf("%s: media type %q, want %q", tc.tag, got.mediaType, tc.want)
		}
	}
	if got := sim.versionsForTest("img", "b"); got.name != want || got.manifest[0] != '{' {
		t.Errorf("seed bytes not copied: %s", got.manifest)
	}
}

// versionsForTest finds the active container version of acme/<pkg> tagged
// tag, for tests that look at what the API does not show.
func (s *Server) versionsForTest(pkgName, tag string) *version {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.registryPackage("acme", pkgName)
	if p == nil {
		return &version{}
	}
	if v := versionByReference(p, tag); v != nil {
		return v
	}
	return &version{}
}

func TestOCIHelpers(t *testing.T) {
	t.Parallel()
	type manifest struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        Descriptor   `json:"config"`
		Layers        []Descriptor `json:"layers"`
	}
	parse := func(b []byte) manifest {
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return m
	}
	a1, a2 := ImageManifest(MediaOCIManifest, "a", 10, 20), ImageManifest(MediaOCIManifest, "a", 10, 20)
	if !bytes.Equal(a1, a2) {
		t.Errorf("not deterministic")
	}
	a, ad, b := parse(a1), parse(ImageManifest(MediaDockerManifest, "a", 10, 20, 30)), parse(ImageManifest("", "b", 10, 20))
	if a.SchemaVersion != 2 || a.MediaType != MediaOCIManifest || a.Config.MediaType != MediaOCIConfig || len(a.Layers) != 2 || a.Layers[1].Size != 20 {
		t.Errorf("OCI manifest %s", a1)
	}
	if ad.MediaType != MediaDockerManifest || ad.Config.MediaType == MediaOCIConfig || len(ad.Layers) != 3 {
		t.Errorf("Docker manifest %+v", ad)
	}
	// One seed shares blobs across variants; another seed shares none.
	if ad.Config.Digest != a.Config.Digest || ad.Layers[0].Digest != a.Layers[0].Digest || ad.Layers[1].Digest != a.Layers[1].Digest {
		t.Errorf("same seed does not share blobs: %+v vs %+v", a, ad)
	}
	if b.MediaType != MediaOCIManifest || b.Config.Digest == a.Config.Digest || b.Layers[0].Digest == a.Layers[0].Digest {
		t.Errorf("different seeds share blobs: %+v vs %+v", a, b)
	}
	if a.Layers[0].Digest == a.Layers[1].Digest {
		t.Errorf("layers of one manifest share a digest")
	}

	d := Describe(MediaOCIManifest, a1)
	if d.Digest != Digest(a1) || d.Size != int64(len(a1)) || !strings.HasPrefix(d.Digest, "sha256:") || len(d.Digest) != 71 {
		t.Errorf("Describe %+v", d)
	}
	if got := Describe("", Index(MediaDockerList)).MediaType; got != MediaDockerList {
		t.Errorf("Describe sniffs %q", got)
	}
	if got := string(Index("")); got != `{"schemaVersion":2,"mediaType":"`+MediaOCIIndex+`","manifests":[]}` {
		t.Errorf("empty index %s", got)
	}
	d.Platform = &Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	d.Annotations = map[string]string{"k": "v"}
	want := `{"schemaVersion":2,"mediaType":"` + MediaDockerList + `","manifests":[{"mediaType":"` + MediaOCIManifest + `","digest":"` + d.Digest + `","size":` +
		strconv.Itoa(len(a1)) + `,"platform":{"os":"linux","architecture":"arm64","variant":"v8"},"annotations":{"k":"v"}}]}`
	if got := string(Index(MediaDockerList, d)); got != want {
		t.Errorf("index\n got %s\nwant %s", got, want)
	}
}

func TestFixture_Manifests(t *testing.T) {
	t.Parallel()
	m := string(ImageManifest(MediaOCIManifest, "fx", 5))
	fx := fmt.Sprintf(`
tokens: [{token: t, login: admin, scopes: [read:packages]}]
orgs: [{login: acme, id: 1}]
packages:
  - owner: acme
    name: app
    type: container
    visibility: public
    versions:
      - {manifest: %q, tags: [latest], age: 1d}
      - {manifest: '{"schemaVersion":2,"n":{i}}', media_type: %s, repeat: 3, every: 1h, age: 2d}
`, m, MediaOCIManifest)
	h := newHarness(t, Options{}, fx)
	vs := h.sim.Versions("acme", "container", "app")
	if len(vs) != 4 || vs[0].Name != Digest([]byte(m)) || vs[1].Name != Digest([]byte(`{"schemaVersion":2,"n":3}`)) {
		t.Fatalf("versions %+v", vs)
	}
	tok := h.pullToken(t, "t", "acme/app")
	if r := h.reg(t, "GET", "/v2/acme/app/manifests/latest", tok); r.status != 200 || string(r.body) != m {
		t.Errorf("fixture manifest: %d %s", r.status, r.body)
	}

	for _, tc := range []struct{ name, yaml, want string }{
		{"npm manifest", "packages: [{owner: a, name: n, type: npm, versions: [{name: '1', manifest: '{}'}]}]\n",
			"packages[0].versions[0].manifest: only container and docker versions have one"},
		{"media type alone", "packages: [{owner: a, name: n, type: container, versions: [{media_type: x}]}]\n",
			"packages[0].versions[0].media_type: needs a manifest"},
		{"repeat without {i}", "packages: [{owner: a, name: n, type: container, versions: [{manifest: '{}', repeat: 2, every: 1h}]}]\n",
			"packages[0].versions[0].manifest: must contain {i} with repeat"},
		{"name is not the digest", "packages: [{owner: a, name: n, type: container, versions: [{name: 'sha256:x', manifest: '{}'}]}]\n",
			"packages[0].versions[0].name: is not the manifest's digest " + Digest([]byte("{}"))},
	} {
		_, err := LoadFixture(strings.NewReader(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}
