package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/simulator"
)

// Every example in configs/ validates and plans against the simulator,
// seeded with packages of the kinds it is written for: it finds something
// to delete, sends no DELETE and warns of nothing.
func TestConfigs_PlanAgainstSimulator(t *testing.T) {
	files := exampleConfigs(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			h := newHarness(t, simulator.Options{PrimaryLimit: 5000})
			h.sim.AddUser("octocat", 583231)
			seedExamples(h)
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(h.dir, filepath.Base(f))
			if err := os.WriteFile(cfg, []byte(pointAt(string(src), h.url, filepath.Join(h.dir, "j.db"))), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, out, stderr := h.run("validate", "-config", cfg); code != 0 || strings.Contains(stderr, "warning") {
				t.Fatalf("validate exit %d: %s %s", code, out, stderr)
			}
			code, r, stderr := h.runJSON("plan", "-config", cfg)
			if code != 0 {
				t.Fatalf("plan exit %d: %s", code, stderr)
			}
			if r.Summary.Delete == 0 {
				t.Errorf("the example deletes nothing from its seeded packages")
			}
			for _, p := range r.Policies {
				if len(p.Warnings) > 0 || p.Error != "" {
					t.Errorf("policy %s: warnings %q, error %q", p.Policy, p.Warnings, p.Error)
				}
			}
			if n := h.sim.Stats().ByOp["DELETE version"]; n != 0 {
				t.Errorf("plan sent %d deletes", n)
			}
		})
	}
}

var stateBlock = regexp.MustCompile(`(?m)^state:\n(  .*\n)*`)

// pointAt rewrites an example config to the simulator and a temporary journal.
func pointAt(src, apiURL, journal string) string {
	src = stateBlock.ReplaceAllString(src, "")
	gh := "github:\n  api_url: " + apiURL + "\n  registry_url: " + apiURL + "\n"
	if strings.Contains(src, "\ngithub:\n") {
		src = strings.Replace(src, "\ngithub:\n", "\n"+gh, 1)
	} else {
		src = strings.Replace(src, "version: 1\n", "version: 1\n"+gh, 1)
	}
	return strings.Replace(src, "version: 1\n", "version: 1\nstate:\n  path: "+journal+"\n", 1)
}

// seedExamples gives the simulator what the examples in configs/ select.
func seedExamples(h *harness) {
	v := func(name string, age time.Duration, tags ...string) simulator.VersionSeed {
		return simulator.VersionSeed{Name: name, Tags: tags, CreatedAt: h.ago(age)}
	}
	var svc []simulator.VersionSeed
	svc = append(svc, v("d-latest", 30*day, "latest"), v("d-prod", 40*day, "prod"), v("d-v1", 60*day, "v1.0.0"))
	for i := 0; i < 25; i++ {
		svc = append(svc, v(fmt.Sprintf("d-main-%d", i), time.Duration(i+1)*day, fmt.Sprintf("main-%d", i)))
	}
	for i := 0; i < 10; i++ { // 3 PR builds and 7 orphans are old enough: 21%, under the 40% breaker
		svc = append(svc, v(fmt.Sprintf("d-pr-%d", i), time.Duration(2*i+1)*day, fmt.Sprintf("pr-%d", i)))
		svc = append(svc, v(fmt.Sprintf("d-orphan-%d", i), time.Duration(3*i+1)*day))
	}
	h.pkg("acme", "container", "svc-api", "private", svc...)
	h.pkg("acme", "container", "platform/web/api", "private", svc...)
	h.pkg("acme", "container", "svc-legacy", "private", svc[:5]...)
	var npm []simulator.VersionSeed
	for i := 0; i < 15; i++ {
		npm = append(npm, v(fmt.Sprintf("1.%d.0", i), time.Duration(100-i*5)*day), v(fmt.Sprintf("1.%d.0-beta.1", i+1), time.Duration(98-i*5)*day))
	}
	h.pkg("acme", "npm", "ui", "private", npm...)
	var mvn []simulator.VersionSeed
	for i := 0; i < 8; i++ {
		mvn = append(mvn, v(fmt.Sprintf("2.%d.0-SNAPSHOT", i), time.Duration(40-4*i)*day))
	}
	mvn = append(mvn, v("1.9.0", 100*day))
	h.pkg("acme", "maven", "com.acme.billing", "private", mvn...)
	var dev []simulator.VersionSeed
	for i := 0; i < 6; i++ {
		dev = append(dev, v(fmt.Sprintf("dev-%d", i), time.Duration(i*7+1)*day))
	}
	h.pkg("octocat", "container", "devcontainer", "public", dev...)
}
