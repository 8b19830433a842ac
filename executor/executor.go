// Package executor carries out planned deletions and restores against GitHub:
// one mutation at a time at the configured pace, each delete journaled as an
// intent before it is sent and completed after the answer. A refusal GitHub
// gives for a good reason (the download limit, the last version) skips that
// version and the run goes on.
package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/metrics"
	"github.com/ghprune/ghprune/report"
)

// Client is what the executor needs from the GitHub API.
type Client interface {
	DeleteVersion(ctx context.Context, owner githubapi.Owner, packageType, name string, id int64) error
	GetVersion(ctx context.Context, owner githubapi.Owner, packageType, name string, id int64) (githubapi.Version, error)
	RestoreVersion(ctx context.Context, owner githubapi.Owner, packageType, name string, id int64) error
	ListVersions(ctx context.Context, owner githubapi.Owner, packageType, name string, opts githubapi.ListVersionsOptions) (githubapi.VersionList, error)
	NewestVersions(ctx context.Context, owner githubapi.Owner, packageType, name string) ([]githubapi.Version, bool, error)
}

// Pacer spaces mutations: GitHub asks for at least a second between mutative
// requests, and its secondary limit allows at most 180 deletes a minute. One
// Pacer is shared by everything that mutates with the same token.
type Pacer struct {
	lim   *rate.Limiter
	clock clock.Clock
}

// NewPacer allows perMinute mutations a minute, with no burst.
func NewPacer(perMinute float64, clk clock.Clock) *Pacer {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Pacer{lim: rate.NewLimiter(rate.Limit(perMinute/60), 1), clock: clk}
}

// Wait blocks until the next mutation may be sent.
func (p *Pacer) Wait(ctx context.Context) error {
	now := p.clock.Now()
	r := p.lim.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("pacer refuses a mutation")
	}
	if err := p.clock.Sleep(ctx, r.DelayFrom(now)); err != nil {
		r.CancelAt(p.clock.Now())
		return err
	}
	return nil
}

// Executor deletes and restores.
type Executor struct {
	Client  Client
	Journal *journal.Journal
	Pacer   *Pacer
	Clock   clock.Clock
	Logger  *zap.Logger
	Metrics *metrics.Metrics
	// Grace is how long a request already in flight may still take after the
	// run is cancelled, so that it finishes and is journaled (SIGTERM).
	Grace time.Duration
	// Budget, when set, is asked before each delete; an error stops the run
	// (the rest stays for the next run).
	Budget func() error
	// MaxConsecutiveFailures stops a run that keeps failing (GitHub down, a
	// token without rights): GitHub may suspend clients that ignore repeated
	// errors. 0 means 5.
	MaxConsecutiveFailures int
}

// ErrTooManyFailures stops a run after MaxConsecutiveFailures failed deletes in a row.
var ErrTooManyFailures = errors.New("too many consecutive failures")

func (e *Executor) log() *zap.Logger {
	if e.Logger == nil {
		return zap.NewNop()
	}
	return e.Logger
}

type task struct {
	pkg   *report.Package
	d     *report.Decision
	depth int // 0 for a version no deleted version refers to; parents go first
}

