package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghprune/ghprune/simulator"
)

// seedScenario gives owner the packages every owner-kind test uses and
// returns the decisions the policies below must reach.
func seedScenario(h *harness, owner string) map[string]string {
	v := func(name string, age time.Duration, tags ...string) simulator.VersionSeed {
		return simulator.VersionSeed{Name: name, Tags: tags, CreatedAt: h.ago(age)}
	}
	h.pkg(owner, "container", "team/web", "private",
		v("sha-latest", 100*day, "latest"),
		v("sha-main-1", 5*day, "main-1"), v("sha-main-2", 10*day, "main-2"), v("sha-main-3", 15*day, "main-3"),
		v("sha-main-4", 25*day, "main-4"), v("sha-main-5", 30*day, "main-5"), v("sha-main-6", 35*day, "main-6"),
		v("sha-u-2d", 2*day), v("sha-u-10d", 10*day), v("sha-u-30d", 30*day),
	)
	hot := v("sha-pub-hot", 40*day)
	hot.Downloads = 6000
	h.pkg(owner, "container", "pub", "public", v("sha-pub-tag", 50*day, "v1"), hot, v("sha-pub-cold", 41*day))
	big := []simulator.VersionSeed{v("big-000", 12*time.Hour, "v1")}
	for i := 1; i < 250; i++ {
		big = append(big, v(fmt.Sprintf("big-%03d", i), time.Duration(i)*day))
	}
	h.pkg(owner, "container", "big", "private", big...)
	h.pkg(owner, "npm", "lib", "private", v("1.0.0", 100*day))

	want := map[string]string{
		"team/web/sha-latest": "keep protected:tag",
		"team/web/sha-main-1": "keep keep:recent-main", "team/web/sha-main-2": "keep keep:recent-main", "team/web/sha-main-3": "keep keep:recent-main",
		"team/web/sha-main-4": "delete delete:old-main", "team/web/sha-main-5": "delete delete:old-main", "team/web/sha-main-6": "delete delete:old-main",
		"team/web/sha-u-2d": "keep no-rule", "team/web/sha-u-10d": "delete delete:orphans", "team/web/sha-u-30d": "delete delete:orphans",
		"pub/sha-pub-tag": "keep no-rule", "pub/sha-pub-hot": "delete delete:orphans", "pub/sha-pub-cold": "delete delete:orphans",
		"big/big-000": "keep no-rule",
		"lib/1.0.0":   "keep last-version",
	}
	for i := 1; i < 250; i++ {
		d := "delete delete:orphans"
		if i <= 7 { // not older than 7d
			d = "keep no-rule"
		}
		want[fmt.Sprintf("big/big-%03d", i)] = d
	}
	return want
}

func scenarioPolicies(owner, ownerType string) string {
	return fmt.Sprintf(`  - name: images
    mode: enforce
    select: {owner: %[1]s, owner_type: %[2]s, package_type: container}
    protect: {tags: [latest]}
    keep: [{name: recent-main, tags: ["main-*"], most_recent: 3}]
    delete:
      - {name: orphans, untagged: true, older_than: 7d}
      - {name: old-main, tags: ["main-*"], older_than: 20d}
  - name: libs
    mode: enforce
    select: {owner: %[1]s, owner_type: %[2]s, package_type: npm}
    delete: [{name: old, older_than: 30d}]
`, owner, ownerType)
}

// withOutcomes adds apply's outcome to the planned deletions.
func withOutcomes(want map[string]string, skipped ...string) map[string]string {
	out := map[string]string{}
	for k, v := range want {
		if strings.HasPrefix(v, "delete") {
			v += " deleted"
			for _, s := range skipped {
				if s == k {
					v = strings.TrimSuffix(v, " deleted") + " skipped"
				}
			}
		}
		out[k] = v
	}
	return out
}

// scenarioPackages are the type and name of the packages seedScenario gives.
var scenarioPackages = [][2]string{{"container", "team/web"}, {"container", "pub"}, {"container", "big"}, {"npm", "lib"}}

// scenarioType is the type of a package of seedScenario.
func scenarioType(pkg string) string {
	if pkg == "lib" {
		return "npm"
	}
	return "container"
}

// TestEndToEnd_PlanApplyRestore runs plan, apply, history and restore for
// an organization and for the token's own account (owner_type user naming
// the token's login, addressed as /user).
func TestEndToEnd_PlanApplyRestore(t *testing.T) {
	for _, c := range []struct{ name, owner, ownerType string }{
		{"org", "acme", "org"},
		{"self", "octo", "user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, simulator.Options{PrimaryLimit: 5000})
			want := seedScenario(h, c.owner)
			before := map[string]map[string]bool{}
			for _, p := range scenarioPackages {
				before[p[1]] = h.active(c.owner, p[0], p[1])
			}
			cfg := h.config(scenarioPolicies(c.owner, c.ownerType))

			checkScenarioPlan(t, h, cfg, want)
			runID := checkScenarioApply(t, h, c.owner, cfg, want)

			// The refusal is remembered: the next plan keeps it without asking.
			_, replan, _ := h.runJSON("plan", "-config", cfg)
			if got := h.decisions(replan)["pub/sha-pub-hot"]; got != "keep download-limit" {
				t.Errorf("after the refusal, plan says %q", got)
			}

			checkScenarioHistory(t, h, cfg, runID)
			checkScenarioRestore(t, h, c.owner, cfg, runID, before)
			h.assertNoToken()
		})
	}
}

