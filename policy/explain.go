package policy

import (
	"fmt"
	"strings"
	"time"
)

// Step is one row of Explain: how one step of the decision order (see
// Steps), or one part of it, applied to one version.
type Step struct {
	// Number is the step of Steps the row belongs to; several rows may
	// share one (protect.tags and protect.versions are step 3).
	Number int `json:"number"`
	// Step names the row: the step's name ("dates", "graph"), or the step
	// and its part ("protect.tags", "floors.keep_at_least") or rule
	// ("keep[recent-main]").
	Step string `json:"step"`
	// Matched says the row's condition holds for the version, whether or
	// not another step decided it.
	Matched bool `json:"matched"`
	// Detail says why, for people: the value against the condition, or
	// the reason of the decision.
	Detail  string `json:"detail"`
	Decided bool   `json:"decided"` // this row made the final decision
}

// Explain walks the decision order for the version with id among versions
// and says at each step whether it applied; the row that decided is marked.
// The final decision is Decide's, so Explain can never disagree with a plan
// (apart from max_deletes_per_run, which spans packages; see ApplyRunLimit).
func (p *Policy) Explain(versions []Version, id int64, now time.Time, facts Facts) ([]Step, Decision, error) {
	st := p.decide(versions, now, facts)
	i := -1
	for j, v := range st.vs {
		if v.ID == id {
			i = j
		}
	}
	if i < 0 {
		return nil, Decision{}, fmt.Errorf("version %d is not among the package's %d active versions", id, len(versions))
	}
	if st.stop {
		// The listing step stopped Decide before dates: the rows need them anyway.
		st.invalid = p.invalidTimes(st.vs, now)
	}
	e := &explanation{pkgState: st, i: i, v: st.vs[i], final: st.ds[i]}
	var rows []Step
	for k := range decisionOrder {
		s := &decisionOrder[k]
		e.step = s
		rows = append(rows, s.explain(e)...)
	}
	return rows, e.final, nil
}

// explanation is what the steps' explain functions read: the package as
// Decide left it, and the version explained.
type explanation struct {
	*pkgState
	i     int      // the version's index in ds and vs
	v     *Version // vs[i]
	final Decision // ds[i]
	step  *step    // the step explaining
}

// row is a row of the step explaining. It decided when it matched, its
// step is the last that set the version, and it names the final rule.
func (e *explanation) row(name string, matched bool, detail string, rule RuleID) Step {
	return Step{Number: e.step.Number, Step: name, Matched: matched, Detail: detail,
		Decided: matched && int(e.by[e.i]) == e.step.Number && e.final.Rule == rule}
}

// one is the step's single row, named as the step.
func (e *explanation) one(matched bool, detail string, rule RuleID) []Step {
	return []Step{e.row(e.step.Name, matched, detail, rule)}
}

func explainListing(e *explanation) []Step {
	changed := e.facts.ListingChanged != ""
	detail := "the listing did not change while it was paged"
	if changed {
		detail = e.facts.ListingChanged
	}
	return e.one(changed, detail, RuleListingChanged)
}

func explainDates(e *explanation) []Step {
	detail := "created " + age(e.now, e.v.CreatedAt) + " ago: a known age"
	if e.invalid != nil && e.invalid[e.i] != "" {
		detail = e.invalid[e.i]
	}
	return e.one(e.final.Rule == RuleInvalidTime, detail, RuleInvalidTime)
}

func explainProtect(e *explanation) []Step {
	pr, v := &e.p.Protect, e.v
	newer := "not set"
	if pr.NewerThan > 0 {
		newer = fmt.Sprintf("created %s ago; protect.newer_than %s", age(e.now, v.CreatedAt), pr.NewerThan)
	}
	return []Step{
		e.row("protect.tags", pr.matchesTag(v), fmt.Sprintf("%s against tags %s", patternsOrNotSet(pr.Tags), tagsOrNone(v.Tags)), RuleProtectedTag),
		e.row("protect.versions", pr.matchesVersion(v), fmt.Sprintf("%s against %q", patternsOrNotSet(pr.Versions), v.Name), RuleProtectedVersion),
		e.row("protect.newer_than", pr.isNew(v, e.now), newer, RuleProtectedNewer),
	}
}

