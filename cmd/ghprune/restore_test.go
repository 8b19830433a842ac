package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/simulator"
)

// restoreRig applies a policy that deletes six npm versions and three
// container images, and returns the run id.
func restoreRig(t *testing.T) (*harness, string, string) {
	h := newHarness(t, simulator.Options{})
	var npm []simulator.VersionSeed
	for i := 0; i < 6; i++ {
		npm = append(npm, simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: h.ago(time.Duration(90-i) * day)})
	}
	npm = append(npm, simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	h.pkg("acme", "npm", "lib", "private", npm...)
	h.pkg("acme", "container", "img", "private",
		simulator.VersionSeed{Name: "sha256:keep", Tags: []string{"latest"}, CreatedAt: h.ago(day)},
		simulator.VersionSeed{Name: "sha256:pr1", Tags: []string{"pr-1"}, CreatedAt: h.ago(40 * day)},
		simulator.VersionSeed{Name: "sha256:pr2", Tags: []string{"pr-2"}, CreatedAt: h.ago(41 * day)},
		simulator.VersionSeed{Name: "sha256:pr3", Tags: []string{"pr-3"}, CreatedAt: h.ago(42 * day)})
	cfg := h.config(`  - name: libs
    mode: enforce
    select: {owner: acme, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 30d}]
  - name: imgs
    mode: enforce
    select: {owner: acme, owner_type: org, package_type: container}
    delete: [{name: prs, tags: ["pr-*"], older_than: 30d}]
`)
	code, r, stderr := h.runJSON("apply", "-config", cfg)
	if code != 0 || r.Summary.Deleted != 9 {
		t.Fatalf("apply exit %d, deleted %d: %s", code, r.Summary.Deleted, stderr)
	}
	return h, cfg, fmt.Sprint(*r.RunID)
}

func (h *harness) restorePosts() int { return h.sim.Stats().ByOp["POST version/restore"] }

func TestRestore_BySelector(t *testing.T) {
	h, cfg, _ := restoreRig(t)
	ids := map[string]int64{}
	for _, v := range append(h.sim.Versions("acme", "npm", "lib"), h.sim.Versions("acme", "container", "img")...) {
		ids[h.name(v.Name)] = v.ID
	}
	steps := []struct {
		args []string
		back []string // versions active again after this step
	}{
		{[]string{"-version-id", fmt.Sprint(ids["1.0.0"])}, []string{"1.0.0"}},
		{[]string{"-package", "img", "-tag", "pr-1"}, []string{"sha256:pr1"}},
		{[]string{"-package", "lib", "-version", "1.0.3"}, []string{"1.0.3"}},
		{[]string{"-since", "1h"}, []string{"1.0.1", "1.0.2", "1.0.4", "1.0.5", "sha256:pr2", "sha256:pr3"}},
	}
	for _, s := range steps {
		before := h.restorePosts()
		code, out, stderr := h.run(append([]string{"restore", "-config", cfg, "-format", "table"}, s.args...)...)
		if code != 0 {
			t.Fatalf("restore %v exit %d: %s %s", s.args, code, out, stderr)
		}
		if got := h.restorePosts() - before; got != len(s.back) {
			t.Errorf("restore %v sent %d restores, want %d:\n%s", s.args, got, len(s.back), out)
		}
		for _, name := range s.back {
			if v := h.version(ids[name]); v.DeletedAt != nil {
				t.Errorf("restore %v: %s still deleted", s.args, name)
			}
		}
	}
	if code, _, stderr := h.run("restore", "-config", cfg, "-package", "lib"); code != exitUsage || !strings.Contains(stderr, "needs -tag or -version") {
		t.Errorf("a bare -package must be refused: exit %d %s", code, stderr)
	}
}

func TestRestore_DryRunSendsNothing(t *testing.T) {
	h, cfg, run := restoreRig(t)
	h.sim.ResetStats()
	code, out, _ := h.run("restore", "-config", cfg, "-run", run, "-dry-run", "-format", "table")
	if code != 0 || strings.Count(out, "would-restore") != 9 || !strings.Contains(out, "nothing sent") {
		t.Errorf("dry run exit %d:\n%s", code, out)
	}
	if n := h.sim.Stats().Requests; n != 0 {
		t.Errorf("dry run sent %d requests", n)
	}
}

// Past GitHub's 30-day window a restore is refused without a request.
func TestRestore_ExpiredWindowRefusedWithoutRequest(t *testing.T) {
	h, cfg, run := restoreRig(t)
	h.clock.Advance(31 * day)
	h.sim.ResetStats()
	code, out, _ := h.run("restore", "-config", cfg, "-run", run, "-format", "table")
	if code != exitFailed || strings.Count(out, "expired") < 9 {
		t.Errorf("expired restore exit %d:\n%s", code, out)
	}
	if n := h.restorePosts(); n != 0 {
		t.Errorf("%d restores sent past the window", n)
	}
}

// A version whose name was published again cannot be restored: GitHub's
// refusal is reported for it and the rest are restored; exit 1.
func TestRestore_ReusedNameReportedRestContinues(t *testing.T) {
	h, cfg, run := restoreRig(t)
	if _, err := h.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: "1.0.2", CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	code, out, _ := h.run("restore", "-config", cfg, "-run", run, "-format", "json")
	if code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	if got := h.sim.Stats().Restores; got != 8 {
		t.Errorf("restored %d, want the 8 others", got)
	}
	if !strings.Contains(out, `"result": "failed"`) || !strings.Contains(strings.ToLower(out), "newer") {
		t.Errorf("the reused name is not reported with GitHub's message:\n%s", out)
	}
	// Restoring again sends only the one that failed.
	h.sim.ResetStats()
	h.run("restore", "-config", cfg, "-run", run, "-format", "json")
	if got := h.restorePosts(); got != 1 {
		t.Errorf("second restore sent %d, want 1 (only the failed one)", got)
	}
}

// -package alone must not restore the same name under two owners.
func TestRestore_AmbiguousPackageNeedsOwner(t *testing.T) {
	h, cfg, _ := restoreRig(t)
	h.sim.AddOrg("acme-labs", 101, "octo")
	h.pkg("acme-labs", "npm", "lib", "private",
		simulator.VersionSeed{Name: "1.0.2", CreatedAt: h.ago(90 * day)}, simulator.VersionSeed{Name: "9.0.0", CreatedAt: h.ago(day)})
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte("  - name: labs\n    mode: enforce\n    select: {owner: acme-labs, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")...), 0o600)
	if code, _, stderr := h.run("apply", "-config", cfg, "-policy", "labs"); code != 0 {
		t.Fatalf("apply labs: %d %s", code, stderr)
	}
	h.sim.ResetStats()
	code, _, stderr := h.run("restore", "-config", cfg, "-package", "lib", "-version", "1.0.2")
	if code != exitUsage || !strings.Contains(stderr, "add -owner") || h.restorePosts() != 0 {
		t.Fatalf("ambiguous restore: exit %d, %d sent, %s", code, h.restorePosts(), stderr)
	}
	if code, out, _ := h.run("restore", "-config", cfg, "-owner", "acme-labs", "-package", "lib", "-version", "1.0.2", "-format", "table"); code != 0 || h.restorePosts() != 1 {
		t.Errorf("restore with -owner: exit %d, %d sent\n%s", code, h.restorePosts(), out)
	}
}
