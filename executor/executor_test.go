package executor_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/planner"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/registry"
	"github.com/ghprune/ghprune/simulator"
)

// The executor against the simulator over loopback, with a real journal in
// a temporary directory: the plan it acts on is the planner's.

const token = "ghp_ExecutorTest000000000000000000000000"

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// rig is a simulator behind a front that records the DELETEs in order and
// may answer a request itself.
type rig struct {
	t     *testing.T
	sim   *simulator.Server
	clock *clock.Fake
	url   string
	mu    sync.Mutex
	order []string // DELETE paths, in the order they came
	front func(w http.ResponseWriter, r *http.Request) bool
	j     *journal.Journal
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, clock: clock.NewFake(t0)}
	r.sim = simulator.New(simulator.Options{Clock: r.clock})
	r.sim.AddToken(token, simulator.Token{Login: "octo", Scopes: []string{"read:packages", "write:packages", "delete:packages", "repo"}})
	r.sim.AddOrg("acme", 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodDelete {
			r.mu.Lock()
			r.order = append(r.order, req.URL.Path)
			r.mu.Unlock()
		}
		if f := r.front; f != nil && f(w, req) {
			return
		}
		r.sim.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	j, err := journal.Open(context.Background(), filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	r.j = j
	return r
}

// deletes returns the DELETE paths sent so far.
func (r *rig) deletes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.order...)
}

func (r *rig) client() *githubapi.Client {
	c, err := githubapi.New(githubapi.Config{BaseURL: r.url, Token: token, Clock: r.clock})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// plan plans the policy written in YAML (one policy) with the real planner.
func (r *rig) plan(body string) *plan.Policy {
	r.t.Helper()
	cfg, err := policy.Parse("p.yaml", []byte("version: 1\ngithub: {api_url: "+r.url+", registry_url: "+r.url+"}\npolicies:\n  - name: p\n    mode: enforce\n"+body))
	if err != nil {
		r.t.Fatal(err)
	}
	reg, err := registry.New(registry.Config{URL: r.url, Token: token, Clock: r.clock})
	if err != nil {
		r.t.Fatal(err)
	}
	pl := &planner.Planner{Client: r.client(), Registry: reg}
	pp, err := pl.Plan(context.Background(), cfg.Policies[0], policy.ModeEnforce, r.clock.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	return pp
}

func (r *rig) executor() *executor.Executor {
	return &executor.Executor{Client: r.client(), Journal: r.j, Clock: r.clock, Pacer: executor.NewPacer(180, r.clock)}
}

func (r *rig) run() int64 {
	id, err := r.j.StartRun(context.Background(), journal.Run{Kind: "apply", Mode: "enforce", Trigger: "test", Actor: "t", StartedAt: r.clock.Now()})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// outcomes maps version names to their outcome.
func outcomes(pp *plan.Policy) map[string]plan.Outcome {
	m := map[string]plan.Outcome{}
	for _, pkg := range pp.Packages {
		for _, d := range pkg.Decisions {
			if d.Deletes() {
				m[d.Version.Name] = d.Outcome
			}
		}
	}
	return m
}

// An index goes before the platform manifests it lists, so a run cut short
// leaves orphans, never an index pointing at deleted manifests.
func TestExecute_ParentsBeforeChildren(t *testing.T) {
	r := newRig(t)
	r.sim.AddPackage("acme", simulator.PackageSeed{Name: "app", Type: "container"})
	var descs []simulator.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		m := simulator.ImageManifest(simulator.MediaOCIManifest, "old-"+arch, 100)
		r.sim.AddVersion("acme", "container", "app", simulator.VersionSeed{Manifest: m, CreatedAt: t0.Add(-90 * 24 * time.Hour)})
		descs = append(descs, simulator.Describe(simulator.MediaOCIManifest, m))
	}
	// The index is newer than its children: oldest-first alone would delete
	// the children first.
	idx, _ := r.sim.AddVersion("acme", "container", "app", simulator.VersionSeed{Manifest: simulator.Index(simulator.MediaOCIIndex, descs...), CreatedAt: t0.Add(-60 * 24 * time.Hour)})
	r.sim.AddVersion("acme", "container", "app", simulator.VersionSeed{Manifest: simulator.ImageManifest(simulator.MediaOCIManifest, "current", 100), Tags: []string{"latest"}, CreatedAt: t0.Add(-time.Hour)})
	pp := r.plan("    select: {owner: acme, owner_type: org, package_type: container}\n    delete: [{name: untagged, untagged: true, older_than: 30d}]\n")
	if err := r.executor().Execute(context.Background(), r.run(), pp); err != nil {
		t.Fatal(err)
	}
	if order := r.deletes(); len(order) != 3 || !strings.HasSuffix(order[0], fmt.Sprint(idx)) {
		t.Fatalf("DELETE order %v: the index %d must go first", order, idx)
	}
	for _, o := range outcomes(pp) {
		if o != plan.Deleted {
			t.Errorf("outcomes %v, want every one deleted", outcomes(pp))
		}
	}
}

// seedOld seeds an npm package with n old versions and a new one.
func (r *rig) seedOld(n int) {
	r.sim.AddPackage("acme", simulator.PackageSeed{Name: "lib", Type: "npm"})
	for i := 0; i < n; i++ {
		r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: t0.Add(-time.Duration(100-i) * 24 * time.Hour)})
	}
	r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: "2.0.0", CreatedAt: t0.Add(-time.Hour)})
}

const libPolicy = "    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n"

