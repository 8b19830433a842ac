package simulator

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ByOp keys (see Stats.ByOp).
const (
	opUser           = "GET /user"
	opListPackages   = "GET packages"
	opGetPackage     = "GET package"
	opDeletePackage  = "DELETE package"
	opRestorePackage = "POST package/restore"
	opListVersions   = "GET versions"
	opGetVersion     = "GET version"
	opDeleteVersion  = "DELETE version"
	opRestoreVersion = "POST version/restore"
	opConflicts      = "GET docker/conflicts"
	opOther          = "other"
)

// Messages GitHub answers with. The ones marked (observed) come from public
// bug reports; the ones marked (modelled) are this simulator's choice where
// GitHub's wording is undocumented.
const (
	msgRequiresAuth   = "Requires authentication"
	msgBadCredentials = "Bad credentials"
	msgNotFound       = "Not Found"
	msgPackageNF      = "Package not found." // (observed) also what a non-admin delete gets
	msgInvalidArg     = "Invalid argument."  // (observed) bad package_type or visibility
	msgFineGrained    = "Resource not accessible by personal access token"
	msgPageCap        = "The value of `per_page` multiplied by `page` cannot be greater than 10000."
	msgDownloads      = "Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance."
	msgLastVersion    = "You cannot delete the last version of a package. You must delete the package instead."
	msgLastTagged     = "You cannot delete the last tagged version of a package. You must delete the package instead."
	// (modelled) GitHub documents the rule but not the refusal.
	msgVersionReused = "You cannot restore this package version because a newer version with the same name exists. Delete the newer version first."
	msgPackageReused = "You cannot restore this package because a newer package with the same name exists. Delete the newer package first."
)

const (
	docsREST       = "https://docs.github.com/rest"
	docsVersions   = "https://docs.github.com/rest/about-the-rest-api/api-versions"
	docsPrimary    = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	docsSecondary  = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	docsPackages   = "https://docs.github.com/rest/packages/packages#"
	docsAuthedUser = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
)

// supportedAPIVersions are the X-GitHub-Api-Version values accepted; the
// first is what an absent header selects.
var supportedAPIVersions = []string{"2022-11-28", "2026-03-10"}

// docAnchors maps an operation to its documentation anchor for an org, a
// user and the authenticated user, as in the OpenAPI description.
var docAnchors = map[string][3]string{
	opListPackages:   {"list-packages-for-an-organization", "list-packages-for-a-user", "list-packages-for-the-authenticated-users-namespace"},
	opGetPackage:     {"get-a-package-for-an-organization", "get-a-package-for-a-user", "get-a-package-for-the-authenticated-user"},
	opDeletePackage:  {"delete-a-package-for-an-organization", "delete-a-package-for-a-user", "delete-a-package-for-the-authenticated-user"},
	opRestorePackage: {"restore-a-package-for-an-organization", "restore-a-package-for-a-user", "restore-a-package-for-the-authenticated-user"},
	opListVersions:   {"list-package-versions-for-a-package-owned-by-an-organization", "list-package-versions-for-a-package-owned-by-a-user", "list-package-versions-for-a-package-owned-by-the-authenticated-user"},
	opGetVersion:     {"get-a-package-version-for-an-organization", "get-a-package-version-for-a-user", "get-a-package-version-for-the-authenticated-user"},
	opDeleteVersion:  {"delete-package-version-for-an-organization", "delete-package-version-for-a-user", "delete-a-package-version-for-the-authenticated-user"},
	opRestoreVersion: {"restore-package-version-for-an-organization", "restore-package-version-for-a-user", "restore-a-package-version-for-the-authenticated-user"},
	opConflicts:      {"get-list-of-conflicting-packages-during-docker-migration-for-organization", "get-list-of-conflicting-packages-during-docker-migration-for-user", "get-list-of-conflicting-packages-during-docker-migration-for-authenticated-user"},
}

type ownerKind int

const (
	kindNone ownerKind = iota
	kindOrg
	kindUser
	kindSelf
)

// route is a parsed request path. op is "" when nothing matched.
type route struct {
	op        string
	base      string // "/api/v3" when the request used the GHES prefix
	kind      ownerKind
	ref       string // login, or the numeric id when byID
	byID      bool   // /organizations/{id} or /user/{id}
	pkgType   string
	pkgName   string
	versionID int64 // -1 when the segment is not a number
}

