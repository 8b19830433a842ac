// Package planner lists every version of the packages a policy selects and
// decides, with policy.Decide, what to keep and delete. It sends only GET
// requests: a plan never changes anything on GitHub.
package planner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/registry"
)

// Client is what the planner needs from the GitHub API.
type Client interface {
	Identity(ctx context.Context) (githubapi.Identity, error)
	ListPackages(ctx context.Context, owner githubapi.Owner, packageType, visibility string) ([]githubapi.Package, error)
	GetPackage(ctx context.Context, owner githubapi.Owner, packageType, name string) (githubapi.Package, error)
	ListVersions(ctx context.Context, owner githubapi.Owner, packageType, name string, opts githubapi.ListVersionsOptions) (githubapi.VersionList, error)
}

// Facts is what earlier runs recorded (the journal).
type Facts interface {
	Refused(ctx context.Context, ownerType, owner, packageType, pkg, reason string) (map[int64]bool, error)
}

// Registry reads container manifests.
type Registry interface {
	Fetch(ctx context.Context, repo, digest string) (*registry.Manifest, error)
}

// ManifestCache keeps manifests by digest across runs (the journal).
type ManifestCache interface {
	Manifest(ctx context.Context, digest string) (mediaType string, body []byte, ok bool, err error)
	PutManifest(ctx context.Context, digest, mediaType string, body []byte, at time.Time) error
}

// Planner plans policies.
type Planner struct {
	Client Client
	Facts  Facts // nil: nothing remembered
	Logger *zap.Logger
	// Registry reads manifests of container packages; nil keeps every
	// container package whole whenever it has something to delete (the
	// graph is unknown: fail closed).
	Registry Registry
	// Cache, when set, keeps manifests by digest across runs.
	Cache ManifestCache
	// AllManifests reads the manifests of every container package, even
	// one with nothing to delete now: a snapshot, from which plans are
	// made at other times and with other policies.
	AllManifests bool
	// Budget, when set, is asked before each package is listed for the
	// requests listing it takes, and may wait for the token's rate limit to
	// reset; an error (a *plan.Deferral: the run's deadline came first)
	// leaves the package unplanned with that error, so nothing in it is
	// deleted.
	Budget func(ctx context.Context, requests int) error
}

// Plan decides every version of every package pol selects at now, the run
// cap included, and returns them all. A package that cannot be listed is in
// the plan with its error and no decisions (so nothing in it is deleted);
// the returned error is non-nil only when the policy's packages cannot be
// listed at all. A run of any size uses Each instead.
func (p *Planner) Plan(ctx context.Context, pol *policy.Policy, mode policy.Mode, now time.Time) (*plan.Policy, error) {
	rc := policy.NewRunCap(pol.Limits.MaxDeletesPerRun)
	var pkgs []*plan.Package
	out, err := p.Each(ctx, pol, mode, now, func(pkg *plan.Package) error {
		rc.Add(len(pkgs), pkg.PolicyDecisions())
		pkgs = append(pkgs, pkg)
		return nil
	})
	for i, pkg := range pkgs {
		for j, d := range pkg.Decisions {
			rc.Apply(i, j, &d.Decision)
		}
	}
	out.Packages = pkgs
	return out, err
}

// Each decides the packages pol selects at now one at a time, in name
// order, and hands each to each as soon as it is decided, before the run
// cap (which spans packages: policy.RunCap); the plan it returns has no
// packages. A package that cannot be listed comes with its error and no
// decisions. An error from each stops the plan and is returned.
func (p *Planner) Each(ctx context.Context, pol *policy.Policy, mode policy.Mode, now time.Time, each func(*plan.Package) error) (*plan.Policy, error) {
	log := p.log().With(zap.String("policy", pol.Name))
	out := &plan.Policy{Name: pol.Name, Mode: mode}
	sel := pol.Select
	owner, err := p.owner(ctx, sel)
	if err != nil {
		return out, err
	}
	vis := ""
	if len(sel.Visibility) == 1 {
		vis = sel.Visibility[0] // let GitHub filter; more than one is filtered here
	}
	pkgs, err := p.Client.ListPackages(ctx, owner, sel.PackageType, vis)
	if err != nil {
		return out, fmt.Errorf("list %s packages of %s: %w", sel.PackageType, owner, err)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	for _, pkg := range pkgs {
		if !selected(sel, pkg) {
			continue
		}
		pp := &plan.Package{Owner: owner, OwnerName: sel.Owner, OwnerType: sel.OwnerType, Type: sel.PackageType,
			Name: pkg.Name, Visibility: pkg.Visibility}
		if err := p.planPackage(ctx, pol, pkg, pp, now); err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			pp.Err = err
			if !errors.Is(err, plan.ErrDeferred) {
				log.Warn("package not planned", zap.String("package", pkg.Name), zap.Error(err))
			}
		}
		if err := each(pp); err != nil {
			return out, err
		}
	}
	return out, nil
}

