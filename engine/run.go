package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/metrics"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
)

// Triggers say what started a run; the journal records it.
const (
	TriggerCLI      = "cli"
	TriggerSchedule = "schedule"
)

// ErrPackagesNotPlanned fails a policy some of whose packages could not be
// listed: nothing in those was touched, but the run did not do its job.
var ErrPackagesNotPlanned = errors.New("some packages could not be planned")

// ErrDeletesFailed fails a policy some of whose deletes failed.
var ErrDeletesFailed = errors.New("deletes failed")

// Plan decides every version of the selected packages of pols now. It sends
// only GETs and journals nothing. The run comes back whatever happens; the
// error says it failed (a policy or a package could not be planned).
func (e *Engine) Plan(ctx context.Context, pols []*policy.Policy) (*plan.Run, error) {
	return e.run(ctx, pols, false, TriggerCLI)
}

// Apply runs pols once: the enforce policies among them delete what they
// plan, the others are planned. An enforcing run holds the journal's lock,
// settles what a stopped run left open, is journaled, and prunes the journal
// when it ends. The run comes back whatever happens; the error says it
// failed (exit 1), or that nothing was planned at all (run.Policies empty:
// the journal is locked by another enforcing process, say).
func (e *Engine) Apply(ctx context.Context, pols []*policy.Policy, trigger string) (*plan.Run, error) {
	return e.run(ctx, pols, true, trigger)
}

func (e *Engine) run(ctx context.Context, pols []*policy.Policy, apply bool, trigger string) (*plan.Run, error) {
	cfg := e.cfg.Load() // one config for the whole run, whatever a reload does
	start := e.clock.Now()
	startReqs, startFetches := e.client.Requests(), e.registry.Fetches()
	run := &plan.Run{Mode: policy.ModePlan, StartedAt: start}
	enforce := false
	var names []string
	for _, p := range pols {
		names = append(names, p.Name)
		enforce = enforce || (apply && cfg.EffectiveMode(p) == policy.ModeEnforce)
	}
	var runID int64
	if enforce {
		id, release, err := e.startEnforcing(ctx, names, trigger, start)
		if err != nil {
			return run, err
		}
		defer release()
		run.Mode, runID, run.RunID = policy.ModeEnforce, id, &id
	}
	var failed []string
	selectedBy := map[string]string{} // owner/type/package -> the first policy selecting it
	b := &budget{e: e, share: cfg.Limits.BudgetShare, deadline: start.Add(time.Duration(cfg.Limits.MaxRunDuration))}
	for _, p := range pols {
		mode := policy.ModePlan
		if apply {
			mode = cfg.EffectiveMode(p)
		}
		pp := e.runPolicy(ctx, p, mode, runID, selectedBy, b)
		run.Policies = append(run.Policies, pp)
		if pp.Err != nil && !errors.Is(pp.Err, plan.ErrDeferred) {
			failed = append(failed, p.Name)
		}
		if ctx.Err() != nil {
			break
		}
	}
	run.FinishedAt = e.clock.Now()
	run.APIRequests = e.client.Requests() - startReqs
	run.ManifestFetches = e.registry.Fetches() - startFetches
	var runErr error
	if len(failed) > 0 {
		runErr = fmt.Errorf("policies failed: %s", strings.Join(failed, ", "))
	}
	if enforce {
		if err := e.finishEnforcing(ctx, run, runErr); err != nil && runErr == nil {
			runErr = err
		}
	}
	return run, runErr
}

