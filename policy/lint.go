package policy

import "fmt"

// Seen is what a plan listed for one policy: package names, and the tags
// and version names of their versions.
type Seen struct {
	Packages []string
	Tags     []string
	Versions []string
}

// LintPlan returns warnings about p's patterns that match nothing in what a
// plan saw: most often a typo that silently turns a rule off. Patterns are
// named by key path, as in validate.
func (p *Policy) LintPlan(s Seen) []string {
	l := p.NewPlanLint()
	for _, name := range s.Packages {
		l.Package(name)
	}
	l.Version("", s.Tags) // tags and versions are matched each against its own patterns
	for _, v := range s.Versions {
		l.Version(v, nil)
	}
	return l.Warnings()
}

// PlanLint is LintPlan for a plan seen a package at a time: it remembers
// which patterns matched, not what was seen, so it holds nothing that
// grows with the organization.
type PlanLint struct {
	pats []lintPattern
	// open counts the patterns of each kind not matched yet, so that what
	// has matched everything costs nothing more.
	open [3]int
}

type lintKind int

const (
	lintPackage lintKind = iota
	lintTag
	lintVersion
)

var lintWhat = [...]string{lintPackage: "package", lintTag: "tag", lintVersion: "version"}

type lintPattern struct {
	path    string
	pat     Pattern
	kind    lintKind
	matched bool
}

// NewPlanLint starts linting a plan of p.
func (p *Policy) NewPlanLint() *PlanLint {
	l := &PlanLint{}
	add := func(path string, ps Patterns, kind lintKind) {
		for i, pat := range ps {
			l.pats = append(l.pats, lintPattern{path: fmt.Sprintf("%s[%d]", path, i), pat: pat, kind: kind})
			l.open[kind]++
		}
	}
	add("select.packages", p.Select.Packages, lintPackage)
	add("protect.tags", p.Protect.Tags, lintTag)
	add("protect.versions", p.Protect.Versions, lintVersion)
	for _, group := range []struct {
		kind  string
		rules []*Rule
	}{{"keep", p.Keep}, {"delete", p.Delete}} {
		for i, r := range group.rules {
			path := fmt.Sprintf("%s[%d]", group.kind, i)
			add(path+".tags", r.Tags, lintTag)
			add(path+".versions", r.Versions, lintVersion)
		}
	}
	return l
}

// Package records a package the plan listed.
func (l *PlanLint) Package(name string) { l.see(lintPackage, name) }

// Version records a version the plan listed: its name and its tags. An
// empty name records only the tags.
func (l *PlanLint) Version(name string, tags []string) {
	if name != "" {
		l.see(lintVersion, name)
	}
	for _, t := range tags {
		if l.open[lintTag] == 0 {
			break
		}
		l.see(lintTag, t)
	}
}

func (l *PlanLint) see(kind lintKind, s string) {
	if l.open[kind] == 0 {
		return
	}
	for i := range l.pats {
		lp := &l.pats[i]
		if lp.kind == kind && !lp.matched && lp.pat.Match(s) {
			lp.matched = true
			l.open[kind]--
		}
	}
}

// Warnings lists the patterns that matched nothing seen, in the order of
// the policy's keys.
func (l *PlanLint) Warnings() []string {
	var out []string
	for _, lp := range l.pats {
		if !lp.matched {
			out = append(out, fmt.Sprintf("%s: %q matches no %s in this plan", lp.path, lp.pat.String(), lintWhat[lp.kind]))
		}
	}
	return out
}
