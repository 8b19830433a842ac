package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghprune/ghprune/simulator"
)

// livePlanEqualsSnapshotPlan takes a snapshot of cfg and checks that the
// plan from it decides what the live plan decides, version by version.
func livePlanEqualsSnapshotPlan(t *testing.T, h *harness, cfg string) map[string]string {
	t.Helper()
	_, live, _ := h.runJSON("plan", "-config", cfg)
	snap := filepath.Join(t.TempDir(), "s.json")
	if code, _, errOut := h.run("snapshot", "-config", cfg, "-o", snap); code > 1 {
		t.Fatalf("snapshot: exit %d %s", code, errOut)
	}
	_, off, _ := h.runJSON("plan", "-config", cfg, "-snapshot", snap)
	want, got := h.decisions(live), h.decisions(off)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the plan from the snapshot differs from the live plan (-live +snapshot):\n%s", diff)
	}
	return want
}

// Two owners have a public package of one name whose old version GitHub
// refused to delete (downloads): the snapshot keeps each owner's refusal
// with its own package, so neither is planned for deletion from it.
func TestSnapshot_RefusalsStayWithTheirOwner(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.sim.AddOrg("beta", 101, "octo")
	for _, org := range []string{"acme", "beta"} {
		h.pkg(org, "npm", "lib", "public",
			simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(100 * day), Downloads: 6000},
			simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(1 * day)})
	}
	var pols string
	for _, org := range []string{"acme", "beta"} {
		pols += fmt.Sprintf("  - name: %s\n    mode: enforce\n    select: {owner: %s, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n", org, org)
	}
	cfg := h.config(pols)
	if code, _, errOut := h.run("apply", "-config", cfg, "-format", "json"); code != 0 {
		t.Fatalf("apply: exit %d %s", code, errOut)
	}
	live := livePlanEqualsSnapshotPlan(t, h, cfg)
	if live["lib/1.0.0"] != "keep download-limit" {
		t.Errorf("live plan after the refusals: %v", live)
	}
	snap := filepath.Join(t.TempDir(), "s.json")
	if code, _, errOut := h.run("snapshot", "-config", cfg, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d %s", code, errOut)
	}
	if code, out, _ := h.run("plan", "-config", cfg, "-snapshot", snap, "-detailed-exitcode", "-format", "json"); code != 0 {
		t.Errorf("plan from the snapshot: exit %d, want 0 (nothing deletable)\n%s", code, out)
	}
	// The horizons plan from a snapshot taken in memory: nothing to delete.
	code, out, _ := h.run("plan", "-config", cfg, "-at", "+0d,+1d", "-detailed-exitcode", "-format", "json")
	if code != 0 {
		t.Errorf("horizons: exit %d, want 0 (nothing deletable)\n%s", code, out)
	}
}

// A listing that showed a version twice, on every look, keeps the package
// whole live; so does a plan from the snapshot of it.
func TestSnapshot_AChangingListingKeepsThePackageWhole(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	ids := h.pkg("acme", "npm", "lib", "private",
		simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(100 * day)},
		simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(1 * day)})
	item := func(id int64, name string, age int) string {
		at := h.ago(time.Duration(age) * day).UTC().Format("2006-01-02T15:04:05Z")
		return fmt.Sprintf(`{"id":%d,"name":%q,"created_at":%q,"updated_at":%q,"package_html_url":"x","url":"x","html_url":"x","metadata":{"package_type":"npm"}}`,
			id, name, at, at)
	}
	old := item(ids["1.0.0"], "1.0.0", 100)
	h.sim.InjectFault(simulator.Fault{Method: "GET", PathContains: "/lib/versions", Status: 200,
		Body: "[" + old + "," + old + "," + item(ids["2.0.0"], "2.0.0", 1) + "]"})
	cfg := h.config("  - name: a\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	live := livePlanEqualsSnapshotPlan(t, h, cfg)
	if live["lib/1.0.0"] != "keep listing-changed" {
		t.Errorf("live plan of a changing listing: %v", live)
	}
}

