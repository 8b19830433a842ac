package policy

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// StepInfo describes one step of the decision order (see Steps).
type StepInfo struct {
	// Number is the step's place in the order, from 1.
	Number int
	// Name is how reports, explain and the docs name the step.
	Name string
	// Description says in one line what the step does.
	Description string
	// Rules are the rule ids the step can set; a family is written with a
	// placeholder argument, as keep:<name>.
	Rules []RuleID
}

// Steps returns the decision order: Decide runs steps 1 to 10 on each
// package, ApplyRunLimit runs the last across the packages of a policy run,
// and Explain walks them all. The result is a copy.
func Steps() []StepInfo {
	out := make([]StepInfo, len(decisionOrder))
	for i, s := range decisionOrder {
		out[i] = s.StepInfo
		out[i].Rules = slices.Clone(s.Rules)
	}
	return out
}

// step is one entry of the decision order: what it is, how it decides a
// package and how it explains one version.
type step struct {
	StepInfo
	// apply runs the step on one package's decisions. It is nil for
	// run-cap, which spans packages (ApplyRunLimit).
	apply func(*pkgState)
	// explain returns the step's rows for one version: one, or one per
	// part (protect.tags) or rule (keep[main]).
	explain func(*explanation) []Step
}

// decisionOrder is the one place the order is written. A step may only
// change what earlier steps left undecided, or turn a deletion into a
// keep, except graph, which may delete a version no rule matched
// (orphaned-by) along with the deleted version it belongs to.
var decisionOrder = [...]step{
	{StepInfo{1, "listing", "a package whose listing changed while it was paged is kept whole, and no other step runs",
		[]RuleID{RuleListingChanged}}, applyListing, explainListing},
	{StepInfo{2, "dates", "a version whose created_at (or updated_at, when a rule ages by it) is missing, unreadable or in the future is kept: its age is unknown",
		[]RuleID{RuleInvalidTime}}, applyDates, explainDates},
	{StepInfo{3, "protect", "protect.tags, protect.versions and protect.newer_than keep what they match",
		[]RuleID{RuleProtectedTag, RuleProtectedVersion, RuleProtectedNewer}}, applyProtect, explainProtect},
	{StepInfo{4, "download-limit", "a version GitHub refused to delete before (public, over 5,000 downloads) is kept without asking again",
		[]RuleID{RuleDownloadLimit}}, applyDownloadLimit, explainDownloadLimit},
	{StepInfo{5, "keep", "keep rules keep what they match; of several, the first by name is reported",
		[]RuleID{KeepRuleID("<name>")}}, applyKeep, explainKeep},
	{StepInfo{6, "delete", "delete rules delete what they match and no earlier step kept; of several, the first by name is reported",
		[]RuleID{DeleteRuleID("<name>")}}, applyDelete, explainDelete},
	{StepInfo{7, "no-rule", "a version no rule matches is kept",
		[]RuleID{RuleNoRule}}, applyNoRule, explainNoRule},
	{StepInfo{8, "graph", "container manifests: what a kept version refers to is kept, what only deleted versions refer to goes with them; an unreadable manifest keeps the package whole",
		[]RuleID{ReferencedByRuleID("<digest>"), OrphanedByRuleID("<digest>"), RuleManifestUnreadable}}, applyGraph, explainGraph},
	{StepInfo{9, "floors", "protect.keep_at_least keeps the newest versions, the last version and a container's last tagged version are kept, and so is what they refer to",
		[]RuleID{RuleProtectedKeepLeast, RuleLastVersion, ReferencedByRuleID("<digest>")}}, applyFloors, explainFloors},
	{StepInfo{10, "breaker", "limits.max_delete_percent: a plan that would delete too large a share of the package keeps it whole",
		[]RuleID{RuleCircuitBreaker}}, applyBreaker, explainBreaker},
	{StepInfo{11, "run-cap", "limits.max_deletes_per_run: across the packages of a policy run the oldest deletions go first, the rest are deferred",
		[]RuleID{RuleDeferred}}, nil, explainRunCap},
}

// pkgState is one package's decisions in the making, shared by the steps.
type pkgState struct {
	p         *Policy
	now       time.Time
	facts     Facts
	container bool

	ds []Decision // newest first
	vs []*Version // vs[i] is ds[i].Version: the rules read versions without copying them
	// by is the step that last set ds[i] (0: none yet); a step decides
	// only what no earlier step did, and Explain marks the step that did.
	by   []uint8
	cur  uint8 // the step running
	stop bool  // a step decided the whole package: the later ones do not run

	// invalid says why a version's age is unknown (dates; nil when every
	// age is known): such a version matches no rule and takes no slot.
	invalid []string
	// The graph step's maps, nil when it read no manifests: version name
	// to index, a digest to the versions depending on it, a version to the
	// subjects it is about (see dependents).
	byName         map[string]int
	deps, subjects map[string][]string
}

