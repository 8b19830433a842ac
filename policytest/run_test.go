package policytest

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/snapshot"
)

// runSuite plans the suite's cases offline, from its synthetic packages
// added to base, as ghprune test does.
func runSuite(t *testing.T, s *Suite, base *snapshot.Snapshot, now time.Time) []*Result {
	t.Helper()
	eng := openEngine(t, s.Config, s.Snapshot(base, now), now)
	results, err := s.Run(t.Context(), eng, now)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(results) != len(s.File.Cases) {
		t.Fatalf("%d results for %d cases", len(results), len(s.File.Cases))
	}
	return results
}

func openEngine(t *testing.T, cfg *policy.Config, snap *snapshot.Snapshot, now time.Time) *engine.Engine {
	t.Helper()
	eng, err := engine.Open(t.Context(), engine.Options{Config: cfg, Snapshot: snap, Clock: clock.NewFake(now), Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

const svcPolicy = `  - name: svc
    select: {owner: acme, owner_type: org, package_type: container, packages: [svc, real, ghost]}
    protect: {tags: [prod]}
    delete:
      - {name: stale, older_than: 30d}
`

const svcTests = `packages:
  - owner: acme
    name: svc
    package_type: container
    versions:
      - {name: a, tags: [main-2], age: 1d, id: 77}
      - {name: b, tags: [prod], age: 400d}
      - {name: c, tags: [main-1], age: 20d}
  - owner: acme
    name: excluded
    package_type: container
    versions:
      - {name: x, age: 100d}
tests:
  - {name: prod stays, package: svc, tag: prod, expect: keep, rule: protected:tag}
  - {name: main-1 stays today, package: svc, version: c, expect: keep, rule: no-rule}
  - name: main-1 goes in 40 days
    package: svc
    tag: main-1
    at: +40d
    expect: delete
    rule: stale
  - {name: wrongly expected, package: svc, tag: main-2, expect: delete}
  - {package: ghost, tag: x, expect: keep}
  - {name: excluded, package: excluded, version: x, expect: delete}
  - {name: prod by a bare rule name fails, package: svc, tag: prod, expect: keep, rule: stale}
  - {name: by id, package: svc, id: 77, expect: keep}
`

// Synthetic packages alone, no network: the cases are decided at their
// times, those that pass pass, and each failure says why.
func TestRun_Synthetic(t *testing.T) {
	s := bindFile(t, svcPolicy, svcTests)
	now := runNow
	results := runSuite(t, s, nil, now)

	byName := map[string]*Result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	ids := map[string]int64{}
	for v, id := range s.ids {
		ids[v.Name] = id
	}

	checkProdStays(t, byName["prod stays"], ids, now)
	checkMain1(t, byName["main-1 stays today"], byName["main-1 goes in 40 days"], ids, now)
	checkWronglyExpected(t, byName["wrongly expected"], ids)
	checkCaseErrors(t, byName["tests[4]"], byName["excluded"])
	checkBareRuleName(t, byName["prod by a bare rule name fails"])
	checkByID(t, byName["by id"], byName["main-1 stays today"], ids)
	checkSyntheticReport(t, s, results, byName["prod stays"])
}

// checkProdStays checks every field of the result of a case that passes:
// prod is kept by its protection, as the case expects.
func checkProdStays(t *testing.T, prod *Result, ids map[string]int64, now time.Time) {
	t.Helper()
	if !prod.Pass || prod.Action != policy.Keep || prod.Rule != "protected:tag" || prod.VersionID != ids["b"] ||
		!strings.HasPrefix(prod.Version, "sha256:") || prod.Error != "" || prod.Line != 15 || prod.Ref != "tag prod" ||
		prod.Policy != "svc" || prod.Owner != "acme" || prod.Package != "svc" || !prod.At.Equal(now) || prod.Expect != policy.Keep || prod.RuleExpected != "protected:tag" {
		t.Errorf("prod stays: %+v", prod)
	}
}

// checkMain1 checks that one version is decided at each case's time:
// kept today, deleted 40 days later.
func checkMain1(t *testing.T, today, later *Result, ids map[string]int64, now time.Time) {
	t.Helper()
	if !today.Pass || today.Action != policy.Keep || today.Rule != "no-rule" || today.VersionID != ids["c"] || today.Ref != "version c" {
		t.Errorf("main-1 stays today: %+v", today)
	}
	if !later.Pass || later.Action != policy.Delete || later.Rule != "delete:stale" || !later.At.Equal(now.Add(40*24*time.Hour)) ||
		later.VersionID != ids["c"] || !strings.Contains(later.Reason, "created 60d ago") {
		t.Errorf("main-1 goes in 40 days (decided at %v): %+v", later.At, later)
	}
}

// checkWronglyExpected checks a case whose expected action is not the
// one decided: it fails, and its failure says what was wanted and why.
func checkWronglyExpected(t *testing.T, wrong *Result, ids map[string]int64) {
	t.Helper()
	if wrong.Pass || wrong.Action != policy.Keep || wrong.Rule != "no-rule" || wrong.Reason != "no keep or delete rule matches" ||
		wrong.Line != 23 || wrong.Error != "" || wrong.Expect != policy.Delete || wrong.VersionID != ids["a"] {
		t.Errorf("wrongly expected: %+v", wrong)
	}
	if got, want := wrong.Failure(), "want delete, got keep by no-rule: no keep or delete rule matches"; got != want {
		t.Errorf("Failure() = %q, want %q", got, want)
	}
}

// checkCaseErrors checks cases that cannot be decided: a package in no
// snapshot, and one the policy does not select. They fail with an error
// and no action.
func checkCaseErrors(t *testing.T, ghost, excluded *Result) {
	t.Helper()
	if ghost == nil || ghost.Pass || ghost.Action != "" || ghost.Error != "the container package acme/ghost is not in the snapshot" || ghost.Failure() != ghost.Error {
		t.Errorf("a package in no snapshot: %+v", ghost)
	}
	if excluded.Pass || excluded.Action != "" || excluded.Error != "policy svc does not select the container package acme/excluded (select.packages, select.exclude_packages or select.visibility leave it out)" {
		t.Errorf("a package the policy does not select: %+v", excluded)
	}
}

// checkBareRuleName checks that the right action by another rule than
// the case names fails, and says which rule decided.
func checkBareRuleName(t *testing.T, bare *Result) {
	t.Helper()
	if bare.Pass || bare.Action != policy.Keep || bare.Rule != "protected:tag" {
		t.Errorf("the right action by another rule passes: %+v", bare)
	}
	if got, want := bare.Failure(), `want keep by stale, got keep by protected:tag: tag "prod" is protected by protect.tags`; got != want {
		t.Errorf("Failure() = %q, want %q", got, want)
	}
}

// checkByID checks the case that names its version by id.
func checkByID(t *testing.T, byID, today *Result, ids map[string]int64) {
	t.Helper()
	// A written id is kept, and a case finds the version by it; the
	// others are numbered above it, the newest the highest.
	if !byID.Pass || byID.VersionID != 77 || byID.Version == "" || byID.Version == today.Version || byID.Rule != "no-rule" ||
		ids["a"] != 77 || ids["b"] != 78 || ids["c"] != 79 {
		t.Errorf("by id (ids %v): %+v", ids, byID)
	}
}

// checkSyntheticReport checks the report's counts, and that the results
// are in the file's order.
func checkSyntheticReport(t *testing.T, s *Suite, results []*Result, prod *Result) {
	t.Helper()
	rep := NewReport(results)
	if rep.Passed != 4 || rep.Failed != 4 || len(rep.Cases) != 8 || rep.Cases[0] != prod {
		t.Errorf("report: %d passed, %d failed of %d", rep.Passed, rep.Failed, len(rep.Cases))
	}
	for i, r := range results {
		if r.Name != s.File.Cases[i].DisplayName() {
			t.Errorf("results[%d] is %q, not in the file's order", i, r.Name)
		}
	}
}

// Packages read from a snapshot: found by tag, by digest and by id; a
// version not there is an error, with a hint for a container version
// named by something other than its digest; the source is named.
func TestRun_FromABaseSnapshot(t *testing.T) {
	base := snapshot.New("https://api.github.com", runNow)
	created := func(days int) *time.Time { return ptime(runNow.Add(-time.Duration(days) * 24 * time.Hour)) }
	// The planner reads the manifests of a container package: each is
	// held, under its digest.
	image := func(seed string) string {
		body := []byte(`{"schemaVersion":2,"mediaType":"` + mediaImage + `","config":{"mediaType":"` + mediaConfig + `","digest":"` +
			digest([]byte(seed)) + `","size":2},"layers":[]}`)
		d := digest(body)
		base.Manifests[d] = snapshot.Manifest{MediaType: mediaImage, Body: body}
		return d
	}
	d1, d2, d3 := image("1"), image("2"), image("3")
	base.Packages = []snapshot.Package{{OwnerKind: "org", Owner: "acme", Type: "container", Name: "real", Visibility: "private", VersionCount: 3,
		Versions: []snapshot.Version{
			{ID: 3, Name: d3, Tags: []string{"main"}, CreatedAt: created(1), UpdatedAt: created(1)},
			{ID: 2, Name: d2, CreatedAt: created(50), UpdatedAt: created(50)},
			{ID: 1, Name: d1, Tags: []string{"prod"}, CreatedAt: created(300), UpdatedAt: created(300)},
		}}}
	base.Listings = []snapshot.Listing{{OwnerKind: "org", Owner: "acme", Type: "container",
		Packages: []snapshot.ListedPackage{{Name: "real", Visibility: "private", VersionCount: 3}}}}

	s := bindFile(t, svcPolicy, `tests:
  - {package: real, tag: prod, expect: keep, rule: protected:tag}
  - {package: real, version: "`+d2+`", expect: delete, rule: delete:stale}
  - {package: real, id: 3, expect: keep}
  - {package: real, version: build-7, expect: keep}
  - {package: real, id: 99, expect: keep}
  - {package: ghost, id: 1, expect: keep}
`)
	s.Source = "the snapshot s.json"
	pols, cases := s.Unsynthetic()
	if len(pols) != 1 || len(cases) != 6 {
		t.Errorf("Unsynthetic: %d policies, %d cases", len(pols), len(cases))
	}
	results := runSuite(t, s, base, runNow)
	want := []struct {
		pass  bool
		id    int64
		error string
	}{
		{true, 1, ""},
		{true, 2, ""},
		{true, 3, ""},
		{false, 0, `package acme/real has no version with version "build-7" (a container version's name is its digest: name it by tag or id)`},
		{false, 0, `package acme/real has no version with id 99`},
		{false, 0, `the container package acme/ghost is not in the snapshot s.json`},
	}
	for i, w := range want {
		r := results[i]
		if r.Pass != w.pass || r.VersionID != w.id || r.Error != w.error {
			t.Errorf("results[%d]: %+v\nwant pass %v, id %d, error %q", i, r, w.pass, w.id, w.error)
		}
	}
	if r := results[0]; r.Version != d1 {
		t.Errorf("the version found by tag: %q", r.Version)
	}
}

// Run needs the snapshot Snapshot made.
func TestRun_BeforeSnapshot(t *testing.T) {
	s := bindFile(t, svcPolicy, svcTests)
	eng := openEngine(t, s.Config, snapshot.New("https://api.github.com", runNow), runNow)
	if _, err := s.Run(t.Context(), eng, runNow); err == nil || !strings.Contains(err.Error(), "Run before Snapshot") {
		t.Errorf("Run before Snapshot: %v", err)
	}
}

// A cancelled run returns the context's error.
func TestRun_Cancelled(t *testing.T) {
	s := bindFile(t, svcPolicy, svcTests)
	eng := openEngine(t, s.Config, s.Snapshot(nil, runNow), runNow)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	results, err := s.Run(ctx, eng, runNow)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run of a cancelled context: %v", err)
	}
	for _, r := range results {
		if r.Pass {
			t.Errorf("a case passes in a cancelled run: %+v", r)
		}
	}
}

// The example tests files pass against their configs, planned from their
// synthetic packages alone.
func TestRun_ExampleFiles(t *testing.T) {
	paths, err := filepath.Glob("../configs/*.tests.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example tests files: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			cfg, err := policy.LoadFile(strings.TrimSuffix(p, ".tests.yaml") + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			f, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Bind(f, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, cases := s.Unsynthetic(); len(cases) != 0 {
				t.Fatalf("%d cases need GitHub", len(cases))
			}
			rep := NewReport(runSuite(t, s, nil, runNow))
			if rep.Failed != 0 || rep.Passed != len(f.Cases) {
				for _, r := range rep.Cases {
					if !r.Pass {
						t.Errorf("%s:%d: %s: %s", p, r.Line, r.Name, r.Failure())
					}
				}
			}
		})
	}
}

