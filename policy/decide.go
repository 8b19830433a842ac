package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Version is what a decision needs to know about one package version.
type Version struct {
	ID        int64
	Name      string   // the version string; the manifest digest for containers
	Tags      []string // container tags; empty means untagged
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Action is keep or delete.
type Action string

// Actions.
const (
	Keep   Action = "keep"
	Delete Action = "delete"
)

// Rule labels that are not keep:<name> or delete:<name>.
const (
	RuleProtectedTag       = "protected:tag"
	RuleProtectedVersion   = "protected:version"
	RuleProtectedNewer     = "protected:newer_than"
	RuleProtectedKeepLeast = "protected:keep_at_least"
	RuleDownloadLimit      = "download-limit"
	RuleNoRule             = "no-rule"
	RuleLastVersion        = "last-version"
	RuleCircuitBreaker     = "circuit-breaker"
	RuleDeferred           = "deferred"
)

// Decision is the verdict on one version: the action, the rule or protection
// that decided it, and one human sentence saying why.
type Decision struct {
	Version Version
	Action  Action
	Rule    string
	Reason  string
}

// Facts is what earlier runs learned and a decision must respect.
type Facts struct {
	// DownloadLimited reports versions GitHub refused to delete because they
	// are public with more than 5,000 downloads; they are kept without asking again.
	DownloadLimited func(id int64) bool
}

// Decide returns a decision for every version of one package under p at now,
// newest first, following the fixed order of policy.md: protect, keep rules,
// delete rules, floors (keep_at_least, last version), circuit breaker. It is a
// pure function: the result depends neither on the order of rules nor on the
// order versions arrive in. The per-run cap is applied across packages by
// ApplyRunLimit.
func (p *Policy) Decide(versions []Version, now time.Time, facts Facts) []Decision {
	vs := append([]Version(nil), versions...)
	sortNewestFirst(vs, "created_at")
	ds := make([]Decision, len(vs))
	decided := make([]bool, len(vs))
	container := p.Select.IsContainer()
	for i, v := range vs {
		ds[i] = Decision{Version: v}
	}
	set := func(i int, a Action, rule, reason string) {
		ds[i].Action, ds[i].Rule, ds[i].Reason = a, rule, reason
		decided[i] = true
	}

	// 2. Protect.
	for i, v := range vs {
		switch {
		case len(p.Protect.Tags) > 0 && p.Protect.Tags.MatchAny(v.Tags):
			t := firstMatch(p.Protect.Tags, v.Tags)
			set(i, Keep, RuleProtectedTag, fmt.Sprintf("tag %q is protected by protect.tags", t))
		case len(p.Protect.Versions) > 0 && p.Protect.Versions.Match(v.Name):
			set(i, Keep, RuleProtectedVersion, fmt.Sprintf("version %q is protected by protect.versions", v.Name))
		case p.Protect.NewerThan > 0 && now.Sub(v.CreatedAt) < time.Duration(p.Protect.NewerThan):
			set(i, Keep, RuleProtectedNewer, fmt.Sprintf("created %s ago, within protect.newer_than %s", age(now, v.CreatedAt), p.Protect.NewerThan))
		case facts.DownloadLimited != nil && facts.DownloadLimited(v.ID):
			set(i, Keep, RuleDownloadLimit, "GitHub refused to delete it before: a public version with more than 5,000 downloads")
		}
	}

	// 3. Keep rules, then 4. delete rules. Each rule's matches are computed
	// over all versions first (most_recent ranks before anything is deleted);
	// when several rules match, the alphabetically first name is reported so
	// that reordering rules changes nothing.
	for _, kind := range []struct {
		rules  []*Rule
		action Action
	}{{p.Keep, Keep}, {p.Delete, Delete}} {
		best := make([]*Rule, len(vs))
		for _, r := range kind.rules {
			for i := range r.matches(vs, now, container) {
				if !decided[i] && (best[i] == nil || r.Name < best[i].Name) {
					best[i] = r
				}
			}
		}
		for i, r := range best {
			if r != nil {
				set(i, kind.action, string(kind.action)+":"+r.Name, r.reason(kind.action, vs[i], now))
			}
		}
	}
	for i := range vs {
		if !decided[i] {
			set(i, Keep, RuleNoRule, "no keep or delete rule matches")
		}
	}

	// 6. Floors. vs is newest first, so the first candidates found are the newest.
	if k := p.Protect.KeepAtLeast; k > 0 {
		for i := 0; i < len(vs) && i < k; i++ {
			if ds[i].Action == Delete {
				set(i, Keep, RuleProtectedKeepLeast, fmt.Sprintf("one of the %d newest versions (protect.keep_at_least); %s", k, ds[i].Reason))
			}
		}
	}
	rescueNewest := func(want func(Version) bool, reason string) {
		for i := range vs {
			if ds[i].Action == Keep && want(vs[i]) {
				return
			}
		}
		for i := range vs {
			if ds[i].Action == Delete && want(vs[i]) {
				set(i, Keep, RuleLastVersion, reason)
				return
			}
		}
	}
	rescueNewest(func(Version) bool { return true },
		"the newest version would be the last: GitHub refuses to delete a package's last version")
	if container {
		rescueNewest(func(v Version) bool { return len(v.Tags) > 0 },
			"the newest tagged version would be the last tagged one: GitHub refuses to delete it")
	}

	// 7. Circuit breaker: a plan that deletes too large a share of a package
	// more likely means a wrong rule than real garbage.
	if pct := p.Limits.MaxDeletePercent; pct > 0 && len(vs) > 0 {
		n := 0
		for _, d := range ds {
			if d.Action == Delete {
				n++
			}
		}
		share := float64(n) * 100 / float64(len(vs))
		if share > pct {
			reason := fmt.Sprintf("the plan would delete %d of %d versions (%.0f%%), over limits.max_delete_percent %g: package left whole", n, len(vs), share, pct)
			for i := range ds {
				if ds[i].Action == Delete {
					set(i, Keep, RuleCircuitBreaker, reason)
				}
			}
		}
	}
	return ds
}

// ApplyRunLimit caps the deletions of one policy run at max (0 = no cap)
// across all its packages: the oldest candidates go first and the rest are
// kept as deferred, to be deleted by a later run.
func ApplyRunLimit(plans [][]Decision, max int) {
	if max <= 0 {
		return
	}
	type ref struct{ p, i int }
	var cands []ref
	for p, ds := range plans {
		for i, d := range ds {
			if d.Action == Delete {
				cands = append(cands, ref{p, i})
			}
		}
	}
	if len(cands) <= max {
		return
	}
	sort.Slice(cands, func(a, b int) bool {
		x, y := plans[cands[a].p][cands[a].i].Version, plans[cands[b].p][cands[b].i].Version
		if !x.CreatedAt.Equal(y.CreatedAt) {
			return x.CreatedAt.Before(y.CreatedAt)
		}
		return x.ID < y.ID
	})
	reason := fmt.Sprintf("over limits.max_deletes_per_run %d: deferred to a later run (oldest are deleted first)", max)
	for _, c := range cands[max:] {
		d := &plans[c.p][c.i]
		d.Action, d.Rule, d.Reason = Keep, RuleDeferred, reason
	}
}

// matches returns the indexes of vs the rule matches. most_recent ranks the
// versions the other conditions select, newest first by the rule's age basis.
func (r *Rule) matches(vs []Version, now time.Time, container bool) map[int]bool {
	var idx []int
	for i, v := range vs {
		if r.matchVersion(v, now, container) {
			idx = append(idx, i)
		}
	}
	if r.MostRecent != nil {
		basis := r.basis()
		sort.SliceStable(idx, func(a, b int) bool { return newer(vs[idx[a]], vs[idx[b]], basis) })
		if len(idx) > *r.MostRecent {
			idx = idx[:*r.MostRecent]
		}
	}
	out := make(map[int]bool, len(idx))
	for _, i := range idx {
		out[i] = true
	}
	return out
}

func (r *Rule) basis() string {
	if r.AgeBasis == "" {
		return "created_at"
	}
	return r.AgeBasis
}

func ageOf(v Version, basis string) time.Time {
	if basis == "updated_at" && !v.UpdatedAt.IsZero() {
		return v.UpdatedAt
	}
	return v.CreatedAt
}

func (r *Rule) matchVersion(v Version, now time.Time, container bool) bool {
	if len(r.Tags) > 0 && !r.Tags.MatchAny(v.Tags) {
		return false
	}
	if len(r.ExcludeTags) > 0 && r.ExcludeTags.MatchAny(v.Tags) {
		return false
	}
	if r.Untagged != nil && (len(v.Tags) == 0) != *r.Untagged {
		return false
	}
	if len(r.Versions) > 0 && !r.Versions.Match(v.Name) {
		return false
	}
	names := []string{v.Name}
	if container {
		names = v.Tags
	}
	if r.Prerelease != nil {
		pre := false
		for _, n := range names {
			if IsPrerelease(n) {
				pre = true
				break
			}
		}
		if pre != *r.Prerelease {
			return false
		}
	}
	if r.Semver != nil {
		ok := false
		for _, n := range names {
			if r.Semver.Match(n) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	a := now.Sub(ageOf(v, r.basis()))
	if r.OlderThan > 0 && a <= time.Duration(r.OlderThan) {
		return false
	}
	if r.NewerThan > 0 && a >= time.Duration(r.NewerThan) {
		return false
	}
	return true
}

// reason says in one sentence why r decided v.
func (r *Rule) reason(a Action, v Version, now time.Time) string {
	var conds []string
	if len(r.Tags) > 0 {
		conds = append(conds, fmt.Sprintf("tag %q matches %s", firstMatch(r.Tags, v.Tags), patternList(r.Tags)))
	}
	if len(r.ExcludeTags) > 0 {
		conds = append(conds, "no tag matches "+patternList(r.ExcludeTags))
	}
	if r.Untagged != nil {
		if *r.Untagged {
			conds = append(conds, "untagged")
		} else {
			conds = append(conds, "tagged")
		}
	}
	if len(r.Versions) > 0 {
		conds = append(conds, "version matches "+patternList(r.Versions))
	}
	if r.Prerelease != nil {
		if *r.Prerelease {
			conds = append(conds, "a prerelease")
		} else {
			conds = append(conds, "not a prerelease")
		}
	}
	if r.Semver != nil {
		conds = append(conds, "satisfies semver "+r.Semver.String())
	}
	basis := r.basis()
	verb := "created"
	if basis == "updated_at" {
		verb = "updated"
	}
	if r.OlderThan > 0 {
		conds = append(conds, fmt.Sprintf("%s %s ago, older than %s", verb, age(now, ageOf(v, basis)), r.OlderThan))
	}
	if r.NewerThan > 0 {
		conds = append(conds, fmt.Sprintf("%s %s ago, newer than %s", verb, age(now, ageOf(v, basis)), r.NewerThan))
	}
	if r.MostRecent != nil {
		conds = append(conds, fmt.Sprintf("among the %d most recent it selects", *r.MostRecent))
	}
	if len(conds) == 0 {
		conds = append(conds, "matches every version")
	}
	return fmt.Sprintf("%s rule %q: %s", a, r.Name, strings.Join(conds, ", "))
}

func firstMatch(ps Patterns, ss []string) string {
	for _, s := range ss {
		if ps.Match(s) {
			return s
		}
	}
	return ""
}

func patternList(ps Patterns) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// age formats a duration for people: 3h, 12d.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Hour:
		return d.Round(time.Minute).String()
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 10*24*time.Hour && int(d.Hours())%24 != 0:
		// Near a threshold such as 7d, the hours tell why it matched.
		return fmt.Sprintf("%dd%dh", int(d.Hours()/24), int(d.Hours())%24)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func newer(a, b Version, basis string) bool {
	ta, tb := ageOf(a, basis), ageOf(b, basis)
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.ID > b.ID
}

func sortNewestFirst(vs []Version, basis string) {
	sort.Slice(vs, func(i, j int) bool { return newer(vs[i], vs[j], basis) })
}
