package policy

import (
	"strings"
	"testing"

	"github.com/bmatcuk/doublestar/v4"
)

// Before globs were compiled to RE2, doublestar tried every way through
// the 28 groups: 2^28 paths for one tag, over a minute.
func TestPattern_BraceBombMatchesInLinearTime(t *testing.T) {
	p, err := CompilePattern(strings.Repeat("{a,aa}", 28))
	if err != nil {
		t.Fatal(err)
	}
	if p.kind != kindGlob || p.c.prog > MaxPatternProgram {
		t.Fatalf("kind %d, program %d instructions; want a glob within %d", p.kind, p.c.prog, MaxPatternProgram)
	}
	for _, c := range []struct {
		s    string
		want bool
	}{
		{strings.Repeat("a", 128), false},
		{strings.Repeat("a", 127) + "b", false},
		{strings.Repeat("a", 27), false},
		{strings.Repeat("a", 28), true},
		{strings.Repeat("a", 56), true},
		{strings.Repeat("a", 57), false},
	} {
		if got := p.Match(c.s); got != c.want {
			t.Errorf("Match(%d×a…) = %v, want %v", len(c.s), got, c.want)
		}
	}
}

// Each case pins doublestar v4.10.4's answer, and checks it still is.
func TestPattern_GlobsMeanWhatDoublestarSays(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"svc-*", "svc-", true},
		{"svc-*", "svc-a/b", false},
		{"*-rc", "1.0-rc", true},
		{"*-rc", "a/1.0-rc", false},
		{"*/x", "a/x", true},
		{"a*b*c", "abxbc", true},
		{"a*b*c", "ab/bc", false},
		{"v?.?", "v1.2", true},
		{"v?.?", "v/.2", false},
		{"**", "", true},
		{"**", "a/b/c", true},
		{"platform/**", "platform", true}, // a directory matches without its slash
		{"platform/**", "platform/", true},
		{"platform/**", "platform/a/b", true},
		{"platform/**", "platformx", false},
		{"a/**/", "a", true},
		{"a/**/", "a/x/", true},
		{"a/**/", "a/x", false},
		{"**/x", "x", true},
		{"**/x", "a/b/x", true},
		{"**/x", "a/bx", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "ab", false},
		{"a/*", "a/", true},
		{"a*", "a", true},
		{"{a,b}-*", "b-1", true},
		{"{a,b}-*", "c-1", false},
		{"{a,}x", "x", true},
		{"x{,y}", "x", true},
		{"x{a,{b,c}d}", "xcd", true},
		{"x{a,{b,c}d}", "xc", false},
		{"[abc]", "b", true},
		{"[a-c]x", "bx", true},
		{"[!a-c]", "d", true},
		{"[^a-c]", "b", false},
		{"[!a]", "/", true}, // a negated class matches a slash
		{"[z-a]", "m", false},
		{"[!z-a]", "m", true},
		{"[--0]", "/", true},
		{"[a-]", "-", true},
		{`[\]]`, "]", true},
		{`[a\-c]`, "b", false},
		{`\*`, "*", true},
		{`\*`, "a", false},
		{`a\{b`, "a{b", true},
		{"a,b", "a,b", true},
		{"é?", "éü", true},
		{"?", "\xff", true}, // an invalid byte is one rune
		{"a]", "a]", true},
	}
	for _, c := range cases {
		p, err := CompilePattern(c.pat)
		if err != nil {
			t.Errorf("CompilePattern(%q): %v", c.pat, err)
			continue
		}
		if ds, _ := doublestar.Match(c.pat, c.s); ds != c.want {
			t.Errorf("doublestar.Match(%q, %q) = %v: the case is wrong", c.pat, c.s, ds)
		}
		if got := p.Match(c.s); got != c.want {
			t.Errorf("%q.Match(%q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

// Every valid pattern of up to 4 symbols from the glob syntax, against
// every name of up to 3: the translation agrees with doublestar on each
// pattern it accepts.
func TestPattern_AgreesWithDoublestarOnShortGlobs(t *testing.T) {
	syms := []string{"a", "/", "*", "?", "[", "]", "!", "-", "{", "}", ",", `\`}
	var names []string
	var gen func(alpha []string, prefix string, n int, f func(string))
	gen = func(alpha []string, prefix string, n int, f func(string)) {
		f(prefix)
		for i := 0; n > 0 && i < len(alpha); i++ {
			gen(alpha, prefix+alpha[i], n-1, f)
		}
	}
	gen([]string{"a", "b", "/", "-"}, "", 3, func(s string) { names = append(names, s) })
	accepted := 0
	gen(syms, "", 4, func(pat string) {
		if pat == "" || !doublestar.ValidatePattern(pat) {
			return
		}
		p, err := CompilePattern(pat)
		if err != nil {
			return
		}
		accepted++
		for _, s := range names {
			if want, _ := doublestar.Match(pat, s); p.Match(s) != want {
				t.Errorf("%q.Match(%q) = %v, doublestar says %v", pat, s, !want, want)
			}
		}
	})
	if accepted < 4000 {
		t.Errorf("only %d patterns accepted", accepted)
	}
}

// Globs with {} or **/, which are translated, are refused when their
// doublestar meaning depends on its backtracking order, with the reason.
func TestCompilePattern_RefusesGlobsDoublestarMatchesInconsistently(t *testing.T) {
	cases := []struct{ pat, msg string }{
		{"{pr,mr}-**", `invalid glob "{pr,mr}-**": ** must be a whole path segment (a/**/b, **/b, a/**); use * within a segment`},
		{"**/a***", `invalid glob "**/a***": ** must be a whole path segment (a/**/b, **/b, a/**); use * within a segment`},
		{"x/{**/a,b}", `invalid glob "x/{**/a,b}": ** next to {} means ** or * depending on the alternative taken; write it inside the alternatives, as a whole path segment`},
		{"{a/,b}**/c", `invalid glob "{a/,b}**/c": ** next to {} means ** or * depending on the alternative taken; write it inside the alternatives, as a whole path segment`},
		{"{a*,b}*", `invalid glob "{a*,b}*": the * at byte 2 and a * from a {} alternative next to it would form **; move the * into every alternative or out of them`},
		{"a*{,b}", `invalid glob "a*{,b}": the * at byte 1 is followed only by {} alternatives that can be empty, which doublestar matches inconsistently; write the alternatives out, e.g. {a*,a*b} for a*{,b}`},
		{"*[!a]*{x,y}", `invalid glob "*[!a]*{x,y}": the class [!a] can match / and is between two *; add / to a negated class ([!/...]) or use **`},
		{"**/a/**/", `invalid glob "**/a/**/": the **/ at byte 5 can end the pattern after another **/, which doublestar matches inconsistently; end the pattern with /** instead`},
		{"a\xffb", `invalid glob "a\xffb": not valid UTF-8`},
		{"{a,b", `invalid glob "{a,b"`},
	}
	for _, c := range cases {
		_, err := CompilePattern(c.pat)
		if err == nil || err.Error() != c.msg {
			t.Errorf("CompilePattern(%q) = %v\nwant %s", c.pat, err, c.msg)
		}
	}
	// Without {} or **/ doublestar itself matches, exactly and in
	// len(pattern) × len(name) steps at most: nothing is refused.
	for _, ok := range []string{"*[!/a]*{x,y}", "a/**/b/**", "**/a/**/b", "{a*,b*}", "*{a,b}", "x{a,b}*", "[!a]*", "pr-**", "a***", "*[!a]*", "a/**/"} {
		if _, err := CompilePattern(ok); err != nil {
			t.Errorf("CompilePattern(%q): %v", ok, err)
		}
	}
}

func TestCompilePattern_RefusesPatternsOverTheLimits(t *testing.T) {
	long := strings.Repeat("a", MaxPatternLen-2) + "-*"
	if _, err := CompilePattern(long); err != nil {
		t.Errorf("a %d-byte glob: %v", len(long), err)
	}
	cases := []struct{ pat, msg string }{
		{strings.Repeat("a", MaxPatternLen) + "*",
			`pattern "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"… (513 bytes) is 513 bytes, more than the limit of 512`},
		{"re:" + strings.Repeat("(a|b)", 103),
			`pattern "re:(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)(a|b)("… (518 bytes) is 518 bytes, more than the limit of 512`},
		{"re:(?:[a-z]?){399}",
			`regular expression "(?:[a-z]?){399}" compiles to 802 instructions, more than the limit of 800; shorten it or split it into several patterns`},
		{"re:[a-z]{1000}x{1000}",
			`regular expression "[a-z]{1000}x{1000}" compiles to 2004 instructions, more than the limit of 800; shorten it or split it into several patterns`},
		{"semver:" + strings.Repeat(">=1.0.0 ", 64),
			`pattern "semver:>=1.0.0 >=1.0.0 >=1.0.0 >=1.0.0 >=1.0.0 >=1.0.0 >=1.0.0 >"… (519 bytes) is 519 bytes, more than the limit of 512`},
		// Parsed alone, so it cannot escape the anchors around it.
		{"re:a)|(b", "invalid regular expression \"a)|(b\": error parsing regexp: unexpected ): `a)|(b`"},
	}
	for _, c := range cases {
		_, err := CompilePattern(c.pat)
		if err == nil || err.Error() != c.msg {
			t.Errorf("CompilePattern(%.30q…) = %v\nwant %s", c.pat, err, c.msg)
		}
	}
	// Within MaxPatternLen no glob found reaches the program limit (the
	// densest, *?*?…, compiles to 772 instructions); the check stands
	// behind the length limit, with this message.
	src := strings.Repeat("*?", 300)
	g, err := parseGlob(src)
	if err != nil {
		t.Fatal(err)
	}
	var p Pattern
	_, err = p.compileRE("glob "+quoteShort(src), g.regexp())
	want := `glob "*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?"… (600 bytes) compiles to 904 instructions, more than the limit of 800; shorten it or split it into several patterns`
	if err == nil || err.Error() != want {
		t.Errorf("compileRE: %v\nwant %s", err, want)
	}
}

// A config with a pattern over a limit fails validation, located.
func TestParse_PatternOverTheLimitIsLocated(t *testing.T) {
	yaml := "policies:\n  - name: p\n    select: {owner: acme, owner_type: org, package_type: container}\n" +
		"    delete: [{name: d, tags: [\"re:(?:[a-z]?){399}\"], older_than: 7d}]\n"
	_, err := Parse("ghprune.yaml", []byte(yaml))
	want := `ghprune.yaml:4:31: policies[0].delete[0].tags[0]: regular expression "(?:[a-z]?){399}" compiles to 802 instructions, more than the limit of 800; shorten it or split it into several patterns`
	if err == nil || err.Error() != want {
		t.Errorf("Parse: %v\nwant %s", err, want)
	}
}

// FuzzGlobMatchesDoublestar: every glob CompilePattern accepts matches
// exactly what doublestar.Match says. Sizes are bounded so that doublestar,
// exponential in the number of {} groups, stays fast.
func FuzzGlobMatchesDoublestar(f *testing.F) {
	for _, pat := range []string{
		"svc-*", "*-rc", "platform/**", "**/x", "a/**/b", "a/**/", "{a,b}-*", "x{,y}", "{a,{b,c}d}e",
		"[a-c]?", "[!/a]*", "[^x]", `\{a\}`, "a/*/b", "**/a*/**/b*", "{*a,?b}[a-c]", "v[0-9]*.{0,1}",
	} {
		f.Add(pat, "a/b")
		f.Add(pat, "svc-a")
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if len(pat) > 24 || len(s) > 32 || strings.HasPrefix(pat, "re:") || strings.HasPrefix(pat, "semver:") {
			return
		}
		p, err := CompilePattern(pat)
		if err != nil {
			return
		}
		if !doublestar.ValidatePattern(pat) {
			t.Fatalf("CompilePattern accepted %q, which doublestar refuses", pat)
		}
		// doublestar can also report a pattern error while matching (it
		// validates the rest of the pattern where a match fails): that is
		// no match, as Match always read it.
		want, _ := doublestar.Match(pat, s)
		if got := p.Match(s); got != want {
			t.Fatalf("%q.Match(%q) = %v, doublestar says %v", pat, s, got, want)
		}
	})
}