// A plan from a snapshot says when it was taken, a plan -at says the time
// it is as of, and a snapshot of another API than the config's is warned
// of: the packages are another GitHub's.
func TestSnapshot_SaysWhenAndWhat(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.pkg("acme", "npm", "lib", "private", simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(100 * day)},
		simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	cfg := h.config("  - name: a\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	snap := filepath.Join(t.TempDir(), "s.json")
	if code, _, errOut := h.run("snapshot", "-config", cfg, "-o", snap); code != 0 {
		t.Fatalf("snapshot: %s", errOut)
	}
	h.clock.Advance(3 * day)
	code, out, errOut := h.run("plan", "-config", cfg, "-snapshot", snap, "-at", "2026-12-31", "-format", "table")
	if code != 0 || !strings.Contains(errOut, "from the snapshot "+snap+", taken 2026-11-21T12:00:00Z (3d ago)") ||
		!strings.Contains(out, "planned as of 2026-12-31T00:00:00Z (-at), not now") || strings.Contains(errOut, "warning") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	other := strings.Replace(string(must(os.ReadFile(cfg))), "api_url: "+h.url, "api_url: https://ghes.example.com/api/v3", 1)
	otherCfg := filepath.Join(t.TempDir(), "ghes.yaml")
	if err := os.WriteFile(otherCfg, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, errOut := h.run("plan", "-config", otherCfg, "-snapshot", snap, "-format", "json"); !strings.Contains(errOut, "warning: the snapshot was taken of "+h.url+", but "+otherCfg+" names https://ghes.example.com/api/v3") {
		t.Errorf("no warning of another API:\n%s", errOut)
	}
}

// -at refuses an empty time between commas and a time given twice; where
// one time only makes sense it says so.
func TestAt_HorizonsAndOneTime(t *testing.T) {
	now := t0
	for in, want := range map[string]string{
		"+7d,,+30d": "an empty time between commas",
		",":         "an empty time between commas",
		"+7d,+1w":   "+7d and +1w are the same time",
	} {
		if _, err := parseHorizons(in, now); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseHorizons(%q) = %v, want %q", in, err, want)
		}
	}
	if hs, err := parseHorizons("+7d, +30d", now); err != nil || len(hs) != 2 || !hs[1].at.Equal(now.Add(30*day)) {
		t.Errorf("parseHorizons: %v %v", hs, err)
	}
	h := newHarness(t, simulator.Options{})
	cfg := h.config("  - name: a\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	for _, args := range [][]string{
		{"explain", "-config", cfg, "-policy", "a", "-package", "lib", "-version", "1", "-at", "+7d,+30d"},
		{"plan", "-config", cfg, "-baseline", cfg, "-at", "+7d,+30d"},
	} {
		if code, _, errOut := h.run(args...); code != exitUsage || !strings.Contains(errOut, "one time only here") {
			t.Errorf("%s: exit %d\n%s", args[0], code, errOut)
		}
	}
}

// Policies that spell one owner two ways (GitHub's owners are not case
// sensitive) read each package once, and the snapshot reads back.
func TestSnapshot_OwnerSpelledTwoWays(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.pkg("acme", "npm", "lib", "private", simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(100 * day)},
		simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	cfg := h.config(`  - name: a
    select: {owner: acme, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 30d}]
  - name: b
    select: {owner: ACME, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 60d}]
`)
	snap := filepath.Join(t.TempDir(), "s.json")
	before := h.sim.Stats().ByOp["GET versions"]
	if code, _, errOut := h.run("snapshot", "-config", cfg, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d %s", code, errOut)
	}
	if n := h.sim.Stats().ByOp["GET versions"] - before; n != 1 {
		t.Errorf("the package's versions were read %d times, want once", n)
	}
	if code, _, errOut := h.run("plan", "-config", cfg, "-snapshot", snap, "-format", "json"); code != 0 {
		t.Errorf("plan from the snapshot: exit %d\n%s", code, errOut)
	}
}
