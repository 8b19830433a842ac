package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/simulator"
)

// actionJob is one job of GitHub Actions on this machine: a workspace with
// the config at ci/ghprune.yaml, RUNNER_TEMP, and the step's summary and
// output files, as the runner sets them for a Docker action.
type actionJob struct {
	h                  *harness
	workspace, temp    string
	summary, output    string
	inputs             map[string]string
	stdout, stderr     string
	mu                 sync.Mutex
	asked              map[string]bool // the variables the command read
	withoutGitHubToken bool
}

func newActionJob(t *testing.T, h *harness, configBody string) *actionJob {
	t.Helper()
	root := t.TempDir()
	j := &actionJob{h: h, workspace: filepath.Join(root, "workspace"), temp: filepath.Join(root, "runner-temp"),
		summary: filepath.Join(root, "step_summary"), output: filepath.Join(root, "output"), asked: map[string]bool{},
		inputs: map[string]string{"config": "ci/ghprune.yaml", "token": testToken}}
	for _, d := range []string{filepath.Join(j.workspace, "ci"), j.temp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(j.workspace, "ci", "ghprune.yaml"), []byte(configBody), 0o644); err != nil {
		t.Fatal(err)
	}
	return j
}

// run runs `ghprune action` with the job's variables; GITHUB_TOKEN is
// unset, as it may be in a Docker action.
func (j *actionJob) run(t *testing.T) int {
	t.Helper()
	vars := map[string]string{"GITHUB_WORKSPACE": j.workspace, "RUNNER_TEMP": j.temp,
		"GITHUB_STEP_SUMMARY": j.summary, "GITHUB_OUTPUT": j.output, "GITHUB_ACTIONS": "true"}
	for k, v := range j.inputs {
		vars["INPUT_"+strings.ToUpper(k)] = v
	}
	var stdout, stderr bytes.Buffer
	e := env{stdout: &stdout, stderr: &stderr, clock: j.h.clock, getenv: func(k string) string {
		j.mu.Lock()
		j.asked[k] = true
		j.mu.Unlock()
		return vars[k]
	}}
	code := run(context.Background(), []string{"action"}, e)
	j.stdout, j.stderr = stdout.String(), stderr.String()
	return code
}

// outputs reads the step's outputs.
func (j *actionJob) outputs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(j.output)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("GITHUB_OUTPUT line %q is not name=value", line)
		}
		out[k] = v
	}
	return out
}

// actionWorld has 8 versions older than 30 days and 3 newer, with an
// enforce policy.
func actionWorld(t *testing.T) (*harness, string) {
	h := newHarness(t, simulator.Options{})
	var vs []simulator.VersionSeed
	for i := 0; i < 11; i++ {
		vs = append(vs, simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: h.ago(time.Duration(100-i*9) * day)})
	}
	h.pkg("acme", "npm", "lib", "private", vs...)
	cfg := h.config("  - name: libs\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n    protect: {keep_at_least: 1, tags: [lastest]}\n")
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, string(body)
}

// The action as Actions runs it: a plan, then an apply, with the summary's
// table, every output, the masked token and the annotations.
func TestAction_PlanThenApplyAsActionsRunsIt(t *testing.T) {
	h, body := actionWorld(t)
	j := newActionJob(t, h, body)

	if code := j.run(t); code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, j.stdout, j.stderr)
	}
	if first, _, _ := strings.Cut(j.stdout, "\n"); first != "::add-mask::"+testToken {
		t.Errorf("the first line is %q, want the token masked", first)
	}
	if n := strings.Count(j.stdout+j.stderr, testToken); n != 1 {
		t.Errorf("the token appears %d times in the output; only the mask may hold it", n)
	}
	if !strings.Contains(j.stdout, `::warning title=ghprune policy libs::protect.tags[0]: "lastest" matches no tag in this plan`) {
		t.Errorf("no warning annotation for the lint finding:\n%s", j.stdout)
	}
	if !strings.Contains(j.stdout, "::stop-commands::ghprune-") || !strings.Contains(j.stdout, "libs (plan)") {
		t.Errorf("the log lacks the table between stop-commands markers:\n%s", j.stdout)
	}
	out := j.outputs(t)
	want := map[string]string{"planned": "8", "deleted": "0", "skipped": "0", "failed": "0", "freed-bytes": "0", "run-id": "",
		"report": filepath.Join(j.temp, "ghprune", "report.json"), "journal": filepath.Join(j.temp, "ghprune", "journal.db")}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
	var r report.Report
	raw, err := os.ReadFile(out["report"])
	if err != nil || json.Unmarshal(raw, &r) != nil || r.Summary.Delete != 8 {
		t.Errorf("the report output %s: %v, %d deletes", out["report"], err, r.Summary.Delete)
	}
	summary, err := os.ReadFile(j.summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"### ghprune plan", "| policy | package | type | versions | delete |", "| libs | acme/lib | npm | 11 | 8 | 3 |"} {
		if !strings.Contains(string(summary), w) {
			t.Errorf("the job summary lacks %q:\n%s", w, summary)
		}
	}

	j.inputs["mode"] = "apply"
	if code := j.run(t); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, j.stdout, j.stderr)
	}
	out = j.outputs(t) // appended: the apply's values come last
	if out["run-id"] != "1" || out["deleted"] != "8" || out["planned"] != "8" {
		t.Errorf("apply outputs %v", out)
	}
	if _, err := os.Stat(filepath.Join(j.temp, "ghprune", "journal.db")); err != nil {
		t.Errorf("no journal in RUNNER_TEMP: %v", err)
	}
	summary, _ = os.ReadFile(j.summary)
	if !strings.Contains(string(summary), "### ghprune plan") || !strings.Contains(string(summary), "### ghprune run 1") ||
		!strings.Contains(string(summary), "-journal journal.db -run 1") {
		t.Errorf("the summary must keep the plan and add the run with how to restore it:\n%s", summary)
	}
	for _, f := range []string{j.summary, j.output, out["report"]} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(testToken)) {
			t.Errorf("%s holds the token", f)
		}
	}
}

