package main

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ghprune/ghprune/daemon"
	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/metrics"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

// The product carries its own documentation in docs/. These tests keep it
// complete: every config key, command, flag, metric, JSON field, rule label
// and restore result the code has must be documented, and no link in the
// README or docs/ may lead out of the repository or to a file or anchor
// that does not exist. Each check returns its problems as sentences naming
// what is missing, and TestDocs_ChecksCatchOmissions proves each one fails
// on docs with a line taken out.
//
// Conventions the checks rely on (docs/policy.md and docs/cli.md say so too):
//   - A config section (a key whose value is a mapping, or a list of
//     mappings) has a heading naming its full path in backticks:
//     "### `github`", "#### `policies[].protect`", "#### `policies[].keep[]`
//     and `policies[].delete[]`: rules". A list may be named with or without
//     its trailing []. The part of the page a heading covers runs to the
//     next heading of the same or a higher level.
//   - Every key is named in backticks (`keep_at_least`) within the part of
//     the page covered by its section's heading (anywhere in the page for
//     top-level keys), or by its full path (`policies[].protect.keep_at_least`)
//     anywhere in the page.
//   - A command has a heading naming it in backticks, "### `ghprune plan`";
//     each of its flags is named in backticks within that heading's part
//     (`-config` or `-config FILE`), and no other flag is.
//   - A metric is named in backticks in docs/cli.md, and each of its labels
//     in backticks on the same line (a table row). Metrics are read from
//     the descriptors of the collectors metrics.New and metrics.NewDaemon
//     register, so a vector that has no series yet is seen too.
//   - Every JSON field of the reports and answers (jsonShapes) is named in
//     backticks somewhere in docs/cli.md.
//   - The decision order is a numbered list in docs/policy.md whose item N
//     starts with step N's name in backticks ("9. `floors`: …"), the steps
//     read from package policy's StepInfo literals. Every rule label (the
//     Rule* string constants of package policy) is named in backticks in
//     docs/policy.md, alone or followed by ":" (`keep:<name>`); every
//     restore result (executor's Restore* constants) in docs/operations.md.

const repoRoot = "../.."

// mdDoc is a Markdown file as the checks see it: headings, and the code
// spans of each line, outside fenced code blocks.
type mdDoc struct {
	name     string
	lines    []string
	fenced   []bool     // the line is inside (or opens or closes) a fenced block
	spans    [][]string // code spans of each line outside fences
	headings []mdHeading
}

type mdHeading struct {
	line, level int
	text        string   // as written, without the #s
	spans       []string // its code spans
}

var headingLine = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$`)

func parseMarkdown(name, src string) *mdDoc {
	d := &mdDoc{name: name, lines: strings.Split(src, "\n")}
	d.fenced = make([]bool, len(d.lines))
	d.spans = make([][]string, len(d.lines))
	fence := ""
	for i, l := range d.lines {
		t := strings.TrimLeft(l, " ")
		if len(l)-len(t) <= 3 {
			if fence == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")) {
				n := len(t) - len(strings.TrimLeft(t, t[:1]))
				fence = strings.Repeat(t[:1], n)
				d.fenced[i] = true
				continue
			}
			if fence != "" && strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]+" \t") == "" {
				fence = ""
				d.fenced[i] = true
				continue
			}
		}
		if fence != "" {
			d.fenced[i] = true
			continue
		}
		d.spans[i], _ = codeSpans(l)
		if m := headingLine.FindStringSubmatch(l); m != nil {
			d.headings = append(d.headings, mdHeading{line: i, level: len(m[1]), text: m[2], spans: d.spans[i]})
		}
	}
	return d
}

// codeSpans returns the code spans of line and the line with each span
// replaced by spaces.
func codeSpans(line string) (spans []string, rest string) {
	b := []byte(line)
	for i := 0; i < len(line); {
		if line[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		// The span closes at the next run of exactly n backticks.
		closeAt := -1
		for j := i + n; j < len(line); {
			if line[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(line) && line[j+m] == '`' {
				m++
			}
			if m == n {
				closeAt = j
				break
			}
			j += m
		}
		if closeAt < 0 {
			i += n
			continue
		}
		s := line[i+n : closeAt]
		if len(s) >= 2 && s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "" {
			s = s[1 : len(s)-1]
		}
		spans = append(spans, s)
		for k := i; k < closeAt+n; k++ {
			b[k] = ' '
		}
		i = closeAt + n
	}
	return spans, string(b)
}

