package main

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/simulator"
)

// img is a single-platform image manifest seeded under a readable name.
func (h *harness) img(name string, age time.Duration, tags ...string) simulator.VersionSeed {
	m := simulator.ImageManifest(simulator.MediaOCIManifest, name, 1000, 2000)
	return simulator.VersionSeed{Name: name, Manifest: m, Tags: tags, CreatedAt: h.ago(age), UpdatedAt: h.ago(age)}
}

// multiArch is a buildx-style image: an index (or Docker manifest list) with
// two platform manifests and an attestation, children untagged as on ghcr.io.
// It returns the seeds, index last, and records readable names.
func (h *harness) multiArch(prefix, indexType string, age time.Duration, shared []simulator.VersionSeed, tags ...string) []simulator.VersionSeed {
	childType := simulator.MediaOCIManifest
	if indexType == simulator.MediaDockerList {
		childType = simulator.MediaDockerManifest
	}
	var seeds []simulator.VersionSeed
	var descs []simulator.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		m := simulator.ImageManifest(childType, prefix+"-"+arch, 5000, 7000)
		seeds = append(seeds, simulator.VersionSeed{Name: prefix + "-" + arch, Manifest: m, CreatedAt: h.ago(age), UpdatedAt: h.ago(age)})
		d := simulator.Describe(childType, m)
		d.Platform = &simulator.Platform{OS: "linux", Architecture: arch}
		descs = append(descs, d)
	}
	att := simulator.ImageManifest(simulator.MediaOCIManifest, prefix+"-att", 300)
	seeds = append(seeds, simulator.VersionSeed{Name: prefix + "-att", Manifest: att, CreatedAt: h.ago(age), UpdatedAt: h.ago(age)})
	ad := simulator.Describe(simulator.MediaOCIManifest, att)
	ad.Platform = &simulator.Platform{OS: "unknown", Architecture: "unknown"}
	ad.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": descs[0].Digest}
	descs = append(descs, ad)
	for _, s := range shared {
		descs = append(descs, simulator.Describe(simulator.MediaOCIManifest, s.Manifest))
	}
	idx := simulator.Index(indexType, descs...)
	return append(seeds, simulator.VersionSeed{Name: prefix + "-index", Manifest: idx, Tags: tags, CreatedAt: h.ago(age), UpdatedAt: h.ago(age)})
}

// seed adds container versions whose Name is a readable label, setting the
// real digest and remembering the label.
func (h *harness) seed(owner, name, vis string, vs ...simulator.VersionSeed) {
	h.t.Helper()
	for i := range vs {
		if !strings.HasPrefix(vs[i].Name, "sha256:") && !strings.HasPrefix(vs[i].Name, "bare:") {
			label := vs[i].Name
			vs[i].Name = ""
			defer func(d string) { h.names[d], h.digests[label] = label, d }(simulator.Digest(vs[i].Manifest))
		}
	}
	h.pkg(owner, "container", name, vis, vs...)
}

const untaggedPolicy = `  - name: orphans
    mode: enforce
    select: {owner: acme, owner_type: org, package_type: container}
    delete:
      - {name: untagged, untagged: true, older_than: 1d}
      - {name: old-sigs, tags: ["sha256-*"], older_than: 1d}
`

