package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/internal/httpsafe/httpsafetest"
	"github.com/ghprune/ghprune/planner"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/simulator"
)

// ghes is a GitHub Enterprise Server at ghes.example.test, as ghprune sees
// it over the network: the simulator serves its API (under /api/v3) and, as
// containers.ghes.example.test, its Container registry. Every other host
// ghprune might wrongly send the token to (ghcr.io, api.github.com, the old
// docker.ghes.example.test) is a recording server that must stay silent.
// The transport records the host of every request sent and reaches nothing
// but these servers.
type ghes struct {
	*harness
	api, containers *httpsafetest.Server
	others          map[string]*httpsafetest.Server // host -> silent server
	client          *http.Client

	mu    sync.Mutex
	hosts map[string]int // Host of each request sent -> count
}

func newGHES(t *testing.T) *ghes {
	t.Helper()
	g := &ghes{harness: newHarness(t, simulator.Options{}), hosts: map[string]int{}, others: map[string]*httpsafetest.Server{}}
	g.api = httpsafetest.NewTLSServer(t, g.sim.ServeHTTP)
	g.containers = httpsafetest.NewTLSServer(t, g.sim.ServeHTTP)
	routes := map[string]*httpsafetest.Server{
		"ghes.example.test:443":            g.api,
		"containers.ghes.example.test:443": g.containers,
	}
	for _, host := range []string{"ghcr.io", "api.github.com", "docker.ghes.example.test", "gh.example.test"} {
		s := httpsafetest.NewTLSServer(t, nil)
		g.others[host], routes[host+":443"] = s, s
	}
	g.client = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		g.mu.Lock()
		g.hosts[r.URL.Host]++
		g.mu.Unlock()
		return httpsafetest.Transport(routes).RoundTrip(r)
	})}
	return g
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// config writes a config whose github section is github (no registry_url
// unless it says so).
func (g *ghes) config(github, policies string) string {
	g.t.Helper()
	body := fmt.Sprintf("version: 1\ngithub:\n%slimits:\n  budget_share: 1\nstate:\n  path: %s\npolicies:\n%s",
		github, filepath.Join(g.dir, "journal.db"), policies)
	path := filepath.Join(g.dir, "ghprune.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		g.t.Fatal(err)
	}
	return path
}

func (g *ghes) env(stdout, stderr *bytes.Buffer) env {
	return env{stdout: stdout, stderr: stderr, clock: g.clock, httpClient: g.client,
		getenv: func(k string) string {
			if k == "GITHUB_TOKEN" {
				return testToken
			}
			return ""
		}}
}

// plan runs "ghprune plan -format json" through the GHES transport.
func (g *ghes) plan(cfg string) *report.Report {
	g.t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"plan", "-config", cfg, "-format", "json"}, g.env(&stdout, &stderr))
	g.out.Write(stdout.Bytes())
	g.out.Write(stderr.Bytes())
	if code != 0 {
		g.t.Fatalf("plan exit %d: %s", code, stderr.String())
	}
	var r report.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		g.t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	return &r
}

// contacted returns the hosts requests were sent to, sorted.
func (g *ghes) contacted() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for h := range g.hosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// assertSilent checks that no request reached a host the config does not
// name or imply.
func (g *ghes) assertSilent() {
	g.t.Helper()
	for host, s := range g.others {
		if n := len(s.Requests()); n > 0 {
			g.t.Errorf("%s received %d requests (the token with them): %+v", host, n, s.Requests())
		}
	}
	g.assertNoToken()
}

const ghesAPI = "  api_url: https://ghes.example.test/api/v3\n"

// A GHES config without registry_url reads manifests from
// containers.HOST, and never sends a request (or the token) to ghcr.io.
func TestGHES_ContainerPlanReadsContainersHostNotGhcr(t *testing.T) {
	g := newGHES(t)
	var vs []simulator.VersionSeed
	vs = append(vs, g.multiArch("cur", simulator.MediaOCIIndex, 30*day, nil, "v1")...)
	vs = append(vs, g.img("stray", 20*day))
	g.seed("acme", "app", "private", vs...)

	r := g.plan(g.config(ghesAPI, untaggedPolicy))

	got := g.decisions(r)
	want := map[string]string{
		"app/cur-index": "keep no-rule", "app/cur-amd64": "keep referenced-by:cur-index",
		"app/cur-arm64": "keep referenced-by:cur-index", "app/cur-att": "keep referenced-by:cur-index",
		"app/stray": "delete delete:untagged",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q (the manifests were not read)", k, got[k], w)
		}
	}
	g.assertSilent()
	if hosts, want := g.contacted(), []string{"containers.ghes.example.test", "ghes.example.test"}; !equalStrings(hosts, want) {
		t.Errorf("hosts contacted = %v, want %v", hosts, want)
	}
	manifests := 0
	for _, req := range g.containers.Requests() {
		if strings.Contains(req.Path, "/v2/acme/app/manifests/sha256:") {
			manifests++
		}
	}
	if manifests < len(want) {
		t.Errorf("containers.ghes.example.test got %d manifest reads, want at least %d", manifests, len(want))
	}
	for _, req := range g.api.Requests() {
		if !strings.HasPrefix(req.Path, "/api/v3/") {
			t.Errorf("ghes.example.test got %s %s, outside the API", req.Method, req.Path)
		}
	}
}

