// Package plan is the model of one run: for every package a policy
// selected, a decision per version (what policy.Decide said, with its rule
// and reason) and, after apply, what became of each planned deletion. The
// planner fills it, the executor acts on it and records outcomes, the engine
// journals and counts it, and report renders it. Nothing here talks to
// GitHub.
package plan

import (
	"errors"
	"time"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/policy"
)

// Outcome is what became of a planned deletion after apply.
type Outcome string

// Outcomes. A decision that was not acted on (a keep, a plan, a run stopped
// before it) has none.
const (
	Deleted Outcome = "deleted"
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped" // not sent, or refused by GitHub for a good reason
	// Deferred: not sent because the run stopped at its deadline
	// (limits.max_run_duration), or waiting for the token's budget would
	// have passed it; the next run plans it again.
	Deferred Outcome = "deferred"
)

// Cause says why a deletion was skipped or failed. The values are the
// bounded reason labels of the skipped and failed metrics.
type Cause string

// Causes of a skip.
const (
	DownloadLimit  Cause = "download_limit"  // GitHub refuses: public, over 5,000 downloads
	LastVersion    Cause = "last_version"    // GitHub refuses: the last (tagged) version
	ParentKept     Cause = "parent_kept"     // an index or subject referring to it stays
	AlreadyGone    Cause = "already_gone"    // deleted before this run's request
	GainedTag      Cause = "gained_tag"      // tagged since the plan
	PackageChanged Cause = "package_changed" // a version was pushed since the plan
)

// Causes of a deferral.
const (
	BudgetSpent Cause = "budget_spent"     // budget_share spent until a reset after the deadline
	RunDeadline Cause = "max_run_duration" // the run reached limits.max_run_duration
)

// ErrDeferred is what a *Deferral is: work left for the next run, which is
// not a failure.
var ErrDeferred = errors.New("deferred to the next run")

// Deferral says why a run left a package or a deletion for the next run.
type Deferral struct {
	Cause  Cause
	Detail string
}

func (d *Deferral) Error() string { return "deferred to the next run: " + d.Detail }

// Is makes errors.Is(d, ErrDeferred) true.
func (d *Deferral) Is(target error) bool { return target == ErrDeferred }

// Causes of a failure.
const (
	ServerError Cause = "server_error"
	RateLimited Cause = "rate_limited"
	Forbidden   Cause = "forbidden"
	NotFound    Cause = "not_found"
	Redirected  Cause = "redirected"
	Cancelled   Cause = "cancelled"
	Other       Cause = "other"
)

// Run is one plan or apply of some policies.
type Run struct {
	// RunID is the journal's run, nil when nothing was enforced (a plan is
	// not journaled).
	RunID *int64
	// Mode is plan, or enforce when an enforce policy was applied.
	Mode      policy.Mode
	StartedAt time.Time
	// PlannedAt is the time the run was planned as of (-at), when it was
	// not planned as of its start; nil otherwise.
	PlannedAt  *time.Time
	FinishedAt time.Time
	Policies   []*Policy
	// APIRequests and ManifestFetches are what the run cost: the scarce
	// resources, counted by the clients.
	APIRequests     int64
	ManifestFetches int64
	// Estimate is what applying this plan would cost.
	Estimate Estimate
}

// Progress is where a run stands, for a progress line: what it has listed
// and decided, the deletions it planned and carried out, the pace, a pause
// for the budget, and how long the rest should take.
type Progress struct {
	Policy             string // the policy being run
	Packages, Versions int    // decided so far in the run
	Deletes, Done      int    // deletions to carry out so far, and those done (deleted, skipped or failed)
	PerMinute          float64
	// PausedUntil is when a pause for the rate-limit window ends; zero
	// when the run is not paused.
	PausedUntil time.Time
	// ETA is the deletions left at the pace, plus the pause under way or
	// the pauses the budget will need.
	ETA time.Duration
}

