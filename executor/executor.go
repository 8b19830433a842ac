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

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
)

// Client is what the executor needs from the GitHub API.
type Client interface {
	DeleteVersion(ctx context.Context, owner githubapi.Owner, packageType, name string, id int64) error
	GetVersion(ctx context.Context, owner githubapi.Owner, packageType, name string, id int64) (githubapi.Version, error)
	RestoreVersion(ctx context.Context, owner githubapi.Owner, packageType, name string, id int64) error
	ListVersions(ctx context.Context, owner githubapi.Owner, packageType, name string, opts githubapi.ListVersionsOptions) (githubapi.VersionList, error)
	NewestVersions(ctx context.Context, owner githubapi.Owner, packageType, name string) ([]githubapi.Version, bool, error)
}

// Executor deletes and restores.
type Executor struct {
	Client  Client
	Journal *journal.Journal
	Pacer   *Pacer
	Clock   clock.Clock
	Logger  *zap.Logger
	// Grace is how long a request already in flight may still take after the
	// run is cancelled, so that it finishes and is journaled (SIGTERM).
	Grace time.Duration
	// Budget, when set, is asked before each delete for the requests it
	// may send, and may wait for the token's rate limit to reset. A
	// *plan.Deferral leaves that delete and every later one for the next
	// run (outcome deferred, not an error); any other error stops the run.
	Budget func(ctx context.Context, requests int) error
	// Done, when set, is called after each planned deletion is carried
	// out, whatever its outcome (for a progress line).
	Done func()
	// MaxConsecutiveFailures stops a run that keeps failing (GitHub down, a
	// token without rights): GitHub may suspend clients that ignore repeated
	// errors. 0 means 5.
	MaxConsecutiveFailures int
}

// ErrTooManyFailures stops a run after MaxConsecutiveFailures failed deletes in a row.
var ErrTooManyFailures = errors.New("too many consecutive failures")

// Why a planned deletion was not carried out, as the error on its decision.
var (
	// ErrAlreadyGone: the version was deleted before this run's request.
	ErrAlreadyGone = errors.New("already deleted before this run's request (by another tool or person): not a deletion of this run")
	// ErrParentKept: an index or subject that refers to it was not deleted.
	ErrParentKept = errors.New("a version that refers to it was not deleted")
	// ErrGainedTag: it was tagged since the plan.
	ErrGainedTag = errors.New("it gained a tag since the plan")
	// ErrPackageChanged: a version was pushed to its package since the plan.
	ErrPackageChanged = errors.New("the package changed since the plan; the next run plans it again")
)

// because is an error that says what happened in its own words and is
// still errors.Is the condition it is an instance of.
type because struct {
	msg  string
	kind error
}

func (b *because) Error() string { return b.msg }
func (b *because) Unwrap() error { return b.kind }

func (e *Executor) log() *zap.Logger {
	if e.Logger == nil {
		return zap.NewNop()
	}
	return e.Logger
}

type task struct {
	pkg   *plan.Package
	d     *plan.Decision
	depth int // 0 for a version no deleted version refers to; parents go first
}

// name is the version's name (the digest of a container version).
func (t task) name() string { return t.d.Version.Name }