// planPackage lists and decides one package into pp.
func (p *Planner) planPackage(ctx context.Context, pol *policy.Policy, pkg githubapi.Package, pp *plan.Package, now time.Time) error {
	if p.Budget != nil {
		if err := p.Budget(ctx, plan.ListRequests(pkg.VersionCount)); err != nil {
			return err
		}
	}
	ds, err := p.decide(ctx, pol, pp.Owner, pkg, now)
	if err != nil {
		return err
	}
	pp.FreedBytes = ds.freed
	pp.Decisions = make([]*plan.Decision, len(ds.decisions))
	for j := range ds.decisions {
		pp.Decisions[j] = &plan.Decision{Decision: ds.decisions[j]}
	}
	return nil
}

type decided struct {
	decisions []policy.Decision
	freed     int64
}

func (p *Planner) decide(ctx context.Context, pol *policy.Policy, owner githubapi.Owner, pkg githubapi.Package, now time.Time) (decided, error) {
	in, facts, pre, err := p.inputs(ctx, pol, owner, pkg, now)
	if err != nil {
		return decided{}, err
	}
	ds := pre.final
	if ds == nil {
		ds = pol.Decide(in, now, facts)
	}
	if facts.Unreadable == legacyDocker {
		// Say why in the plan, with the rule each version would have been
		// deleted by were its manifests read: the decisions before the
		// graph step looked, when inputs made them.
		before := pre.beforeGraph
		if before == nil {
			unread := facts
			unread.Unreadable = ""
			before = pol.Decide(in, now, unread)
		}
		was := map[int64]string{}
		for _, d := range before {
			was[d.Version.ID] = string(d.Rule)
		}
		for i := range ds {
			if ds[i].Rule == policy.RuleManifestUnreadable {
				ds[i].Reason = LegacyDockerReason + " this run; was " + was[ds[i].Version.ID]
			}
		}
	}
	return decided{decisions: ds, freed: policy.FreedBytes(ds, facts.Manifests)}, nil
}

// Legacy docker packages (package_type docker) live in the old Docker
// registry, docker.HOST/OWNER/REPOSITORY/IMAGE on GitHub Enterprise Server
// (docker.pkg.github.com on github.com, which is gone), not in the Container
// registry ghprune reads. Their manifests are not read there either: how a
// package name maps to a repository path there, and how that registry
// authenticates, are not documented well enough to send the token to it. A
// docker package with something to delete is kept whole (fail closed).
const (
	// legacyDocker is the Facts.Unreadable of a legacy docker package, which
	// policy.Explain quotes: "manifest (legacy docker package, not read)
	// could not be read".
	legacyDocker = "(legacy docker package, not read)"
	// LegacyDockerReason starts the reason of each version kept by rule
	// manifest-unreadable in a legacy docker package.
	LegacyDockerReason = "legacy docker package: manifests are not read from docker.HOST (the old Docker registry); the package is kept whole"
)

// inputs lists one package and gathers what deciding it needs: the
// journal's refusals and, for a container package with something to
// delete, its manifest graph (the graph step). A package with nothing to delete
// reads no manifest.
func (p *Planner) inputs(ctx context.Context, pol *policy.Policy, owner githubapi.Owner, pkg githubapi.Package, now time.Time) ([]policy.Version, policy.Facts, predecided, error) {
	vs, facts, err := p.versions(ctx, pol, owner, pkg)
	if err != nil || !pol.Select.IsContainer() {
		return vs, facts, predecided{}, err
	}
	var pre predecided
	if !p.AllManifests {
		ds := pol.Decide(vs, now, facts)
		if !anyDelete(ds) {
			return vs, facts, predecided{final: ds}, nil // no graph to read: these are the decisions
		}
		pre.beforeGraph = ds
	}
	err = p.graphFacts(ctx, pol, pkg.Name, vs, &facts)
	return vs, facts, pre, err
}

