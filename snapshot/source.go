package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/registry"
)

// ErrMissing: the snapshot does not hold what a plan asked for (a package
// a policy selects that was not read when it was taken). The package is
// then not planned, so nothing in it is decided from a guess.
var ErrMissing = errors.New("not in the snapshot")

// A Snapshot answers a planner as GitHub did when it was taken: it is the
// planner's Client, Registry and Facts. It sends nothing anywhere.

// Identity returns the token's login when the snapshot was taken.
func (s *Snapshot) Identity(context.Context) (githubapi.Identity, error) {
	return githubapi.Identity{Login: s.Login}, nil
}

func sameOwner(kind, name string, o githubapi.Owner) bool {
	if kind != o.Kind.String() {
		return false
	}
	return o.Kind == githubapi.OwnerSelf || strings.EqualFold(name, o.Name)
}

// ListPackages returns the listing of owner's packages of packageType,
// filtered by visibility: the listing read with that filter, or the
// unfiltered one.
func (s *Snapshot) ListPackages(_ context.Context, owner githubapi.Owner, packageType, visibility string) ([]githubapi.Package, error) {
	var all *Listing
	for i := range s.Listings {
		l := &s.Listings[i]
		if !sameOwner(l.OwnerKind, l.Owner, owner) || l.Type != packageType {
			continue
		}
		if l.Visibility == visibility {
			return listed(l, ""), nil
		}
		if l.Visibility == "" {
			all = l
		}
	}
	if all != nil {
		return listed(all, visibility), nil
	}
	return nil, fmt.Errorf("the %s packages of %s: %w", packageType, owner, ErrMissing)
}

func listed(l *Listing, visibility string) []githubapi.Package {
	out := make([]githubapi.Package, 0, len(l.Packages))
	for _, p := range l.Packages {
		if visibility != "" && p.Visibility != visibility {
			continue
		}
		out = append(out, githubapi.Package{Name: p.Name, PackageType: l.Type, Visibility: p.Visibility, VersionCount: p.VersionCount, OwnerLogin: l.Owner})
	}
	return out
}

// pkg finds a package whose versions were read.
func (s *Snapshot) pkg(owner githubapi.Owner, packageType, name string) *Package {
	for i := range s.Packages {
		p := &s.Packages[i]
		if sameOwner(p.OwnerKind, p.Owner, owner) && p.Type == packageType && p.Name == name {
			return p
		}
	}
	return nil
}

// GetPackage returns a package whose versions were read.
func (s *Snapshot) GetPackage(_ context.Context, owner githubapi.Owner, packageType, name string) (githubapi.Package, error) {
	p := s.pkg(owner, packageType, name)
	if p == nil {
		return githubapi.Package{}, fmt.Errorf("package %q of %s: %w", name, owner, ErrMissing)
	}
	return githubapi.Package{Name: p.Name, PackageType: p.Type, Visibility: p.Visibility, VersionCount: p.VersionCount, OwnerLogin: p.Owner}, nil
}

// ListVersions returns a package's versions as they were listed (active
// ones; the snapshot holds no deleted versions).
func (s *Snapshot) ListVersions(_ context.Context, owner githubapi.Owner, packageType, name string, opts githubapi.ListVersionsOptions) (githubapi.VersionList, error) {
	if opts.State == githubapi.StateDeleted {
		return githubapi.VersionList{}, fmt.Errorf("deleted versions of %q: %w", name, ErrMissing)
	}
	p := s.pkg(owner, packageType, name)
	if p == nil {
		return githubapi.VersionList{}, fmt.Errorf("the versions of package %q of %s: %w", name, owner, ErrMissing)
	}
	out := githubapi.VersionList{Versions: make([]githubapi.Version, len(p.Versions)), Duplicates: p.Duplicates}
	for i, v := range p.Versions {
		gv := githubapi.Version{ID: v.ID, Name: v.Name, Tags: v.Tags, RawCreatedAt: v.CreatedAtRaw, RawUpdatedAt: v.UpdatedAtRaw}
		if v.CreatedAt != nil {
			gv.CreatedAt = *v.CreatedAt
		}
		if v.UpdatedAt != nil {
			gv.UpdatedAt = *v.UpdatedAt
		}
		out.Versions[i] = gv
	}
	return out, nil
}

// Refused returns the versions GitHub had refused to delete for their
// downloads.
func (s *Snapshot) Refused(_ context.Context, ownerType, owner, packageType, name, reason string) (map[int64]bool, error) {
	out := map[int64]bool{}
	if reason != string(policy.RuleDownloadLimit) {
		return out, nil
	}
	for _, p := range s.Packages {
		if p.OwnerKind == ownerType && strings.EqualFold(p.Owner, owner) && p.Type == packageType && p.Name == name {
			for _, id := range p.DownloadLimited {
				out[id] = true
			}
		}
	}
	return out, nil
}

// Fetch returns a manifest as the registry served it, checked against its
// digest: one that does not hash to it is unreadable (fail closed).
func (s *Snapshot) Fetch(_ context.Context, repo, digest string) (*registry.Manifest, error) {
	m, ok := s.Manifests[digest]
	if !ok {
		return nil, fmt.Errorf("manifest %s of %s: %w", digest, repo, ErrMissing)
	}
	if err := registry.Verify(digest, m.Body); err != nil {
		return nil, err
	}
	parsed, err := registry.Parse(m.MediaType, m.Body)
	if err != nil {
		return nil, err
	}
	parsed.Digest, parsed.Raw = digest, m.Body
	return parsed, nil
}
