package policy

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"
)

// Limits on what one pattern may compile to. Matching must stay cheap
// whatever a config says: a pattern is matched against every tag of every
// version, a million times a run.
const (
	// MaxPatternLen is the longest pattern source accepted, in bytes, its
	// re: or semver: prefix included. Real patterns are tens of bytes; this
	// leaves room for long alternations of tag names.
	MaxPatternLen = 512
	// MaxPatternProgram bounds the RE2 program a glob or re: pattern
	// compiles to, in instructions (regexp/syntax after Simplify). Matching
	// costs at most program size × input length steps: the worst pattern
	// accepted, re:(?:[a-z]?){397} (800 instructions, every one live at
	// every byte), matches a 128-byte tag in about 0.55 ms on a loaded
	// 2-core machine. Globs stay below it: within MaxPatternLen the
	// densest glob found, *?*?…, compiles to 772 instructions, an
	// alternation of 40 tag names to 27.
	MaxPatternProgram = 800
)

// Pattern matches names, tags and versions. Written as a glob by default
// (`*` stops at `/`, `**` crosses it, `{a,b}` alternates), `re:` for an RE2
// expression anchored at both ends, or `semver:` for a version constraint
// (`semver:>=1.2, <2`; a leading `v` on the matched value is allowed).
//
// Globs mean what github.com/bmatcuk/doublestar/v4 (v4.10.4) Match says.
// doublestar backtracks exponentially over `{}` groups, so a glob with
// groups or `**/` is compiled to an RE2 program, which matches in time
// linear in the matched string; the few constructs whose doublestar
// meaning depends on how its backtracking runs are refused (see
// parseGlob). Other globs are left to doublestar (see simpleGlob). The
// zero Pattern matches nothing.
type Pattern struct {
	src  string
	kind patternKind
	c    *compiledPattern // kindGlob, kindRegexp, kindSemver
}

// compiledPattern is the compiled form of the patterns that need one. A
// config can hold half a million patterns, most of them literal or
// prefix globs: those keep the Pattern at 32 bytes and allocate nothing.
type compiledPattern struct {
	re   *regexp.Regexp // kindGlob (translated) and kindRegexp
	sv   *semver.Constraints
	prog int // instructions of re's program
}

type patternKind uint8

const (
	kindNone   patternKind = iota // the zero Pattern
	kindExact                     // "latest"
	kindPrefix                    // "pr-*": the prefix, then anything but a slash
	kindSuffix                    // "*-rc": anything but a slash, then the suffix
	kindAll                       // "**"
	kindSimple                    // a glob without {} or **/, matched by doublestar
	kindGlob                      // any other glob, translated to re
	kindRegexp                    // re:
	kindSemver                    // semver:
)

// CompilePattern compiles src.
func CompilePattern(src string) (Pattern, error) {
	p, _, err := compilePattern(src)
	return p, err
}

// compilePattern is CompilePattern, also returning the instructions of the
// RE2 program it counted, refused or not (0 when it built none): what
// compiling cost, for the decoder's budget of a file's patterns.
func compilePattern(src string) (Pattern, int, error) {
	p := Pattern{src: src}
	if src == "" {
		return p, 0, fmt.Errorf("empty pattern")
	}
	if len(src) > MaxPatternLen {
		return p, 0, fmt.Errorf("pattern %s is %d bytes, more than the limit of %d", quoteShort(src), len(src), MaxPatternLen)
	}
	switch {
	case strings.HasPrefix(src, "re:"):
		expr := src[3:]
		// Parsed alone first, so that "re:a)|(b" is refused instead of
		// escaping the anchors wrapped around it.
		if _, err := syntax.Parse(expr, syntax.Perl); err != nil {
			return p, 0, fmt.Errorf("invalid regular expression %q: %v", expr, err)
		}
		n, err := p.compileRE("regular expression "+quoteShort(expr), "^(?:"+expr+")$")
		if err == nil {
			p.kind = kindRegexp
		}
		return p, n, err
	case strings.HasPrefix(src, "semver:"):
		c, err := semver.NewConstraint(strings.TrimSpace(src[7:]))
		if err != nil {
			return p, 0, fmt.Errorf("invalid semver constraint %q: %v", src[7:], err)
		}
		p.kind, p.c = kindSemver, &compiledPattern{sv: c}
		return p, 0, nil
	}
	n, err := p.compileGlob()
	return p, n, err
}

