package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecide_Graph(t *testing.T) {
	const orphans = "    delete: [{name: orphans, untagged: true, older_than: 1d}, {name: old-sigs, tags: [\"sha256-*\"], older_than: 1d}]\n"
	hex := func(c string) string { return strings.Repeat(c, 64) }
	v := func(id int64, name string, age int, tags ...string) Version {
		return Version{ID: id, Name: name, Tags: tags, CreatedAt: daysAgo(age), UpdatedAt: daysAgo(age)}
	}
	cases := []struct {
		name     string
		body     string
		versions []Version
		ms       map[string]*Manifest
		unread   string
		want     map[string]string
	}{
		{
			name:     "children and attestation of a tagged index survive untagged older than 1d",
			body:     orphans,
			versions: []Version{v(1, "idx", 10, "latest"), v(2, "amd64", 10), v(3, "arm64", 10), v(4, "att", 10), v(5, "stray", 10)},
			ms:       map[string]*Manifest{"idx": {Children: []string{"amd64", "arm64", "att"}}},
			want: map[string]string{"idx": "keep no-rule", "amd64": "keep referenced-by:idx", "arm64": "keep referenced-by:idx",
				"att": "keep referenced-by:idx", "stray": "delete delete:orphans"},
		},
		{
			name: "an untagged old index goes with its exclusive children; a child shared with a kept index stays",
			body: orphans,
			versions: []Version{v(1, "new-idx", 0, "latest"), v(2, "old-idx", 20), v(3, "shared", 20), v(4, "mine", 20),
				v(5, "young-child", 0)},
			ms: map[string]*Manifest{"new-idx": {Children: []string{"shared"}}, "old-idx": {Children: []string{"shared", "mine", "young-child"}}},
			want: map[string]string{"new-idx": "keep no-rule", "old-idx": "delete delete:orphans", "shared": "keep referenced-by:new-idx",
				"mine": "delete delete:orphans", "young-child": "delete orphaned-by:old-idx"},
		},
		{
			name: "a cosign signature follows its subject; a subject referrer too",
			body: orphans,
			versions: []Version{v(1, "sha256:"+hex("a"), 5, "v1"), v(2, "sha256:"+hex("b"), 30), v(3, "sig-a", 5, "sha256-"+hex("a")+".sig"),
				v(4, "sig-b", 0, "sha256-"+hex("b")+".sig"), v(5, "sbom-a", 5), v(6, "sbom-b", 0)},
			ms: map[string]*Manifest{"sbom-a": {Subject: "sha256:" + hex("a")}, "sbom-b": {Subject: "sha256:" + hex("b")}},
			want: map[string]string{"sha256:" + hex("a"): "keep no-rule", "sha256:" + hex("b"): "delete delete:orphans",
				"sig-a": "keep referenced-by:sha256:" + hex("a"), "sig-b": "delete orphaned-by:sha256:" + hex("b"),
				"sbom-a": "keep referenced-by:sha256:" + hex("a"), "sbom-b": "delete orphaned-by:sha256:" + hex("b")},
		},
		{
			name:     "an unreadable manifest keeps the whole package",
			body:     orphans,
			versions: []Version{v(1, "idx", 10, "latest"), v(2, "a", 10), v(3, "b", 10)},
			ms:       map[string]*Manifest{},
			unread:   "a",
			want:     map[string]string{"idx": "keep no-rule", "a": "keep manifest-unreadable", "b": "keep manifest-unreadable"},
		},
		{
			name:     "keep_at_least rescuing an index keeps its children",
			body:     "    protect: {keep_at_least: 1}\n" + orphans,
			versions: []Version{v(1, "idx", 5), v(2, "child", 6), v(3, "tagged", 30, "v1")},
			ms:       map[string]*Manifest{"idx": {Children: []string{"child"}}},
			want:     map[string]string{"idx": "keep protected:keep_at_least", "child": "keep referenced-by:idx", "tagged": "keep no-rule"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustPolicy(t, "container", c.body)
			ds := p.Decide(c.versions, now, Facts{Manifests: c.ms, Unreadable: c.unread})
			if diff := cmp.Diff(c.want, verdicts(ds)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Deletions name their deleted parent so it goes first, and the run cap
// defers a parent with its children.
func TestDecide_GraphParentsAndRunLimit(t *testing.T) {
	p := mustPolicy(t, "container", "    delete: [{name: orphans, untagged: true, older_than: 1d}]\n    limits: {max_deletes_per_run: 3}\n")
	vs := []Version{
		{ID: 1, Name: "keep", Tags: []string{"v1"}, CreatedAt: daysAgo(1)},
		{ID: 2, Name: "old-idx", CreatedAt: daysAgo(30)}, {ID: 3, Name: "old-a", CreatedAt: daysAgo(30)}, {ID: 4, Name: "old-b", CreatedAt: daysAgo(30)},
		{ID: 5, Name: "idx2", CreatedAt: daysAgo(20)}, {ID: 6, Name: "c2", CreatedAt: daysAgo(20)},
	}
	ms := map[string]*Manifest{"old-idx": {Children: []string{"old-a", "old-b"}}, "idx2": {Children: []string{"c2"}}}
	plans := [][]Decision{p.Decide(vs, now, Facts{Manifests: ms})}
	parents := map[string]string{}
	for _, d := range plans[0] {
		parents[d.Version.Name] = strings.Join(d.Parents, ",")
	}
	if parents["old-a"] != "old-idx" || parents["old-b"] != "old-idx" || parents["c2"] != "idx2" || parents["old-idx"] != "" {
		t.Fatalf("parents = %v", parents)
	}
	ApplyRunLimit(plans, 3)
	got := verdicts(plans[0])
	want := map[string]string{"keep": "keep no-rule", "old-idx": "delete delete:orphans", "old-a": "delete delete:orphans", "old-b": "delete delete:orphans",
		"idx2": "keep deferred", "c2": "keep deferred"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFreedBytes_CountsBlobsNoKeptManifestUses(t *testing.T) {
	ds := []Decision{
		{Version: &Version{Name: "kept"}, Action: Keep},
		{Version: &Version{Name: "gone"}, Action: Delete},
		{Version: &Version{Name: "gone2"}, Action: Delete},
	}
	ms := map[string]*Manifest{
		"kept":  {Blobs: map[string]int64{"base": 100, "cfg1": 1}},
		"gone":  {Blobs: map[string]int64{"base": 100, "app": 50, "cfg2": 2}},
		"gone2": {Blobs: map[string]int64{"app": 50, "cfg3": 3}},
	}
	if got := FreedBytes(ds, ms); got != 55 {
		t.Errorf("FreedBytes = %d, want 55 (app 50 + cfg2 2 + cfg3 3; base is still used)", got)
	}
}

// A family larger than the cap makes progress parents first instead of
// stalling every run; a child goes only with all its deleted parents.
func TestApplyRunLimit_FamiliesAdmittedParentsFirst(t *testing.T) {
	d := func(name string, age int, parents ...string) Decision {
		return Decision{Version: &Version{ID: int64(len(name) + age), Name: name, CreatedAt: daysAgo(age)}, Action: Delete, Rule: "delete:x", Parents: parents}
	}
	// idx (5 members) is older than the stray; max 3: idx and two of its
	// children go, the rest waits.
	plans := [][]Decision{{d("idx", 50), d("c1", 50, "idx"), d("c2", 50, "idx"), d("c3", 50, "idx"), d("c4", 50, "idx"), d("stray", 10)}}
	ApplyRunLimit(plans, 3)
	got := verdicts(plans[0])
	if got["idx"] != "delete delete:x" || got["stray"] != "keep deferred" {
		t.Errorf("oversized family stalled or children went first: %v", got)
	}
	deleted := 0
	for _, v := range got {
		if v == "delete delete:x" {
			deleted++
		}
	}
	if deleted != 3 {
		t.Errorf("%d deletions, want the cap of 3: %v", deleted, got)
	}
	// A child with two deleted parents comes after both.
	plans = [][]Decision{{d("p1", 20), d("p2", 40, "root"), d("root", 40), d("child", 45, "p1", "p2")}}
	ApplyRunLimit(plans, 3)
	got = verdicts(plans[0])
	if got["child"] == "delete delete:x" && (got["p1"] != "delete delete:x" || got["p2"] != "delete delete:x") {
		t.Errorf("child admitted without all its parents: %v", got)
	}
}

// A tagged child is not orphaned with its index (someone may pull the tag);
// a signature whose subject is in another package is kept.
func TestDecide_GraphFailsClosed(t *testing.T) {
	p := mustPolicy(t, "container", "    delete: [{name: prs, tags: [\"pr-*\"], older_than: 14d}, {name: old-sigs, tags: [\"sha256-*\"], older_than: 1d}]\n")
	other := "sha256:" + strings.Repeat("e", 64)
	vs := []Version{
		{ID: 1, Name: "idx", Tags: []string{"pr-12"}, CreatedAt: daysAgo(30)},
		{ID: 2, Name: "amd", Tags: []string{"sha-abc-amd64"}, CreatedAt: daysAgo(30)},
		{ID: 3, Name: "arm", CreatedAt: daysAgo(30)},
		{ID: 4, Name: "sig-elsewhere", Tags: []string{"sha256-" + strings.Repeat("e", 64) + ".sig"}, CreatedAt: daysAgo(30)},
		{ID: 5, Name: "current", Tags: []string{"v1"}, CreatedAt: daysAgo(1)},
	}
	ds := p.Decide(vs, now, Facts{Manifests: map[string]*Manifest{"idx": {Children: []string{"amd", "arm"}}}})
	want := map[string]string{"idx": "delete delete:prs", "amd": "keep no-rule", "arm": "delete orphaned-by:idx",
		"sig-elsewhere": "keep referenced-by:" + other, "current": "keep no-rule"}
	if diff := cmp.Diff(want, verdicts(ds)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