// Execute deletes every version pp plans to delete, oldest first, recording
// each outcome on its decision and in the journal under runID. It returns
// an error when the run stopped early (cancelled, too many failures, a rate
// limit that outlasts the client's patience); decisions not attempted then
// have no outcome.
func (e *Executor) Execute(ctx context.Context, runID int64, pp *plan.Policy) error {
	var tasks []task
	for _, pkg := range pp.Packages {
		parents := map[string][]string{}
		for _, d := range pkg.Decisions {
			if d.Deletes() && len(d.Parents) > 0 {
				parents[d.Version.Name] = d.Parents
			}
		}
		depth := depths(parents)
		for _, d := range pkg.Decisions {
			if d.Deletes() {
				tasks = append(tasks, task{pkg, d, depth(d.Version.Name)})
			}
		}
	}
	// Parents before children, so an interrupted run leaves only orphans and
	// never an index pointing at deleted manifests; then oldest first, so
	// what survives a cut-short run is the newer part.
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := tasks[i].d.Version, tasks[j].d.Version
		if tasks[i].depth != tasks[j].depth {
			return tasks[i].depth < tasks[j].depth
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	maxFail := e.MaxConsecutiveFailures
	if maxFail <= 0 {
		maxFail = 5
	}
	failures := 0
	notDeleted := map[*plan.Package]map[string]bool{} // versions whose delete did not happen
	watched := map[*plan.Package]*watch{}             // container packages, checked for pushes since the plan
	for i, t := range tasks {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Tasks run parents first, so a parent's outcome is known here. A
		// child of an index GitHub refused or failed to delete must stay:
		// the index still points at it.
		if blocked := firstIn(t.d.Parents, notDeleted[t.pkg]); blocked != "" {
			t.d.Outcome, t.d.Cause = plan.Skipped, plan.ParentKept
			t.d.Err = &because{"not deleted because " + blocked + ", which refers to it, was not deleted", ErrParentKept}
			markNotDeleted(notDeleted, t)
			e.done()
			continue
		}
		if e.Budget != nil {
			if err := e.Budget(ctx, plan.RequestsPerDelete(t.pkg.Type)); err != nil {
				var d *plan.Deferral
				if !errors.As(err, &d) {
					return err
				}
				deferRest(tasks[i:], d)
				return nil
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
		if isImage(t.pkg.Type) {
			err = e.recheck(ctx, pp.Name, t, watched)
		}
		if err == nil && t.d.Outcome == "" {
			err = e.deleteOne(ctx, runID, pp.Name, t)
		}
		if err != nil {
			return err
		}
		e.done()
		if t.d.Outcome != plan.Deleted {
			markNotDeleted(notDeleted, t)
		}
		if t.d.Outcome == plan.Failed {
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

func (e *Executor) done() {
	if e.Done != nil {
		e.Done()
	}
}

// deferRest leaves tasks for the next run.
func deferRest(tasks []task, d *plan.Deferral) {
	for _, t := range tasks {
		if t.d.Outcome == "" {
			t.d.Outcome, t.d.Cause, t.d.Err = plan.Deferred, d.Cause, d
		}
	}
}

func markNotDeleted(m map[*plan.Package]map[string]bool, t task) {
	if m[t.pkg] == nil {
		m[t.pkg] = map[string]bool{}
	}
	m[t.pkg][t.name()] = true
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
	v := t.d.Version
	log := e.log().With(zap.String("policy", pol), zap.String("package", t.pkg.Name), zap.Int64("version_id", v.ID))
	rctx, done := e.inflight(ctx)
	defer done()
	intent, err := e.Journal.Intend(rctx, journal.Deletion{
		RunID: runID, Policy: pol, OwnerType: t.pkg.Owner.Kind.String(), Owner: t.pkg.OwnerName, PackageType: t.pkg.Type,
		Package: t.pkg.Name, VersionID: v.ID, Version: v.Name, Tags: v.Tags,
		Rule: string(t.d.Rule), Reason: t.d.Reason, RequestedAt: e.Clock.Now(),
	})
	if err != nil {
		// Nothing is sent that is not journaled first.
		return fmt.Errorf("journal before delete: %w", err)
	}
	err = e.Client.DeleteVersion(rctx, t.pkg.Owner, t.pkg.Type, t.pkg.Name, v.ID)
	err, unknown, gone := e.settle(rctx, t, err)
	now := e.Clock.Now()
	state := journal.StateDeleted
	switch {
	case gone:
		state = journal.StateGone
		t.d.Outcome, t.d.Cause, t.d.Err = plan.Skipped, plan.AlreadyGone, ErrAlreadyGone
		log.Info("version already gone", zap.String("version", v.Name))
	case err == nil:
		t.d.Outcome = plan.Deleted
		until := now.Add(journal.RestoreWindow)
		t.d.RestorableUntil = &until
		log.Info("version deleted", zap.String("version", v.Name), zap.String("rule", string(t.d.Rule)))
	case errors.Is(err, githubapi.ErrDownloadLimit), errors.Is(err, githubapi.ErrLastVersion):
		state = journal.StateSkipped
		t.d.Outcome, t.d.Cause, t.d.Err = plan.Skipped, plan.LastVersion, err
		if errors.Is(err, githubapi.ErrDownloadLimit) {
			t.d.Cause = plan.DownloadLimit
			t.d.Err = &because{"GitHub refuses to delete a public version with more than 5,000 downloads", err}
			if rerr := e.Journal.RecordRefusal(rctx, journal.VersionKey{OwnerType: t.pkg.Owner.Kind.String(), Owner: t.pkg.OwnerName,
				PackageType: t.pkg.Type, Package: t.pkg.Name, VersionID: v.ID}, string(policy.RuleDownloadLimit), now); rerr != nil {
				log.Warn("refusal not recorded", zap.Error(rerr))
			}
		}
		log.Info("delete refused by GitHub", zap.String("reason", string(t.d.Cause)))
	default:
		state = journal.StateFailed
		t.d.Outcome, t.d.Cause, t.d.Err = plan.Failed, failCause(err), err
		log.Warn("delete failed", zap.Error(err))
	}
	if unknown {
		t.d.Err = &because{"outcome unknown (" + t.d.Err.Error() + "): the journal keeps the intent open to reconcile", t.d.Err}
		state = journal.StateIntent
	}
	msg := ""
	if t.d.Err != nil {
		msg = t.d.Err.Error()
	}
	if cerr := e.Journal.Complete(rctx, intent, state, msg, now); cerr != nil {
		return fmt.Errorf("journal after delete: %w", cerr)
	}
	if stopsRun(err) {
		return fmt.Errorf("stop run: %w", err)
	}
	return nil
}

// settle makes sense of a DELETE's answer. A 404 means gone already, or a
// token without admin rights (GitHub answers 404 to both): the version is
// read back. Gone before this request, it is no deletion of this run; but a
// 404 to a resent DELETE may follow a first attempt that did delete it,
// which is then this run's. An answer after which GitHub may still have
// deleted (a 5xx after retries, a broken connection, a cancel) is checked
// the same way. unknown means GitHub could not tell: the intent stays open.
func (e *Executor) settle(ctx context.Context, t task, err error) (_ error, unknown, gone bool) {
	switch {
	case errors.Is(err, githubapi.ErrNotFound):
		gerr := e.confirmGone(ctx, t)
		switch {
		case gerr == nil:
			return nil, false, !resent(err)
		case errors.Is(gerr, errStillThere):
			return gerr, false, false
		default:
			return gerr, true, false
		}
	case err != nil && (ambiguous(err) || resent(err)):
		gerr := e.confirmGone(ctx, t)
		switch {
		case gerr == nil:
			return nil, false, false
		case errors.Is(gerr, errStillThere):
			return err, false, false
		default:
			return err, true, false
		}
	}
	return err, false, false
}

// isImage reports a package type whose versions are manifests with tags.
func isImage(packageType string) bool { return packageType == "container" || packageType == "docker" }

// recheck reads a container version again right before its delete: tags
// move while a run goes on (an old digest promoted with a new tag, a
// signature pushed for it), and a plan made minutes ago must not act on
// tags older than the run. A version that gained a tag, or is gone, is
// skipped; one that cannot be read is not deleted. Its error is only for
// failures that stop the run.
func (e *Executor) recheck(ctx context.Context, pol string, t task, watched map[*plan.Package]*watch) error {
	owner := t.pkg.Owner
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
		newest, complete, err := e.Client.NewestVersions(ctx, owner, t.pkg.Type, t.pkg.Name)
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
				zap.String("policy", pol), zap.String("package", t.pkg.Name), zap.String("why", w.changed))
		}
	}
	if w.changed != "" {
		t.d.Outcome, t.d.Cause = plan.Skipped, plan.PackageChanged
		t.d.Err = &because{"not deleted: the package changed since the plan (" + w.changed + "); the next run plans it again", ErrPackageChanged}
		return nil
	}
	var v githubapi.Version
	var err error
	if whole != nil {
		// The page just read holds the whole package: no need to ask for
		// the version itself.
		err = fmt.Errorf("not among the package's versions: %w", githubapi.ErrNotFound)
		for _, x := range whole {
			if x.ID == t.d.Version.ID {
				v, err = x, nil
			}
		}
	} else {
		v, err = e.Client.GetVersion(ctx, owner, t.pkg.Type, t.pkg.Name, t.d.Version.ID)
	}
	switch {
	case errors.Is(err, githubapi.ErrNotFound):
		t.d.Outcome, t.d.Cause, t.d.Err = plan.Skipped, plan.AlreadyGone, ErrAlreadyGone
		return nil
	case err != nil:
		t.d.Outcome, t.d.Cause = plan.Failed, failCause(err)
		t.d.Err = &because{"not deleted: could not read it again before deleting: " + err.Error(), err}
		if stopsRun(err) {
			return fmt.Errorf("stop run: %w", err)
		}
		return nil
	}
	for _, tag := range v.Tags {
		if !slices.Contains(t.d.Version.Tags, tag) {
			t.d.Outcome, t.d.Cause = plan.Skipped, plan.GainedTag
			t.d.Err = &because{"not deleted: it gained tag " + strconv.Quote(tag) + " since the plan", ErrGainedTag}
			e.log().Info("version gained a tag since the plan; not deleted", zap.String("policy", pol),
				zap.String("package", t.pkg.Name), zap.Int64("version_id", t.d.Version.ID), zap.String("tag", tag))
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

func newWatch(pkg *plan.Package) *watch {
	if pkg.Listed != nil {
		w := &watch{planned: make(map[int64]bool, len(pkg.Listed))}
		for _, id := range pkg.Listed {
			w.planned[id] = true
		}
		return w
	}
	w := &watch{planned: make(map[int64]bool, len(pkg.Decisions))}
	for _, d := range pkg.Decisions {
		w.planned[d.Version.ID] = true
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
func (e *Executor) confirmGone(ctx context.Context, t task) error {
	_, err := e.Client.GetVersion(ctx, t.pkg.Owner, t.pkg.Type, t.pkg.Name, t.d.Version.ID)
	switch {
	case errors.Is(err, githubapi.ErrNotFound):
		return nil
	case err == nil:
		return fmt.Errorf("%w: GitHub answered 404 to the delete but the version exists: the token needs admin rights on package %q", errStillThere, t.pkg.Name)
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

// failCause classifies a failed delete for the failed metric.
func failCause(err error) plan.Cause {
	switch {
	case errors.Is(err, githubapi.ErrServer):
		return plan.ServerError
	case errors.Is(err, githubapi.ErrPrimaryRateLimit), errors.Is(err, githubapi.ErrSecondaryRateLimit):
		return plan.RateLimited
	case errors.Is(err, githubapi.ErrForbidden), errors.Is(err, githubapi.ErrMissingScope), errors.Is(err, githubapi.ErrBadCredentials):
		return plan.Forbidden
	case errors.Is(err, githubapi.ErrNotFound), errors.Is(err, errStillThere):
		return plan.NotFound
	case errors.Is(err, githubapi.ErrRedirect):
		return plan.Redirected
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return plan.Cancelled
	}
	return plan.Other
}

// apiOwner rebuilds the API owner from a journal row's owner kind.
func apiOwner(kind, name string) githubapi.Owner {
	switch kind {
	case "self":
		return githubapi.Self()
	case "user":
		return githubapi.User(name)
	}
	return githubapi.Org(name)
}