// runPolicy plans one policy and, in enforce mode, carries it out, then
// publishes its metrics once.
func (e *Engine) runPolicy(ctx context.Context, p *policy.Policy, mode policy.Mode, runID int64, selectedBy map[string]string, b *budget) *plan.Policy {
	pstart := e.clock.Now()
	startReqs := e.client.Requests()
	// This run's planner and executor: they wait for the budget within its
	// deadline.
	pl, ex := *e.planner, *e.exec
	pl.Budget, ex.Budget = b.wait, b.wait
	var pp *plan.Policy
	err := b.wait(ctx, 1)
	if err != nil {
		pp = &plan.Policy{Name: p.Name, Mode: mode}
	} else {
		pp, err = pl.Plan(ctx, p, mode, pstart)
		pp.Warnings = lint(p, pp, selectedBy)
	}
	if err == nil && mode == policy.ModeEnforce {
		err = ex.Execute(ctx, runID, pp)
	}
	c := pp.Count()
	for _, pkg := range pp.Packages {
		if pkg.Err != nil && err == nil && !errors.Is(pkg.Err, plan.ErrDeferred) {
			err = ErrPackagesNotPlanned
		}
	}
	if c.Failed > 0 && err == nil {
		err = fmt.Errorf("%d %w", c.Failed, ErrDeletesFailed)
	}
	result := metrics.Success
	if errors.Is(err, plan.ErrDeferred) {
		pp.Err = err // the whole policy waits for the next run: not a failure
		e.log.Info("policy deferred to the next run", zap.String("policy", p.Name), zap.Error(err))
	} else if err != nil {
		result = metrics.Failure
		if ctx.Err() != nil {
			result = metrics.Cancelled
		}
		pp.Err = err
		e.log.Warn("policy run failed", zap.String("policy", p.Name), zap.Error(err))
	}
	pp.APIRequests = e.client.Requests() - startReqs
	now := e.clock.Now()
	e.metrics.PolicyRun(pp, result, now.Sub(pstart), now)
	return pp
}

// startEnforcing opens an enforcing run: the journal's lock (unless held for
// the engine's life), what a stopped run left open settled, the run journaled.
func (e *Engine) startEnforcing(ctx context.Context, names []string, trigger string, start time.Time) (int64, func(), error) {
	release := func() {}
	if e.lock == nil {
		l, err := e.lockJournal(ctx, "ghprune apply")
		if err != nil {
			return 0, nil, err
		}
		release = func() { l.Release() }
	}
	e.Reconcile(ctx)
	id, err := e.journal.StartRun(ctx, journal.Run{Kind: "apply", Policies: names, Mode: string(policy.ModeEnforce),
		Trigger: trigger, Actor: e.actor(ctx), StartedAt: start})
	if err != nil {
		release()
		return 0, nil, err
	}
	return id, release, nil
}

// finishEnforcing journals the end of an enforcing run and prunes the
// journal.
func (e *Engine) finishEnforcing(ctx context.Context, run *plan.Run, runErr error) error {
	status := journal.RunSucceeded
	switch {
	case ctx.Err() != nil:
		status = journal.RunCancelled
	case runErr != nil:
		status = journal.RunFailed
	}
	c := run.Count()
	fin := run.FinishedAt
	err := e.journal.FinishRun(context.WithoutCancel(ctx), journal.Run{ID: *run.RunID, FinishedAt: &fin, Status: status,
		Planned: c.Delete, Deleted: c.Deleted, Failed: c.Failed, Skipped: c.Skipped, APIRequests: run.APIRequests})
	e.prune(ctx)
	if _, jerr := e.RefreshJournal(ctx); jerr != nil {
		e.log.Warn("journal stats", zap.Error(jerr))
	}
	return err
}

// actor names who runs: the token's login at this host.
func (e *Engine) actor(ctx context.Context) string {
	actor := "unknown"
	if id, err := e.client.Identity(ctx); err == nil && id.Login != "" {
		actor = id.Login
	}
	if host, err := os.Hostname(); err == nil {
		actor += "@" + host
	}
	return actor
}

// budget keeps (1 - budget_share) of the token's primary limit for its other
// users, going by the last rate-limit headers GitHub sent (which count every
// client of the token), and bounds the run by limits.max_run_duration.
// Without a primary limit (GHES) there is no budget, only the deadline.
type budget struct {
	e        *Engine
	share    float64
	deadline time.Time
}

