package policytest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/ghprune/ghprune/policy"
)

// decoder walks a tests file's YAML nodes into a File, collecting every
// problem with its position and key path (tests[3].expect), as the config
// loader does. It is written out key by key rather than by reflection: the
// format is small, and each key has its own checks.
type decoder struct {
	file string
	errs *policy.Errors
}

func (d *decoder) add(p Pos, path, msg string) {
	if len(d.errs.List) >= maxErrors {
		d.errs.More++
		return
	}
	d.errs.List = append(d.errs.List, &policy.FieldError{File: d.file, Line: p.Line, Column: p.Column, Path: path, Msg: msg})
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.add(Pos{n.Line, n.Column}, path, fmt.Sprintf(format, args...))
}

// err returns nil when there are no problems, else all of them sorted by
// position.
func (d *decoder) err() error {
	if len(d.errs.List) == 0 && d.errs.More == 0 {
		return nil
	}
	sort.SliceStable(d.errs.List, func(i, j int) bool {
		a, b := d.errs.List[i], d.errs.List[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return d.errs
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax reports a YAML syntax error at its line, when yaml.v3 says it.
func (d *decoder) syntax(err error) {
	p, msg := Pos{}, err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Column, msg = 1, m[2]
	}
	d.add(p, "", msg)
}

// refuseAliases reports every YAML alias in the tree: a tests file has no
// use for them, and walking them is how a few kilobytes stand for
// billions of values. It reports whether it found one.
func refuseAliases(d *decoder, n *yaml.Node, path string) bool {
	if n.Kind == yaml.AliasNode {
		d.errorf(n, path, "YAML aliases are not supported in a tests file; write the values out")
		return true
	}
	found := false
	for _, c := range n.Content {
		found = refuseAliases(d, c, path) || found
	}
	return found
}

// countValues estimates the values in data without parsing, as the
// config loader does (policy.CountValues); it returns the line where the
// count first passed MaxValues.
func countValues(data []byte) (line, n int) { return policy.CountValues(data, MaxValues) }

// mapping walks the mapping n at path: set is called with each known key
// and its value; unknown keys (with a suggestion), duplicate keys and merge
// keys are errors. It reports whether n is a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, known []string, set func(key string, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		kp := joinPath(path, cut(key, maxEcho)) // an unknown key may be megabytes
		switch {
		case key == "<<":
			d.errorf(k, kp, "merge keys are not supported; repeat the keys")
		case seen[key]:
			d.errorf(k, kp, "duplicate key")
		case !oneOf(key, known...):
			msg := "unknown key " + quote(key)
			if s := policy.Suggest(key, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k, kp, "%s", msg)
		default:
			seen[key] = true
			set(key, v)
		}
	}
	return true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// str reads a non-empty string. Any scalar is taken as written (a version
// 1.10 stays "1.10", not the number 1.1).
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	switch {
	case n.Kind != yaml.ScalarNode:
		d.errorf(n, path, "expected a string, got %s", describe(n))
	case n.Tag == "!!null" || n.Value == "":
		d.errorf(n, path, "empty value: give a value or remove the key")
	default:
		return n.Value, true
	}
	return "", false
}

// strList reads a list of non-empty strings.
func (d *decoder) strList(n *yaml.Node, path string) ([]string, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		s, good := d.str(c, fmt.Sprintf("%s[%d]", path, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// id reads a version id: a whole number above 0.
func (d *decoder) id(n *yaml.Node, path string) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errorf(n, path, "expected a version id, a whole number, got %s", describe(n))
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil || i <= 0 {
		d.errorf(n, path, "must be a whole number above 0, got %s", quote(n.Value))
		return 0, false
	}
	return i, true
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return quote(n.Value)
	}
	return "an unexpected value"
}

// quote quotes a value echoed in an error, cut to a readable length, with
// anything shaped like a token redacted, as the config loader does.
func quote(s string) string {
	s = policy.RedactTokens(s)
	if r := []rune(s); len(r) > 60 {
		return strconv.Quote(string(r[:60])) + "…"
	}
	return strconv.Quote(s)
}

// maxEcho bounds a value echoed in a message unquoted, and maxMessage a
// message made elsewhere (policy.ParseDuration's and ParseAt's echo their
// value whole).
const (
	maxEcho    = 60
	maxMessage = 200
)

// cut returns s as a message may echo it: anything shaped like a token
// redacted, and cut after max bytes (on a character's start).
func cut(s string, max int) string {
	s = policy.RedactTokens(s)
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func lower(s string) string { return strings.ToLower(s) }

// top decodes the top level: tests and packages.
func (d *decoder) top(n *yaml.Node, f *File) {
	var testsNode *yaml.Node
	ok := d.mapping(n, "", []string{"tests", "packages"}, func(key string, v *yaml.Node) {
		switch key {
		case "tests":
			testsNode = v
		case "packages":
			d.packages(v, f)
		}
	})
	if !ok {
		return
	}
	if testsNode == nil {
		d.add(Pos{n.Line, n.Column}, "tests", "missing: a tests file needs a tests: list of cases")
		return
	}
	d.cases(testsNode, f)
}

func (d *decoder) cases(n *yaml.Node, f *File) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "tests", "expected a list of cases, got %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		d.errorf(n, "tests", "empty list: give at least one case")
		return
	}
	if len(n.Content) > MaxCases {
		d.errorf(n.Content[MaxCases], "tests", "at most %d cases in a file, got %d", MaxCases, len(n.Content))
	}
	for i, c := range n.Content {
		if i >= MaxCases {
			break // the bound is reported once, above
		}
		if tc := d.testCase(c, i); tc != nil {
			f.Cases = append(f.Cases, tc)
		}
	}
}

var caseKeys = []string{"name", "policy", "owner", "package", "version", "tag", "id", "expect", "rule", "at"}

// testCase decodes tests[i]; nil when it is not a mapping.
func (d *decoder) testCase(n *yaml.Node, i int) *Case {
	path := fmt.Sprintf("tests[%d]", i)
	c := &Case{Index: i, Pos: Pos{n.Line, n.Column}, keys: map[string]Pos{}}
	var refKeys []string
	ok := d.mapping(n, path, caseKeys, func(key string, v *yaml.Node) {
		c.keys[key] = Pos{v.Line, v.Column}
		kp := path + "." + key
		switch key {
		case "version", "tag", "id":
			refKeys = append(refKeys, key)
			if len(refKeys) > 1 {
				d.errorf(v, kp, "give only one of version, tag or id (%s is given too)", refKeys[0])
				return
			}
			d.ref(v, kp, key, &c.Ref)
		case "expect":
			d.expect(v, kp, c)
		case "at":
			d.at(v, kp, c)
		default:
			if s, good := d.str(v, kp); good {
				d.setCaseString(c, key, s)
			}
		}
	})
	if !ok {
		return nil
	}
	if !hasKey(c, "package") {
		d.add(c.Pos, path, "missing package: name the package the case is about")
	}
	if len(refKeys) == 0 {
		d.add(c.Pos, path, "missing version, tag or id: name the version the case is about")
	}
	if !hasKey(c, "expect") {
		d.add(c.Pos, path, "missing expect: keep or delete")
	}
	return c
}

func hasKey(c *Case, key string) bool { _, ok := c.keys[key]; return ok }

func (d *decoder) setCaseString(c *Case, key, s string) {
	switch key {
	case "name":
		c.Name = s
	case "policy":
		c.Policy = s
	case "owner":
		c.Owner = s
	case "package":
		c.Package = s
	case "rule":
		c.Rule = s
	}
}

func (d *decoder) ref(v *yaml.Node, path, key string, r *Ref) {
	r.Kind = key
	if key == RefID {
		r.ID, _ = d.id(v, path)
		return
	}
	r.Name, _ = d.str(v, path)
}

func (d *decoder) expect(v *yaml.Node, path string, c *Case) {
	s, ok := d.str(v, path)
	if !ok {
		return
	}
	switch policy.Action(s) {
	case policy.Keep, policy.Delete:
		c.Expect = policy.Action(s)
	default:
		d.errorf(v, path, "must be keep or delete, got %s", quote(s))
	}
}

func (d *decoder) at(v *yaml.Node, path string, c *Case) {
	s, ok := d.str(v, path)
	if !ok {
		return
	}
	if err := validAt(s); err != nil {
		d.errorf(v, path, "%s", cut(err.Error(), maxMessage))
		return
	}
	c.At = s
}
