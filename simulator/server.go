package simulator

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ghprune/ghprune/internal/clock"
)

// Options tunes the limits the simulator enforces. The zero value is a GHES
// without rate limits on the wall clock.
type Options struct {
	// Clock supplies every time the simulator uses (created_at defaults,
	// deleted_at, restore windows, rate-limit windows, fault delays).
	// Nil means clock.Real{}.
	Clock clock.Clock
	// PrimaryLimit is the number of requests each token may make per window
	// (PrimaryWindow, an hour by default); 0 means unlimited, as on GitHub
	// Enterprise Server by default, and then no x-ratelimit-* headers are
	// sent. github.com gives a classic PAT 5000 an hour.
	PrimaryLimit int
	// RateLimitStatus is the status of the refusal once the primary limit is
	// exhausted: 403 (the default, what github.com mostly sends) or 429.
	RateLimitStatus int
	// PrimaryWindow is how long a token's primary-limit window lasts: its
	// first request starts one, and PrimaryLimit requests later it is refused
	// until the window ends (X-Ratelimit-Reset). 0 means an hour, as on
	// GitHub; a benchmark on the wall clock shortens it (say to a minute) so
	// that waiting for a reset takes minutes instead of an hour.
	PrimaryWindow time.Duration
	// MutationSpacing is the secondary limit: a DELETE or POST that a token
	// sends sooner than this after its previous accepted mutation is refused
	// with 403 and retry-after. 0 turns the secondary limit off.
	MutationSpacing time.Duration
}

// Token describes an access token the simulator accepts.
type Token struct {
	// Login is the account the token belongs to; /user resolves to it.
	Login string
	// Scopes are the classic OAuth scopes, echoed in X-OAuth-Scopes.
	Scopes []string
	// FineGrained marks a fine-grained PAT (github_pat_…), which the packages
	// API refuses; it still works for GET /user.
	FineGrained bool
}

// PackageSeed describes a package to create with AddPackage.
type PackageSeed struct {
	// Name may contain "/" (container images such as team/service/api).
	Name string
	// Type is npm, maven, rubygems, docker, nuget or container.
	Type string
	// Visibility is public, private (the default when empty) or internal.
	Visibility string
	// Repository optionally links the package to a repository of its owner:
	// "repo" or "owner/repo" (owner must then be the package owner).
	Repository string
	// CreatedAt is the package's creation time; zero means the creation time
	// of its oldest version, or the clock's now when it has none.
	CreatedAt time.Time
	// DockerConflict lists the package (of type docker) in GET /docker/conflicts.
	DockerConflict bool
}

// VersionSeed describes a package version to create with AddVersion.
type VersionSeed struct {
	// Name is the version string, or for containers the manifest digest; empty
	// is allowed for container and docker packages only, and then it is
	// Digest(Manifest), or without a Manifest a digest derived from the
	// version id is made up.
	Name string
	// Tags are the container (or docker) tags; empty means untagged.
	Tags []string
	// CreatedAt zero means the clock's now.
	CreatedAt time.Time
	// UpdatedAt zero means CreatedAt.
	UpdatedAt time.Time
	// Downloads is what the 5000-downloads rule of public packages looks at;
	// the REST API never shows it. Registry GETs of a public manifest add to it.
	Downloads int
	// Manifest is what the registry serves for a container or docker version
	// (other types may not have one); Name must then be Digest(Manifest).
	// Nil means no manifest: the registry answers MANIFEST_UNKNOWN, as for a
	// broken image whose manifest is gone.
	Manifest []byte
	// CreatedAtJSON and UpdatedAtJSON, when set, replace the timestamp in
	// the version's JSON with this JSON text (null, "", "yesterday") or, as
	// "-", leave the field out: a fault on demand for clients that must not
	// trust a date they cannot read. CreatedAt still orders the listing.
	CreatedAtJSON, UpdatedAtJSON string
	// MediaType is the manifest's Content-Type; empty means the manifest's own
	// "mediaType" field, else an OCI index if it lists "manifests", else
	// MediaOCIManifest. It needs a Manifest.
	MediaType string
}

// VersionState is the simulator's view of one version, for tests to inspect
// what a client did.
type VersionState struct {
	ID        int64
	Name      string
	Tags      []string
	CreatedAt time.Time
	UpdatedAt time.Time
	// DeletedAt is nil while the version is active. Deleting a whole package
	// sets it on every version that was active then.
	DeletedAt *time.Time
	Downloads int
}

