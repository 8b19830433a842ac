package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/simulator"
)

// streamConfig runs over the demo world (containers with indexes,
// attestations and signatures; npm; maven; a version GitHub refuses to
// delete) with run caps small enough to defer across packages.
const streamConfig = `version: 1
github: {api_url: %[1]s, registry_url: %[1]s}
limits: {mutations_per_minute: 180}
state: {path: %[2]s}
policies:
  - name: ci-images
    mode: enforce
    select: {owner: acme-corp, owner_type: org, package_type: container}
    protect: {tags: ["latest", "v*"], newer_than: 48h, keep_at_least: 3}
    keep: [{name: recent-main, tags: ["main-*"], most_recent: 5}]
    delete:
      - {name: pr-builds, tags: ["pr-*"], older_than: 14d}
      - {name: old-main, tags: ["main-*"], older_than: 30d}
      - {name: orphans, untagged: true, older_than: 7d}
    limits: {max_deletes_per_run: 40, max_delete_percent: 98}
  - name: npm-prereleases
    mode: enforce
    select: {owner: acme-corp, owner_type: org, package_type: npm}
    delete: [{name: old-prereleases, prerelease: true, older_than: 30d}]
    limits: {max_deletes_per_run: 1}
  - name: maven-snapshots
    mode: enforce
    select: {owner: acme-corp, owner_type: org, package_type: maven}
    protect: {keep_at_least: 2}
    delete: [{name: snapshots, versions: ["*-SNAPSHOT"], older_than: 7d}]
  - name: typo
    mode: plan
    select: {owner: acme-corp, owner_type: org, package_type: npm}
    protect: {tags: [lastest]}
    delete: [{name: old, older_than: 180d}]
`

// demoRun runs the demo world once, planned or applied, into sink (nil:
// the whole run, rendered by report.FromRun) and returns the JSON report.
func demoRun(t *testing.T, apply bool, stream bool) *report.Report {
	t.Helper()
	clk := clock.NewFake(t0)
	sim := simulator.New(simulator.Options{Clock: clk})
	if _, err := simulator.SeedDemo(sim); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg, err := policy.Parse("p.yaml", []byte(fmt.Sprintf(streamConfig, srv.URL, filepath.Join(t.TempDir(), "j.db"))))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(context.Background(), engine.Options{Config: cfg, Clock: clk, Registerer: prometheus.NewRegistry(),
		Journal: engine.JournalCreate, Getenv: func(string) string { return simulator.DemoToken }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	var buf bytes.Buffer
	o := engine.RunOptions{Apply: apply, Trigger: engine.TriggerCLI}
	var s *report.Stream
	if stream {
		s = report.NewJSONStream(&buf)
		o.Sink = s
	}
	run, err := e.Run(context.Background(), cfg.Policies, o)
	if err != nil {
		t.Logf("run: %v", err) // the demo world has a refusal; the reports must agree anyway
	}
	if stream {
		if err := s.End(run); err != nil {
			t.Fatal(err)
		}
		for _, p := range run.Policies {
			if len(p.Packages) != 0 {
				t.Errorf("policy %s kept %d packages in a streamed run", p.Name, len(p.Packages))
			}
		}
	} else if err := report.WriteJSON(&buf, report.FromRun(run)); err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, buf.String())
	}
	return &r
}

// A streamed run, which keeps nothing of a package once it is written,
// reports exactly what a run holding every decision reports: the run cap
// across packages, the graph, outcomes of deletes, errors and warnings.
func TestStream_ReportsWhatAWholeRunReports(t *testing.T) {
	for _, apply := range []bool{false, true} {
		t.Run(fmt.Sprintf("apply=%v", apply), func(t *testing.T) {
			whole, streamed := demoRun(t, apply, false), demoRun(t, apply, true)
			if diff := cmp.Diff(whole, streamed); diff != "" {
				t.Errorf("streamed report differs (-whole +streamed):\n%s", diff)
			}
			s := whole.Summary
			if s.Deferred == 0 || s.Delete == 0 || (apply && s.Deleted == 0) {
				t.Errorf("summary %+v: the world must exercise the cap and deletes", s)
			}
			if len(whole.Policies) != 4 || len(whole.Policies[3].Warnings) == 0 {
				t.Errorf("policies %d, warnings of typo %v", len(whole.Policies), whole.Policies[len(whole.Policies)-1].Warnings)
			}
		})
	}
}

