package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/simulator"
)

// diffWorld: a container package and an npm package whose decisions under
// two configs are known version by version.
func diffWorld(t *testing.T) (*harness, string, string) {
	h := newHarness(t, simulator.Options{})
	h.seed("acme", "web", "private",
		h.img("live", 1*day, "latest"),
		h.img("release", 90*day, "v1.0"), // old: delete:old; new: protected by v*
		h.img("mid", 45*day),             // old: kept (60d); new: delete:old (30d)
		h.img("ancient", 90*day),         // deleted by both, by the same rule
		h.img("pr", 10*day, "pr-1"),      // kept by both
	)
	h.pkg("acme", "npm", "lib", "private",
		simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(100 * day)}, // only the new config selects npm: delete
		simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(time.Hour)}) // kept: not a difference
	old := h.config(`  - name: images
    select: {owner: acme, owner_type: org, package_type: container}
    protect: {tags: [latest]}
    delete: [{name: old, older_than: 60d}]
`)
	oldPath := filepath.Join(t.TempDir(), "old.yaml")
	b, _ := os.ReadFile(old)
	if err := os.WriteFile(oldPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	newPath := h.config(`  - name: images
    select: {owner: acme, owner_type: org, package_type: container}
    protect: {tags: [latest, "v*"]}
    delete: [{name: old, older_than: 30d}]
  - name: libs
    select: {owner: acme, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 30d}]
`)
	return h, newPath, oldPath
}

// -baseline lists exactly the versions whose action or deciding rule
// differs between the configs, with both sides, and nothing else.
func TestPlanBaseline_ListsExactlyWhatDiffers(t *testing.T) {
	h, newCfg, oldCfg := diffWorld(t)
	code, out, errOut := h.run("plan", "-config", newCfg, "-baseline", oldCfg, "-format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var d struct {
		Packages []struct {
			Policy, Package string
			Versions        []struct {
				VersionID     int64 `json:"version_id"`
				Version       string
				Before, After *struct{ Action, Rule string }
			}
		}
		Summary struct {
			Differ          int
			NewlyDeleted    int `json:"newly_deleted"`
			NoLongerDeleted int `json:"no_longer_deleted"`
			DeleteBefore    int `json:"delete_before"`
			DeleteAfter     int `json:"delete_after"`
		}
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, p := range d.Packages {
		for _, v := range p.Versions {
			if v.VersionID == 0 {
				t.Errorf("%s/%s: a version without its version_id", p.Package, v.Version)
			}
			side := func(s *struct{ Action, Rule string }) string {
				if s == nil {
					return "-"
				}
				return s.Action + " " + h.readableRule(s.Rule)
			}
			got = append(got, fmt.Sprintf("%s %s/%s: %s → %s", p.Policy, p.Package, h.name(v.Version), side(v.Before), side(v.After)))
		}
	}
	sort.Strings(got)
	want := []string{
		"images web/mid: keep no-rule → delete delete:old",
		"images web/release: delete delete:old → keep protected:tag",
		"libs lib/1.0.0: - → delete delete:old",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the diff lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := d.Summary; s.Differ != 3 || s.NewlyDeleted != 2 || s.NoLongerDeleted != 1 || s.DeleteBefore != 2 || s.DeleteAfter != 3 {
		t.Errorf("summary %+v", s)
	}
	// From a snapshot: the same diff, no request.
	snap := filepath.Join(t.TempDir(), "s.json")
	if code, _, errOut := h.run("snapshot", "-config", newCfg, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, errOut)
	}
	before := h.apiRequests()
	code, offline, _ := h.run("plan", "-config", newCfg, "-baseline", oldCfg, "-snapshot", snap, "-format", "json")
	if code != 0 || offline != out || h.apiRequests() != before {
		t.Errorf("from the snapshot (exit %d, %d requests) the diff is\n%s\nwant\n%s", code, h.apiRequests()-before, offline, out)
	}
	// The same with -detailed-exitcode: the new config deletes more.
	if code, _, _ := h.run("plan", "-config", newCfg, "-baseline", oldCfg, "-detailed-exitcode", "-format", "json"); code != exitHasDelete {
		t.Errorf("-detailed-exitcode: exit %d, want 3", code)
	}
	// Against itself, nothing differs.
	code, out, _ = h.run("plan", "-config", newCfg, "-baseline", newCfg, "-format", "table")
	if code != 0 || !strings.Contains(out, "diff: 0 versions differ") {
		t.Errorf("a config against itself (exit %d):\n%s", code, out)
	}
	code, md, _ := h.run("plan", "-config", newCfg, "-baseline", oldCfg, "-format", "markdown")
	if code != 0 || !strings.Contains(md, "### ghprune policy diff") || !strings.Contains(md, "| keep (no-rule) | delete (delete:old) |") {
		t.Errorf("markdown (exit %d):\n%s", code, md)
	}
}

// The diff reads GitHub once for both configs: each listing and each
// package's versions are read once though both configs' policies select
// them.
func TestPlanBaseline_ReadsEachPackageOnce(t *testing.T) {
	h, newCfg, oldCfg := diffWorld(t)
	before := h.sim.Stats().ByOp
	if code, _, errOut := h.run("plan", "-config", newCfg, "-baseline", oldCfg, "-format", "json"); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	after := h.sim.Stats().ByOp
	// Two listings (container and npm packages of acme), two packages.
	if n := after["GET packages"] - before["GET packages"]; n != 2 {
		t.Errorf("%d package listings read, want 2", n)
	}
	if n := after["GET versions"] - before["GET versions"]; n != 2 {
		t.Errorf("%d version listings read, want 2 (one per package)", n)
	}
}

// -policy selects the same policies of the baseline: the diff of libs
// alone does not count what the baseline's images policy deletes, so
// -detailed-exitcode sees that libs now deletes more.
func TestPlanBaseline_PolicyFlagSelectsBothSides(t *testing.T) {
	h, newCfg, oldCfg := diffWorld(t)
	code, out, errOut := h.run("plan", "-config", newCfg, "-baseline", oldCfg, "-policy", "libs", "-detailed-exitcode", "-format", "json")
	if code != exitHasDelete {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	var d struct {
		Packages []struct{ Package string }
		Summary  struct {
			DeleteBefore int `json:"delete_before"`
			DeleteAfter  int `json:"delete_after"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Packages) != 1 || d.Packages[0].Package != "lib" || d.Summary.DeleteBefore != 0 || d.Summary.DeleteAfter != 1 {
		t.Errorf("diff of -policy libs: %s", out)
	}
	code, out, _ = h.run("plan", "-config", newCfg, "-baseline", oldCfg, "-policy", "images", "-format", "json")
	if code != 0 || strings.Contains(out, `"lib"`) {
		t.Errorf("diff of -policy images lists the npm package: exit %d\n%s", code, out)
	}
}
