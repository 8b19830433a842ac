package githubapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ghprune/ghprune/internal/httpsafe"
)

// Op names reported in Attempt.Op and APIError.Op.
const (
	opIdentity       = "identity"
	opListPackages   = "list_packages"
	opGetPackage     = "get_package"
	opListVersions   = "list_versions"
	opGetVersion     = "get_version"
	opDeleteVersion  = "delete_version"
	opRestoreVersion = "restore_version"
)

// maxPages is the most pages any walk reads when no version_count bounds it:
// 1,000,000 versions at 100 a page, and 100 times the 10,000 results that
// GitHub lets the package list page through. A server sending next links
// forever is stopped here at the latest.
const maxPages = 10_000

// packageTypes are the package_type values GitHub accepts. Checking them here
// saves a request and a 4xx, and GitHub may suspend clients that ignore
// repeated 4xx answers.
var packageTypes = []string{"npm", "maven", "rubygems", "docker", "nuget", "container"}

// ListPackages returns all packages of packageType that owner has and the
// token may read, following every page. visibility is "public", "private",
// "internal" or "" for all.
//
// GitHub docs:
//   - https://docs.github.com/en/rest/packages/packages#list-packages-for-an-organization
//   - https://docs.github.com/en/rest/packages/packages#list-packages-for-a-user
//   - https://docs.github.com/en/rest/packages/packages#list-packages-for-the-authenticated-users-namespace
func (c *Client) ListPackages(ctx context.Context, owner Owner, packageType, visibility string) ([]Package, error) {
	wrap := func(err error) error { return fmt.Errorf("list %s packages of %s: %w", packageType, owner, err) }
	if err := checkType(packageType); err != nil {
		return nil, wrap(err)
	}
	switch visibility {
	case "", "public", "private", "internal":
	default:
		return nil, wrap(fmt.Errorf("visibility %q is not public, private, internal or empty: %w", visibility, ErrInvalid))
	}
	u, err := c.ownerURL(owner, "packages")
	if err != nil {
		return nil, wrap(err)
	}
	q := url.Values{"package_type": {packageType}, "per_page": {strconv.Itoa(c.perPage)}}
	if visibility != "" {
		q.Set("visibility", visibility)
	}
	u.RawQuery = q.Encode()

	var out []Package
	seen := make(map[int64]bool)
	_, err = c.walk(ctx, opListPackages, u, c.hardCap(), func(body []byte) (int, error) {
		var page []packageJSON
		if err := json.Unmarshal(body, &page); err != nil {
			return 0, fmt.Errorf("decode package list: %w", err)
		}
		for _, p := range page {
			// Pages shift when packages are deleted meanwhile; drop repeats.
			if !seen[p.ID] {
				seen[p.ID] = true
				out = append(out, p.toPackage())
			}
		}
		return len(page), nil
	})
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// GetPackage returns one package.
//
// GitHub docs:
//   - https://docs.github.com/en/rest/packages/packages#get-a-package-for-an-organization
//   - https://docs.github.com/en/rest/packages/packages#get-a-package-for-a-user
//   - https://docs.github.com/en/rest/packages/packages#get-a-package-for-the-authenticated-user
func (c *Client) GetPackage(ctx context.Context, owner Owner, packageType, name string) (Package, error) {
	wrap := func(err error) error { return fmt.Errorf("get %s: %w", describe(owner, packageType, name), err) }
	u, err := c.packageURL(owner, packageType, name)
	if err != nil {
		return Package{}, wrap(err)
	}
	resp, err := c.do(ctx, request{op: opGetPackage, method: http.MethodGet, u: u, cacheable: true})
	if err != nil {
		return Package{}, wrap(err)
	}
	var p packageJSON
	if err := json.Unmarshal(resp.body, &p); err != nil {
		return Package{}, wrap(fmt.Errorf("decode package: %w", err))
	}
	return p.toPackage(), nil
}

// ListVersions returns all versions of a package in opts.State (StateActive,
// or StateDeleted for restorable ones), following every page. Versions that
// a later page repeats (the listing shifted while it was paged) are kept once
// and counted in Duplicates. GitHub's order is undocumented; callers sort by
// CreatedAt themselves. A page that fails with a 5xx or a network error is
// retried from the same URL (Config.MaxRetries), so a long listing resumes
// where it failed instead of starting over. The walk fails with
// ErrPagination rather than run forever (see ListVersionsOptions.VersionCount).
//
// GitHub docs:
//   - https://docs.github.com/en/rest/packages/packages#list-package-versions-for-a-package-owned-by-an-organization
//   - https://docs.github.com/en/rest/packages/packages#list-package-versions-for-a-package-owned-by-a-user
//   - https://docs.github.com/en/rest/packages/packages#list-package-versions-for-a-package-owned-by-the-authenticated-user
func (c *Client) ListVersions(ctx context.Context, owner Owner, packageType, name string, opts ListVersionsOptions) (VersionList, error) {
	wrap := func(err error) error {
		return fmt.Errorf("list versions of %s: %w", describe(owner, packageType, name), err)
	}
	switch opts.State {
	case "", StateActive, StateDeleted:
	default:
		return VersionList{}, wrap(fmt.Errorf("state %q is not active or deleted: %w", opts.State, ErrInvalid))
	}
	u, err := c.packageURL(owner, packageType, name, "versions")
	if err != nil {
		return VersionList{}, wrap(err)
	}
	q := url.Values{"per_page": {strconv.Itoa(c.perPage)}}
	if opts.State != "" {
		q.Set("state", string(opts.State))
	}
	u.RawQuery = q.Encode()

	// version_count counts active versions only, so it cannot bound a
	// listing of deleted ones.
	limit := c.hardCap()
	if opts.VersionCount > 0 && opts.State != StateDeleted {
		limit = countCap(opts.VersionCount, c.perPage)
	}

	var out VersionList
	seen := make(map[int64]bool)
	out.Pages, err = c.walk(ctx, opListVersions, u, limit, func(body []byte) (int, error) {
		var page []versionJSON
		if err := json.Unmarshal(body, &page); err != nil {
			return 0, fmt.Errorf("decode version list: %w", err)
		}
		for _, vj := range page {
			v := vj.toVersion()
			if seen[v.ID] {
				out.Duplicates++
				continue
			}
			seen[v.ID] = true
			out.Versions = append(out.Versions, v)
		}
		return len(page), nil
	})
	if err != nil {
		return VersionList{}, wrap(err)
	}
	return out, nil
}

// NewestVersions returns the first page of a package's active versions: the
// newest, in GitHub's order (newest first), and whether that page is the
// whole listing (no next page). It is the listing's own first page, so after
// a listing it is revalidated with the ETag kept from it, and an unchanged
// answer (304) costs no rate limit: a cheap way to see whether versions were
// pushed since.
//
// GitHub docs:
//   - https://docs.github.com/en/rest/packages/packages#list-package-versions-for-a-package-owned-by-an-organization
func (c *Client) NewestVersions(ctx context.Context, owner Owner, packageType, name string) ([]Version, bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("list the newest versions of %s: %w", describe(owner, packageType, name), err)
	}
	u, err := c.packageURL(owner, packageType, name, "versions")
	if err != nil {
		return nil, false, wrap(err)
	}
	// The same query as the first page of ListVersions, so the cache hits.
	u.RawQuery = url.Values{"per_page": {strconv.Itoa(c.perPage)}, "state": {string(StateActive)}}.Encode()
	resp, err := c.do(ctx, request{op: opListVersions, method: http.MethodGet, u: u, cacheable: true})
	if err != nil {
		return nil, false, wrap(err)
	}
	var page []versionJSON
	if err := json.Unmarshal(resp.body, &page); err != nil {
		return nil, false, wrap(fmt.Errorf("decode version list: %w", err))
	}
	out := make([]Version, len(page))
	for i, v := range page {
		out[i] = v.toVersion()
	}
	return out, nextLink(resp.link) == "", nil
}