// compileRE compiles expr into p.c unless its program is over the limit,
// and returns the instructions counted; what names the source in errors.
func (p *Pattern) compileRE(what, expr string) (int, error) {
	n, err := programSize(expr)
	if err != nil {
		return 0, fmt.Errorf("%s does not compile: %v", what, err)
	}
	if n > MaxPatternProgram {
		return n, fmt.Errorf("%s compiles to %d instructions, more than the limit of %d; shorten it or split it into several patterns", what, n, MaxPatternProgram)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return n, fmt.Errorf("%s does not compile: %v", what, err)
	}
	p.c = &compiledPattern{re: re, prog: n}
	return n, nil
}

// programSize is the number of instructions of expr's RE2 program, counted
// as regexp.Compile builds it.
func programSize(expr string) (int, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	return len(prog.Inst), nil
}

const globMeta = "*?[]{}\\"

func (p *Pattern) compileGlob() (int, error) {
	src := p.src
	if !utf8.ValidString(src) || strings.ContainsRune(src, utf8.RuneError) {
		// doublestar compares decoded runes, so an invalid byte in a pattern
		// would match any invalid byte of a name; refuse the ambiguity.
		return 0, fmt.Errorf("invalid glob %s: not valid UTF-8", quoteShort(src))
	}
	if !doublestar.ValidatePattern(src) {
		return 0, fmt.Errorf("invalid glob %q", src)
	}
	switch {
	case !strings.ContainsAny(src, globMeta):
		p.kind = kindExact
		return 0, nil
	case src == "**":
		p.kind = kindAll
		return 0, nil
	case src[len(src)-1] == '*' && !strings.ContainsAny(src[:len(src)-1], globMeta):
		p.kind = kindPrefix
		return 0, nil
	case src[0] == '*' && !strings.ContainsAny(src[1:], globMeta):
		p.kind = kindSuffix
		return 0, nil
	case simpleGlob(src):
		p.kind = kindSimple
		return 0, nil
	}
	g, err := parseGlob(src)
	if err != nil {
		return 0, fmt.Errorf("invalid glob %s: %v", quoteShort(src), err)
	}
	n, err := p.compileRE("glob "+quoteShort(src), g.regexp())
	if err == nil {
		p.kind = kindGlob
	}
	return n, err
}

// Match reports whether s matches.
func (p Pattern) Match(s string) bool {
	switch p.kind {
	case kindExact:
		return s == p.src
	case kindPrefix: // p.src is the prefix and a final *
		n := len(p.src) - 1
		return len(s) >= n && s[:n] == p.src[:n] && strings.IndexByte(s[n:], '/') < 0
	case kindSuffix: // p.src is a leading * and the suffix
		n := len(s) - (len(p.src) - 1)
		return n >= 0 && s[n:] == p.src[1:] && strings.IndexByte(s[:n], '/') < 0
	case kindAll:
		return true
	case kindSimple:
		ok, _ := doublestar.Match(p.src, s)
		return ok
	case kindGlob, kindRegexp:
		return p.c.re.MatchString(s)
	case kindSemver:
		v, err := parseVersion(s)
		return err == nil && p.c.sv.Check(v)
	}
	return false
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.src }

// isGlob reports a pattern written as a glob (neither re: nor semver:).
func (p Pattern) isGlob() bool {
	return p.kind >= kindExact && p.kind <= kindGlob
}

// LooksLikeRegex reports a glob that was probably meant as a regular
// expression (lint warning): globs rarely contain these.
func (p Pattern) LooksLikeRegex() bool {
	return p.isGlob() && strings.ContainsAny(p.src, "^$+()|\\")
}

func (p *Pattern) unmarshalNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a pattern string, got %s", describe(n))
	}
	c, err := CompilePattern(n.Value)
	if err != nil {
		return err
	}
	*p = c
	return nil
}

