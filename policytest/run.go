package policytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/snapshot"
)

// Result is the outcome of one case; its JSON is `ghprune test -format
// json`'s, documented in docs/policy-tests.md.
type Result struct {
	Name string `json:"name"`
	// Line is where the case starts in the tests file.
	Line    int    `json:"line"`
	Policy  string `json:"policy"`
	Owner   string `json:"owner"`
	Package string `json:"package"`
	// Ref is how the case names its version: "version 1.2.3", "tag prod", "id 17".
	Ref string `json:"ref"`
	// Version and VersionID are the version found: its name (the digest
	// for containers) and id; empty and 0 when none was.
	Version   string `json:"version"`
	VersionID int64  `json:"version_id"`
	// At is the time the case was decided at.
	At           time.Time     `json:"at"`
	Expect       policy.Action `json:"expect"`
	RuleExpected string        `json:"rule_expected"`
	// Action, Rule and Reason are the decision; empty when the version
	// was not decided (Error says why).
	Action policy.Action `json:"action"`
	Rule   string        `json:"rule"`
	Reason string        `json:"reason"`
	// DeletedBy, DeletedByRule and DeletedByReason name another policy
	// of the config that selects the same package and deletes the version
	// in the same run: a case that expects keep then fails, since the
	// version would be gone whatever its own policy decided.
	DeletedBy       string `json:"deleted_by"`
	DeletedByRule   string `json:"deleted_by_rule"`
	DeletedByReason string `json:"deleted_by_reason"`
	Pass            bool   `json:"pass"`
	// Error says why the case could not be decided: the package was not
	// planned, or has no such version.
	Error string `json:"error"`
}

// Failure says why a failed case failed, in one line: "want delete, got
// keep by protected:tag: REASON", or the error.
func (r *Result) Failure() string {
	if r.Error != "" {
		return r.Error
	}
	want := string(r.Expect)
	if r.RuleExpected != "" {
		want += " by " + r.RuleExpected
	}
	if r.overridden() && r.Action == r.Expect && RuleMatches(r.RuleExpected, policy.RuleID(r.Rule)) {
		return fmt.Sprintf("want %s, got %s by %s, but policy %s also selects the package and would delete it by %s: %s",
			want, r.Action, r.Rule, r.DeletedBy, r.DeletedByRule, r.DeletedByReason)
	}
	return fmt.Sprintf("want %s, got %s by %s: %s", want, r.Action, r.Rule, r.Reason)
}

// overridden reports whether another policy deletes the version the case
// expects kept.
func (r *Result) overridden() bool { return r.Expect == policy.Keep && r.DeletedBy != "" }

// pass reports whether the case passed.
func (r *Result) pass() bool {
	return r.Error == "" && r.Action == r.Expect && RuleMatches(r.RuleExpected, policy.RuleID(r.Rule)) && !r.overridden()
}

// Report is the outcome of a tests file.
type Report struct {
	Cases  []*Result `json:"cases"`
	Passed int       `json:"passed"`
	Failed int       `json:"failed"`
}

// NewReport counts the results.
func NewReport(results []*Result) *Report {
	r := &Report{Cases: results}
	for _, c := range results {
		if c.Pass {
			r.Passed++
		} else {
			r.Failed++
		}
	}
	return r
}

// Run decides every case with eng, an engine planning from the snapshot
// Snapshot made, as of now, the run's time. The cases are grouped by the
// time they are decided at, and each group is one plan of the policies its
// cases name, whose sink keeps only the decisions the cases ask about.
// The results are in the file's order; the error is the context's.
func (s *Suite) Run(ctx context.Context, eng *engine.Engine, now time.Time) ([]*Result, error) {
	if s.snap == nil {
		return nil, errors.New("policytest: Run before Snapshot")
	}
	results := make([]*Result, len(s.cases))
	var times []time.Time
	groups := map[time.Time][]int{}
	for i, b := range s.cases {
		at, err := policy.ParseAt(b.At, now)
		results[i] = s.newResult(b, at)
		if err != nil {
			results[i].Error = err.Error()
			continue
		}
		if _, ok := groups[at]; !ok {
			times = append(times, at)
		}
		groups[at] = append(groups[at], i)
	}
	for _, at := range times {
		sk := s.newSink(groups[at], results)
		// A policy's error reaches its cases through the sink; the
		// context's ends the run, though a plan that never started one
		// of its policies returns none.
		_, _ = eng.Run(ctx, sk.policies(s.Config), engine.RunOptions{Trigger: engine.TriggerCLI, Sink: sk, At: at})
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		sk.finish()
	}
	for _, r := range results {
		r.Pass = r.pass()
	}
	return results, nil
}