// GetVersion returns one version of a package.
//
// GitHub docs:
//   - https://docs.github.com/en/rest/packages/packages#get-a-package-version-for-an-organization
//   - https://docs.github.com/en/rest/packages/packages#get-a-package-version-for-a-user
//   - https://docs.github.com/en/rest/packages/packages#get-a-package-version-for-the-authenticated-user
func (c *Client) GetVersion(ctx context.Context, owner Owner, packageType, name string, id int64) (Version, error) {
	wrap := func(err error) error {
		return fmt.Errorf("get version %d of %s: %w", id, describe(owner, packageType, name), err)
	}
	u, err := c.versionURL(owner, packageType, name, id)
	if err != nil {
		return Version{}, wrap(err)
	}
	resp, err := c.do(ctx, request{op: opGetVersion, method: http.MethodGet, u: u, cacheable: true})
	if err != nil {
		return Version{}, wrap(err)
	}
	var v versionJSON
	if err := json.Unmarshal(resp.body, &v); err != nil {
		return Version{}, wrap(fmt.Errorf("decode version: %w", err))
	}
	return v.toVersion(), nil
}

// DeleteVersion deletes one version. GitHub refuses with ErrDownloadLimit (a
// public version downloaded more than 5,000 times: permanent, do not retry) or
// ErrLastVersion (the last, or last tagged, version: delete the package
// instead). Without admin rights GitHub often answers ErrNotFound rather than
// ErrForbidden. Before the first delete the token's scopes are checked, so a
// token without delete:packages sends no DELETE at all.
//
// GitHub docs:
//   - https://docs.github.com/en/rest/packages/packages#delete-package-version-for-an-organization
//   - https://docs.github.com/en/rest/packages/packages#delete-package-version-for-a-user
//   - https://docs.github.com/en/rest/packages/packages#delete-a-package-version-for-the-authenticated-user
func (c *Client) DeleteVersion(ctx context.Context, owner Owner, packageType, name string, id int64) error {
	u, err := c.versionURL(owner, packageType, name, id)
	if err == nil {
		err = c.mutate(ctx, OpDelete, packageType, opDeleteVersion, http.MethodDelete, u)
	}
	if err != nil {
		return fmt.Errorf("delete version %d of %s: %w", id, describe(owner, packageType, name), err)
	}
	return nil
}