// A legacy docker package is kept whole with a reason that says why; no
// registry (neither containers.HOST nor docker.HOST) is asked for it.
func TestGHES_LegacyDockerPackageKeptWhole(t *testing.T) {
	g := newGHES(t)
	g.pkg("acme", "docker", "service/img", "private",
		simulator.VersionSeed{Name: "cur", Tags: []string{"v1"}, CreatedAt: g.ago(30 * day)},
		simulator.VersionSeed{Name: "old", CreatedAt: g.ago(60 * day)})
	r := g.plan(g.config(ghesAPI, `  - name: docker-orphans
    select: {owner: acme, owner_type: org, package_type: docker}
    delete:
      - {name: untagged, untagged: true, older_than: 1d}
`))
	var old *report.Decision
	for _, pkg := range r.Policies[0].Packages {
		for _, d := range pkg.Decisions {
			if g.name(d.Version) == "old" {
				old = d
			}
		}
	}
	if old == nil {
		t.Fatalf("version old not planned: %+v", r.Policies[0])
	}
	if old.Action != "keep" || old.Rule != string(policy.RuleManifestUnreadable) ||
		old.Reason != planner.LegacyDockerReason+" this run; was delete:untagged" {
		t.Errorf("old = %s %s %q", old.Action, old.Rule, old.Reason)
	}
	g.assertSilent()
	if n := len(g.containers.Requests()); n > 0 {
		t.Errorf("containers.ghes.example.test got %d requests for a docker package", n)
	}
	if hosts := g.contacted(); !equalStrings(hosts, []string{"ghes.example.test"}) {
		t.Errorf("hosts contacted = %v", hosts)
	}
}

// An api_url ghprune cannot derive a registry from needs none when no
// policy reads container manifests: the plan runs and no registry is asked.
func TestGHES_UnknownAPIWithoutContainerPolicyNeedsNoRegistry(t *testing.T) {
	g := newGHES(t)
	g.pkg("acme", "npm", "lib", "private", simulator.VersionSeed{Name: "1.0.0", CreatedAt: g.ago(30 * day)})
	g.others["gh.example.test"].Config.Handler = http.HandlerFunc(g.sim.ServeHTTP) // the API, this time
	delete(g.others, "gh.example.test")
	r := g.plan(g.config("  api_url: https://gh.example.test\n", `  - name: npm
    select: {owner: acme, owner_type: org, package_type: npm}
    delete:
      - {name: old, versions: ["1.*"], older_than: 1d}
`))
	if len(r.Policies) != 1 || len(r.Policies[0].Packages) != 1 {
		t.Fatalf("report: %+v", r.Policies)
	}
	g.assertSilent()
	if hosts := g.contacted(); !equalStrings(hosts, []string{"gh.example.test"}) {
		t.Errorf("hosts contacted = %v", hosts)
	}
}

// Every manifest GET attempt is counted in
// ghprune_registry_manifest_fetches_total by status; a 503 is retried.
func TestGHES_ManifestFetchMetrics(t *testing.T) {
	g := newGHES(t)
	g.seed("acme", "app", "private", g.img("cur", 30*day, "v1"), g.img("stray", 20*day))
	g.sim.InjectFault(simulator.Fault{Method: "GET", PathContains: "/manifests/", Status: 503, Times: 1})
	cfg, code := loadConfig(g.config(ghesAPI, untaggedPolicy), g.env(&bytes.Buffer{}, &bytes.Buffer{}))
	if cfg == nil {
		t.Fatalf("config: exit %d", code)
	}
	reg := prometheus.NewRegistry()
	e := g.env(&bytes.Buffer{}, &bytes.Buffer{})
	eng, err := engine.Open(context.Background(), engine.Options{Config: cfg, Getenv: e.getenv, Clock: e.clock,
		HTTPClient: e.httpClient, Registerer: reg, Journal: engine.JournalOptional})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	defer eng.Close()
	run, err := eng.Plan(context.Background(), cfg.Policies)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	r := report.FromRun(run)
	if got := g.decisions(r)["app/stray"]; got != "delete delete:untagged" {
		t.Errorf("stray = %q: the manifests were not read after the 503", got)
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ghprune_registry_manifest_fetches_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" {
					got[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	if want := map[string]float64{"503": 1, "401": 1, "200": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("ghprune_registry_manifest_fetches_total by code = %v, want %v", got, want)
	}
	g.assertSilent()
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}
