package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ghprune/ghprune/simulator"
)

// deployConfig is the ghprune.yaml that deploy/configmap.yaml ships. The
// manifests themselves are checked by the deploy module (deploy/*_test.go),
// which can import Kubernetes; this module only reads the YAML.
func deployConfig(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../../deploy/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(src, &cm); err != nil {
		t.Fatalf("deploy/configmap.yaml: %v", err)
	}
	cfg, ok := cm.Data["ghprune.yaml"]
	if cm.Kind != "ConfigMap" || !ok {
		t.Fatalf("deploy/configmap.yaml: kind %q with keys %v, want a ConfigMap with ghprune.yaml", cm.Kind, cm.Data)
	}
	return cfg
}

var tokenFileLine = regexp.MustCompile(`(?m)^  token_file: .*\n`)

// The config the Deployment starts with validates as it is, warns of
// nothing, reads its token from a file and keeps its journal on the volume;
// pointed at the simulator it plans like the examples in configs/: it finds
// something to delete and sends no DELETE.
func TestDeploy_ConfigMapConfigValidatesAndPlans(t *testing.T) {
	src := deployConfig(t)
	h := newHarness(t, simulator.Options{PrimaryLimit: 5000})
	h.sim.AddUser("octocat", 583231)
	seedExamples(h)

	// As shipped: validate reads no token and touches no journal.
	shipped := filepath.Join(h.dir, "ghprune.yaml")
	if err := os.WriteFile(shipped, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := h.run("validate", "-config", shipped)
	if code != exitOK || strings.Contains(stderr, "warning") || !strings.Contains(out, "0 warnings") {
		t.Fatalf("validate exit %d: %s %s", code, out, stderr)
	}
	for _, want := range []string{"\n  token_file: /var/run/secrets/ghprune/token\n", "\nstate:\n", "\n  path: /var/lib/ghprune/"} {
		if !strings.Contains(src, want) {
			t.Errorf("the config lacks %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(src, "token_env") || strings.Contains(src, "mode: enforce") {
		t.Errorf("the shipped config names token_env or enforces: it must plan, with the token from the Secret's file")
	}

	// Against the simulator, with the harness's token.
	local := tokenFileLine.ReplaceAllString(pointAt(src, h.url, filepath.Join(h.dir, "j.db")), "")
	cfg := filepath.Join(h.dir, "local.yaml")
	if err := os.WriteFile(cfg, []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}
	code, r, stderr := h.runJSON("plan", "-config", cfg)
	if code != exitOK {
		t.Fatalf("plan exit %d: %s", code, stderr)
	}
	if r.Summary.Delete == 0 {
		t.Errorf("the deploy config deletes nothing from the seeded packages")
	}
	for _, p := range r.Policies {
		if len(p.Warnings) > 0 || p.Error != "" {
			t.Errorf("policy %s: warnings %q, error %q", p.Policy, p.Warnings, p.Error)
		}
	}
	if n := h.sim.Stats().ByOp["DELETE version"]; n != 0 {
		t.Errorf("plan sent %d deletes", n)
	}
}