// RestoreVersion restores a version deleted within the last 30 days. The
// refusal of an expired or reused version is undocumented, so any non-2xx is
// an error carrying GitHub's message. Before the first restore the token's
// scopes (write:packages) are checked.
//
// GitHub docs:
//   - https://docs.github.com/en/rest/packages/packages#restore-package-version-for-an-organization
//   - https://docs.github.com/en/rest/packages/packages#restore-package-version-for-a-user
//   - https://docs.github.com/en/rest/packages/packages#restore-a-package-version-for-the-authenticated-user
func (c *Client) RestoreVersion(ctx context.Context, owner Owner, packageType, name string, id int64) error {
	u, err := c.versionURL(owner, packageType, name, id, "restore")
	if err == nil {
		err = c.mutate(ctx, OpRestore, packageType, opRestoreVersion, http.MethodPost, u)
	}
	if err != nil {
		return fmt.Errorf("restore version %d of %s: %w", id, describe(owner, packageType, name), err)
	}
	return nil
}

// mutate checks the token's scopes for op, then sends a DELETE or POST that
// expects an empty 2xx answer.
func (c *Client) mutate(ctx context.Context, op Operation, packageType, opName, method string, u *url.URL) error {
	if err := c.CheckScopesFor(ctx, op, packageType); err != nil {
		return err
	}
	_, err := c.do(ctx, request{op: opName, method: method, u: u})
	return err
}

// pageLimit bounds a walk: at most pages pages; why completes "more pages
// than …" in the error.
type pageLimit struct {
	pages int
	why   string
}

// hardCap is the limit of a walk whose length nothing else tells.
func (c *Client) hardCap() pageLimit {
	return pageLimit{pages: c.maxPages, why: fmt.Sprintf("any listing may have (%d pages)", c.maxPages)}
}

// countCap is the limit of a version walk of a package whose version_count
// is count: the pages count implies at perPage, plus a margin of 10% (at
// least 2 pages) for versions pushed while the walk runs, since the count
// may be a little stale.
func countCap(count, perPage int) pageLimit {
	pages := count / perPage
	if count%perPage != 0 {
		pages++
	}
	n := pages + max(2, pages/10)
	return pageLimit{pages: n, why: fmt.Sprintf("version_count %d allows (%d pages)", count, n)}
}

// walk GETs u and then every rel="next" link, handing each body to page,
// which returns how many items it held. It returns the number of pages read.
// Because a server (hostile, or broken) could send next links forever, a walk
// fails with ErrPagination on a next link from an empty page, on a next link
// back to a page already read, and on a next link after limit.pages pages;
// none of these sends another request.
func (c *Client) walk(ctx context.Context, op string, u *url.URL, limit pageLimit, page func(body []byte) (int, error)) (int, error) {
	seen := map[string]bool{}
	for pages := 1; ; pages++ {
		seen[u.String()] = true
		resp, err := c.do(ctx, request{op: op, method: http.MethodGet, u: u, cacheable: true})
		if err != nil {
			return pages - 1, err
		}
		n, err := page(resp.body)
		if err != nil {
			return pages, err
		}
		next := nextLink(resp.link)
		if next == "" {
			return pages, nil
		}
		if n == 0 {
			return pages, fmt.Errorf("GET %s: next link on an empty page: %w", u.EscapedPath(), ErrPagination)
		}
		if pages >= limit.pages {
			return pages, fmt.Errorf("GET %s: next link after page %d: more pages than %s: %w", u.EscapedPath(), pages, limit.why, ErrPagination)
		}
		nu, err := c.followable(u, next)
		if err != nil {
			return pages, err
		}
		if seen[nu.String()] {
			return pages, fmt.Errorf("GET %s: next link points back at a page already read: %w", nu.EscapedPath(), ErrPagination)
		}
		u = nu
	}
}

