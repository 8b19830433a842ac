package snapshot

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/registry"
)

// The live sources a Recorder reads through: the planner's Client,
// Registry, Facts and ManifestCache, as GitHub, the registry and the
// journal implement them.
type (
	liveClient interface {
		Identity(ctx context.Context) (githubapi.Identity, error)
		ListPackages(ctx context.Context, owner githubapi.Owner, packageType, visibility string) ([]githubapi.Package, error)
		GetPackage(ctx context.Context, owner githubapi.Owner, packageType, name string) (githubapi.Package, error)
		ListVersions(ctx context.Context, owner githubapi.Owner, packageType, name string, opts githubapi.ListVersionsOptions) (githubapi.VersionList, error)
	}
	liveRegistry interface {
		Fetch(ctx context.Context, repo, digest string) (*registry.Manifest, error)
	}
	liveFacts interface {
		Refused(ctx context.Context, ownerType, owner, packageType, pkg, reason string) (map[int64]bool, error)
	}
	liveCache interface {
		Manifest(ctx context.Context, digest string) (mediaType string, body []byte, ok bool, err error)
		PutManifest(ctx context.Context, digest, mediaType string, body []byte, at time.Time) error
	}
)

// Recorder reads through the live sources of a plan and keeps what they
// answer in a Snapshot: taking a snapshot is planning with a Recorder in
// the planner's place, so it reads exactly what a plan reads.
type Recorder struct {
	S        *Snapshot
	Client   liveClient
	Registry liveRegistry // nil: no registry
	Facts    liveFacts    // nil: no journal
	Cache    liveCache    // nil: no journal

	mu sync.Mutex
	// listed and versions are the answers already read, by what was asked:
	// policies that select the same owner's packages (a config and its
	// baseline, overlapping policies) read each listing and package once.
	listed   map[listingKey][]githubapi.Package
	versions map[versionsKey]githubapi.VersionList
}

type listingKey struct {
	kind              githubapi.OwnerKind
	owner, typ, visib string
}

type versionsKey struct {
	listingKey
	name string
}

// Identity records the token's login.
func (r *Recorder) Identity(ctx context.Context) (githubapi.Identity, error) {
	id, err := r.Client.Identity(ctx)
	if err == nil {
		r.mu.Lock()
		r.S.Login = id.Login
		r.mu.Unlock()
	}
	return id, err
}

