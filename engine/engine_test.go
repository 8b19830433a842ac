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

// A token's hourly budget shared with others: past limits.budget_share the
// run stops, what it did is journaled, and the rest waits for the next run.
func TestApply_BudgetShareStopsTheRun(t *testing.T) {
	r := newRig(t, simulator.Options{PrimaryLimit: 12})
	e := r.open("enforce", ", budget_share: 0.5", "")
	run, err := e.Apply(context.Background(), e.Config().Policies, engine.TriggerCLI)
	if err == nil || !strings.Contains(run.Policies[0].Err.Error(), "budget_share") {
		t.Fatalf("apply = %v (policy error %v), want a stop at the budget", err, run.Policies[0].Err)
	}
	deleted := run.Count().Deleted
	if deleted == 0 || deleted == 6 {
		t.Errorf("%d deleted, want some but not all", deleted)
	}
	if n := r.sim.Stats().RateLimited; n != 0 {
		t.Errorf("refused %d times by the primary limit: the budget must stop the run before", n)
	}
	runs, _ := e.Runs(context.Background(), 1)
	if len(runs) != 1 || runs[0].Status != journal.RunFailed || runs[0].Deleted != deleted {
		t.Errorf("journal %+v, want a failed run recording %d deletions", runs, deleted)
	}
	if got := metricValue(t, r.reg, `ghprune_runs_total{policy="libs",result="failure"}`); got != 1 {
		t.Errorf("failed runs = %v, want 1", got)
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