func (rt route) mutation() bool {
	switch rt.op {
	case opDeletePackage, opRestorePackage, opDeleteVersion, opRestoreVersion:
		return true
	}
	return false
}

func (rt route) doc() string {
	if rt.op == opUser {
		return docsAuthedUser
	}
	a, ok := docAnchors[rt.op]
	if !ok {
		return docsREST
	}
	switch rt.kind {
	case kindOrg:
		return docsPackages + a[0]
	case kindUser:
		return docsPackages + a[1]
	default:
		return docsPackages + a[2]
	}
}

// parseRoute matches an escaped request path. Segments are unescaped one by
// one, so a package name sent as team%2Fservice%2Fapi stays one segment.
func parseRoute(method, escaped string) route {
	var rt route
	p := escaped
	if p == "/api/v3" || strings.HasPrefix(p, "/api/v3/") {
		rt.base, p = "/api/v3", p[len("/api/v3"):]
	}
	segs, ok := unescapeSegments(p)
	if !ok {
		return route{base: rt.base}
	}
	rest, ok := rt.matchOwner(method, segs)
	if !ok {
		return rt
	}
	get := method == http.MethodGet
	switch {
	case len(rest) == 1 && rest[0] == "packages":
		if get {
			rt.op = opListPackages
		}
	case len(rest) == 2 && rest[0] == "docker" && rest[1] == "conflicts":
		if get {
			rt.op = opConflicts
		}
	case len(rest) >= 3 && rest[0] == "packages":
		rt.pkgType, rt.pkgName = rest[1], rest[2]
		rt.matchPackage(method, rest[3:])
	}
	return rt
}

