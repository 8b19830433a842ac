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

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/simulator"
)

// testToken is a classic PAT shape; tests grep every output for it.
const testToken = "ghp_E2Etoken0000SECRET1111abcdefABCDEF99"

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// harness runs the real commands against the simulator over loopback HTTP,
// with one fake clock shared by both, so pacing and rate-limit waits pass in
// simulated time.
type harness struct {
	t     *testing.T
	sim   *simulator.Server
	url   string
	clock *clock.Fake
	dir   string
	out   bytes.Buffer // everything any command printed, for the token grep
	// budgetShare is written to limits.budget_share (default 1: tests that
	// exercise rate limits want to reach them).
	budgetShare float64
	// limits is more YAML under limits:, each line indented by two spaces.
	limits string
	// names maps container digests to the readable names tests seed them
	// under; digests maps back.
	names, digests map[string]string
}

func newHarness(t *testing.T, opts simulator.Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: clock.NewFake(t0), dir: t.TempDir(), budgetShare: 1, names: map[string]string{}, digests: map[string]string{}}
	opts.Clock = h.clock
	h.sim = simulator.New(opts)
	srv := httptest.NewServer(h.sim)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.sim.AddToken(testToken, simulator.Token{Login: "octo", Scopes: []string{"read:packages", "write:packages", "delete:packages", "repo"}})
	h.sim.AddOrg("acme", 100, "octo")
	h.sim.AddUser("octo", 200)
	h.sim.AddUser("other", 300)
	return h
}

func (h *harness) ago(d time.Duration) time.Time { return t0.Add(-d) }

// version is the simulator's state of a version; the test fails when the
// simulator has no such version (a zero state would pass a "not deleted"
// check).
func (h *harness) version(id int64) simulator.VersionState {
	h.t.Helper()
	v, ok := h.sim.Version(id)
	if !ok {
		h.t.Fatalf("the simulator has no version %d", id)
	}
	return v
}

const day = 24 * time.Hour

// pkg seeds a package and its versions; it returns the version ids by name.
func (h *harness) pkg(owner, typ, name, vis string, vs ...simulator.VersionSeed) map[string]int64 {
	h.t.Helper()
	if err := h.sim.AddPackage(owner, simulator.PackageSeed{Name: name, Type: typ, Visibility: vis, CreatedAt: h.ago(400 * day)}); err != nil {
		h.t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, v := range vs {
		if v.UpdatedAt.IsZero() {
			v.UpdatedAt = v.CreatedAt
		}
		readable := v.Name
		if bare, ok := strings.CutPrefix(v.Name, "bare:"); ok {
			// "bare:NAME": a container version the registry has no manifest
			// for, as a broken or unreadable image.
			v.Name, readable = bare, bare
		} else if (typ == "container" || typ == "docker") && v.Manifest == nil {
			// A container version is a manifest and its name the digest:
			// give it a real one, and remember the readable name.
			v.Manifest = simulator.ImageManifest(simulator.MediaOCIManifest, owner+"/"+name+"/"+readable, 1000, 2000)
			v.Name = simulator.Digest(v.Manifest)
		}
		if v.Name != readable {
			h.names[v.Name], h.digests[readable] = readable, v.Name
		}
		id, err := h.sim.AddVersion(owner, typ, name, v)
		if err != nil {
			h.t.Fatal(err)
		}
		ids[readable] = id
	}
	return ids
}

// name returns the readable name a version was seeded under.
func (h *harness) name(version string) string {
	if n, ok := h.names[version]; ok {
		return n
	}
	return version
}

// config writes a config for the simulator with the given policies section.
func (h *harness) config(policies string) string {
	h.t.Helper()
	body := fmt.Sprintf("version: 1\ngithub:\n  api_url: %[1]s\n  registry_url: %[1]s\nlimits:\n  mutations_per_minute: 60\n  budget_share: %g\n%sstate:\n  path: %s\npolicies:\n%s",
		h.url, h.budgetShare, h.limits, filepath.Join(h.dir, "journal.db"), policies)
	path := filepath.Join(h.dir, "ghprune.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// run runs one ghprune command and returns its exit code and output.
func (h *harness) run(args ...string) (int, string, string) {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	e := env{stdout: &stdout, stderr: &stderr, clock: h.clock,
		getenv: func(k string) string {
			if k == "GITHUB_TOKEN" {
				return testToken
			}
			return ""
		}}
	code := run(context.Background(), args, e)
	h.out.Write(stdout.Bytes())
	h.out.Write(stderr.Bytes())
	return code, stdout.String(), stderr.String()
}

// runJSON runs a plan or apply with -format json and decodes the report.
func (h *harness) runJSON(args ...string) (int, *report.Report, string) {
	h.t.Helper()
	code, out, errOut := h.run(append(args, "-format", "json")...)
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		h.t.Fatalf("%v: exit %d, report is not JSON: %v\nstdout: %s\nstderr: %s", args, code, err, out, errOut)
	}
	return code, &r, errOut
}

// decisions flattens a report to "package/version" -> "action rule[ outcome]",
// with versions by their readable names.
func (h *harness) decisions(r *report.Report) map[string]string {
	m := map[string]string{}
	for _, p := range r.Policies {
		for _, pkg := range p.Packages {
			for _, d := range pkg.Decisions {
				v := d.Action + " " + h.readableRule(d.Rule)
				if d.Outcome != "" {
					v += " " + d.Outcome
				}
				m[pkg.Package+"/"+h.name(d.Version)] = v
			}
		}
	}
	return m
}

// readableRule replaces a digest in referenced-by:/orphaned-by: rules.
func (h *harness) readableRule(rule string) string {
	if kind, digest, ok := strings.Cut(rule, ":sha256:"); ok {
		return kind + ":" + h.name("sha256:"+digest)
	}
	return rule
}

// active returns the names of the package's versions the simulator still has.
func (h *harness) active(owner, typ, name string) map[string]bool {
	m := map[string]bool{}
	for _, v := range h.sim.Versions(owner, typ, name) {
		if v.DeletedAt == nil {
			m[h.name(v.Name)] = true
		}
	}
	return m
}

// apiRequests counts the simulator's packages-API requests, leaving out
// registry traffic (token exchange and manifests).
func (h *harness) apiRequests() int {
	st := h.sim.Stats()
	n := st.Requests
	for _, op := range []string{"GET token", "GET /v2/", "GET manifest", "HEAD manifest"} {
		n -= st.ByOp[op]
	}
	return n
}

func (h *harness) assertNoToken() {
	h.t.Helper()
	if strings.Contains(h.out.String(), testToken) {
		h.t.Fatalf("the token appears in command output")
	}
}

type fakeClock = clock.Fake

func strconvItoa(n int64) string { return fmt.Sprint(n) }
