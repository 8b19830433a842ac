package policy

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Version is what a decision needs to know about one package version.
type Version struct {
	ID        int64
	Name      string   // the version string; the manifest digest for containers
	Tags      []string // container tags; empty means untagged
	CreatedAt time.Time
	UpdatedAt time.Time
	// RawCreatedAt and RawUpdatedAt are the values GitHub sent when they
	// were not timestamps ("null", `""`, "yesterday"), for the reason of an
	// invalid-time decision; empty when the time is valid or was absent.
	RawCreatedAt, RawUpdatedAt string
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
	// RuleInvalidTime keeps a version whose date the decision needs is
	// missing, does not parse or lies in the future: its age is unknown.
	RuleInvalidTime = "invalid-time"
	// RuleListingChanged keeps every version of a package whose listing
	// changed while it was paged.
	RuleListingChanged = "listing-changed"
)

// FutureTolerance is how far past now a timestamp may lie before it counts
// as invalid: clocks differ a little, and versions are pushed while a run
// lists packages.
const FutureTolerance = time.Hour

// Decision is the verdict on one version: the action, the rule or protection
// that decided it, and one human sentence saying why.
type Decision struct {
	// Version points into the slice given to Decide (no copy: a plan holds
	// a million of these); it must not be changed while decisions are used.
	Version *Version
	Action  Action
	Rule    string
	Reason  string
	// Parents, on a deletion, are the deleted versions that refer to this
	// one (its indexes, or the subject it signs): they are deleted first,
	// and it is never deleted while one of them stays.
	Parents []string
}

// Facts is what earlier runs learned and a decision must respect.
type Facts struct {
	// DownloadLimited reports versions GitHub refused to delete because they
	// are public with more than 5,000 downloads; they are kept without asking again.
	DownloadLimited func(id int64) bool
	// Manifests of a container package's versions by digest, for the graph
	// step; nil skips it (other package types, or nothing to delete).
	Manifests map[string]*Manifest
	// Unreadable names a manifest that could not be read: the graph is
	// unknown, so the whole package is kept this run (fail closed).
	Unreadable string
	// ListingChanged, when set, says why the versions cannot be trusted to
	// be all of the package's (the listing shifted while it was paged):
	// every version is kept this run (fail closed).
	ListingChanged string
}