// unescapeSegments splits a path without its base into unescaped segments;
// false when one does not unescape.
func unescapeSegments(p string) ([]string, bool) {
	raw := strings.Split(strings.TrimPrefix(p, "/"), "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		u, err := url.PathUnescape(r)
		if err != nil {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

// matchOwner reads the owner the path starts with (/orgs/{org},
// /organizations/{id}, /users/{user}, /user/{id} or /user) into rt and
// returns the segments after it. It returns false when there is nothing
// more to match: GET /user (then matched), or a path of no owner.
func (rt *route) matchOwner(method string, segs []string) ([]string, bool) {
	switch {
	case len(segs) >= 2 && segs[0] == "orgs":
		rt.kind, rt.ref = kindOrg, segs[1]
	case len(segs) >= 2 && segs[0] == "organizations":
		rt.kind, rt.ref, rt.byID = kindOrg, segs[1], true
	case len(segs) >= 2 && segs[0] == "users":
		rt.kind, rt.ref = kindUser, segs[1]
	case len(segs) == 1 && segs[0] == "user":
		if method == http.MethodGet {
			rt.op = opUser
		}
		return nil, false
	case len(segs) >= 2 && segs[0] == "user" && isDigits(segs[1]):
		rt.kind, rt.ref, rt.byID = kindUser, segs[1], true
	case len(segs) >= 2 && segs[0] == "user":
		rt.kind = kindSelf
		return segs[1:], true
	default:
		return nil, false
	}
	return segs[2:], true
}

// matchPackage matches what follows /packages/{type}/{name}.
func (rt *route) matchPackage(method string, tail []string) {
	get, del, post := method == http.MethodGet, method == http.MethodDelete, method == http.MethodPost
	switch {
	case len(tail) == 0 && get:
		rt.op = opGetPackage
	case len(tail) == 0 && del:
		rt.op = opDeletePackage
	case len(tail) == 1 && tail[0] == "restore" && post:
		rt.op = opRestorePackage
	case len(tail) == 1 && tail[0] == "versions" && get:
		rt.op = opListVersions
	case len(tail) >= 2 && tail[0] == "versions":
		rt.matchVersion(method, tail[1:])
	}
}

// matchVersion matches what follows /packages/{type}/{name}/versions:
// {id} and {id}/restore.
func (rt *route) matchVersion(method string, tail []string) {
	rt.versionID = -1
	if id, err := strconv.ParseInt(tail[0], 10, 64); err == nil && isDigits(tail[0]) {
		rt.versionID = id
	}
	switch {
	case len(tail) == 1 && method == http.MethodGet:
		rt.op = opGetVersion
	case len(tail) == 1 && method == http.MethodDelete:
		rt.op = opDeleteVersion
	case len(tail) == 2 && tail[1] == "restore" && method == http.MethodPost:
		rt.op = opRestoreVersion
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// response is an answer built under the lock and written after it is
// released, so a slow client never holds up the others.
type response struct {
	status int
	header http.Header
	body   []byte
	// head answers a HEAD: every header, Content-Length included, as for a
	// GET, and no body.
	head bool
}

func (r *response) json(status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own structs are encoded; this cannot happen, but a 500 is
		// better than a panic if it ever does.
		r.status, r.body = http.StatusInternalServerError, nil
		return
	}
	r.status, r.body = status, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	r.header.Set("Content-Type", "application/json; charset=utf-8")
}

func (r *response) error(status int, message, doc string) {
	r.json(status, basicErrorJSON{Message: message, DocumentationURL: doc, Status: strconv.Itoa(status)})
}

func (r *response) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	if r.status == http.StatusNoContent || r.status == http.StatusNotModified {
		h.Del("Content-Type")
		r.body = nil
	} else {
		h.Set("Content-Length", strconv.Itoa(len(r.body)))
	}
	w.WriteHeader(r.status)
	if len(r.body) > 0 && !r.head {
		_, _ = w.Write(r.body) // the client hung up; nothing to do
	}
}

// ServeHTTP answers one API or registry request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The registry's paths (/token, /v2/…) are none of the API's, so one
	// handler (one httptest URL) can serve both, though GitHub uses two hosts.
	reg, isRegistry := parseRegistryRoute(r.Method, r.URL.EscapedPath())
	var rt route
	op := reg.op
	if !isRegistry {
		rt = parseRoute(r.Method, r.URL.EscapedPath())
		op = rt.op
	}
	if f, ok := s.takeFault(r); ok {
		if f.Delay > 0 {
			// Sleep without the lock: other requests go on meanwhile.
			if err := s.clock.Sleep(r.Context(), f.Delay); err != nil {
				s.mu.Lock()
				s.record(op, 0) // the client gave up; nothing is answered
				s.mu.Unlock()
				return
			}
		}
		if f.Status != 0 {
			resp := s.faultResponse(op, f)
			resp.head = r.Method == http.MethodHead
			resp.write(w)
			return
		}
	}
	if isRegistry {
		s.handleRegistry(r, reg).write(w)
		return
	}
	s.handle(r, rt).write(w)
}

// takeFault returns the first injected fault that hits r.
func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.PathContains != "" && !strings.Contains(r.URL.EscapedPath(), f.PathContains) && !strings.Contains(r.URL.Path, f.PathContains) {
			continue
		}
		f.seen++
		if f.seen <= f.Skip || (f.Times > 0 && f.hits >= f.Times) {
			continue
		}
		f.hits++
		return f.Fault, true
	}
	return Fault{}, false
}

// unicornPage stands in for the HTML page GitHub's front end serves when the
// API behind it fails, which clients must not try to parse as JSON.
const unicornPage = `<!DOCTYPE html>
<html>
  <head>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8">
    <title>Unicorn! &middot; GitHub</title>
  </head>
  <body>
    <h1>No server is currently available to service your request.</h1>
    <p>Sorry about that. Please try refreshing and contact us if the problem persists.</p>
  </body>
</html>
`

func (s *Server) faultResponse(op string, f Fault) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &response{status: f.Status, header: http.Header{}}
	resp.header.Set("X-GitHub-Request-Id", s.nextRequestID())
	body := f.Body
	if body == "" {
		body = unicornPage
	}
	if t := strings.TrimSpace(body); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		resp.header.Set("Content-Type", "application/json; charset=utf-8")
	} else {
		resp.header.Set("Content-Type", "text/html; charset=utf-8")
	}
	resp.body = []byte(body)
	s.record(op, f.Status)
	return resp
}

// record counts one request; s.mu must be held. status 0 means unanswered.
func (s *Server) record(op string, status int) {
	if op == "" {
		op = opOther
	}
	s.stats.Requests++
	s.stats.ByOp[op]++
	if status != 0 {
		s.stats.ByStatus[status]++
	}
}