// wait returns nil when the run may send its next requests: at once when
// they fit in what is left of the run's share of the window, or after a
// pause until the window resets. A *plan.Deferral says the run is to stop
// there, leaving the rest for the next run: the deadline came, or the reset
// comes after it.
func (b *budget) wait(ctx context.Context, requests int) error {
	e := b.e
	for {
		now := e.clock.Now()
		if !now.Before(b.deadline) {
			return &plan.Deferral{Cause: plan.RunDeadline, Detail: fmt.Sprintf(
				"the run reached limits.max_run_duration at %s", b.deadline.UTC().Format(time.RFC3339))}
		}
		r := e.client.Rate()
		if !r.Known || r.Limit <= 0 || b.share >= 1 || !r.Reset.After(now) {
			return nil // no primary limit, no share kept, or the window was renewed since
		}
		reserve := (1 - b.share) * float64(r.Limit)
		// A step larger than half the share goes in a fresh window.
		need := min(float64(requests), b.share*float64(r.Limit)/2)
		if float64(r.Remaining)-need >= reserve {
			return nil
		}
		resume := r.Reset.Add(time.Second)
		spent := fmt.Sprintf("limits.budget_share (%v) of the token's hourly rate limit is spent: %d of %d requests left (the next step needs %d), kept for its other users until %s",
			b.share, r.Remaining, r.Limit, requests, r.Reset.UTC().Format(time.RFC3339))
		if resume.After(b.deadline) {
			return &plan.Deferral{Cause: plan.BudgetSpent, Detail: spent + fmt.Sprintf(
				", after the run's deadline %s (limits.max_run_duration)", b.deadline.UTC().Format(time.RFC3339))}
		}
		wait := resume.Sub(now)
		e.log.Info("budget spent: pausing until the rate limit resets",
			zap.Int("remaining", r.Remaining), zap.Int("limit", r.Limit), zap.Time("resume", resume), zap.Duration("wait", wait))
		e.warn(fmt.Sprintf("paused until %s: %s", resume.UTC().Format(time.RFC3339), spent))
		e.metrics.BudgetPause(true, 0)
		err := e.clock.Sleep(ctx, wait)
		e.metrics.BudgetPause(false, wait)
		if err != nil {
			return err
		}
	}
}

// lint finds what a plan says about its policy: patterns that matched
// nothing, undated versions, packages kept whole, and packages an earlier
// policy of the run also selected (one policy's protect does not stop
// another's deletes).
func lint(p *policy.Policy, pp *plan.Policy, selectedBy map[string]string) []string {
	var seen policy.Seen
	var warn []string
	for _, pkg := range pp.Packages {
		seen.Packages = append(seen.Packages, pkg.Name)
		undated, first := 0, ""
		for _, d := range pkg.Decisions {
			seen.Tags = append(seen.Tags, d.Version.Tags...)
			seen.Versions = append(seen.Versions, d.Version.Name)
			if d.Rule == policy.RuleInvalidTime {
				if undated++; undated == 1 {
					first = fmt.Sprintf("version %d: %s", d.Version.ID, d.Reason)
				}
			}
		}
		if undated > 0 {
			warn = append(warn, fmt.Sprintf("package %q: %d versions kept because a date is missing, unreadable or in the future (invalid-time); first, %s", pkg.Name, undated, first))
		}
		if len(pkg.Decisions) > 0 && pkg.Decisions[0].Rule == policy.RuleListingChanged {
			warn = append(warn, fmt.Sprintf("package %q kept whole: %s", pkg.Name, pkg.Decisions[0].Reason))
		}
		key := pkg.OwnerName + "/" + pkg.Type + "/" + pkg.Name
		if other, ok := selectedBy[key]; ok {
			warn = append(warn, fmt.Sprintf("package %q is also selected by policy %q: each policy's protect and keep rules do not stop the other's deletes", pkg.Name, other))
		} else {
			selectedBy[key] = p.Name
		}
	}
	if len(pp.Packages) == 0 {
		return append(warn, "selects no package")
	}
	return append(warn, p.LintPlan(seen)...)
}