// Decide returns a decision for every version of one package under p at now,
// newest first (each pointing at its element of versions), following the
// fixed order: dates (a version of unknown age is kept), protect, keep rules,
// delete rules, graph, floors (keep_at_least, last version), circuit breaker. It is a
// pure function: the result depends neither on the order of rules nor on the
// order versions arrive in. The per-run cap is applied across packages by
// ApplyRunLimit.
func (p *Policy) Decide(versions []Version, now time.Time, facts Facts) []Decision {
	// Decisions are built from a sorted copy of the versions; vs is a view
	// of it so the rules read versions without copying them again.
	ds := make([]Decision, len(versions))
	for i := range versions {
		ds[i].Version = &versions[i]
	}
	slices.SortFunc(ds, func(a, b Decision) int { return compareNewest(*a.Version, *b.Version, "created_at") })
	vs := make([]*Version, len(ds))
	for i := range ds {
		vs[i] = ds[i].Version
	}
	decided := make([]bool, len(ds))
	container := p.Select.IsContainer()
	set := func(i int, a Action, rule, reason string) {
		ds[i].Action, ds[i].Rule, ds[i].Reason = a, rule, reason
		if a == Keep {
			ds[i].Parents = nil
		}
		decided[i] = true
	}

	// 0. A listing that changed while it was paged may miss versions (an
	// index whose children would then look unreferenced): keep it all.
	if facts.ListingChanged != "" {
		for i := range ds {
			set(i, Keep, RuleListingChanged, facts.ListingChanged)
		}
		return ds
	}

	// 1. Dates. A version whose age is unknown is kept, and it takes no
	// most_recent or keep_at_least slot from a version whose age is known.
	invalid := p.invalidTimes(vs, now)
	for i, why := range invalid {
		if why != "" {
			set(i, Keep, RuleInvalidTime, why)
		}
	}

	// 2. Protect.
	for i, v := range vs {
		if decided[i] {
			continue
		}
		switch {
		case len(p.Protect.Tags) > 0 && p.Protect.Tags.MatchAny(v.Tags):
			t := firstMatch(p.Protect.Tags, v.Tags)
			set(i, Keep, RuleProtectedTag, "tag "+strconv.Quote(t)+" is protected by protect.tags")
		case len(p.Protect.Versions) > 0 && p.Protect.Versions.Match(v.Name):
			set(i, Keep, RuleProtectedVersion, "version "+strconv.Quote(v.Name)+" is protected by protect.versions")
		case p.Protect.NewerThan > 0 && now.Sub(v.CreatedAt) < time.Duration(p.Protect.NewerThan):
			set(i, Keep, RuleProtectedNewer, "created "+age(now, v.CreatedAt)+" ago, within protect.newer_than "+p.Protect.NewerThan.String())
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
			for i, m := range r.matches(vs, now, container, invalid) {
				if m && !decided[i] && (best[i] == nil || r.Name < best[i].Name) {
					best[i] = r
				}
			}
		}
		for i, r := range best {
			if r != nil {
				set(i, kind.action, r.label(kind.action), r.reason(kind.action, *vs[i], now))
			}
		}
	}
	for i := range vs {
		if !decided[i] {
			set(i, Keep, RuleNoRule, "no keep or delete rule matches")
		}
	}

	// 5. Graph: never break a multi-platform image or orphan a signature.
	var byName map[string]int
	var deps, subjects map[string][]string
	if container && facts.Unreadable != "" {
		for i := range ds {
			if ds[i].Action == Delete {
				set(i, Keep, RuleManifestUnreadable, "manifest "+short(facts.Unreadable)+" could not be read: the package is kept whole this run; was "+ds[i].Rule)
			}
		}
	} else if container && facts.Manifests != nil {
		byName = make(map[string]int, len(ds))
		for i := range ds {
			byName[ds[i].Version.Name] = i
		}
		deps, subjects = dependents(vs, facts.Manifests)
		graph(ds, byName, deps, subjects, set)
	}

	// 6. Floors. vs is newest first, so the first candidates found are the newest.
	if k := p.Protect.KeepAtLeast; k > 0 {
		for i, n := 0, 0; i < len(vs) && n < k; i++ {
			if invalid != nil && invalid[i] != "" {
				continue // its age is unknown: it is not among the newest
			}
			n++
			if ds[i].Action == Delete {
				set(i, Keep, RuleProtectedKeepLeast, "one of the "+strconv.Itoa(k)+" newest versions (protect.keep_at_least); "+ds[i].Reason)
			}
		}
	}
	rescueNewest := func(want func(Version) bool, reason string) {
		for i := range vs {
			if ds[i].Action == Keep && want(*vs[i]) {
				return
			}
		}
		for i := range vs {
			if ds[i].Action == Delete && want(*vs[i]) {
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

	if deps != nil {
		// A floor may have rescued an index whose children were set to go:
		// they stay with it.
		keepClosure(ds, byName, deps, set)
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
// kept as deferred, to be deleted by a later run. Deletions linked by
// Parents (an index and its children, an image and its signatures) form a
// family that is admitted parents first: a prefix of a family may go (an
// index without its children leaves orphans for the next run), but never a
// child without all its parents. So a family larger than the cap still
// makes progress instead of stalling every run.
func ApplyRunLimit(plans [][]Decision, max int) {
	if max <= 0 {
		return
	}
	n := 0
	for _, ds := range plans {
		for _, d := range ds {
			if d.Action == Delete {
				n++
			}
		}
	}
	if n <= max {
		return
	}
	// Sort small keys, not Versions: this runs over a whole policy's
	// candidates (a million versions in the benchmark).
	type item struct {
		famAt, famID int64 // the family's oldest member orders the family
		depth        int32 // longest chain of deleted parents above it
		at, id       int64
		p, i         int32
	}
	items := make([]item, 0, n)
	for p, ds := range plans {
		fam := families(ds)
		for i, d := range ds {
			if d.Action != Delete {
				continue
			}
			it := item{at: d.Version.CreatedAt.UnixNano(), id: d.Version.ID, p: int32(p), i: int32(i)}
			it.famAt, it.famID = it.at, it.id
			if fam != nil {
				f := fam.root[i]
				it.famAt, it.famID, it.depth = fam.oldestAt[f], fam.oldestID[f], fam.depth[i]
			}
			items = append(items, it)
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(a.famAt, b.famAt), cmp.Compare(a.famID, b.famID), cmp.Compare(a.depth, b.depth),
			cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id))
	})
	reason := "over limits.max_deletes_per_run " + strconv.Itoa(max) + ": deferred to a later run (oldest are deleted first)"
	for _, it := range items[max:] {
		d := &plans[it.p][it.i]
		d.Action, d.Rule, d.Reason, d.Parents = Keep, RuleDeferred, reason, nil
	}
}

// familyInfo groups a package's deletions linked by Parents.
type familyInfo struct {
	root     []int   // union-find parent, by decision index
	depth    []int32 // longest chain of deleted parents
	oldestAt map[int]int64
	oldestID map[int]int64
}

// families returns the families of ds, or nil when no deletion has parents
// (the common case, which costs nothing).
func families(ds []Decision) *familyInfo {
	has := false
	for _, d := range ds {
		if d.Action == Delete && len(d.Parents) > 0 {
			has = true
			break
		}
	}
	if !has {
		return nil
	}
	names := make(map[string]int, len(ds))
	for i := range ds {
		names[ds[i].Version.Name] = i
	}
	f := &familyInfo{root: make([]int, len(ds)), depth: make([]int32, len(ds)), oldestAt: map[int]int64{}, oldestID: map[int]int64{}}
	for i := range f.root {
		f.root[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for f.root[i] != i {
			f.root[i] = f.root[f.root[i]]
			i = f.root[i]
		}
		return i
	}
	parentsOf := func(i int) []int {
		var out []int
		for _, p := range ds[i].Parents {
			if j, ok := names[p]; ok && ds[j].Action == Delete {
				out = append(out, j)
			}
		}
		return out
	}
	for i, d := range ds {
		if d.Action == Delete {
			for _, j := range parentsOf(i) {
				f.root[find(i)] = find(j)
			}
		}
	}
	// Longest path over parents; a cycle (contrived, via subject and tags)
	// is cut by the visiting mark.
	state := make([]int8, len(ds)) // 0 new, 1 visiting, 2 done
	var depth func(int) int32
	depth = func(i int) int32 {
		switch state[i] {
		case 1:
			return 0
		case 2:
			return f.depth[i]
		}
		state[i] = 1
		var best int32
		for _, j := range parentsOf(i) {
			best = max(best, depth(j)+1)
		}
		state[i], f.depth[i] = 2, best
		return best
	}
	for i, d := range ds {
		if d.Action != Delete {
			continue
		}
		depth(i)
		r := find(i)
		at, id := d.Version.CreatedAt.UnixNano(), d.Version.ID
		if oa, ok := f.oldestAt[r]; !ok || at < oa || (at == oa && id < f.oldestID[r]) {
			f.oldestAt[r], f.oldestID[r] = at, id
		}
	}
	for i := range f.root {
		f.root[i] = find(i)
	}
	return f
}

// matches returns the indexes of vs the rule matches. most_recent ranks the
// versions the other conditions select, newest first by the rule's age basis.
// A version with a non-empty invalid entry (nil: none) has no known age: it
// matches no rule and takes no most_recent slot.
func (r *Rule) matches(vs []*Version, now time.Time, container bool, invalid []string) []bool {
	out := make([]bool, len(vs))
	var idx []int
	for i, v := range vs {
		if invalid != nil && invalid[i] != "" {
			continue
		}
		if r.matchVersion(*v, now, container) {
			out[i] = true
			idx = append(idx, i)
		}
	}
	if r.MostRecent != nil && len(idx) > *r.MostRecent {
		basis := r.basis()
		slices.SortStableFunc(idx, func(a, b int) int { return compareNewest(*vs[a], *vs[b], basis) })
		for _, i := range idx[*r.MostRecent:] {
			out[i] = false
		}
	}
	return out
}

// invalidTimes returns, per version of vs, why its age is unknown ("" when
// it is known), or nil when every age is known (the common case, which
// allocates nothing). created_at always counts; updated_at counts when a
// rule of p measures age by it.
func (p *Policy) invalidTimes(vs []*Version, now time.Time) []string {
	updated := false
	for _, r := range p.Keep {
		updated = updated || r.AgeBasis == "updated_at"
	}
	for _, r := range p.Delete {
		updated = updated || r.AgeBasis == "updated_at"
	}
	var out []string
	limit := now.Add(FutureTolerance)
	for i, v := range vs {
		why := timeProblem("created_at", v.CreatedAt, v.RawCreatedAt, limit)
		if why == "" && updated {
			why = timeProblem("updated_at", v.UpdatedAt, v.RawUpdatedAt, limit)
		}
		if why != "" {
			if out == nil {
				out = make([]string, len(vs))
			}
			out[i] = why
		}
	}
	return out
}

// timeProblem says why t (read from field; raw is the JSON GitHub sent
// when it did not parse: null, "", "yesterday") cannot be used to tell an age, or "" when it can.
func timeProblem(field string, t time.Time, raw string, limit time.Time) string {
	const keep = ": its age is unknown, so it is kept"
	switch {
	case t.IsZero() && raw != "":
		if len(raw) > 64 {
			raw = raw[:64] + "…"
		}
		return field + " is " + raw + ", not a time" + keep
	case t.IsZero():
		return field + " is missing" + keep
	case t.After(limit):
		return field + " " + t.UTC().Format(time.RFC3339) + " is in the future" + keep
	}
	return ""
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

// reason says in one sentence why r decided v. The conditions that do not
// depend on the version are described once per rule (describe); the rest is
// concatenated, not formatted, because a plan writes a million of these.
func (r *Rule) reason(a Action, v Version, now time.Time) string {
	var b strings.Builder
	b.Grow(96) // most reasons fit: one allocation
	b.WriteString(string(a))
	b.WriteString(" rule ")
	b.WriteString(r.quoted())
	b.WriteString(": ")
	n := 0
	sep := func() {
		if n > 0 {
			b.WriteString(", ")
		}
		n++
	}
	if len(r.Tags) > 0 {
		sep()
		b.WriteString("tag ")
		b.WriteString(strconv.Quote(firstMatch(r.Tags, v.Tags)))
		b.WriteString(" matches ")
		b.WriteString(patternList(r.Tags))
	}
	if d := r.describe(); d != "" {
		sep()
		b.WriteString(d)
	}
	if r.OlderThan > 0 || r.NewerThan > 0 {
		basis := r.basis()
		verb := "created "
		if basis == "updated_at" {
			verb = "updated "
		}
		ago := age(now, ageOf(v, basis))
		for _, c := range []struct {
			d    Duration
			what string
		}{{r.OlderThan, " ago, older than "}, {r.NewerThan, " ago, newer than "}} {
			if c.d > 0 {
				sep()
				b.WriteString(verb)
				b.WriteString(ago)
				b.WriteString(c.what)
				b.WriteString(c.d.String())
			}
		}
	}
	if r.MostRecent != nil {
		sep()
		b.WriteString("among the ")
		b.WriteString(strconv.Itoa(*r.MostRecent))
		b.WriteString(" most recent it selects")
	}
	if n == 0 {
		b.WriteString("matches every version")
	}
	return b.String()
}

// label is the rule's report label, keep:<name> or delete:<name>, computed once.
func (r *Rule) label(a Action) string {
	r.describe()
	if a == Keep {
		return r.keepLabel
	}
	return r.deleteLabel
}

// quoted is the rule's name in quotes, computed once.
func (r *Rule) quoted() string {
	r.describe()
	return r.quotedName
}

// describe returns the rule's version-independent conditions, computed once.
func (r *Rule) describe() string {
	r.descOnce.Do(func() {
		var conds []string
		if len(r.ExcludeTags) > 0 {
			conds = append(conds, "no tag matches "+patternList(r.ExcludeTags))
		}
		if r.Untagged != nil {
			conds = append(conds, map[bool]string{true: "untagged", false: "tagged"}[*r.Untagged])
		}
		if len(r.Versions) > 0 {
			conds = append(conds, "version matches "+patternList(r.Versions))
		}
		if r.Prerelease != nil {
			conds = append(conds, map[bool]string{true: "a prerelease", false: "not a prerelease"}[*r.Prerelease])
		}
		if r.Semver != nil {
			conds = append(conds, "satisfies semver "+r.Semver.String())
		}
		r.desc = strings.Join(conds, ", ")
		r.quotedName = strconv.Quote(r.Name)
		r.keepLabel, r.deleteLabel = "keep:"+r.Name, "delete:"+r.Name
	})
	return r.desc
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
		return strconv.Itoa(int(d.Hours())) + "h"
	case d < 10*24*time.Hour && int(d.Hours())%24 != 0:
		// Near a threshold such as 7d, the hours tell why it matched.
		return strconv.Itoa(int(d.Hours()/24)) + "d" + strconv.Itoa(int(d.Hours())%24) + "h"
	default:
		return strconv.Itoa(int(d.Hours()/24)) + "d"
	}
}

// compareNewest orders newer versions first by basis, then higher ids, so
// the order is total and independent of how versions arrived.
func compareNewest(a, b Version, basis string) int {
	if c := ageOf(b, basis).Compare(ageOf(a, basis)); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// DecideAll decides many packages of one policy, spreading them over up to
// workers goroutines (0 = GOMAXPROCS): Decide is pure, so packages are
// independent. facts(i) gives the facts of package i (nil: none). The
// per-run cap is applied across all of them.
func (p *Policy) DecideAll(pkgs [][]Version, now time.Time, facts func(i int) Facts, workers int) [][]Decision {
	out := make([][]Decision, len(pkgs))
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(pkgs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(pkgs) {
					return
				}
				var f Facts
				if facts != nil {
					f = facts(i)
				}
				out[i] = p.Decide(pkgs[i], now, f)
			}
		}()
	}
	wg.Wait()
	ApplyRunLimit(out, p.Limits.MaxDeletesPerRun)
	return out
}