// Stats counts what clients asked of the simulator since New or ResetStats.
type Stats struct {
	// Requests counts every request, faults and refusals included.
	Requests int
	// ByOp counts requests by operation. Keys: "GET /user", "GET packages",
	// "GET package", "DELETE package", "POST package/restore", "GET versions",
	// "GET version", "DELETE version", "POST version/restore",
	// "GET docker/conflicts"; for the registry "GET token", "GET /v2/",
	// "GET manifest", "HEAD manifest", "DELETE manifest"; and "other" for
	// requests that match no route.
	ByOp map[string]int
	// ByStatus counts answers by HTTP status.
	ByStatus map[int]int
	// NotModified counts 304 answers to If-None-Match.
	NotModified int
	// Deletes counts successful (204) package and version deletes.
	Deletes int
	// Restores counts successful (204) package and version restores.
	Restores int
	// RateLimited counts refusals by the primary limit.
	RateLimited int
	// SecondaryLimited counts refusals by the secondary limit.
	SecondaryLimited int
	// MaxWindowUsed is the most requests one token had used within one
	// primary-limit window (the highest X-Ratelimit-Used sent), so that a
	// test can tell whether a client kept to a share of the limit; 0 without
	// a PrimaryLimit. ResetStats zeroes it; the next request of a token then
	// counts its current window from what it had used before the reset.
	MaxWindowUsed int
	// ManifestFetches counts registry manifest GETs answered 200 (not HEADs),
	// so a test can tell how much of the registry a plan read.
	ManifestFetches int
	// ManifestFetchesByDigest counts the same by the digest served, to show
	// that no manifest was read twice; nil before the first (so that a test
	// comparing Stats of an API-only run need not mention it).
	ManifestFetchesByDigest map[string]int
}

// Fault makes matching requests fail (or wait) before normal handling, to
// test retries, timeouts and resumable paging.
type Fault struct {
	// Method matches the request method; empty matches any.
	Method string
	// PathContains matches when the request path, escaped or unescaped,
	// contains it; empty matches any path.
	PathContains string
	// Status is the answer's status; 0 means no answer of the fault's own: the
	// request is only delayed and then handled normally.
	Status int
	// Body is the answer's body; empty means an HTML error page like the one
	// GitHub's front end serves with a 5xx. A body starting with { or [ is
	// sent as JSON, anything else as HTML.
	Body string
	// Delay is waited with Clock.Sleep(r.Context(), Delay) before answering.
	Delay time.Duration
	// Times is how many matching requests the fault hits; 0 means every one.
	Times int
	// Skip lets this many matching requests through before the fault hits.
	Skip int
}

// Server is an in-process fake of the GitHub Packages REST API and of the
// manifest reads of its container registry. It implements http.Handler and
// is safe for concurrent use.
type Server struct {
	clock clock.Clock
	opts  Options

	mu          sync.Mutex
	tokens      map[string]*tokenState
	owners      map[string]*owner // by lower-case login
	versions    map[int64]*version
	repoIDs     map[string]int64
	lastPkgID   int64
	lastVerID   int64
	lastRepoID  int64
	lastSynthID int64
	requestSeq  uint64
	stats       Stats
	faults      []*faultState
	// registryTokens are the bearer tokens GET /token handed out, by secret.
	// They never expire: a test's registry reads are short.
	registryTokens map[string]*registryToken
}

type tokenState struct {
	Token
	// windowStart is when the current primary-limit window began; zero before
	// the first request.
	windowStart time.Time
	used        int
	// lastMutation is the time of the last accepted DELETE or POST; zero
	// before the first.
	lastMutation time.Time
}

type owner struct {
	login  string
	id     int64
	org    bool
	admins map[string]bool // lower-case logins; empty means every token
	// synthetic marks a user made up by AddToken for a login nobody added,
	// so that AddUser may still set its real id.
	synthetic bool
	packages  []*pkg // active and deleted, in creation order
}

type pkg struct {
	id             int64
	owner          *owner
	name           string
	typ            string
	visibility     string
	repository     string // repository name without owner; empty for none
	createdAt      time.Time
	createdGiven   bool
	dockerConflict bool
	deletedAt      *time.Time
	versions       []*version // in creation order
	sorted         []*version // newest first; nil after a version was added
}

type version struct {
	id        int64
	pkg       *pkg
	name      string
	tags      []string
	createdAt time.Time
	updatedAt time.Time
	deletedAt *time.Time
	// withPackage marks a version deleted by deleting its package, so that
	// restoring the package brings back exactly those.
	withPackage bool
	downloads   int
	// manifest is nil when the version was seeded without one.
	manifest  []byte
	mediaType string
	// createdJSON and updatedJSON override the dates served (VersionSeed).
	createdJSON, updatedJSON string
}