// quoteShort quotes s for an error message, shortened past 64 bytes:
// patterns are not secrets, but a 1 MB one should not fill a terminal.
func quoteShort(s string) string {
	const maxQuoted = 64
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// Patterns is a list of patterns; it matches when any pattern does.
type Patterns []Pattern

// Match reports whether any pattern matches s.
func (ps Patterns) Match(s string) bool {
	for _, p := range ps {
		if p.Match(s) {
			return true
		}
	}
	return false
}

// MatchAny reports whether any pattern matches any of ss.
func (ps Patterns) MatchAny(ss []string) bool {
	for _, s := range ss {
		if ps.Match(s) {
			return true
		}
	}
	return false
}

// parseVersion parses s as a semantic version (a leading v allowed): the
// strict hand-written parser first, the lenient regular-expression one
// ("1.2" coerced) only when that fails, because tags are parsed by the million.
func parseVersion(s string) (*semver.Version, error) {
	if !maybeVersion(s) {
		return nil, semver.ErrInvalidSemVer
	}
	if v, err := semver.StrictNewVersion(strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")); err == nil {
		return v, nil
	}
	return semver.NewVersion(s)
}

// maybeVersion is a cheap test that s could parse as a semantic version.
func maybeVersion(s string) bool {
	if s != "" && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	return s != "" && s[0] >= '0' && s[0] <= '9'
}

// IsPrerelease reports whether s parses as a semantic version with a prerelease part.
func IsPrerelease(s string) bool {
	v, err := parseVersion(s)
	return err == nil && v.Prerelease() != ""
}

// Constraint is a semver constraint such as ">=1.2, <2", matched against
// version names (tags for containers); a leading v is allowed.
type Constraint struct {
	src string
	c   *semver.Constraints
}

func (c *Constraint) unmarshalNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a semver constraint such as \">=1.2, <2\", got %s", describe(n))
	}
	if len(n.Value) > MaxPatternLen {
		return fmt.Errorf("semver constraint %s is %d bytes, more than the limit of %d", quoteShort(n.Value), len(n.Value), MaxPatternLen)
	}
	sc, err := semver.NewConstraint(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("invalid semver constraint %q: %v", n.Value, err)
	}
	*c = Constraint{src: n.Value, c: sc}
	return nil
}

// Match reports whether s is a semantic version satisfying the constraint.
func (c *Constraint) Match(s string) bool {
	if c == nil || c.c == nil {
		return false
	}
	v, err := parseVersion(s)
	return err == nil && c.c.Check(v)
}

// String returns the constraint as written.
func (c *Constraint) String() string {
	if c == nil {
		return ""
	}
	return c.src
}

// simpleGlob reports a glob without {} groups and without **/ at the start
// of a segment. doublestar matches those keeping one backtracking point,
// the last *, so in at most len(pattern) × len(name) steps: at most 65,536
// for a 128-byte tag, and it is exactly doublestar, so they are left to
// it. Braces are what it backtracks over exponentially, and **/ restarts
// the match at every later segment.
func simpleGlob(src string) bool {
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '[':
			// The class ends at the first unescaped ] (ValidatePattern
			// refuses an empty class, so none right after [, [! or [^).
			if i++; i < len(src) && (src[i] == '!' || src[i] == '^') {
				i++
			}
			for ; i < len(src) && src[i] != ']'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case '{':
			return false
		case '*':
			if i+1 < len(src) && src[i+1] == '*' {
				if (i == 0 || src[i-1] == '/') && i+2 < len(src) && src[i+2] == '/' {
					return false
				}
				i++
			}
		}
	}
	return true
}

// A glob is parsed into sequences of items; a `{}` group is an item holding
// one sequence per alternative. Spans index the source, because doublestar
// decides some things on the text that follows a position, braces left
// unexpanded (see zeroLength).
type globItem struct {
	op         globOp
	start, end int // span in the source
	lit        rune
	class      string // RE2 class; "" when the class matches nothing
	slash      bool   // the class can match '/'
	alts       []*globSeq
}

type globOp uint8

const (
	globLit   globOp = iota // a rune, maybe escaped
	globAny                 // ?
	globClass               // [...]
	globStar                // *: a run of anything but '/'
	globDir                 // **/ at the start of a segment: any run of whole segments
	globAll                 // ** ending the pattern at the start of a segment: the rest, whatever it is
	globAlt                 // {a,b}
)

type globSeq struct {
	items      []*globItem
	start, end int
	up         *globSeq // the sequence holding the `{}` this is an alternative of; nil at the top
	upIdx      int      // the index of that `{}` in up.items
}

type glob struct {
	src  string
	top  *globSeq
	rest map[*globSeq]string // memo of after
	zero map[string]bool     // memo of zeroLength
	void map[string]bool     // memo of canBeEmpty
	flat []*globItem         // every item in source order
}

