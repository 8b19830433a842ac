package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// actionValidator finds action-validator (npm @action-validator/cli), which
// checks action metadata and workflows against SchemaStore's schemas; the
// test skips without it, except in CI (GHPRUNE_REQUIRE_ACTION_VALIDATOR).
func actionValidator(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GHPRUNE_ACTION_VALIDATOR"); p != "" {
		return p
	}
	if p, err := exec.LookPath("action-validator"); err == nil {
		return p
	}
	if os.Getenv("GHPRUNE_REQUIRE_ACTION_VALIDATOR") != "" {
		t.Fatal("action-validator not found: set GHPRUNE_ACTION_VALIDATOR")
	}
	t.Skip("action-validator not installed (npm install @action-validator/cli)")
	return ""
}

func validate(t *testing.T, bin, path string) {
	t.Helper()
	out, err := exec.Command(bin, path).CombinedOutput()
	if err != nil {
		t.Errorf("action-validator %s: %v\n%s", path, err, out)
	}
}

// readmeWorkflow is the README's example workflow that holds want.
func readmeWorkflow(t *testing.T, want string) string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(raw), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.Contains(block, "uses: ghprune/ghprune@") && strings.Contains(block, want) {
			return block
		}
	}
	t.Fatalf("README.md has no workflow using ghprune/ghprune with %q", want)
	return ""
}

// workflow is what the tests read of a workflow.
type workflow struct {
	Permissions map[string]string
	Jobs        map[string]struct {
		Steps []struct {
			ID   string
			Uses string
			With map[string]string
		}
	}
}

// actionInputsDeclared are the inputs action.yml declares.
func actionInputsDeclared(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ Inputs map[string]any }
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	return meta.Inputs
}

// validateWorkflow writes wf where Actions reads workflows and validates it.
func validateWorkflow(t *testing.T, bin, wf string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".github", "workflows")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ghprune.yml")
	if err := os.WriteFile(path, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	validate(t, bin, path)
}

// The README's pull-request workflow checks the base out beside the head
// and passes it as baseline with the tests file, with only the inputs
// action.yml declares, in plan mode, and with a read-only package scope;
// GitHub's schemas accept it.
func TestREADME_PullRequestWorkflowValidates(t *testing.T) {
	wf := readmeWorkflow(t, "baseline:")
	var w workflow
	if err := yaml.Unmarshal([]byte(wf), &w); err != nil {
		t.Fatalf("the README's pull-request workflow: %v", err)
	}
	inputs := actionInputsDeclared(t)
	basePath, found := "", false
	for _, job := range w.Jobs {
		for _, st := range job.Steps {
			if strings.HasPrefix(st.Uses, "actions/checkout@") && st.With["ref"] != "" {
				basePath = st.With["path"]
			}
			if !strings.HasPrefix(st.Uses, "ghprune/ghprune@") {
				continue
			}
			found = true
			for k := range st.With {
				if _, ok := inputs[k]; !ok {
					t.Errorf("the workflow passes input %q, which action.yml does not declare", k)
				}
			}
			if basePath == "" || !strings.HasPrefix(st.With["baseline"], basePath+"/") || st.With["tests"] == "" {
				t.Errorf("baseline %q is not in the base checkout %q, or no tests: %v", st.With["baseline"], basePath, st.With)
			}
			if m := st.With["mode"]; m != "" && m != "plan" {
				t.Errorf("mode %q: a review plans", m)
			}
		}
	}
	if !found || w.Permissions["packages"] != "read" {
		t.Errorf("no ghprune step (%v), or permissions %v are not packages: read", found, w.Permissions)
	}
	validateWorkflow(t, actionValidator(t), wf)
}

// action.yml and the README's workflow are what GitHub accepts, by the
// schemas the Actions tooling uses; the workflow passes only inputs the
// action declares, grants packages: write, and keeps the journal the
// action writes.
func TestActionYAML_AndTheREADMEWorkflowValidate(t *testing.T) {
	wf := readmeWorkflow(t, "upload-artifact")
	var w workflow
	if err := yaml.Unmarshal([]byte(wf), &w); err != nil {
		t.Fatalf("the README's workflow: %v", err)
	}
	meta := struct{ Inputs map[string]any }{actionInputsDeclared(t)}
	if w.Permissions["packages"] != "write" {
		t.Errorf("the workflow's permissions %v lack packages: write", w.Permissions)
	}
	uploads := false
	for _, job := range w.Jobs {
		for _, st := range job.Steps {
			if strings.HasPrefix(st.Uses, "ghprune/ghprune@") {
				for k := range st.With {
					if _, ok := meta.Inputs[k]; !ok {
						t.Errorf("the workflow passes input %q, which action.yml does not declare", k)
					}
				}
			}
			if strings.HasPrefix(st.Uses, "actions/upload-artifact@") && st.With["path"] == "${{ runner.temp }}/ghprune/journal.db" {
				uploads = true
			}
		}
	}
	if !uploads {
		t.Error("the workflow does not upload the journal from its default path")
	}

	bin := actionValidator(t)
	validate(t, bin, "../../action.yml")
	validateWorkflow(t, bin, wf)
}