// Estimate is what applying a plan would cost, known before anything is
// deleted: the requests it sends and how long it takes at the pace and the
// budget.
type Estimate struct {
	// Requests is ListRequests + DeleteRequests plus one listing of the
	// packages per policy.
	Requests       int
	ListRequests   int
	DeleteRequests int
	// ManifestFetches are the manifests it reads: those this plan read
	// and could not keep in the journal's cache.
	ManifestFetches int64
	// Duration is the deletes at limits.mutations_per_minute, plus the
	// waits for the rate-limit window (BudgetPauses of them) when the
	// requests do not fit in limits.budget_share of what is left.
	Duration     time.Duration
	BudgetPauses int
	// PastDeadline: Duration is longer than limits.max_run_duration, so an
	// apply would defer the rest to the next run.
	PastDeadline bool
}

// Policy is one policy's part of a run.
type Policy struct {
	Name string
	Mode policy.Mode
	// Err says why the policy could not be planned or finished.
	Err error
	// Warnings are lint findings of the plan: patterns that matched
	// nothing, packages another policy also selects, undated versions.
	Warnings []string
	Packages []*Package
	// Sent counts the packages a streaming run handed out and no longer
	// holds in Packages.
	Sent Counts
	// APIRequests is what the policy's part of the run sent to the API,
	// retries and 304s included.
	APIRequests int64
}

// Package is one selected package and its decisions.
type Package struct {
	// Owner is how the API addresses the owner (org, user, or the token's
	// own account); OwnerName and OwnerType are as the policy names it.
	Owner     githubapi.Owner
	OwnerName string
	OwnerType string // org or user
	Type      string // package_type
	Name      string
	// Visibility is public, private or internal, as GitHub lists it.
	Visibility string
	// FreedBytes estimates what the planned deletions free: the blobs of
	// deleted manifests no kept manifest uses (container packages).
	FreedBytes int64
	// Err says why the package could not be planned: it then has no
	// decisions, and nothing in it is touched. A *Deferral (errors.Is
	// ErrDeferred) is not a failure: the run left the package for the next.
	Err       error
	Decisions []*Decision
	// Listed, when set, holds the id of every version listed, while
	// Decisions holds only the deletions (a streaming apply): the
	// executor's check that nothing was pushed to a container package
	// since the plan needs them all.
	Listed []int64
}

// Decision is one version's verdict and, after apply, what became of it.
type Decision struct {
	policy.Decision
	Outcome Outcome
	// Cause says why a deletion was skipped or failed.
	Cause Cause
	// Err is GitHub's refusal or the failure, for a skip or failure.
	Err error
	// RestorableUntil is set on a deletion: GitHub restores it until then.
	RestorableUntil *time.Time
}

// PolicyDecisions copies the package's decisions as policy.Decide made
// them (for policy.RunCap).
func (p *Package) PolicyDecisions() []policy.Decision {
	out := make([]policy.Decision, len(p.Decisions))
	for i, d := range p.Decisions {
		out[i] = d.Decision
	}
	return out
}

// ListRequests is how many API requests listing a package of n versions
// takes: its pages of 100, newest first.
func ListRequests(n int) int {
	return max(1, (n+githubapi.DefaultPerPage-1)/githubapi.DefaultPerPage)
}

// RequestsPerDelete is the most API requests one planned deletion sends:
// the DELETE, and for a container version the re-read of its package's
// newest page (usually a 304, which GitHub does not charge) and of the
// version itself.
func RequestsPerDelete(packageType string) int {
	if packageType == "container" || packageType == "docker" {
		return 3
	}
	return 1
}

// Deletes reports whether the plan deletes the version.
func (d *Decision) Deletes() bool { return d.Action == policy.Delete }