// predecided are the decisions inputs made to know whether a container
// package needs its manifests: final when it does not (nothing to
// delete), else the decisions before the graph step looked.
type predecided struct {
	final, beforeGraph []policy.Decision
}

func anyDelete(ds []policy.Decision) bool {
	for _, d := range ds {
		if d.Action == policy.Delete {
			return true
		}
	}
	return false
}

// graphFacts reads the manifests of a container package's versions, from
// the cache when it has them. Any manifest that cannot be read sets
// facts.Unreadable, which keeps the whole package this run; so does a
// legacy docker package, whose manifests are never read (LegacyDockerReason).
func (p *Planner) graphFacts(ctx context.Context, pol *policy.Policy, name string, vs []policy.Version, facts *policy.Facts) error {
	if pol.Select.PackageType == "docker" {
		p.log().Info("legacy docker package kept whole: its manifests are not read", zap.String("package", name))
		facts.Unreadable = legacyDocker
		return nil
	}
	if p.Registry == nil {
		facts.Unreadable = "(no registry configured)"
		return nil
	}
	repo := registry.Repository(pol.Select.Owner, name)
	ms := make(map[string]*policy.Manifest, len(vs))
	for _, v := range vs {
		m, err := p.manifest(ctx, repo, v.Name)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.log().Warn("manifest unreadable: package kept whole", zap.String("package", name), zap.String("digest", v.Name), zap.Error(err))
			facts.Unreadable = v.Name
			return nil
		}
		ms[v.Name] = &policy.Manifest{Children: m.Children, Subject: m.Subject, Blobs: m.Blobs}
	}
	facts.Manifests = ms
	return nil
}

// manifest reads one manifest, from the cache when it can: digests are
// immutable, and for a public image every fetch counts as a download.
func (p *Planner) manifest(ctx context.Context, repo, digest string) (*registry.Manifest, error) {
	if !strings.HasPrefix(digest, "sha256:") {
		return nil, fmt.Errorf("version name %q is not a manifest digest", digest)
	}
	if p.Cache != nil {
		mt, body, ok, err := p.Cache.Manifest(ctx, digest)
		if err != nil {
			return nil, err
		}
		if ok && registry.Verify(digest, body) == nil {
			// A cached copy that does not hash to its digest or parse is
			// fetched again and replaced.
			if m, err := registry.Parse(mt, body); err == nil {
				m.Digest = digest
				return m, nil
			}
		}
	}
	m, err := p.Registry.Fetch(ctx, repo, digest)
	if err != nil {
		return nil, err
	}
	if p.Cache != nil {
		if err := p.Cache.PutManifest(ctx, digest, m.MediaType, m.Raw, time.Now()); err != nil {
			p.log().Warn("manifest not cached", zap.Error(err))
		}
	}
	return m, nil
}

func (p *Planner) log() *zap.Logger {
	if p.Logger == nil {
		return zap.NewNop()
	}
	return p.Logger
}

// Versions lists one package of pol's owner with what decisions need to
// know of it (the journal's refusals; for a container package with
// something to delete, its manifests): the input of policy.Explain.
func (p *Planner) Versions(ctx context.Context, pol *policy.Policy, name string, now time.Time) ([]policy.Version, policy.Facts, error) {
	owner, err := p.owner(ctx, pol.Select)
	if err != nil {
		return nil, policy.Facts{}, err
	}
	pkg, err := p.Client.GetPackage(ctx, owner, pol.Select.PackageType, name)
	if err != nil {
		return nil, policy.Facts{}, fmt.Errorf("get package %q: %w", name, err)
	}
	vs, facts, _, err := p.inputs(ctx, pol, owner, pkg, now)
	return vs, facts, err
}