type faultState struct {
	Fault
	seen int // matching requests so far
	hits int // requests the fault answered
}

// The id ranges differ so that a package id passed as a version id (or the
// other way round) finds nothing instead of something else.
const (
	firstPackageID   = 1
	firstVersionID   = 1_000_001
	firstRepoID      = 500_000_001
	firstSyntheticID = 90_000_001
)

// restoreWindow is how long after deletion GitHub allows a restore.
const restoreWindow = 30 * 24 * time.Hour

var packageTypes = []string{"npm", "maven", "rubygems", "docker", "nuget", "container"}

// New returns an empty simulator: add tokens, owners, packages and versions,
// or Seed a Fixture.
func New(opts Options) *Server {
	c := opts.Clock
	if c == nil {
		c = clock.Real{}
	}
	if opts.RateLimitStatus == 0 {
		opts.RateLimitStatus = 403
	}
	if opts.PrimaryLimit < 0 {
		opts.PrimaryLimit = 0
	}
	if opts.PrimaryWindow <= 0 {
		opts.PrimaryWindow = time.Hour
	}
	return &Server{
		clock:       c,
		opts:        opts,
		tokens:      map[string]*tokenState{},
		owners:      map[string]*owner{},
		versions:    map[int64]*version{},
		repoIDs:     map[string]int64{},
		lastPkgID:   firstPackageID - 1,
		lastVerID:   firstVersionID - 1,
		lastRepoID:  firstRepoID - 1,
		lastSynthID: firstSyntheticID - 1,
		stats:       newStats(),

		registryTokens: map[string]*registryToken{},
	}
}

func newStats() Stats {
	return Stats{ByOp: map[string]int{}, ByStatus: map[int]int{}}
}

// AddToken registers token. When no owner has t.Login yet, a user with a
// made-up id is created so that /user works; AddUser may set its real id later.
func (s *Server) AddToken(token string, t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Scopes = slices.Clone(t.Scopes)
	s.tokens[token] = &tokenState{Token: t}
	key := strings.ToLower(t.Login)
	if t.Login != "" && s.owners[key] == nil {
		s.lastSynthID++
		s.owners[key] = &owner{login: t.Login, id: s.lastSynthID, synthetic: true}
	}
}

// AddOrg registers an organization. admins are the logins allowed to delete
// and restore its packages; none listed means every token is an admin.
// Adding an existing login again updates its id and admins.
func (s *Server) AddOrg(login string, id int64, admins ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ownerFor(login)
	o.id, o.org, o.synthetic = id, true, false
	o.admins = map[string]bool{}
	for _, a := range admins {
		o.admins[strings.ToLower(a)] = true
	}
}

// AddUser registers a user account. Adding an existing login again updates
// its id.
func (s *Server) AddUser(login string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ownerFor(login)
	o.id, o.org, o.synthetic, o.admins = id, false, false, nil
}

// ownerFor returns the owner with login, creating it; s.mu must be held.
func (s *Server) ownerFor(login string) *owner {
	key := strings.ToLower(login)
	o := s.owners[key]
	if o == nil {
		o = &owner{login: login}
		s.owners[key] = o
	}
	return o
}

// AddPackage creates a package of owner (an org or user added before). A
// package whose same-named predecessor was deleted reuses its namespace, so
// the old one can no longer be restored.
func (s *Server) AddPackage(owner string, p PackageSeed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.owners[strings.ToLower(owner)]
	if o == nil {
		return fmt.Errorf("add package %q: unknown owner %q", p.Name, owner)
	}
	if p.Name == "" {
		return fmt.Errorf("add package of %q: empty name", owner)
	}
	if !slices.Contains(packageTypes, p.Type) {
		return fmt.Errorf("add package %q: unknown type %q (want one of %s)", p.Name, p.Type, strings.Join(packageTypes, ", "))
	}
	vis := p.Visibility
	if vis == "" {
		vis = "private"
	}
	if vis != "public" && vis != "private" && vis != "internal" {
		return fmt.Errorf("add package %q: unknown visibility %q (want public, private or internal)", p.Name, p.Visibility)
	}
	repo := p.Repository
	if i := strings.IndexByte(repo, '/'); i >= 0 {
		if !strings.EqualFold(repo[:i], o.login) {
			return fmt.Errorf("add package %q: repository %q is not owned by %q", p.Name, repo, o.login)
		}
		repo = repo[i+1:]
	}
	if o.activePackage(p.Type, p.Name) != nil {
		return fmt.Errorf("add package %q: a %s package with that name already exists for %q", p.Name, p.Type, o.login)
	}
	s.lastPkgID++
	np := &pkg{
		id: s.lastPkgID, owner: o, name: p.Name, typ: p.Type, visibility: vis,
		repository: repo, createdAt: p.CreatedAt, createdGiven: !p.CreatedAt.IsZero(),
		dockerConflict: p.DockerConflict,
	}
	if !np.createdGiven {
		np.createdAt = s.clock.Now()
	}
	if repo != "" {
		full := strings.ToLower(o.login + "/" + repo)
		if s.repoIDs[full] == 0 {
			s.lastRepoID++
			s.repoIDs[full] = s.lastRepoID
		}
	}
	o.packages = append(o.packages, np)
	return nil
}

