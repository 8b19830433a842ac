package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/journal"
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
	return e.Run(ctx, pols, RunOptions{Trigger: TriggerCLI})
}

// Apply runs pols once: the enforce policies among them delete what they
// plan, the others are planned. An enforcing run holds the journal's lock,
// settles what a stopped run left open, is journaled, and prunes the journal
// when it ends. The run comes back whatever happens; the error says it
// failed (exit 1), or that nothing was planned at all (run.Policies empty:
// the journal is locked by another enforcing process, say).
func (e *Engine) Apply(ctx context.Context, pols []*policy.Policy, trigger string) (*plan.Run, error) {
	return e.Run(ctx, pols, RunOptions{Apply: true, Trigger: trigger})
}

// RunOptions shape a run.
type RunOptions struct {
	// Apply has the enforce policies delete (Apply); otherwise every policy
	// is planned (Plan).
	Apply   bool
	Trigger string
	// Sink, when set, receives the run a package at a time, and the run
	// keeps none of them: its policies come back with their counts (Sent)
	// and no Packages. Nil keeps every decision in the returned run.
	Sink Sink
	// Progress, when set, is told where the run stands at each package
	// decided, each deletion done, and each pause for the budget.
	Progress func(plan.Progress)
	// At, when set, is the time decisions are made at (a plan as of next
	// month: ages and newer_than are computed at At); zero is now. Only
	// for plans.
	At time.Time
}

// Sink receives a run as it is made, so that a run of any size holds only
// what is left to do. Start comes once the run has an id (an enforcing
// run is journaled first), never when nothing is planned at all; Package
// for each package once it is final (decided, capped by
// max_deletes_per_run and, when applied, carried out), in the order of
// its policy; PolicyDone at the end of each policy, with its error,
// warnings and counts. A Sink must not keep what it is given. An error
// from it stops the run.
type Sink interface {
	Start(run *plan.Run) error
	Package(p *plan.Policy, pkg *plan.Package) error
	PolicyDone(p *plan.Policy) error
}

// newRun starts a run's report at start, planned as of at (-at) when set.
func newRun(start, at time.Time) *plan.Run {
	run := &plan.Run{Mode: policy.ModePlan, StartedAt: start}
	if !at.IsZero() {
		at = at.UTC()
		run.PlannedAt = &at
	}
	return run
}

