package policytest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/snapshot"
)

var runNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func bindFile(t *testing.T, policies, tests string) *Suite {
	t.Helper()
	s, err := Bind(mustParse(t, tests), mustConfig(t, policies))
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return s
}

func findPackage(snap *snapshot.Snapshot, kind, owner, typ, name string) []snapshot.Package {
	var out []snapshot.Package
	for _, p := range snap.Packages {
		if p.OwnerKind == kind && strings.EqualFold(p.Owner, owner) && p.Type == typ && p.Name == name {
			out = append(out, p)
		}
	}
	return out
}

func ptime(t time.Time) *time.Time { return &t }

const snapshotTests = `packages:
  - owner: acme
    name: img
    package_type: container
    versions:
      - {name: new, tags: [latest], age: 1d}
      - {name: amd64, age: 5d}
      - {name: arm64, age: 5d}
      - {name: idx, tags: [v1, stable], age: 5d, children: [amd64, arm64]}
      - {name: old, age: 90d}
      - {name: pinned, age: 3d, id: 900}
  - owner: acme
    name: lib
    package_type: npm
    visibility: public
    versions:
      - {name: 1.0.0, age: 10d}
      - {name: 2.0.0, age: 36h}
tests:
  - {policy: svc, package: img, tag: latest, expect: keep}
`

// Synthetic versions are listed newest first, created their age before
// the run's time, and numbered above every id of the base and the file,
// the newest the highest; written ids are kept. A synthetic package
// replaces the base's package of the same owner, type and name, in its
// listing too.
func TestSnapshot_Synthetic(t *testing.T) {
	s := bindFile(t, threePolicies, snapshotTests)
	base := syntheticTestBase()
	before, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot(base, runNow)
	if after, _ := json.Marshal(base); string(after) != string(before) {
		t.Fatal("Snapshot changed the base: a reading that serves the plan and the diff too must stay as read")
	}

	img := checkSyntheticImg(t, snap)
	byLabel := checkSyntheticVersions(t, img)
	if !slices.Equal(byLabel["idx"].Tags, []string{"v1", "stable"}) || !slices.Equal(byLabel["new"].Tags, []string{"latest"}) || len(byLabel["old"].Tags) != 0 {
		t.Errorf("tags: idx %q, new %q, old %q", byLabel["idx"].Tags, byLabel["new"].Tags, byLabel["old"].Tags)
	}
	if len(s.ids) != 8 {
		t.Errorf("%d ids kept, want one for each of the 8 synthetic versions", len(s.ids))
	}

	checkSyntheticManifests(t, snap, byLabel)
	checkReplacedVersionsGone(t, snap, "sha256:aa", "sha256:bb")
	checkSyntheticLib(t, snap)
	if len(snap.Manifests) != 6 {
		t.Errorf("%d manifests held, want the 6 of img", len(snap.Manifests))
	}
	checkSyntheticListings(t, snap)
	checkWritesAndLoads(t, snap)
}

// syntheticTestBase is the base TestSnapshot_Synthetic adds to: an org
// package acme/img (owner spelled ACME) the file's img replaces, and two
// packages it must leave: one of another name, one of another owner kind.
func syntheticTestBase() *snapshot.Snapshot {
	base := snapshot.New("https://api.github.com", runNow.Add(-time.Hour))
	old := ptime(runNow.Add(-1000 * time.Hour))
	base.Packages = []snapshot.Package{
		{OwnerKind: "org", Owner: "ACME", Type: "container", Name: "img", Visibility: "private", VersionCount: 2,
			Versions: []snapshot.Version{{ID: 500, Name: "sha256:aa", CreatedAt: old}, {ID: 501, Name: "sha256:bb", CreatedAt: old}}},
		{OwnerKind: "org", Owner: "acme", Type: "container", Name: "other", Visibility: "private", VersionCount: 1,
			Versions: []snapshot.Version{{ID: 600, Name: "sha256:cc", CreatedAt: old}}},
		{OwnerKind: "user", Owner: "acme", Type: "container", Name: "img", Visibility: "private", VersionCount: 1,
			Versions: []snapshot.Version{{ID: 700, Name: "sha256:dd", CreatedAt: old}}},
	}
	base.Listings = []snapshot.Listing{
		{OwnerKind: "org", Owner: "acme", Type: "container", Packages: []snapshot.ListedPackage{{Name: "img", Visibility: "private", VersionCount: 2}, {Name: "other", Visibility: "private", VersionCount: 1}}},
		{OwnerKind: "org", Owner: "acme", Type: "container", Visibility: "public", Packages: []snapshot.ListedPackage{}},
	}
	return base
}

