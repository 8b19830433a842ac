package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func daysAgo(d int) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour) }

// mustPolicy parses one policy body (indented under "  - name: p") for a package type.
func mustPolicy(t *testing.T, packageType, body string) *Policy {
	t.Helper()
	src := "version: 1\npolicies:\n  - name: p\n    select: {owner: acme, owner_type: org, package_type: " + packageType + "}\n" + body
	cfg, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse policy: %v\n%s", err, src)
	}
	return cfg.Policies[0]
}

// verdicts maps version name to its rule, for compact expectations.
func verdicts(ds []Decision) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[d.Version.Name] = string(d.Action) + " " + string(d.Rule)
	}
	return m
}

func TestDecide(t *testing.T) {
	img := func(id int64, name string, age int, tags ...string) Version {
		return Version{ID: id, Name: name, Tags: tags, CreatedAt: daysAgo(age), UpdatedAt: daysAgo(age)}
	}
	containers := []Version{
		img(1, "d1", 40, "latest"),
		img(2, "d2", 30),
		img(3, "d3", 20, "pr-7"),
		img(4, "d4", 10, "main-3"),
		img(5, "d5", 2),
		img(6, "d6", 1, "pr-9"),
	}
	cases := []struct {
		name     string
		typ      string
		body     string
		versions []Version
		facts    Facts
		want     map[string]string
	}{
		{
			name: "untagged older than 7d deleted, protected tag kept, rest no-rule",
			typ:  "container",
			body: "    protect: {tags: [latest]}\n    delete: [{name: orphans, untagged: true, older_than: 7d}]\n",
			want: map[string]string{"d1": "keep protected:tag", "d2": "delete delete:orphans", "d3": "keep no-rule", "d4": "keep no-rule", "d5": "keep no-rule", "d6": "keep no-rule"},
		},
		{
			name: "keep rule wins over delete rule",
			typ:  "container",
			body: "    keep: [{name: main, tags: [\"main-*\"]}]\n    delete: [{name: old, older_than: 5d}]\n",
			want: map[string]string{"d1": "delete delete:old", "d2": "delete delete:old", "d3": "delete delete:old", "d4": "keep keep:main", "d5": "keep no-rule", "d6": "keep no-rule"},
		},
		{
			name: "most_recent ranks within the rule's selection",
			typ:  "container",
			body: "    keep: [{name: recent-pr, tags: [\"pr-*\"], most_recent: 1}]\n    delete: [{name: prs, tags: [\"pr-*\"]}]\n",
			want: map[string]string{"d1": "keep no-rule", "d2": "keep no-rule", "d3": "delete delete:prs", "d4": "keep no-rule", "d5": "keep no-rule", "d6": "keep keep:recent-pr"},
		},
		{
			name: "newer_than protection and keep_at_least floor",
			typ:  "container",
			body: "    protect: {newer_than: 36h, keep_at_least: 3}\n    delete: [{name: all-old, older_than: 1h, untagged: false}, {name: orphans, untagged: true}]\n",
			want: map[string]string{"d6": "keep protected:newer_than", "d5": "keep protected:keep_at_least", "d4": "keep protected:keep_at_least", "d3": "delete delete:all-old", "d2": "delete delete:orphans", "d1": "delete delete:all-old"},
		},
		{
			name:     "the last version is never deleted",
			typ:      "npm",
			body:     "    delete: [{name: old, older_than: 1d}]\n",
			versions: []Version{img(1, "1.0.0", 40), img(2, "1.1.0", 30)},
			want:     map[string]string{"1.1.0": "keep last-version", "1.0.0": "delete delete:old"},
		},
		{
			name:     "the last tagged container version is never deleted",
			typ:      "container",
			body:     "    delete: [{name: old, older_than: 1d}]\n",
			versions: []Version{img(1, "a", 40, "v1"), img(2, "b", 30, "v2"), img(3, "c", 0)},
			want:     map[string]string{"a": "delete delete:old", "b": "keep last-version", "c": "keep no-rule"},
		},
		{
			name:  "download-limited versions are kept",
			typ:   "container",
			body:  "    delete: [{name: orphans, untagged: true}]\n",
			facts: Facts{DownloadLimited: func(id int64) bool { return id == 2 }},
			want:  map[string]string{"d1": "keep no-rule", "d2": "keep download-limit", "d3": "keep no-rule", "d4": "keep no-rule", "d5": "delete delete:orphans", "d6": "keep no-rule"},
		},
		{
			name: "circuit breaker leaves the package whole",
			typ:  "container",
			body: "    delete: [{name: old, older_than: 1d}]\n    limits: {max_delete_percent: 50}\n",
			want: map[string]string{"d1": "keep circuit-breaker", "d2": "keep circuit-breaker", "d3": "keep circuit-breaker", "d4": "keep circuit-breaker", "d5": "keep circuit-breaker", "d6": "keep no-rule"},
		},
		{
			name:     "prerelease and semver on npm version names",
			typ:      "npm",
			body:     "    delete: [{name: pre, prerelease: true, older_than: 7d}, {name: v1, semver: \"<2\", prerelease: false}]\n",
			versions: []Version{img(1, "1.0.0", 40), img(2, "2.0.0-rc.1", 30), img(3, "2.0.0-rc.2", 3), img(4, "v2.1.0", 1)},
			want:     map[string]string{"1.0.0": "delete delete:v1", "2.0.0-rc.1": "delete delete:pre", "2.0.0-rc.2": "keep no-rule", "v2.1.0": "keep no-rule"},
		},
		{
			name: "exclude_tags, rule newer_than, protect.versions",
			typ:  "container",
			body: "    protect: {versions: [\"re:d[12]\"]}\n    delete: [{name: not-main, exclude_tags: [\"main-*\", latest], older_than: 1d}, {name: fresh-pr, tags: [\"pr-*\"], newer_than: 3d}]\n",
			want: map[string]string{"d1": "keep protected:version", "d2": "keep protected:version", "d3": "delete delete:not-main", "d4": "keep no-rule", "d5": "delete delete:not-main", "d6": "delete delete:fresh-pr"},
		},
		{
			name:     "versions globs on maven names; ** crosses slashes",
			typ:      "maven",
			body:     "    delete: [{name: snapshots, versions: [\"*-SNAPSHOT\"], older_than: 7d}, {name: nightly, versions: [\"nightly/**\"]}]\n",
			versions: []Version{img(1, "1.0.0", 40), img(2, "1.1.0-SNAPSHOT", 30), img(3, "1.2.0-SNAPSHOT", 3), img(4, "nightly/2026/11/01", 20), img(5, "2.0.0", 1)},
			want:     map[string]string{"1.0.0": "keep no-rule", "1.1.0-SNAPSHOT": "delete delete:snapshots", "1.2.0-SNAPSHOT": "keep no-rule", "nightly/2026/11/01": "delete delete:nightly", "2.0.0": "keep no-rule"},
		},
		{
			name:     "age_basis updated_at",
			typ:      "npm",
			body:     "    delete: [{name: stale, older_than: 7d, age_basis: updated_at}]\n",
			versions: []Version{{ID: 1, Name: "1", CreatedAt: daysAgo(30), UpdatedAt: daysAgo(1)}, {ID: 2, Name: "2", CreatedAt: daysAgo(20), UpdatedAt: daysAgo(10)}, {ID: 3, Name: "3", CreatedAt: daysAgo(1), UpdatedAt: daysAgo(1)}},
			want:     map[string]string{"1": "keep no-rule", "2": "delete delete:stale", "3": "keep no-rule"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustPolicy(t, c.typ, c.body)
			vs := c.versions
			if vs == nil {
				vs = containers
			}
			ds := p.Decide(vs, now, c.facts)
			if diff := cmp.Diff(c.want, verdicts(ds)); diff != "" {
				t.Errorf("decisions (-want +got):\n%s", diff)
			}
			for _, d := range ds {
				if d.Reason == "" {
					t.Errorf("%s: empty reason", d.Version.Name)
				}
			}
		})
	}
}

