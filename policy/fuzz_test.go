package policy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input may panic the loader; every failure is an *Errors with
// at least one located message.
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
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		if err != nil {
			errs, ok := err.(*Errors)
			if !ok || len(errs.List) == 0 {
				t.Fatalf("error %T without located messages: %v", err, err)
			}
		}
	})
}

// FuzzPattern: compiling and matching any pattern never panics.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"svc-*", "**/x", "re:a(b|c)+", "semver:>=1.2, <2", "{a,b}", "[", "re:(", "semver:"} {
		f.Add(s, "svc-a/b")
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		p, err := CompilePattern(pat)
		if err != nil {
			return
		}
		p.Match(s)
		ParseDuration(s)
	})
}
