package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: no input may panic the loader; every failure is an *Errors with
// at least one located message; and the decoder's work stays within its
// alias budget, a small multiple of the file's own size: whatever the
// aliases, the values walked are at most the budget plus two per unit of
// the file (the walk outside aliases visits each node once, a pointer
// twice).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("policies: [{name: a, delete: [{older_than: 1e309d}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, d, err := parse("fuzz.yaml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		if err != nil {
			errs, ok := err.(*Errors)
			if !ok || len(errs.List) == 0 {
				t.Fatalf("error %T without located messages: %v", err, err)
			}
		}
		if d == nil {
			return
		}
		if d.budget > aliasMax || d.budget > aliasFactor*d.nodes+aliasFloor {
			t.Fatalf("budget %d for a file of %d", d.budget, d.nodes)
		}
		if d.visits > d.budget+2*d.nodes {
			t.Fatalf("%d values walked; budget %d, file %d", d.visits, d.budget, d.nodes)
		}
		if d.over && (err == nil || !strings.Contains(err.Error(), "YAML aliases expand to more than") && !strings.Contains(err.Error(), "compile to more than")) {
			t.Fatalf("budget ran out without its error: %v", err)
		}
		// The pattern that passes the budget adds its own cost: Go's parser
		// bounds repetition, so a 512-byte expression counts well under
		// 512² instructions.
		if d.programs > programBudget+MaxPatternLen*MaxPatternLen {
			t.Fatalf("compiled %d instructions of patterns; budget %d", d.programs, programBudget)
		}
	})
}

// FuzzPattern: compiling and matching any pattern never panics, and a
// pattern accepted is within the limits that keep matching cheap: its
// source within MaxPatternLen, its RE2 program (counted again from the
// compiled expression) within MaxPatternProgram.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"svc-*", "**/x", "re:a(b|c)+", "semver:>=1.2, <2", "{a,b}", "[", "re:(", "semver:"} {
		f.Add(s, "svc-a/b")
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		p, err := CompilePattern(pat)
		if err != nil {
			return
		}
		if len(pat) > MaxPatternLen {
			t.Fatalf("accepted a %d-byte pattern", len(pat))
		}
		if p.c != nil && p.c.re != nil {
			n, err := programSize(p.c.re.String())
			if err != nil || n != p.c.prog || n > MaxPatternProgram {
				t.Fatalf("program of %d instructions (recounted %d, %v), limit %d", p.c.prog, n, err, MaxPatternProgram)
			}
		}
		if p.kind == kindSimple {
			// Left to doublestar only without {} or **/, which it
			// backtracks over: the parser must agree there are none.
			if g, err := parseGlob(pat); err == nil {
				for _, it := range g.flat {
					if it.op == globAlt || it.op == globDir {
						t.Fatalf("%q left to doublestar, but it has {} or **/", pat)
					}
				}
			}
		}
		p.Match(s)
		ParseDuration(s)
	})
}
