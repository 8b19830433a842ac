package policytest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/snapshot"
)

// Suite is a tests file bound to a config: each case with its policy and,
// when it names one, its synthetic package and version. Binding finds every
// mistake a file can be checked for without planning (an unknown policy or
// rule, a version a synthetic package does not have), so that a run only
// fails on what the policies decide.
type Suite struct {
	File   *File
	Config *policy.Config
	cases  []*bound
	// synth are the synthetic packages by packageKey, and ownerType the
	// owner type each is listed under.
	synth     map[string]*Package
	ownerType map[*Package]string
	// ids are the synthetic versions' ids and snap the snapshot the run
	// plans from, once Snapshot has made it.
	ids  map[*Version]int64
	snap *snapshot.Snapshot
	// Source names where the packages that are not synthetic were read
	// (a snapshot file, or GitHub), for the message of a case whose
	// package is not there; "" says "the snapshot".
	Source string
}

// bound is a case with what binding found for it.
type bound struct {
	*Case
	pol *policy.Policy
	// synth is the synthetic package the case names, and version its
	// version; nil for a package read from GitHub or a snapshot.
	synth   *Package
	version *Version
}

// owner is the owner whose package the case is about: the policy's.
func (b *bound) owner() string { return b.pol.Select.Owner }

// Bind checks f against cfg's policies. Errors are located in the tests
// file, as a *policy.Errors.
func Bind(f *File, cfg *policy.Config) (*Suite, error) {
	s := &Suite{File: f, Config: cfg, synth: map[string]*Package{}, ownerType: map[*Package]string{}}
	d := &decoder{file: f.Path, errs: &policy.Errors{}}
	for _, p := range f.Packages {
		s.synth[packageKey(p.Owner, p.Type, p.Name)] = p
	}
	for _, c := range f.Cases {
		if b := s.bindCase(d, c); b != nil {
			s.cases = append(s.cases, b)
		}
	}
	for _, p := range f.Packages {
		s.ownerType[p] = s.bindOwnerType(d, p)
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// bindCase finds the case's policy, package and version; nil when the
// policy is unknown.
func (s *Suite) bindCase(d *decoder, c *Case) *bound {
	path := fmt.Sprintf("tests[%d]", c.Index)
	pol := s.policyOf(d, c, path)
	if pol == nil {
		return nil
	}
	b := &bound{Case: c, pol: pol}
	if c.Owner != "" && !strings.EqualFold(c.Owner, pol.Select.Owner) {
		d.add(c.pos("owner"), path+".owner", fmt.Sprintf("policy %s selects the packages of %s, got %s", pol.Name, quote(pol.Select.Owner), quote(c.Owner)))
	}
	if c.Rule != "" {
		if msg := checkRule(pol, c.Rule); msg != "" {
			d.add(c.pos("rule"), path+".rule", msg)
		}
	}
	s.bindPackage(d, b, path)
	return b
}

func (s *Suite) policyOf(d *decoder, c *Case, path string) *policy.Policy {
	pols := s.Config.Policies
	if c.Policy == "" {
		if len(pols) == 1 {
			return pols[0]
		}
		d.add(c.Pos, path, fmt.Sprintf("missing policy: the config has %d policies (%s)", len(pols), policyNames(pols)))
		return nil
	}
	if p := s.Config.Policy(c.Policy); p != nil {
		return p
	}
	d.add(c.pos("policy"), path+".policy", fmt.Sprintf("no policy %s in %s (%s)", quote(c.Policy), s.Config.File, policyNames(pols)))
	return nil
}

func policyNames(pols []*policy.Policy) string {
	names := make([]string, 0, len(pols))
	for _, p := range pols {
		names = append(names, p.Name)
		if len(names) == 10 && len(pols) > 10 {
			names = append(names, "…")
			break
		}
	}
	return strings.Join(names, ", ")
}

// bindPackage finds the synthetic package the case names, if any, and the
// version in it. A package declared under another type or owner than the
// policy's is a mistake: it would otherwise be looked for on GitHub.
func (s *Suite) bindPackage(d *decoder, b *bound, path string) {
	sel := b.pol.Select
	b.synth = s.synth[packageKey(sel.Owner, sel.PackageType, b.Package)]
	if b.synth == nil {
		for _, p := range s.File.Packages {
			if p.Name == b.Package {
				d.add(b.pos("package"), path+".package", fmt.Sprintf("the synthetic package %s is declared as a %s package of %s; policy %s selects the %s packages of %s",
					quote(p.Name), p.Type, cut(p.Owner, maxEcho), b.pol.Name, sel.PackageType, sel.Owner))
				return
			}
		}
		return
	}
	b.version = b.synth.find(b.Ref)
	if b.version == nil {
		d.add(b.pos(b.Ref.Kind), path+"."+b.Ref.Kind, fmt.Sprintf("the synthetic package %s/%s has no version with %s", b.synth.Owner, b.synth.Name, refQuoted(b.Ref)))
	}
}

// find returns the synthetic version r names, or nil. Container versions
// are named by their labels; ids only when written.
func (p *Package) find(r Ref) *Version {
	for _, v := range p.Versions {
		switch {
		case r.Kind == RefID && v.ID == r.ID,
			r.Kind == RefVersion && v.Name == r.Name,
			r.Kind == RefTag && slices.Contains(v.Tags, r.Name):
			return v
		}
	}
	return nil
}

func refQuoted(r Ref) string {
	if r.Kind == RefID {
		return r.String()
	}
	return r.Kind + " " + quote(r.Name)
}

// bindOwnerType is the owner type a synthetic package is listed under: as
// written, else that of the config's policies selecting its owner (org
// when none does). Written or not, it must be the owner type of every
// policy a case reads the package with.
func (s *Suite) bindOwnerType(d *decoder, p *Package) string {
	path := fmt.Sprintf("packages[%d]", p.Index)
	if p.OwnerType != "" {
		for _, b := range s.cases {
			if b.synth == p && b.pol.Select.OwnerType != p.OwnerType {
				d.add(p.pos("owner_type"), path+".owner_type", fmt.Sprintf("policy %s selects %s as owner_type %s, got %s", b.pol.Name, p.Owner, b.pol.Select.OwnerType, quote(p.OwnerType)))
				break
			}
		}
		return p.OwnerType
	}
	found := ""
	for _, pol := range s.Config.Policies {
		if !strings.EqualFold(pol.Select.Owner, p.Owner) {
			continue
		}
		if found != "" && found != pol.Select.OwnerType {
			d.add(p.Pos, path, fmt.Sprintf("the config's policies select %s both as org and as user: give owner_type", p.Owner))
			break
		}
		found = pol.Select.OwnerType
	}
	if found == "" {
		found = "org"
	}
	return found
}

// checkRule says what is wrong with an expected rule, or "" when pol can
// decide by it: a fixed rule label, keep:NAME or delete:NAME of one of its
// rules, a referenced-by or orphaned-by label (with or without a digest),
// or the bare name of one of its keep or delete rules.
func checkRule(pol *policy.Policy, rule string) string {
	id := policy.RuleID(rule)
	switch {
	case fixedRule(id):
		return ""
	case id == policy.RuleReferencedBy || id == policy.RuleOrphanedBy:
		return ""
	case id.Kind() == policy.RuleReferencedBy || id.Kind() == policy.RuleOrphanedBy:
		if !shortDigest.MatchString(id.Arg()) {
			return fmt.Sprintf("%s: name the digest as reports print it, sha256: and at least 12 hex digits, got %s", id.Kind(), quote(id.Arg()))
		}
		return ""
	case id.Kind() == policy.RuleKeep && hasRule(pol.Keep, id.Arg()):
		return ""
	case id.Kind() == policy.RuleDelete && hasRule(pol.Delete, id.Arg()):
		return ""
	case !strings.Contains(rule, ":") && (hasRule(pol.Keep, rule) || hasRule(pol.Delete, rule)):
		return ""
	}
	return fmt.Sprintf("policy %s cannot decide by %s (%s; or a label such as protected:tag, no-rule, deferred)", pol.Name, quote(rule), ruleNames(pol))
}

// shortDigest is a digest as a rule label may name it: whole, or cut to
// the 12 hex digits reports print.
var shortDigest = regexp.MustCompile(`^sha256:[0-9a-f]{12,64}$`)

// fixedRule reports whether id is one of the rule labels that carry no
// argument (protected:tag, no-rule, deferred…).
func fixedRule(id policy.RuleID) bool {
	for _, st := range policy.Steps() {
		for _, r := range st.Rules {
			if r == id && r.Kind() == r {
				return true
			}
		}
	}
	return false
}

func hasRule(rules []*policy.Rule, name string) bool {
	return slices.ContainsFunc(rules, func(r *policy.Rule) bool { return r.Name == name })
}

func ruleNames(pol *policy.Policy) string {
	names := func(rules []*policy.Rule) string {
		if len(rules) == 0 {
			return "none"
		}
		out := make([]string, len(rules))
		for i, r := range rules {
			out[i] = r.Name
		}
		return strings.Join(out, ", ")
	}
	return "keep rules: " + names(pol.Keep) + "; delete rules: " + names(pol.Delete)
}

// RuleMatches reports whether a decision's rule is the rule a case
// expects: the same label, or, for a bare rule name, the keep or delete
// rule of that name, or, for referenced-by or orphaned-by alone, that
// label with any digest.
func RuleMatches(want string, got policy.RuleID) bool {
	if want == "" || policy.RuleID(want) == got {
		return true
	}
	w := policy.RuleID(want)
	if (w == policy.RuleReferencedBy || w == policy.RuleOrphanedBy) && got.Kind() == w {
		return true
	}
	k := got.Kind()
	if (k == policy.RuleReferencedBy || k == policy.RuleOrphanedBy) && len(want) >= len(string(k))+len(":sha256:")+12 &&
		strings.HasPrefix(string(got), want) {
		return true // a digest as reports shorten it: 12 hex digits or more
	}
	return !strings.Contains(want, ":") && (k == policy.RuleKeep || k == policy.RuleDelete) && got.Arg() == want
}