// checkScenarioPlan runs plan, which decides everything and sends no DELETE.
func checkScenarioPlan(t *testing.T, h *harness, cfg string, want map[string]string) {
	t.Helper()
	code, plan, stderr := h.runJSON("plan", "-config", cfg)
	if code != 0 {
		t.Fatalf("plan exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff(want, h.decisions(plan)); diff != "" {
		t.Fatalf("plan decisions (-want +got):\n%s", diff)
	}
	st := h.sim.Stats()
	if st.ByOp["DELETE version"] != 0 || st.Deletes != 0 {
		t.Fatalf("plan sent deletes: %+v", st.ByOp)
	}
	for _, p := range plan.Policies[0].Packages {
		if p.Package == "big" && (p.VersionsTotal != 250 || len(p.Decisions) != 250) {
			t.Errorf("big listed %d versions, want 250", len(p.Decisions))
		}
	}
	if plan.RunID != nil || plan.Summary.APIRequests == 0 || plan.Summary.APIRequests != int64(h.apiRequests()) {
		t.Errorf("plan summary: run_id %v, api_requests %d, simulator saw %d", plan.RunID, plan.Summary.APIRequests, h.apiRequests())
	}
	if plan.Summary.ManifestFetches != int64(st.ManifestFetches) || st.ManifestFetches == 0 {
		t.Errorf("plan read %d manifests, simulator served %d", plan.Summary.ManifestFetches, st.ManifestFetches)
	}
	if code, _, _ := h.run("plan", "-config", cfg, "-detailed-exitcode", "-format", "json"); code != exitHasDelete {
		t.Errorf("plan -detailed-exitcode = %d, want 3", code)
	}
}

// checkScenarioApply runs apply, which deletes, skips the download-limited
// one and completes, and returns the id of its run.
func checkScenarioApply(t *testing.T, h *harness, owner, cfg string, want map[string]string) int64 {
	t.Helper()
	code, applied, stderr := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d: %s", code, stderr)
	}
	if diff := cmp.Diff(withOutcomes(want, "pub/sha-pub-hot"), h.decisions(applied)); diff != "" {
		t.Fatalf("apply outcomes (-want +got):\n%s", diff)
	}
	s := applied.Summary
	if s.Deleted != 3+2+1+242 || s.Skipped != 1 || s.Failed != 0 || applied.RunID == nil {
		t.Fatalf("apply summary = %+v", s)
	}
	for key, d := range want {
		pkg, ver := key[:strings.LastIndex(key, "/")], key[strings.LastIndex(key, "/")+1:]
		gone := !h.active(owner, scenarioType(pkg), pkg)[ver]
		if wantGone := strings.HasPrefix(d, "delete") && key != "pub/sha-pub-hot"; gone != wantGone {
			t.Errorf("%s: deleted in simulator = %v, want %v", key, gone, wantGone)
		}
	}
	for _, dd := range applied.Policies[0].Packages[0].Decisions {
		if dd.Outcome == "deleted" && (dd.RestorableUntil == nil || dd.RestorableUntil.Sub(h.clock.Now()) > 30*day) {
			t.Errorf("deleted %s: restorable_until %v", dd.Version, dd.RestorableUntil)
		}
	}
	return *applied.RunID
}

// checkScenarioHistory checks that history shows the apply run runID.
func checkScenarioHistory(t *testing.T, h *harness, cfg string, runID int64) {
	t.Helper()
	code, hist, _ := h.run("history", "-config", cfg, "-format", "table")
	if code != 0 || !strings.Contains(hist, "succeeded") || !strings.Contains(hist, "images,libs") {
		t.Errorf("history exit %d:\n%s", code, hist)
	}
	code, hist, _ = h.run("history", "-config", cfg, "-run", fmt.Sprint(runID), "-format", "table")
	if code != 0 || !strings.Contains(hist, "249 deletions") {
		t.Errorf("history -run exit %d:\n%s", code, hist)
	}
}

// checkScenarioRestore runs restore -run, which brings back everything the
// run deleted (the packages are as before the apply), then again, which
// sends nothing.
func checkScenarioRestore(t *testing.T, h *harness, owner, cfg string, runID int64, before map[string]map[string]bool) {
	t.Helper()
	h.sim.ResetStats()
	code, out, stderr := h.run("restore", "-config", cfg, "-run", fmt.Sprint(runID), "-format", "table")
	if code != 0 {
		t.Fatalf("restore exit %d: %s\n%s", code, stderr, out)
	}
	if got := h.sim.Stats().Restores; got != 248 {
		t.Errorf("simulator restored %d versions, want 248", got)
	}
	for pkg, was := range before {
		if diff := cmp.Diff(was, h.active(owner, scenarioType(pkg), pkg)); diff != "" {
			t.Errorf("%s after restore (-before +after):\n%s", pkg, diff)
		}
	}
	// A second restore of the same run sends nothing.
	h.sim.ResetStats()
	if code, out, _ := h.run("restore", "-config", cfg, "-run", fmt.Sprint(runID), "-format", "table"); code != 0 || !strings.Contains(out, "already-restored") {
		t.Errorf("second restore exit %d:\n%s", code, out)
	}
	if n := h.sim.Stats().ByOp["POST version/restore"]; n != 0 {
		t.Errorf("second restore sent %d restores", n)
	}
}