// Another policy of the config selecting the same package deletes in the
// same run whatever the case's policy protects: a case that expects the
// version kept fails, naming that policy and its rule; a case that
// expects a delete is unaffected.
func TestRun_AnOverlappingPolicyFailsAKeep(t *testing.T) {
	s := bindFile(t, `  - name: prod-safe
    select: {owner: acme, owner_type: org, package_type: npm}
    protect: {keep_at_least: 1}
    keep:
      - {name: releases, versions: ["1.*"]}
  - name: janitor
    select: {owner: acme, owner_type: org, package_type: npm, packages: ["lib"]}
    delete:
      - {name: old, older_than: 60d}
  - name: elsewhere
    select: {owner: other, owner_type: org, package_type: npm}
    delete:
      - {name: all, older_than: 1d}
`, `packages:
  - owner: acme
    name: lib
    package_type: npm
    versions:
      - {name: 2.0.0, age: 1d}
      - {name: 1.0.0, age: 100d}
      - {name: 1.1.0, age: 10d}
  - owner: acme
    name: app
    package_type: npm
    versions:
      - {name: 2.0.0, age: 1d}
      - {name: 1.0.0, age: 100d}
tests:
  - {name: lib 1.0.0 kept, policy: prod-safe, package: lib, version: 1.0.0, expect: keep, rule: releases}
  - {name: lib 1.1.0 kept, policy: prod-safe, package: lib, version: 1.1.0, expect: keep, rule: releases}
  - {name: app 1.0.0 kept, policy: prod-safe, package: app, version: 1.0.0, expect: keep, rule: releases}
  - {name: janitor deletes, policy: janitor, package: lib, version: 1.0.0, expect: delete}
`)
	results := runSuite(t, s, nil, runNow)
	r := results[0]
	if r.Pass || r.DeletedBy != "janitor" || r.DeletedByRule != "delete:old" || r.Action != policy.Keep {
		t.Errorf("lib 1.0.0: %+v", r)
	}
	if f := r.Failure(); !strings.Contains(f, "want keep by releases, got keep by keep:releases, but policy janitor also selects the package and would delete it by delete:old") {
		t.Errorf("the failure does not name the other policy: %s", f)
	}
	for i, name := range []string{"", "lib 1.1.0 kept", "app 1.0.0 kept", "janitor deletes"} {
		if i > 0 && (!results[i].Pass || results[i].DeletedBy != "") {
			t.Errorf("%s: %+v", name, results[i])
		}
	}
}

