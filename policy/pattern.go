package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"
)

// Pattern matches names, tags and versions. Written as a glob by default
// (`*` stops at `/`, `**` crosses it, `{a,b}` alternates), `re:` for an RE2
// expression anchored at both ends, or `semver:` for a version constraint
// (`semver:>=1.2, <2`; a leading `v` on the matched value is allowed).
type Pattern struct {
	src  string
	glob string
	// exact and prefix are fast paths for the commonest globs ("latest",
	// "pr-*"), which decide a million versions in under a second.
	exact, prefix string
	kind          int
	re            *regexp.Regexp
	sv            *semver.Constraints
}

// CompilePattern compiles src.
func CompilePattern(src string) (Pattern, error) {
	p := Pattern{src: src}
	switch {
	case src == "":
		return p, fmt.Errorf("empty pattern")
	case strings.HasPrefix(src, "re:"):
		re, err := regexp.Compile("^(?:" + src[3:] + ")$")
		if err != nil {
			return p, fmt.Errorf("invalid regular expression %q: %v", src[3:], err)
		}
		p.re = re
	case strings.HasPrefix(src, "semver:"):
		c, err := semver.NewConstraint(strings.TrimSpace(src[7:]))
		if err != nil {
			return p, fmt.Errorf("invalid semver constraint %q: %v", src[7:], err)
		}
		p.sv = c
	default:
		if !doublestar.ValidatePattern(src) {
			return p, fmt.Errorf("invalid glob %q", src)
		}
		p.glob = src
		if !strings.ContainsAny(src, "*?[]{}\\") {
			p.kind, p.exact = kindExact, src
		} else if rest, ok := strings.CutSuffix(src, "*"); ok && !strings.ContainsAny(rest, "*?[]{}\\") && !strings.HasSuffix(rest, "*") {
			p.kind, p.prefix = kindPrefix, rest
		}
	}
	return p, nil
}

const (
	kindGlob = iota
	kindExact
	kindPrefix // "pr-*": the prefix, then anything but a slash
)

// Match reports whether s matches.
func (p Pattern) Match(s string) bool {
	switch p.kind {
	case kindExact:
		return s == p.exact
	case kindPrefix:
		return strings.HasPrefix(s, p.prefix) && !strings.Contains(s[len(p.prefix):], "/")
	}
	switch {
	case p.re != nil:
		return p.re.MatchString(s)
	case p.sv != nil:
		v, err := parseVersion(s)
		return err == nil && p.sv.Check(v)
	case p.glob != "":
		ok, _ := doublestar.Match(p.glob, s)
		return ok
	}
	return false
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.src }

// LooksLikeRegex reports a glob that was probably meant as a regular
// expression (lint warning): globs rarely contain these.
func (p Pattern) LooksLikeRegex() bool {
	return p.glob != "" && strings.ContainsAny(p.glob, "^$+()|\\")
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