// The untagged platform and attestation manifests of a tagged OCI index and
// of a tagged Docker manifest list survive "untagged older than 1d"; an old
// untagged index goes with its exclusive children while a child it shares
// with a kept index stays; parents are deleted before their children.
func TestContainers_MultiPlatformImagesSurvive(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	shared := h.img("shared-base", 40*day)
	var vs []simulator.VersionSeed
	vs = append(vs, h.multiArch("oci", simulator.MediaOCIIndex, 30*day, []simulator.VersionSeed{shared}, "v2")...)
	vs = append(vs, h.multiArch("docker", simulator.MediaDockerList, 30*day, nil, "v1")...)
	vs = append(vs, h.multiArch("old", simulator.MediaOCIIndex, 60*day, []simulator.VersionSeed{shared})...)
	vs = append(vs, shared, h.img("stray", 20*day))
	h.seed("acme", "app", "private", vs...)
	cfg := h.config(untaggedPolicy)

	code, r, stderr := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d: %s", code, stderr)
	}
	got := h.decisions(r)
	want := map[string]string{
		"app/oci-index": "keep no-rule", "app/oci-amd64": "keep referenced-by:oci-index", "app/oci-arm64": "keep referenced-by:oci-index", "app/oci-att": "keep referenced-by:oci-index",
		"app/docker-index": "keep no-rule", "app/docker-amd64": "keep referenced-by:docker-index", "app/docker-arm64": "keep referenced-by:docker-index", "app/docker-att": "keep referenced-by:docker-index",
		"app/shared-base": "keep referenced-by:oci-index",
		"app/old-index":   "delete delete:untagged deleted", "app/old-amd64": "delete delete:untagged deleted", "app/old-arm64": "delete delete:untagged deleted", "app/old-att": "delete delete:untagged deleted",
		"app/stray": "delete delete:untagged deleted",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	// Pulling the kept tags still works: every manifest they name exists.
	active := h.active("acme", "container", "app")
	for _, n := range []string{"oci-index", "oci-amd64", "oci-arm64", "oci-att", "docker-index", "docker-amd64", "docker-arm64", "docker-att", "shared-base"} {
		if !active[n] {
			t.Errorf("%s was deleted: the tagged image is broken", n)
		}
	}
	// The old index went before its children.
	order := map[string]time.Time{}
	for _, v := range h.sim.Versions("acme", "container", "app") {
		if v.DeletedAt != nil {
			order[h.name(v.Name)] = *v.DeletedAt
		}
	}
	for _, child := range []string{"old-amd64", "old-arm64", "old-att"} {
		if !order["old-index"].Before(order[child]) {
			t.Errorf("%s deleted at %v, before or with its index (%v)", child, order[child], order["old-index"])
		}
	}
}

// A cosign signature of a deleted image is deleted, that of a kept image
// kept; a referrer with `subject` follows its subject.
func TestContainers_SignaturesAndReferrersFollowTheirSubject(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	kept := h.img("kept", 10*day, "v1")
	gone := h.img("gone", 30*day)
	sigTag := func(s simulator.VersionSeed) string {
		return "sha256-" + strings.TrimPrefix(simulator.Digest(s.Manifest), "sha256:") + ".sig"
	}
	keptSig := h.img("kept-sig", 10*day, sigTag(kept))
	goneSig := h.img("gone-sig", 30*day, sigTag(gone))
	keptSBOM := simulator.ReferrerManifest(simulator.Describe(simulator.MediaOCIManifest, kept.Manifest), "application/spdx+json", "kept-sbom")
	goneSBOM := simulator.ReferrerManifest(simulator.Describe(simulator.MediaOCIManifest, gone.Manifest), "application/spdx+json", "gone-sbom")
	h.seed("acme", "app", "private", kept, gone, keptSig, goneSig,
		simulator.VersionSeed{Name: "kept-sbom", Manifest: keptSBOM, CreatedAt: h.ago(9 * day), UpdatedAt: h.ago(9 * day)},
		simulator.VersionSeed{Name: "gone-sbom", Manifest: goneSBOM, CreatedAt: h.ago(hour(1)), UpdatedAt: h.ago(hour(1))})
	cfg := h.config(untaggedPolicy)
	code, r, stderr := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d: %s", code, stderr)
	}
	got := h.decisions(r)
	want := map[string]string{
		"app/kept": "keep no-rule", "app/gone": "delete delete:untagged deleted",
		"app/kept-sig": "keep referenced-by:kept", "app/gone-sig": "delete delete:old-sigs deleted",
		"app/kept-sbom": "keep referenced-by:kept", "app/gone-sbom": "delete orphaned-by:gone deleted",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func hour(n int) time.Duration { return time.Duration(n) * time.Hour }

// An unreadable manifest deletes nothing in its package; other packages go on.
func TestContainers_UnreadableManifestKeepsThePackage(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seed("acme", "broken", "private", h.img("b-tagged", 5*day, "v1"), h.img("b-old", 30*day),
		simulator.VersionSeed{Name: "bare:sha256:" + strings.Repeat("0", 64), CreatedAt: h.ago(40 * day), UpdatedAt: h.ago(40 * day)}) // no manifest in the registry
	h.seed("acme", "fine", "private", h.img("f-tagged", 5*day, "v1"), h.img("f-old", 30*day))
	cfg := h.config(untaggedPolicy)
	code, r, stderr := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d: %s", code, stderr)
	}
	got := h.decisions(r)
	if got["broken/b-old"] != "keep manifest-unreadable" || got["fine/f-old"] != "delete delete:untagged deleted" {
		t.Errorf("decisions = %v", got)
	}
	if a := h.active("acme", "container", "broken"); len(a) != 3 {
		t.Errorf("broken package lost versions: %v", a)
	}
}

