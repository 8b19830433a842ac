package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/policytest"
)

// docs/policy-tests.md names every key of a tests file and every field of
// the JSON report, and its example does what the page says: it passes
// against configs/ghcr-services.yaml, and fails only "prod is never
// deleted", at line 19, once prod is no longer protected.
func TestDocs_PolicyTests(t *testing.T) {
	doc := readDoc(t, "docs/policy-tests.md")
	all := doc.allSpans()
	for _, k := range policytest.Keys() {
		if !all[k] {
			t.Errorf("docs/policy-tests.md: the key %s is not documented (no `%s`)", k, k)
		}
	}
	reportProblems(t, checkJSONFields(doc, []any{policytest.Report{}, policytest.Result{}}))

	src, err := os.ReadFile(filepath.Join(repoRoot, "docs/policy-tests.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(packages:.*?)```").FindSubmatch(src)
	if m == nil {
		t.Fatal("docs/policy-tests.md: no example tests file")
	}
	dir := t.TempDir()
	tests := writeFile(t, dir, "ghprune.tests.yaml", string(m[1]))
	cfg, err := os.ReadFile(filepath.Join(repoRoot, "configs/ghcr-services.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const protect = `tags: ["latest", "prod", "v*"]`
	if !strings.Contains(string(cfg), protect) {
		t.Fatalf("configs/ghcr-services.yaml no longer has %s, which the page edits", protect)
	}
	good := writeFile(t, dir, "good.yaml", string(cfg))
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(string(cfg), protect, `tags: ["latest", "v*"]`, 1))
	run := func(cfgFile string) (int, string) {
		var stdout, stderr strings.Builder
		code := run(t.Context(), []string{"test", "-config", cfgFile, "-tests", tests, "-format", "table"},
			env{stdout: &stdout, stderr: &stderr, clock: clock.Real{}, getenv: func(string) string { return "" }})
		return code, stdout.String() + stderr.String()
	}
	if code, out := run(good); code != 0 || out != "ok  5 cases\n" {
		t.Errorf("the example against configs/ghcr-services.yaml: exit %d\n%s", code, out)
	}
	code, out := run(bad)
	want := fmt.Sprintf("--- FAIL: prod is never deleted (policy ghcr-services, acme/svc-api, tag prod)\n    %s:19: want keep by protected:tag, got keep by no-rule: no keep or delete rule matches\nFAIL  1 of 5 cases failed\n", tests)
	if code != exitFailed || out != want {
		t.Errorf("the example against the edited policy: exit %d\n%s\nwant\n%s", code, out, want)
	}
	if !strings.Contains(string(src), "ghprune.tests.yaml:19: want keep by protected:tag, got keep by no-rule: no keep or delete rule matches\nFAIL  1 of 5 cases failed") {
		t.Error("docs/policy-tests.md no longer shows the failure the example gives")
	}
}
