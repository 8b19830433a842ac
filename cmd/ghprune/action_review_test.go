package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/simulator"
)

// writeWorkspace writes a file into the job's workspace.
func (j *actionJob) writeWorkspace(t *testing.T, rel, body string) {
	t.Helper()
	p := filepath.Join(j.workspace, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

const libTests = `tests:
  - name: the oldest goes
    package: lib
    version: 1.0.0
    expect: delete
    rule: old
  - name: the newest stays
    package: lib
    version: 1.0.10
    expect: keep
`

// A pull request that edits a policy: the action, given the base
// branch's config as baseline and a tests file, puts the diff and the
// test results in the job summary, with outputs changed and tests-failed.
// The edit (older_than 60d → 30d) deletes exactly 1.0.5, 1.0.6 and 1.0.7
// besides what the base deleted.
func TestAction_PullRequestGetsDiffAndTests(t *testing.T) {
	h, body := actionWorld(t)
	j := newActionJob(t, h, body)
	j.writeWorkspace(t, "base/ci/ghprune.yaml", strings.Replace(body, "older_than: 30d", "older_than: 60d", 1))
	j.writeWorkspace(t, "ci/ghprune.tests.yaml", libTests)
	j.inputs["baseline"], j.inputs["tests"] = "base/ci/ghprune.yaml", "ci/ghprune.tests.yaml"
	if code := j.run(t); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, j.stdout, j.stderr)
	}
	out := j.outputs(t)
	if out["changed"] != "3" || out["tests-failed"] != "0" || out["planned"] != "8" {
		t.Errorf("outputs %v", out)
	}
	summary, err := os.ReadFile(j.summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"## Policy tests: ok", "All 2 cases of ci/ghprune.tests.yaml passed.", "### ghprune plan",
		"### ghprune policy diff", "3 versions differ: **3 more deleted**", "| 1.0.5 |", "| 1.0.6 |", "| 1.0.7 |"} {
		if !strings.Contains(string(summary), w) {
			t.Errorf("the summary lacks %q:\n%s", w, summary)
		}
	}
	_, diff, _ := strings.Cut(string(summary), "### ghprune policy diff")
	for _, nw := range []string{"| 1.0.4 |", "| 1.0.8 |"} {
		if strings.Contains(diff, nw) {
			t.Errorf("the diff lists %s, whose decision did not change:\n%s", nw, summary)
		}
	}
	if n := h.sim.Stats().ByOp["DELETE version"]; n != 0 {
		t.Errorf("a plan with baseline sent %d deletes", n)
	}

	// The plan, the diff and the tests share one reading of GitHub: the
	// step costs what a plan alone costs.
	plain := newActionJob(t, h, body)
	before := h.sim.Stats().Requests
	if code := plain.run(t); code != 0 {
		t.Fatalf("plain plan: exit %d", code)
	}
	alone := h.sim.Stats().Requests - before
	before = h.sim.Stats().Requests
	if code := j.run(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if all := h.sim.Stats().Requests - before; all != alone {
		t.Errorf("plan, diff and tests sent %d requests; the plan alone %d", all, alone)
	}
}

// In apply mode a failing policy test stops the step before anything is
// deleted: exit 1, the case annotated on its line, nothing sent.
func TestAction_FailingTestsStopApply(t *testing.T) {
	h, body := actionWorld(t)
	j := newActionJob(t, h, body)
	j.writeWorkspace(t, "ci/t.yaml", strings.Replace(libTests, "version: 1.0.10\n    expect: keep", "version: 1.0.7\n    expect: keep", 1))
	j.inputs["tests"], j.inputs["mode"] = "ci/t.yaml", "apply"
	code := j.run(t)
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, j.stdout, j.stderr)
	}
	if !strings.Contains(j.stdout, "::error file=ci/t.yaml,line=7,title=ghprune test the newest stays::want keep, got delete by delete:old") {
		t.Errorf("no annotation on the failing case:\n%s", j.stdout)
	}
	if !strings.Contains(j.stdout, "1 policy tests failed, so nothing was applied") {
		t.Errorf("the log does not say nothing was applied:\n%s", j.stdout)
	}
	if n := h.sim.Stats().ByOp["DELETE version"]; n != 0 {
		t.Errorf("%d deletes sent although a test failed", n)
	}
	out := j.outputs(t)
	if out["tests-failed"] != "1" || out["run-id"] != "" || out["deleted"] != "" {
		t.Errorf("outputs %v", out)
	}
	summary, _ := os.ReadFile(j.summary)
	if !strings.Contains(string(summary), "## Policy tests: FAIL") || strings.Contains(string(summary), "### ghprune run") {
		t.Errorf("summary:\n%s", summary)
	}
}

