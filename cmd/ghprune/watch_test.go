package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/simulator"
)

// kubeletDir lays out a config as a mounted ConfigMap does: the file is a
// symlink through ..data to a timestamped directory, and an update writes a
// new directory and swaps ..data atomically.
type kubeletDir struct {
	t   *testing.T
	dir string
	gen int
}

func (k *kubeletDir) write(content string) {
	k.t.Helper()
	k.gen++
	ts := fmt.Sprintf("..2026_12_01_00_00_%02d.%d", k.gen, k.gen)
	must := func(err error) {
		if err != nil {
			k.t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(k.dir, ts), 0o755))
	must(os.WriteFile(filepath.Join(k.dir, ts, "ghprune.yaml"), []byte(content), 0o644))
	must(os.Symlink(ts, filepath.Join(k.dir, "..data_tmp")))
	must(os.Rename(filepath.Join(k.dir, "..data_tmp"), filepath.Join(k.dir, "..data")))
	if k.gen == 1 {
		must(os.Symlink(filepath.Join("..data", "ghprune.yaml"), filepath.Join(k.dir, "ghprune.yaml")))
	}
}

// A ConfigMap update reaches serve without a signal: the new policy shows
// in /api/v1/policies; a broken update sets the reload gauge to 0 and keeps
// the policies that run.
func TestServe_ReloadsAMountedConfigMapBySymlinkSwap(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(1)
	k := &kubeletDir{t: t, dir: filepath.Join(h.dir, "config")}
	if err := os.Mkdir(k.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pol := func(name string) string {
		return "  - name: " + name + "\n    schedule: \"@daily\"\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n"
	}
	head := fmt.Sprintf("version: 1\ngithub: {api_url: %s, registry_url: %s}\nstate: {path: %s}\npolicies:\n", h.url, h.url, filepath.Join(h.dir, "journal.db"))
	k.write(head + pol("first"))
	d := h.serve(t, filepath.Join(k.dir, "ghprune.yaml"), testToken)

	k.write(head + pol("first") + pol("second"))
	for {
		if err := waitFor(t, d.reloads); err != nil {
			t.Fatalf("reload after the swap: %v", err)
		}
		if _, ok := policiesNow(t, d.base)["second"]; ok {
			break
		}
	}
	_, m := get(t, "GET", d.base+"/metrics")
	if !strings.Contains(m, "ghprune_config_last_reload_successful 1") {
		t.Errorf("reload gauge not 1 after a good update:\n%s", grepLines(m, "reload"))
	}

	k.write(head + pol("first") + "  - name: Broken\n")
	// A late event of the good update's swap may still report an
	// unchanged reload (nil): wait for the broken one's refusal.
	for {
		if err := waitFor(t, d.reloads); err != nil {
			break
		}
		if _, ok := policiesNow(t, d.base)["Broken"]; ok {
			t.Fatal("a broken update was loaded")
		}
	}
	_, m = get(t, "GET", d.base+"/metrics")
	if !strings.Contains(m, "ghprune_config_last_reload_successful 0") {
		t.Errorf("reload gauge not 0 after a broken update:\n%s", grepLines(m, "reload"))
	}
	got := policiesNow(t, d.base)
	if _, ok := got["second"]; !ok || len(got) != 2 {
		t.Errorf("policies after a refused update: %v, want first and second", got)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
