package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/simulator"
)

// docFields are the fields of one table in docs/cli.md: each name, and
// whether its row says it is omitted at times.
type docFields map[string]bool

// documentedTables returns the field tables of the part of docs/cli.md
// under the heading titled heading, in order: the code spans of each row's
// first cell.
func documentedTables(t *testing.T, heading string) []docFields {
	t.Helper()
	doc := readDoc(t, "docs/cli.md")
	secs := doc.sections(func(h mdHeading) bool { return h.text == heading })
	if len(secs) != 1 {
		t.Fatalf("docs/cli.md has %d headings %q, want 1", len(secs), heading)
	}
	var tables []docFields
	var cur docFields
	for _, line := range doc.lines[secs[0][0]:secs[0][1]] {
		if !strings.HasPrefix(line, "|") {
			cur = nil
			continue
		}
		cells := strings.SplitN(line, "|", 3)
		spans, _ := codeSpans(cells[1])
		if len(spans) == 0 {
			continue // the header row, or the one under it
		}
		if cur == nil {
			cur = docFields{}
			tables = append(tables, cur)
		}
		for _, s := range spans {
			cur[s] = strings.Contains(cells[2], "omitted")
		}
	}
	return tables
}

// checkFields fails unless obj has exactly the documented fields: none
// that is not documented, and every one not documented as omitted at times.
func checkFields(t *testing.T, what string, obj map[string]any, doc docFields) {
	t.Helper()
	for k := range obj {
		if _, ok := doc[k]; !ok {
			t.Errorf("%s: field %q is not documented in docs/cli.md", what, k)
		}
	}
	for k, optional := range doc {
		if _, ok := obj[k]; !ok && !optional {
			t.Errorf("%s: documented field %q is missing", what, k)
		}
	}
}

// decodeObject decodes out as one JSON object, failing the test otherwise.
func decodeObject(t *testing.T, what, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%s is not a JSON object: %v\n%s", what, err, out)
	}
	return m
}

// objects returns v as a list of objects, failing the test unless it has
// at least one.
func objects(t *testing.T, what string, v any) []map[string]any {
	t.Helper()
	list, _ := v.([]any)
	var out []map[string]any
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			t.Fatalf("%s: %T is not an object", what, x)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no objects in %v", what, v)
	}
	return out
}

func TestHistory_JSONHasExactlyTheDocumentedFields(t *testing.T) {
	h, cfg, run := restoreRig(t)
	tables := documentedTables(t, "history JSON")
	if len(tables) != 2 {
		t.Fatalf("history JSON documents %d tables, want 2 (runs, deletions)", len(tables))
	}
	code, out, errOut := h.run("history", "-config", cfg, "-format", "json")
	if code != 0 {
		t.Fatalf("history: exit %d\n%s", code, errOut)
	}
	runs := decodeObject(t, "history", out)
	if len(runs) != 1 {
		t.Errorf("history JSON has %d top-level fields, want only runs", len(runs))
	}
	for _, r := range objects(t, "runs", runs["runs"]) {
		checkFields(t, "a run", r, tables[0])
	}
	code, out, errOut = h.run("history", "-config", cfg, "-run", run, "-format", "json")
	if code != 0 {
		t.Fatalf("history -run: exit %d\n%s", code, errOut)
	}
	dels := decodeObject(t, "history -run", out)
	if len(dels) != 1 {
		t.Errorf("history -run JSON has %d top-level fields, want only deletions", len(dels))
	}
	for _, d := range objects(t, "deletions", dels["deletions"]) {
		checkFields(t, "a deletion", d, tables[1])
	}
}

func TestRestore_DryRunJSONHasExactlyTheDocumentedFields(t *testing.T) {
	h, cfg, run := restoreRig(t)
	tables := documentedTables(t, "restore JSON")
	if len(tables) != 3 {
		t.Fatalf("restore JSON documents %d tables, want 3 (the object, a result, the summary)", len(tables))
	}
	deletion := documentedTables(t, "history JSON")[1]
	code, out, errOut := h.run("restore", "-config", cfg, "-run", run, "-dry-run", "-format", "json")
	if code != 0 {
		t.Fatalf("restore -dry-run: exit %d\n%s", code, errOut)
	}
	r := decodeObject(t, "restore -dry-run", out)
	checkFields(t, "the restore", r, tables[0])
	summary, _ := r["summary"].(map[string]any)
	checkFields(t, "the summary", summary, tables[2])
	for _, res := range objects(t, "results", r["results"]) {
		checkFields(t, "a result", res, tables[1])
		d, _ := res["deletion"].(map[string]any)
		checkFields(t, "a result's deletion", d, deletion)
	}
}

