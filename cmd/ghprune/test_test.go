package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/policytest"
	"github.com/ghprune/ghprune/simulator"
)

// prodWorld seeds an image whose prod tag is old enough for any age rule
// to delete, and returns the tests file that pins it.
func prodWorld(t *testing.T) (*harness, map[string]int64, string) {
	h := newHarness(t, simulator.Options{})
	v := func(name string, age int, tags ...string) simulator.VersionSeed {
		return simulator.VersionSeed{Name: name, Tags: tags, CreatedAt: h.ago(time.Duration(age) * day)}
	}
	ids := h.pkg("acme", "container", "svc", "private",
		v("d-new", 1, "latest"), v("d-main", 5, "main-9"), v("d-prod", 200, "prod"), v("d-pr", 60, "pr-3"), v("d-old", 90))
	tests := writeFile(t, h.dir, "svc.tests.yaml", `tests:
  - name: prod is never deleted
    package: svc
    tag: prod
    expect: keep
  - name: old pull-request builds go
    package: svc
    tag: pr-3
    expect: delete
    rule: stale
  - name: the newest stays
    package: svc
    tag: latest
    expect: keep
    rule: protected:newer_than
`)
	return h, ids, tests
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const prodPolicy = `  - name: svc
    select: {owner: acme, owner_type: org, package_type: container}
    protect: {tags: [%s], newer_than: 72h}
    delete:
      - name: stale
        older_than: 30d
`

// A tests file that expects prod kept passes against the policy that
// protects it, read live or from a snapshot with the simulator gone; the
// same file against the policy edited to drop the protection fails,
// naming the case, with exit 1. The snapshot run sends no request.
func TestPolicyTests_PassThenFailOnAnEdit(t *testing.T) {
	h, _, tests := prodWorld(t)
	good := h.config(fmt.Sprintf(prodPolicy, "prod"))

	code, out, errOut := h.run("test", "-config", good, "-tests", tests, "-format", "table", "-v")
	if code != 0 || !strings.Contains(out, "ok  3 cases") || !strings.Contains(out, "--- PASS: prod is never deleted") {
		t.Fatalf("live: exit %d\n%s\n%s", code, out, errOut)
	}
	snap := filepath.Join(h.dir, "snap.json.gz")
	if code, _, errOut := h.run("snapshot", "-config", good, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, errOut)
	}
	before := h.sim.Stats().Requests
	if code, out, errOut := h.run("test", "-config", good, "-tests", tests, "-snapshot", snap, "-format", "table"); code != 0 || out != "ok  3 cases\n" {
		t.Fatalf("from the snapshot: exit %d\n%q\n%s", code, out, errOut)
	}

	edited := h.config(fmt.Sprintf(prodPolicy, "v*"))
	code, out, errOut = h.run("test", "-config", edited, "-tests", tests, "-snapshot", snap, "-format", "table")
	if code != exitFailed {
		t.Fatalf("edited policy: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	want := []string{
		"--- FAIL: prod is never deleted (policy svc, acme/svc, tag prod)",
		"svc.tests.yaml:2: want keep, got delete by delete:stale",
		"FAIL  1 of 3 cases failed",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("the report lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "old pull-request builds go") {
		t.Errorf("a passing case is listed without -v:\n%s", out)
	}
	if n := h.sim.Stats().Requests - before; n != 0 {
		t.Errorf("%d requests while testing from a snapshot", n)
	}
	h.assertNoToken()
}

// The JSON report has every case with its decision; Markdown has the
// failing ones in a table.
func TestPolicyTests_JSONAndMarkdown(t *testing.T) {
	h, ids, tests := prodWorld(t)
	edited := h.config(fmt.Sprintf(prodPolicy, "v*"))
	code, out, errOut := h.run("test", "-config", edited, "-tests", tests, "-format", "json")
	if code != exitFailed {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep policytest.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Passed != 2 || rep.Failed != 1 || len(rep.Cases) != 3 {
		t.Fatalf("passed %d failed %d of %d", rep.Passed, rep.Failed, len(rep.Cases))
	}
	c := rep.Cases[0]
	if c.Pass || c.Action != "delete" || c.Rule != "delete:stale" || c.Line != 2 || c.VersionID != ids["d-prod"] || c.Expect != "keep" {
		t.Errorf("the failing case: %+v", c)
	}
	code, md, _ := h.run("test", "-config", edited, "-tests", tests, "-format", "markdown")
	if code != exitFailed || !strings.Contains(md, "## Policy tests: FAIL") ||
		!strings.Contains(md, "| prod is never deleted (line 2) | svc | acme/svc | tag prod | keep | delete by delete:stale |") {
		t.Errorf("markdown: exit %d\n%s", code, md)
	}
}

// Synthetic packages need neither a snapshot nor a token: the config
// points at a server that is not there, and no token is set.
func TestPolicyTests_SyntheticNeedsNoGitHub(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", `version: 1
github: {api_url: "http://127.0.0.1:1", registry_url: "http://127.0.0.1:1"}
state: {path: `+filepath.Join(dir, "j.db")+`}
policies:
  - name: svc
    select: {owner: acme, owner_type: org, package_type: container}
    protect: {tags: [prod], keep_at_least: 1}
    delete:
      - {name: stale, older_than: 30d}
`)
	tests := writeFile(t, dir, "t.yaml", `packages:
  - owner: acme
    name: svc
    package_type: container
    versions:
      - {name: a, tags: [main-2], age: 1d}
      - {name: b, tags: [prod], age: 400d}
      - {name: c, tags: [main-1], age: 20d}
tests:
  - {name: prod stays, package: svc, tag: prod, expect: keep, rule: protected:tag}
  - {name: main-1 goes in 11 days, package: svc, tag: main-1, at: +11d, expect: delete, rule: stale}
  - {name: main-1 stays today, package: svc, version: c, expect: keep, rule: no-rule}
`)
	h := newHarness(t, simulator.Options{})
	var stdout, stderr strings.Builder
	code := run(t.Context(), []string{"test", "-config", cfg, "-tests", tests, "-format", "table", "-v"},
		env{stdout: &stdout, stderr: &stderr, clock: h.clock, getenv: func(string) string { return "" }})
	if code != 0 || !strings.Contains(stdout.String(), "ok  3 cases") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "--- PASS: main-1 goes in 11 days (policy svc, acme/svc, tag main-1, at ") {
		t.Errorf("the case with at: is not reported at its time:\n%s", stdout.String())
	}
}

// A case naming a package that is neither synthetic nor in -snapshot, with
// no token, is an error that names the case; a bad tests file is exit 2
// with its file, line and key, and nothing is sent.
func TestPolicyTests_BadInput(t *testing.T) {
	h, _, _ := prodWorld(t)
	cfg := h.config(fmt.Sprintf(prodPolicy, "prod"))
	before := h.sim.Stats().Requests
	for name, tc := range map[string]struct{ body, want string }{
		"expect":      {"tests:\n  - {package: svc, tag: prod, expect: maybe}\n", `bad.yaml:2:39: tests[0].expect: must be keep or delete, got "maybe"`},
		"two refs":    {"tests:\n  - {package: svc, tag: prod, id: 3, expect: keep}\n", "give only one of version, tag or id"},
		"policy":      {"tests:\n  - {policy: nope, package: svc, tag: prod, expect: keep}\n", `tests[0].policy: no policy "nope"`},
		"rule":        {"tests:\n  - {package: svc, tag: prod, expect: keep, rule: keep-all}\n", `policy svc cannot decide by "keep-all"`},
		"typo":        {"tests:\n  - {package: svc, tag: prod, expcet: keep}\n", `unknown key "expcet" (did you mean "expect"?)`},
		"alias":       {"x: &a [1]\ntests: *a\n", "aliases are not supported"},
		"token value": {"tests:\n  - {package: svc, tag: ghp_abcdefghijklmnop1234, expect: sure}\n", `got "sure"`},
	} {
		t.Run(name, func(t *testing.T) {
			bad := writeFile(t, h.dir, "bad.yaml", tc.body)
			code, _, errOut := h.run("test", "-config", cfg, "-tests", bad)
			if code != exitUsage || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "bad.yaml:") {
				t.Errorf("exit %d, want 2 and %q:\n%s", code, tc.want, errOut)
			}
		})
	}
	if n := h.sim.Stats().Requests - before; n != 0 {
		t.Errorf("%d requests for bad tests files", n)
	}
}

// Every example config has a tests file beside it, and ghprune test
// passes it with nothing but the file: the examples' intent, pinned.
func TestConfigs_PolicyTestsPass(t *testing.T) {
	files := exampleConfigs(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			tests := strings.TrimSuffix(f, ".yaml") + ".tests.yaml"
			if _, err := os.Stat(tests); err != nil {
				t.Fatalf("%s has no tests file: %v", f, err)
			}
			var stdout, stderr strings.Builder
			code := run(t.Context(), []string{"test", "-config", f, "-tests", tests, "-format", "json"},
				env{stdout: &stdout, stderr: &stderr, clock: newHarness(t, simulator.Options{}).clock, getenv: func(string) string { return "" }})
			var rep policytest.Report
			if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil || code != 0 || rep.Failed != 0 || rep.Passed < 3 {
				t.Fatalf("exit %d (%v): %d passed, %d failed\n%s\n%s", code, err, rep.Passed, rep.Failed, stdout.String(), stderr.String())
			}
		})
	}
}

// exampleConfigs are the configs in configs/, without their tests files.
func exampleConfigs(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob("../../configs/*.yaml")
	var files []string
	for _, f := range all {
		if !strings.HasSuffix(f, ".tests.yaml") {
			files = append(files, f)
		}
	}
	if err != nil || len(files) < 4 {
		t.Fatalf("configs: %v %v", files, err)
	}
	return files
}

// -o refuses the tests file and the snapshot, which a report would
// destroy; every problem of a bad file is on its own line.
func TestPolicyTests_OutputRefusesInputsAndErrorsAreLines(t *testing.T) {
	h, _, tests := prodWorld(t)
	cfg := h.config(fmt.Sprintf(prodPolicy, "prod"))
	snap := filepath.Join(h.dir, "snap.json")
	if code, _, errOut := h.run("snapshot", "-config", cfg, "-o", snap); code != 0 {
		t.Fatalf("snapshot: %s", errOut)
	}
	for _, o := range []string{tests, snap} {
		before, _ := os.ReadFile(o)
		code, _, errOut := h.run("test", "-config", cfg, "-tests", tests, "-snapshot", snap, "-o", o)
		after, _ := os.ReadFile(o)
		if code != exitUsage || !strings.Contains(errOut, "write the report elsewhere") || string(before) != string(after) {
			t.Errorf("-o %s: exit %d, changed %v\n%s", o, code, string(before) != string(after), errOut)
		}
	}
	bad := writeFile(t, h.dir, "bad.yaml", "tests:\n  - {package: svc, tag: prod, expect: maybe}\n  - {package: svc, tag: prod, expect: never}\n")
	_, _, errOut := h.run("test", "-config", cfg, "-tests", bad)
	if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 2 || strings.Contains(errOut, `\x0a`) {
		t.Errorf("want one line per problem:\n%s", errOut)
	}
}

// A second policy selecting the same image deletes prod whatever the first
// protects: the tests of the first fail, as the run would delete it.
func TestPolicyTests_AnotherPolicyDeletingFailsAKeep(t *testing.T) {
	h, _, tests := prodWorld(t)
	cfg := h.config(fmt.Sprintf(prodPolicy, "prod") + `  - name: janitor
    select: {owner: acme, owner_type: org, package_type: container, packages: [svc]}
    delete:
      - name: old
        older_than: 60d
`)
	tests2 := writeFile(t, h.dir, "t2.yaml", strings.ReplaceAll(string(must(os.ReadFile(tests))), "    package: svc\n", "    policy: svc\n    package: svc\n"))
	code, out, errOut := h.run("test", "-config", cfg, "-tests", tests2, "-format", "table")
	if code != exitFailed || !strings.Contains(out, "--- FAIL: prod is never deleted") ||
		!strings.Contains(out, "but policy janitor also selects the package and would delete it by delete:old") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	_, md, _ := h.run("test", "-config", cfg, "-tests", tests2, "-format", "markdown")
	if !strings.Contains(md, "| keep | delete by delete:old (policy janitor) |") {
		t.Errorf("markdown:\n%s", md)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
