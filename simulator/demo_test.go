package simulator

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/google/go-cmp/cmp"
)

// The demo's narration and its test name versions by id and digest: the
// world must not drift.
func TestSeedDemo_PinsTheDemoWorld(t *testing.T) {
	t.Parallel()
	sim := New(Options{Clock: clock.NewFake(t0)})
	w, err := SeedDemo(sim)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string][2]int{}
	for _, p := range w.Packages {
		c := counts[p.Owner]
		c[0]++
		c[1] += len(sim.Versions(p.Owner, p.Type, p.Name))
		counts[p.Owner] = c
	}
	if diff := cmp.Diff(map[string][2]int{"acme-corp": {6, 1266}, "octocat": {1, 6}, "hubot": {1, 3}}, counts); diff != "" {
		t.Errorf("packages and versions by owner (-want +got):\n%s", diff)
	}
	if tok := sim.tokens[DemoToken]; tok == nil || tok.Login != "octocat" {
		t.Errorf("DemoToken is not octocat's: %+v", tok)
	}

	// Ids follow the file, and digests the manifests' exact bytes.
	for id, want := range map[int64]string{
		1000001: "main-100 sha256:",
		1000026: " sha256:f45f9ad8fba8", // the second ci/web orphan
		1000033: " " + w.KeptChild,      // platform/api v3.0.0's amd64 manifest
		1000037: "v3.0.0,latest sha256:409bef4fd589",
		1000043: " sha256:49d94beebc4e", // api-hotfix
		1000044: "sha256-49d94beebc4e",  // and its cosign signature
		1000074: " sha256:f76e48b82cc5", // a runner cache image
		1001246: " sha256:1892981c3c00", // the cli version pulled 12,000 times
		1001273: " 2.0.0",               // hubot-scripts
		1001275: " 3.0.0",
	} {
		v, ok := sim.Version(id)
		if got := strings.Join(v.Tags, ",") + " " + v.Name; !ok || !strings.HasPrefix(got, want) {
			t.Errorf("version %d = %q, want it to start %q", id, got, want)
		}
	}
	if !strings.HasPrefix(w.KeptChild, "sha256:a78333a2d397") {
		t.Errorf("KeptChild = %s", w.KeptChild)
	}
	if v, _ := sim.Version(1001246); v.Downloads != 12000 {
		t.Errorf("the hot cli version has %d downloads", v.Downloads)
	}

	// The kept child is the first, linux/amd64, child of the tagged index,
	// and its attestation follows it.
	m, mt := manifestOf(t, sim, 1000037)
	var ix indexJSON
	if err := json.Unmarshal(m, &ix); err != nil || mt != MediaOCIIndex || len(ix.Manifests) != 4 {
		t.Fatalf("index %s (%s): %v", m, mt, err)
	}
	if c := ix.Manifests[0]; c.Digest != w.KeptChild || c.Platform == nil || c.Platform.Architecture != "amd64" {
		t.Errorf("first child %+v", c)
	}
	if a := ix.Manifests[1]; a.Annotations["vnd.docker.reference.digest"] != w.KeptChild || a.Platform.OS != "unknown" {
		t.Errorf("attestation %+v", a)
	}
}
