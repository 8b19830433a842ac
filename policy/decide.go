package policy

import (
	"cmp"
	"math/bits"
	"slices"
	"strconv"
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
	Rule    RuleID
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

// Decide returns a decision for every version of one package under p at
// now, newest first, each pointing at its element of versions. It runs the
// steps of Steps in order, all but the last (run-cap), which spans the
// packages of a policy run: ApplyRunLimit. It is a pure function: the
// result depends neither on the order of rules nor on the order versions
// arrive in.
func (p *Policy) Decide(versions []Version, now time.Time, facts Facts) []Decision {
	return p.decide(versions, now, facts).ds
}

// ApplyRunLimit is run-cap, the last step of Steps: it caps the deletions
// of one policy run at max (0 = no cap) across the plans Decide made for
// its packages. The oldest candidates go first and the rest are kept as
// deferred, to be deleted by a later run. Deletions linked by
// Parents (an index and its children, an image and its signatures) form a
// family that is admitted parents first: a prefix of a family may go (an
// index without its children leaves orphans for the next run), but never a
// child without all its parents. So a family larger than the cap still
// makes progress instead of stalling every run.
func ApplyRunLimit(plans [][]Decision, max int) {
	c := NewRunCap(max)
	if max > 0 {
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
		c.items = make([]capItem, 0, min(n, 2*max+1))
	}
	for p, ds := range plans {
		c.Add(p, ds)
	}
	for p := range plans {
		for i := range plans[p] {
			c.Apply(p, i, &plans[p][i])
		}
	}
}

// selectFirst reorders s so that s[:k] holds its k first elements by
// compare, a total order, in no particular order: quickselect, in
// expected linear time, which sorts what is left once the recursion runs
// deeper than a sort would.
func selectFirst[T any](s []T, k int, compare func(a, b T) int) {
	depth := 2 * bits.Len(uint(len(s)))
	lo, hi := 0, len(s)
	for hi-lo > 12 {
		if depth == 0 {
			break
		}
		depth--
		p := lo + partition(s[lo:hi], compare)
		switch {
		case k < p:
			hi = p
		case k > p:
			lo = p + 1
		default:
			return
		}
	}
	slices.SortFunc(s[lo:hi], compare)
}

// partition puts the median of s's first, middle and last elements in its
// place, the smaller elements before it and the larger after, and returns
// its index.
func partition[T any](s []T, compare func(a, b T) int) int {
	n, m := len(s), len(s)/2
	if compare(s[m], s[0]) < 0 {
		s[m], s[0] = s[0], s[m]
	}
	if compare(s[n-1], s[0]) < 0 {
		s[n-1], s[0] = s[0], s[n-1]
	}
	if compare(s[n-1], s[m]) < 0 {
		s[n-1], s[m] = s[m], s[n-1]
	}
	s[m], s[n-1] = s[n-1], s[m] // the median is the pivot, at the end
	i := 0
	for j := 0; j < n-1; j++ {
		if compare(s[j], s[n-1]) < 0 {
			s[i], s[j] = s[j], s[i]
			i++
		}
	}
	s[i], s[n-1] = s[n-1], s[i]
	return i
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
		if r.matchVersion(v, now, container) {
			out[i] = true
			idx = append(idx, i)
		}
	}
	if r.MostRecent != nil && len(idx) > *r.MostRecent {
		basis := r.basis()
		slices.SortStableFunc(idx, func(a, b int) int { return compareNewest(vs[a], vs[b], basis) })
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

func ageOf(v *Version, basis string) time.Time {
	if basis == "updated_at" && !v.UpdatedAt.IsZero() {
		return v.UpdatedAt
	}
	return v.CreatedAt
}

func (r *Rule) matchVersion(v *Version, now time.Time, container bool) bool {
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
// appended, not formatted, into a buffer on the stack, because a plan
// writes a million of these: the string is the only allocation.
func (r *Rule) reason(a Action, v *Version, now time.Time) string {
	var buf [160]byte
	b := append(buf[:0], a...)
	b = append(b, " rule "...)
	b = append(b, r.quoted()...)
	b = append(b, ": "...)
	n := 0
	if len(r.Tags) > 0 {
		b, n = appendSep(b, n)
		b = append(b, "tag "...)
		b = strconv.AppendQuote(b, firstMatch(r.Tags, v.Tags))
		b = append(b, " matches "...)
		b = append(b, r.tagList...)
	}
	if d := r.describe(); d != "" {
		b, n = appendSep(b, n)
		b = append(b, d...)
	}
	if r.OlderThan > 0 || r.NewerThan > 0 {
		basis := r.basis()
		verb := "created "
		if basis == "updated_at" {
			verb = "updated "
		}
		at := ageOf(v, basis)
		for _, c := range [...]struct {
			d    Duration
			what string
		}{{r.OlderThan, " ago, older than "}, {r.NewerThan, " ago, newer than "}} {
			if c.d > 0 {
				b, n = appendSep(b, n)
				b = append(b, verb...)
				b = appendAge(b, now, at)
				b = append(b, c.what...)
				b = c.d.appendTo(b)
			}
		}
	}
	if r.MostRecent != nil {
		b, n = appendSep(b, n)
		b = append(b, "among the "...)
		b = strconv.AppendInt(b, int64(*r.MostRecent), 10)
		b = append(b, " most recent it selects"...)
	}
	if n == 0 {
		b = append(b, "matches every version"...)
	}
	return string(b)
}

// appendSep separates the n-th condition of a reason from the previous ones.
func appendSep(b []byte, n int) ([]byte, int) {
	if n > 0 {
		b = append(b, ", "...)
	}
	return b, n + 1
}

// label is the rule id of a decision by r, keep:<name> or delete:<name>, computed once.
func (r *Rule) label(a Action) RuleID {
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
		if len(r.Tags) > 0 {
			r.tagList = patternList(r.Tags)
		}
		r.quotedName = strconv.Quote(r.Name)
		r.keepLabel, r.deleteLabel = KeepRuleID(r.Name), DeleteRuleID(r.Name)
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
	var buf [24]byte
	return string(appendAge(buf[:0], now, t))
}

// appendAge appends age(now, t) to b.
func appendAge(b []byte, now, t time.Time) []byte {
	d := now.Sub(t)
	h := int64(d.Hours())
	switch {
	case d < 0:
		return append(b, "0s"...)
	case d < time.Hour:
		return append(b, d.Round(time.Minute).String()...)
	case d < 48*time.Hour:
		return append(strconv.AppendInt(b, h, 10), 'h')
	case d < 10*24*time.Hour && h%24 != 0:
		// Near a threshold such as 7d, the hours tell why it matched.
		b = append(strconv.AppendInt(b, h/24, 10), 'd')
		return append(strconv.AppendInt(b, h%24, 10), 'h')
	default:
		return append(strconv.AppendInt(b, int64(d.Hours()/24), 10), 'd')
	}
}

// compareNewest orders newer versions first by basis, then higher ids, so
// the order is total and independent of how versions arrived.
func compareNewest(a, b *Version, basis string) int {
	if c := ageOf(b, basis).Compare(ageOf(a, basis)); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}
