package daemon

import "testing"

// shellQuote keeps a hostile word one word.
func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"team/api":  "team/api",
		"v1.2.3":    "v1.2.3",
		"a b":       "'a b'",
		"it's":      `'it'\''s'`,
		"$(id)":     "'$(id)'",
		"":          "''",
		"x;rm -rf/": "'x;rm -rf/'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
