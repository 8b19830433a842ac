package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/simulator"
)

// demoWorld serves the demo world (containers with indexes, attestations
// and a signature, npm, maven, a user's own packages, a version GitHub
// refuses to delete) on a fake clock, and writes the demo's config for it.
type demoWorld struct {
	t     *testing.T
	clock *clock.Fake
	sim   *simulator.Server
	dir   string
}

func newDemoWorld(t *testing.T) *demoWorld {
	t.Helper()
	w := &demoWorld{t: t, clock: clock.NewFake(t0), dir: t.TempDir()}
	w.sim = simulator.New(simulator.Options{Clock: w.clock})
	if _, err := simulator.SeedDemo(w.sim); err != nil {
		t.Fatal(err)
	}
	return w
}

// serve starts a server for the world and writes a config for it.
func (w *demoWorld) serve() (cfg string, stop func()) {
	srv := httptest.NewServer(w.sim)
	path := filepath.Join(w.t.TempDir(), "ghprune.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(demoConfig, srv.URL, filepath.Join(w.dir, "journal.db"))), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path, srv.Close
}

// run runs a command with the demo token, or none.
func (w *demoWorld) run(token string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, env{stdout: &stdout, stderr: &stderr, clock: w.clock,
		getenv: func(k string) string {
			if k == "GITHUB_TOKEN" {
				return token
			}
			return ""
		}})
	return code, stdout.String(), stderr.String()
}

// decisionsOf reads a JSON report with its request counts zeroed: what a
// plan read from GitHub and what it decided, nothing of what it cost.
func decisionsOf(t *testing.T, out string) *report.Report {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, out)
	}
	r.Summary.APIRequests, r.Summary.ManifestFetches, r.Summary.ApplyEstimate = 0, 0, nil
	for _, p := range r.Policies {
		p.APIRequests = 0
	}
	return &r
}

// A snapshot taken from the simulator, the simulator stopped: a plan from
// the snapshot, with no token and no request, decides what the live plan
// decided; and a plan at +30d from it deletes exactly what a live plan
// 30 days later deletes.
func TestSnapshot_PlansAsLiveNowAndLater(t *testing.T) {
	w := newDemoWorld(t)
	cfg, stop := w.serve()
	code, liveOut, errOut := w.run(simulator.DemoToken, "plan", "-config", cfg, "-format", "json")
	if code != 0 {
		t.Fatalf("live plan: exit %d\n%s", code, errOut)
	}
	snap := filepath.Join(t.TempDir(), "org.snapshot.json.gz")
	if code, _, errOut := w.run(simulator.DemoToken, "snapshot", "-config", cfg, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, errOut)
	}
	stop() // GitHub is gone
	before := w.sim.Stats().Requests

	code, offOut, errOut := w.run("", "plan", "-config", cfg, "-snapshot", snap, "-format", "json")
	if code != 0 {
		t.Fatalf("plan from the snapshot: exit %d\n%s", code, errOut)
	}
	live, off := decisionsOf(t, liveOut), decisionsOf(t, offOut)
	if diff := cmp.Diff(live, off); diff != "" {
		t.Errorf("the plan from the snapshot differs from the live plan (-live +snapshot):\n%s", diff)
	}
	if live.Summary.Delete == 0 || live.Summary.FreedBytes == 0 {
		t.Fatalf("the demo plan deletes nothing: %+v", live.Summary)
	}
	code, laterOff, errOut := w.run("", "plan", "-config", cfg, "-snapshot", snap, "-at", "+30d", "-format", "json")
	if code != 0 {
		t.Fatalf("plan from the snapshot at +30d: exit %d\n%s", code, errOut)
	}
	if n := w.sim.Stats().Requests - before; n != 0 {
		t.Errorf("%d requests while planning from the snapshot", n)
	}

	w.clock.Advance(30 * 24 * time.Hour)
	cfg2, stop2 := w.serve()
	defer stop2()
	code, laterLive, errOut := w.run(simulator.DemoToken, "plan", "-config", cfg2, "-format", "json")
	if code != 0 {
		t.Fatalf("live plan 30 days later: exit %d\n%s", code, errOut)
	}
	a, b := decisionsOf(t, laterLive), decisionsOf(t, laterOff)
	if b.PlannedAt == nil || !b.PlannedAt.Equal(w.clock.Now()) || a.PlannedAt != nil {
		t.Errorf("planned_at: %v from the snapshot at +30d, %v live; want %v and none", b.PlannedAt, a.PlannedAt, w.clock.Now())
	}
	b.PlannedAt = nil
	for _, r := range []*report.Report{a, b} {
		r.StartedAt, r.FinishedAt = time.Time{}, time.Time{}
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("the plan at +30d from the snapshot differs from a live plan 30 days later (-live +snapshot):\n%s", diff)
	}
	// The world ages: ci/web deletes more 30 days later (ci/runner-cache
	// then trips its circuit breaker, max_delete_percent, and is kept whole).
	if now, later := deletesOf(live, "ci/web"), deletesOf(a, "ci/web"); later <= now {
		t.Errorf("ci/web deletes %d now and %d 30 days later: the world must age", now, later)
	}
}

// Several horizons give, per package, what each deletes.
func TestSnapshot_Horizons(t *testing.T) {
	w := newDemoWorld(t)
	cfg, stop := w.serve()
	snap := filepath.Join(t.TempDir(), "org.snapshot.json")
	if code, _, errOut := w.run(simulator.DemoToken, "snapshot", "-config", cfg, "-o", snap); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, errOut)
	}
	stop()
	code, out, errOut := w.run("", "plan", "-config", cfg, "-snapshot", snap, "-at", "+0d,+30d,+90d", "-format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var doc struct {
		Horizons []struct {
			Label  string
			Delete int
		}
		Packages []struct {
			Package string
			At      []struct{ Delete int }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Horizons) != 3 || doc.Horizons[0].Delete == 0 || len(doc.Packages) == 0 {
		t.Fatalf("horizons %+v", doc)
	}
	for _, p := range doc.Packages {
		if p.Package == "ci/web" && (p.At[0].Delete == 0 || p.At[1].Delete <= p.At[0].Delete) {
			t.Errorf("ci/web at the horizons: %+v, want more deleted at +30d", p.At)
		}
	}
	code, table, _ := w.run("", "plan", "-config", cfg, "-snapshot", snap, "-at", "+0d,+30d,+90d", "-format", "table")
	if code != 0 || !strings.Contains(table, "+30d") || !strings.Contains(table, "all") {
		t.Errorf("table (exit %d):\n%s", code, table)
	}
}

// deletesOf counts what a report plans to delete in one package.
func deletesOf(r *report.Report, pkg string) int {
	n := 0
	for _, p := range r.Policies {
		for _, k := range p.Packages {
			if k.Package == pkg {
				n += k.Count().Delete
			}
		}
	}
	return n
}