// followable parses a next link and accepts it only on the API's own scheme
// and host, because the request carries the token: a link elsewhere (a
// misconfigured proxy, a hostile server) must not receive it. The link is
// otherwise used verbatim: GitHub's point at /organizations/{id}/… and their
// query must not be rebuilt.
func (c *Client) followable(cur *url.URL, link string) (*url.URL, error) {
	u, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("GET %s: next link does not parse: %w", cur.EscapedPath(), ErrInvalid)
	}
	if !u.IsAbs() {
		u = cur.ResolveReference(u)
	}
	if u.User != nil {
		return nil, fmt.Errorf("GET %s: next link carries credentials; not following it: %w", cur.EscapedPath(), ErrInvalid)
	}
	if !httpsafe.SameOrigin(u, c.base) {
		return nil, fmt.Errorf("GET %s: next link points at %s, not %s; not sending the token there: %w",
			cur.EscapedPath(), httpsafe.Origin(u), httpsafe.Origin(c.base), ErrInvalid)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// nextLink returns the rel="next" target of a Link header, or "".
// Format: <https://…?page=2>; rel="next", <https://…?page=5>; rel="last".
func nextLink(h string) string {
	for {
		h = strings.TrimLeft(h, " \t,")
		if !strings.HasPrefix(h, "<") {
			return ""
		}
		end := strings.IndexByte(h, '>')
		if end < 0 {
			return ""
		}
		target := h[1:end]
		h = h[end+1:]
		params := h
		if i := strings.IndexByte(h, ','); i >= 0 {
			params, h = h[:i], h[i+1:]
		} else {
			h = ""
		}
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			if slices.Contains(strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)), "next") {
				return target
			}
		}
	}
}

// ownerURL builds base + owner prefix + segments. Every segment is escaped as
// one path segment, and Path and RawPath are both set so that the escaping of
// a "/" inside a name survives (url.URL would otherwise re-derive the path).
func (c *Client) ownerURL(owner Owner, segments ...string) (*url.URL, error) {
	var prefix []string
	switch owner.Kind {
	case OwnerOrg, OwnerUser:
		if owner.Name == "" {
			return nil, fmt.Errorf("owner %s without a name: %w", owner.Kind, ErrInvalid)
		}
		prefix = []string{"orgs", owner.Name}
		if owner.Kind == OwnerUser {
			prefix[0] = "users"
		}
	case OwnerSelf:
		prefix = []string{"user"}
	default:
		return nil, fmt.Errorf("unknown owner kind %d: %w", int(owner.Kind), ErrInvalid)
	}
	return c.endpoint(append(prefix, segments...)...), nil
}

// endpoint returns base + "/" + the escaped segments.
func (c *Client) endpoint(segments ...string) *url.URL {
	u := *c.base
	raw, esc := u.Path, u.EscapedPath()
	for _, s := range segments {
		raw += "/" + s
		esc += "/" + url.PathEscape(s)
	}
	u.Path, u.RawPath = raw, esc
	if u.RawPath == u.Path {
		u.RawPath = ""
	}
	return &u
}

// packageURL builds {owner}/packages/{type}/{name}[/rest…].
func (c *Client) packageURL(owner Owner, packageType, name string, rest ...string) (*url.URL, error) {
	if err := checkType(packageType); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("empty package name: %w", ErrInvalid)
	}
	return c.ownerURL(owner, append([]string{"packages", packageType, name}, rest...)...)
}

// versionURL builds {owner}/packages/{type}/{name}/versions/{id}[/rest…].
func (c *Client) versionURL(owner Owner, packageType, name string, id int64, rest ...string) (*url.URL, error) {
	if id <= 0 {
		return nil, fmt.Errorf("version id %d: %w", id, ErrInvalid)
	}
	return c.packageURL(owner, packageType, name, append([]string{"versions", strconv.FormatInt(id, 10)}, rest...)...)
}