func explainDownloadLimit(e *explanation) []Step {
	if e.facts.DownloadLimited != nil && e.facts.DownloadLimited(e.v.ID) {
		return e.one(true, "GitHub refused to delete it before (public, over 5,000 downloads)", RuleDownloadLimit)
	}
	return e.one(false, "never refused by GitHub", RuleDownloadLimit)
}

func explainKeep(e *explanation) []Step { return e.rules(e.p.Keep, Keep) }

func explainDelete(e *explanation) []Step { return e.rules(e.p.Delete, Delete) }

// rules returns a row per rule, keep[name] or delete[name], or one row
// saying there is none.
func (e *explanation) rules(rules []*Rule, a Action) []Step {
	if len(rules) == 0 {
		return e.one(false, "no "+string(a)+" rules", "")
	}
	rows := make([]Step, 0, len(rules))
	for _, r := range rules {
		m := r.matches(e.vs, e.now, e.container, e.invalid)[e.i]
		detail := r.reason(a, e.v, e.now)
		if !m {
			detail = "does not match: " + r.whyNot(e.v, e.now, e.container)
		}
		rows = append(rows, e.row(string(a)+"["+r.Name+"]", m, detail, r.label(a)))
	}
	return rows
}

func explainNoRule(e *explanation) []Step {
	return e.one(e.final.Rule == RuleNoRule, "kept when no keep or delete rule matches", RuleNoRule)
}

func explainGraph(e *explanation) []Step {
	if k := e.final.Rule.Kind(); int(e.by[e.i]) == e.step.Number && (k == RuleReferencedBy || k == RuleOrphanedBy || k == RuleManifestUnreadable) {
		return e.one(true, e.final.Reason, e.final.Rule)
	}
	detail := "not a container package, or nothing to delete: manifests not read"
	switch {
	case e.facts.Unreadable != "":
		detail = "manifest " + short(e.facts.Unreadable) + " could not be read: the package is kept whole"
	case e.facts.Manifests != nil:
		detail = "manifests read: a version a kept one refers to is kept; one only deleted versions refer to goes with them"
	}
	return e.one(false, detail, "")
}

func explainFloors(e *explanation) []Step {
	ref := e.row("floors.referenced-by", false, "what a version kept by a floor refers to is kept with it (container manifests)", "")
	if int(e.by[e.i]) == e.step.Number && e.final.Rule.Kind() == RuleReferencedBy {
		ref = e.row("floors.referenced-by", true, e.final.Reason, e.final.Rule)
	}
	return []Step{
		e.row("floors.keep_at_least", e.final.Rule == RuleProtectedKeepLeast,
			fmt.Sprintf("newest-first rank %d of %d; keep_at_least %d", e.i+1, len(e.vs), e.p.Protect.KeepAtLeast), RuleProtectedKeepLeast),
		e.row("floors.last-version", e.final.Rule == RuleLastVersion,
			"GitHub refuses to delete a package's last version, and a container's last tagged version", RuleLastVersion),
		ref,
	}
}

func explainBreaker(e *explanation) []Step {
	detail := "not set"
	if pct := e.p.Limits.MaxDeletePercent; pct > 0 {
		detail = fmt.Sprintf("limits.max_delete_percent %g", pct)
	}
	return e.one(e.final.Rule == RuleCircuitBreaker, detail, RuleCircuitBreaker)
}

// explainRunCap never marks a row: the cap spans the packages of a run,
// and Explain sees one.
func explainRunCap(e *explanation) []Step {
	detail := "not set"
	if n := e.p.Limits.MaxDeletesPerRun; n > 0 {
		detail = fmt.Sprintf("limits.max_deletes_per_run %d spans every package of the policy: a plan may defer this version", n)
	}
	return e.one(false, detail, RuleDeferred)
}

// whyNot names the first condition of r that v fails.
func (r *Rule) whyNot(v *Version, now time.Time, container bool) string {
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

// patternsOrNotSet lists ps for a detail, or says they are not set.
func patternsOrNotSet(ps Patterns) string {
	if len(ps) == 0 {
		return "not set"
	}
	return patternList(ps)
}

func boolOf(b *bool) bool { return b != nil && *b }

func tagsOrNone(tags []string) string {
	if len(tags) == 0 {
		return "(none)"
	}
	return "[" + strings.Join(tags, ", ") + "]"
}