func (s *Suite) newResult(b *bound, at time.Time) *Result {
	return &Result{Name: b.DisplayName(), Line: b.Pos.Line, Policy: b.pol.Name, Owner: b.owner(), Package: b.Package,
		Ref: b.Ref.String(), At: at.UTC(), Expect: b.Expect, RuleExpected: b.Rule}
}

// sink receives one plan and keeps, of each package some case names, the
// decisions of the versions the cases name: never a whole plan.
type sink struct {
	s        *Suite
	results  []*Result
	pkgs     map[string]*wanted // by policy and packageKey
	byPolicy map[string][]*wanted
	// watch is, by another policy and packageKey, what the cases of a
	// package ask: that policy deleting one of their versions fails a
	// case that expects it kept.
	watch map[string][]*wanted
}

// wanted is what a plan's cases ask of one package of one policy.
type wanted struct {
	pol       *policy.Policy
	b         *bound // the first case naming it, for messages
	cases     []int  // indexes into results
	byID      map[int64][]int
	byName    map[string][]int
	byTag     map[string][]int
	seen      bool
	container bool
}

func (s *Suite) newSink(idx []int, results []*Result) *sink {
	sk := &sink{s: s, results: results, pkgs: map[string]*wanted{}, byPolicy: map[string][]*wanted{}, watch: map[string][]*wanted{}}
	for _, i := range idx {
		b := s.cases[i]
		key := b.pol.Name + "\x00" + packageKey(b.owner(), b.pol.Select.PackageType, b.Package)
		w := sk.pkgs[key]
		if w == nil {
			w = &wanted{pol: b.pol, b: b, byID: map[int64][]int{}, byName: map[string][]int{}, byTag: map[string][]int{},
				container: b.pol.Select.IsContainer()}
			sk.pkgs[key] = w
			sk.byPolicy[b.pol.Name] = append(sk.byPolicy[b.pol.Name], w)
			for _, o := range s.overlapping(b.pol) {
				okey := o.Name + "\x00" + packageKey(b.owner(), b.pol.Select.PackageType, b.Package)
				sk.watch[okey] = append(sk.watch[okey], w)
			}
		}
		w.cases = append(w.cases, i)
		switch {
		case b.version != nil: // synthetic: its id, whatever the case named it by
			w.byID[s.ids[b.version]] = append(w.byID[s.ids[b.version]], i)
		case b.Ref.Kind == RefID:
			w.byID[b.Ref.ID] = append(w.byID[b.Ref.ID], i)
		case b.Ref.Kind == RefTag:
			w.byTag[b.Ref.Name] = append(w.byTag[b.Ref.Name], i)
		default:
			w.byName[b.Ref.Name] = append(w.byName[b.Ref.Name], i)
		}
	}
	return sk
}

// policies are the policies the plan runs, in the config's order: those
// the cases name, and those that may select the same packages (a real
// run runs them too, and their deletes do not heed the others' protect).
func (sk *sink) policies(cfg *policy.Config) []*policy.Policy {
	need := map[*policy.Policy]bool{}
	for _, ws := range sk.byPolicy {
		for _, o := range sk.s.overlapping(ws[0].pol) {
			need[o] = true
		}
		need[ws[0].pol] = true
	}
	var out []*policy.Policy
	for _, p := range cfg.Policies {
		if need[p] {
			out = append(out, p)
		}
	}
	return out
}

// overlapping are the config's other policies that select packages of the
// same owner and type as pol: they may select the same package.
func (s *Suite) overlapping(pol *policy.Policy) []*policy.Policy {
	var out []*policy.Policy
	for _, o := range s.Config.Policies {
		if o != pol && o.Select.PackageType == pol.Select.PackageType && o.Select.OwnerType == pol.Select.OwnerType &&
			strings.EqualFold(o.Select.Owner, pol.Select.Owner) {
			out = append(out, o)
		}
	}
	return out
}

func (sk *sink) Start(*plan.Run) error { return nil }

// Package keeps the decisions the cases ask about, copied: the sink keeps
// nothing of what it is given.
func (sk *sink) Package(p *plan.Policy, pkg *plan.Package) error {
	key := p.Name + "\x00" + packageKey(pkg.OwnerName, pkg.Type, pkg.Name)
	for _, w := range sk.watch[key] {
		sk.deletedByOther(p.Name, pkg, w)
	}
	w := sk.pkgs[key]
	if w == nil {
		return nil
	}
	w.seen = true
	if pkg.Err != nil {
		for _, i := range w.cases {
			sk.results[i].Error = fmt.Sprintf("package %s/%s was not planned: %v", pkg.OwnerName, pkg.Name, pkg.Err)
		}
		return nil
	}
	for _, d := range pkg.Decisions {
		sk.decided(d, w.byID[d.Version.ID])
		sk.decided(d, w.byName[d.Version.Name])
		for _, t := range d.Version.Tags {
			sk.decided(d, w.byTag[t])
		}
	}
	for _, i := range w.cases {
		if r := sk.results[i]; r.Action == "" && r.Error == "" {
			r.Error = fmt.Sprintf("package %s/%s has no version with %s%s", pkg.OwnerName, pkg.Name, refQuoted(sk.s.cases[i].Ref), hint(sk.s.cases[i], w))
		}
	}
	return nil
}