// Execute deletes every version pr plans to delete, oldest first, recording
// each outcome on its decision and in the journal under runID. It returns
// an error when the run stopped early (cancelled, too many failures, a rate
// limit that outlasts the client's patience); decisions not attempted then
// have no outcome.
func (e *Executor) Execute(ctx context.Context, runID int64, pr *report.Policy) error {
	var tasks []task
	for _, pkg := range pr.Packages {
		parents := map[string][]string{}
		for _, d := range pkg.Decisions {
			if d.Action == "delete" && len(d.Parents) > 0 {
				parents[d.Version] = d.Parents
			}
		}
		depth := depths(parents)
		for _, d := range pkg.Decisions {
			if d.Action == "delete" {
				tasks = append(tasks, task{pkg, d, depth(d.Version)})
			}
		}
	}
	// Parents before children, so an interrupted run leaves only orphans and
	// never an index pointing at deleted manifests; then oldest first, so
	// what survives a cut-short run is the newer part.
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := tasks[i].d, tasks[j].d
		if tasks[i].depth != tasks[j].depth {
			return tasks[i].depth < tasks[j].depth
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.VersionID < b.VersionID
	})
	maxFail := e.MaxConsecutiveFailures
	if maxFail <= 0 {
		maxFail = 5
	}
	failures := 0
	notDeleted := map[*report.Package]map[string]bool{} // versions whose delete did not happen
	watched := map[*report.Package]*watch{}             // container packages, checked for pushes since the plan
	for _, t := range tasks {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Tasks run parents first, so a parent's outcome is known here. A
		// child of an index GitHub refused or failed to delete must stay:
		// the index still points at it.
		if blocked := firstIn(t.d.Parents, notDeleted[t.pkg]); blocked != "" {
			t.d.Outcome = report.OutcomeSkipped
			t.d.Error = "not deleted because " + blocked + ", which refers to it, was not deleted"
			markNotDeleted(notDeleted, t)
			e.count(pr.Policy, "skipped", "parent_kept")
			continue
		}
		if e.Budget != nil {
			if err := e.Budget(); err != nil {
				return err
			}
		}
		if err := e.Pacer.Wait(ctx); err != nil {
			return err
		}
		// The journal is the only way back: a journal deleted or replaced
		// under the run would take every later delete's record with it.
		if err := e.Journal.CheckFile(); err != nil {
			return fmt.Errorf("stop before the next delete: %w", err)
		}
		var err error
		if isImage(t.pkg.PackageType) {
			err = e.recheck(ctx, pr.Policy, t, watched)
		}
		if err == nil && t.d.Outcome == "" {
			err = e.deleteOne(ctx, runID, pr.Policy, t)
		}
		if err != nil {
			return err
		}
		if t.d.Outcome != report.OutcomeDeleted {
			markNotDeleted(notDeleted, t)
		}
		if t.d.Outcome == report.OutcomeFailed {
			failures++
			if failures >= maxFail {
				return fmt.Errorf("stopped after %d failed deletes in a row: %w", failures, ErrTooManyFailures)
			}
		} else {
			failures = 0
		}
	}
	return nil
}

func markNotDeleted(m map[*report.Package]map[string]bool, t task) {
	if m[t.pkg] == nil {
		m[t.pkg] = map[string]bool{}
	}
	m[t.pkg][t.d.Version] = true
}

func firstIn(names []string, set map[string]bool) string {
	for _, n := range names {
		if set[n] {
			return n
		}
	}
	return ""
}

// depths returns each version's longest chain of deleted parents, so that
// ordering by depth puts every parent before all its children.
func depths(parents map[string][]string) func(string) int {
	memo := map[string]int{}
	visiting := map[string]bool{}
	var depth func(string) int
	depth = func(v string) int {
		if d, ok := memo[v]; ok {
			return d
		}
		if visiting[v] { // a contrived cycle: cut it
			return 0
		}
		visiting[v] = true
		best := 0
		for _, p := range parents[v] {
			best = max(best, depth(p)+1)
		}
		visiting[v] = false
		memo[v] = best
		return best
	}
	return depth
}

