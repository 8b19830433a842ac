package policy

import (
	"cmp"
	"slices"
	"strconv"
)

// RunCap is run-cap over a policy's packages seen one at a time, so that a
// run holds the cap's candidates, not every package's decisions: Add each
// package's decisions as they are made, then Apply to each decision (in
// any order, any number of passes). It keeps at most twice max candidates
// (the best so far), so its memory is bounded by the cap, not by the
// organization. The order is ApplyRunLimit's.
type RunCap struct {
	max        int
	candidates int
	items      []capItem
	admitted   []capKey // sorted, once every Add is done
	reason     string
}

type capKey struct{ p, i int32 }

func (a capKey) compare(b capKey) int { return cmp.Or(cmp.Compare(a.p, b.p), cmp.Compare(a.i, b.i)) }

// capItem is one candidate deletion: small keys, not Versions (this runs
// over a policy's every candidate, a million in the benchmark).
type capItem struct {
	famAt, famID int64 // the family's oldest member orders the family
	depth        int32 // longest chain of deleted parents above it
	at, id       int64
	key          capKey
}

// compare is the total order of admission: families by their oldest
// member, parents before children, then oldest first; the package and
// index end it so the choice never depends on the order of Adds.
func (a capItem) compare(b capItem) int {
	return cmp.Or(cmp.Compare(a.famAt, b.famAt), cmp.Compare(a.famID, b.famID), cmp.Compare(a.depth, b.depth),
		cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id), a.key.compare(b.key))
}

// NewRunCap caps a run at max deletions; max <= 0 means no cap, and the
// RunCap admits everything.
func NewRunCap(max int) *RunCap {
	return &RunCap{max: max, reason: "over limits.max_deletes_per_run " + strconv.Itoa(max) + ": deferred to a later run (oldest are deleted first)"}
}

// Add takes the decisions Decide made for package number p.
func (c *RunCap) Add(p int, ds []Decision) {
	if c.max <= 0 {
		return
	}
	c.admitted = nil
	n := 0
	for _, d := range ds {
		if d.Action == Delete {
			n++
		}
	}
	if need := len(c.items) + n; need > cap(c.items) {
		// Double, not append's 1.25x for large slices: fewer copies of
		// what may be a million candidates.
		c.items = slices.Grow(c.items, max(need, 2*cap(c.items))-len(c.items))
	}
	fam := families(ds)
	for i, d := range ds {
		if d.Action != Delete {
			continue
		}
		c.candidates++
		it := capItem{at: d.Version.CreatedAt.UnixNano(), id: d.Version.ID, key: capKey{int32(p), int32(i)}}
		it.famAt, it.famID = it.at, it.id
		if fam != nil {
			f := fam.root[i]
			it.famAt, it.famID, it.depth = fam.oldestAt[f], fam.oldestID[f], fam.depth[i]
		}
		c.items = append(c.items, it)
	}
	if len(c.items) > 2*c.max {
		// Only the max best can be admitted: drop the rest now, so the
		// candidates held stay within twice the cap (amortized linear).
		c.keepBest()
	}
}

func (c *RunCap) keepBest() {
	selectFirst(c.items, c.max, capItem.compare)
	clear(c.items[c.max:])
	c.items = c.items[:c.max]
}

// Over reports whether the cap defers anything: more candidates than max.
func (c *RunCap) Over() bool { return c.max > 0 && c.candidates > c.max }

// Apply defers d, decision i of package p, when it is a deletion the cap
// does not admit: it is then kept, by rule deferred. Call it after every
// Add.
func (c *RunCap) Apply(p, i int, d *Decision) {
	if d.Action != Delete || !c.Over() {
		return
	}
	if c.admitted == nil {
		if len(c.items) > c.max {
			c.keepBest()
		}
		c.admitted = make([]capKey, len(c.items))
		for j, it := range c.items {
			c.admitted[j] = it.key
		}
		slices.SortFunc(c.admitted, capKey.compare)
	}
	if _, ok := slices.BinarySearchFunc(c.admitted, capKey{int32(p), int32(i)}, capKey.compare); !ok {
		d.Action, d.Rule, d.Reason, d.Parents = Keep, RuleDeferred, c.reason, nil
	}
}