// sections returns the line ranges [from, to) covered by the headings
// match accepts.
func (d *mdDoc) sections(match func(mdHeading) bool) [][2]int {
	var out [][2]int
	for i, h := range d.headings {
		if !match(h) {
			continue
		}
		end := len(d.lines)
		for _, next := range d.headings[i+1:] {
			if next.level <= h.level {
				end = next.line
				break
			}
		}
		out = append(out, [2]int{h.line, end})
	}
	return out
}

// spansIn returns the code spans on the lines of ranges.
func (d *mdDoc) spansIn(ranges [][2]int) map[string]bool {
	out := map[string]bool{}
	for _, r := range ranges {
		for _, l := range d.spans[r[0]:r[1]] {
			for _, s := range l {
				out[s] = true
			}
		}
	}
	return out
}

// allSpans returns the code spans of the whole file.
func (d *mdDoc) allSpans() map[string]bool {
	return d.spansIn([][2]int{{0, len(d.lines)}})
}

// headingNames matches a heading that names one of names in a code span.
func headingNames(names ...string) func(mdHeading) bool {
	return func(h mdHeading) bool {
		for _, s := range h.spans {
			if slices.Contains(names, s) {
				return true
			}
		}
		return false
	}
}

// anchors returns the anchors GitHub gives the file's headings: the text
// as rendered, lowercased, without punctuation but - and _, spaces made
// dashes; a repeated anchor gets -1, -2….
func (d *mdDoc) anchors() map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, h := range d.headings {
		text := h.text
		text = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(text, "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.Is(unicode.Pc, r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

func readDoc(t *testing.T, rel string) *mdDoc {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatalf("the documentation %s is missing: %v", rel, err)
	}
	return parseMarkdown(rel, string(src))
}

func reportProblems(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

// Config keys.

// configKey is one key of the config file: its dotted path (lists as []),
// its own name, its section's path ("" at the top level), and whether it
// is a section itself.
type configKey struct {
	path, name, parent string
	section            bool
}

// configKeys walks t's yaml tags into nested structs and lists of structs.
// A struct with no yaml-tagged field (a pattern, a semver constraint) is a
// value, not a section.
func configKeys(t reflect.Type, parent string) []configKey {
	var out []configKey
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := name
		if parent != "" {
			path = parent + "." + name
		}
		ft := deref(f.Type)
		if ft.Kind() == reflect.Slice && isSection(deref(ft.Elem())) {
			out = append(out, configKey{path: path + "[]", name: name, parent: parent, section: true})
			out = append(out, configKeys(deref(ft.Elem()), path+"[]")...)
			continue
		}
		if isSection(ft) {
			out = append(out, configKey{path: path, name: name, parent: parent, section: true})
			out = append(out, configKeys(ft, path)...)
			continue
		}
		out = append(out, configKey{path: path, name: name, parent: parent})
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func isSection(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			return true
		}
	}
	return false
}

// sectionHeadings matches the headings of the section at path, named with
// or without a list's trailing [].
func sectionHeadings(path string) func(mdHeading) bool {
	return headingNames(path, strings.TrimSuffix(path, "[]"))
}

func checkConfigKeys(doc *mdDoc, keys []configKey) []string {
	var problems []string
	all := doc.allSpans()
	for _, k := range keys {
		if k.section && len(doc.sections(sectionHeadings(k.path))) == 0 {
			problems = append(problems, fmt.Sprintf("%s: the config section %s has no heading naming `%s`", doc.name, k.path, k.path))
		}
		if all[k.path] {
			continue
		}
		var in map[string]bool
		where := "anywhere"
		if k.parent == "" {
			in = all
		} else {
			in = doc.spansIn(doc.sections(sectionHeadings(k.parent)))
			where = "under the heading of " + k.parent
		}
		if !in[k.name] {
			problems = append(problems, fmt.Sprintf("%s: the config key %s is not documented: `%s` appears nowhere %s", doc.name, k.path, k.name, where))
		}
	}
	return problems
}

func TestDocs_ConfigKeys(t *testing.T) {
	t.Parallel()
	keys := configKeys(reflect.TypeOf(policy.Config{}), "")
	for _, want := range []string{"github.token_file", "policies[].protect.keep_at_least", "policies[].delete[].older_than"} {
		if !slices.ContainsFunc(keys, func(k configKey) bool { return k.path == want }) {
			t.Fatalf("the walk of policy.Config misses %s; it found %v", want, keys)
		}
	}
	reportProblems(t, checkConfigKeys(readDoc(t, "docs/policy.md"), keys))
}

// Metrics.

// metricDesc is a metric as its collector describes it.
type metricDesc struct {
	name   string
	labels []string
}

// descRecorder is a Registerer that records the descriptors of every
// collector registered through it, vectors without children included
// (which Gather would leave out), and registers them on the next one.
type descRecorder struct {
	prometheus.Registerer
	descs []metricDesc
}

var descString = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), .*variableLabels: \{([^}]*)\}\}$`)

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		m := descString.FindStringSubmatch(d.String())
		if m == nil {
			return fmt.Errorf("cannot read the descriptor %s", d)
		}
		name, err := strconv.Unquote(m[1])
		if err != nil {
			return fmt.Errorf("cannot read the name in %s: %w", d, err)
		}
		md := metricDesc{name: name}
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				md.labels = append(md.labels, l)
			}
		}
		r.descs = append(r.descs, md)
	}
	return r.Registerer.Register(c)
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// ghpruneMetrics describes every metric metrics.New and metrics.NewDaemon
// register.
func ghpruneMetrics(t *testing.T) []metricDesc {
	t.Helper()
	rec := &descRecorder{Registerer: prometheus.NewRegistry()}
	metrics.New(rec)
	metrics.NewDaemon(rec)
	if !slices.ContainsFunc(rec.descs, func(d metricDesc) bool { return d.name == "ghprune_runs_total" && len(d.labels) == 2 }) {
		t.Fatalf("the recorder did not see the vector ghprune_runs_total with its labels: %v", rec.descs)
	}
	return rec.descs
}

func checkMetrics(doc *mdDoc, descs []metricDesc) []string {
	var problems []string
	for _, m := range descs {
		var lines []int
		for i, spans := range doc.spans {
			if slices.Contains(spans, m.name) {
				lines = append(lines, i)
			}
		}
		if len(lines) == 0 {
			problems = append(problems, fmt.Sprintf("%s: the metric %s is not documented (no `%s`)", doc.name, m.name, m.name))
			continue
		}
		for _, l := range m.labels {
			if !slices.ContainsFunc(lines, func(i int) bool { return slices.Contains(doc.spans[i], l) }) {
				problems = append(problems, fmt.Sprintf("%s: the label %s of metric %s is not documented on a line naming the metric (no `%s`)", doc.name, l, m.name, l))
			}
		}
	}
	return problems
}

func TestDocs_Metrics(t *testing.T) {
	t.Parallel()
	reportProblems(t, checkMetrics(readDoc(t, "docs/cli.md"), ghpruneMetrics(t)))
}

// Commands and flags.

var flagLine = regexp.MustCompile(`(?m)^  -([^\s=]+)`)

// commandFlags returns the flags of every command of the commands table,
// as each prints them for -h.
func commandFlags(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, c := range commands {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{c.name, "-h"}, env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
		if code != exitOK {
			t.Fatalf("ghprune %s -h: exit %d, stderr %q", c.name, code, stderr.String())
		}
		out[c.name] = []string{}
		for _, m := range flagLine.FindAllStringSubmatch(stderr.String(), -1) {
			out[c.name] = append(out[c.name], m[1])
		}
	}
	return out
}

var flagSpan = regexp.MustCompile(`^--?([a-z][a-z0-9.-]*)(?:[ =]|$)`)

func checkCommands(doc *mdDoc, flags map[string][]string) []string {
	var problems []string
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		secs := doc.sections(headingNames("ghprune " + name))
		if len(secs) == 0 {
			problems = append(problems, fmt.Sprintf("%s: the command %s has no section (no heading naming `ghprune %s`)", doc.name, name, name))
			continue
		}
		documented := map[string]bool{}
		for s := range doc.spansIn(secs) {
			if m := flagSpan.FindStringSubmatch(s); m != nil {
				documented[m[1]] = true
			}
		}
		for _, f := range flags[name] {
			if !documented[f] {
				problems = append(problems, fmt.Sprintf("%s: the flag -%s of ghprune %s is not documented in its section (no `-%s`)", doc.name, f, name, f))
			}
		}
		for f := range documented {
			if !slices.Contains(flags[name], f) {
				problems = append(problems, fmt.Sprintf("%s: the section of ghprune %s documents a flag -%s the command does not have", doc.name, name, f))
			}
		}
	}
	return problems
}

func TestDocs_Commands(t *testing.T) {
	t.Parallel()
	flags := commandFlags(t)
	if len(flags) != len(commands) || len(flags["plan"]) == 0 {
		t.Fatalf("flags of the commands not read: %v", flags)
	}
	reportProblems(t, checkCommands(readDoc(t, "docs/cli.md"), flags))
}

// JSON fields.

// jsonShapes are the types whose JSON the commands and serve write: the
// report, history, restore, explain and the HTTP API.
var jsonShapes = []any{
	report.Report{}, report.Policy{}, report.Package{}, report.Decision{}, report.Summary{},
	journal.Run{}, journal.Deletion{}, executor.RestoreResult{}, policy.Step{},
	daemon.PolicyInfo{}, daemon.LastRun{}, daemon.RunInfo{}, daemon.RunDetail{},
}

// jsonFields returns the JSON names of t's fields, embedded structs'
// included; a field without a json tag is named as Go names it.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" && deref(f.Type).Kind() == reflect.Struct {
			out = append(out, jsonFields(deref(f.Type))...)
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		out = append(out, tag)
	}
	return out
}

func checkJSONFields(doc *mdDoc, shapes []any) []string {
	var problems []string
	all := doc.allSpans()
	for _, v := range shapes {
		t := reflect.TypeOf(v)
		for _, f := range jsonFields(t) {
			if !all[f] {
				problems = append(problems, fmt.Sprintf("%s: the JSON field %s of %s is not documented (no `%s`)", doc.name, f, t, f))
			}
		}
	}
	return problems
}

func TestDocs_JSONFields(t *testing.T) {
	t.Parallel()
	reportProblems(t, checkJSONFields(readDoc(t, "docs/cli.md"), jsonShapes))
}

// Rule labels, decision steps and restore results.

// stringConsts returns the string constants of the Go package in dir (tests
// left out) whose names start with one of prefixes.
func stringConsts(t *testing.T, dir string, prefixes ...string) map[string]string {
	t.Helper()
	fset := gotoken.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != gotoken.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i >= len(vs.Values) || !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(n.Name, p) }) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							out[n.Name] = s
						}
					}
				}
			}
		}
	}
	return out
}

// checkValues requires every value of consts in a code span of doc, alone
// or followed by ":" (`referenced-by:<digest>`).
func checkValues(doc *mdDoc, what string, consts map[string]string) []string {
	var problems []string
	all := doc.allSpans()
	names := make([]string, 0, len(consts))
	for n := range consts {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := consts[n]
		found := all[v]
		for s := range all {
			found = found || strings.HasPrefix(s, v+":")
		}
		if !found {
			problems = append(problems, fmt.Sprintf("%s: the %s %q (%s) is not documented (no `%s`)", doc.name, what, v, n, v))
		}
	}
	return problems
}

func TestDocs_RuleLabelsAndRestoreResults(t *testing.T) {
	t.Parallel()
	rules := stringConsts(t, filepath.Join(repoRoot, "policy"), "Rule", "Step")
	if rules["RuleNoRule"] != "no-rule" {
		t.Fatalf("rule labels not read from policy/: %v", rules)
	}
	reportProblems(t, checkValues(readDoc(t, "docs/policy.md"), "rule label", rules))
	results := map[string]string{}
	for _, r := range plan.RestoreResults() {
		results["plan.RestoreResult "+string(r)] = string(r)
	}
	reportProblems(t, checkValues(readDoc(t, "docs/operations.md"), "restore result", results))
	causes := map[string]string{}
	for _, c := range plan.Causes() {
		causes["plan.Cause "+string(c)] = string(c)
	}
	reportProblems(t, checkValues(readDoc(t, "docs/cli.md"), "skip or failure reason", causes))
}

// decisionSteps returns the steps of the decision order, number to name,
// as package policy runs them.
func decisionSteps(t *testing.T) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, st := range policy.Steps() {
		out[st.Number] = st.Name
	}
	if len(out) == 0 {
		t.Fatal("policy.Steps() is empty")
	}
	return out
}

// checkSteps requires the decision order in doc as a numbered list whose
// item N starts with step N's name in backticks: "3. `protect`: …".
func checkSteps(doc *mdDoc, steps map[int]string) []string {
	var problems []string
	nums := make([]int, 0, len(steps))
	for n := range steps {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	for _, n := range nums {
		item := regexp.MustCompile(`^\s{0,3}` + strconv.Itoa(n) + `\.\s+` + "`" + regexp.QuoteMeta(steps[n]) + "`")
		if !slices.ContainsFunc(doc.lines, item.MatchString) {
			problems = append(problems, fmt.Sprintf("%s: step %d of the decision order, %s, is not documented (no list item \"%d. `%s`\")", doc.name, n, steps[n], n, steps[n]))
		}
	}
	return problems
}

func TestDocs_DecisionOrder(t *testing.T) {
	t.Parallel()
	reportProblems(t, checkSteps(readDoc(t, "docs/policy.md"), decisionSteps(t)))
}

// Links.

var (
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	urlScheme  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// docFiles returns README.md and docs/*.md, relative to the repository.
func docFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, d := range docs {
		out = append(out, filepath.ToSlash(strings.TrimPrefix(d, repoRoot+string(filepath.Separator))))
	}
	for _, want := range []string{"docs/policy.md", "docs/cli.md", "docs/operations.md"} {
		if !slices.Contains(out, want) {
			t.Errorf("the documentation %s is missing", want)
		}
	}
	return out
}

// checkLinks checks the links of the files (paths relative to root, their
// text in docs): none may leave the repository or point into shared/, and
// every relative link must reach an existing file, and an existing heading
// when it names an anchor of a Markdown file.
func checkLinks(root string, docs map[string]*mdDoc) []string {
	var problems []string
	anchorsOf := func(rel string) (map[string]bool, error) {
		if d, ok := docs[rel]; ok {
			return d.anchors(), nil
		}
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return nil, err
		}
		return parseMarkdown(rel, string(src)).anchors(), nil
	}
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		d := docs[name]
		for i, line := range d.lines {
			if d.fenced[i] {
				continue
			}
			_, rest := codeSpans(line)
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(rest, -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(rest); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				where := fmt.Sprintf("%s:%d: link %q", name, i+1, target)
				if urlScheme.MatchString(target) {
					continue // a web address: not a file of the repository
				}
				pathPart, frag, _ := strings.Cut(target, "#")
				p, err := url.PathUnescape(pathPart)
				if err != nil {
					problems = append(problems, where+": cannot read the path")
					continue
				}
				if strings.HasPrefix(p, "/") {
					problems = append(problems, where+": use a path relative to the file, not from /")
					continue
				}
				rel := name
				if p != "" {
					rel = filepath.ToSlash(filepath.Join(filepath.Dir(name), p))
				}
				if rel == ".." || strings.HasPrefix(rel, "../") {
					problems = append(problems, where+": leaves the repository (a user's clone has nothing there)")
					continue
				}
				if slices.Contains(strings.Split(rel, "/"), "shared") {
					problems = append(problems, where+": points into shared/, which is not part of the product")
					continue
				}
				if strings.HasPrefix(p, "../") {
					// A page's "../" is easily read as outside the
					// repository (where a clone has nothing): docs/ pages
					// link within docs/ and name other files as code.
					problems = append(problems, where+": name a file outside the page's folder as `code`, not a ../ link")
					continue
				}
				fi, err := os.Stat(filepath.Join(root, rel))
				if err != nil {
					problems = append(problems, where+": no such file in the repository: "+rel)
					continue
				}
				if frag == "" {
					continue
				}
				if fi.IsDir() || !strings.HasSuffix(rel, ".md") {
					problems = append(problems, where+": an anchor into "+rel+", which is not a Markdown file")
					continue
				}
				anchors, err := anchorsOf(rel)
				if err != nil {
					problems = append(problems, where+": "+err.Error())
					continue
				}
				if !anchors[strings.ToLower(frag)] {
					problems = append(problems, fmt.Sprintf("%s: %s has no heading with the anchor #%s", where, rel, frag))
				}
			}
		}
	}
	return problems
}

func TestDocs_LinksStayInTheRepository(t *testing.T) {
	t.Parallel()
	docs := map[string]*mdDoc{}
	for _, f := range docFiles(t) {
		docs[f] = readDoc(t, f)
	}
	reportProblems(t, checkLinks(repoRoot, docs))
}

// The checks themselves: each must fail, naming what is missing, when the
// docs lose a line. Lines are taken out of the real docs, so this also
// shows the docs document each of these in one place only.
func TestDocs_ChecksCatchOmissions(t *testing.T) {
	t.Parallel()
	without := func(rel string, drop ...string) *mdDoc {
		src, err := os.ReadFile(filepath.Join(repoRoot, rel))
		if err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, l := range strings.Split(string(src), "\n") {
			if !slices.ContainsFunc(drop, func(d string) bool { return strings.Contains(l, d) }) {
				kept = append(kept, l)
			}
		}
		return parseMarkdown(rel, strings.Join(kept, "\n"))
	}
	want := func(check string, problems []string, mention string) {
		t.Helper()
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, mention) }) {
			t.Errorf("%s did not report %q when its line was taken out; it reported %q", check, mention, problems)
		}
	}
	keys := configKeys(reflect.TypeOf(policy.Config{}), "")
	want("the config-key check", checkConfigKeys(without("docs/policy.md", "| `retain_days` |"), keys), "state.retain_days")
	want("the config-key check", checkConfigKeys(without("docs/policy.md", "| `exclude_packages` |"), keys), "policies[].select.exclude_packages")
	want("the config-key check", checkConfigKeys(without("docs/policy.md", "#### `policies[].limits`"), keys), "policies[].limits has no heading")

	descs := ghpruneMetrics(t)
	want("the metric check", checkMetrics(without("docs/cli.md", "`ghprune_token_accepted`"), descs), "ghprune_token_accepted")
	want("the metric check", checkMetrics(without("docs/cli.md", "`ghprune_policy_next_run_timestamp_seconds`"), descs), "ghprune_policy_next_run_timestamp_seconds")

	flags := commandFlags(t)
	want("the command check", checkCommands(without("docs/cli.md", "### `ghprune explain`"), flags), "the command explain has no section")
	want("the command check", checkCommands(without("docs/cli.md", "`-grace"), flags), "-grace of ghprune serve")

	want("the JSON check", checkJSONFields(without("docs/cli.md", "`restorable_until`"), jsonShapes), "restorable_until")

	want("the step check", checkSteps(without("docs/policy.md", "10. `breaker`"), map[int]string{10: "breaker"}), "step 10 of the decision order, breaker")

	want("the rule-label check", checkValues(without("docs/policy.md", "`circuit-breaker`"), "rule label", map[string]string{"RuleCircuitBreaker": "circuit-breaker"}), "circuit-breaker")

	bad := parseMarkdown("docs/bad.md", strings.Join([]string{
		"# Bad", "",
		"[shared](../shared/design/cli.md) [outside](../../elsewhere.md)",
		"[missing](nothing-here.md) [anchor](policy.md#no-such-heading) [ok](policy.md#the-decision-order)",
		"[up](../configs/ghcr-services.yaml)",
		"```", "[in a fence](../shared/ignored.md)", "```",
	}, "\n"))
	problems := checkLinks(repoRoot, map[string]*mdDoc{"docs/bad.md": bad})
	for _, mention := range []string{`"../shared/design/cli.md"`, `"../../elsewhere.md": leaves the repository`, "no such file in the repository: docs/nothing-here.md", "no heading with the anchor #no-such-heading",
		`"../configs/ghcr-services.yaml": name a file outside the page's folder as ` + "`code`"} {
		want("the link check", problems, mention)
	}
	if len(problems) != 5 {
		t.Errorf("the link check reported %d problems, want 5: %q", len(problems), problems)
	}
}
