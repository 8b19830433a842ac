package simulator

import (
	"fmt"
	"os"
	"slices"
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

// manifestOf returns what the registry serves for version id.
func manifestOf(t *testing.T, sim *Server, id int64) (manifest []byte, mediaType string) {
	t.Helper()
	sim.mu.Lock()
	defer sim.mu.Unlock()
	v := sim.versions[id]
	if v == nil {
		t.Fatalf("no version %d", id)
	}
	return v.manifest, v.mediaType
}

func TestLoadFixture_DocumentedImagesExampleBuildsManifests(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/images.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var shown strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n")[1:] {
		shown.WriteString("//\t" + l + "\n")
	}
	if !strings.Contains(string(doc), shown.String()) {
		t.Errorf("doc.go does not show testdata/images.yaml verbatim")
	}
	f, err := LoadFixture(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("LoadFixture: %v", err)
	}
	sim := New(Options{Clock: clock.NewFake(t0)})
	if err := sim.Seed(f); err != nil {
		t.Fatalf("Seed: %v", err)
	}

	// The same world built with the Go helpers.
	amd64 := ImageManifest(MediaOCIManifest, "api-amd64", 40<<20, 8<<20)
	att := ImageManifest(MediaOCIManifest, "api-amd64-att", 4<<10)
	d := Describe(MediaOCIManifest, amd64)
	d.Platform = &Platform{OS: "linux", Architecture: "amd64"}
	ad := Describe(MediaOCIManifest, att)
	ad.Platform = &Platform{OS: "unknown", Architecture: "unknown"}
	ad.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d.Digest}
	index := Index(MediaOCIIndex, d, ad)
	sig := ImageManifest(MediaOCIManifest, "api-v1-sig", 512)
	day := 24 * time.Hour
	type version struct {
		Name      string
		Tags      []string
		CreatedAt time.Time
		Manifest  string
		MediaType string
	}
	want := []version{
		{Digest(amd64), []string{}, t0.Add(-20 * day), string(amd64), MediaOCIManifest},
		{Digest(att), []string{}, t0.Add(-20 * day), string(att), MediaOCIManifest},
		{Digest(index), []string{"v1.0.0"}, t0.Add(-20 * day), string(index), MediaOCIIndex},
		{Digest(sig), []string{"sha256-" + strings.TrimPrefix(Digest(index), "sha256:") + ".sig"}, t0.Add(-20 * day), string(sig), MediaOCIManifest},
	}
	for i := 1; i <= 4; i++ {
		m := ImageManifest(MediaOCIManifest, fmt.Sprint("main", i), 30<<20, int64(i%3+1)<<20)
		want = append(want, version{Digest(m), []string{fmt.Sprint("main-", 100-i)}, t0.Add(-time.Duration(10-2*i) * day), string(m), MediaOCIManifest})
	}
	var got []version
	vs := sim.Versions("acme", "container", "api")
	slices.Reverse(vs) // oldest id first: id_order listed gives the file's order
	for j, v := range vs {
		m, mt := manifestOf(t, sim, v.ID)
		got = append(got, version{v.Name, v.Tags, v.CreatedAt, string(m), mt})
		if j > 0 && v.ID != vs[j-1].ID+1 {
			t.Errorf("ids %d, %d not consecutive", vs[j-1].ID, v.ID)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("versions in id order (-want +got):\n%s", diff)
	}
}

func TestSeed_IDOrder(t *testing.T) {
	t.Parallel()
	const fx = `
orgs: [{login: o, id: 1}]
packages:
  - owner: o
    name: n
    type: npm
    versions:
      - {name: new, age: 1d}
      - {name: "r{i}", age: "{i}h", repeat: 2}
      - {name: old, age: 9d}
`
	for order, want := range map[string][]string{
		"":        {"old", "new", "r2", "r1"},
		"created": {"old", "new", "r2", "r1"},
		"listed":  {"new", "r1", "r2", "old"},
	} {
		f, err := LoadFixture(strings.NewReader("id_order: " + order + "\n" + fx))
		if err != nil {
			t.Fatalf("%q: %v", order, err)
		}
		sim := New(Options{Clock: clock.NewFake(t0)})
		if err := sim.Seed(f); err != nil {
			t.Fatalf("%q: %v", order, err)
		}
		vs := sim.Versions("o", "npm", "n")
		slices.SortFunc(vs, func(a, b VersionState) int { return int(a.ID - b.ID) })
		var got []string
		for _, v := range vs {
			got = append(got, v.Name)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("id_order %q: names by id (-want +got):\n%s", order, diff)
		}
	}
}