// heapSink measures the live heap as each package goes out.
type heapSink struct{ max uint64 }

func (h *heapSink) Start(*plan.Run) error { return nil }
func (h *heapSink) Package(*plan.Policy, *plan.Package) error {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.max = max(h.max, m.HeapAlloc)
	return nil
}
func (h *heapSink) PolicyDone(*plan.Policy) error { return nil }

// What a streamed run holds does not grow with the organization: the most
// live heap while it runs, above what the world (the simulator, in this
// process) takes, is about the same for eight times the packages. The run
// cap and the deletes make the run hold its packages for a second pass,
// on disk. The allowance is SQLite's page cache, which grows with the
// journal up to its bound (2 MiB by default).
func TestStream_HoldsWhatIsLeftToDoNotTheOrganization(t *testing.T) {
	for _, mode := range []string{"plan", "enforce"} {
		t.Run(mode, func(t *testing.T) {
			small, large := streamHeap(t, mode, 10), streamHeap(t, mode, 80)
			t.Logf("%s: held %d KiB for 10 packages, %d KiB for 80", mode, small>>10, large>>10)
			if large > small+small/2+2<<20 {
				t.Errorf("held %d KiB for 80 packages against %d KiB for 10: it grows with the organization", large>>10, small>>10)
			}
		})
	}
}

// streamHeap runs mode over n packages of 200 versions (all old) and
// returns the most live heap above the world's while it ran.
func streamHeap(t *testing.T, mode string, n int) uint64 {
	t.Helper()
	clk := clock.NewFake(t0)
	sim := simulator.New(simulator.Options{Clock: clk})
	sim.AddToken(token, simulator.Token{Login: "octo", Scopes: []string{"read:packages", "write:packages", "delete:packages", "repo"}})
	sim.AddOrg("acme", 100)
	for p := 0; p < n; p++ {
		name := fmt.Sprintf("pkg-%03d", p)
		sim.AddPackage("acme", simulator.PackageSeed{Name: name, Type: "npm"})
		for v := 0; v < 200; v++ {
			sim.AddVersion("acme", "npm", name, simulator.VersionSeed{Name: fmt.Sprintf("1.%d.%d", p, v), CreatedAt: t0.Add(-time.Duration(1000-v) * time.Hour)})
		}
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	src := fmt.Sprintf("version: 1\ngithub: {api_url: %[1]s, registry_url: %[1]s}\nlimits: {mutations_per_minute: 180}\nstate: {path: %[2]s}\npolicies:\n"+
		"  - name: old\n    mode: %[3]s\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d, most_recent: 5}]\n    limits: {max_deletes_per_run: 20}\n",
		srv.URL, filepath.Join(t.TempDir(), "j.db"), mode)
	cfg, err := policy.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(context.Background(), engine.Options{Config: cfg, Clock: clk, Registerer: prometheus.NewRegistry(),
		Journal: engine.JournalCreate, Getenv: func(string) string { return token }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h := &heapSink{}
	run, err := e.Run(context.Background(), cfg.Policies, engine.RunOptions{Apply: true, Trigger: engine.TriggerCLI, Sink: h})
	if err != nil {
		t.Fatal(err)
	}
	if c := run.Count(); c.Versions != 200*n || c.Packages != n {
		t.Fatalf("counts %+v", c)
	}
	return h.max - min(h.max, m.HeapAlloc)
}