// hostileMD is a package name, and hostileTag a tag, that would make a
// mention, a code span, HTML and extra table cells in Markdown if printed
// as they are.
const (
	hostileMD  = "evil|`rm -rf`<img src=x onerror=alert(1)>@octocat*x*"
	hostileTag = "pr-1|<b>@here`tick`" // no "/": a glob's * stops there
)

// hostileRig applies a policy that deletes an old version of a package
// with a hostile name and an image with a hostile tag.
func hostileRig(t *testing.T) (*harness, string) {
	h := newHarness(t, simulator.Options{})
	h.pkg("acme", "npm", hostileMD, "private",
		simulator.VersionSeed{Name: "0.1.0", CreatedAt: h.ago(60 * day)}, simulator.VersionSeed{Name: "0.2.0", CreatedAt: h.ago(day)})
	h.pkg("acme", "container", "img", "private",
		simulator.VersionSeed{Name: "keep", Tags: []string{"latest"}, CreatedAt: h.ago(day)},
		simulator.VersionSeed{Name: "pr1", Tags: []string{hostileTag}, CreatedAt: h.ago(40 * day)})
	cfg := h.config(`  - name: libs
    mode: enforce
    select: {owner: acme, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 30d}]
  - name: imgs
    mode: enforce
    select: {owner: acme, owner_type: org, package_type: container}
    delete: [{name: prs, tags: ["pr-*"], older_than: 30d}]
`)
	if code, r, errOut := h.runJSON("apply", "-config", cfg); code != 0 || r.Summary.Deleted != 2 {
		t.Fatalf("apply: exit %d, %d deleted\n%s", code, r.Summary.Deleted, errOut)
	}
	return h, cfg
}

// unescapedPipe is a table cell boundary: a | not escaped with a backslash.
var unescapedPipe = regexp.MustCompile(`(^|[^\\])\|`)

// checkMarkdownInert fails when out shows the hostile name or tag as
// Markdown would act on it, or when a row of a table has more cells than
// its header.
func checkMarkdownInert(t *testing.T, what, out string) {
	t.Helper()
	for _, want := range []string{report.MarkdownEscape(hostileMD), report.MarkdownEscape(hostileTag)} {
		if !strings.Contains(out, want) {
			t.Errorf("%s does not show %q escaped as %q:\n%s", what, hostileMD, want, out)
		}
	}
	for _, raw := range []string{"@octocat", "@here", "<img", "<b>", "`rm -rf`", "`tick`", "*x*"} {
		if strings.Contains(out, raw) {
			t.Errorf("%s prints %q unescaped:\n%s", what, raw, out)
		}
	}
	cells := -1
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = -1
			continue
		}
		n := len(unescapedPipe.FindAllString(line, -1))
		if cells == -1 {
			cells = n
		} else if n != cells {
			t.Errorf("%s: a row has %d cell boundaries, its header %d: %s", what, n, cells, line)
		}
	}
}

func TestHistoryAndRestore_MarkdownEscapesHostileNames(t *testing.T) {
	h, cfg := hostileRig(t)
	for _, args := range [][]string{
		{"history", "-config", cfg, "-run", "1", "-format", "markdown"},
		{"restore", "-config", cfg, "-run", "1", "-dry-run", "-format", "markdown"},
	} {
		code, out, errOut := h.run(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		if !strings.HasPrefix(out, "### ghprune ") {
			t.Errorf("%v: no title:\n%s", args, out)
		}
		checkMarkdownInert(t, strings.Join(args[:1], " "), out)
	}
	// The runs list in Markdown too.
	code, out, errOut := h.run("history", "-config", cfg, "-format", "markdown")
	if code != 0 || !strings.Contains(out, "| 1 | apply |") {
		t.Errorf("history -format markdown: exit %d\n%s%s", code, out, errOut)
	}
}

// -o FILE writes the report there, not to stdout, in the format asked, and
// by default in JSON as for plan.
func TestHistoryAndRestore_OutputFile(t *testing.T) {
	h, cfg, run := restoreRig(t)
	cases := []struct {
		name   string
		args   []string
		isJSON bool
		want   string
	}{
		{"history runs", []string{"history", "-config", cfg}, true, `"runs"`},
		{"history deletions markdown", []string{"history", "-config", cfg, "-run", run, "-format", "markdown"}, false, "### ghprune history: 9 deletions"},
		{"restore dry run", []string{"restore", "-config", cfg, "-run", run, "-dry-run"}, true, `"would-restore"`},
		{"restore table", []string{"restore", "-config", cfg, "-run", run, "-dry-run", "-format", "table"}, false, "9 matched, 0 restored"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(h.dir, strings.ReplaceAll(c.name, " ", "-")+".out")
			code, out, errOut := h.run(append(c.args, "-o", path)...)
			if code != 0 || out != "" {
				t.Fatalf("exit %d, stdout %q\n%s", code, out, errOut)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.isJSON && !json.Valid(b) {
				t.Errorf("the file is not JSON:\n%s", b)
			}
			if !strings.Contains(string(b), c.want) {
				t.Errorf("the file does not contain %q:\n%s", c.want, b)
			}
		})
	}
	if n := h.restorePosts(); n != 0 {
		t.Errorf("dry runs sent %d restores", n)
	}
	h.assertNoToken()
}

// moveJournal renames the harness's journal (state.path) to a file of
// another name, as a CI job's artifact would arrive, and returns its path.
func moveJournal(t *testing.T, h *harness) string {
	t.Helper()
	dir := t.TempDir()
	from, to := filepath.Join(h.dir, "journal.db"), filepath.Join(dir, "artifact.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(from+suffix, to+suffix); err != nil && !(suffix != "" && os.IsNotExist(err)) {
			t.Fatal(err)
		}
	}
	return to
}

