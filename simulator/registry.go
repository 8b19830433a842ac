package simulator

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Registry ByOp keys (see Stats.ByOp).
const (
	opToken          = "GET token"
	opV2             = "GET /v2/"
	opV2Head         = "HEAD /v2/"
	opGetManifest    = "GET manifest"
	opHeadManifest   = "HEAD manifest"
	opDeleteManifest = "DELETE manifest"
)

// registryService is the service ghcr.io names in its challenges; clients
// echo it to the token endpoint, which accepts any.
const registryService = "ghcr.io"

// Error codes of the OCI distribution spec that the registry answers with.
const (
	codeUnauthorized    = "UNAUTHORIZED"
	codeDenied          = "DENIED"
	codeManifestUnknown = "MANIFEST_UNKNOWN"
	codeUnsupported     = "UNSUPPORTED"
)

// Registry messages. (observed) ones are ghcr.io's as seen in public bug
// reports; the others are the distribution spec's wording.
const (
	msgRegAuthRequired = "authentication required"
	msgRegBadLogin     = "invalid username or password" // (modelled)
	msgRegDenied       = "requested access to the resource is denied"
	msgRegUnknown      = "manifest unknown"
	msgRegOCIIndex     = "OCI index found, but Accept header does not support OCI indexes" // (observed)
	msgRegDockerList   = "Docker manifest list found, but Accept header does not support manifest lists"
	msgRegUnsupported  = "The operation is unsupported."
)

// registryToken is what a bearer token from GET /token grants.
type registryToken struct {
	// apiToken is the API token the client logged in with; empty for an
	// anonymous token, which pulls public packages only. Its rights are
	// looked up on each use, so a package made private since is refused.
	apiToken string
	// repos are the "owner/name" (lower case) the token was scoped to pull.
	repos map[string]bool
}

// registryRoute is a parsed registry path.
type registryRoute struct {
	op string // "" when no route matches
	// owner, name and reference are set for a manifests path, whatever the
	// method: name may contain "/".
	owner, name, reference string
	manifests              bool
}

// parseRegistryRoute matches the registry's paths; ok is false for a path
// that is not one (the API's). Names with "/" arrive as several segments,
// unlike in the API: /v2/acme/team/service/api/manifests/latest.
func parseRegistryRoute(method, escaped string) (rt registryRoute, ok bool) {
	switch {
	case escaped == "/token":
		if method == http.MethodGet {
			rt.op = opToken
		}
		return rt, true
	case escaped == "/v2" || escaped == "/v2/":
		switch method {
		case http.MethodGet:
			rt.op = opV2
		case http.MethodHead:
			rt.op = opV2Head
		}
		return rt, true
	case !strings.HasPrefix(escaped, "/v2/"):
		return rt, false
	}
	raw := strings.Split(strings.TrimPrefix(escaped, "/v2/"), "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		u, err := url.PathUnescape(r)
		if err != nil || u == "" {
			return rt, true
		}
		segs[i] = u
	}
	// owner, at least one name segment, "manifests", reference. The last
	// but one segment decides, as a name segment may be "manifests" too.
	n := len(segs)
	if n < 4 || segs[n-2] != "manifests" {
		return rt, true
	}
	rt.manifests = true
	rt.owner, rt.name, rt.reference = segs[0], strings.Join(segs[1:n-2], "/"), segs[n-1]
	switch method {
	case http.MethodGet:
		rt.op = opGetManifest
	case http.MethodHead:
		rt.op = opHeadManifest
	case http.MethodDelete:
		rt.op = opDeleteManifest
	}
	return rt, true
}

type registryErrorJSON struct {
	Errors []registryErrorEntry `json:"errors"`
}

type registryErrorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (r *response) registryError(status int, code, message string) {
	r.json(status, registryErrorJSON{Errors: []registryErrorEntry{{Code: code, Message: message}}})
}

// handleRegistry answers a registry request. The registry has limits of its
// own, not modelled: the API's primary and secondary limits do not apply, and
// X-GitHub-Api-Version is ignored.
func (s *Server) handleRegistry(r *http.Request, rt registryRoute) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &response{header: http.Header{}, head: r.Method == http.MethodHead}
	resp.header.Set("X-GitHub-Request-Id", s.nextRequestID())
	resp.header.Set("Docker-Distribution-API-Version", "registry/2.0")
	switch {
	case rt.op == opToken:
		s.issueToken(r, resp)
	case rt.op == opV2 || rt.op == opV2Head:
		if s.bearer(r) == nil {
			s.challenge(r, resp, "")
			break
		}
		resp.json(http.StatusOK, struct{}{})
	case rt.op == opGetManifest || rt.op == opHeadManifest:
		s.serveManifest(r, rt, resp)
	case rt.manifests:
		// Deletion goes through the packages API, and pushing is not
		// modelled.
		resp.registryError(http.StatusMethodNotAllowed, codeUnsupported, msgRegUnsupported)
	default:
		resp.registryError(http.StatusNotFound, codeUnsupported, msgRegUnsupported)
	}
	s.record(rt.op, resp.status)
	return resp
}

// issueToken answers GET /token: basic auth with any user name and a known
// API token as password, or no Authorization for an anonymous token.
func (s *Server) issueToken(r *http.Request, resp *response) {
	g := &registryToken{repos: map[string]bool{}}
	if r.Header.Get("Authorization") != "" {
		_, pw, ok := r.BasicAuth()
		tok := s.tokens[pw]
		// (modelled) ghcr.io does not take fine-grained PATs.
		if !ok || pw == "" || tok == nil || tok.FineGrained {
			resp.registryError(http.StatusUnauthorized, codeUnauthorized, msgRegBadLogin)
			return
		}
		g.apiToken = pw
	}
	for _, v := range r.URL.Query()["scope"] {
		// Repeated parameters and space-separated scopes are both allowed.
		for _, sc := range strings.Fields(v) {
			if repo, ok := pullScope(sc); ok {
				g.repos[repo] = true
			}
		}
	}
	secret := rand.Text()
	s.registryTokens[secret] = g
	resp.json(http.StatusOK, struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}{secret, secret})
}

