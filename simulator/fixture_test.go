package simulator

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/google/go-cmp/cmp"
)

func TestLoadFixture_DocumentedExampleSeeds(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The package documentation shows the same text; keep them in step.
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n")[1:] {
		want.WriteString("//\t" + l + "\n")
	}
	if !strings.Contains(string(doc), want.String()) {
		t.Errorf("doc.go does not show testdata/example.yaml verbatim")
	}

	f, err := LoadFixture(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("LoadFixture: %v", err)
	}
	sim := New(Options{Clock: clock.NewFake(t0)})
	if err := sim.Seed(f); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	vs := sim.Versions("acme", "container", "team/service/api")
	if len(vs) != 22 {
		t.Fatalf("%d versions, want 22", len(vs))
	}
	// Newest first: the tagged one (36h), then pr-20 … pr-1 (10d, 6h apart), then the deleted one.
	if vs[0].Name != "sha256:…" || !vs[0].CreatedAt.Equal(t0.Add(-36*time.Hour)) || vs[0].Downloads != 12000 {
		t.Errorf("newest = %+v", vs[0])
	}
	if diff := cmp.Diff([]string{"pr-20"}, vs[1].Tags); diff != "" || !vs[1].CreatedAt.Equal(t0.Add(-240*time.Hour)) {
		t.Errorf("pr-20 = %+v", vs[1])
	}
	if diff := cmp.Diff([]string{"pr-1"}, vs[20].Tags); diff != "" || !vs[20].CreatedAt.Equal(t0.Add(-240*time.Hour-19*6*time.Hour)) {
		t.Errorf("pr-1 = %+v", vs[20])
	}
	last := vs[21]
	if last.DeletedAt == nil || !last.DeletedAt.Equal(t0.Add(-72*time.Hour)) || len(last.Tags) != 0 {
		t.Errorf("deleted = %+v", last)
	}
	// Ids grow with created_at.
	for i := 1; i < len(vs); i++ {
		if vs[i].ID >= vs[i-1].ID {
			t.Errorf("id %d (created %v) not below %d (created %v)", vs[i].ID, vs[i].CreatedAt, vs[i-1].ID, vs[i-1].CreatedAt)
		}
	}
}

func TestLoadFixture_Errors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "tokens:\n  - token: x\n    logn: y\n", "load fixture: yaml: unmarshal errors:\n  line 3: field logn not found in type simulator.FixtureToken"},
		{"unknown top-level key", "packagez: []\n", "line 1: field packagez not found in type simulator.Fixture"},
		{"bad age", "packages:\n  - {owner: a, name: n, type: npm, versions: [{name: '1', age: 10x}]}\n",
			`load fixture: packages[0].versions[0].age: invalid age "10x" (want e.g. 36h, 10d, 2w, 1d12h)`},
		{"negative age", "packages:\n  - {owner: a, name: n, type: npm, age: -2d}\n", `load fixture: packages[0].age: invalid age "-2d": negative`},
		{"age and created_at", "packages:\n  - {owner: a, name: n, type: npm, versions: [{name: '1', age: 1d, created_at: 2024-01-01T00:00:00Z}]}\n",
			"load fixture: packages[0].versions[0]: created_at and age are exclusive"},
		{"bad type", "packages:\n  - {owner: a, name: n, type: gradle}\n",
			`load fixture: packages[0].type: "gradle" is not one of npm, maven, rubygems, docker, nuget, container`},
		{"bad visibility", "packages:\n  - {owner: a, name: n, type: npm, visibility: secret}\n",
			`load fixture: packages[0].visibility: "secret" is not one of public, private, internal`},
		{"npm version without name", "packages:\n  - {owner: a, name: n, type: npm, versions: [{age: 1d}]}\n",
			"load fixture: packages[0].versions[0].name: empty (only container and docker versions may omit it)"},
		{"repeat without every", "packages:\n  - {owner: a, name: n, type: container, versions: [{repeat: 3}]}\n",
			"load fixture: packages[0].versions[0].every: required with repeat"},
		{"repeat without {i}", "packages:\n  - {owner: a, name: n, type: npm, versions: [{name: '1.0', repeat: 3, every: 1d}]}\n",
			"load fixture: packages[0].versions[0].name: must contain {i} with repeat, or versions would share a name"},
		{"duplicate token and missing ids", "tokens: [{token: a, login: x}, {token: a, login: y}]\norgs: [{login: o}]\n",
			"load fixture: tokens[1].token: duplicate token\norgs[0].id: must be a positive number"},
	}
	for _, tc := range tests {
		_, err := LoadFixture(strings.NewReader(tc.yaml))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, err, tc.want)
		}
	}
}

func TestSeed_Errors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown owner", "packages: [{owner: ghost, name: n, type: npm}]\n", `seed packages[0]: add package "n": unknown owner "ghost"`},
		{"deleted before created", "orgs: [{login: o, id: 1}]\npackages: [{owner: o, name: n, type: container, versions: [{age: 1d, deleted_age: 2d}]}]\n",
			"seed packages[0].versions[0]: deleted before it was created"},
		{"duplicate version", "orgs: [{login: o, id: 1}]\npackages: [{owner: o, name: n, type: npm, versions: [{name: '1'}, {name: '1'}]}]\n",
			`seed packages[0].versions[1]: add version "1" to "n": an active version with that name exists`},
	} {
		f, err := LoadFixture(strings.NewReader(tc.yaml))
		if err != nil {
			t.Fatalf("%s: LoadFixture: %v", tc.name, err)
		}
		err = New(Options{Clock: clock.NewFake(t0)}).Seed(f)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

func TestLoadFixture_EmptyIsEmpty(t *testing.T) {
	t.Parallel()
	f, err := LoadFixture(strings.NewReader(""))
	if err != nil || f == nil || len(f.Packages) != 0 {
		t.Errorf("empty fixture: %+v, %v", f, err)
	}
}

func TestParseAge(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"36h": 36 * time.Hour, "10d": 240 * time.Hour, "2w": 336 * time.Hour, "1d12h": 36 * time.Hour,
		"90m": 90 * time.Minute, "0": 0, "1.5d": 36 * time.Hour,
	} {
		got, err := parseAge(in)
		if err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "10x", "-1h", "1y"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
}