// Run is Plan or Apply as o says.
func (e *Engine) Run(ctx context.Context, pols []*policy.Policy, o RunOptions) (*plan.Run, error) {
	apply, trigger := o.Apply, o.Trigger
	cfg := e.cfg.Load() // one config for the whole run, whatever a reload does
	start := e.clock.Now()
	if e.client == nil && o.Apply {
		return &plan.Run{Mode: policy.ModePlan, StartedAt: e.clock.Now()}, usage(ErrOffline)
	}
	startReqs, startFetches := e.requests(), e.registry.Fetches()
	run := newRun(start, o.At)
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
	var sinkErr error
	if o.Sink != nil {
		sinkErr = o.Sink.Start(run)
	}
	var failed []string
	selectedBy := map[string]string{} // owner/type/package -> the first policy selecting it
	prog := &progress{e: e, cfg: cfg, fn: o.Progress}
	b := &budget{e: e, share: cfg.Limits.BudgetShare, deadline: start.Add(time.Duration(cfg.Limits.MaxRunDuration)), progress: prog}
	for _, p := range pols {
		if sinkErr != nil || ctx.Err() != nil {
			break
		}
		mode := policy.ModePlan
		if apply {
			mode = cfg.EffectiveMode(p)
		}
		pr := &policyRun{e: e, p: p, pp: &plan.Policy{Name: p.Name, Mode: mode}, runID: runID, sink: o.Sink,
			selectedBy: selectedBy, budget: b, progress: prog, at: o.At}
		pp := pr.run(ctx)
		run.Policies = append(run.Policies, pp)
		if pp.Err != nil && !errors.Is(pp.Err, plan.ErrDeferred) {
			failed = append(failed, p.Name)
		}
		if o.Sink != nil {
			if err := o.Sink.PolicyDone(pp); err != nil && sinkErr == nil {
				sinkErr = err
			}
		}
		if pr.sinkErr != nil && sinkErr == nil {
			sinkErr = pr.sinkErr
		}
	}
	run.FinishedAt = e.clock.Now()
	run.APIRequests = e.requests() - startReqs
	run.ManifestFetches = e.registry.Fetches() - startFetches
	run.Estimate = e.estimate(cfg, run, pols)
	var runErr error
	if len(failed) > 0 {
		runErr = fmt.Errorf("policies failed: %s", strings.Join(failed, ", "))
	}
	if sinkErr != nil {
		runErr = errors.Join(fmt.Errorf("write report: %w", sinkErr), runErr)
	}
	if enforce {
		if err := e.finishEnforcing(ctx, run, runErr); err != nil && runErr == nil {
			runErr = err
		}
	}
	return run, runErr
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

// estimate says what applying run's plan would cost: the requests (the
// listings again, the deletes and their re-reads), the manifests not in the
// journal's cache, and the time at the pace with the waits for the budget,
// judged from the rate limit GitHub reported last.
func (e *Engine) estimate(cfg *policy.Config, run *plan.Run, pols []*policy.Policy) plan.Estimate {
	// An apply lists every policy but deletes only for those in enforce
	// mode.
	var c plan.Counts
	deletes := 0
	for i, pp := range run.Policies {
		pc := pp.Count()
		c.ListRequests += pc.ListRequests
		if i < len(pols) && cfg.EffectiveMode(pols[i]) == policy.ModeEnforce {
			c.DeleteRequests += pc.DeleteRequests
			deletes += pc.Delete
		}
	}
	est := plan.Estimate{ListRequests: c.ListRequests + len(run.Policies), DeleteRequests: c.DeleteRequests}
	est.Requests = est.ListRequests + est.DeleteRequests
	if e.journal == nil {
		est.ManifestFetches = run.ManifestFetches // not cached: read again
	}
	est.Duration = paced(deletes, cfg.Limits.MutationsPerMinute)
	var wait time.Duration
	est.BudgetPauses, wait = e.budgetWaits(cfg, est.Requests)
	est.Duration += wait
	est.PastDeadline = est.Duration > time.Duration(cfg.Limits.MaxRunDuration)
	return est
}

// paced is how long n mutations take at perMinute; computed in float and
// bounded, so that a tiny mutations_per_minute does not overflow.
func paced(n int, perMinute float64) time.Duration {
	return time.Duration(min(float64(n)/perMinute*float64(time.Minute), float64(100*365*24*time.Hour)))
}

// budgetWaits says how many times sending requests more would pause for
// the rate-limit window to stay within limits.budget_share, and how long
// those pauses take, judged from the rate limit GitHub reported last: the
// first lasts until the reset it reported, the others a window (an hour)
// each.
func (e *Engine) budgetWaits(cfg *policy.Config, requests int) (int, time.Duration) {
	r, share := e.rate(), cfg.Limits.BudgetShare
	if !r.Known || r.Limit <= 0 || share >= 1 {
		return 0, 0
	}
	perWindow := share * float64(r.Limit)
	available := max(0, float64(r.Remaining)-(1-share)*float64(r.Limit))
	over := float64(requests) - available
	if over <= 0 || perWindow < 1 {
		return 0, 0
	}
	pauses := int(math.Ceil(over / perWindow))
	return pauses, max(0, r.Reset.Sub(e.clock.Now())) + time.Duration(pauses-1)*time.Hour
}

// budget keeps (1 - budget_share) of the token's primary limit for its other
// users, going by the last rate-limit headers GitHub sent (which count every
// client of the token), and bounds the run by limits.max_run_duration.
// Without a primary limit (GHES) there is no budget, only the deadline.
type budget struct {
	e        *Engine
	share    float64
	deadline time.Time
	progress *progress
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
		r := e.rate()
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
		b.progress.update(func(p *plan.Progress) { p.PausedUntil = resume })
		err := e.clock.Sleep(ctx, wait)
		e.metrics.BudgetPause(false, wait)
		b.progress.update(func(p *plan.Progress) { p.PausedUntil = time.Time{} })
		if err != nil {
			return err
		}
	}
}