// A tag on two versions of a package read from GitHub (a listing in flux)
// does not say which version a case means: the case fails, naming both.
func TestRun_ATagOnTwoVersionsIsAnError(t *testing.T) {
	base := snapshot.New("https://api.github.com", runNow)
	created := ptime(runNow.Add(-100 * 24 * time.Hour))
	for i, seed := range []string{"x", "y"} {
		body := []byte(`{"schemaVersion":2,"mediaType":"` + mediaImage + `","config":{"mediaType":"` + mediaConfig + `","digest":"` +
			digest([]byte(seed)) + `","size":2},"layers":[]}`)
		d := digest(body)
		base.Manifests[d] = snapshot.Manifest{MediaType: mediaImage, Body: body}
		if i == 0 {
			base.Packages = append(base.Packages, snapshot.Package{OwnerKind: "org", Owner: "acme", Type: "container", Name: "real", Visibility: "private", VersionCount: 2})
		}
		base.Packages[0].Versions = append(base.Packages[0].Versions, snapshot.Version{ID: int64(10 - i), Name: d, Tags: []string{"dup"}, CreatedAt: created, UpdatedAt: created})
	}
	base.Listings = []snapshot.Listing{{OwnerKind: "org", Owner: "acme", Type: "container",
		Packages: []snapshot.ListedPackage{{Name: "real", Visibility: "private", VersionCount: 2}}}}
	s := bindFile(t, svcPolicy, "tests:\n  - {package: real, tag: dup, expect: delete}\n")
	r := runSuite(t, s, base, runNow)[0]
	if r.Pass || r.Error != `tag "dup" names two versions (ids 10 and 9): name the version by id` {
		t.Errorf("%+v", r)
	}
}

// A package GitHub listed but the policy's select leaves out is "not
// selected", not "not in the snapshot".
func TestRun_ListedButNotSelected(t *testing.T) {
	base := snapshot.New("https://api.github.com", runNow)
	base.Listings = []snapshot.Listing{{OwnerKind: "org", Owner: "acme", Type: "container",
		Packages: []snapshot.ListedPackage{{Name: "legacy", Visibility: "private", VersionCount: 2}}}}
	s := bindFile(t, svcPolicy, "tests:\n  - {package: legacy, id: 1, expect: keep}\n")
	r := runSuite(t, s, base, runNow)[0]
	if r.Pass || !strings.Contains(r.Error, "policy svc does not select the container package acme/legacy") {
		t.Errorf("%+v", r)
	}
}