// checkType refuses a package type GitHub does not know.
func checkType(t string) error {
	if !slices.Contains(packageTypes, t) {
		return fmt.Errorf("package type %q is not one of %s: %w", t, strings.Join(packageTypes, ", "), ErrInvalid)
	}
	return nil
}

// describe names a package for error messages, e.g. `container "team/api" of org acme`.
func describe(owner Owner, packageType, name string) string {
	return fmt.Sprintf("%s %q of %s", packageType, name, owner)
}

// packageJSON is GitHub's package object, as far as ghprune reads it.
type packageJSON struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	PackageType  string `json:"package_type"`
	Visibility   string `json:"visibility"`
	VersionCount int    `json:"version_count"`
	CreatedAt    ghTime `json:"created_at"`
	UpdatedAt    ghTime `json:"updated_at"`
	HTMLURL      string `json:"html_url"`
	Owner        *struct {
		Login string `json:"login"`
	} `json:"owner"`
}

func (p packageJSON) toPackage() Package {
	out := Package{
		ID:           p.ID,
		Name:         p.Name,
		PackageType:  p.PackageType,
		Visibility:   p.Visibility,
		VersionCount: p.VersionCount,
		CreatedAt:    p.CreatedAt.Time,
		UpdatedAt:    p.UpdatedAt.Time,
		HTMLURL:      p.HTMLURL,
	}
	if p.Owner != nil {
		out.OwnerLogin = p.Owner.Login
	}
	return out
}

// versionJSON is GitHub's package-version object, as far as ghprune reads it.
type versionJSON struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	CreatedAt      ghTime `json:"created_at"`
	UpdatedAt      ghTime `json:"updated_at"`
	DeletedAt      ghTime `json:"deleted_at"`
	HTMLURL        string `json:"html_url"`
	PackageHTMLURL string `json:"package_html_url"`
	Metadata       *struct {
		PackageType string `json:"package_type"`
		Container   *struct {
			Tags stringList `json:"tags"`
		} `json:"container"`
		// Docker: GitHub's OpenAPI declares "tag" but requires "tags"; accept both.
		Docker *struct {
			Tag  stringList `json:"tag"`
			Tags stringList `json:"tags"`
		} `json:"docker"`
	} `json:"metadata"`
}

func (v versionJSON) toVersion() Version {
	out := Version{
		ID:             v.ID,
		Name:           v.Name,
		CreatedAt:      v.CreatedAt.Time,
		UpdatedAt:      v.UpdatedAt.Time,
		RawCreatedAt:   v.CreatedAt.raw,
		RawUpdatedAt:   v.UpdatedAt.raw,
		HTMLURL:        v.HTMLURL,
		PackageHTMLURL: v.PackageHTMLURL,
	}
	if !v.DeletedAt.IsZero() {
		t := v.DeletedAt.Time
		out.DeletedAt = &t
	}
	if m := v.Metadata; m != nil {
		switch {
		case m.Container != nil:
			out.Tags = append([]string{}, m.Container.Tags...)
		case m.Docker != nil:
			out.Tags = append([]string{}, m.Docker.Tags...)
			for _, t := range m.Docker.Tag {
				if !slices.Contains(out.Tags, t) {
					out.Tags = append(out.Tags, t)
				}
			}
		}
	}
	return out
}

// ghTime is a timestamp that never fails a page: a value that is not an RFC
// 3339 timestamp (null, "" as in GHES examples, "yesterday", a number) leaves
// the zero time and keeps the JSON value as received in raw, so that a caller
// can tell "GitHub sent no usable date" from "the field was absent" and keep
// the version rather than guess its age.
type ghTime struct {
	time.Time
	// raw is the JSON value exactly as received when it did not parse; ""
	// when it parsed or the field was absent.
	raw string
}

// UnmarshalJSON implements json.Unmarshaler; it never returns an error.
func (t *ghTime) UnmarshalJSON(b []byte) error {
	var parsed time.Time
	// time.Time ignores null without an error; it is still no timestamp.
	if string(b) != "null" && parsed.UnmarshalJSON(b) == nil {
		t.Time, t.raw = parsed, ""
		return nil
	}
	t.Time, t.raw = time.Time{}, string(b)
	return nil
}

// stringList accepts a JSON array of strings, a single string or null.
type stringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *stringList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != "" {
			*l = stringList{s}
		}
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*l = a
	return nil
}