// -journal reads a journal elsewhere than state.path; history needs no
// config for it, restore still reads the config for the token and the API.
func TestHistoryAndRestore_JournalFlag(t *testing.T) {
	h, cfg, run := restoreRig(t)
	journal := moveJournal(t, h)
	statePath := filepath.Join(h.dir, "journal.db")
	if code, _, errOut := h.run("history", "-config", cfg); code != exitUsage || !strings.Contains(errOut, statePath) {
		t.Fatalf("history without -journal: exit %d, want 2 naming state.path\n%s", code, errOut)
	}
	noConfig := filepath.Join(h.dir, "absent.yaml")
	for _, args := range [][]string{
		{"history", "-config", cfg, "-journal", journal, "-run", run},
		{"history", "-config", noConfig, "-journal", journal, "-run", run},
	} {
		code, out, errOut := h.run(append(args, "-format", "json")...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		if got := len(objects(t, "deletions", decodeObject(t, "history", out)["deletions"])); got != 9 {
			t.Errorf("%v: %d deletions, want 9", args, got)
		}
	}
	if code, _, errOut := h.run("history", "-config", noConfig); code != exitUsage || !strings.Contains(errOut, "absent.yaml") {
		t.Errorf("history without a config and without -journal: exit %d, want 2 naming the config\n%s", code, errOut)
	}
	if code, _, errOut := h.run("restore", "-config", noConfig, "-journal", journal, "-run", run); code != exitUsage {
		t.Errorf("restore without a config: exit %d, want 2 (the token and the API come from it)\n%s", code, errOut)
	}
	code, out, errOut := h.run("restore", "-config", cfg, "-journal", journal, "-run", run, "-format", "json")
	if code != 0 {
		t.Fatalf("restore -journal: exit %d\n%s%s", code, out, errOut)
	}
	if n := h.restorePosts(); n != 9 {
		t.Errorf("restore -journal sent %d restores, want 9", n)
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Errorf("restore -journal created a journal at state.path: %v", err)
	}
	// The restore was recorded in the journal it read.
	_, out, _ = h.run("history", "-config", noConfig, "-journal", journal, "-format", "json")
	kinds := []string{}
	for _, r := range objects(t, "runs", decodeObject(t, "history", out)["runs"]) {
		kinds = append(kinds, r["kind"].(string))
	}
	if !slices.Equal(kinds, []string{"restore", "apply"}) {
		t.Errorf("runs in the -journal journal: %v, want restore, apply", kinds)
	}
}

// -o refuses the journal -journal names, and the one the config names,
// which a running daemon may be using.
func TestHistoryAndRestore_OutputRefusesEitherJournal(t *testing.T) {
	h, cfg, run := restoreRig(t)
	other := filepath.Join(t.TempDir(), "copy.db")
	b, err := os.ReadFile(filepath.Join(h.dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{other, filepath.Join(h.dir, "journal.db"), filepath.Join(h.dir, "journal.db-wal"), cfg} {
		for _, args := range [][]string{
			{"history", "-config", cfg, "-journal", other},
			{"restore", "-config", cfg, "-journal", other, "-run", run, "-dry-run"},
		} {
			code, _, errOut := h.run(append(args, "-o", target)...)
			if code != exitUsage || !strings.Contains(errOut, "write the report elsewhere") {
				t.Errorf("%s -o %s: exit %d, want 2\n%s", args[0], filepath.Base(target), code, errOut)
			}
		}
	}
	if n := h.sim.Stats().Restores; n != 0 {
		t.Errorf("%d restores sent", n)
	}
}