// nextRequestID makes a request id shaped like GitHub's; s.mu must be held.
func (s *Server) nextRequestID() string {
	s.requestSeq++
	n := s.requestSeq
	return fmt.Sprintf("C0DE:%06X:%07X:%07X:%08X", n&0xFFFFFF, (n*7919)&0xFFFFFFF, (n*104729)&0xFFFFFFF, uint32(s.clock.Now().Unix()))
}

func (s *Server) handle(r *http.Request, rt route) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	resp := &response{header: http.Header{}}
	reqID := s.nextRequestID()
	resp.header.Set("X-GitHub-Request-Id", reqID)
	resp.header.Set("X-GitHub-Media-Type", "github.v3; format=json")
	s.serve(r, rt, now, reqID, resp)
	s.record(rt.op, resp.status)
	return resp
}

// serve answers everything up to and including the rate limits, then hands
// over to serveAuthed; s.mu is held.
func (s *Server) serve(r *http.Request, rt route, now time.Time, reqID string, resp *response) {
	apiVersion := supportedAPIVersions[0]
	if v := r.Header.Get("X-GitHub-Api-Version"); v != "" {
		if !slices.Contains(supportedAPIVersions, v) {
			resp.error(http.StatusBadRequest, fmt.Sprintf("API version '%s' is not supported.", v), docsVersions)
			return
		}
		apiVersion = v
	}
	resp.header.Set("X-GitHub-Api-Version-Selected", apiVersion)

	token, ok := credentials(r)
	if !ok {
		resp.error(http.StatusUnauthorized, msgRequiresAuth, docsREST)
		return
	}
	tok := s.tokens[token]
	if tok == nil || token == "" {
		resp.error(http.StatusUnauthorized, msgBadCredentials, docsREST)
		return
	}
	if !tok.FineGrained {
		resp.header.Set("X-OAuth-Scopes", strings.Join(tok.Scopes, ", "))
	}

	limit := s.opts.PrimaryLimit
	if limit > 0 {
		if tok.windowStart.IsZero() || !now.Before(tok.windowStart.Add(s.opts.PrimaryWindow)) {
			tok.windowStart, tok.used = now, 0
		}
		if tok.used >= limit {
			s.stats.RateLimited++
			s.rateHeaders(resp, tok)
			resp.error(s.opts.RateLimitStatus, fmt.Sprintf(
				"API rate limit exceeded for user ID %d. If you reach out to GitHub Support for help, please include the request ID %s and timestamp %s.",
				s.userID(tok.Login), reqID, now.UTC().Format("2006-01-02 15:04:05 MST")), docsPrimary)
			return
		}
	}

	s.serveAuthed(r, rt, now, reqID, tok, resp)

	if limit > 0 {
		if resp.status != http.StatusNotModified {
			tok.used++
			s.stats.MaxWindowUsed = max(s.stats.MaxWindowUsed, tok.used)
		}
		s.rateHeaders(resp, tok)
	}
}

func (s *Server) rateHeaders(resp *response, tok *tokenState) {
	limit := s.opts.PrimaryLimit
	resp.header.Set("X-Ratelimit-Limit", strconv.Itoa(limit))
	resp.header.Set("X-Ratelimit-Remaining", strconv.Itoa(max(0, limit-tok.used)))
	resp.header.Set("X-Ratelimit-Used", strconv.Itoa(tok.used))
	resp.header.Set("X-Ratelimit-Reset", strconv.FormatInt(tok.windowStart.Add(s.opts.PrimaryWindow).Unix(), 10))
	resp.header.Set("X-Ratelimit-Resource", "core")
}

// userID is the account id the rate-limit message names.
func (s *Server) userID(login string) int64 {
	if o := s.owners[strings.ToLower(login)]; o != nil {
		return o.id
	}
	return 0
}

// credentials extracts the token from "Bearer T", "token T" or basic auth
// with the token as password, the three forms GitHub accepts.
func credentials(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return pw, true
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
	if strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token") {
		return strings.TrimSpace(tok), true
	}
	// An unknown scheme is a credential GitHub cannot use.
	return "", true
}