// A second plan of the same packages reads no manifest it has read before
// (the journal caches them by digest), and a package with nothing to
// delete is planned without reading any.
func TestContainers_SecondPlanReadsNoManifestAgain(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seed("acme", "app", "public", h.multiArch("m", simulator.MediaOCIIndex, 30*day, nil, "v1")...)
	h.seed("acme", "quiet", "public", h.img("q1", day, "v1"), h.img("q2", 2*day, "v0"))
	cfg := h.config(untaggedPolicy)
	if code, _, stderr := h.run("plan", "-config", cfg, "-format", "json"); code != 0 {
		t.Fatalf("plan: %s", stderr)
	}
	first := h.sim.Stats().ManifestFetchesByDigest
	if len(first) != 4 {
		t.Errorf("first plan read %d manifests, want the 4 of app (none of quiet, which has nothing to delete)", len(first))
	}
	h.sim.ResetStats()
	code, r, _ := h.runJSON("plan", "-config", cfg)
	if code != 0 || h.sim.Stats().ManifestFetches != 0 || r.Summary.ManifestFetches != 0 {
		t.Errorf("second plan read %d manifests (report says %d)", h.sim.Stats().ManifestFetches, r.Summary.ManifestFetches)
	}
	var digests []string
	for d := range first {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	for _, d := range digests {
		if first[d] != 1 {
			t.Errorf("%s read %d times in one plan", h.name(d), first[d])
		}
	}
}

// Each plan reports the bytes its deletions would free per package.
func TestContainers_StorageEstimate(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seed("acme", "app", "private", h.img("new", day, "v1"), h.img("old1", 30*day), h.img("old2", 40*day))
	cfg := h.config(untaggedPolicy)
	_, r, _ := h.runJSON("plan", "-config", cfg)
	pkg := r.Policies[0].Packages[0]
	// Each seeded image has its own config and layers of 1000 and 2000 bytes.
	if pkg.FreedBytes < 2*3000 || pkg.FreedBytes > 2*3000+2*2000 || r.Summary.FreedBytes != pkg.FreedBytes {
		t.Errorf("freed_bytes = %d (summary %d), want about 6,000", pkg.FreedBytes, r.Summary.FreedBytes)
	}
	_, out, _ := h.run("plan", "-config", cfg, "-format", "table")
	if !strings.Contains(out, "frees ~") {
		t.Errorf("table lacks the estimate:\n%s", out)
	}
}

// GitHub refuses to delete an old index pulled more than 5,000 times: its
// children, deleted after it, must then stay, or the index GitHub kept
// points at deleted manifests.
func TestContainers_ChildrenOfARefusedIndexStay(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	pinned := h.multiArch("pinned", simulator.MediaOCIIndex, 60*day, nil)
	pinned[len(pinned)-1].Downloads = 6000 // the index
	h.seed("acme", "app", "public", append(pinned, h.img("current", day, "latest"))...)
	cfg := h.config(untaggedPolicy)
	code, r, stderr := h.runJSON("apply", "-config", cfg)
	if code != 0 {
		t.Fatalf("apply exit %d: %s", code, stderr)
	}
	got := h.decisions(r)
	if got["app/pinned-index"] != "delete delete:untagged skipped" {
		t.Errorf("index: %q", got["app/pinned-index"])
	}
	for _, c := range []string{"pinned-amd64", "pinned-arm64", "pinned-att"} {
		if got["app/"+c] != "delete delete:untagged skipped" {
			t.Errorf("%s: %q, want skipped because its index stays", c, got["app/"+c])
		}
	}
	if a := h.active("acme", "container", "app"); len(a) != 5 {
		t.Errorf("active after apply: %v; the refused index lost children", a)
	}
	if n := h.sim.Stats().ByOp["DELETE version"]; n != 1 {
		t.Errorf("%d DELETEs sent, want 1 (the refused index only)", n)
	}
}