// parseGlob parses src, a glob with {} groups or **/ that
// doublestar.ValidatePattern accepted, and refuses the constructs whose doublestar meaning depends on the order its
// backtracking takes, which no regular expression reproduces:
//   - `**` other than a whole path segment written out (`a/**/b`, `**/b`,
//     `a/**`). Elsewhere doublestar reads it as `*`, or as `**` depending
//     on what a neighbouring `{}` expands to.
//   - a `*` that a `{}` alternative could join into `**` (`{a*,b}*`).
//   - a `*` followed only by `{}` groups that can all be empty (`a*{,b}`):
//     doublestar then matches the empty run or not depending on the path.
//   - a class that can match '/' (`[!a]`) between two `*`: doublestar
//     never revisits the first `*` once past the second.
//   - a `**/` that can end the pattern after another `**/` (`**/a/**/`):
//     doublestar never revisits the first once past the second, so the
//     "a directory matches without its slash" reading of a final `/**/`
//     is reached on some paths only.
func parseGlob(src string) (*glob, error) {
	g := &glob{src: src, rest: map[*globSeq]string{}, zero: map[string]bool{}, void: map[string]bool{}}
	top, end, err := g.parseSeq(0, nil, 0)
	if err != nil {
		return nil, err
	}
	if end != len(src) {
		return nil, fmt.Errorf("unexpected %q at byte %d", src[end], end)
	}
	g.top = top
	if err := g.check(); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *glob) parseSeq(pos int, up *globSeq, upIdx int) (*globSeq, int, error) {
	src := g.src
	s := &globSeq{start: pos, up: up, upIdx: upIdx}
	for pos < len(src) {
		c := src[pos]
		if up != nil && (c == ',' || c == '}') {
			break
		}
		it := &globItem{start: pos}
		var err error
		switch c {
		case '\\':
			r, w := utf8.DecodeRuneInString(src[pos+1:])
			if w == 0 {
				return nil, 0, fmt.Errorf("trailing \\")
			}
			it.op, it.lit, pos = globLit, r, pos+1+w
		case '?':
			it.op, pos = globAny, pos+1
		case '[':
			pos, err = it.parseClass(src, pos)
		case '*':
			pos, err = it.parseStar(src, pos)
		case '{':
			pos, err = g.parseAlt(it, s, pos)
		default:
			r, w := utf8.DecodeRuneInString(src[pos:])
			it.op, it.lit, pos = globLit, r, pos+w
		}
		if err != nil {
			return nil, 0, err
		}
		it.end = pos
		s.items = append(s.items, it)
		g.flat = append(g.flat, it)
	}
	s.end = pos
	return s, pos, nil
}

// parseStar reads the * or ** at src[pos] and returns the position after it.
func (it *globItem) parseStar(src string, pos int) (int, error) {
	if pos+1 >= len(src) || src[pos+1] != '*' {
		it.op = globStar
		return pos + 1, nil
	}
	segStart := pos == 0 || src[pos-1] == '/'
	switch {
	case pos > 0 && strings.IndexByte("{,}", src[pos-1]) >= 0 || pos+2 < len(src) && strings.IndexByte("{,}", src[pos+2]) >= 0:
		return 0, fmt.Errorf("** next to {} means ** or * depending on the alternative taken; write it inside the alternatives, as a whole path segment")
	case segStart && pos+2 == len(src):
		it.op = globAll
		return pos + 2, nil
	case segStart && src[pos+2] == '/':
		it.op = globDir
		return pos + 3, nil
	default:
		return 0, fmt.Errorf("** must be a whole path segment (a/**/b, **/b, a/**); use * within a segment")
	}
}

// parseAlt reads the {} group at src[pos], item it of s, and returns the
// position after it.
func (g *glob) parseAlt(it *globItem, s *globSeq, pos int) (int, error) {
	it.op = globAlt
	pos++
	for {
		alt, end, err := g.parseSeq(pos, s, len(s.items))
		if err != nil {
			return 0, err
		}
		it.alts = append(it.alts, alt)
		if end >= len(g.src) {
			return 0, fmt.Errorf("unclosed {")
		}
		pos = end + 1
		if g.src[end] == '}' {
			return pos, nil
		}
	}
}