// listing lists a package's active versions and checks that the listing is
// whole: no version seen twice and as many as version_count says. GitHub
// pages newest first, so a version deleted or pushed elsewhere while the
// pages are read shifts the rest, and a version may be missed; for a
// container that can make the children of a missed index look unreferenced.
// An inconsistent listing is read once more, with a fresh version_count;
// when that too disagrees, the reason comes back and the package is kept
// whole this run.
func (p *Planner) listing(ctx context.Context, owner githubapi.Owner, pkg githubapi.Package, packageType string) ([]githubapi.Version, string, error) {
	problem := ""
	var last []githubapi.Version
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			fresh, err := p.Client.GetPackage(ctx, owner, packageType, pkg.Name)
			if err != nil {
				return nil, "", fmt.Errorf("get package %q to list it again: %w", pkg.Name, err)
			}
			pkg.VersionCount = fresh.VersionCount
		}
		list, err := p.Client.ListVersions(ctx, owner, packageType, pkg.Name, githubapi.ListVersionsOptions{State: githubapi.StateActive, VersionCount: pkg.VersionCount})
		if err != nil {
			return nil, "", fmt.Errorf("list versions of %q: %w", pkg.Name, err)
		}
		last = list.Versions
		switch {
		case list.Duplicates > 0:
			problem = fmt.Sprintf("%d versions were listed twice", list.Duplicates)
		case pkg.VersionCount > 0 && len(list.Versions) != pkg.VersionCount:
			problem = fmt.Sprintf("%d versions were listed where version_count says %d", len(list.Versions), pkg.VersionCount)
		default:
			return list.Versions, "", nil
		}
		p.log().Warn("listing changed while it was paged", zap.String("package", pkg.Name), zap.String("problem", problem), zap.Int("attempt", attempt+1))
	}
	return last, "the version listing changed while it was paged (" + problem + ", twice): the package is kept whole this run", nil
}

func (p *Planner) versions(ctx context.Context, pol *policy.Policy, owner githubapi.Owner, pkg githubapi.Package) ([]policy.Version, policy.Facts, error) {
	var facts policy.Facts
	name := pkg.Name
	vs, problem, err := p.listing(ctx, owner, pkg, pol.Select.PackageType)
	if err != nil {
		return nil, facts, err
	}
	// What was listed cannot be trusted: Decide keeps every version.
	facts.ListingChanged = problem
	if p.Facts != nil {
		refused, err := p.Facts.Refused(ctx, owner.Kind.String(), pol.Select.Owner, pol.Select.PackageType, name, string(policy.RuleDownloadLimit))
		if err != nil {
			return nil, facts, fmt.Errorf("read refusals of %q: %w", name, err)
		}
		facts.DownloadLimited = func(id int64) bool { return refused[id] }
	}
	in := make([]policy.Version, len(vs))
	for i, v := range vs {
		in[i] = policy.Version{ID: v.ID, Name: v.Name, Tags: v.Tags, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
			RawCreatedAt: v.RawCreatedAt, RawUpdatedAt: v.RawUpdatedAt}
	}
	return in, facts, nil
}

// owner maps a policy's owner to the API's: a user that is the token's own
// account is addressed as /user, where GitHub serves more (deleted versions
// of private packages among them).
func (p *Planner) owner(ctx context.Context, sel policy.Select) (githubapi.Owner, error) {
	if sel.OwnerType == "org" {
		return githubapi.Org(sel.Owner), nil
	}
	id, err := p.Client.Identity(ctx)
	if err != nil {
		return githubapi.Owner{}, fmt.Errorf("identify the token's account: %w", err)
	}
	if id.Login != "" && strings.EqualFold(id.Login, sel.Owner) {
		return githubapi.Self(), nil
	}
	return githubapi.User(sel.Owner), nil
}

func selected(sel policy.Select, pkg githubapi.Package) bool {
	if len(sel.Packages) > 0 && !sel.Packages.Match(pkg.Name) {
		return false
	}
	if sel.ExcludePackages.Match(pkg.Name) {
		return false
	}
	if len(sel.Visibility) > 1 {
		for _, v := range sel.Visibility {
			if v == pkg.Visibility {
				return true
			}
		}
		return false
	}
	return true
}