// AddVersion creates a version in the active package pkg of owner and returns
// its id; ids are unique server-wide and increase with every call. Adding a
// name whose earlier version is deleted reuses that name, so the deleted one
// can no longer be restored.
func (s *Server) AddVersion(owner, packageType, pkg string, v VersionSeed) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addVersion(owner, packageType, pkg, v, nil)
}

// addVersion is AddVersion with s.mu held; deletedAt seeds a deleted version.
func (s *Server) addVersion(ownerLogin, packageType, pkgName string, v VersionSeed, deletedAt *time.Time) (int64, error) {
	o := s.owners[strings.ToLower(ownerLogin)]
	if o == nil {
		return 0, fmt.Errorf("add version to %q: unknown owner %q", pkgName, ownerLogin)
	}
	p := o.activePackage(packageType, pkgName)
	if p == nil {
		return 0, fmt.Errorf("add version to %s/%s/%s: no such package", ownerLogin, packageType, pkgName)
	}
	if v.Downloads < 0 {
		return 0, fmt.Errorf("add version to %q: negative downloads", pkgName)
	}
	id := s.lastVerID + 1
	image := p.typ == "container" || p.typ == "docker"
	// An empty manifest is no manifest: nil and [] (a YAML "") mean the same.
	if len(v.Manifest) > 0 && !image {
		return 0, fmt.Errorf("add version %q to %q: only container and docker versions have a manifest", v.Name, pkgName)
	}
	if len(v.Manifest) == 0 && v.MediaType != "" {
		return 0, fmt.Errorf("add version %q to %q: media type %q without a manifest", v.Name, pkgName, v.MediaType)
	}
	name := v.Name
	if len(v.Manifest) > 0 {
		// The registry finds a version by the digest of the bytes it serves;
		// a name that is not that digest would make the two disagree.
		d := Digest(v.Manifest)
		if name != "" && name != d {
			return 0, fmt.Errorf("add version %q to %q: name is not the manifest's digest %s", name, pkgName, d)
		}
		name = d
	}
	if name == "" {
		if !image {
			return 0, fmt.Errorf("add version to %q: empty name (only container and docker versions get a made-up digest)", pkgName)
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", o.login, p.name, id))
		name = "sha256:" + hex.EncodeToString(sum[:])
	}
	if deletedAt == nil && p.activeVersionNamed(name) != nil {
		return 0, fmt.Errorf("add version %q to %q: an active version with that name exists", name, pkgName)
	}
	created := v.CreatedAt
	if created.IsZero() {
		created = s.clock.Now()
	}
	updated := v.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	s.lastVerID = id
	nv := &version{
		id: id, pkg: p, name: name, tags: slices.Clone(v.Tags),
		createdAt: created, updatedAt: updated, downloads: v.Downloads,
		createdJSON: v.CreatedAtJSON, updatedJSON: v.UpdatedAtJSON,
	}
	if len(v.Manifest) > 0 {
		nv.manifest = slices.Clone(v.Manifest)
		nv.mediaType = cmp.Or(v.MediaType, sniffMediaType(v.Manifest))
	}
	if deletedAt != nil {
		d := *deletedAt
		nv.deletedAt = &d
	}
	p.versions = append(p.versions, nv)
	p.sorted = nil
	s.versions[id] = nv
	return id, nil
}

// Tag adds tags to the active version id, moving each from any other
// version of its package that has it, as pushing or tagging an existing
// digest does (docker push, crane tag). It stands for other actors changing
// a package while a client plans and deletes.
func (s *Server) Tag(id int64, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.versions[id]
	if v == nil || v.deletedAt != nil {
		return fmt.Errorf("tag version %d: no such active version", id)
	}
	for _, o := range v.pkg.versions {
		if o != v {
			o.tags = slices.DeleteFunc(o.tags, func(t string) bool { return slices.Contains(tags, t) })
		}
	}
	for _, t := range tags {
		if !slices.Contains(v.tags, t) {
			v.tags = append(v.tags, t)
		}
	}
	return nil
}

// Remove deletes the active version id as another tool would (the web UI,
// another Action): at the clock's now, restorable, without the API's checks
// and without counting a request.
func (s *Server) Remove(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.versions[id]
	if v == nil || v.deletedAt != nil {
		return fmt.Errorf("remove version %d: no such active version", id)
	}
	now := s.clock.Now()
	v.deletedAt = &now
	return nil
}

// Version returns the state of the version with id, deleted or not.
func (s *Server) Version(id int64) (VersionState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.versions[id]
	if v == nil {
		return VersionState{}, false
	}
	return v.state(), true
}

// Versions returns every version of the package, active and deleted, newest
// first; nil when there is no such package. When the package was deleted (and
// not replaced) its versions are still returned.
func (s *Server) Versions(owner, packageType, pkg string) []VersionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.owners[strings.ToLower(owner)]
	if o == nil {
		return nil
	}
	p := o.activePackage(packageType, pkg)
	if p == nil {
		p = o.lastDeletedPackage(packageType, pkg)
	}
	if p == nil {
		return nil
	}
	vs := p.sortedVersions(func(*version) bool { return true })
	out := make([]VersionState, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.state())
	}
	return out
}