// newPkgState sorts versions newest first; each decision points at its
// element of versions.
func newPkgState(p *Policy, versions []Version, now time.Time, facts Facts) *pkgState {
	// Pointers sort faster than Decisions or Versions, a million of them.
	vs := make([]*Version, len(versions))
	for i := range versions {
		vs[i] = &versions[i]
	}
	slices.SortFunc(vs, func(a, b *Version) int { return compareNewest(a, b, "created_at") })
	ds := make([]Decision, len(vs))
	for i, v := range vs {
		ds[i].Version = v
	}
	return &pkgState{p: p, now: now, facts: facts, container: p.Select.IsContainer(), ds: ds, vs: vs, by: make([]uint8, len(vs))}
}

// set decides version i in the running step. A kept version has no
// parents to be deleted after.
func (st *pkgState) set(i int, a Action, rule RuleID, reason string) {
	d := &st.ds[i]
	d.Action, d.Rule, d.Reason = a, rule, reason
	if a == Keep {
		d.Parents = nil
	}
	st.by[i] = st.cur
}

// decide runs the steps of the decision order that apply per package.
func (p *Policy) decide(versions []Version, now time.Time, facts Facts) *pkgState {
	st := newPkgState(p, versions, now, facts)
	for i := range decisionOrder {
		s := &decisionOrder[i]
		if s.apply == nil {
			continue
		}
		st.cur = uint8(s.Number)
		s.apply(st)
		if st.stop {
			break
		}
	}
	return st
}

// 1. A listing that changed while it was paged may miss versions (an index
// whose children would then look unreferenced): keep it all.
func applyListing(st *pkgState) {
	if st.facts.ListingChanged == "" {
		return
	}
	for i := range st.ds {
		st.set(i, Keep, RuleListingChanged, st.facts.ListingChanged)
	}
	st.stop = true
}

// 2. A version whose age is unknown is kept, and it takes no most_recent
// or keep_at_least slot from a version whose age is known.
func applyDates(st *pkgState) {
	st.invalid = st.p.invalidTimes(st.vs, st.now)
	for i, why := range st.invalid {
		if why != "" {
			st.set(i, Keep, RuleInvalidTime, why)
		}
	}
}

// 3. Protect: the first protection that matches is reported.
func applyProtect(st *pkgState) {
	pr := &st.p.Protect
	for i, v := range st.vs {
		if st.by[i] != 0 {
			continue
		}
		switch {
		case pr.matchesTag(v):
			st.set(i, Keep, RuleProtectedTag, "tag "+strconv.Quote(firstMatch(pr.Tags, v.Tags))+" is protected by protect.tags")
		case pr.matchesVersion(v):
			st.set(i, Keep, RuleProtectedVersion, "version "+strconv.Quote(v.Name)+" is protected by protect.versions")
		case pr.isNew(v, st.now):
			st.set(i, Keep, RuleProtectedNewer, "created "+age(st.now, v.CreatedAt)+" ago, within protect.newer_than "+pr.NewerThan.String())
		}
	}
}

func (pr *Protect) matchesTag(v *Version) bool {
	return len(pr.Tags) > 0 && pr.Tags.MatchAny(v.Tags)
}

func (pr *Protect) matchesVersion(v *Version) bool {
	return len(pr.Versions) > 0 && pr.Versions.Match(v.Name)
}

func (pr *Protect) isNew(v *Version, now time.Time) bool {
	return pr.NewerThan > 0 && now.Sub(v.CreatedAt) < time.Duration(pr.NewerThan)
}

// 4. What GitHub refused to delete is not asked again.
func applyDownloadLimit(st *pkgState) {
	if st.facts.DownloadLimited == nil {
		return
	}
	for i, v := range st.vs {
		if st.by[i] == 0 && st.facts.DownloadLimited(v.ID) {
			st.set(i, Keep, RuleDownloadLimit, "GitHub refused to delete it before: a public version with more than 5,000 downloads")
		}
	}
}

// 5. Keep rules.
func applyKeep(st *pkgState) { st.applyRules(st.p.Keep, Keep) }

