package registry

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/internal/httpsafe"
	"github.com/ghprune/ghprune/internal/httpsafe/httpsafetest"
)

// bearer is the registry token the test registries hand out.
const bearer = "registry-bearer-0123456789"

// manifest is a small OCI manifest and digest its digest.
var (
	manifest = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:c","size":1},"layers":[]}`)
	digest   = fmt.Sprintf("sha256:%x", sha256.Sum256(manifest))
)

// registryTarget is where a hostile registry redirects to.
type registryTarget struct {
	name     string
	tls      bool   // the registry is https://registry.example.test, else http://
	location string // the Location sent
	evilAddr string // the host:port it resolves to
	origin   string // how errors name it
}

var registryTargets = []registryTarget{
	{"another port", false, "http://registry.example.test:8081/x?leak=1", "registry.example.test:8081", "http://registry.example.test:8081"},
	{"plain http", true, "http://registry.example.test/x?leak=1", "registry.example.test:80", "http://registry.example.test"},
	{"subdomain", false, "http://evil.registry.example.test/x?leak=1", "evil.registry.example.test:80", "http://evil.registry.example.test"},
}

// registryRig starts a registry at registry.example.test with handler h, a
// hostile server answering 204 at tc.evilAddr, and a Client for the registry
// whose transport reaches nothing else.
func registryRig(t *testing.T, tc registryTarget, h http.HandlerFunc) (c *Client, reg, evil *httpsafetest.Server, base string) {
	t.Helper()
	base, port := "http://registry.example.test", "80"
	if tc.tls {
		reg, base, port = httpsafetest.NewTLSServer(t, h), "https://registry.example.test", "443"
	} else {
		reg = httpsafetest.NewServer(t, h)
	}
	evil = httpsafetest.NewServer(t, nil)
	routes := map[string]*httpsafetest.Server{"registry.example.test:" + port: reg}
	if tc.evilAddr != "" {
		routes[tc.evilAddr] = evil
	}
	c, err := New(Config{URL: base, Token: token, HTTPClient: &http.Client{Transport: httpsafetest.Transport(routes)}})
	if err != nil {
		t.Fatal(err)
	}
	return c, reg, evil, base
}