// A bad tests file is annotated on its line, exit 2; baseline in apply
// mode is refused before anything is read.
func TestAction_BadTestsFileAndBaselineInApply(t *testing.T) {
	h, body := actionWorld(t)
	j := newActionJob(t, h, body)
	j.writeWorkspace(t, "ci/t.yaml", "tests:\n  - {package: lib, version: 1.0.0, expect: gone}\n")
	j.inputs["tests"] = "ci/t.yaml"
	if code := j.run(t); code != exitUsage ||
		!strings.Contains(j.stdout, `::error file=ci/t.yaml,line=2,col=44,title=ghprune tests::tests[0].expect: must be keep or delete, got "gone"`) {
		t.Errorf("exit %d:\n%s", code, j.stdout)
	}
	j.inputs["tests"], j.inputs["baseline"], j.inputs["mode"] = "", "base.yaml", "apply"
	before := h.sim.Stats().Requests
	if code := j.run(t); code != exitUsage || !strings.Contains(j.stdout, "input baseline compares two plans") {
		t.Errorf("baseline with apply: exit %d:\n%s", code, j.stdout)
	}
	if n := h.sim.Stats().Requests - before; n != 0 {
		t.Errorf("%d requests for a refused input", n)
	}
}

// The tests, the plan and the diff share the job summary's budget: three
// parts of 600 KiB each come to at most stepSummaryMax (GitHub refuses a
// summary over 1 MiB), each cut at a line break and saying so.
func TestAction_SummaryPartsShareTheBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary")
	a := &actionEnv{e: env{getenv: func(k string) string {
		if k == "GITHUB_STEP_SUMMARY" {
			return path
		}
		return ""
	}, secrets: &secrets{}}, summaryLeft: stepSummaryMax}
	part := strings.Repeat("| a row of a table |\n", 600<<10/20)
	for _, limit := range []int{stepSummaryMax / 4, stepSummaryMax, stepSummaryMax} {
		if err := a.appendSummary(part, limit); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > stepSummaryMax || len(b) < stepSummaryMax-1024 {
		t.Errorf("the summary is %d bytes; want at most %d, and most of it used", len(b), stepSummaryMax)
	}
	if n := strings.Count(string(b), "cut to fit the job summary"); n != 2 {
		t.Errorf("%d parts say they were cut, want 2 (the third had no room left)", n)
	}
}