func TestApplyRunLimit_DefersNewestAcrossPackages(t *testing.T) {
	mk := func(id int64, age int) Decision {
		return Decision{Version: &Version{ID: id, Name: fmt.Sprint(id), CreatedAt: daysAgo(age)}, Action: Delete, Rule: "delete:x"}
	}
	plans := [][]Decision{{mk(1, 10), mk(2, 30)}, {mk(3, 20), mk(4, 5)}}
	ApplyRunLimit(plans, 2)
	got := map[string]string{}
	for _, ds := range plans {
		for k, v := range verdicts(ds) {
			got[k] = v
		}
	}
	want := map[string]string{"2": "delete delete:x", "3": "delete delete:x", "1": "keep deferred", "4": "keep deferred"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Shuffling the versions or the rules never changes a decision.
func TestDecide_OrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	body := "    protect: {keep_at_least: 2}\n    keep: [{name: k1, tags: [\"main-*\"], most_recent: 2}, {name: k2, tags: [\"rel-*\"]}]\n" +
		"    delete: [{name: d1, untagged: true, older_than: 3d}, {name: d2, tags: [\"main-*\", \"pr-*\"], older_than: 1d}, {name: d3, older_than: 20d}]\n"
	p := mustPolicy(t, "container", body)
	tagsPool := [][]string{nil, {"main-1"}, {"pr-1"}, {"rel-1"}, {"main-2", "pr-2"}}
	for iter := 0; iter < 200; iter++ {
		var vs []Version
		for i := 0; i < 1+r.IntN(30); i++ {
			vs = append(vs, Version{ID: int64(i + 1), Name: fmt.Sprintf("v%d", i), Tags: tagsPool[r.IntN(len(tagsPool))], CreatedAt: now.Add(-time.Duration(r.IntN(40*24)) * time.Hour)})
		}
		want := verdicts(p.Decide(vs, now, Facts{}))
		shuffled := append([]Version(nil), vs...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		q := *p
		q.Keep = append([]*Rule(nil), p.Keep...)
		q.Delete = append([]*Rule(nil), p.Delete...)
		r.Shuffle(len(q.Keep), func(i, j int) { q.Keep[i], q.Keep[j] = q.Keep[j], q.Keep[i] })
		r.Shuffle(len(q.Delete), func(i, j int) { q.Delete[i], q.Delete[j] = q.Delete[j], q.Delete[i] })
		got := verdicts(q.Decide(shuffled, now, Facts{}))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("iteration %d: shuffling changed decisions (-want +got):\n%s", iter, diff)
		}
		kept := 0
		for _, v := range got {
			if v[:4] == "keep" {
				kept++
			}
		}
		if kept < min(2, len(vs)) {
			t.Fatalf("iteration %d: keep_at_least 2 violated: %v", iter, got)
		}
	}
}
