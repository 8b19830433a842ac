package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/simulator"
)

// monitoringDir holds the alerts and the dashboard shipped with the daemon.
const monitoringDir = "../../deploy/monitoring"

// monitoredName matches a metric name in the alerts, their unit tests and
// the dashboard: ghprune's own, and the process collector's that serve
// registers beside them (the alerts use process_start_time_seconds).
var monitoredName = regexp.MustCompile(`(?:^|[^A-Za-z0-9_])((?:ghprune|process)_[a-z0-9_]+)`)

// monitoredNames returns every metric name the files of deploy/monitoring
// refer to, with the files that refer to it.
func monitoredNames(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(monitoringDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(monitoringDir, "dashboard.json"))
	names := map[string][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range monitoredName.FindAllStringSubmatch(string(data), -1) {
			if !slices.Contains(names[m[1]], filepath.Base(f)) {
				names[m[1]] = append(names[m[1]], filepath.Base(f))
			}
		}
	}
	return names
}

// exportedTypes reads the metric families of a text exposition: name to
// type, from the # TYPE lines.
func exportedTypes(exposition string) map[string]string {
	types := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(exposition))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
	}
	return types
}

// exported says whether name is a family of the exposition, or a series of
// one of its histograms (_bucket, _sum, _count) or summaries (_sum, _count).
func exported(types map[string]string, name string) bool {
	if _, ok := types[name]; ok {
		return true
	}
	for suffix, kinds := range map[string][]string{"_bucket": {"histogram"}, "_sum": {"histogram", "summary"}, "_count": {"histogram", "summary"}} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(kinds, types[base]) {
			return true
		}
	}
	return false
}

// Every metric the alerts and the dashboard refer to is one serve exports.
// A vector appears on /metrics only once it has a series, so the daemon
// here runs policies that delete, skip a version GitHub refuses, fail a
// delete and read container manifests, and it reloads its config.
func TestMonitoring_RefersOnlyToExportedMetrics(t *testing.T) {
	names := monitoredNames(t)
	if len(names) < 20 {
		t.Fatalf("found only %d metric names in %s: %v", len(names), monitoringDir, names)
	}

	h := newHarness(t, simulator.Options{PrimaryLimit: 5000})
	ids := h.pkg("acme", "npm", "lib", "public",
		simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(90 * day)},
		simulator.VersionSeed{Name: "1.1.0", CreatedAt: h.ago(80 * day), Downloads: 6000},
		simulator.VersionSeed{Name: "1.2.0", CreatedAt: h.ago(70 * day)},
		simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	h.sim.InjectFault(simulator.Fault{Method: "DELETE", PathContains: "/versions/" + itoa(ids["1.2.0"]), Status: 500})
	h.seed("acme", "svc", "private", h.img("old", 40*day), h.img("current", 2*day, "v1"))
	cfg := h.config(`  - name: libs
    schedule: "@every 1h"
    mode: enforce
    select: {owner: acme, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 30d}]
    limits: {max_deletes_per_run: 10}
  - name: images
    schedule: "@every 1h"
    mode: enforce
    select: {owner: acme, owner_type: org, package_type: container}
    delete: [{name: untagged, untagged: true, older_than: 7d}]
    limits: {max_deletes_per_run: 10}
`)

	addr := make(chan string, 1)
	ran := make(chan struct{}, 8)
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	e := env{stdout: &logs, stderr: &logs, clock: h.clock, getenv: func(string) string { return testToken },
		onListen: func(a string) { addr <- a }, onRun: func() { ran <- struct{}{} }}
	go func() {
		exited <- run(ctx, []string{"serve", "-config", cfg, "-listen", "127.0.0.1:0", "-run-on-start"}, e)
	}()
	defer func() {
		cancel()
		waitFor(t, exited)
	}()
	base := "http://" + waitFor(t, addr)
	waitFor(t, ran)
	waitFor(t, ran)
	if code, body := get(t, "POST", base+"/-/reload"); code != 200 {
		t.Fatalf("reload = %d %s", code, body)
	}
	_, exposition := get(t, "GET", base+"/metrics")
	types := exportedTypes(exposition)

	var missing []string
	for name, files := range names {
		if !exported(types, name) {
			missing = append(missing, name+" (in "+strings.Join(files, ", ")+")")
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("deploy/monitoring refers to metrics serve does not export:\n  %s\nserve logs:\n%s",
			strings.Join(missing, "\n  "), logs.String())
	}
}

// The helpers tell a histogram's series from a name nobody exports.
func TestMonitoring_ExportedKnowsHistogramSeries(t *testing.T) {
	types := exportedTypes("# HELP a_seconds x\n# TYPE a_seconds histogram\na_seconds_bucket{le=\"1\"} 0\n# TYPE b_total counter\n")
	for name, want := range map[string]bool{
		"a_seconds": true, "a_seconds_bucket": true, "a_seconds_sum": true, "a_seconds_count": true,
		"b_total": true, "b_total_count": false, "c_total": false, "a_bucket": false,
	} {
		if got := exported(types, name); got != want {
			t.Errorf("exported(%q) = %v, want %v", name, got, want)
		}
	}
}
