package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// Golden files pin the three formats.
func TestGolden(t *testing.T) {
	r := sample()
	r.Policies[0].Packages = append(r.Policies[0].Packages, &Package{Owner: "acme", OwnerType: "org", PackageType: "npm",
		Package: "lib", Error: "list versions of \"lib\": 502 Bad Gateway", Decisions: []*Decision{}})
	r.Policies = append(r.Policies, &Policy{Policy: "q", Mode: "plan", Error: "list packages: 401 Bad credentials", Packages: []*Package{}})
	r.Policies[0].Packages[0].FreedBytes = 3 << 29 // 1.5 GiB
	r.Policies[0].Packages[0].Decisions[0].Parents = []string{"sha256:index"}
	r.Summarize()
	r.Policies[0].Packages[0].Decisions[0].Reason = "delete rule \"prs\": tag \"pr-1\" matches [pr-*] <b>@octocat</b> | *x*"
	for _, c := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"table.golden", func(b *bytes.Buffer) error { return WriteTable(b, r, TableOptions{}) }},
		{"json.golden", func(b *bytes.Buffer) error { return WriteJSON(b, r) }},
		{"markdown.golden", func(b *bytes.Buffer) error { return WriteMarkdown(b, r, TableOptions{}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := c.write(&b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.name)
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.name, diff)
			}
		})
	}
}

func TestMarkdownEscape(t *testing.T) {
	for in, want := range map[string]string{
		"svc-api":                 "svc-api",
		"a|b":                     `a\|b`,
		"<img src=x>":             "&lt;img src=x&gt;",
		"@octocat":                "&#64;octocat",
		"[x](http://e)":           `\[x\](http&#58;//e)`,
		"`code`":                  "\\`code\\`",
		"line\nbreak":             `line\\x0abreak`,
		"**bold** _it_ ~~s~~ #h1": `\*\*bold\*\* \_it\_ \~\~s\~\~ \#h1`,
	} {
		if got := MarkdownEscape(in); got != want {
			t.Errorf("MarkdownEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