// Stats returns a copy of the counters.
// RegistryOps are the Stats.ByOp keys of the registry's requests.
var RegistryOps = []string{"GET token", "GET /v2/", "GET manifest", "HEAD manifest", "DELETE manifest"}

// APIRequests is how many of the requests were to the API, not the
// registry.
func (st Stats) APIRequests() int {
	n := st.Requests
	for _, op := range RegistryOps {
		n -= st.ByOp[op]
	}
	return n
}

func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.stats
	c.ByOp = maps.Clone(s.stats.ByOp)
	c.ByStatus = maps.Clone(s.stats.ByStatus)
	c.ManifestFetchesByDigest = maps.Clone(s.stats.ManifestFetchesByDigest)
	return c
}

// ResetStats zeroes the counters (rate-limit windows are not touched).
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
}

// InjectFault adds f after the faults already injected; the first fault that
// hits a request answers it.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (v *version) state() VersionState {
	st := VersionState{
		ID: v.id, Name: v.name, Tags: slices.Clone(v.tags),
		CreatedAt: v.createdAt, UpdatedAt: v.updatedAt, Downloads: v.downloads,
	}
	if v.deletedAt != nil {
		d := *v.deletedAt
		st.DeletedAt = &d
	}
	return st
}

func (o *owner) activePackage(typ, name string) *pkg {
	for _, p := range o.packages {
		if p.deletedAt == nil && p.typ == typ && p.name == name {
			return p
		}
	}
	return nil
}

func (o *owner) lastDeletedPackage(typ, name string) *pkg {
	var last *pkg
	for _, p := range o.packages {
		if p.deletedAt != nil && p.typ == typ && p.name == name &&
			(last == nil || !p.deletedAt.Before(*last.deletedAt)) {
			last = p
		}
	}
	return last
}

func (p *pkg) activeVersionNamed(name string) *version {
	for _, v := range p.versions {
		if v.deletedAt == nil && v.name == name {
			return v
		}
	}
	return nil
}

func (p *pkg) activeCount() int {
	n := 0
	for _, v := range p.versions {
		if v.deletedAt == nil {
			n++
		}
	}
	return n
}

// sortedVersions returns the versions that keep accepts, newest first
// (created_at descending, then id descending), the order GitHub is seen to use.
func (p *pkg) sortedVersions(keep func(*version) bool) []*version {
	// The order is cached and only recomputed after a version was added, so
	// paging through a package with 100,000 versions does not sort per page.
	if p.sorted == nil {
		p.sorted = slices.Clone(p.versions)
		slices.SortStableFunc(p.sorted, func(a, b *version) int {
			if c := b.createdAt.Compare(a.createdAt); c != 0 {
				return c
			}
			return cmp.Compare(b.id, a.id)
		})
	}
	var out []*version
	for _, v := range p.sorted {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// created is the package's created_at as GitHub would show it.
func (p *pkg) created() time.Time {
	if p.createdGiven {
		return p.createdAt
	}
	t := p.createdAt
	for _, v := range p.versions {
		if v.createdAt.Before(t) {
			t = v.createdAt
		}
	}
	return t
}

// updated is the package's updated_at: the latest change of an active version.
func (p *pkg) updated() time.Time {
	t := p.created()
	for _, v := range p.versions {
		if v.deletedAt == nil && v.updatedAt.After(t) {
			t = v.updatedAt
		}
	}
	return t
}