// challenge answers 401 with a Bearer challenge whose realm is realm.
func challenge(w http.ResponseWriter, realm string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="ghcr.io"`)
	w.WriteHeader(http.StatusUnauthorized)
}

// checkNothingReceived fails if the hostile server received any request,
// naming the credentials it was sent.
func checkNothingReceived(t *testing.T, evil *httpsafetest.Server) {
	t.Helper()
	for _, r := range evil.Requests() {
		t.Errorf("the other origin received %s %s%s with Authorization %q", r.Method, r.Host, r.Path, r.Authorization)
	}
}

// checkRefused checks that err is the refusal of a redirect to origin and
// names neither the token nor the Location's query.
func checkRefused(t *testing.T, err error, origin string) {
	t.Helper()
	if !errors.Is(err, httpsafe.ErrRedirectRefused) {
		t.Fatalf("err = %v, want a refused redirect", err)
	}
	if !strings.Contains(err.Error(), " to "+origin+": another origin would receive the token") {
		t.Errorf("err = %q, want it to name %s", err, origin)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "leak") {
		t.Errorf("err = %q names the token or the Location's query", err)
	}
}

// The token endpoint is sent the GitHub token as basic auth: a redirect of
// it to another origin must receive nothing, not even an anonymous request.
func TestFetch_TokenEndpointRedirectNeverReceivesBasicAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range registryTargets {
		for _, status := range []int{301, 302, 307, 308} {
			t.Run(fmt.Sprintf("%s %d", tc.name, status), func(t *testing.T) {
				t.Parallel()
				var base string
				c, reg, evil, b := registryRig(t, tc, func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/token" {
						w.Header().Set("Location", tc.location)
						w.WriteHeader(status)
						return
					}
					challenge(w, base+"/token")
				})
				base = b
				_, err := c.Fetch(context.Background(), "acme/x", digest)
				checkNothingReceived(t, evil)
				checkRefused(t, err, tc.origin)
				var tokenRequests int
				for _, r := range reg.Requests() {
					if r.Path == "/token" {
						tokenRequests++
					}
				}
				if tokenRequests != 1 {
					t.Errorf("%d token requests, want 1 (no anonymous retry after a refused redirect)", tokenRequests)
				}
			})
		}
	}
}

func TestFetch_ManifestRedirectToAnotherOriginRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range registryTargets {
		for _, status := range []int{301, 302, 307, 308} {
			t.Run(fmt.Sprintf("%s %d", tc.name, status), func(t *testing.T) {
				t.Parallel()
				var base string
				c, _, evil, b := registryRig(t, tc, func(w http.ResponseWriter, r *http.Request) {
					switch {
					case r.URL.Path == "/token":
						fmt.Fprintf(w, `{"token":%q}`, bearer)
					case r.Header.Get("Authorization") != "Bearer "+bearer:
						challenge(w, base+"/token")
					default:
						w.Header().Set("Location", tc.location)
						w.WriteHeader(status)
					}
				})
				base = b
				_, err := c.Fetch(context.Background(), "acme/x", digest)
				checkNothingReceived(t, evil)
				checkRefused(t, err, tc.origin)
				if c.Fetches() != 0 {
					t.Errorf("Fetches = %d, want 0", c.Fetches())
				}
			})
		}
	}
}

func TestFetch_FollowsSameOriginManifestRedirect(t *testing.T) {
	t.Parallel()
	var base string
	c, reg, _, b := registryRig(t, registryTarget{name: "same origin"}, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			fmt.Fprintf(w, `{"token":%q}`, bearer)
		case r.Header.Get("Authorization") != "Bearer "+bearer:
			challenge(w, base+"/token")
		case strings.HasPrefix(r.URL.Path, "/v2/"):
			http.Redirect(w, r, "/storage/"+digest, http.StatusTemporaryRedirect)
		default:
			w.Header().Set("Content-Type", MediaOCIManifest)
			_, _ = w.Write(manifest)
		}
	})
	base = b
	m, err := c.Fetch(context.Background(), "acme/x", digest)
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != MediaOCIManifest || m.Digest != digest {
		t.Errorf("manifest = %+v", m)
	}
	if got := reg.Requests(); len(got) != 4 || got[3].Path != "/storage/"+digest || got[3].Authorization != "Bearer "+bearer {
		t.Errorf("requests = %+v, want challenge, token, manifest, redirected manifest with the bearer", got)
	}
}

// The realm is compared by origin: an explicit default port and another
// case of the host name are the same registry.
func TestFetch_AcceptsRealmOnSameOriginSpelledDifferently(t *testing.T) {
	t.Parallel()
	c, reg, _, _ := registryRig(t, registryTarget{name: "same origin", tls: true}, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			if _, pw, ok := r.BasicAuth(); !ok || pw != token {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprintf(w, `{"token":%q}`, bearer)
		case r.Header.Get("Authorization") != "Bearer "+bearer:
			challenge(w, "https://REGISTRY.example.test:443/token")
		default:
			w.Header().Set("Content-Type", MediaOCIManifest)
			_, _ = w.Write(manifest)
		}
	})
	if _, err := c.Fetch(context.Background(), "acme/x", digest); err != nil {
		t.Fatal(err)
	}
	if n := len(reg.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestNew_RefusesTokenWithControlCharacters(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"ghp_FirstLine0123\nghp_SecondLine0123", "ghp_CarriageReturn\r0123", "ghp_Inner Space0123"} {
		_, err := New(Config{URL: "https://ghcr.io", Token: tok + "\n"})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "the token contains a newline or other control character") {
			t.Errorf("New(token %q) err = %v, want ErrInvalid naming the control character", tok, err)
			continue
		}
		if strings.Contains(err.Error(), "ghp_") {
			t.Errorf("err = %q echoes the token", err)
		}
	}
	if _, err := New(Config{URL: "https://ghcr.io", Token: token + "\n"}); err != nil {
		t.Errorf("token with a trailing newline: %v", err)
	}
	if _, err := New(Config{URL: "https://ghcr.io"}); err != nil {
		t.Errorf("no token: %v", err)
	}
}
