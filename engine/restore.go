package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/plan"
)

// Selector picks the journaled deletions a restore brings back; zero fields
// do not narrow.
type Selector struct {
	RunID     int64
	VersionID int64
	Owner     string
	Package   string
	Tag       string
	Version   string
	Since     time.Time // deleted (or, for an open intent, asked) at or after
}

// RestoreRun is what a restore did, or with DryRun what it would do.
type RestoreRun struct {
	// RunID is the restore's journaled run; 0 for a dry run.
	RunID   int64
	DryRun  bool
	Results []executor.RestoreResult
	// Matched, Restored and Failed count Results (Failed counts the failed,
	// expired and unknown); Inactive counts the versions GitHub does not
	// show as active afterwards.
	Matched, Restored, Failed, Inactive int
	// Err says why the restore stopped early; VerifyErr why GitHub could
	// not be asked afterwards.
	Err, VerifyErr error
}

// OK reports a restore that brought back every version it matched: each
// is active on GitHub afterwards, whoever restored it.
func (r *RestoreRun) OK() bool {
	return r.Err == nil && r.VerifyErr == nil && r.Failed == 0 && r.Inactive == 0
}

// Restore brings back the deletions sel picks. Open intents are matched
// too: a restore settles them against GitHub first (a dry run only asks),
// so the dry run and the real one see the same versions. A restore is
// journaled as a run of its own, takes no enforcing lock (on-call restores
// beside the daemon: each row is claimed by the restore run that sends it),
// and ends by asking GitHub whether every matched version is active. The
// error, wrapping ErrUsage, says the selector cannot be used (an unknown
// run, an ambiguous package); what the restore itself met is in the result.
func (e *Engine) Restore(ctx context.Context, sel Selector, dryRun bool) (*RestoreRun, error) {
	if e.client == nil {
		return nil, usage(ErrOffline)
	}
	if err := e.checkRun(ctx, sel.RunID); err != nil {
		return nil, err
	}
	rows, err := e.journal.Deletions(ctx, journal.Filter{RunID: sel.RunID, VersionID: sel.VersionID, Owner: sel.Owner,
		Package: sel.Package, Tag: sel.Tag, Version: sel.Version, Since: sel.Since,
		States: []string{journal.StateDeleted, journal.StateIntent}})
	if err != nil {
		return nil, err
	}
	if err := ambiguousOwner(sel, rows); err != nil {
		return nil, err
	}
	// A version deleted by a killed run is restorable too: settle open
	// intents (in a dry run, only find out how they would be settled).
	rec, err := e.exec.Reconcile(ctx, dryRun)
	if err != nil {
		e.warn(err.Error())
	}
	for i := range rows {
		if settled, ok := rec.Settled[rows[i].ID]; ok {
			rows[i] = settled
		}
	}
	out := &RestoreRun{DryRun: dryRun, Matched: len(rows)}
	if !dryRun {
		out.RunID, err = e.journal.StartRun(ctx, journal.Run{Kind: "restore", Mode: "restore", Trigger: TriggerCLI, Actor: "cli", StartedAt: e.clock.Now()})
		if err != nil {
			return nil, err
		}
	}
	out.Results, out.Err = e.exec.Restore(ctx, out.RunID, rows, dryRun)
	if !dryRun && out.Err == nil {
		// Success is every matched version active on GitHub afterwards,
		// whoever brought it back: ask GitHub rather than trust the answers.
		out.VerifyErr = e.exec.VerifyActive(ctx, out.Results)
	}
	out.count()
	if !dryRun {
		e.finishRestore(ctx, out)
	}
	return out, nil
}

func (r *RestoreRun) count() {
	for _, res := range r.Results {
		switch res.Result {
		case plan.RestoreFailed, plan.Expired, plan.Unknown:
			r.Failed++
		case plan.Restored:
			r.Restored++
		}
		if res.Active != nil && !*res.Active {
			r.Inactive++
		}
	}
}

// finishRestore journals the restore run's end and publishes its results.
func (e *Engine) finishRestore(ctx context.Context, r *RestoreRun) {
	fin := e.clock.Now()
	status := journal.RunSucceeded
	if !r.OK() {
		status = journal.RunFailed
	}
	if err := e.journal.FinishRun(context.WithoutCancel(ctx), journal.Run{ID: r.RunID, FinishedAt: &fin, Status: status,
		Planned: r.Matched, Restored: r.Restored, Failed: r.Failed, APIRequests: e.client.Requests()}); err != nil && r.Err == nil {
		r.Err = err
	}
	byResult := map[plan.RestoreResult]int{}
	for _, res := range r.Results {
		byResult[res.Result]++
	}
	e.metrics.Restored(byResult)
}

// checkRun makes a run id the journal lacks a usage error: "0 matched"
// would read as "nothing to do".
func (e *Engine) checkRun(ctx context.Context, id int64) error {
	return checkRun(ctx, e.journal, id)
}

func checkRun(ctx context.Context, j *journal.Journal, id int64) error {
	if id == 0 {
		return nil
	}
	if _, err := j.Run(ctx, id); err != nil {
		if errors.Is(err, journal.ErrNoRun) {
			return usage(fmt.Errorf("the journal %s has no run %d (ghprune history lists the runs)", j.Path(), id))
		}
		return err
	}
	return nil
}

// ambiguousOwner refuses a restore by package name (or time) alone that
// matches the name under two owners, before restoring more than was meant.
func ambiguousOwner(sel Selector, rows []journal.Deletion) error {
	if sel.RunID != 0 || sel.VersionID != 0 || sel.Owner != "" || sel.Package == "" {
		return nil
	}
	owners := map[string]bool{}
	for _, d := range rows {
		owners[d.OwnerType+" "+d.Owner+"/"+d.PackageType] = true
	}
	if len(owners) < 2 {
		return nil
	}
	list := make([]string, 0, len(owners))
	for o := range owners {
		list = append(list, o)
	}
	sort.Strings(list)
	return usage(fmt.Errorf("package %q matches under %s: add -owner", sel.Package, strings.Join(list, ", ")))
}
