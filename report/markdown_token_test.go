package report

import (
	"strings"
	"testing"
)

// A token-shaped value in a Markdown cell is redacted, not escaped into a
// shape (ghp\_…) that later redaction no longer recognizes.
func TestMarkdownEscape_RedactsTokensBeforeEscaping(t *testing.T) {
	tok := "ghp_" + strings.Repeat("A", 36)
	got := MarkdownEscape("name " + tok + " | x")
	if strings.Contains(got, strings.Repeat("A", 36)) || !strings.Contains(got, "[REDACTED]") && !strings.Contains(got, `\[REDACTED\]`) {
		t.Errorf("MarkdownEscape(%q) = %q", tok, got)
	}
	if got := MarkdownEscape("a_b"); got != `a\_b` {
		t.Errorf("MarkdownEscape(a_b) = %q", got)
	}
}

// Bare URLs and www. names are not left for GitHub to turn into links.
func TestMarkdownEscape_NoAutolinks(t *testing.T) {
	for in, want := range map[string]string{
		"1.0.8-https://evil.example/x": "1.0.8-https&#58;//evil.example/x",
		"www.evil.example":             "www&#46;evil.example",
	} {
		if got := MarkdownEscape(in); got != want {
			t.Errorf("MarkdownEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