// parseClass reads the class at src[pos] the way doublestar's matcher
// does: `!` or `^` negates, `\` escapes, lo-hi is a range when lo is a
// single rune that did not end a range, a range with lo > hi is empty.
func (it *globItem) parseClass(src string, pos int) (int, error) {
	i := pos + 1
	negate := i < len(src) && (src[i] == '!' || src[i] == '^')
	if negate {
		i++
	}
	var ranges [][2]rune
	last := utf8.MaxRune
	for i < len(src) && src[i] != ']' {
		r, w := utf8.DecodeRuneInString(src[i:])
		i += w
		if last < utf8.MaxRune && r == '-' && i < len(src) && src[i] != ']' {
			if src[i] == '\\' {
				i++
			}
			hi, w := utf8.DecodeRuneInString(src[i:])
			i += w
			ranges = append(ranges, [2]rune{last, hi})
			last = utf8.MaxRune
			continue
		}
		if r == '\\' {
			r, w = utf8.DecodeRuneInString(src[i:])
			i += w
		}
		ranges = append(ranges, [2]rune{r, r})
		last = r
	}
	if i >= len(src) {
		return 0, fmt.Errorf("unclosed [")
	}
	var b strings.Builder
	slash := false
	for _, r := range ranges {
		if r[0] > r[1] {
			continue
		}
		slash = slash || (r[0] <= '/' && '/' <= r[1])
		if r[0] == r[1] {
			fmt.Fprintf(&b, `\x{%x}`, r[0])
		} else {
			fmt.Fprintf(&b, `\x{%x}-\x{%x}`, r[0], r[1])
		}
	}
	it.op, it.slash = globClass, slash != negate
	switch {
	case b.Len() == 0 && negate:
		it.class = `[\x{0}-\x{10ffff}]`
	case b.Len() == 0:
		it.class = ""
	case negate:
		it.class = "[^" + b.String() + "]"
	default:
		it.class = "[" + b.String() + "]"
	}
	return i + 1, nil
}

// after is the text doublestar sees once s is matched: what follows the
// `{}` s is an alternative of, then what follows that, and so on.
func (g *glob) after(s *globSeq) string {
	if s.up == nil {
		return ""
	}
	if t, ok := g.rest[s]; ok {
		return t
	}
	t := g.text(s.up, s.up.items[s.upIdx].end)
	g.rest[s] = t
	return t
}

// text is the pattern doublestar has left at pos inside s: the rest of s,
// then after(s).
func (g *glob) text(s *globSeq, pos int) string {
	return g.src[pos:s.end] + g.after(s)
}

// zeroLength is doublestar's isZeroLengthPattern: whether the pattern left
// when the name runs out accepts. It looks at the text, not at what the
// text could match: "*" and "/**" accept, "*{,}" does not.
func (g *glob) zeroLength(p string) bool {
	switch len(p) {
	case 0:
		return true
	case 1:
		if p == "*" {
			return true
		}
	case 2:
		if p == "**" {
			return true
		}
	case 3:
		if p == "/**" || p == "**/" {
			return true
		}
	case 4:
		if p == "/**/" {
			return true
		}
	}
	if p[0] != '{' {
		return false
	}
	return anyAlternative(p, g.zero, g.zeroLength)
}

// anyAlternative reports whether ok holds for some alternative of the group
// t opens (t starts with `{`) followed by the rest of t; memo keeps the
// answers by t, so nested groups cost their size, not their product.
func anyAlternative(t string, memo map[string]bool, ok func(string) bool) bool {
	if z, found := memo[t]; found {
		return z
	}
	z := false
	if closing := indexClosingAlt(t[1:]); closing >= 0 {
		closing++
		i := 1
		for !z {
			comma := indexNextAlt(t[i:closing])
			if comma < 0 {
				z = ok(t[i:closing] + t[closing+1:])
				break
			}
			z = ok(t[i:i+comma] + t[closing+1:])
			i += comma + 1
		}
	}
	memo[t] = z
	return z
}

// indexClosingAlt and indexNextAlt are doublestar's scans for the `}`
// closing a group whose `{` precedes s and for the next `,` at its level.
func indexClosingAlt(s string) int { return scanAlt(s, false) }

func indexNextAlt(s string) int { return scanAlt(s, true) }

// scanAlt walks s inside a `{` group, past escapes, classes and nested
// groups, to the `}` that closes it or, with comma, to the group's next
// `,`; -1 when there is none.
func scanAlt(s string, comma bool) int {
	depth := 1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			for i++; i < len(s) && s[i] != ']'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 && !comma {
				return i
			}
		case ',':
			if comma && depth == 1 {
				return i
			}
		}
	}
	return -1
}