// fail-on-delete fails a plan that deletes something, with exit 3.
func TestAction_FailOnDelete(t *testing.T) {
	h, body := actionWorld(t)
	j := newActionJob(t, h, body)
	j.inputs["fail-on-delete"] = "true"
	if code := j.run(t); code != exitHasDelete || !strings.Contains(j.stdout, "::error title=ghprune::the plan deletes 8 versions (fail-on-delete)") {
		t.Errorf("exit %d:\n%s", code, j.stdout)
	}
	j.inputs["fail-on-delete"] = "maybe"
	if code := j.run(t); code != exitUsage || !strings.Contains(j.stdout, `fail-on-delete must be true or false, got \"maybe\"`) && !strings.Contains(j.stdout, `got "maybe"`) {
		t.Errorf("a bad fail-on-delete: exit %d:\n%s", code, j.stdout)
	}
}

// A broken config is annotated on its file and line, exit 2, nothing sent.
func TestAction_BrokenConfigIsAnnotated(t *testing.T) {
	h, body := actionWorld(t)
	body = strings.Replace(body, "keep_at_least: 1", "keep_at_least: -2", 1)
	line := 0
	for i, l := range strings.Split(body, "\n") {
		if strings.Contains(l, "keep_at_least") {
			line = i + 1
		}
	}
	j := newActionJob(t, h, body)
	h.sim.ResetStats()
	if code := j.run(t); code != exitUsage {
		t.Fatalf("exit %d, want 2:\n%s", code, j.stdout)
	}
	want := fmt.Sprintf("::error file=ci/ghprune.yaml,line=%d,", line)
	if !strings.Contains(j.stdout, want) || !strings.Contains(j.stdout, "title=ghprune config::policies[0].protect.keep_at_least") {
		t.Errorf("no annotation %q...:\n%s", want, j.stdout)
	}
	if n := h.sim.Stats().Requests; n != 0 {
		t.Errorf("%d requests sent for a broken config", n)
	}
}

// action.yml parses, runs this image with `ghprune action`, and every
// input it declares is read by the command; every output it declares is
// written.
func TestActionYAML_DeclaresWhatTheCommandReads(t *testing.T) {
	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Name   string
		Inputs map[string]struct {
			Required bool
			Default  string
		}
		Outputs map[string]struct{ Description string }
		Runs    struct {
			Using, Image string
			Args         []string
		}
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if meta.Runs.Using != "docker" || meta.Runs.Image != "action.Dockerfile" || strings.Join(meta.Runs.Args, " ") != "action" {
		t.Errorf("runs %+v, want docker, action.Dockerfile, [action]", meta.Runs)
	}
	if _, err := os.Stat(filepath.Join("../..", meta.Runs.Image)); err != nil {
		t.Errorf("runs.image: %v", err)
	}
	if !meta.Inputs["config"].Required || meta.Inputs["token"].Default != "${{ github.token }}" || meta.Inputs["mode"].Default != "plan" {
		t.Errorf("inputs %+v", meta.Inputs)
	}
	var declared []string
	for name := range meta.Inputs {
		declared = append(declared, name)
	}
	sort.Strings(declared)
	known := append([]string(nil), actionInputs...)
	sort.Strings(known)
	if strings.Join(declared, ",") != strings.Join(known, ",") {
		t.Errorf("action.yml declares %v, ghprune action knows %v", declared, known)
	}

	h, body := actionWorld(t)
	j := newActionJob(t, h, body)
	if code := j.run(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, j.stderr)
	}
	for _, name := range declared {
		if !j.asked["INPUT_"+strings.ToUpper(name)] {
			t.Errorf("input %s is declared but ghprune action never reads INPUT_%s", name, strings.ToUpper(name))
		}
	}
	written := j.outputs(t)
	for name := range meta.Outputs {
		if _, ok := written[name]; !ok {
			t.Errorf("output %s is declared but not written", name)
		}
	}
	for name := range written {
		if _, ok := meta.Outputs[name]; !ok {
			t.Errorf("output %s is written but not declared", name)
		}
	}
}

// Workflow commands escape what they carry, so a message or a file name
// cannot end the command or start another.
func TestWorkflowCommandEscaping(t *testing.T) {
	if got := escapeData("50% done\r\n::error::x"); got != "50%25 done%0D%0A::error::x" {
		t.Errorf("escapeData = %q", got)
	}
	if got := escapeProperty("a:b,c%\n"); got != "a%3Ab%2Cc%25%0A" {
		t.Errorf("escapeProperty = %q", got)
	}
}