// requiredScopes lists the classic scopes the operation needs.
func requiredScopes(rt route, r *http.Request) []string {
	var need []string
	switch rt.op {
	case opUser, "":
		return nil
	case opDeletePackage, opDeleteVersion:
		need = []string{"read:packages", "delete:packages"}
	case opRestorePackage, opRestoreVersion:
		need = []string{"read:packages", "write:packages"}
	default:
		need = []string{"read:packages"}
	}
	typ := rt.pkgType
	if rt.op == opListPackages {
		typ = r.URL.Query().Get("package_type")
	}
	switch typ {
	case "npm", "maven", "rubygems", "nuget":
		// These registries inherit the permissions of a repository.
		need = append(need, "repo")
	}
	return need
}

// hasScope reports whether scopes grant want; write:packages includes
// read:packages, as in GitHub's scope hierarchy.
func hasScope(scopes []string, want string) bool {
	if slices.Contains(scopes, want) {
		return true
	}
	return want == "read:packages" && slices.Contains(scopes, "write:packages")
}

// serveAuthed answers a request from a known token within its limits.
func (s *Server) serveAuthed(r *http.Request, rt route, now time.Time, reqID string, tok *tokenState, resp *response) {
	if rt.op == "" {
		resp.error(http.StatusNotFound, msgNotFound, docsREST)
		return
	}
	need := requiredScopes(rt, r)
	// GitHub sends the header even when empty (GET /user).
	resp.header.Set("X-Accepted-OAuth-Scopes", strings.Join(need, ", "))
	if rt.op == opUser {
		s.getUser(r, rt, tok, resp)
		s.conditional(r, resp)
		return
	}
	if tok.FineGrained {
		resp.error(http.StatusForbidden, msgFineGrained, rt.doc())
		return
	}
	var missing []string
	for _, n := range need {
		if !hasScope(tok.Scopes, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		have := strings.Join(tok.Scopes, ", ")
		if have == "" {
			have = "no scopes"
		}
		resp.error(http.StatusForbidden, fmt.Sprintf(
			"Your token has not been granted the required scopes to execute this request. This endpoint needs %s and the token is missing %s (it has %s).",
			strings.Join(need, ", "), strings.Join(missing, ", "), have), rt.doc())
		return
	}
	if rt.mutation() && s.opts.MutationSpacing > 0 {
		if !tok.lastMutation.IsZero() {
			if wait := s.opts.MutationSpacing - now.Sub(tok.lastMutation); wait > 0 {
				s.stats.SecondaryLimited++
				secs := int64((wait + time.Second - 1) / time.Second)
				resp.header.Set("Retry-After", strconv.FormatInt(max(1, secs), 10))
				resp.error(http.StatusForbidden, fmt.Sprintf(
					"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID %s and timestamp %s.",
					reqID, now.UTC().Format("2006-01-02 15:04:05 MST")), docsSecondary)
				return
			}
		}
		tok.lastMutation = now
	}
	o := s.resolveOwner(rt, tok)
	if o == nil {
		resp.error(http.StatusNotFound, msgNotFound, rt.doc())
		return
	}
	u := requestURLs(r, rt)
	switch rt.op {
	case opListPackages:
		s.listPackages(r, rt, u, o, tok, resp)
	case opConflicts:
		s.conflicts(rt, u, o, tok, resp)
	case opGetPackage:
		s.getPackage(rt, u, o, tok, resp)
	case opDeletePackage:
		s.deletePackage(rt, now, o, tok, resp)
	case opRestorePackage:
		s.restorePackage(rt, now, o, tok, resp)
	case opListVersions:
		s.listVersions(r, rt, u, o, tok, resp)
	case opGetVersion:
		s.getVersion(rt, u, o, tok, resp)
	case opDeleteVersion:
		s.deleteVersion(rt, now, o, tok, resp)
	case opRestoreVersion:
		s.restoreVersion(rt, now, o, tok, resp)
	}
	if r.Method == http.MethodGet {
		s.conditional(r, resp)
	}
}

// conditional adds a strong ETag to a 200 and turns it into a 304 when the
// client already holds that body. If-None-Match compares weakly (RFC 9110),
// so a W/ prefix from a cache still matches.
func (s *Server) conditional(r *http.Request, resp *response) {
	if resp.status != http.StatusOK {
		return
	}
	sum := sha256.Sum256(resp.body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	resp.header.Set("ETag", etag)
	// What GitHub sends on authenticated GETs: a private cache may reuse the
	// answer for 60 s without asking again.
	resp.header.Set("Cache-Control", "private, max-age=60, s-maxage=60")
	resp.header.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding")
	for _, cand := range strings.Split(r.Header.Get("If-None-Match"), ",") {
		cand = strings.TrimPrefix(strings.TrimSpace(cand), "W/")
		if cand == etag || cand == "*" {
			resp.status, resp.body = http.StatusNotModified, nil
			s.stats.NotModified++
			return
		}
	}
}

func requestURLs(r *http.Request, rt route) urls {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := urls{api: scheme + "://" + r.Host + rt.base, html: "https://github.com"}
	if rt.base != "" {
		// GHES serves its web UI on the same host as the API.
		u.html = scheme + "://" + r.Host
	}
	return u
}

// resolveOwner finds the account a route addresses; nil when unknown.
func (s *Server) resolveOwner(rt route, tok *tokenState) *owner {
	var o *owner
	switch {
	case rt.kind == kindSelf:
		o = s.owners[strings.ToLower(tok.Login)]
		if o != nil && o.org {
			return nil
		}
		return o
	case rt.byID:
		id, err := strconv.ParseInt(rt.ref, 10, 64)
		if err != nil {
			return nil
		}
		for _, c := range s.owners {
			if c.id == id && c.org == (rt.kind == kindOrg) {
				o = c
				break
			}
		}
	default:
		o = s.owners[strings.ToLower(rt.ref)]
	}
	if o == nil || o.org != (rt.kind == kindOrg) {
		return nil
	}
	return o
}

// isAdmin reports whether tok may delete and restore o's packages: an org
// admin (every token when the org lists none), or the user itself.
func isAdmin(o *owner, tok *tokenState) bool {
	if o.org {
		return len(o.admins) == 0 || o.admins[strings.ToLower(tok.Login)]
	}
	return strings.EqualFold(o.login, tok.Login)
}

// canRead reports whether tok sees p: members are not modelled, so every
// token reads every package of an org; another user's packages are visible
// only when public.
func canRead(p *pkg, tok *tokenState) bool {
	return p.owner.org || strings.EqualFold(p.owner.login, tok.Login) || p.visibility == "public"
}

func (s *Server) getUser(r *http.Request, rt route, tok *tokenState, resp *response) {
	u := requestURLs(r, rt)
	o := s.owners[strings.ToLower(tok.Login)]
	if o == nil {
		o = &owner{login: tok.Login}
	}
	j := authUserJSON{simpleUserJSON: u.user(o)}
	created := ts(time.Date(2011, 1, 25, 18, 44, 36, 0, time.UTC))
	j.CreatedAt, j.UpdatedAt = created, created
	resp.json(http.StatusOK, j)
}

// pageReq is a request's page and per_page after GitHub's defaults and cap.
type pageReq struct{ page, perPage int }

func parsePage(q url.Values) pageReq {
	p := pageReq{page: 1, perPage: 30}
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		p.perPage = min(n, 100) // larger values are silently cut
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		p.page = n
	}
	return p
}

// window returns the slice bounds of page p of n items and the last page.
func (p pageReq) window(n int) (lo, hi, last int) {
	last = max(1, (n+p.perPage-1)/p.perPage)
	if p.page > last {
		return n, n, last
	}
	lo = (p.page - 1) * p.perPage
	return lo, min(n, lo+p.perPage), last
}

// link builds the Link header. Its URLs use the account-id alias prefixes
// (/organizations/{id}, /user/{id}) as GitHub's do, so clients that follow
// rel="next" exercise them.
func link(r *http.Request, rt route, u urls, o *owner, rest string, p pageReq, last int) string {
	prefix := "/user/" + strconv.FormatInt(o.id, 10)
	if o.org {
		prefix = "/organizations/" + strconv.FormatInt(o.id, 10)
	}
	q := r.URL.Query()
	at := func(page int, rel string) string {
		q.Set("page", strconv.Itoa(page))
		return "<" + u.api + prefix + rest + "?" + q.Encode() + `>; rel="` + rel + `"`
	}
	var parts []string
	if p.page > 1 {
		parts = append(parts, at(min(p.page-1, last), "prev"))
	}
	if p.page < last {
		parts = append(parts, at(p.page+1, "next"), at(last, "last"))
	}
	if p.page > 1 {
		parts = append(parts, at(1, "first"))
	}
	return strings.Join(parts, ", ")
}

func (s *Server) listPackages(r *http.Request, rt route, u urls, o *owner, tok *tokenState, resp *response) {
	q := r.URL.Query()
	typ, vis := q.Get("package_type"), q.Get("visibility")
	if !slices.Contains(packageTypes, typ) || (vis != "" && vis != "public" && vis != "private" && vis != "internal") {
		resp.error(http.StatusBadRequest, msgInvalidArg, rt.doc())
		return
	}
	p := parsePage(q)
	if p.page > 10000 || p.page*p.perPage > 10000 {
		resp.error(http.StatusBadRequest, msgPageCap, rt.doc())
		return
	}
	var all []*pkg
	for _, c := range o.packages {
		if c.deletedAt == nil && c.typ == typ && (vis == "" || c.visibility == vis) && canRead(c, tok) {
			all = append(all, c)
		}
	}
	sortPackages(all)
	lo, hi, last := p.window(len(all))
	out := make([]packageJSON, 0, hi-lo)
	for _, c := range all[lo:hi] {
		out = append(out, u.pkg(c, s.repoID(c)))
	}
	if l := link(r, rt, u, o, "/packages", p, last); l != "" {
		resp.header.Set("Link", l)
	}
	resp.json(http.StatusOK, out)
}

func sortPackages(ps []*pkg) {
	slices.SortFunc(ps, func(a, b *pkg) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
}

func (s *Server) repoID(p *pkg) int64 {
	if p.repository == "" {
		return 0
	}
	return s.repoIDs[strings.ToLower(p.owner.login+"/"+p.repository)]
}

func (s *Server) conflicts(_ route, u urls, o *owner, tok *tokenState, resp *response) {
	var all []*pkg
	for _, c := range o.packages {
		if c.deletedAt == nil && c.typ == "docker" && c.dockerConflict && canRead(c, tok) {
			all = append(all, c)
		}
	}
	sortPackages(all)
	out := make([]packageJSON, 0, len(all))
	for _, c := range all {
		out = append(out, u.pkg(c, s.repoID(c)))
	}
	resp.json(http.StatusOK, out)
}

// readable returns the active package a route names if tok may see it.
func readable(rt route, o *owner, tok *tokenState) *pkg {
	p := o.activePackage(rt.pkgType, rt.pkgName)
	if p == nil || !canRead(p, tok) {
		return nil
	}
	return p
}

func (s *Server) getPackage(rt route, u urls, o *owner, tok *tokenState, resp *response) {
	p := readable(rt, o, tok)
	if p == nil {
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
		return
	}
	resp.json(http.StatusOK, u.pkg(p, s.repoID(p)))
}

// overDownloadLimit reports whether GitHub refuses to delete v: a public
// package's version downloaded more than 5000 times.
func overDownloadLimit(v *version) bool {
	return v.pkg.visibility == "public" && v.downloads > 5000
}

func (s *Server) deletePackage(rt route, now time.Time, o *owner, tok *tokenState, resp *response) {
	// (observed) GitHub hides a package from a token that may not delete it.
	if !isAdmin(o, tok) {
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
		return
	}
	p := o.activePackage(rt.pkgType, rt.pkgName)
	if p == nil {
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
		return
	}
	for _, v := range p.versions {
		if v.deletedAt == nil && overDownloadLimit(v) {
			resp.error(http.StatusBadRequest, msgDownloads, rt.doc())
			return
		}
	}
	d := now
	p.deletedAt = &d
	for _, v := range p.versions {
		if v.deletedAt == nil {
			v.deletedAt, v.withPackage = &d, true
		}
	}
	s.stats.Deletes++
	resp.status = http.StatusNoContent
}

func (s *Server) restorePackage(rt route, now time.Time, o *owner, tok *tokenState, resp *response) {
	if !isAdmin(o, tok) {
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
		return
	}
	p := o.lastDeletedPackage(rt.pkgType, rt.pkgName)
	if p == nil || now.Sub(*p.deletedAt) > restoreWindow {
		// (modelled) past the 30 days the package is gone for good.
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
		return
	}
	if o.activePackage(rt.pkgType, rt.pkgName) != nil {
		resp.error(http.StatusBadRequest, msgPackageReused, rt.doc())
		return
	}
	p.deletedAt = nil
	for _, v := range p.versions {
		if v.withPackage {
			v.deletedAt, v.withPackage = nil, false
		}
	}
	s.stats.Restores++
	resp.status = http.StatusNoContent
}

func (s *Server) listVersions(r *http.Request, rt route, u urls, o *owner, tok *tokenState, resp *response) {
	p := readable(rt, o, tok)
	if p == nil {
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state != "" && state != "active" && state != "deleted" {
		resp.error(http.StatusBadRequest, msgInvalidArg, rt.doc())
		return
	}
	wantDeleted := state == "deleted"
	all := p.sortedVersions(func(v *version) bool { return (v.deletedAt != nil) == wantDeleted })
	pg := parsePage(q)
	lo, hi, last := pg.window(len(all))
	out := make([]versionJSON, 0, hi-lo)
	for _, v := range all[lo:hi] {
		out = append(out, u.version(v))
	}
	rest := "/packages/" + url.PathEscape(p.typ) + "/" + url.PathEscape(p.name) + "/versions"
	if l := link(r, rt, u, o, rest, pg, last); l != "" {
		resp.header.Set("Link", l)
	}
	resp.json(http.StatusOK, out)
}

// versionIn returns version id of p, deleted or not; nil when p has none.
func (s *Server) versionIn(p *pkg, id int64) *version {
	v := s.versions[id]
	if v == nil || v.pkg != p {
		return nil
	}
	return v
}

func (s *Server) getVersion(rt route, u urls, o *owner, tok *tokenState, resp *response) {
	p := readable(rt, o, tok)
	if p == nil {
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
		return
	}
	v := s.versionIn(p, rt.versionID)
	if v == nil || v.deletedAt != nil {
		resp.error(http.StatusNotFound, msgNotFound, rt.doc())
		return
	}
	resp.json(http.StatusOK, u.version(v))
}

// adminPackage returns the active package a version mutation addresses, or
// nil after answering 404 "Package not found." as GitHub does both for a
// token without admin rights and for a missing package.
func adminPackage(rt route, o *owner, tok *tokenState, resp *response) *pkg {
	if !isAdmin(o, tok) {
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
		return nil
	}
	p := o.activePackage(rt.pkgType, rt.pkgName)
	if p == nil {
		resp.error(http.StatusNotFound, msgPackageNF, rt.doc())
	}
	return p
}

func (s *Server) deleteVersion(rt route, now time.Time, o *owner, tok *tokenState, resp *response) {
	p := adminPackage(rt, o, tok, resp)
	if p == nil {
		return
	}
	v := s.versionIn(p, rt.versionID)
	if v == nil || v.deletedAt != nil {
		resp.error(http.StatusNotFound, msgNotFound, rt.doc())
		return
	}
	if overDownloadLimit(v) {
		resp.error(http.StatusBadRequest, msgDownloads, rt.doc())
		return
	}
	otherActive, otherTagged := false, false
	for _, c := range p.versions {
		if c != v && c.deletedAt == nil {
			otherActive = true
			otherTagged = otherTagged || len(c.tags) > 0
		}
	}
	if !otherActive {
		resp.error(http.StatusBadRequest, msgLastVersion, rt.doc())
		return
	}
	if p.typ == "container" && len(v.tags) > 0 && !otherTagged {
		resp.error(http.StatusBadRequest, msgLastTagged, rt.doc())
		return
	}
	d := now
	v.deletedAt = &d
	s.stats.Deletes++
	resp.status = http.StatusNoContent
}

func (s *Server) restoreVersion(rt route, now time.Time, o *owner, tok *tokenState, resp *response) {
	p := adminPackage(rt, o, tok, resp)
	if p == nil {
		return
	}
	v := s.versionIn(p, rt.versionID)
	// (modelled) only a deleted version within the 30-day window can be
	// restored; an active or expired one is "Not Found" to this endpoint.
	if v == nil || v.deletedAt == nil || now.Sub(*v.deletedAt) > restoreWindow {
		resp.error(http.StatusNotFound, msgNotFound, rt.doc())
		return
	}
	if p.activeVersionNamed(v.name) != nil {
		resp.error(http.StatusBadRequest, msgVersionReused, rt.doc())
		return
	}
	v.deletedAt, v.withPackage = nil, false
	s.stats.Restores++
	resp.status = http.StatusNoContent
}