// 6. Delete rules.
func applyDelete(st *pkgState) { st.applyRules(st.p.Delete, Delete) }

// applyRules decides by rules what is still undecided. Each rule's matches
// are computed over all versions (most_recent ranks before anything is
// deleted); when several rules match, the alphabetically first name is
// reported, so that reordering rules changes nothing.
func (st *pkgState) applyRules(rules []*Rule, a Action) {
	if len(rules) == 0 {
		return
	}
	best := make([]*Rule, len(st.vs))
	for _, r := range rules {
		for i, m := range r.matches(st.vs, st.now, st.container, st.invalid) {
			if m && st.by[i] == 0 && (best[i] == nil || r.Name < best[i].Name) {
				best[i] = r
			}
		}
	}
	for i, r := range best {
		if r != nil {
			st.set(i, a, r.label(a), r.reason(a, st.vs[i], st.now))
		}
	}
}

// 7. What no rule matches is kept.
func applyNoRule(st *pkgState) {
	for i := range st.ds {
		if st.by[i] == 0 {
			st.set(i, Keep, RuleNoRule, "no keep or delete rule matches")
		}
	}
}

// 8. Graph: never break a multi-platform image or orphan a signature.
func applyGraph(st *pkgState) {
	switch {
	case !st.container:
	case st.facts.Unreadable != "":
		for i := range st.ds {
			if st.ds[i].Action == Delete {
				st.set(i, Keep, RuleManifestUnreadable, "manifest "+short(st.facts.Unreadable)+" could not be read: the package is kept whole this run; was "+string(st.ds[i].Rule))
			}
		}
	case st.facts.Manifests != nil:
		st.byName = make(map[string]int, len(st.ds))
		for i := range st.ds {
			st.byName[st.ds[i].Version.Name] = i
		}
		st.deps, st.subjects = dependents(st.vs, st.facts.Manifests)
		st.graph()
	}
}

// 9. Floors: whatever the rules say, the newest keep_at_least versions,
// the last version and a container's last tagged version stay, because
// GitHub refuses to delete the last ones.
func applyFloors(st *pkgState) {
	st.keepAtLeast()
	st.rescueNewest(func(*Version) bool { return true },
		"the newest version would be the last: GitHub refuses to delete a package's last version")
	if st.container {
		st.rescueNewest(func(v *Version) bool { return len(v.Tags) > 0 },
			"the newest tagged version would be the last tagged one: GitHub refuses to delete it")
	}
	if st.deps != nil {
		// A floor may have rescued an index whose children were set to go:
		// they stay with it.
		st.keepClosure()
	}
}

// keepAtLeast keeps the newest protect.keep_at_least versions of known age.
func (st *pkgState) keepAtLeast() {
	k := st.p.Protect.KeepAtLeast
	// vs is newest first, so the first candidates found are the newest.
	for i, n := 0, 0; i < len(st.vs) && n < k; i++ {
		if st.invalid != nil && st.invalid[i] != "" {
			continue // its age is unknown: it is not among the newest
		}
		n++
		if st.ds[i].Action == Delete {
			st.set(i, Keep, RuleProtectedKeepLeast, "one of the "+strconv.Itoa(k)+" newest versions (protect.keep_at_least); "+st.ds[i].Reason)
		}
	}
}

// rescueNewest keeps the newest version want selects when every such
// version would be deleted.
func (st *pkgState) rescueNewest(want func(*Version) bool, reason string) {
	for i, v := range st.vs {
		if st.ds[i].Action == Keep && want(v) {
			return
		}
	}
	for i, v := range st.vs {
		if st.ds[i].Action == Delete && want(v) {
			st.set(i, Keep, RuleLastVersion, reason)
			return
		}
	}
}

// 10. Circuit breaker: a plan that deletes too large a share of a package
// more likely means a wrong rule than real garbage.
func applyBreaker(st *pkgState) {
	pct := st.p.Limits.MaxDeletePercent
	if pct <= 0 || len(st.vs) == 0 {
		return
	}
	n := 0
	for _, d := range st.ds {
		if d.Action == Delete {
			n++
		}
	}
	share := float64(n) * 100 / float64(len(st.vs))
	if share <= pct {
		return
	}
	reason := fmt.Sprintf("the plan would delete %d of %d versions (%.0f%%), over limits.max_delete_percent %g: package left whole", n, len(st.vs), share, pct)
	for i := range st.ds {
		if st.ds[i].Action == Delete {
			st.set(i, Keep, RuleCircuitBreaker, reason)
		}
	}
}
