package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/simulator"
)

// Another user's packages (/users/NAME): GitHub lets the token read public
// ones but answers 404 to deleting them. The plan is complete; apply
// reports why each delete failed, deletes nothing and exits 1.
func TestEndToEnd_OtherUser(t *testing.T) {
	h := newHarness(t, simulator.Options{PrimaryLimit: 5000})
	v := func(name string, age time.Duration, tags ...string) simulator.VersionSeed {
		return simulator.VersionSeed{Name: name, Tags: tags, CreatedAt: h.ago(age)}
	}
	h.pkg("other", "container", "tool", "public", v("keep-me", day, "latest"), v("old-1", 20*day), v("old-2", 30*day), v("new", 2*day))
	cfg := h.config(`  - name: theirs
    mode: enforce
    select: {owner: other, owner_type: user, package_type: container}
    protect: {tags: [latest]}
    delete: [{name: orphans, untagged: true, older_than: 7d}]
`)
	code, plan, stderr := h.runJSON("plan", "-config", cfg)
	if code != 0 {
		t.Fatalf("plan exit %d: %s", code, stderr)
	}
	want := map[string]string{"tool/keep-me": "keep protected:tag", "tool/old-1": "delete delete:orphans", "tool/old-2": "delete delete:orphans", "tool/new": "keep no-rule"}
	if got := h.decisions(plan); !mapsEqual(got, want) {
		t.Fatalf("plan = %v, want %v", got, want)
	}
	code, applied, _ := h.runJSON("apply", "-config", cfg)
	if code != exitFailed || applied.Summary.Failed != 2 || applied.Summary.Deleted != 0 {
		t.Fatalf("apply exit %d, summary %+v; want exit 1 with 2 failed", code, applied.Summary)
	}
	for _, d := range applied.Policies[0].Packages[0].Decisions {
		if d.Outcome == "failed" && !strings.Contains(d.Error, "admin rights") {
			t.Errorf("failure not explained: %q", d.Error)
		}
	}
	if got := len(h.active("other", "container", "tool")); got != 4 {
		t.Errorf("simulator has %d active versions, want all 4", got)
	}
	h.assertNoToken()
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A bad config exits 2 with file:line:col and sends nothing to GitHub.
func TestEndToEnd_BadConfigSendsNothing(t *testing.T) {
	for _, c := range []struct{ name, policy, want string }{
		{"unknown key", "    delete: [{name: a, untagged: true, olderthan: 7d}]\n", `:14:40: policies[0].delete[0].olderthan: unknown key "olderthan" (did you mean "older_than"?)`},
		{"bad duration", "    delete: [{name: a, untagged: true, older_than: 30x}]\n", `:14:52: policies[0].delete[0].older_than: unknown unit "x" in "30x"`},
		{"bad cron", "    schedule: \"61 * * * *\"\n    delete: [{name: a, untagged: true}]\n", `:14:5: policies[0].schedule: invalid schedule "61 * * * *"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, simulator.Options{})
			cfg := h.config("  - name: p\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: container}\n" + c.policy)
			for _, cmd := range []string{"validate", "plan", "apply", "serve"} {
				code, _, stderr := h.run(cmd, "-config", cfg)
				if code != exitUsage {
					t.Errorf("%s exit %d, want 2", cmd, code)
				}
				if !strings.Contains(stderr, cfg+c.want) {
					t.Errorf("%s stderr %q does not contain %q", cmd, stderr, cfg+c.want)
				}
			}
			if n := h.sim.Stats().Requests; n != 0 {
				t.Errorf("%d requests reached GitHub", n)
			}
		})
	}
}

// A missing token is a config error: exit 2, nothing sent.
func TestEndToEnd_NoTokenIsUsageError(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	cfg := h.config("  - name: p\n    select: {owner: acme, owner_type: org, package_type: container}\n    delete: [{name: a, untagged: true}]\n")
	var out strings.Builder
	code := run(context.Background(), []string{"plan", "-config", cfg}, env{stdout: &out, stderr: &out, clock: h.clock, getenv: func(string) string { return "" }})
	if code != exitUsage || !strings.Contains(out.String(), "GITHUB_TOKEN") || h.sim.Stats().Requests != 0 {
		t.Errorf("exit %d, output %q, requests %d", code, out.String(), h.sim.Stats().Requests)
	}
}

// Rate limits and server errors are waited out and retried: the run
// completes, in simulated time, without a failed delete.
func TestEndToEnd_RateLimitsAndServerErrors(t *testing.T) {
	h := newHarness(t, simulator.Options{PrimaryLimit: 40, MutationSpacing: 2 * time.Second})
	var vs []simulator.VersionSeed
	vs = append(vs, simulator.VersionSeed{Name: "tagged", Tags: []string{"v1"}, CreatedAt: h.ago(time.Hour)})
	for i := 0; i < 60; i++ {
		vs = append(vs, simulator.VersionSeed{Name: "old-" + string(rune('A'+i/26)) + string(rune('a'+i%26)), CreatedAt: h.ago(time.Duration(10+i) * day)})
	}
	h.pkg("acme", "container", "svc", "private", vs...)
	h.sim.InjectFault(simulator.Fault{Method: "DELETE", PathContains: "/versions/", Status: 502, Times: 3, Skip: 5})
	cfg := h.config("  - name: p\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: container}\n    delete: [{name: a, untagged: true, older_than: 7d}]\n")
	start := h.clock.Now()
	code, r, stderr := h.runJSON("apply", "-config", cfg, "-log-level", "debug")
	if code != 0 || r.Summary.Deleted != 60 || r.Summary.Failed != 0 {
		t.Fatalf("apply exit %d, summary %+v\n%s", code, r.Summary, stderr)
	}
	st := h.sim.Stats()
	if st.SecondaryLimited == 0 || st.RateLimited == 0 {
		t.Errorf("expected both limits to be hit: %+v", st)
	}
	if st.ByStatus[502] != 3 {
		t.Errorf("502s served = %d, want 3", st.ByStatus[502])
	}
	// 60 deletes plus listing exceed 40 requests an hour: the run waited for a reset.
	if took := h.clock.Now().Sub(start); took < time.Hour {
		t.Errorf("simulated run took %v; the primary limit should have made it wait an hour", took)
	}
	if got := len(h.active("acme", "container", "svc")); got != 1 {
		t.Errorf("%d versions left, want 1", got)
	}
	h.assertNoToken()
}

// A delete that keeps failing is reported, the rest go on, exit 1.
func TestEndToEnd_PersistentFailureIsReported(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	ids := h.pkg("acme", "npm", "lib", "private",
		simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(90 * day)},
		simulator.VersionSeed{Name: "1.1.0", CreatedAt: h.ago(80 * day)},
		simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(1 * day)})
	h.sim.InjectFault(simulator.Fault{Method: "DELETE", PathContains: "/versions/" + itoa(ids["1.0.0"]), Status: 500})
	cfg := h.config("  - name: p\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	code, r, _ := h.runJSON("apply", "-config", cfg)
	if code != exitFailed || r.Summary.Failed != 1 || r.Summary.Deleted != 1 {
		t.Fatalf("exit %d, summary %+v", code, r.Summary)
	}
	if a := h.active("acme", "npm", "lib"); !a["1.0.0"] || a["1.1.0"] || !a["2.0.0"] {
		t.Errorf("active = %v", a)
	}
}

func itoa(n int64) string { return strconvItoa(n) }

// cancelClock cancels the run after n waits, as SIGTERM would mid-run.
type cancelClock struct {
	*fakeClock
	n      atomic.Int32
	after  int32
	cancel context.CancelFunc
}

func (c *cancelClock) Sleep(ctx context.Context, d time.Duration) error {
	if c.n.Add(1) == c.after {
		c.cancel()
	}
	return c.fakeClock.Sleep(ctx, d)
}

// Cancelling a run stops it between deletes: what was sent is journaled,
// the rest is untouched, and the run is recorded as cancelled.
func TestEndToEnd_CancelStopsCleanly(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	var vs []simulator.VersionSeed
	for i := 0; i < 20; i++ {
		vs = append(vs, simulator.VersionSeed{Name: "v1.0." + itoa(int64(i)), CreatedAt: h.ago(time.Duration(100-i) * day)})
	}
	h.pkg("acme", "npm", "lib", "private", vs...)
	cfg := h.config("  - name: p\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &cancelClock{fakeClock: h.clock, after: 6, cancel: cancel}
	var out strings.Builder
	code := run(ctx, []string{"apply", "-config", cfg, "-format", "json"}, env{stdout: &out, stderr: &out, clock: clk,
		getenv: func(string) string { return testToken }})
	if code != exitFailed {
		t.Fatalf("cancelled apply exit %d, want 1\n%s", code, out.String())
	}
	deleted := h.sim.Stats().Deletes
	if deleted == 0 || deleted >= 19 {
		t.Fatalf("%d deletes before the cancel took effect; want some, not all", deleted)
	}
	_, hist, _ := h.run("history", "-config", cfg, "-format", "table")
	if !strings.Contains(hist, "cancelled") {
		t.Errorf("history does not show the run cancelled:\n%s", hist)
	}
	_, rows, _ := h.run("history", "-config", cfg, "-run", "1", "-format", "json")
	if strings.Contains(rows, `"state": "intent"`) || strings.Count(rows, `"state": "deleted"`) != deleted {
		t.Errorf("journal does not match the %d deletes sent:\n%s", deleted, rows)
	}
}

func TestEndToEnd_OutputFileAndUnknownPolicy(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.pkg("acme", "npm", "lib", "private", simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(day)})
	cfg := h.config("  - name: p\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	out := filepath.Join(h.dir, "plan.json")
	if code, _, stderr := h.run("plan", "-config", cfg, "-o", out); code != 0 {
		t.Fatalf("plan -o: exit %d %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), `"versions_scanned": 1`) {
		t.Errorf("report file: %v %s", err, b)
	}
	if code, _, stderr := h.run("plan", "-config", cfg, "-policy", "nope"); code != exitUsage || !strings.Contains(stderr, `no policy "nope"`) {
		t.Errorf("unknown policy: exit %d %s", code, stderr)
	}
}

func TestExplain_OneVersion(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	seedScenario(h, "acme")
	cfg := h.config(scenarioPolicies("acme", "org"))
	code, out, stderr := h.run("explain", "-config", cfg, "-policy", "images", "-package", "team/web", "-version", "main-4", "-format", "table")
	if code != 0 {
		t.Fatalf("explain exit %d: %s", code, stderr)
	}
	for _, want := range []string{"→ delete[old-main]", "keep[recent-main]", "not among the 3 most recent", "decision: delete (delete:old-main)"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := h.run("explain", "-config", cfg, "-policy", "images", "-package", "team/web", "-version", "nope"); code != exitFailed {
		t.Errorf("unknown version: exit %d", code)
	}
	if n := h.sim.Stats().ByOp["DELETE version"]; n != 0 {
		t.Errorf("explain sent %d deletes", n)
	}
}

// plan needs no writable journal (a read-only CI checkout): it warns and plans.
func TestPlan_WithoutWritableJournal(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.pkg("acme", "npm", "lib", "private", simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(90 * day)}, simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	cfg := h.config("  - name: p\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	blocker := filepath.Join(h.dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), filepath.Join(h.dir, "journal.db"), filepath.Join(blocker, "journal.db"), 1)), 0o600)
	code, r, stderr := h.runJSON("plan", "-config", cfg)
	if code != 0 || r.Summary.Delete != 1 || !strings.Contains(stderr, "planning without the journal") {
		t.Errorf("plan exit %d, delete %d, stderr %q", code, r.Summary.Delete, stderr)
	}
	if code, _, _ := h.run("apply", "-config", cfg); code != exitFailed {
		t.Errorf("apply without a journal: exit %d, want 1 (nothing may be deleted unjournaled)", code)
	}
}

// budget_share keeps part of the token's hourly limit for its other users:
// the run stops deleting when only that part is left, and says so.
func TestEndToEnd_BudgetShare(t *testing.T) {
	h := newHarness(t, simulator.Options{PrimaryLimit: 100})
	h.budgetShare = 0.5
	var vs []simulator.VersionSeed
	for i := 0; i < 80; i++ {
		vs = append(vs, simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: h.ago(time.Duration(100-i) * day)})
	}
	h.pkg("acme", "npm", "lib", "private", vs...)
	cfg := h.config("  - name: p\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	code, r, errOut := h.runJSON("apply", "-config", cfg)
	if code != 0 || r.Summary.Deleted != 70 {
		t.Fatalf("exit %d, deleted %d: want every old version deleted after waiting for the reset", code, r.Summary.Deleted)
	}
	if st := h.sim.Stats(); st.MaxWindowUsed > 50 || st.RateLimited > 0 {
		t.Errorf("used up to %d of 100 requests in a window (budget 50), refused %d times", st.MaxWindowUsed, st.RateLimited)
	}
	if !strings.Contains(errOut, "paused until ") || !strings.Contains(errOut, "limits.budget_share (0.5)") {
		t.Errorf("stderr does not say the run paused for the budget:\n%s", errOut)
	}
}

// A run that would have to wait past limits.max_run_duration for the
// budget stops and defers the rest: exit 0, the deferred deletions in the
// report with their cause.
func TestEndToEnd_BudgetPastTheDeadlineDefers(t *testing.T) {
	h := newHarness(t, simulator.Options{PrimaryLimit: 100})
	h.budgetShare = 0.5
	h.limits = "  max_run_duration: 20m\n"
	var vs []simulator.VersionSeed
	for i := 0; i < 80; i++ {
		vs = append(vs, simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: h.ago(time.Duration(100-i) * day)})
	}
	h.pkg("acme", "npm", "lib", "private", vs...)
	cfg := h.config("  - name: p\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	code, r, _ := h.runJSON("apply", "-config", cfg)
	s := r.Summary
	if code != 0 || s.Deleted == 0 || s.Deferred == 0 || s.Deleted+s.Deferred != 70 || s.Failed != 0 {
		t.Fatalf("exit %d, summary %+v: want exit 0, some deleted and the rest deferred", code, s)
	}
	for _, d := range r.Policies[0].Packages[0].Decisions {
		if d.Outcome == report.OutcomeDeferred && !strings.Contains(d.Error, "limits.max_run_duration") {
			t.Errorf("deferred %s without its cause: %q", d.Version, d.Error)
		}
	}
	code, out, _ := h.run("history", "-config", cfg)
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Errorf("history (exit %d):\n%s", code, out)
	}
}

// A typo in a pattern silently turns a rule off: the plan says so, and a
// package selected by two policies is pointed out.
func TestPlan_WarnsOnPatternsMatchingNothingAndOverlap(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.pkg("acme", "container", "web", "private",
		simulator.VersionSeed{Name: "a", Tags: []string{"latest"}, CreatedAt: h.ago(30 * day)},
		simulator.VersionSeed{Name: "b", CreatedAt: h.ago(20 * day)})
	cfg := h.config(`  - name: one
    select: {owner: acme, owner_type: org, package_type: container}
    protect: {tags: [lastest]}
    delete: [{name: orphans, untagged: true, older_than: 7d}]
  - name: two
    select: {owner: acme, owner_type: org, package_type: container}
    delete: [{name: old, older_than: 7d}]
`)
	code, out, _ := h.run("plan", "-config", cfg, "-format", "table")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{`warning: protect.tags[0]: "lastest" matches no tag in this plan`, `warning: package "web" is also selected by policy "one"`} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}

// A plan says what the apply would cost; an apply's report does not.
func TestEndToEnd_PlanEstimatesTheApply(t *testing.T) {
	h := newHarness(t, simulator.Options{PrimaryLimit: 5000})
	var vs []simulator.VersionSeed
	for i := 0; i < 10; i++ {
		vs = append(vs, simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: h.ago(time.Duration(100-i) * day)})
	}
	h.pkg("acme", "npm", "lib", "private", vs...)
	cfg := h.config("  - name: p\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n    protect: {keep_at_least: 1}\n")
	code, out, _ := h.run("plan", "-config", cfg, "-format", "table")
	if code != 0 || !strings.Contains(out, "apply: about 11 API requests (2 to list, 9 to delete), under a minute") {
		t.Errorf("plan (exit %d) does not estimate the apply:\n%s", code, out)
	}
	_, r, _ := h.runJSON("plan", "-config", cfg)
	if e := r.Summary.ApplyEstimate; e == nil || e.DeleteRequests != 9 || e.DurationSeconds != 9 {
		t.Errorf("plan JSON estimate %+v", e)
	}
	_, r, _ = h.runJSON("apply", "-config", cfg)
	if r.Summary.ApplyEstimate != nil || r.Summary.Deleted != 9 {
		t.Errorf("apply report: estimate %+v, %d deleted", r.Summary.ApplyEstimate, r.Summary.Deleted)
	}
}
