package policy

import (
	"regexp"
	"strings"
)

// tokenPrefixes start GitHub's token formats: classic personal access
// tokens, OAuth, user-to-server, server-to-server and refresh tokens, and
// fine-grained personal access tokens.
var tokenPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}

// tokenPattern finds a token inside any text: a prefix and the characters
// GitHub's tokens are made of.
var tokenPattern = regexp.MustCompile(`(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{6,}`)

// Redacted replaces a token in text.
const Redacted = "[REDACTED]"

// LooksLikeToken reports whether s starts like a GitHub token.
func LooksLikeToken(s string) bool {
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// RedactTokens replaces everything in s that looks like a GitHub token,
// wherever it appears (a token pasted into api_url, echoed by a server in an
// error). Errors, logs and reports pass through it before anyone reads them.
func RedactTokens(s string) string {
	if !strings.Contains(s, "_") {
		return s // every prefix has one: the common case needs no regular expression
	}
	return tokenPattern.ReplaceAllString(s, Redacted)
}
