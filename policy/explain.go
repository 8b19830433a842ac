package policy

import (
	"fmt"
	"strings"
	"time"
)

// Step is one step of the decision order as it applied to one version.
type Step struct {
	Step    string // e.g. "protect.tags", "keep[recent-main]", "floor.keep_at_least"
	Matched bool
	Detail  string
	Decided bool // this step made the final decision
}

// Explain walks the decision order for the version with id among versions
// and says at each step whether it applied; the step that decided is marked.
// The final decision is Decide's, so Explain can never disagree with a plan
// (apart from max_deletes_per_run, which spans packages; see ApplyRunLimit).
func (p *Policy) Explain(versions []Version, id int64, now time.Time, facts Facts) ([]Step, Decision, error) {
	ds := p.Decide(versions, now, facts)
	idx := -1
	for i, d := range ds {
		if d.Version.ID == id {
			idx = i
		}
	}
	if idx < 0 {
		return nil, Decision{}, fmt.Errorf("version %d is not among the package's %d active versions", id, len(versions))
	}
	final := ds[idx]
	v := *final.Version
	vs := make([]*Version, len(ds))
	for i := range ds {
		vs[i] = ds[i].Version
	}
	container := p.Select.IsContainer()
	var steps []Step
	add := func(step string, matched bool, detail string, rule string) {
		steps = append(steps, Step{Step: step, Matched: matched, Detail: detail, Decided: matched && final.Rule == rule})
	}
	has := func(ps Patterns) string {
		if len(ps) == 0 {
			return "not set"
		}
		return patternList(ps)
	}
	invalid := p.invalidTimes(vs, now)
	var timeDetail string
	if invalid != nil && invalid[indexOf(vs, v.ID)] != "" {
		timeDetail = invalid[indexOf(vs, v.ID)]
	} else {
		timeDetail = "created " + age(now, v.CreatedAt) + " ago: a known age"
	}
	add("valid-time", final.Rule == RuleInvalidTime, timeDetail, RuleInvalidTime)
	add("protect.tags", len(p.Protect.Tags) > 0 && p.Protect.Tags.MatchAny(v.Tags),
		fmt.Sprintf("%s against tags %s", has(p.Protect.Tags), tagsOrNone(v.Tags)), RuleProtectedTag)
	add("protect.versions", len(p.Protect.Versions) > 0 && p.Protect.Versions.Match(v.Name),
		fmt.Sprintf("%s against %q", has(p.Protect.Versions), v.Name), RuleProtectedVersion)
	newer := p.Protect.NewerThan > 0 && now.Sub(v.CreatedAt) < time.Duration(p.Protect.NewerThan)
	detail := "not set"
	if p.Protect.NewerThan > 0 {
		detail = fmt.Sprintf("created %s ago; protect.newer_than %s", age(now, v.CreatedAt), p.Protect.NewerThan)
	}
	add("protect.newer_than", newer, detail, RuleProtectedNewer)
	refused := facts.DownloadLimited != nil && facts.DownloadLimited(v.ID)
	add("download-limit", refused, map[bool]string{true: "GitHub refused to delete it before (public, over 5,000 downloads)", false: "never refused by GitHub"}[refused], RuleDownloadLimit)
	for _, group := range []struct {
		kind  string
		rules []*Rule
	}{{"keep", p.Keep}, {"delete", p.Delete}} {
		for _, r := range group.rules {
			m := r.matches(vs, now, container, invalid)[indexOf(vs, v.ID)]
			d := r.reason(Action(group.kind), v, now)
			if !m {
				d = "does not match: " + r.whyNot(v, now, container)
			}
			add(fmt.Sprintf("%s[%s]", group.kind, r.Name), m, d, group.kind+":"+r.Name)
		}
	}
	add("no-rule", final.Rule == RuleNoRule, "kept when no keep or delete rule matches", RuleNoRule)
	graphDetail := "not a container package, or nothing to delete: manifests not read"
	switch {
	case facts.Unreadable != "":
		graphDetail = "manifest " + short(facts.Unreadable) + " could not be read: the package is kept whole"
	case facts.Manifests != nil:
		graphDetail = "manifests read: a version a kept one refers to is kept; one only deleted versions refer to goes with them"
	}
	graphRule := final.Rule
	if !strings.HasPrefix(graphRule, RuleReferencedBy) && !strings.HasPrefix(graphRule, RuleOrphanedBy) && graphRule != RuleManifestUnreadable {
		graphRule = "-"
	} else {
		graphDetail = final.Reason
	}
	add("graph", graphRule != "-", graphDetail, graphRule)
	rank := indexOf(vs, v.ID) + 1
	add("floor.keep_at_least", final.Rule == RuleProtectedKeepLeast,
		fmt.Sprintf("newest-first rank %d of %d; keep_at_least %d", rank, len(vs), p.Protect.KeepAtLeast), RuleProtectedKeepLeast)
	add("floor.last-version", final.Rule == RuleLastVersion, "GitHub refuses to delete a package's last version, and a container's last tagged version", RuleLastVersion)
	cb := "not set"
	if p.Limits.MaxDeletePercent > 0 {
		cb = fmt.Sprintf("limits.max_delete_percent %g", p.Limits.MaxDeletePercent)
	}
	add("limits.max_delete_percent", final.Rule == RuleCircuitBreaker, cb, RuleCircuitBreaker)
	run := "not set"
	if p.Limits.MaxDeletesPerRun > 0 {
		run = fmt.Sprintf("limits.max_deletes_per_run %d spans every package of the policy: a plan may defer this version", p.Limits.MaxDeletesPerRun)
	}
	steps = append(steps, Step{Step: "limits.max_deletes_per_run", Detail: run})
	return steps, final, nil
}