// checkSyntheticImg returns the one org package acme/img, the synthetic
// one, and checks that the base's packages of another owner kind or name
// are still there.
func checkSyntheticImg(t *testing.T, snap *snapshot.Snapshot) snapshot.Package {
	t.Helper()
	imgs := findPackage(snap, "org", "acme", "container", "img")
	if len(imgs) != 1 {
		t.Fatalf("%d org packages acme/img, want 1", len(imgs))
	}
	img := imgs[0]
	if img.Owner != "acme" || img.Visibility != "private" || img.VersionCount != 6 || len(img.Versions) != 6 {
		t.Fatalf("the synthetic package: %+v", img)
	}
	if len(findPackage(snap, "user", "acme", "container", "img")) != 1 || len(findPackage(snap, "org", "acme", "container", "other")) != 1 {
		t.Error("a package of another owner kind or name was dropped")
	}
	return img
}

// checkSyntheticVersions checks the order, ids and times of img's
// versions and returns them by their labels in the file.
func checkSyntheticVersions(t *testing.T, img snapshot.Package) map[string]snapshot.Version {
	t.Helper()
	// Newest first; among equal ages, in the file's order.
	byLabel := map[string]snapshot.Version{}
	labels := []string{"new", "pinned", "amd64", "arm64", "idx", "old"}
	ages := []time.Duration{24, 72, 120, 120, 120, 90 * 24} // hours
	wantIDs := []int64{905, 900, 904, 903, 902, 901}        // above 900, the highest of base and file
	for i, v := range img.Versions {
		byLabel[labels[i]] = v
		if v.ID != wantIDs[i] {
			t.Errorf("versions[%d] (%s): id %d, want %d", i, labels[i], v.ID, wantIDs[i])
		}
		want := runNow.Add(-ages[i] * time.Hour)
		if v.CreatedAt == nil || !v.CreatedAt.Equal(want) || v.UpdatedAt == nil || !v.UpdatedAt.Equal(want) || v.CreatedAt.Location() != time.UTC {
			t.Errorf("versions[%d] (%s): created %v, updated %v, want %v", i, labels[i], v.CreatedAt, v.UpdatedAt, want)
		}
	}
	return byLabel
}

// manifestBody is what the tests read of a manifest made for a synthetic
// container version.
type manifestBody struct {
	SchemaVersion int    `json:"schemaVersion"`
	MediaType     string `json:"mediaType"`
	Config        *struct {
		Digest string `json:"digest"`
	} `json:"config"`
	Layers    []struct{ Digest string } `json:"layers"`
	Manifests []struct {
		MediaType string            `json:"mediaType"`
		Digest    string            `json:"digest"`
		Size      int64             `json:"size"`
		Platform  map[string]string `json:"platform"`
	} `json:"manifests"`
}

// checkSyntheticManifests checks the manifest of each of img's versions.
func checkSyntheticManifests(t *testing.T, snap *snapshot.Snapshot, byLabel map[string]snapshot.Version) {
	t.Helper()
	// Container versions are named by the digests of manifests the
	// snapshot holds; an index names its children's digests.
	seen := map[string]string{}
	for label, v := range byLabel {
		m, body, ok := checkManifestHeld(t, snap, label, v, seen)
		if !ok {
			continue
		}
		if label == "idx" {
			checkIndexManifest(t, snap, m, body, byLabel)
			continue
		}
		if m.MediaType != mediaImage || body.Config == nil || len(body.Layers) != 1 || len(body.Manifests) != 0 {
			t.Errorf("%s: not an image: %s", label, m.Body)
		}
	}
}

