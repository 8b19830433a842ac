package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/simulator"
)

// validate prints each bad value back, as docs/cli.md says with its
// example, and never a URL's credentials or query.
func TestValidate_EchoesBadValuesNotSecrets(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	cfg := filepath.Join(h.dir, "ghprune.yaml")
	src := `version: 1
github:
  api_url: "ftp://octo:s3cret@ghes.example.test/api/v3?access_token=tok3n"
policies:
  - name: libs
    select: {owner: acme, owner_type: org, package_type: npm}
    protect: {keep_at_least: -2}
    limits: {max_delete_percent: 150}
    delete: [{name: old, older_than: 30d}]
`
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	example := "policies[0].protect.keep_at_least: must not be negative, got -2"
	code, _, errOut := h.run("validate", "-config", cfg)
	if code != exitUsage {
		t.Fatalf("validate: exit %d, want 2\n%s", code, errOut)
	}
	for _, want := range []string{
		example,
		"policies[0].limits.max_delete_percent: must be between 0 and 100, got 150",
		`github.api_url: expected an http(s) URL, got "ftp://ghes.example.test/api/v3"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate does not say %q:\n%s", want, errOut)
		}
	}
	for _, secret := range []string{"s3cret", "tok3n"} {
		if strings.Contains(errOut, secret) {
			t.Errorf("validate echoes %q:\n%s", secret, errOut)
		}
	}
	if doc, err := os.ReadFile(filepath.Join(repoRoot, "docs/cli.md")); err != nil || !strings.Contains(string(doc), "`"+example+"`") {
		t.Errorf("docs/cli.md does not give the example %q that validate prints (%v)", example, err)
	}
}
