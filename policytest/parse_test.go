package policytest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghprune/ghprune/policy"
)

// parseErrors parses body as t.yaml and returns its problems, failing the
// test when it parses or its error is not a *policy.Errors of that file.
func parseErrors(t *testing.T, body string) (*policy.Errors, []string) {
	t.Helper()
	f, err := Parse("t.yaml", []byte(body))
	if err == nil {
		t.Fatalf("parsed, want an error: %+v", f)
	}
	if f != nil {
		t.Errorf("a File with an error: %+v", f)
	}
	var errs *policy.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T, want *policy.Errors: %v", err, err)
	}
	lines := make([]string, len(errs.List))
	for i, fe := range errs.List {
		if fe.File != "t.yaml" {
			t.Errorf("error %q names file %q", fe.Error(), fe.File)
		}
		lines[i] = fe.Error()
	}
	if err.Error() != strings.Join(lines, "\n")+more(errs) {
		t.Errorf("Error() is not the problems one a line:\n%s", err)
	}
	return errs, lines
}

func more(errs *policy.Errors) string {
	if errs.More == 0 {
		return ""
	}
	return fmt.Sprintf("\n… and %d more problems", errs.More)
}

const okCase = "  - {package: svc, tag: prod, expect: keep}\n"

// Every problem is reported with the file, line:column and key path, as
// the config loader does.
func TestParse_ErrorsAreLocated(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string // whole lines of the error, each present
		n    int      // the number of problems, when not len(want)
	}{
		{"expect", "tests:\n  - {package: svc, tag: prod, expect: maybe}\n",
			[]string{`t.yaml:2:39: tests[0].expect: must be keep or delete, got "maybe"`}, 0},
		{"empty expect", "tests:\n  - {package: svc, tag: prod, expect: }\n",
			[]string{`t.yaml:2:39: tests[0].expect: empty value: give a value or remove the key`}, 0},
		{"unknown key with a suggestion", "tests:\n  - {package: svc, tag: prod, expcet: keep}\n",
			[]string{
				`t.yaml:2:5: tests[0]: missing expect: keep or delete`,
				`t.yaml:2:31: tests[0].expcet: unknown key "expcet" (did you mean "expect"?)`,
			}, 0},
		{"unknown key in a package", "packages:\n  - {owner: o, name: n, pakage_type: npm, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
			[]string{
				`t.yaml:2:5: packages[0]: missing package_type`,
				`t.yaml:2:25: packages[0].pakage_type: unknown key "pakage_type" (did you mean "package_type"?)`,
			}, 0},
		{"unknown key in a version", "packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: 1d, tag: [x]}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:74: packages[0].versions[0].tag: unknown key "tag" (did you mean "tags"?)`}, 0},
		{"unknown key with no suggestion", "zzzzzzzz: 1\ntests:\n" + okCase,
			[]string{`t.yaml:1:1: zzzzzzzz: unknown key "zzzzzzzz"`}, 0},
		{"missing package", "tests:\n  - {tag: prod, expect: keep}\n",
			[]string{`t.yaml:2:5: tests[0]: missing package: name the package the case is about`}, 0},
		{"missing expect", "tests:\n  - {package: svc, tag: prod}\n",
			[]string{`t.yaml:2:5: tests[0]: missing expect: keep or delete`}, 0},
		{"missing ref", "tests:\n  - {package: svc, expect: keep}\n",
			[]string{`t.yaml:2:5: tests[0]: missing version, tag or id: name the version the case is about`}, 0},
		{"everything missing", "tests:\n  - {name: n}\n", []string{
			`t.yaml:2:5: tests[0]: missing package: name the package the case is about`,
			`t.yaml:2:5: tests[0]: missing version, tag or id: name the version the case is about`,
			`t.yaml:2:5: tests[0]: missing expect: keep or delete`,
		}, 0},
		{"two refs", "tests:\n  - {package: svc, tag: prod, version: x, expect: keep}\n",
			[]string{`t.yaml:2:40: tests[0].version: give only one of version, tag or id (tag is given too)`}, 0},
		{"three refs", "tests:\n  - {package: svc, id: 3, tag: prod, version: x, expect: keep}\n", []string{
			`t.yaml:2:32: tests[0].tag: give only one of version, tag or id (id is given too)`,
			`t.yaml:2:47: tests[0].version: give only one of version, tag or id (id is given too)`,
		}, 0},
		{"id 0", "tests:\n  - {package: svc, id: 0, expect: keep}\n",
			[]string{`t.yaml:2:24: tests[0].id: must be a whole number above 0, got "0"`}, 0},
		{"id -1", "tests:\n  - {package: svc, id: -1, expect: keep}\n",
			[]string{`t.yaml:2:24: tests[0].id: must be a whole number above 0, got "-1"`}, 0},
		{"id string", "tests:\n  - {package: svc, id: abc, expect: keep}\n",
			[]string{`t.yaml:2:24: tests[0].id: expected a version id, a whole number, got "abc"`}, 0},
		{"id quoted number", "tests:\n  - {package: svc, id: \"7\", expect: keep}\n",
			[]string{`t.yaml:2:24: tests[0].id: expected a version id, a whole number, got "7"`}, 0},
		{"id float", "tests:\n  - {package: svc, id: 1.5, expect: keep}\n",
			[]string{`t.yaml:2:24: tests[0].id: expected a version id, a whole number, got "1.5"`}, 0},
		{"id overflow", "tests:\n  - {package: svc, id: 99999999999999999999, expect: keep}\n",
			[]string{`t.yaml:2:24: tests[0].id: expected a version id, a whole number, got "99999999999999999999"`}, 0},
		{"id list", "tests:\n  - {package: svc, id: [1], expect: keep}\n",
			[]string{`t.yaml:2:24: tests[0].id: expected a version id, a whole number, got a list`}, 0},
		{"bad at", "tests:\n  - {package: svc, tag: a, expect: keep, at: yesterday}\n",
			[]string{`t.yaml:2:46: tests[0].at: at "yesterday": want an RFC 3339 time (2027-01-31T12:00:00Z), a date (2027-01-31) or a duration from now (+30d, +2w)`}, 0},
		{"bad relative at", "tests:\n  - {package: svc, tag: a, expect: keep, at: +3x}\n",
			[]string{`t.yaml:2:46: tests[0].at: at "+3x": unknown unit "x" in "3x" (use s, m, h, d or w)`}, 0},
		{"bad age", "packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: 40x}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:70: packages[0].versions[0].age: unknown unit "x" in "40x" (use s, m, h, d or w)`}, 0},
		{"missing age", "packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:55: packages[0].versions[0]: missing age: how long before the run's time the version was created (40d, 36h)`}, 0},
		{"duplicate key", "tests:\n  - {package: svc, tag: a, expect: keep, expect: delete}\n",
			[]string{`t.yaml:2:42: tests[0].expect: duplicate key`}, 0},
		{"duplicate top-level key", "tests:\n" + okCase + "tests:\n" + okCase,
			[]string{`t.yaml:3:1: tests: duplicate key`}, 0},
		{"merge key", "tests:\n  - {<<: {package: svc}, tag: a, expect: keep}\n", []string{
			`t.yaml:2:5: tests[0]: missing package: name the package the case is about`,
			`t.yaml:2:6: tests[0].<<: merge keys are not supported; repeat the keys`,
		}, 0},
		{"alias", "x: &a [1]\ntests: *a\n",
			[]string{`t.yaml:2:8: YAML aliases are not supported in a tests file; write the values out`}, 0},
		{"merge of an alias", "base: &b {package: svc}\ntests:\n  - {<<: *b, tag: a, expect: keep}\n",
			[]string{`t.yaml:3:10: YAML aliases are not supported in a tests file; write the values out`}, 0},
		{"two documents", "tests:\n" + okCase + "---\ntests:\n" + okCase,
			[]string{`t.yaml:3:1: more than one YAML document; put everything in one`}, 0},
		{"empty file", "", []string{`t.yaml: the file is empty; it needs a tests: list`}, 0},
		{"only comments", "# nothing\n\n", []string{`t.yaml: the file is empty; it needs a tests: list`}, 0},
		{"a scalar", "hello\n", []string{`t.yaml:1:1: expected a mapping, got "hello"`}, 0},
		{"no tests", "packages: []\n", []string{`t.yaml:1:1: tests: missing: a tests file needs a tests: list of cases`}, 0},
		{"tests a mapping", "tests: {a: 1}\n", []string{`t.yaml:1:8: tests: expected a list of cases, got a mapping`}, 0},
		{"tests a string", "tests: all\n", []string{`t.yaml:1:8: tests: expected a list of cases, got "all"`}, 0},
		{"tests empty", "tests:\n", []string{`t.yaml:1:7: tests: expected a list of cases, got nothing`}, 0},
		{"tests an empty list", "tests: []\n", []string{`t.yaml:1:8: tests: empty list: give at least one case`}, 0},
		{"a case not a mapping", "tests:\n  - svc\n", []string{`t.yaml:2:5: tests[0]: expected a mapping, got "svc"`}, 0},
		{"packages not a list", "packages: {a: 1}\ntests:\n" + okCase,
			[]string{`t.yaml:1:11: packages: expected a list of packages, got a mapping`}, 0},
		{"package missing everything", "packages:\n  - {visibility: public}\ntests:\n" + okCase, []string{
			`t.yaml:2:5: packages[0]: missing owner`,
			`t.yaml:2:5: packages[0]: missing name`,
			`t.yaml:2:5: packages[0]: missing package_type`,
			`t.yaml:2:5: packages[0]: missing versions: a synthetic package needs at least one version`,
		}, 0},
		{"package empty versions", "packages:\n  - {owner: o, name: n, package_type: npm, versions: []}\ntests:\n" + okCase,
			[]string{`t.yaml:2:54: packages[0].versions: empty list: a synthetic package needs at least one version`}, 0},
		{"bad package_type", "packages:\n  - {owner: o, name: n, package_type: pypi, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:39: packages[0].package_type: must be one of npm, maven, rubygems, docker, nuget, container, got "pypi"`}, 0},
		{"bad owner_type", "packages:\n  - {owner: o, owner_type: team, name: n, package_type: npm, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:28: packages[0].owner_type: must be org or user, got "team"`}, 0},
		{"bad visibility", "packages:\n  - {owner: o, name: n, package_type: npm, visibility: secret, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:56: packages[0].visibility: must be public, private or internal, got "secret"`}, 0},
		{"tags on npm", "packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, tags: [x], age: 1d}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:71: packages[0].versions[0].tags: npm versions have no tags on GitHub Packages (only container and docker versions do)`}, 0},
		{"an empty tag", "packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: a, tags: [x, ''], age: 1d}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:81: packages[0].versions[0].tags[1]: empty value: give a value or remove the key`}, 0},
		{"a tag on two versions", "packages:\n  - owner: o\n    name: n\n    package_type: container\n    versions:\n      - {name: a, tags: [x, y], age: 1d}\n      - {name: b, tags: [x], age: 2d}\ntests:\n" + okCase,
			[]string{`t.yaml:7:25: packages[0].versions[1].tags: tag "x" is on two versions; a tag names one version of a package`}, 0},
		{"two versions named alike", "packages:\n  - owner: o\n    name: n\n    package_type: maven\n    versions:\n      - {name: '1.0', age: 1d}\n      - {name: '1.0', age: 2d}\ntests:\n" + okCase,
			[]string{`t.yaml:7:16: packages[0].versions[1].name: two versions are named "1.0"`}, 0},
		{"an npm version without a name", "packages:\n  - {owner: o, name: n, package_type: npm, versions: [{age: 1d}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:55: packages[0].versions[0]: missing name: the version string (1.2.3)`}, 0},
		{"children on npm", "packages:\n  - owner: o\n    name: n\n    package_type: npm\n    versions:\n      - {name: a, age: 1d}\n      - {name: b, age: 1d, children: [a]}\ntests:\n" + okCase,
			[]string{`t.yaml:7:38: packages[0].versions[1].children: only container packages have manifests that refer to others, not npm`}, 0},
		{"children on docker", "packages:\n  - owner: o\n    name: n\n    package_type: docker\n    versions:\n      - {name: a, age: 1d}\n      - {name: b, age: 1d, children: [a]}\ntests:\n" + okCase,
			[]string{`t.yaml:7:38: packages[0].versions[1].children: only container packages have manifests that refer to others, not docker`}, 0},
		{"an unknown child", "packages:\n  - owner: o\n    name: n\n    package_type: container\n    versions:\n      - {name: a, age: 1d}\n      - {name: b, age: 1d, children: [a, nope]}\ntests:\n" + okCase,
			[]string{`t.yaml:7:38: packages[0].versions[1].children: no version of the package is named "nope"`}, 0},
		{"a grandchild", "packages:\n  - owner: o\n    name: n\n    package_type: container\n    versions:\n      - {name: a, age: 1d}\n      - {name: b, age: 1d, children: [a]}\n      - {name: c, age: 1d, children: [b]}\ntests:\n" + okCase,
			[]string{`t.yaml:8:38: packages[0].versions[2].children: "b" has children of its own; an index's children are images`}, 0},
		{"its own child", "packages:\n  - owner: o\n    name: n\n    package_type: container\n    versions:\n      - {name: a, age: 1d, children: [a]}\ntests:\n" + okCase,
			[]string{`t.yaml:6:38: packages[0].versions[0].children: a version cannot be its own child, got "a"`}, 0},
		{"a digest as a container version's name", "packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: 'sha256:abc', age: 1d}]}\ntests:\n" + okCase,
			[]string{`t.yaml:2:68: packages[0].versions[0].name: a synthetic container version is named by the digest of a manifest made for it; give a label instead, got "sha256:abc"`}, 0},
		{"duplicate ids", "packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: 1d, id: 5}]}\n  - {owner: o, name: m, package_type: npm, versions: [{name: a, age: 1d, id: 5}]}\ntests:\n" + okCase,
			[]string{`t.yaml:3:78: packages[1].versions[0].id: id 5 is given to two versions`}, 0},
		{"a package declared twice", "packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: 1d}]}\n  - {owner: O, name: n, package_type: npm, versions: [{name: b, age: 1d}]}\ntests:\n" + okCase,
			[]string{`t.yaml:3:22: packages[1]: the npm package O/n is declared twice`}, 0},
		{"a YAML syntax error", "tests:\n  - {package: svc\n  tag: x\n", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, lines := parseErrors(t, tc.body)
			for _, w := range tc.want {
				if !slices.Contains(lines, w) {
					t.Errorf("no problem\n  %s\nin\n  %s", w, strings.Join(lines, "\n  "))
				}
			}
			n := tc.n
			if n == 0 {
				n = len(tc.want)
			}
			if len(errs.List) != n || errs.More != 0 {
				t.Errorf("%d problems (and %d more), want %d:\n  %s", len(errs.List), errs.More, n, strings.Join(lines, "\n  "))
			}
		})
	}
}

// A YAML syntax error is reported at its line.
func TestParse_SyntaxErrorHasALine(t *testing.T) {
	errs, lines := parseErrors(t, "tests:\n  - package: svc\n    tag: [x\n    expect: keep\n\tbad\n")
	if len(errs.List) != 1 || errs.List[0].Line == 0 || errs.List[0].Column != 1 || !strings.HasPrefix(lines[0], fmt.Sprintf("t.yaml:%d:1: ", errs.List[0].Line)) {
		t.Errorf("a syntax error without its line: %q", lines)
	}
}

// Every problem of a file is reported at once, sorted by position.
func TestParse_ReportsEveryProblemAtOnce(t *testing.T) {
	body := `packages:
  - owner: acme
    name: svc
    package_type: containr
    versions:
      - {name: a, age: 1d}
  - owner: acme
    name: lib
    package_type: npm
    versions:
      - {name: 1.0.0, tags: [x], age: 3q}
tests:
  - {package: svc, tag: prod, expect: maybe}
  - {package: svc, id: 0, expect: keep}
  - {package: svc, tag: a, version: b, expect: keep}
  - {package: svc, tag: a, expect: keep, at: someday}
  - {pakage: svc, tag: a, expect: keep}
`
	errs, lines := parseErrors(t, body)
	want := []string{
		`t.yaml:4:19: packages[0].package_type: must be one of npm, maven, rubygems, docker, nuget, container, got "containr"`,
		`t.yaml:11:29: packages[1].versions[0].tags: npm versions have no tags on GitHub Packages (only container and docker versions do)`,
		`t.yaml:11:39: packages[1].versions[0].age: unknown unit "q" in "3q" (use s, m, h, d or w)`,
		`t.yaml:13:39: tests[0].expect: must be keep or delete, got "maybe"`,
		`t.yaml:14:24: tests[1].id: must be a whole number above 0, got "0"`,
		`t.yaml:15:37: tests[2].version: give only one of version, tag or id (tag is given too)`,
		`t.yaml:16:46: tests[3].at: at "someday": want an RFC 3339 time (2027-01-31T12:00:00Z), a date (2027-01-31) or a duration from now (+30d, +2w)`,
		`t.yaml:17:5: tests[4]: missing package: name the package the case is about`,
		`t.yaml:17:6: tests[4].pakage: unknown key "pakage" (did you mean "package"?)`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
	if errs.More != 0 {
		t.Errorf("More = %d", errs.More)
	}
}

// Past 200 problems, only their number is kept.
func TestParse_ProblemsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("tests:\n")
	for range 300 {
		b.WriteString("  - {package: svc, tag: prod, expect: maybe}\n")
	}
	errs, _ := parseErrors(t, b.String())
	if len(errs.List) != maxErrors || errs.More != 300-maxErrors {
		t.Fatalf("%d problems and %d more, want %d and %d", len(errs.List), errs.More, maxErrors, 300-maxErrors)
	}
	if !strings.HasSuffix(errs.Error(), "\n… and 100 more problems") {
		t.Errorf("the count of the problems left out is not said: …%s", errs.Error()[len(errs.Error())-80:])
	}
}

// A value shaped like a GitHub token is never echoed in an error, whatever
// key holds it, nor kept in an error's fields.
func TestParse_TokensAreRedacted(t *testing.T) {
	const tok = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	for _, body := range []string{
		"tests:\n  - {package: svc, tag: prod, expect: " + tok + "}\n",
		"tests:\n  - {package: svc, tag: prod, expect: keep, " + tok + ": 1}\n",
		"tests:\n  - package: svc\n    tag: prod\n    expect: keep\n    ? " + tok + "\n    : 1\n",
		"tests:\n  - {package: svc, id: " + tok + ", expect: keep}\n",
		"tests:\n  - {package: svc, tag: prod, expect: keep, at: " + tok + "}\n",
		"tests:\n  - {package: svc, tag: prod, expect: keep, at: '+1" + tok + "'}\n",
		"tests:\n  - {package: svc, tag: prod, expect: keep, at: '+" + tok + "'}\n",
		"packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: '1" + tok + "'}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: '" + tok + "'}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: " + tok + ", versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, owner_type: " + tok + ", name: n, package_type: npm, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, visibility: " + tok + ", name: n, package_type: npm, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: " + tok + ", name: n, package_type: npm, versions: [{name: a, age: 1d}]}\n  - {owner: " + tok + ", name: n, package_type: npm, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: a, tags: [" + tok + "], age: 1d}, {name: b, tags: [" + tok + "], age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: a, age: 1d, children: [" + tok + "]}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: " + tok + ", age: 1d}, {name: " + tok + ", age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: 'sha256:" + tok + "', age: 1d}]}\ntests:\n" + okCase,
		"tests: " + tok + "\n",
		tok + "\n",
	} {
		errs, _ := parseErrors(t, body)
		text := errs.Error()
		if strings.Contains(text, tok) || strings.Contains(text, tok[:10]) {
			t.Errorf("the token is echoed:\n%s", text)
		}
		if !strings.Contains(text, policy.Redacted) {
			t.Errorf("nothing redacted (the test no longer echoes the value?):\n%s", text)
		}
		for _, fe := range errs.List {
			if strings.Contains(fe.Path, tok[:10]) || strings.Contains(fe.Msg, tok[:10]) {
				t.Errorf("the token is kept in the error's fields: path %q, msg %q", fe.Path, fe.Msg)
			}
		}
	}
}

// A value of a megabyte is echoed cut: no message is longer than 300
// bytes, whichever key holds the value.
func TestParse_LongValuesAreCut(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	wide := strings.Repeat("é", 1<<12) // cut on a character, not a byte
	for _, tmpl := range []string{
		"tests:\n  - {package: svc, tag: prod, expect: %s}\n",
		"tests:\n  - {package: svc, tag: prod, expect: keep, %s: 1}\n",
		"tests:\n  - package: svc\n    tag: prod\n    expect: keep\n    ? %s\n    : 1\n",
		"? %s\n: 1\ntests:\n" + okCase,
		"tests:\n  - {package: svc, id: %s, expect: keep}\n",
		"tests:\n  - {package: svc, id: 9%s, expect: keep}\n",
		"tests:\n  - {package: svc, tag: a, expect: keep, at: %s}\n",
		"tests:\n  - {package: svc, tag: a, expect: keep, at: '+1%s'}\n",
		"tests:\n  - {package: svc, tag: a, expect: keep, at: '-%s'}\n",
		"tests:\n  - {package: svc, tag: a, expect: keep, at: '2020-01-01%s'}\n",
		"packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: '1%s'}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: '%s'}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: npm, versions: [{name: a, age: '1d1%s'}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: %s, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, owner_type: %s, name: n, package_type: npm, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, visibility: %s, name: n, package_type: npm, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o%[1]s, name: n%[1]s, package_type: npm, versions: [{name: a, age: 1d}]}\n  - {owner: o%[1]s, name: n%[1]s, package_type: npm, versions: [{name: a, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: a, tags: [t%[1]s], age: 1d}, {name: b, tags: [t%[1]s], age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: a, age: 1d, children: [t%s]}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: a%[1]s, age: 1d}, {name: a%[1]s, age: 1d}]}\ntests:\n" + okCase,
		"packages:\n  - {owner: o, name: n, package_type: container, versions: [{name: 'sha256:%s', age: 1d}]}\ntests:\n" + okCase,
		"tests:\n  - [%s]\n",
		"tests: %s\n",
		"%s\n",
	} {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			for _, v := range []string{big, wide} {
				_, lines := parseErrors(t, fmt.Sprintf(tmpl, v))
				for _, l := range lines {
					if len(l) > 300 {
						t.Errorf("a message of %d bytes: %.200s…\n  for %q", len(l), l, tmpl)
					}
					if !strings.Contains(l, "…") && strings.Contains(l, v[:100]) {
						t.Errorf("a value echoed without saying it is cut: %.200s", l)
					}
					if !utf8Valid(l) {
						t.Errorf("a message cut inside a character: %q", l[len(l)-20:])
					}
				}
			}
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// cut redacts, then cuts on a character's start.
func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven char", 10, "eleven cha…"},
		{"ééé", 3, "é…"},
		{"ghp_abcdefghijklmnop", 100, policy.Redacted},
		{"x ghp_abcdefghijklmnop", 6, "x [RED…"},
	} {
		if got := cut(tc.in, tc.max); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

// A file bigger than MaxFileBytes is refused before it is parsed: the
// syntax error it holds is not reported.
func TestParse_FileTooBig(t *testing.T) {
	data := "tests: [\n" + strings.Repeat("x", MaxFileBytes)
	errs, lines := parseErrors(t, data)
	want := fmt.Sprintf("t.yaml: the file is over %d bytes, the most a tests file may be", MaxFileBytes)
	if len(lines) != 1 || lines[0] != want || errs.List[0].Line != 0 {
		t.Errorf("problems %q, want only %q", lines, want)
	}

	// Load reads no more than one byte past the bound.
	path := filepath.Join(t.TempDir(), "big.tests.yaml")
	if err := os.WriteFile(path, []byte(data+strings.Repeat("y", 1<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want = fmt.Sprintf("%s: the file is over %d bytes, the most a tests file may be", path, MaxFileBytes)
	if err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
}

// A file of more than MaxValues values is refused by their count, before
// it is parsed, at the line where the count passed the bound.
func TestParse_TooManyValues(t *testing.T) {
	// "tests:" counts 2, and each "- a" line 2: the count passes
	// 1,000,000 on line 500,001. The tab at the end is a syntax error
	// parsing would report.
	data := "tests:\n" + strings.Repeat("- a\n", 500_100) + "\t: ]\n"
	if len(data) > MaxFileBytes {
		t.Fatalf("the test file is %d bytes, over MaxFileBytes", len(data))
	}
	_, lines := parseErrors(t, data)
	want := fmt.Sprintf("t.yaml:500001:1: the file holds more than %d values", MaxValues)
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("problems %q, want only %q", lines, want)
	}
}

// countValues counts a value for each line that is not blank or a
// comment, and for each separator or indicator on it.
func TestCountValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"\n\n  \n# a comment\n   # another\n", 0},
		{"tests:", 2},
		{"a: 1", 2},
		{"- a", 2},
		{"{a: 1, b: 2}", 4},
		{"[1,2,3]", 3},
		{"- {package: svc, tag: prod, expect: keep}", 7},
		{"a: 1\r\nb: 2\rc: 3\n", 6},
		{"plain", 1},
	} {
		if line, n := countValues([]byte(tc.in)); n != tc.want || line != 0 {
			t.Errorf("countValues(%q) = line %d, %d; want 0, %d", tc.in, line, n, tc.want)
		}
	}
	// The line is counted across \r\n, \r and \n alike.
	data := strings.Repeat("a\r\n", MaxValues) + "b\rc\n"
	if line, n := countValues([]byte(data)); line != MaxValues+1 || n != MaxValues+1 {
		t.Errorf("countValues: line %d, %d; want %d, %d", line, n, MaxValues+1, MaxValues+1)
	}
}

// More than MaxCases cases is one problem, with the real count, at the
// first case past the bound.
func TestParse_TooManyCases(t *testing.T) {
	const n = MaxCases + 50
	var b strings.Builder
	b.WriteString("tests:\n")
	for range n {
		b.WriteString(okCase)
	}
	_, lines := parseErrors(t, b.String())
	want := fmt.Sprintf("t.yaml:%d:5: tests: at most %d cases in a file, got %d", MaxCases+2, MaxCases, n)
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("problems %q, want only %q", lines, want)
	}

	// MaxCases cases are fine.
	var ok strings.Builder
	ok.WriteString("tests:\n")
	for range MaxCases {
		ok.WriteString(okCase)
	}
	f, err := Parse("t.yaml", []byte(ok.String()))
	if err != nil || len(f.Cases) != MaxCases {
		t.Fatalf("%d cases: %v", MaxCases, err)
	}
}

// More than MaxTimes distinct at values is a problem at the first past
// the bound; repeating a time is not another.
func TestParse_TooManyTimes(t *testing.T) {
	build := func(times int) string {
		var b strings.Builder
		b.WriteString("tests:\n")
		for i := range times {
			fmt.Fprintf(&b, "  - {package: svc, tag: prod, expect: keep, at: +%dd}\n", i+1)
			fmt.Fprintf(&b, "  - {package: svc, tag: prod, expect: keep, at: +%dd}\n", i+1)
		}
		return b.String()
	}
	if f, err := Parse("t.yaml", []byte(build(MaxTimes))); err != nil || len(f.Cases) != 2*MaxTimes {
		t.Fatalf("%d distinct times: %v", MaxTimes, err)
	}
	_, lines := parseErrors(t, build(MaxTimes+2))
	want := fmt.Sprintf("t.yaml:%d:49: tests[%d].at: at most %d distinct at values in a file (each is a plan of the policies)", 2*MaxTimes+2, 2*MaxTimes, MaxTimes)
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("problems %q, want only %q", lines, want)
	}
}

// A billion laughs: nine levels of nine aliases stand for 9^9 values.
// Aliases are refused before anything walks them; each is one problem,
// and no more than 200 are kept.
func TestParse_AliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for c := 'b'; c <= 'i'; c++ {
		fmt.Fprintf(&b, "%c: &%c [%s]\n", c, c, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*%c,", c-1), 9), ","))
	}
	b.WriteString("tests: *i\n")
	errs, lines := parseErrors(t, b.String())
	if got := len(errs.List) + errs.More; got != 8*9+1 {
		t.Errorf("%d problems, want one for each of the 73 aliases", got)
	}
	if lines[0] != "t.yaml:2:8: YAML aliases are not supported in a tests file; write the values out" {
		t.Errorf("the first problem: %q", lines[0])
	}

	// Many more aliases than problems kept.
	var w strings.Builder
	w.WriteString("a: &a x\nb: [")
	for i := range 10_000 {
		if i > 0 {
			w.WriteString(",")
		}
		w.WriteString("*a")
	}
	w.WriteString("]\ntests:\n" + okCase)
	errs, _ = parseErrors(t, w.String())
	if len(errs.List) != maxErrors || errs.More != 10_000-maxErrors {
		t.Errorf("%d problems and %d more, want %d and %d", len(errs.List), errs.More, maxErrors, 10_000-maxErrors)
	}
}

// The example files parse; one is read in full.
func TestParse_ExampleFiles(t *testing.T) {
	paths, err := filepath.Glob("../configs/*.tests.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example tests files: %v", err)
	}
	for _, p := range paths {
		checkExampleFileLoads(t, p)
	}

	f, err := Load("../configs/ghcr-services.tests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checkGHCRServicesPackage(t, f)
	checkGHCRServicesCases(t, f)
}

// checkExampleFileLoads checks that the example tests file p loads, with
// cases and packages.
func checkExampleFileLoads(t *testing.T, p string) {
	t.Helper()
	f, err := Load(p)
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if f.Path != p || len(f.Cases) == 0 || len(f.Packages) == 0 {
		t.Errorf("%s: path %q, %d cases, %d packages", p, f.Path, len(f.Cases), len(f.Packages))
	}
}

// checkGHCRServicesPackage checks the one package of
// ghcr-services.tests.yaml, and one of its versions in full.
func checkGHCRServicesPackage(t *testing.T, f *File) {
	t.Helper()
	if len(f.Packages) != 1 {
		t.Fatalf("%d packages", len(f.Packages))
	}
	p := f.Packages[0]
	if p.Owner != "acme" || p.Name != "svc-api" || p.Type != "container" || p.Visibility != "private" || p.OwnerType != "" || len(p.Versions) != 14 || p.Pos != (Pos{6, 5}) {
		t.Errorf("package %+v", p)
	}
	rel := p.Versions[10]
	if rel.Name != "release-2" || !slices.Equal(rel.Tags, []string{"v2.0.0"}) || time.Duration(rel.Age) != 20*24*time.Hour ||
		!slices.Equal(rel.Children, []string{"amd64", "arm64"}) || rel.ID != 0 || rel.Pos.Line != 20 {
		t.Errorf("release-2: %+v", rel)
	}
}

// checkGHCRServicesCases checks the cases of ghcr-services.tests.yaml:
// the first in full, and a field or two of others.
func checkGHCRServicesCases(t *testing.T, f *File) {
	t.Helper()
	if len(f.Cases) != 9 {
		t.Fatalf("%d cases", len(f.Cases))
	}
	c := f.Cases[0]
	if c.Index != 0 || c.Name != "prod is never deleted" || c.Package != "svc-api" || c.Ref != (Ref{Kind: RefTag, Name: "prod"}) ||
		c.Expect != policy.Keep || c.Rule != "protected:tag" || c.At != "" || c.Policy != "" || c.Owner != "" || c.Pos != (Pos{26, 5}) {
		t.Errorf("the first case: %+v", c)
	}
	if c := f.Cases[3]; c.Ref != (Ref{Kind: RefVersion, Name: "amd64"}) || c.Rule != "referenced-by" {
		t.Errorf("the fourth case: %+v", c)
	}
	if last := f.Cases[8]; last.At != "+365d" || last.Index != 8 {
		t.Errorf("the last case: %+v", last)
	}
}

// Values are taken as written; ids and the names cases have.
func TestParse_Values(t *testing.T) {
	f, err := Parse("t.yaml", []byte(`packages:
  - owner: Acme
    owner_type: user
    name: lib
    package_type: maven
    visibility: public
    versions:
      - {name: 1.10, age: 1w2d, id: 0x10}
      - {name: 2.0, age: " 36h ", id: 1_000}
tests:
  - {package: lib, version: 1.10, expect: delete, policy: p, owner: acme, rule: old, at: 2027-01-31}
  - {package: lib, id: 1_000, expect: keep}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := f.Packages[0]
	if p.OwnerType != "user" || p.Visibility != "public" || p.Owner != "Acme" {
		t.Errorf("package %+v", p)
	}
	v0, v1 := p.Versions[0], p.Versions[1]
	if v0.Name != "1.10" || v0.ID != 16 || time.Duration(v0.Age) != 9*24*time.Hour {
		t.Errorf("version 0: %+v", v0)
	}
	if v1.Name != "2.0" || v1.ID != 1000 || time.Duration(v1.Age) != 36*time.Hour {
		t.Errorf("version 1: %+v", v1)
	}
	c0, c1 := f.Cases[0], f.Cases[1]
	if c0.Ref.String() != "version 1.10" || c0.Policy != "p" || c0.Owner != "acme" || c0.Rule != "old" || c0.At != "2027-01-31" || c0.Expect != policy.Delete {
		t.Errorf("case 0: %+v", c0)
	}
	if c1.Ref != (Ref{Kind: RefID, ID: 1000}) || c1.Ref.String() != "id 1000" {
		t.Errorf("case 1: %+v", c1.Ref)
	}
	if c0.DisplayName() != "tests[0]" || c1.DisplayName() != "tests[1]" {
		t.Errorf("display names %q, %q", c0.DisplayName(), c1.DisplayName())
	}
	if (Ref{Kind: RefTag, Name: "prod"}).String() != "tag prod" {
		t.Error("Ref.String of a tag")
	}
	if (&Case{Name: "named", Index: 3}).DisplayName() != "named" {
		t.Error("DisplayName of a named case")
	}
}

// Keys lists every key once, for the documentation's check.
func TestKeys(t *testing.T) {
	keys := Keys()
	for _, k := range []string{"tests", "packages", "name", "policy", "owner", "package", "version", "tag", "id", "expect", "rule", "at",
		"owner_type", "package_type", "visibility", "versions", "tags", "age", "children"} {
		if !slices.Contains(keys, k) {
			t.Errorf("Keys lacks %q", k)
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("Keys lists %q twice", k)
		}
		seen[k] = true
	}
	if len(keys) != 19 {
		t.Errorf("Keys has %d keys: %q", len(keys), keys)
	}
}

// Load says which file it could not read.
func TestLoad_Missing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), "read tests: ") || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}
