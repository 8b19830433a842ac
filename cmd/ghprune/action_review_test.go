package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