// hint helps with a version not found: a container version's name is its
// digest.
func hint(b *bound, w *wanted) string {
	if w.container && b.Ref.Kind == RefVersion && !strings.HasPrefix(b.Ref.Name, "sha256:") {
		return " (a container version's name is its digest: name it by tag or id)"
	}
	return ""
}

func (sk *sink) decided(d *plan.Decision, cases []int) {
	for _, i := range cases {
		r := sk.results[i]
		if r.Action != "" {
			if r.VersionID != d.Version.ID && r.Error == "" {
				// A tag on two versions (GitHub allows it of a listing in
				// flux): which one the case means is unknown.
				r.Error = fmt.Sprintf("%s names two versions (ids %d and %d): name the version by id", refQuoted(sk.s.cases[i].Ref), r.VersionID, d.Version.ID)
			}
			continue
		}
		r.Version, r.VersionID = d.Version.Name, d.Version.ID
		r.Action, r.Rule, r.Reason = d.Action, string(d.Rule), d.Reason
	}
}

// deletedByOther notes, on the cases of w, which versions policy other
// deletes in pkg.
func (sk *sink) deletedByOther(other string, pkg *plan.Package, w *wanted) {
	for _, d := range pkg.Decisions {
		if d.Action != policy.Delete {
			continue
		}
		idx := append(append([]int(nil), w.byID[d.Version.ID]...), w.byName[d.Version.Name]...)
		for _, t := range d.Version.Tags {
			idx = append(idx, w.byTag[t]...)
		}
		for _, i := range idx {
			if r := sk.results[i]; r.DeletedBy == "" {
				r.DeletedBy, r.DeletedByRule, r.DeletedByReason = other, string(d.Rule), d.Reason
			}
		}
	}
}

// PolicyDone fails the cases whose package the policy did not plan.
func (sk *sink) PolicyDone(p *plan.Policy) error {
	for _, w := range sk.byPolicy[p.Name] {
		if w.seen {
			continue
		}
		w.seen = true
		msg := sk.notPlanned(w, p.Err)
		for _, i := range w.cases {
			sk.results[i].Error = msg
		}
	}
	return nil
}

// finish fails the cases of policies the plan never got to (it stopped).
func (sk *sink) finish() {
	for _, ws := range sk.byPolicy {
		for _, w := range ws {
			if !w.seen {
				for _, i := range w.cases {
					sk.results[i].Error = "the plan stopped before policy " + w.pol.Name
				}
			}
		}
	}
}

// notPlanned says why a policy planned no package a case names.
func (sk *sink) notPlanned(w *wanted, policyErr error) string {
	b := w.b
	what := fmt.Sprintf("the %s package %s/%s", b.pol.Select.PackageType, b.owner(), b.Package)
	if policyErr != nil && !errors.Is(policyErr, engine.ErrPackagesNotPlanned) {
		return fmt.Sprintf("policy %s could not plan %s: %v", b.pol.Name, what, policyErr)
	}
	if sk.s.inSnapshot(b) {
		return fmt.Sprintf("policy %s does not select %s (select.packages, select.exclude_packages or select.visibility leave it out)", b.pol.Name, what)
	}
	src := sk.s.Source
	if src == "" {
		src = "the snapshot"
	}
	return fmt.Sprintf("%s is not in %s", what, src)
}

// inSnapshot reports whether the snapshot has the package a case names.
func (s *Suite) inSnapshot(b *bound) bool {
	owns := func(kind, owner, typ string) bool {
		if kind == "self" {
			owner = s.snap.Login // the token's own account is recorded without its login
		}
		return strings.EqualFold(owner, b.owner()) && typ == b.pol.Select.PackageType
	}
	for _, p := range s.snap.Packages {
		if owns(p.OwnerKind, p.Owner, p.Type) && p.Name == b.Package {
			return true
		}
	}
	// Listed but not read: a package the policies' select leaves out.
	for _, l := range s.snap.Listings {
		if owns(l.OwnerKind, l.Owner, l.Type) && slices.ContainsFunc(l.Packages, func(p snapshot.ListedPackage) bool { return p.Name == b.Package }) {
			return true
		}
	}
	return false
}