// checkManifestHeld checks that the version labelled label is named by
// the digest of a manifest the snapshot holds, one no other version of
// seen has, and returns that manifest and its body; ok is false when
// none is held.
func checkManifestHeld(t *testing.T, snap *snapshot.Snapshot, label string, v snapshot.Version, seen map[string]string) (m snapshot.Manifest, body manifestBody, ok bool) {
	t.Helper()
	m, ok = snap.Manifests[v.Name]
	if !strings.HasPrefix(v.Name, "sha256:") || !ok {
		t.Errorf("%s: named %q, manifest held: %v", label, v.Name, ok)
		return m, body, false
	}
	sum := sha256.Sum256(m.Body)
	if "sha256:"+hex.EncodeToString(sum[:]) != v.Name {
		t.Errorf("%s: the manifest does not hash to its name", label)
	}
	if other, dup := seen[v.Name]; dup {
		t.Errorf("%s and %s have one digest", label, other)
	}
	seen[v.Name] = label
	if err := json.Unmarshal(m.Body, &body); err != nil {
		t.Fatalf("%s: the manifest is not JSON: %v", label, err)
	}
	if body.SchemaVersion != 2 || body.MediaType != m.MediaType {
		t.Errorf("%s: schema %d, media type %q in the body and %q held", label, body.SchemaVersion, body.MediaType, m.MediaType)
	}
	return m, body, true
}

// checkIndexManifest checks that the index idx names its children's
// digests, in the file's order.
func checkIndexManifest(t *testing.T, snap *snapshot.Snapshot, m snapshot.Manifest, body manifestBody, byLabel map[string]snapshot.Version) {
	t.Helper()
	if m.MediaType != mediaIndex || len(body.Manifests) != 2 || body.Config != nil {
		t.Fatalf("the index: %s", m.Body)
	}
	for i, child := range []string{"amd64", "arm64"} {
		d := body.Manifests[i]
		if d.Digest != byLabel[child].Name || d.Size != int64(len(snap.Manifests[d.Digest].Body)) || d.MediaType != mediaImage || d.Platform["os"] != "linux" {
			t.Errorf("the index's manifests[%d] = %+v, want %s's digest %s", i, d, child, byLabel[child].Name)
		}
	}
}

// checkReplacedVersionsGone checks that no package of snap has a version
// named one of names, the versions of a replaced package.
func checkReplacedVersionsGone(t *testing.T, snap *snapshot.Snapshot, names ...string) {
	t.Helper()
	for _, d := range names {
		for _, p := range snap.Packages {
			for _, v := range p.Versions {
				if v.Name == d {
					t.Errorf("the replaced package's version %s is still there", d)
				}
			}
		}
	}
}

// checkSyntheticLib checks the synthetic npm package acme/lib.
func checkSyntheticLib(t *testing.T, snap *snapshot.Snapshot) {
	t.Helper()
	// npm versions are named as written and numbered after the images.
	libs := findPackage(snap, "org", "acme", "npm", "lib")
	if len(libs) != 1 {
		t.Fatalf("%d packages acme/lib", len(libs))
	}
	lib := libs[0]
	if lib.Visibility != "public" || len(lib.Versions) != 2 || lib.Versions[0].Name != "2.0.0" || lib.Versions[0].ID != 907 ||
		lib.Versions[1].Name != "1.0.0" || lib.Versions[1].ID != 906 || lib.Versions[0].Tags != nil {
		t.Errorf("lib: %+v", lib)
	}
}

// checkSyntheticListings checks where the synthetic packages are listed.
func checkSyntheticListings(t *testing.T, snap *snapshot.Snapshot) {
	t.Helper()
	// Listings: img once in the unfiltered one, not in the public one;
	// lib in a new unfiltered listing of its own.
	var listed []string
	for _, l := range snap.Listings {
		for _, p := range l.Packages {
			listed = append(listed, l.OwnerKind+"/"+l.Owner+"/"+l.Type+"/"+l.Visibility+":"+p.Name+"/"+p.Visibility)
		}
	}
	slices.Sort(listed)
	want := []string{"org/acme/container/:img/private", "org/acme/container/:other/private", "org/acme/npm/:lib/public"}
	if !slices.Equal(listed, want) {
		t.Errorf("listed %q, want %q", listed, want)
	}
	for _, l := range snap.Listings {
		for _, p := range l.Packages {
			if p.Name == "img" && p.VersionCount != 6 {
				t.Errorf("img listed with %d versions", p.VersionCount)
			}
		}
	}
}