// ListPackages records a listing; a listing already read is answered
// from memory.
func (r *Recorder) ListPackages(ctx context.Context, owner githubapi.Owner, packageType, visibility string) ([]githubapi.Package, error) {
	key := listingKey{owner.Kind, strings.ToLower(owner.Name), packageType, visibility}
	r.mu.Lock()
	pkgs, ok := r.listed[key]
	r.mu.Unlock()
	if ok {
		return slices.Clone(pkgs), nil
	}
	pkgs, err := r.Client.ListPackages(ctx, owner, packageType, visibility)
	if err != nil {
		return pkgs, err
	}
	r.mu.Lock()
	if r.listed == nil {
		r.listed = map[listingKey][]githubapi.Package{}
	}
	r.listed[key] = slices.Clone(pkgs)
	r.mu.Unlock()
	l := Listing{OwnerKind: owner.Kind.String(), Owner: owner.Name, Type: packageType, Visibility: visibility}
	for _, p := range pkgs {
		l.Packages = append(l.Packages, ListedPackage{Name: p.Name, Visibility: p.Visibility, VersionCount: p.VersionCount})
		if owner.Kind == githubapi.OwnerSelf && l.Owner == "" {
			l.Owner = p.OwnerLogin
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, old := range r.S.Listings {
		if old.OwnerKind == l.OwnerKind && strings.EqualFold(old.Owner, l.Owner) && old.Type == l.Type && old.Visibility == l.Visibility {
			r.S.Listings[i] = l
			return pkgs, nil
		}
	}
	r.S.Listings = append(r.S.Listings, l)
	return pkgs, nil
}

// GetPackage reads through.
func (r *Recorder) GetPackage(ctx context.Context, owner githubapi.Owner, packageType, name string) (githubapi.Package, error) {
	return r.Client.GetPackage(ctx, owner, packageType, name)
}

// ListVersions records a package's versions; a package already read is
// answered from memory (its active versions; deleted ones read through).
func (r *Recorder) ListVersions(ctx context.Context, owner githubapi.Owner, packageType, name string, opts githubapi.ListVersionsOptions) (githubapi.VersionList, error) {
	key := versionsKey{listingKey{owner.Kind, strings.ToLower(owner.Name), packageType, ""}, name}
	active := opts.State != githubapi.StateDeleted
	if active {
		r.mu.Lock()
		list, ok := r.versions[key]
		r.mu.Unlock()
		// A listing that now counts other versions than were read: read
		// again, as the planner asks.
		if ok && (opts.VersionCount <= 0 || len(list.Versions) == opts.VersionCount) {
			list.Versions = slices.Clone(list.Versions)
			return list, nil
		}
	}
	list, err := r.Client.ListVersions(ctx, owner, packageType, name, opts)
	if err != nil || !active {
		return list, err
	}
	if list.Duplicates == 0 && (opts.VersionCount <= 0 || len(list.Versions) == opts.VersionCount) {
		// A listing that changed while it was paged is not remembered:
		// the planner's second look must read GitHub again.
		r.mu.Lock()
		if r.versions == nil {
			r.versions = map[versionsKey]githubapi.VersionList{}
		}
		kept := list
		kept.Versions = slices.Clone(list.Versions)
		r.versions[key] = kept
		r.mu.Unlock()
	}
	p := Package{OwnerKind: owner.Kind.String(), Owner: owner.Name, Type: packageType, Name: name, VersionCount: opts.VersionCount,
		Duplicates: list.Duplicates, Versions: make([]Version, len(list.Versions))}
	for i, v := range list.Versions {
		p.Versions[i] = versionOf(v)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.S.Listings {
		if l.OwnerKind == p.OwnerKind && (owner.Kind == githubapi.OwnerSelf || strings.EqualFold(l.Owner, p.Owner)) && l.Type == packageType {
			for _, lp := range l.Packages {
				if lp.Name == name {
					p.Visibility = lp.Visibility
					if owner.Kind == githubapi.OwnerSelf {
						p.Owner = l.Owner
					}
				}
			}
		}
	}
	for i, old := range r.S.Packages {
		if old.OwnerKind == p.OwnerKind && strings.EqualFold(old.Owner, p.Owner) && old.Type == p.Type && old.Name == p.Name {
			p.DownloadLimited = old.DownloadLimited
			r.S.Packages[i] = p
			return list, nil
		}
	}
	r.S.Packages = append(r.S.Packages, p)
	return list, nil
}

// versionOf is a version as the snapshot keeps it: the dates GitHub sent
// when they were valid, else what it sent.
func versionOf(v githubapi.Version) Version {
	sv := Version{ID: v.ID, Name: v.Name, Tags: v.Tags, CreatedAtRaw: v.RawCreatedAt, UpdatedAtRaw: v.RawUpdatedAt}
	if !v.CreatedAt.IsZero() {
		t := v.CreatedAt
		sv.CreatedAt = &t
	}
	if !v.UpdatedAt.IsZero() {
		t := v.UpdatedAt
		sv.UpdatedAt = &t
	}
	return sv
}

// Refused records the versions the journal remembers GitHub refused.
func (r *Recorder) Refused(ctx context.Context, ownerType, owner, packageType, name, reason string) (map[int64]bool, error) {
	if r.Facts == nil {
		return map[int64]bool{}, nil
	}
	refused, err := r.Facts.Refused(ctx, ownerType, owner, packageType, name, reason)
	if err != nil || len(refused) == 0 {
		return refused, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.S.Packages {
		p := &r.S.Packages[i]
		// The owner too: two owners' packages of one name are two packages,
		// and one's refusals must not stand for the other's.
		if p.OwnerKind == ownerType && strings.EqualFold(p.Owner, owner) && p.Type == packageType && p.Name == name {
			p.DownloadLimited = p.DownloadLimited[:0]
			for id := range refused {
				p.DownloadLimited = append(p.DownloadLimited, id)
			}
			slices.Sort(p.DownloadLimited)
		}
	}
	return refused, nil
}

// Fetch records a manifest read from the registry.
func (r *Recorder) Fetch(ctx context.Context, repo, digest string) (*registry.Manifest, error) {
	m, err := r.Registry.Fetch(ctx, repo, digest)
	if err == nil {
		r.keep(digest, m.MediaType, m.Raw)
	}
	return m, err
}

// Manifest records a manifest found in the journal's cache.
func (r *Recorder) Manifest(ctx context.Context, digest string) (string, []byte, bool, error) {
	mt, body, ok, err := r.Cache.Manifest(ctx, digest)
	if ok && err == nil && registry.Verify(digest, body) == nil {
		r.keep(digest, mt, body)
	}
	return mt, body, ok, err
}

// PutManifest writes through to the cache.
func (r *Recorder) PutManifest(ctx context.Context, digest, mediaType string, body []byte, at time.Time) error {
	return r.Cache.PutManifest(ctx, digest, mediaType, body, at)
}

func (r *Recorder) keep(digest, mediaType string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.S.Manifests[digest] = Manifest{MediaType: mediaType, Body: append([]byte(nil), body...)}
}