// A broken baseline is annotated as the baseline, on its line, before the
// plan spends a request; a token-shaped case name never reaches the job
// summary, not even escaped for Markdown.
func TestAction_BrokenBaselineFirstAndNoTokenInSummary(t *testing.T) {
	h, body := actionWorld(t)
	j := newActionJob(t, h, body)
	j.writeWorkspace(t, "base.yaml", strings.Replace(body, "older_than: 30d", "older_than: soon", 1))
	j.inputs["baseline"] = "base.yaml"
	before := h.sim.Stats().Requests
	if code := j.run(t); code != exitUsage || !strings.Contains(j.stdout, "::error file=base.yaml,line=") ||
		!strings.Contains(j.stdout, "title=ghprune baseline::") {
		t.Errorf("exit %d:\n%s", code, j.stdout)
	}
	if n := h.sim.Stats().Requests - before; n != 0 {
		t.Errorf("%d requests before the broken baseline was refused", n)
	}

	tok := "ghp_" + strings.Repeat("Z", 36)
	j.inputs["baseline"] = ""
	j.writeWorkspace(t, "t.yaml", "tests:\n  - {name: "+tok+", package: lib, version: 1.0.0, expect: keep}\n")
	j.inputs["tests"] = "t.yaml"
	if code := j.run(t); code != exitFailed {
		t.Fatalf("exit %d\n%s", code, j.stdout)
	}
	summary, _ := os.ReadFile(j.summary)
	if strings.Contains(string(summary), strings.Repeat("Z", 36)) || !strings.Contains(string(summary), "REDACTED") {
		t.Errorf("the summary holds the token-shaped name:\n%s", summary)
	}
}

// With container packages too, the plan with its diff costs what the plan
// alone costs: the one reading fetches the manifests the two configs'
// plans fetch, not every manifest. Each run starts from a fresh journal,
// as a job does.
func TestAction_OneReadingWithContainers(t *testing.T) {
	h, newCfg, oldCfg := diffWorld(t)
	body, oldBody := string(must(os.ReadFile(newCfg))), string(must(os.ReadFile(oldCfg)))
	cost := func(baseline bool) (int, map[string]string) {
		j := newActionJob(t, h, body)
		if baseline {
			j.writeWorkspace(t, "base.yaml", oldBody)
			j.inputs["baseline"] = "base.yaml"
		}
		before := h.sim.Stats().Requests
		if code := j.run(t); code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, j.stdout, j.stderr)
		}
		return h.sim.Stats().Requests - before, j.outputs(t)
	}
	alone, plain := cost(false)
	both, withDiff := cost(true)
	if both != alone {
		t.Errorf("plan with diff: %d requests; plan alone: %d", both, alone)
	}
	for _, k := range []string{"planned", "freed-bytes"} {
		if plain[k] != withDiff[k] {
			t.Errorf("output %s: %q alone, %q with the diff", k, plain[k], withDiff[k])
		}
	}
	var r struct {
		Summary struct {
			APIRequests int64 `json:"api_requests"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(must(os.ReadFile(withDiff["report"])), &r); err != nil || r.Summary.APIRequests == 0 {
		t.Errorf("the report of the plan from the one reading counts %d API requests (%v)", r.Summary.APIRequests, err)
	}
}

// When the one reading cannot read everything (the budget defers
// packages), the plan is still made live and reported, with its outputs;
// the diff says it lacks packages and fails the step.
func TestAction_ReadingDeferredStillPlans(t *testing.T) {
	h := newHarness(t, simulator.Options{PrimaryLimit: 10})
	for i := 0; i < 8; i++ {
		h.pkg("acme", "npm", fmt.Sprintf("lib%d", i), "private", simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(100 * day)},
			simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	}
	h.budgetShare, h.limits = 0.5, "  max_run_duration: 10m\n"
	cfg := h.config("  - name: libs\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	body := string(must(os.ReadFile(cfg)))
	j := newActionJob(t, h, body)
	j.writeWorkspace(t, "base.yaml", strings.Replace(body, "older_than: 30d", "older_than: 60d", 1))
	j.inputs["baseline"] = "base.yaml"
	code := j.run(t)
	out := j.outputs(t)
	if code != exitFailed || out["planned"] == "" || out["report"] == "" || out["changed"] != "" {
		t.Errorf("exit %d, outputs %v\n%s", code, out, j.stdout)
	}
	if !strings.Contains(j.stdout, "::warning title=ghprune::not read for the diff and the tests") ||
		!strings.Contains(j.stdout, "::error title=ghprune diff::the diff needs every package") {
		t.Errorf("the log does not say what was not read:\n%s", j.stdout)
	}
	if _, err := os.Stat(out["report"]); err != nil {
		t.Errorf("no report: %v", err)
	}
}