// pullScope returns the lower-case "owner/name" of a scope
// "repository:owner/name:actions" whose actions include pull.
func pullScope(scope string) (string, bool) {
	rest, ok := strings.CutPrefix(scope, "repository:")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i <= 0 {
		return "", false
	}
	for _, a := range strings.Split(rest[i+1:], ",") {
		if a == "pull" || a == "*" {
			return strings.ToLower(rest[:i]), true
		}
	}
	return "", false
}

// bearer returns the grant of the request's bearer token; nil when it has
// none or an unknown one.
func (s *Server) bearer(r *http.Request) *registryToken {
	scheme, secret, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "bearer") {
		return nil
	}
	return s.registryTokens[strings.TrimSpace(secret)]
}

// challenge answers 401 with the WWW-Authenticate that sends a client to the
// token endpoint; scope is "owner/name" or empty.
func (s *Server) challenge(r *http.Request, resp *response, scope string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c := `Bearer realm="` + scheme + "://" + r.Host + `/token",service="` + registryService + `"`
	if scope != "" {
		c += `,scope="repository:` + scope + `:pull"`
	}
	resp.header.Set("WWW-Authenticate", c)
	resp.registryError(http.StatusUnauthorized, codeUnauthorized, msgRegAuthRequired)
}

// registryPackage finds the active container (else docker) package of
// owner named name, both matched case-insensitively as the registry, which
// only knows lower-case names, must.
func (s *Server) registryPackage(ownerLogin, name string) *pkg {
	o := s.owners[strings.ToLower(ownerLogin)]
	if o == nil {
		return nil
	}
	for _, typ := range []string{"container", "docker"} {
		for _, p := range o.packages {
			if p.deletedAt == nil && p.typ == typ && strings.EqualFold(p.name, name) {
				return p
			}
		}
	}
	return nil
}

// canPull reports whether g may pull p: public packages to anyone, others
// to a logged-in token that could read the package through the API.
func (s *Server) canPull(g *registryToken, p *pkg) bool {
	if p.visibility == "public" {
		return true
	}
	tok := s.tokens[g.apiToken]
	return g.apiToken != "" && tok != nil && !tok.FineGrained &&
		hasScope(tok.Scopes, "read:packages") && canRead(p, tok)
}

// versionByReference is the active version of p a manifest reference
// names: a digest, or a tag (the newest version carrying it).
func versionByReference(p *pkg, ref string) *version {
	if strings.Contains(ref, ":") {
		return p.activeVersionNamed(ref)
	}
	var found *version
	for _, v := range p.versions {
		if v.deletedAt == nil && slices.Contains(v.tags, ref) &&
			(found == nil || !v.createdAt.Before(found.createdAt)) {
			found = v
		}
	}
	return found
}

// accepts reports whether the request's Accept lists mediaType; parameters
// (q=…) are ignored and a wildcard does not count, as with ghcr.io.
func accepts(r *http.Request, mediaType string) bool {
	for _, h := range r.Header.Values("Accept") {
		for _, part := range strings.Split(h, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), mediaType) {
				return true
			}
		}
	}
	return false
}

// serveManifest answers GET and HEAD of /v2/<owner>/<name>/manifests/<ref>.
func (s *Server) serveManifest(r *http.Request, rt registryRoute, resp *response) {
	scope := strings.ToLower(rt.owner + "/" + rt.name)
	g := s.bearer(r)
	if g == nil {
		s.challenge(r, resp, scope)
		return
	}
	// (modelled) a package that does not exist (or no longer does) is
	// refused like one the token may not pull, so that an anonymous client
	// cannot tell private packages from missing ones.
	p := s.registryPackage(rt.owner, rt.name)
	if !g.repos[scope] || p == nil || !s.canPull(g, p) {
		resp.registryError(http.StatusForbidden, codeDenied, msgRegDenied)
		return
	}
	v := versionByReference(p, rt.reference)
	if v == nil || v.manifest == nil {
		resp.registryError(http.StatusNotFound, codeManifestUnknown, msgRegUnknown)
		return
	}
	if isIndex(v.mediaType) && !accepts(r, v.mediaType) {
		// (observed) ghcr.io does not convert an index to a single-platform
		// manifest, it pretends there is none.
		msg := msgRegOCIIndex
		if v.mediaType == MediaDockerList {
			msg = msgRegDockerList
		}
		resp.registryError(http.StatusNotFound, codeManifestUnknown, msg)
		return
	}
	resp.status = http.StatusOK
	resp.body = v.manifest
	resp.header.Set("Content-Type", v.mediaType)
	resp.header.Set("Docker-Content-Digest", v.name)
	if r.Method != http.MethodGet {
		return
	}
	// GitHub counts manifest fetches of public images as downloads, which
	// feeds the 5000-downloads refusal of the packages API.
	if p.visibility == "public" {
		v.downloads++
	}
	s.stats.ManifestFetches++
	if s.stats.ManifestFetchesByDigest == nil {
		s.stats.ManifestFetchesByDigest = map[string]int{}
	}
	s.stats.ManifestFetchesByDigest[v.name]++
}
