package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/snapshot"
)

// Snapshot reads what plans of pols read, through a snapshot.Recorder in
// the planner's place, and returns it: the packages the policies select,
// their versions, the journal's download-limit memory, and the manifests
// of every container package (from the journal's cache where it has
// them), so that later plans at other times or with other rules find what
// they need. It costs what a plan costs, within the budget and
// max_run_duration. A package that could not be read is left out, and
// its error is in the returned list.
func (e *Engine) Snapshot(ctx context.Context, pols []*policy.Policy) (*snapshot.Snapshot, []error) {
	return e.SnapshotOf(ctx, pols, true)
}

// SnapshotOf is Snapshot, reading the manifests of every container
// package when allManifests, else only those a plan of pols reads (of the
// packages it deletes from): enough for plans at the snapshot's time of
// pols, not for plans at later times or with other rules.
func (e *Engine) SnapshotOf(ctx context.Context, pols []*policy.Policy, allManifests bool) (*snapshot.Snapshot, []error) {
	if e.client == nil {
		return nil, []error{usage(ErrOffline)}
	}
	cfg := e.cfg.Load()
	start := e.clock.Now()
	snap := snapshot.New(cfg.GitHub.APIURL, start)
	rec := &snapshot.Recorder{S: snap, Client: e.client}
	pl := *e.planner
	pl.Client, pl.AllManifests = rec, allManifests
	if e.registry != nil {
		rec.Registry, pl.Registry = e.registry, rec
	}
	if e.journal != nil {
		rec.Facts, rec.Cache = e.journal, e.journal
		pl.Facts, pl.Cache = rec, rec
	}
	b := &budget{e: e, share: cfg.Limits.BudgetShare, deadline: start.Add(time.Duration(cfg.Limits.MaxRunDuration))}
	pl.Budget = b.wait
	var errs []error
	for _, p := range pols {
		_, err := pl.Each(ctx, p, policy.ModePlan, start, func(pkg *plan.Package) error {
			if pkg.Err != nil {
				errs = append(errs, fmt.Errorf("policy %s, package %q: %w", p.Name, pkg.Name, pkg.Err))
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %s: %w", p.Name, err))
		}
		if ctx.Err() != nil {
			return snap, append(errs, ctx.Err())
		}
	}
	return snap, errs
}

// Offline reports whether the engine plans from a snapshot.
func (e *Engine) Offline() bool { return e.snapshot != nil }