// check refuses the constructs listed at parseGlob.
func (g *glob) check() error {
	c := &globCheck{g: g, starNext: map[*globSeq][]int8{}}
	if err := c.walk(g.top); err != nil {
		return err
	}
	stars := c.stars
	for _, it := range g.flat {
		if it.op != globClass || !it.slash || len(stars) == 0 {
			continue
		}
		if stars[0] < it.start && stars[len(stars)-1] > it.start {
			return fmt.Errorf("the class %s can match / and is between two *; add / to a negated class ([!/...]) or use **", g.src[it.start:it.end])
		}
	}
	return nil
}

// globCheck is the state of check's walk over the items.
type globCheck struct {
	g        *glob
	starNext map[*globSeq][]int8 // memo of startsStar: 1 yes, -1 no, 0 unknown
	stars    []int               // the positions of the * seen
	dirs     int                 // the **/ seen
}

// walk checks the items of s, and those of its alternatives, in source order.
func (c *globCheck) walk(s *globSeq) error {
	g := c.g
	for i, it := range s.items {
		switch it.op {
		case globDir:
			if t := g.text(s, it.end); c.dirs > 0 && (t == "" || t[0] == '{' && g.canBeEmpty(t)) {
				return fmt.Errorf("the **/ at byte %d can end the pattern after another **/, which doublestar matches inconsistently; end the pattern with /** instead", it.start)
			}
			c.dirs++
		case globStar:
			c.stars = append(c.stars, it.start)
			if c.startsStar(s, i+1) {
				return fmt.Errorf("the * at byte %d and a * from a {} alternative next to it would form **; move the * into every alternative or out of them", it.start)
			}
			if t := g.text(s, it.end); t != "" && t[0] == '{' && g.canBeEmpty(t) {
				return fmt.Errorf("the * at byte %d is followed only by {} alternatives that can be empty, which doublestar matches inconsistently; write the alternatives out, e.g. {a*,a*b} for a*{,b}", it.start)
			}
		case globAlt:
			for _, a := range it.alts {
				if err := c.walk(a); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// startsStar reports whether the text from item i of s on can start with
// a * (or **), through the alternatives of a {} group or, past the end of
// s, what follows the group s is an alternative of.
func (c *globCheck) startsStar(s *globSeq, i int) bool {
	if i == len(s.items) {
		return s.up != nil && c.startsStar(s.up, s.upIdx+1)
	}
	memo := c.starNext[s]
	if memo == nil {
		memo = make([]int8, len(s.items))
		c.starNext[s] = memo
	}
	if memo[i] != 0 {
		return memo[i] > 0
	}
	it, v := s.items[i], false
	switch it.op {
	case globStar, globDir, globAll:
		v = true
	case globAlt:
		for _, a := range it.alts {
			if v = c.startsStar(a, 0); v {
				break
			}
		}
	}
	memo[i] = -1
	if v {
		memo[i] = 1
	}
	return v
}

// canBeEmpty reports whether t, which starts with `{`, can expand to
// nothing: some alternative, followed by the rest, can.
func (g *glob) canBeEmpty(t string) bool {
	if t == "" {
		return true
	}
	if t[0] != '{' {
		return false
	}
	return anyAlternative(t, g.void, g.canBeEmpty)
}

// The translation. doublestar matches with a loop that returns, as soon as
// the name runs out, whether the pattern text left is "zero length"
// (zeroLength). So a name matches when some way through the pattern
// consumes it with its last rune taken by an item after which the text
// left is zero length, or when the name is empty and the whole pattern is.
// For the items of a sequence, from i on:
//
//	H(i) = Last(i) | G(i) H(i+1)
//
// where G(i) is what item i matches on the way through and Last(i) what it
// matches when it consumes the final rune: G(i) if the text after it is
// zero length (a rune, ? or a class; one or more runes for *; one or more
// segments for **/), else nothing; the rest of the name for a final **; and
// for a {} group, the union of H over its alternatives, whose texts run on
// past the group. The expression is ^H(0)$, or ^H(0)?$ when the empty
// name matches. Each group is written twice (in G and in Last), so nested
// groups cost their depth in size, which MaxPatternProgram bounds.
type globInfo struct {
	hseq  []bool // H(i) matches something; hseq[len] is false
	last  []bool // Last(i) matches something
	pass  []bool // G(i) matches something
	whole bool   // every G(i) of the sequence matches something
}

func (g *glob) regexp() string {
	w := &globWriter{g: g, info: map[*globSeq]*globInfo{}}
	top := w.analyze(g.top)
	b := &w.b
	empty := g.zeroLength(g.src)
	switch {
	case top.hseq[0]:
		b.WriteString("^(?:")
		w.hseq(g.top, 0)
		b.WriteString(")")
		if empty {
			b.WriteString("?")
		}
		b.WriteString("$")
	case empty:
		b.WriteString("^$")
	default:
		b.WriteString(`[^\x{0}-\x{10ffff}]`)
	}
	return b.String()
}

// globWriter writes the expression of a glob: the analysis of its
// sequences, then G, Last and H of their items.
type globWriter struct {
	g    *glob
	info map[*globSeq]*globInfo
	b    strings.Builder
}

// analyze computes the globInfo of s and of the sequences within it.
func (w *globWriter) analyze(s *globSeq) *globInfo {
	n := len(s.items)
	in := &globInfo{hseq: make([]bool, n+1), last: make([]bool, n), pass: make([]bool, n), whole: true}
	w.info[s] = in
	for i := n - 1; i >= 0; i-- {
		it := s.items[i]
		zero := func() bool { return w.g.zeroLength(w.g.text(s, it.end)) }
		switch it.op {
		case globLit, globAny, globStar, globDir:
			in.pass[i] = true
			in.last[i] = zero()
		case globClass:
			in.pass[i] = it.class != ""
			in.last[i] = in.pass[i] && zero()
		case globAll:
			in.last[i] = true
		case globAlt:
			for _, a := range it.alts {
				ai := w.analyze(a)
				in.pass[i] = in.pass[i] || ai.whole
				in.last[i] = in.last[i] || ai.hseq[0]
			}
		}
		in.whole = in.whole && in.pass[i]
		in.hseq[i] = in.last[i] || (in.pass[i] && in.hseq[i+1])
	}
	return in
}

// pass writes G of it: what it matches on the way through.
func (w *globWriter) pass(it *globItem) {
	b := &w.b
	switch it.op {
	case globLit:
		b.WriteString(regexp.QuoteMeta(string(it.lit)))
	case globAny:
		b.WriteString(`[^/]`)
	case globClass:
		b.WriteString(it.class)
	case globStar:
		b.WriteString(`[^/]*`)
	case globDir:
		b.WriteString(`(?:[^/]*/)*`)
	case globAlt:
		w.alternatives(it, func(a *globSeq) bool { return w.info[a].whole }, func(a *globSeq) {
			for _, ai := range a.items {
				w.pass(ai)
			}
		})
	}
}

// last writes Last of item i of s: what it matches taking the final rune.
func (w *globWriter) last(s *globSeq, i int) {
	b := &w.b
	switch it := s.items[i]; it.op {
	case globStar:
		b.WriteString(`[^/]+`)
	case globDir:
		b.WriteString(`(?:[^/]*/)+`)
	case globAll:
		b.WriteString(`(?s:.+)`)
	case globAlt:
		w.alternatives(it, func(a *globSeq) bool { return w.info[a].hseq[0] }, func(a *globSeq) { w.hseq(a, 0) })
	default:
		w.pass(it)
	}
}

// alternatives writes the group it as (?:a|b), with the alternatives use
// keeps, each written by write.
func (w *globWriter) alternatives(it *globItem, use func(*globSeq) bool, write func(*globSeq)) {
	w.b.WriteString("(?:")
	sep := ""
	for _, a := range it.alts {
		if !use(a) {
			continue
		}
		w.b.WriteString(sep)
		sep = "|"
		write(a)
	}
	w.b.WriteString(")")
}

// hseq writes H(i) of s.
func (w *globWriter) hseq(s *globSeq, i int) {
	b := &w.b
	in, it := w.info[s], s.items[i]
	h, r := in.last[i], in.pass[i] && in.hseq[i+1]
	consumes := it.op == globLit || it.op == globAny || it.op == globClass
	switch {
	case h && r && consumes:
		w.pass(it)
		b.WriteString("(?:")
		w.hseq(s, i+1)
		b.WriteString(")?")
	case h && r:
		b.WriteString("(?:")
		w.last(s, i)
		b.WriteString("|")
		w.pass(it)
		w.hseq(s, i+1)
		b.WriteString(")")
	case h:
		w.last(s, i)
	default:
		w.pass(it)
		w.hseq(s, i+1)
	}
}