// checkWritesAndLoads checks that snap is one ghprune can write and read
// back.
func checkWritesAndLoads(t *testing.T, snap *snapshot.Snapshot) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snap.json")
	if err := snap.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := snapshot.Load(path)
	if err != nil {
		t.Fatalf("the snapshot does not load: %v", err)
	}
	if len(back.Packages) != len(snap.Packages) || len(back.Manifests) != len(snap.Manifests) {
		t.Errorf("read back %d packages and %d manifests", len(back.Packages), len(back.Manifests))
	}
}

// Without a base, the snapshot is of the config's API at the run's time;
// the ids start at 1, or above the file's.
func TestSnapshot_NoBase(t *testing.T) {
	s := bindFile(t, threePolicies, `packages:
  - owner: acme
    name: lib
    package_type: npm
    versions:
      - {name: a, age: 1d}
      - {name: b, age: 2d, id: 10}
      - {name: c, age: 3d}
  - owner: acme
    name: d
    package_type: docker
    versions:
      - {name: x, tags: [t], age: 1d}
tests:
  - {policy: libs, package: lib, version: a, expect: keep}
`)
	snap := s.Snapshot(nil, runNow)
	if snap.APIURL != "http://127.0.0.1:1" || !snap.TakenAt.Equal(runNow) || snap.Format != snapshot.Format || snap.Manifests == nil {
		t.Errorf("the snapshot: %+v", snap)
	}
	lib := findPackage(snap, "org", "acme", "npm", "lib")
	if len(lib) != 1 {
		t.Fatalf("lib: %+v", snap.Packages)
	}
	var ids []int64
	for _, v := range lib[0].Versions {
		ids = append(ids, v.ID)
	}
	if !slices.Equal(ids, []int64{12, 10, 11}) {
		t.Errorf("ids %v, want [12 10 11]", ids)
	}
	// A docker version is named by a digest too, but no manifest is held:
	// docker packages have no graph.
	d := findPackage(snap, "org", "acme", "docker", "d")
	if len(d) != 1 || !strings.HasPrefix(d[0].Versions[0].Name, "sha256:") || !slices.Equal(d[0].Versions[0].Tags, []string{"t"}) || d[0].Versions[0].ID != 13 {
		t.Errorf("docker: %+v", d)
	}
	if len(snap.Manifests) != 0 {
		t.Errorf("%d manifests held for a docker package", len(snap.Manifests))
	}
}

// A user package of the token's own account is listed as "self", as the
// planner addresses it, and replaces the base's.
func TestSnapshot_Self(t *testing.T) {
	s := bindFile(t, threePolicies, `packages:
  - {owner: octocat, name: m, package_type: maven, versions: [{name: '1', age: 1d}]}
tests:
  - {policy: mine, package: m, version: '1', expect: keep}
`)
	base := snapshot.New("https://api.github.com", runNow)
	base.Login = "OctoCat"
	base.Packages = []snapshot.Package{{OwnerKind: "self", Type: "maven", Name: "m", Visibility: "private", VersionCount: 1,
		Versions: []snapshot.Version{{ID: 40, Name: "0"}}}}
	base.Listings = []snapshot.Listing{{OwnerKind: "self", Type: "maven", Packages: []snapshot.ListedPackage{{Name: "m", Visibility: "private", VersionCount: 1}}}}
	snap := s.Snapshot(base, runNow)
	if len(snap.Packages) != 1 {
		t.Fatalf("%d packages: %+v", len(snap.Packages), snap.Packages)
	}
	p := snap.Packages[0]
	if p.OwnerKind != "self" || p.Owner != "octocat" || len(p.Versions) != 1 || p.Versions[0].Name != "1" || p.Versions[0].ID != 41 {
		t.Errorf("the package: %+v", p)
	}
	if len(snap.Listings) != 1 || len(snap.Listings[0].Packages) != 1 || snap.Listings[0].Packages[0].VersionCount != 1 {
		t.Errorf("listings: %+v", snap.Listings)
	}
	if !s.inSnapshot(s.cases[0]) {
		t.Error("the package of the token's account is not found in the snapshot")
	}
}
