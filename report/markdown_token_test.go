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
