package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghprune/ghprune/simulator"
)

const token = "ghp_RegistryTestToken000000000000000000"

func rig(t *testing.T) (*simulator.Server, string, map[string][]byte) {
	t.Helper()
	sim := simulator.New(simulator.Options{})
	sim.AddToken(token, simulator.Token{Login: "octo", Scopes: []string{"read:packages"}})
	sim.AddOrg("acme", 1, "octo")
	now := time.Now()
	ms := map[string][]byte{}
	add := func(pkg, vis string, manifests ...[]byte) {
		if err := sim.AddPackage("acme", simulator.PackageSeed{Name: pkg, Type: "container", Visibility: vis}); err != nil {
			t.Fatal(err)
		}
		for _, m := range manifests {
			if _, err := sim.AddVersion("acme", "container", pkg, simulator.VersionSeed{Manifest: m, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			ms[simulator.Digest(m)] = m
		}
	}
	amd := simulator.ImageManifest(simulator.MediaOCIManifest, "amd", 100, 200)
	idx := simulator.Index(simulator.MediaOCIIndex, simulator.Describe(simulator.MediaOCIManifest, amd))
	sig := simulator.ReferrerManifest(simulator.Describe(simulator.MediaOCIManifest, amd), "application/vnd.dev.cosign.artifact.sig.v1+json", "sig")
	list := simulator.Index(simulator.MediaDockerList, simulator.Describe(simulator.MediaDockerManifest, simulator.ImageManifest(simulator.MediaDockerManifest, "d", 5)))
	add("team/svc/api", "private", amd, idx, sig)
	add("public-tool", "public", list)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	ms["amd"], ms["idx"], ms["sig"], ms["list"] = amd, idx, sig, list
	return sim, srv.URL, ms
}

func TestFetch_ParsesIndexesManifestsAndReferrers(t *testing.T) {
	_, url, ms := rig(t)
	c, err := New(Config{URL: url, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo := Repository("ACME", "team/svc/api")
	idx, err := c.Fetch(ctx, repo, simulator.Digest(ms["idx"]))
	if err != nil {
		t.Fatal(err)
	}
	if idx.MediaType != MediaOCIIndex || !cmp.Equal(idx.Children, []string{simulator.Digest(ms["amd"])}) {
		t.Errorf("index = %+v", idx)
	}
	img, err := c.Fetch(ctx, repo, simulator.Digest(ms["amd"]))
	if err != nil || len(img.Blobs) != 3 || img.Blobs[firstLayer(t, ms["amd"])] != 100 {
		t.Errorf("image = %+v, %v", img, err)
	}
	sig, err := c.Fetch(ctx, repo, simulator.Digest(ms["sig"]))
	if err != nil || sig.Subject != simulator.Digest(ms["amd"]) {
		t.Errorf("referrer = %+v, %v", sig, err)
	}
	if c.Fetches() != 3 {
		t.Errorf("Fetches = %d", c.Fetches())
	}
}

func firstLayer(t *testing.T, m []byte) string {
	p, err := Parse(MediaOCIManifest, m)
	if err != nil {
		t.Fatal(err)
	}
	for d, n := range p.Blobs {
		if n == 100 {
			return d
		}
	}
	return ""
}

// A Docker manifest list of a public image is read anonymously too, and
// reading it counts as a download.
func TestFetch_PublicDockerListAnonymously(t *testing.T) {
	sim, url, ms := rig(t)
	c, _ := New(Config{URL: url}) // no token
	m, err := c.Fetch(context.Background(), Repository("acme", "public-tool"), simulator.Digest(ms["list"]))
	if err != nil || m.MediaType != MediaDockerList || len(m.Children) != 1 {
		t.Fatalf("list = %+v, %v", m, err)
	}
	for _, v := range sim.Versions("acme", "container", "public-tool") {
		if v.Name == simulator.Digest(ms["list"]) && v.Downloads != 1 {
			t.Errorf("downloads = %d, want 1", v.Downloads)
		}
	}
}

func TestFetch_Errors(t *testing.T) {
	sim, url, ms := rig(t)
	ctx := context.Background()
	c, _ := New(Config{URL: url, Token: token})
	if _, err := c.Fetch(ctx, Repository("acme", "team/svc/api"), "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, ErrManifestUnknown) {
		t.Errorf("unknown digest: %v", err)
	}
	anon, _ := New(Config{URL: url})
	if _, err := anon.Fetch(ctx, Repository("acme", "team/svc/api"), simulator.Digest(ms["amd"])); !errors.Is(err, ErrDenied) {
		t.Errorf("private image anonymously: %v", err)
	}
	// A body that does not hash to the digest asked for is refused.
	sim.InjectFault(simulator.Fault{Method: "GET", PathContains: "/manifests/", Status: 200, Body: `{"schemaVersion":2}`, Times: 1})
	if _, err := c.Fetch(ctx, Repository("acme", "team/svc/api"), simulator.Digest(ms["amd"])); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("tampered body: %v", err)
	}
	if _, err := New(Config{URL: "ftp://x"}); err == nil {
		t.Error("bad URL accepted")
	}
}

// The token is never sent to a realm on another host.
func TestFetch_RefusesForeignRealm(t *testing.T) {
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("token sent to the foreign realm: %s", r.Header.Get("Authorization"))
	}))
	defer evil.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+evil.URL+`/token",service="ghcr.io"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer reg.Close()
	c, _ := New(Config{URL: reg.URL, Token: token})
	_, err := c.Fetch(context.Background(), "acme/x", "sha256:"+strings.Repeat("1", 64))
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("err = %v", err)
	}
}

func TestParseChallenge(t *testing.T) {
	got := parseChallenge(`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull,push"`)
	want := map[string]string{"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:a/b:pull,push"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

// Over https the token is never sent to a plain-http realm, even on the
// same host.
func TestFetch_RefusesCleartextRealm(t *testing.T) {
	reg := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="ghcr.io"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer reg.Close()
	c, _ := New(Config{URL: reg.URL, Token: token, HTTPClient: reg.Client()})
	if _, err := c.Fetch(context.Background(), "acme/x", "sha256:"+strings.Repeat("1", 64)); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("err = %v", err)
	}
}
