package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The order and names are what the README, the docs and explain say.
func TestSteps_AreTheDecisionOrder(t *testing.T) {
	var got []string
	for i, s := range Steps() {
		got = append(got, s.Name)
		if s.Number != i+1 {
			t.Errorf("step %q is number %d at place %d", s.Name, s.Number, i+1)
		}
		if s.Description == "" || len(s.Rules) == 0 {
			t.Errorf("step %q: no description or no rules", s.Name)
		}
		d := decisionOrder[i]
		if d.explain == nil || (d.apply == nil) != (s.Name == "run-cap") {
			t.Errorf("step %q: apply or explain missing (only run-cap, applied across packages, has no apply)", s.Name)
		}
	}
	want := []string{"listing", "dates", "protect", "download-limit", "keep", "delete", "no-rule", "graph", "floors", "breaker", "run-cap"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	s := Steps()
	s[0].Rules[0] = "changed"
	if Steps()[0].Rules[0] != RuleListingChanged {
		t.Error("Steps returns the table itself, not a copy")
	}
}

// Every rule id a decision can carry is listed by a step.
func TestSteps_ListEveryRule(t *testing.T) {
	listed := map[RuleID]bool{}
	for _, s := range Steps() {
		for _, r := range s.Rules {
			listed[r.Kind()] = true
		}
	}
	for _, r := range []RuleID{RuleListingChanged, RuleInvalidTime, RuleProtectedTag, RuleProtectedVersion, RuleProtectedNewer,
		RuleDownloadLimit, RuleKeep, RuleDelete, RuleNoRule, RuleReferencedBy, RuleOrphanedBy, RuleManifestUnreadable,
		RuleProtectedKeepLeast, RuleLastVersion, RuleCircuitBreaker, RuleDeferred} {
		if !listed[r] {
			t.Errorf("no step lists %s", r)
		}
	}
}

func ExampleSteps() {
	for _, s := range Steps() {
		rules := make([]string, len(s.Rules))
		for i, r := range s.Rules {
			rules[i] = string(r)
		}
		fmt.Printf("%d. %s: %s\n", s.Number, s.Name, strings.Join(rules, ", "))
	}
	// Output:
	// 1. listing: listing-changed
	// 2. dates: invalid-time
	// 3. protect: protected:tag, protected:version, protected:newer_than
	// 4. download-limit: download-limit
	// 5. keep: keep:<name>
	// 6. delete: delete:<name>
	// 7. no-rule: no-rule
	// 8. graph: referenced-by:<digest>, orphaned-by:<digest>, manifest-unreadable
	// 9. floors: protected:keep_at_least, last-version, referenced-by:<digest>
	// 10. breaker: circuit-breaker
	// 11. run-cap: deferred
}

// randomGraph gives some of vs manifests (indexes, referrers) and cosign
// tags naming other versions, some of them not in the package.
func randomGraph(r *rand.Rand, vs []Version) map[string]*Manifest {
	ms := map[string]*Manifest{}
	digest := func() string { return fmt.Sprintf("sha256:%d", r.IntN(len(vs)+2)) }
	for i := range vs {
		switch r.IntN(6) {
		case 0:
			ms[vs[i].Name] = &Manifest{Children: []string{digest(), digest()}}
		case 1:
			ms[vs[i].Name] = &Manifest{Subject: digest()}
		}
	}
	return ms
}

// randomFacts gives each fact a chance, the graph more often.
func randomFacts(r *rand.Rand, vs []Version) Facts {
	var f Facts
	if r.IntN(3) > 0 {
		f.Manifests = randomGraph(r, vs)
	}
	if r.IntN(10) == 0 {
		f.Unreadable = vs[0].Name
	}
	if r.IntN(15) == 0 {
		f.ListingChanged = "the listing changed while it was paged"
	}
	if r.IntN(3) == 0 {
		f.DownloadLimited = func(id int64) bool { return id%5 == 0 }
	}
	return f
}

// Each decision comes from the step that set it last, with one of the
// rules that step lists; and Explain marks exactly that step's row.
func TestDecide_EveryRuleComesFromItsStep(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	steps := Steps()
	for iter := 0; iter < 300; iter++ {
		body := randomPolicy(r)
		p := mustPolicy(t, "container", body)
		vs := randomVersions(r)
		if r.IntN(5) == 0 {
			vs[r.IntN(len(vs))].CreatedAt = time.Time{} // an unknown age
		}
		facts := randomFacts(r, vs)
		st := p.decide(vs, now, facts)
		for i, d := range st.ds {
			by := int(st.by[i])
			if by == 0 {
				t.Fatalf("iteration %d: version %d undecided\n%s", iter, d.Version.ID, body)
			}
			if !slices.ContainsFunc(steps[by-1].Rules, func(r RuleID) bool { return r.Kind() == d.Rule.Kind() }) {
				t.Fatalf("iteration %d: version %d decided %s by step %s, which lists %v", iter, d.Version.ID, d.Rule, steps[by-1].Name, steps[by-1].Rules)
			}
			rows, final, err := p.Explain(vs, d.Version.ID, now, facts)
			if err != nil {
				t.Fatal(err)
			}
			var marked []Step
			for _, row := range rows {
				if row.Decided {
					marked = append(marked, row)
				}
			}
			if final.Rule != d.Rule || len(marked) != 1 || marked[0].Number != by {
				t.Fatalf("iteration %d: version %d decided %s by step %d; explain marked %+v", iter, d.Version.ID, d.Rule, by, marked)
			}
		}
	}
}

func TestRuleID_KindAndArg(t *testing.T) {
	for _, c := range []struct {
		id        RuleID
		kind      RuleID
		arg       string
		fromParts RuleID
	}{
		{KeepRuleID("main"), RuleKeep, "main", "keep:main"},
		{DeleteRuleID("old-main"), RuleDelete, "old-main", "delete:old-main"},
		{ReferencedByRuleID("sha256:ab"), RuleReferencedBy, "sha256:ab", "referenced-by:sha256:ab"},
		{OrphanedByRuleID("sha256:cd"), RuleOrphanedBy, "sha256:cd", "orphaned-by:sha256:cd"},
		{RuleProtectedTag, RuleProtectedTag, "", "protected:tag"},
		{RuleNoRule, RuleNoRule, "", "no-rule"},
		{"keeper", "keeper", "", "keeper"}, // not keep:…
	} {
		if c.id != c.fromParts || c.id.Kind() != c.kind || c.id.Arg() != c.arg {
			t.Errorf("%s: kind %s arg %q, want %s %q (%s)", c.id, c.id.Kind(), c.id.Arg(), c.kind, c.arg, c.fromParts)
		}
	}
}

// selectFirst must choose what a full sort puts first, whatever the input's
// shape (sorted, reversed, runs, many equal keys).
func TestSelectFirst_ChoosesWhatSortPutsFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	shapes := []func(i, n int) int{
		func(i, n int) int { return r.IntN(1 << 30) },
		func(i, n int) int { return i },
		func(i, n int) int { return n - i },
		func(i, n int) int { return i % 7 },
		func(i, n int) int { return (i * 31) % 100 },
		func(i, n int) int { return min(i, n-i) }, // organ pipe
	}
	for iter := 0; iter < 2000; iter++ {
		n := r.IntN(300)
		if iter%100 == 0 {
			n = 20_000
		}
		s := make([]int, n)
		shape := shapes[r.IntN(len(shapes))]
		for i := range s {
			s[i] = shape(i, n)
		}
		k := r.IntN(n + 1)
		want := slices.Sorted(slices.Values(s))[:k]
		selectFirst(s, k, func(a, b int) int { return a - b })
		got := slices.Sorted(slices.Values(s[:k]))
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: n %d k %d: first %v, want %v", iter, n, k, got, want)
		}
	}
}