// Counts are what a run, a policy or a package decided and did. Deferred
// counts the deletions left for the next run: kept by the run cap (rule
// deferred) or not sent by a run that reached its deadline (outcome
// deferred). DeferredPackages were not listed for the same reason.
type Counts struct {
	Versions, Keep, Delete, Deferred int
	DeferredPackages                 int
	Deleted, Failed, Skipped         int
	FreedBytes                       int64
	// Packages counts packages; NotPlanned, those that could not be
	// planned (an error, not a deferral).
	Packages, NotPlanned int
	// SkippedBy and FailedBy count skips and failures by cause; nil when
	// there are none.
	SkippedBy, FailedBy map[Cause]int
	// ListRequests and DeleteRequests are what applying the plan would
	// send: the pages listing the packages' versions, and the deletes
	// with the re-reads of container versions.
	ListRequests, DeleteRequests int
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Versions += o.Versions
	c.Keep += o.Keep
	c.Delete += o.Delete
	c.Deferred += o.Deferred
	c.DeferredPackages += o.DeferredPackages
	c.Deleted += o.Deleted
	c.Failed += o.Failed
	c.Skipped += o.Skipped
	c.FreedBytes += o.FreedBytes
	c.Packages += o.Packages
	c.ListRequests += o.ListRequests
	c.DeleteRequests += o.DeleteRequests
	c.NotPlanned += o.NotPlanned
	c.SkippedBy = addCauses(c.SkippedBy, o.SkippedBy)
	c.FailedBy = addCauses(c.FailedBy, o.FailedBy)
}

func addCauses(into, from map[Cause]int) map[Cause]int {
	for k, n := range from {
		if into == nil {
			into = map[Cause]int{}
		}
		into[k] += n
	}
	return into
}

func inc(m map[Cause]int, k Cause) map[Cause]int {
	if m == nil {
		m = map[Cause]int{}
	}
	m[k]++
	return m
}

// Count counts one package.
func (p *Package) Count() Counts {
	c := Counts{Versions: len(p.Decisions), FreedBytes: p.FreedBytes, Packages: 1}
	switch {
	case errors.Is(p.Err, ErrDeferred):
		c.DeferredPackages = 1
	case p.Err != nil:
		c.NotPlanned = 1
	default:
		c.ListRequests = ListRequests(len(p.Decisions))
	}
	for _, d := range p.Decisions {
		if d.Deletes() {
			c.Delete++
		} else {
			c.Keep++
		}
		if d.Rule == policy.RuleDeferred || d.Outcome == Deferred {
			c.Deferred++
		}
		switch d.Outcome {
		case Deleted:
			c.Deleted++
		case Failed:
			c.Failed++
			c.FailedBy = inc(c.FailedBy, d.Cause)
		case Skipped:
			c.Skipped++
			c.SkippedBy = inc(c.SkippedBy, d.Cause)
		}
	}
	c.DeleteRequests = c.Delete * RequestsPerDelete(p.Type)
	return c
}

// Count counts a policy's packages, those handed out (Sent) included.
func (p *Policy) Count() Counts {
	var c Counts
	c.Add(p.Sent)
	for _, pkg := range p.Packages {
		c.Add(pkg.Count())
	}
	return c
}

// Count counts the whole run.
func (r *Run) Count() Counts {
	var c Counts
	for _, p := range r.Policies {
		c.Add(p.Count())
	}
	return c
}

// RestoreResult is what became of one journaled deletion in a restore.
type RestoreResult string

// Restore results.
const (
	Restored        RestoreResult = "restored"
	RestoreFailed   RestoreResult = "failed"
	Expired         RestoreResult = "expired"          // past the 30-day window: not sent
	AlreadyRestored RestoreResult = "already-restored" // recorded as restored before: not sent
	InProgress      RestoreResult = "in-progress"      // a live restore in another process holds it
	NotDeleted      RestoreResult = "not-deleted"      // the delete never happened
	WouldRestore    RestoreResult = "would-restore"    // dry run
	Unknown         RestoreResult = "unknown"          // an open intent whose outcome GitHub could not tell
)

// RestoreResults lists every restore result, for the documentation and its
// test.
func RestoreResults() []RestoreResult {
	return []RestoreResult{Restored, RestoreFailed, Expired, AlreadyRestored, InProgress, NotDeleted, WouldRestore, Unknown}
}

// Causes lists every cause of a skip or a failure: the reason labels of the
// skipped and failed metrics.
func Causes() []Cause {
	return []Cause{DownloadLimit, LastVersion, ParentKept, AlreadyGone, GainedTag, PackageChanged,
		BudgetSpent, RunDeadline, ServerError, RateLimited, Forbidden, NotFound, Redirected, Cancelled, Other}
}