// inflight returns a context for a request that outlives ctx's cancellation
// by Grace, so a delete already sent is answered and journaled.
func (e *Executor) inflight(ctx context.Context) (context.Context, context.CancelFunc) {
	grace := e.Grace
	if grace <= 0 {
		grace = 20 * time.Second
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return rctx, func() { stop(); cancel() }
}

// deleteOne journals, sends and records one delete. Its error is only for
// failures that must stop the run (the journal cannot be written, a rate
// limit outlasting the client's waits); GitHub's refusals and failures are
// outcomes on the decision.
func (e *Executor) deleteOne(ctx context.Context, runID int64, pol string, t task) error {
	owner := apiOwner(t.pkg.APIOwner, t.pkg.Owner)
	log := e.log().With(zap.String("policy", pol), zap.String("package", t.pkg.Package), zap.Int64("version_id", t.d.VersionID))
	rctx, done := e.inflight(ctx)
	defer done()
	intent, err := e.Journal.Intend(rctx, journal.Deletion{
		RunID: runID, Policy: pol, OwnerType: t.pkg.APIOwner, Owner: t.pkg.Owner, PackageType: t.pkg.PackageType,
		Package: t.pkg.Package, VersionID: t.d.VersionID, Version: t.d.Version, Tags: t.d.Tags,
		Rule: t.d.Rule, Reason: t.d.Reason, RequestedAt: e.Clock.Now(),
	})
	if err != nil {
		// Nothing is sent that is not journaled first.
		return fmt.Errorf("journal before delete: %w", err)
	}
	err = e.Client.DeleteVersion(rctx, owner, t.pkg.PackageType, t.pkg.Package, t.d.VersionID)
	unknown, gone := false, false
	switch {
	case errors.Is(err, githubapi.ErrNotFound):
		// Gone already, or a token without admin rights (GitHub answers 404
		// to both): read it back. Gone before this request, it is no
		// deletion of this run; but a 404 to a resent DELETE may follow a
		// first attempt that did delete it, which is then this run's.
		gerr := e.confirmGone(rctx, owner, t)
		switch {
		case gerr == nil:
			err, gone = nil, !resent(err)
		case errors.Is(gerr, errStillThere):
			err = gerr
		default:
			err, unknown = gerr, true // cannot tell: the intent stays open for reconciliation
		}
	case err != nil && (ambiguous(err) || resent(err)):
		// The DELETE may have been carried out though no answer said so
		// (a 5xx after retries, a broken connection, a cancel): ask.
		if gerr := e.confirmGone(rctx, owner, t); gerr == nil {
			err = nil
		} else if !errors.Is(gerr, errStillThere) {
			unknown = true // cannot tell: the intent stays open for reconciliation
		}
	}
	now := e.Clock.Now()
	state, reason := journal.StateDeleted, ""
	switch {
	case gone:
		state, reason = journal.StateGone, "already_gone"
		t.d.Outcome, t.d.Error = report.OutcomeSkipped, "already deleted before this run's request (by another tool or person): not a deletion of this run"
		e.count(pol, "skipped", reason)
		log.Info("version already gone", zap.String("version", t.d.Version))
	case err == nil:
		t.d.Outcome = report.OutcomeDeleted
		until := now.Add(journal.RestoreWindow)
		t.d.RestorableUntil = &until
		e.count(pol, "deleted", "")
		log.Info("version deleted", zap.String("version", t.d.Version), zap.String("rule", t.d.Rule))
	case errors.Is(err, githubapi.ErrDownloadLimit), errors.Is(err, githubapi.ErrLastVersion):
		state, reason = journal.StateSkipped, "last_version"
		t.d.Outcome, t.d.Error = report.OutcomeSkipped, err.Error()
		if errors.Is(err, githubapi.ErrDownloadLimit) {
			reason = "download_limit"
			t.d.Error = "GitHub refuses to delete a public version with more than 5,000 downloads"
			if rerr := e.Journal.RecordRefusal(rctx, journal.VersionKey{OwnerType: t.pkg.APIOwner, Owner: t.pkg.Owner,
				PackageType: t.pkg.PackageType, Package: t.pkg.Package, VersionID: t.d.VersionID}, "download-limit", now); rerr != nil {
				log.Warn("refusal not recorded", zap.Error(rerr))
			}
		}
		e.count(pol, "skipped", reason)
		log.Info("delete refused by GitHub", zap.String("reason", reason))
	default:
		state = journal.StateFailed
		t.d.Outcome, t.d.Error = report.OutcomeFailed, err.Error()
		e.count(pol, "failed", failReason(err))
		log.Warn("delete failed", zap.Error(err))
	}
	if unknown {
		t.d.Error = "outcome unknown (" + t.d.Error + "): the journal keeps the intent open to reconcile"
		state = journal.StateIntent
	}
	if cerr := e.Journal.Complete(rctx, intent, state, t.d.Error, now); cerr != nil {
		return fmt.Errorf("journal after delete: %w", cerr)
	}
	if stopsRun(err) {
		return fmt.Errorf("stop run: %w", err)
	}
	return nil
}

// isImage reports a package type whose versions are manifests with tags.
func isImage(packageType string) bool { return packageType == "container" || packageType == "docker" }

// recheck reads a container version again right before its delete: tags
// move while a run goes on (an old digest promoted with a new tag, a
// signature pushed for it), and a plan made minutes ago must not act on
// tags older than the run. A version that gained a tag, or is gone, is
// skipped; one that cannot be read is not deleted. Its error is only for
// failures that stop the run.
func (e *Executor) recheck(ctx context.Context, pol string, t task, watched map[*report.Package]*watch) error {
	owner := apiOwner(t.pkg.APIOwner, t.pkg.Owner)
	w := watched[t.pkg]
	if w == nil {
		w = newWatch(t.pkg)
		watched[t.pkg] = w
	}
	// A version pushed since the plan (an index, a signature) may refer to
	// this one, and only a new plan reads its manifest: the rest of the
	// package waits for the next run. The newest page is revalidated with
	// its ETag, so an unchanged package costs a 304.
	var whole []githubapi.Version // the package's every version, when its first page holds them all
	if w.changed == "" {
		newest, complete, err := e.Client.NewestVersions(ctx, owner, t.pkg.PackageType, t.pkg.Package)
		if complete {
			whole = newest
		}
		switch {
		case err != nil:
			w.changed = "its newest versions could not be read again: " + err.Error()
			if stopsRun(err) {
				return fmt.Errorf("stop run: %w", err)
			}
		default:
			for _, v := range newest {
				if !w.planned[v.ID] {
					w.changed = fmt.Sprintf("version %d was pushed since the plan", v.ID)
					break
				}
			}
		}
		if w.changed != "" {
			e.log().Info("package changed since the plan; its remaining deletions wait for the next run",
				zap.String("policy", pol), zap.String("package", t.pkg.Package), zap.String("why", w.changed))
		}
	}
	if w.changed != "" {
		t.d.Outcome, t.d.Error = report.OutcomeSkipped, "not deleted: the package changed since the plan ("+w.changed+"); the next run plans it again"
		e.count(pol, "skipped", "package_changed")
		return nil
	}
	var v githubapi.Version
	var err error
	if whole != nil {
		// The page just read holds the whole package: no need to ask for
		// the version itself.
		err = fmt.Errorf("not among the package's versions: %w", githubapi.ErrNotFound)
		for _, x := range whole {
			if x.ID == t.d.VersionID {
				v, err = x, nil
			}
		}
	} else {
		v, err = e.Client.GetVersion(ctx, owner, t.pkg.PackageType, t.pkg.Package, t.d.VersionID)
	}
	switch {
	case errors.Is(err, githubapi.ErrNotFound):
		t.d.Outcome, t.d.Error = report.OutcomeSkipped, "already deleted before this run's request (by another tool or person): not a deletion of this run"
		e.count(pol, "skipped", "already_gone")
		return nil
	case err != nil:
		t.d.Outcome, t.d.Error = report.OutcomeFailed, "not deleted: could not read it again before deleting: "+err.Error()
		e.count(pol, "failed", failReason(err))
		if stopsRun(err) {
			return fmt.Errorf("stop run: %w", err)
		}
		return nil
	}
	for _, tag := range v.Tags {
		if !slices.Contains(t.d.Tags, tag) {
			t.d.Outcome, t.d.Error = report.OutcomeSkipped, "not deleted: it gained tag "+strconv.Quote(tag)+" since the plan"
			e.count(pol, "skipped", "gained_tag")
			e.log().Info("version gained a tag since the plan; not deleted", zap.String("policy", pol),
				zap.String("package", t.pkg.Package), zap.Int64("version_id", t.d.VersionID), zap.String("tag", tag))
			return nil
		}
	}
	return nil
}

// watch is what a run knows of a container package while it deletes from
// it: the versions its plan listed, and why (once) the package changed.
type watch struct {
	planned map[int64]bool
	changed string // "" while unchanged
}

func newWatch(pkg *report.Package) *watch {
	w := &watch{planned: make(map[int64]bool, len(pkg.Decisions))}
	for _, d := range pkg.Decisions {
		w.planned[d.VersionID] = true
	}
	return w
}

// stopsRun reports an error after which no further request of the run
// should be sent: the limits, or a token GitHub refuses.
func stopsRun(err error) bool {
	return errors.Is(err, githubapi.ErrPrimaryRateLimit) || errors.Is(err, githubapi.ErrSecondaryRateLimit) ||
		errors.Is(err, githubapi.ErrBadCredentials) || errors.Is(err, githubapi.ErrMissingScope)
}

// confirmGone tells an already-deleted version (a retried DELETE whose first
// attempt succeeded, or another tool's delete: done) from GitHub's 404 for a
// token without admin rights on the package (the version is still there).
func (e *Executor) confirmGone(ctx context.Context, owner githubapi.Owner, t task) error {
	_, err := e.Client.GetVersion(ctx, owner, t.pkg.PackageType, t.pkg.Package, t.d.VersionID)
	switch {
	case errors.Is(err, githubapi.ErrNotFound):
		return nil
	case err == nil:
		return fmt.Errorf("%w: GitHub answered 404 to the delete but the version exists: the token needs admin rights on package %q", errStillThere, t.pkg.Package)
	default:
		return fmt.Errorf("delete answered 404 and the version could not be checked: %w", err)
	}
}

// errStillThere: the version was read back after a failed delete.
var errStillThere = errors.New("version still exists")

// resent reports an answer to a DELETE that was sent again after an
// attempt without a clear answer, which may have been carried out.
func resent(err error) bool {
	var apiErr *githubapi.APIError
	return errors.As(err, &apiErr) && apiErr.Resent
}

// ambiguous reports a failure after which GitHub may still have deleted.
func ambiguous(err error) bool {
	return errors.Is(err, githubapi.ErrServer) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		!(errors.Is(err, githubapi.ErrInvalid) || errors.Is(err, githubapi.ErrForbidden) || errors.Is(err, githubapi.ErrMissingScope) ||
			errors.Is(err, githubapi.ErrBadCredentials) || errors.Is(err, githubapi.ErrPrimaryRateLimit) || errors.Is(err, githubapi.ErrSecondaryRateLimit) ||
			errors.Is(err, githubapi.ErrDownloadLimit) || errors.Is(err, githubapi.ErrLastVersion))
}

func (e *Executor) count(pol, outcome, reason string) {
	if e.Metrics == nil {
		return
	}
	switch outcome {
	case "deleted":
		e.Metrics.VersionsDeleted.WithLabelValues(pol).Inc()
	case "skipped":
		e.Metrics.VersionsSkipped.WithLabelValues(pol, reason).Inc()
	case "failed":
		e.Metrics.VersionsFailed.WithLabelValues(pol, reason).Inc()
	}
}

func failReason(err error) string {
	switch {
	case errors.Is(err, githubapi.ErrServer):
		return "server_error"
	case errors.Is(err, githubapi.ErrPrimaryRateLimit), errors.Is(err, githubapi.ErrSecondaryRateLimit):
		return "rate_limited"
	case errors.Is(err, githubapi.ErrForbidden), errors.Is(err, githubapi.ErrMissingScope), errors.Is(err, githubapi.ErrBadCredentials):
		return "forbidden"
	case errors.Is(err, githubapi.ErrNotFound):
		return "not_found"
	case errors.Is(err, githubapi.ErrRedirect):
		return "redirected"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "other"
}

// apiOwner rebuilds the API owner from a report's or journal's owner kind.
func apiOwner(kind, name string) githubapi.Owner {
	switch kind {
	case "self":
		return githubapi.Self()
	case "user":
		return githubapi.User(name)
	}
	return githubapi.Org(name)
}
