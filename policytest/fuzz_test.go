package policytest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ghprune/ghprune/policy"
)

// FuzzParse: whatever the bytes, Parse does not panic; it returns either
// a *policy.Errors of located problems (never a negative position, always
// this file) or a File of 1 to MaxCases cases.
func FuzzParse(f *testing.F) {
	paths, err := filepath.Glob("../configs/*.tests.yaml")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no example tests files to seed the corpus: %v", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"tests:\n",
		"tests: []\n",
		"tests:\n  - {package: svc, tag: prod, expect: maybe}\n",
		"tests:\n  - {package: svc, id: -1, tag: x, expect: keep, at: +3x}\n",
		"x: &a [1]\ntests: *a\n",
		"tests:\n  - {<<: {package: svc}, tag: a, expect: keep}\n",
		"tests:\n  - {package: svc, tag: a, expect: keep}\n---\n[[[\n",
		"packages:\n  - owner: o\n    name: n\n    package_type: container\n    versions:\n      - {name: a, tags: [x], age: 1d, id: 5}\n      - {name: b, tags: [x], age: 1d, id: 5, children: [a, b, c]}\n      - {name: 'sha256:0', age: 9999999w}\ntests:\n  - {package: n, version: a, expect: keep}\n",
		"? [a, b]\n: 1\ntests:\n  - {? {x: 1}: 2, package: p, tag: t, expect: keep}\n",
		"tests:\n\t- a\n",
		"{\"tests\": [{\"package\": \"p\", \"id\": 0x7fffffffffffffff, \"expect\": \"delete\", \"rule\": \"ghp_abcdefghijkl\"}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("f.yaml", data)
		if err != nil {
			checkParseError(t, file, err)
			return
		}
		checkParsedFile(t, file)
	})
}

// checkParseError checks what Parse returned with an error: no File, and
// a *policy.Errors of at least one problem, each located in f.yaml at no
// negative position and saying something.
func checkParseError(t *testing.T, file *File, err error) {
	t.Helper()
	if file != nil {
		t.Fatalf("a File and an error: %v", err)
	}
	var errs *policy.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T, want *policy.Errors: %v", err, err)
	}
	if len(errs.List) == 0 {
		t.Fatalf("an error with no problem: %q", err)
	}
	for _, fe := range errs.List {
		if fe.Line < 0 || fe.Column < 0 || fe.File != "f.yaml" || fe.Msg == "" {
			t.Fatalf("a problem badly located: %+v", fe)
		}
	}
}

// checkParsedFile checks what Parse returned without an error: a File of
// 1 to MaxCases cases, each complete.
func checkParsedFile(t *testing.T, file *File) {
	t.Helper()
	if file == nil {
		t.Fatal("Parse returned neither a file nor an error")
	}
	if len(file.Cases) < 1 || len(file.Cases) > MaxCases {
		t.Fatalf("parsed with %d cases", len(file.Cases))
	}
	for _, c := range file.Cases {
		checkParsedCase(t, c)
	}
}

// checkParsedCase checks that a parsed case names a package, expects keep
// or delete, has a line, and names its version by a positive id or a
// non-empty version or tag.
func checkParsedCase(t *testing.T, c *Case) {
	t.Helper()
	if c.Package == "" || (c.Expect != policy.Keep && c.Expect != policy.Delete) || c.Pos.Line < 1 {
		t.Fatalf("a case parsed incomplete: %+v", c)
	}
	switch c.Ref.Kind {
	case RefID:
		if c.Ref.ID <= 0 {
			t.Fatalf("a case with id %d", c.Ref.ID)
		}
	case RefVersion, RefTag:
		if c.Ref.Name == "" {
			t.Fatalf("a case with an empty %s", c.Ref.Kind)
		}
	default:
		t.Fatalf("a case with ref %+v", c.Ref)
	}
}