// whyNot names the first condition of r that v fails.
func (r *Rule) whyNot(v Version, now time.Time, container bool) string {
	one := func(q *Rule) bool { return q.matchVersion(v, now, container) }
	checks := []struct {
		set  bool
		only *Rule
		say  string
	}{
		{len(r.Tags) > 0, &Rule{Tags: r.Tags}, "no tag matches " + patternList(r.Tags)},
		{len(r.ExcludeTags) > 0, &Rule{ExcludeTags: r.ExcludeTags}, "a tag matches exclude_tags " + patternList(r.ExcludeTags)},
		{r.Untagged != nil, &Rule{Untagged: r.Untagged}, fmt.Sprintf("untagged is %v but the version has tags %s", boolOf(r.Untagged), tagsOrNone(v.Tags))},
		{len(r.Versions) > 0, &Rule{Versions: r.Versions}, fmt.Sprintf("%q does not match %s", v.Name, patternList(r.Versions))},
		{r.Prerelease != nil, &Rule{Prerelease: r.Prerelease}, fmt.Sprintf("prerelease is %v", boolOf(r.Prerelease))},
		{r.Semver != nil, &Rule{Semver: r.Semver}, "does not satisfy semver " + r.Semver.String()},
		{r.OlderThan > 0, &Rule{OlderThan: r.OlderThan, AgeBasis: r.AgeBasis}, fmt.Sprintf("not older than %s", r.OlderThan)},
		{r.NewerThan > 0, &Rule{NewerThan: r.NewerThan, AgeBasis: r.AgeBasis}, fmt.Sprintf("not newer than %s", r.NewerThan)},
	}
	for _, c := range checks {
		if c.set && !one(c.only) {
			return c.say
		}
	}
	if r.MostRecent != nil {
		return fmt.Sprintf("not among the %d most recent versions the rule selects", *r.MostRecent)
	}
	return "no condition fails"
}

func boolOf(b *bool) bool { return b != nil && *b }

func tagsOrNone(tags []string) string {
	if len(tags) == 0 {
		return "(none)"
	}
	return "[" + strings.Join(tags, ", ") + "]"
}

func indexOf(vs []*Version, id int64) int {
	for i, v := range vs {
		if v.ID == id {
			return i
		}
	}
	return -1
}
