package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/simulator"
)

// The engine against the simulator over loopback, with its journal in a
// temporary directory: one run as the commands and the daemon make it.

const token = "ghp_EngineTest00000000000000000000000000"

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

type rig struct {
	t     *testing.T
	sim   *simulator.Server
	clock *clock.Fake
	url   string
	dir   string
	reg   *prometheus.Registry
}

func newRig(t *testing.T, opts simulator.Options) *rig {
	t.Helper()
	r := &rig{t: t, clock: clock.NewFake(t0), dir: t.TempDir(), reg: prometheus.NewRegistry()}
	opts.Clock = r.clock
	r.sim = simulator.New(opts)
	r.sim.AddToken(token, simulator.Token{Login: "octo", Scopes: []string{"read:packages", "write:packages", "delete:packages", "repo"}})
	r.sim.AddOrg("acme", 100)
	srv := httptest.NewServer(r.sim)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	r.sim.AddPackage("acme", simulator.PackageSeed{Name: "lib", Type: "npm"})
	for i := 0; i < 6; i++ {
		r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: t0.Add(-time.Duration(100-i) * 24 * time.Hour)})
	}
	r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: "2.0.0", CreatedAt: t0.Add(-time.Hour)})
	return r
}

// open opens an engine for a config with one policy in mode, and extra
// settings under limits and state.
func (r *rig) open(mode, limits, state string) *engine.Engine {
	r.t.Helper()
	src := fmt.Sprintf("version: 1\ngithub: {api_url: %s, registry_url: %s}\nlimits: {mutations_per_minute: 180%s}\nstate: {path: %s%s}\npolicies:\n"+
		"  - name: libs\n    mode: %s\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n",
		r.url, r.url, limits, filepath.Join(r.dir, "journal.db"), state, mode)
	cfg, err := policy.Parse("p.yaml", []byte(src))
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := engine.Open(context.Background(), engine.Options{Config: cfg, Clock: r.clock, Registerer: r.reg, Journal: engine.JournalCreate,
		Getenv: func(string) string { return token }})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(e.Close)
	return e
}

// A plan sends only GETs and journals nothing.
func TestPlan_SendsNoDeleteAndJournalsNothing(t *testing.T) {
	r := newRig(t, simulator.Options{})
	e := r.open("enforce", "", "")
	run, err := e.Plan(context.Background(), e.Config().Policies)
	if err != nil {
		t.Fatal(err)
	}
	if c := run.Count(); c.Delete != 6 || c.Keep != 1 || run.RunID != nil {
		t.Errorf("plan counts %+v, run id %v", c, run.RunID)
	}
	if n := r.sim.Stats().ByOp["DELETE version"]; n != 0 {
		t.Errorf("%d DELETEs", n)
	}
	if runs, _ := e.Runs(context.Background(), 10); len(runs) != 0 {
		t.Errorf("a plan was journaled: %v", runs)
	}
}

