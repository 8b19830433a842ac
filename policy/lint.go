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
	var out []string
	check := func(path string, ps Patterns, against []string, what string) {
		for i, pat := range ps {
			if !(Patterns{pat}).MatchAny(against) {
				out = append(out, fmt.Sprintf("%s[%d]: %q matches no %s in this plan", path, i, pat.String(), what))
			}
		}
	}
	check("select.packages", p.Select.Packages, s.Packages, "package")
	check("protect.tags", p.Protect.Tags, s.Tags, "tag")
	check("protect.versions", p.Protect.Versions, s.Versions, "version")
	for _, group := range []struct {
		kind  string
		rules []*Rule
	}{{"keep", p.Keep}, {"delete", p.Delete}} {
		for i, r := range group.rules {
			path := fmt.Sprintf("%s[%d]", group.kind, i)
			check(path+".tags", r.Tags, s.Tags, "tag")
			check(path+".versions", r.Versions, s.Versions, "version")
		}
	}
	return out
}
