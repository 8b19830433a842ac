package simulator

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The JSON shapes follow GitHub's OpenAPI schemas simple-user, package,
// package-version, minimal-repository and basic-error (openapi_test.go checks
// them against the official description).

type simpleUserJSON struct {
	Login             string `json:"login"`
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	AvatarURL         string `json:"avatar_url"`
	GravatarID        string `json:"gravatar_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	FollowersURL      string `json:"followers_url"`
	FollowingURL      string `json:"following_url"`
	GistsURL          string `json:"gists_url"`
	StarredURL        string `json:"starred_url"`
	SubscriptionsURL  string `json:"subscriptions_url"`
	OrganizationsURL  string `json:"organizations_url"`
	ReposURL          string `json:"repos_url"`
	EventsURL         string `json:"events_url"`
	ReceivedEventsURL string `json:"received_events_url"`
	Type              string `json:"type"`
	UserViewType      string `json:"user_view_type"`
	SiteAdmin         bool   `json:"site_admin"`
}

type packageJSON struct {
	ID           int64          `json:"id"`
	Name         string         `json:"name"`
	PackageType  string         `json:"package_type"`
	Owner        simpleUserJSON `json:"owner"`
	VersionCount int            `json:"version_count"`
	Visibility   string         `json:"visibility"`
	URL          string         `json:"url"`
	CreatedAt    string         `json:"created_at"`
	UpdatedAt    string         `json:"updated_at"`
	Repository   map[string]any `json:"repository,omitempty"`
	HTMLURL      string         `json:"html_url"`
}

type versionJSON struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	URL            string `json:"url"`
	PackageHTMLURL string `json:"package_html_url"`
	// CreatedAt and UpdatedAt are raw so that a version seeded with a bad
	// date (VersionSeed.CreatedAtJSON) can serve it; empty omits the field.
	CreatedAt json.RawMessage `json:"created_at,omitempty"`
	UpdatedAt json.RawMessage `json:"updated_at,omitempty"`
	DeletedAt string          `json:"deleted_at,omitempty"`
	HTMLURL   string          `json:"html_url"`
	Metadata  metadataJSON    `json:"metadata"`
}

type metadataJSON struct {
	PackageType string             `json:"package_type"`
	Container   *containerMetaJSON `json:"container,omitempty"`
	Docker      *dockerMetaJSON    `json:"docker,omitempty"`
}

type containerMetaJSON struct {
	Tags []string `json:"tags"`
}

// dockerMetaJSON carries the tags twice: the OpenAPI schema declares the
// property "tag" but requires "tags" (a known spec bug), so a response that
// satisfies the schema and any client reading either name needs both.
type dockerMetaJSON struct {
	Tag  []string `json:"tag"`
	Tags []string `json:"tags"`
}

type basicErrorJSON struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

type authUserJSON struct {
	simpleUserJSON
	Name      *string `json:"name"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

// urls are the absolute bases a response's links are built from: the API
// base the request came in on (so links work over httptest and with the GHES
// /api/v3 prefix) and the matching web base.
type urls struct {
	api  string // scheme://host[/api/v3]
	html string // https://github.com, or scheme://host on GHES
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// rawTime is t as a JSON string, or override as given ("-" leaves it out).
func rawTime(t time.Time, override string) json.RawMessage {
	switch override {
	case "":
		return json.RawMessage(strconv.Quote(ts(t)))
	case "-":
		return nil
	}
	return json.RawMessage(override)
}

// nodeID builds a legacy global node id as GitHub does for accounts:
// base64("0" + len(type) + ":" + type + id), e.g. "04:User1".
func nodeID(typ string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte("0" + strconv.Itoa(len(typ)) + ":" + typ + strconv.FormatInt(id, 10)))
}

func (u urls) user(o *owner) simpleUserJSON {
	typ := "User"
	if o.org {
		typ = "Organization"
	}
	api := u.api + "/users/" + url.PathEscape(o.login)
	return simpleUserJSON{
		Login:             o.login,
		ID:                o.id,
		NodeID:            nodeID(typ, o.id),
		AvatarURL:         "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(o.id, 10) + "?v=4",
		GravatarID:        "",
		URL:               api,
		HTMLURL:           u.html + "/" + url.PathEscape(o.login),
		FollowersURL:      api + "/followers",
		FollowingURL:      api + "/following{/other_user}",
		GistsURL:          api + "/gists{/gist_id}",
		StarredURL:        api + "/starred{/owner}{/repo}",
		SubscriptionsURL:  api + "/subscriptions",
		OrganizationsURL:  api + "/orgs",
		ReposURL:          api + "/repos",
		EventsURL:         api + "/events{/privacy}",
		ReceivedEventsURL: api + "/received_events",
		Type:              typ,
		UserViewType:      "public",
		SiteAdmin:         false,
	}
}

// ownerPath is the canonical API path of an owner's packages.
func ownerPath(o *owner) string {
	if o.org {
		return "/orgs/" + url.PathEscape(o.login)
	}
	return "/users/" + url.PathEscape(o.login)
}

// packageHTML is the package's page on the web.
func (u urls) packageHTML(p *pkg) string {
	kind := "users"
	if p.owner.org {
		kind = "orgs"
	}
	return u.html + "/" + kind + "/" + url.PathEscape(p.owner.login) + "/packages/" + p.typ + "/package/" + url.PathEscape(p.name)
}

func (u urls) packageURL(p *pkg) string {
	return u.api + ownerPath(p.owner) + "/packages/" + p.typ + "/" + url.PathEscape(p.name)
}

func (u urls) pkg(p *pkg, repoID int64) packageJSON {
	j := packageJSON{
		ID:           p.id,
		Name:         p.name,
		PackageType:  p.typ,
		Owner:        u.user(p.owner),
		VersionCount: p.activeCount(),
		Visibility:   p.visibility,
		URL:          u.packageURL(p),
		CreatedAt:    ts(p.created()),
		UpdatedAt:    ts(p.updated()),
		HTMLURL:      u.packageHTML(p),
	}
	if p.repository != "" {
		j.Repository = u.repo(p, repoID)
	}
	return j
}

func (u urls) version(v *version) versionJSON {
	p := v.pkg
	j := versionJSON{
		ID:             v.id,
		Name:           v.name,
		URL:            u.packageURL(p) + "/versions/" + strconv.FormatInt(v.id, 10),
		PackageHTMLURL: u.packageHTML(p),
		CreatedAt:      rawTime(v.createdAt, v.createdJSON),
		UpdatedAt:      rawTime(v.updatedAt, v.updatedJSON),
		Metadata:       metadataJSON{PackageType: p.typ},
	}
	if v.deletedAt != nil {
		j.DeletedAt = ts(*v.deletedAt)
	}
	tags := v.tags
	if tags == nil {
		tags = []string{} // untagged is an empty array, never null
	}
	switch p.typ {
	case "container":
		j.HTMLURL = strings.Replace(j.PackageHTMLURL, "/package/", "/", 1) + "/" + strconv.FormatInt(v.id, 10)
		j.Metadata.Container = &containerMetaJSON{Tags: tags}
	case "docker":
		j.HTMLURL = strings.Replace(j.PackageHTMLURL, "/package/", "/", 1) + "/" + strconv.FormatInt(v.id, 10)
		j.Metadata.Docker = &dockerMetaJSON{Tag: tags, Tags: tags}
	default:
		j.HTMLURL = j.PackageHTMLURL + "?version=" + url.QueryEscape(v.name)
	}
	return j
}

// repo renders a minimal-repository. The schema requires some fifty fields,
// mostly URL templates; they are derived from the full name like GitHub's.
func (u urls) repo(p *pkg, id int64) map[string]any {
	full := p.owner.login + "/" + p.repository
	api := u.api + "/repos/" + full
	m := map[string]any{
		"id":          id,
		"node_id":     base64.StdEncoding.EncodeToString([]byte("010:Repository" + strconv.FormatInt(id, 10))),
		"name":        p.repository,
		"full_name":   full,
		"owner":       u.user(p.owner),
		"private":     p.visibility != "public",
		"html_url":    u.html + "/" + full,
		"description": nil,
		"fork":        false,
		"url":         api,
	}
	for _, f := range [][2]string{
		{"archive_url", "/{archive_format}{/ref}"},
		{"assignees_url", "/assignees{/user}"},
		{"blobs_url", "/git/blobs{/sha}"},
		{"branches_url", "/branches{/branch}"},
		{"collaborators_url", "/collaborators{/collaborator}"},
		{"comments_url", "/comments{/number}"},
		{"commits_url", "/commits{/sha}"},
		{"compare_url", "/compare/{base}...{head}"},
		{"contents_url", "/contents/{+path}"},
		{"contributors_url", "/contributors"},
		{"deployments_url", "/deployments"},
		{"downloads_url", "/downloads"},
		{"events_url", "/events"},
		{"forks_url", "/forks"},
		{"git_commits_url", "/git/commits{/sha}"},
		{"git_refs_url", "/git/refs{/sha}"},
		{"git_tags_url", "/git/tags{/sha}"},
		{"hooks_url", "/hooks"},
		{"issue_comment_url", "/issues/comments{/number}"},
		{"issue_events_url", "/issues/events{/number}"},
		{"issues_url", "/issues{/number}"},
		{"keys_url", "/keys{/key_id}"},
		{"labels_url", "/labels{/name}"},
		{"languages_url", "/languages"},
		{"merges_url", "/merges"},
		{"milestones_url", "/milestones{/number}"},
		{"notifications_url", "/notifications{?since,all,participating}"},
		{"pulls_url", "/pulls{/number}"},
		{"releases_url", "/releases{/id}"},
		{"stargazers_url", "/stargazers"},
		{"statuses_url", "/statuses/{sha}"},
		{"subscribers_url", "/subscribers"},
		{"subscription_url", "/subscription"},
		{"tags_url", "/tags"},
		{"teams_url", "/teams"},
		{"trees_url", "/git/trees{/sha}"},
	} {
		m[f[0]] = api + f[1]
	}
	return m
}