// An apply is journaled, publishes its metrics once at its end, and prunes
// the journal of runs past state.retain_days that nothing restorable keeps.
func TestApply_JournalsPublishesAndPrunes(t *testing.T) {
	r := newRig(t, simulator.Options{})
	// A run 60 days ago whose deletions are past the restore window.
	j, err := journal.Open(context.Background(), filepath.Join(r.dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := j.StartRun(context.Background(), journal.Run{Kind: "apply", Policies: []string{"libs"}, Mode: "enforce", Trigger: "cli", Actor: "t", StartedAt: t0.Add(-60 * 24 * time.Hour)})
	fin := t0.Add(-60 * 24 * time.Hour)
	j.FinishRun(context.Background(), journal.Run{ID: old, FinishedAt: &fin, Status: journal.RunSucceeded})
	j.Close()

	e := r.open("enforce", "", ", retain_days: 30")
	run, err := e.Apply(context.Background(), e.Config().Policies, engine.TriggerCLI)
	if err != nil {
		t.Fatal(err)
	}
	if run.RunID == nil || run.Count().Deleted != 6 {
		t.Fatalf("run %v deleted %d, want a journaled run deleting 6", run.RunID, run.Count().Deleted)
	}
	runs, _ := e.Runs(context.Background(), 10)
	if len(runs) != 1 || runs[0].ID != *run.RunID || runs[0].Status != journal.RunSucceeded || runs[0].Deleted != 6 {
		t.Errorf("journal runs %+v: the old run must be pruned and this one recorded", runs)
	}
	for name, want := range map[string]float64{
		`ghprune_runs_total{policy="libs",result="success"}`: 1,
		`ghprune_versions_deleted_total{policy="libs"}`:      6,
		`ghprune_versions_scanned_total{policy="libs"}`:      7,
		`ghprune_journal_restorable_versions`:                6,
	} {
		if got := metricValue(t, r.reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// The budget the policy used: every request of the run (it has one
	// policy) but the run's own bookkeeping (the token's identity).
	used := run.Policies[0].APIRequests
	if got := metricValue(t, r.reg, `ghprune_policy_last_run_api_requests{policy="libs"}`); used == 0 || got != float64(used) || used > run.APIRequests {
		t.Errorf("last run's requests metric %v, policy %d, run %d", got, used, run.APIRequests)
	}
}

// metricValue reads one series, named as in the exposition format.
func metricValue(t *testing.T, reg *prometheus.Registry, series string) float64 {
	t.Helper()
	name, labels, _ := strings.Cut(series, "{")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if strings.Join(parts, ",")+"}" == labels || (labels == "" && len(parts) == 0) {
				switch {
				case m.GetCounter() != nil:
					return m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}

// A token's hourly budget shared with others: when the run has used
// limits.budget_share of a window it pauses until the window resets, and
// goes on; it never uses more than its share of any window.
func TestApply_BudgetPausesUntilTheResetAndFinishes(t *testing.T) {
	r := newRig(t, simulator.Options{PrimaryLimit: 12, PrimaryWindow: 10 * time.Minute})
	e := r.open("enforce", ", budget_share: 0.5", "")
	before := r.clock.Now()
	run, err := e.Apply(context.Background(), e.Config().Policies, engine.TriggerCLI)
	if err != nil {
		t.Fatalf("apply = %v, want a run that waits and finishes", err)
	}
	st := r.sim.Stats()
	if c := run.Count(); c.Deleted != 6 || c.Deferred != 0 {
		t.Errorf("counts %+v, want all 6 deleted", c)
	}
	if st.RateLimited != 0 || st.MaxWindowUsed > 6 {
		t.Errorf("refused %d times by the primary limit, at most %d requests in a window: want 0 and at most 6 (half of 12)", st.RateLimited, st.MaxWindowUsed)
	}
	if took := r.clock.Now().Sub(before); took < 10*time.Minute {
		t.Errorf("the run took %v of the fake clock: it cannot have waited for a reset", took)
	}
	pauses := metricValue(t, r.reg, "ghprune_budget_pauses_total")
	if pauses == 0 || metricValue(t, r.reg, "ghprune_budget_paused") != 0 || metricValue(t, r.reg, "ghprune_budget_paused_seconds_total") == 0 {
		t.Errorf("pause metrics: %v pauses, want some, and not paused at the end", pauses)
	}
	runs, _ := e.Runs(context.Background(), 1)
	if len(runs) != 1 || runs[0].Status != journal.RunSucceeded || runs[0].Deleted != 6 {
		t.Errorf("journal %+v, want a succeeded run of 6 deletions", runs)
	}
}

// A reset that comes after limits.max_run_duration is not waited for: the
// run stops, what it did is journaled, and the rest is deferred to the next
// run, which is not a failure.
func TestApply_BudgetPastTheDeadlineDefers(t *testing.T) {
	r := newRig(t, simulator.Options{PrimaryLimit: 12})
	e := r.open("enforce", ", budget_share: 0.5, max_run_duration: 30m", "")
	run, err := e.Apply(context.Background(), e.Config().Policies, engine.TriggerCLI)
	if err != nil {
		t.Fatalf("apply = %v, want a run that defers without failing", err)
	}
	c := run.Count()
	if c.Deleted == 0 || c.Deferred == 0 {
		t.Fatalf("counts %+v, want some deleted and the rest deferred", c)
	}
	if c.Deferred > 0 {
		if c.Deleted+c.Deferred != 6 {
			t.Errorf("counts %+v: deleted and deferred must make the 6 planned", c)
		}
		for _, pkg := range run.Policies[0].Packages {
			for _, d := range pkg.Decisions {
				if d.Outcome == plan.Deferred && (d.Cause != plan.BudgetSpent || !strings.Contains(d.Err.Error(), "max_run_duration")) {
					t.Errorf("deferred %s: cause %q, %v", d.Version.Name, d.Cause, d.Err)
				}
			}
		}
	}
	if st := r.sim.Stats(); st.RateLimited != 0 || st.MaxWindowUsed > 6 {
		t.Errorf("refused %d times, %d requests in the window: the budget must hold", st.RateLimited, st.MaxWindowUsed)
	}
	if r.clock.Slept() >= 30*time.Minute {
		t.Errorf("slept %v: a reset after the deadline is not waited for", r.clock.Slept())
	}
	runs, _ := e.Runs(context.Background(), 1)
	if len(runs) != 1 || runs[0].Status != journal.RunSucceeded || runs[0].Deleted != c.Deleted {
		t.Errorf("journal %+v, want a succeeded run of %d deletions", runs, c.Deleted)
	}
	if got := metricValue(t, r.reg, `ghprune_versions_deferred_total{policy="libs"}`); got != float64(c.Deferred) {
		t.Errorf("deferred metric %v, want %d", got, c.Deferred)
	}
	if got := metricValue(t, r.reg, `ghprune_runs_total{policy="libs",result="success"}`); got != 1 {
		t.Errorf("successful runs = %v, want 1", got)
	}
}

// A restore of a run the journal does not have is a usage error, before
// anything is sent.
func TestRestore_UnknownRunIsAUsageError(t *testing.T) {
	r := newRig(t, simulator.Options{})
	e := r.open("enforce", "", "")
	r.sim.ResetStats()
	_, err := e.Restore(context.Background(), engine.Selector{RunID: 42}, false)
	if !errors.Is(err, engine.ErrUsage) || !strings.Contains(err.Error(), "has no run 42") {
		t.Fatalf("Restore = %v, want a usage error naming run 42", err)
	}
	if n := r.sim.Stats().Requests; n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// A new process (a CLI run, a CronJob, a restarted pod) revalidates what an
// earlier one read, with the ETags kept in the journal: an unchanged
// package is answered 304, which costs no rate limit.
func TestPlan_ANewProcessRevalidatesWithTheJournalsETags(t *testing.T) {
	r := newRig(t, simulator.Options{PrimaryLimit: 5000})
	first := r.open("plan", "", "")
	if _, err := first.Plan(context.Background(), first.Config().Policies); err != nil {
		t.Fatal(err)
	}
	first.Close()
	firstStats := r.sim.Stats()
	r.sim.ResetStats()

	r.reg = prometheus.NewRegistry()
	second := r.open("plan", "", "") // a new engine over the same journal
	run, err := second.Plan(context.Background(), second.Config().Policies)
	if err != nil {
		t.Fatal(err)
	}
	st := r.sim.Stats()
	charged := st.Requests - st.NotModified
	if st.NotModified == 0 || charged > 0 {
		t.Fatalf("second plan: %d requests, %d answered 304, %d charged; want every read revalidated (first plan: %d requests)",
			st.Requests, st.NotModified, charged, firstStats.Requests)
	}
	if run.Count().Delete != 6 {
		t.Errorf("the revalidated plan deletes %d, want 6", run.Count().Delete)
	}
}

// A server stricter than the configured pace (two mutations a second where
// the config asks for three) draws a few refusals while the pace adapts,
// not one per delete, and the run finishes.
func TestApply_AdaptsToAStricterServer(t *testing.T) {
	r := newRig(t, simulator.Options{MutationSpacing: 500 * time.Millisecond})
	for i := 0; i < 60; i++ {
		r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: fmt.Sprintf("0.%d.0", i), CreatedAt: t0.Add(-time.Duration(200-i) * 24 * time.Hour)})
	}
	e := r.open("enforce", "", "")
	run, err := e.Apply(context.Background(), e.Config().Policies, engine.TriggerCLI)
	if err != nil {
		t.Fatal(err)
	}
	c := run.Count()
	refusals := r.sim.Stats().SecondaryLimited
	if c.Deleted != 66 {
		t.Fatalf("deleted %d of 66", c.Deleted)
	}
	if refusals*20 > c.Deleted { // at most 5%
		t.Errorf("%d secondary-limit refusals for %d deletes, want at most 5%%", refusals, c.Deleted)
	}
	if refusals == 0 {
		t.Errorf("no refusal: the test's server is not stricter than the pace")
	}
	t.Logf("%d refusals for %d deletes", refusals, c.Deleted)
	pace := metricValue(t, r.reg, "ghprune_mutation_pace_per_minute")
	if pace >= 120 || pace < 60 {
		t.Errorf("pace at the end %v/min; want below the server's 120/min and above half of it", pace)
	}
}

// A plan says what applying it will cost before anything is deleted: the
// requests, and the pauses for the budget and the time they take. An
// apply of the same world then costs about that.
func TestPlan_EstimatesWhatTheApplyCosts(t *testing.T) {
	r := newRig(t, simulator.Options{PrimaryLimit: 40, PrimaryWindow: time.Hour})
	for i := 0; i < 60; i++ {
		r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: fmt.Sprintf("0.%d.0", i), CreatedAt: t0.Add(-time.Duration(200-i) * 24 * time.Hour)})
	}
	e := r.open("enforce", ", budget_share: 0.5, max_run_duration: 7d", "")
	planned, err := e.Plan(context.Background(), e.Config().Policies)
	if err != nil {
		t.Fatal(err)
	}
	est := planned.Estimate
	if est.DeleteRequests != 66 || est.ListRequests != 2 || est.Requests != 68 || est.BudgetPauses == 0 {
		t.Fatalf("estimate %+v, want 66 deletes, a page and the package list, and pauses for a budget of 20 an hour", est)
	}
	r.sim.ResetStats()
	start := r.clock.Now()
	run, err := e.Apply(context.Background(), e.Config().Policies, engine.TriggerCLI)
	if err != nil || run.Count().Deleted != 66 {
		t.Fatalf("apply: %v, %d deleted", err, run.Count().Deleted)
	}
	took := r.clock.Now().Sub(start)
	pauses := int(metricValue(t, r.reg, "ghprune_budget_pauses_total"))
	t.Logf("estimate %+v; apply: %d requests, %d pauses, %v", est, run.APIRequests, pauses, took)
	if d := int(run.APIRequests) - est.Requests; d < -2 || d > 4 {
		t.Errorf("apply sent %d requests, the plan said %d", run.APIRequests, est.Requests)
	}
	if d := pauses - est.BudgetPauses; d < -1 || d > 1 {
		t.Errorf("apply paused %d times, the plan said %d", pauses, est.BudgetPauses)
	}
	if took < est.Duration*3/4 || took > est.Duration*5/4 {
		t.Errorf("apply took %v, the plan said %v", took, est.Duration)
	}
}

// A policy in plan mode deletes nothing when applied: its deletions are
// not in the estimate of the apply.
func TestPlan_EstimateLeavesOutPolicyInPlanMode(t *testing.T) {
	r := newRig(t, simulator.Options{})
	e := r.open("plan", "", "")
	run, err := e.Plan(context.Background(), e.Config().Policies)
	if err != nil {
		t.Fatal(err)
	}
	if est := run.Estimate; run.Count().Delete != 6 || est.DeleteRequests != 0 || est.Duration != 0 || est.ListRequests != 2 {
		t.Errorf("estimate %+v of a plan-mode policy planning %d deletes", est, run.Count().Delete)
	}
}