func TestSeed_PlaceholderExpressions(t *testing.T) {
	t.Parallel()
	f, err := LoadFixture(strings.NewReader(`
orgs: [{login: o, id: 1}]
packages:
  - owner: o
    name: n
    type: container
    versions:
      - tags: ["main-{100-i}", "x{(i-1)%2}", "{i}{i*i}"]
        manifest: '{"n":{ 2 * (i+1) }}'
        age: "{3*i-2}d"
        updated_age: "{i}h"
        repeat: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	sim := New(Options{Clock: clock.NewFake(t0)})
	if err := sim.Seed(f); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range sim.Versions("o", "container", "n") {
		m, _ := manifestOf(t, sim, v.ID)
		got = append(got, fmt.Sprintf("%v %s %v %v", v.Tags, m, t0.Sub(v.CreatedAt), t0.Sub(v.UpdatedAt)))
	}
	want := []string{ // newest first
		`[main-99 x0 11] {"n":4} 24h0m0s 1h0m0s`,
		`[main-98 x1 24] {"n":6} 96h0m0s 2h0m0s`,
		`[main-97 x0 39] {"n":8} 168h0m0s 3h0m0s`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEvalExpr(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]int{
		"i": 7, "100-i": 93, "(i-1)%7+1": 7, "2*i+1": 15, "2*(i+1)": 16, "-i+10": 3, "--i": 7,
		"i/2": 3, "i%3": 1, "1-2-3": -4, "24/4/2": 3, " i * 2 ": 14, "0": 0,
	} {
		got, err := evalExpr(expr, 7)
		if err != nil || got != want {
			t.Errorf("evalExpr(%q, 7) = %d, %v; want %d", expr, got, err, want)
		}
	}
	for expr, want := range map[string]string{
		"":                     "unexpected end",
		"i+":                   "unexpected end",
		"(i":                   "missing )",
		"i)":                   `unexpected ")"`,
		"i i":                  `unexpected "i"`,
		"i/(i-7)":              "division by zero",
		"i%0":                  "division by zero",
		"99999999999999999999": "number 99999999999999999999 out of range",
	} {
		if _, err := evalExpr(expr, 7); err == nil || err.Error() != want {
			t.Errorf("evalExpr(%q) = %v, want %q", expr, err, want)
		}
	}
	if got := hasPlaceholder(`{"schemaVersion":2,"manifests":[{}]}`); got {
		t.Error("JSON taken for a placeholder")
	}
}

func TestLoadFixture_BuildErrors(t *testing.T) {
	t.Parallel()
	const head = "packages:\n  - owner: o\n    name: n\n    type: container\n    versions:\n"
	for _, tc := range []struct{ name, versions, want string }{
		{"bad id_order", "", ``},
		{"manifest and image", "      - {manifest: '{}', image: {seed: s}}\n",
			"packages[0].versions[0]: manifest and image are exclusive"},
		{"image and index", "      - {ref: a, image: {seed: s}}\n      - {image: {seed: t}, index: [{ref: a}]}\n",
			"packages[0].versions[1]: image and index are exclusive"},
		{"image without seed", "      - {image: {layers: [1]}}\n", "packages[0].versions[0].image.seed: empty"},
		{"repeated image without placeholder", "      - {image: {seed: s}, repeat: 2, every: 1h}\n",
			"packages[0].versions[0].image.seed: must contain {i} with repeat, or versions would share a digest"},
		{"repeated index", "      - {ref: a, image: {seed: s}}\n      - {index: [{ref: a}], repeat: 2, every: 1h}\n",
			"packages[0].versions[1].index: not allowed with repeat, or versions would share a digest"},
		{"unknown ref", "      - {index: [{ref: a}]}\n",
			`packages[0].versions[0].index[0].ref: no version above it with a manifest has ref "a"`},
		{"ref below", "      - {index: [{ref: a}]}\n      - {ref: a, image: {seed: s}}\n",
			`packages[0].versions[0].index[0].ref: no version above it with a manifest has ref "a"`},
		{"ref without manifest", "      - {ref: a}\n      - {signature_of: a, image: {seed: s}}\n",
			`packages[0].versions[1].signature_of: no version above it with a manifest has ref "a"`},
		{"empty child ref", "      - {index: [{platform: linux/amd64}]}\n", "packages[0].versions[0].index[0].ref: empty"},
		{"bad platform", "      - {ref: a, image: {seed: s}}\n      - {index: [{ref: a, platform: linux}]}\n",
			`packages[0].versions[1].index[0].platform: "linux" is not os/architecture or os/architecture/variant`},
		{"platform and attestation", "      - {ref: a, image: {seed: s}}\n      - {index: [{ref: a, platform: linux/amd64, attestation_of: a}]}\n",
			"packages[0].versions[1].index[0]: platform and attestation_of are exclusive"},
		{"unknown attestation subject", "      - {ref: a, image: {seed: s}}\n      - {index: [{ref: a, attestation_of: b}]}\n",
			`packages[0].versions[1].index[0].attestation_of: no version above it with a manifest has ref "b"`},
		{"repeated signature", "      - {ref: a, image: {seed: s}}\n      - {signature_of: a, repeat: 2, every: 1h}\n",
			"packages[0].versions[1].signature_of: not allowed with repeat, or versions would share a tag"},
		{"duplicate ref", "      - {ref: a, image: {seed: s}}\n      - {ref: a, image: {seed: t}}\n",
			`packages[0].versions[1].ref: duplicate ref "a"`},
		{"repeated ref", "      - {ref: a, image: {seed: 's{i}'}, repeat: 2, every: 1h}\n",
			"packages[0].versions[0].ref: not allowed with repeat"},
		{"every and age placeholder", "      - {repeat: 2, every: 1h, age: '{i}d'}\n",
			"packages[0].versions[0].every: exclusive with an age that has a placeholder"},
		{"repeat without every or age placeholder", "      - {repeat: 2, age: 1d}\n",
			"packages[0].versions[0].every: required with repeat, unless age has a placeholder such as {2*i}d"},
		{"bad layer size", "      - {image: {seed: s, layers: [30MB]}}\n",
			`packages[0].versions[0].image.layers[0]: invalid size "30MB" (want bytes or e.g. 4KiB, 30MiB, 1GiB)`},
		{"huge layer size", "      - {image: {seed: s, layers: [99999999999GiB]}}\n",
			`packages[0].versions[0].image.layers[0]: invalid size "99999999999GiB": too large`},
		{"bad placeholder", "      - {tags: ['pr-{i+}'], repeat: 2, every: 1h}\n",
			"packages[0].versions[0].tags[0]: placeholder {i+} at i=1: unexpected end"},
		{"placeholder divides by zero", "      - {image: {seed: 's{i}', layers: ['{10/(i-1)}MiB']}, repeat: 2, every: 1h}\n",
			"packages[0].versions[0].image.layers[0]: placeholder {10/(i-1)} at i=1: division by zero"},
		{"age not an age once filled", "      - {age: '{i}x', repeat: 2}\n",
			`packages[0].versions[0].age: invalid age "1x" (want e.g. 36h, 10d, 2w, 1d12h)`},
		{"name is not the image's digest", "      - {name: 'sha256:x', image: {seed: s}}\n",
			"packages[0].versions[0].name: is not the manifest's digest " + Digest(ImageManifest("", "s"))},
		{"image on npm", "", ""},
	} {
		yaml := head + tc.versions
		switch tc.name {
		case "bad id_order":
			yaml, tc.want = "id_order: newest\n", `load fixture: id_order: "newest" is not one of created, listed`
		case "image on npm":
			yaml, tc.want = "packages: [{owner: o, name: n, type: npm, versions: [{name: '1', image: {seed: s}}]}]\n",
				"packages[0].versions[0].image: only container and docker versions have one"
		}
		_, err := LoadFixture(strings.NewReader(yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
	// The unknown key stays an error inside the new structures too.
	_, err := LoadFixture(strings.NewReader(head + "      - {image: {seed: s, layer: [1]}}\n"))
	if err == nil || !strings.Contains(err.Error(), "field layer not found in type simulator.FixtureImage") {
		t.Errorf("unknown image key: %v", err)
	}
	_, err = LoadFixture(strings.NewReader(head + "      - {index: [{ref: a, arch: amd64}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "field arch not found in type simulator.FixtureIndexEntry") {
		t.Errorf("unknown index key: %v", err)
	}
}