// A run that keeps failing stops after five failures in a row, sending no
// more: GitHub may suspend clients that ignore repeated errors.
func TestExecute_StopsAfterFiveFailuresInARow(t *testing.T) {
	r := newRig(t)
	r.seedOld(8)
	pp := r.plan(libPolicy)
	r.sim.InjectFault(simulator.Fault{Method: "DELETE", Status: http.StatusForbidden, Body: `{"message": "Must have admin rights to Repository."}`})
	err := r.executor().Execute(context.Background(), r.run(), pp)
	if !errors.Is(err, executor.ErrTooManyFailures) {
		t.Fatalf("Execute = %v, want ErrTooManyFailures", err)
	}
	if n := len(r.deletes()); n != 5 {
		t.Errorf("%d DELETEs sent, want 5", n)
	}
	failed, none := 0, 0
	for _, o := range outcomes(pp) {
		switch o {
		case plan.Failed:
			failed++
		case "":
			none++
		}
	}
	if failed != 5 || none != 3 {
		t.Errorf("%d failed and %d not attempted, want 5 and 3", failed, none)
	}
}

// A DELETE whose answer is lost (the server deleted, then answered 502) is
// sent again, answered 404, and recorded as this run's deletion, journaled
// and restorable: the first attempt did it.
func TestExecute_ALostAnswerIsReadBackAndJournaled(t *testing.T) {
	r := newRig(t)
	r.seedOld(1)
	pp := r.plan(libPolicy)
	first := true
	r.front = func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodDelete && first {
			first = false
			r.sim.ServeHTTP(httptest.NewRecorder(), req)
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	}
	run := r.run()
	if err := r.executor().Execute(context.Background(), run, pp); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(pp)["1.0.0"]; got != plan.Deleted {
		t.Fatalf("outcome %q, want deleted", got)
	}
	rows, err := r.j.Deletions(context.Background(), journal.Filter{RunID: run})
	if err != nil || len(rows) != 1 || rows[0].State != journal.StateDeleted || rows[0].RestorableUntil == nil {
		t.Fatalf("journal rows %+v, %v: want one restorable deletion", rows, err)
	}
}

// A budget that runs out stops the run before the next DELETE; the rest
// keeps no outcome and goes to the next run.
func TestExecute_BudgetStopsTheRun(t *testing.T) {
	r := newRig(t)
	r.seedOld(6)
	pp := r.plan(libPolicy)
	x := r.executor()
	spent := errors.New("budget spent")
	x.Budget = func(context.Context, int) error {
		if len(r.deletes()) >= 2 {
			return spent
		}
		return nil
	}
	if err := x.Execute(context.Background(), r.run(), pp); !errors.Is(err, spent) {
		t.Fatalf("Execute = %v, want the budget's error", err)
	}
	deleted, none := 0, 0
	for _, o := range outcomes(pp) {
		switch o {
		case plan.Deleted:
			deleted++
		case "":
			none++
		}
	}
	if deleted != 2 || none != 4 {
		t.Errorf("%d deleted and %d left, want 2 and 4", deleted, none)
	}
}

// A budget that defers (the run's deadline came first) leaves that delete
// and every later one for the next run, as outcome deferred: not an error.
func TestExecute_DeferralLeavesTheRestForTheNextRun(t *testing.T) {
	r := newRig(t)
	r.seedOld(6)
	pp := r.plan(libPolicy)
	x := r.executor()
	x.Budget = func(context.Context, int) error {
		if len(r.deletes()) >= 2 {
			return &plan.Deferral{Cause: plan.RunDeadline, Detail: "the run reached limits.max_run_duration"}
		}
		return nil
	}
	if err := x.Execute(context.Background(), r.run(), pp); err != nil {
		t.Fatalf("Execute = %v, want nil: a deferral is not a failure", err)
	}
	c := pp.Count()
	if c.Deleted != 2 || c.Deferred != 4 || len(r.deletes()) != 2 {
		t.Errorf("counts %+v after %d DELETEs, want 2 deleted and 4 deferred", c, len(r.deletes()))
	}
	for _, pkg := range pp.Packages {
		for _, d := range pkg.Decisions {
			if d.Outcome == plan.Deferred && (d.Cause != plan.RunDeadline || !errors.Is(d.Err, plan.ErrDeferred)) {
				t.Errorf("deferred %s: cause %q, err %v", d.Version.Name, d.Cause, d.Err)
			}
		}
	}
}

// GitHub's refusal for the download limit skips the version, remembers it
// for later plans, and the run goes on.
func TestExecute_DownloadLimitSkipsAndIsRemembered(t *testing.T) {
	r := newRig(t)
	r.sim.AddPackage("acme", simulator.PackageSeed{Name: "lib", Type: "npm", Visibility: "public"})
	popular, _ := r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: "0.9.0", CreatedAt: t0.Add(-200 * 24 * time.Hour), Downloads: 9000})
	r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: "1.0.0", CreatedAt: t0.Add(-100 * 24 * time.Hour)})
	r.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: "2.0.0", CreatedAt: t0.Add(-time.Hour)})
	pp := r.plan(libPolicy)
	if err := r.executor().Execute(context.Background(), r.run(), pp); err != nil {
		t.Fatal(err)
	}
	got := outcomes(pp)
	if got["0.9.0"] != plan.Skipped || got["1.0.0"] != plan.Deleted {
		t.Fatalf("outcomes %v", got)
	}
	refused, err := r.j.Refused(context.Background(), "org", "acme", "npm", "lib", string(policy.RuleDownloadLimit))
	if err != nil || !refused[popular] {
		t.Errorf("refusal not remembered: %v %v", refused, err)
	}
}

// The compile-time check that the client serves the executor.
var _ executor.Client = (*githubapi.Client)(nil)
