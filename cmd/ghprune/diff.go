package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/snapshot"
)

// A policy diff (plan -baseline OLD) plans the same data with two configs
// and lists the versions whose action or deciding rule differs: what a
// pull request that edits a policy changes. A change of reason text alone
// (an age that moved on) is not a difference.

// verdict is one side of a version's decision.
type verdict struct {
	Action string `json:"action"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// diffKey names a version in a policy's plan.
type diffKey struct {
	policy, owner, typ, pkg string
	id                      int64
}

// oldSide is what the baseline decided of a version, and of its package.
type oldSide struct {
	v     verdict
	name  string
	tags  []string
	freed int64 // the package's freed bytes (on each version of it)
}

// diffVersion is a version whose decision differs.
type diffVersion struct {
	VersionID int64    `json:"version_id"`
	Version   string   `json:"version"`
	Tags      []string `json:"tags"`
	Before    *verdict `json:"before"` // nil: the baseline does not select it
	After     *verdict `json:"after"`  // nil: the new config does not select it
}

// diffPackage is a package with versions that differ.
type diffPackage struct {
	Policy           string         `json:"policy"`
	Owner            string         `json:"owner"`
	PackageType      string         `json:"package_type"`
	Package          string         `json:"package"`
	FreedBytesBefore int64          `json:"freed_bytes_before"`
	FreedBytesAfter  int64          `json:"freed_bytes_after"`
	Versions         []*diffVersion `json:"versions"`
}

// diffSummary counts a diff.
type diffSummary struct {
	Differ          int `json:"differ"`
	NewlyDeleted    int `json:"newly_deleted"`     // keep (or not selected) before, delete after
	NoLongerDeleted int `json:"no_longer_deleted"` // delete before, keep (or not selected) after
	RuleChanged     int `json:"rule_changed"`      // the same action, another rule
	DeleteBefore    int `json:"delete_before"`
	DeleteAfter     int `json:"delete_after"`
}

// policyDiff is the report of plan -baseline.
type policyDiff struct {
	Config   string         `json:"config"`
	Baseline string         `json:"baseline"`
	At       time.Time      `json:"at"`
	Packages []*diffPackage `json:"packages"`
	Summary  diffSummary    `json:"summary"`
}

// baselineSink keeps what the baseline decides, compactly.
type baselineSink struct {
	old   map[diffKey]*oldSide
	count int
}

func (s *baselineSink) Start(*plan.Run) error { return nil }
func (s *baselineSink) Package(p *plan.Policy, pkg *plan.Package) error {
	for _, d := range pkg.Decisions {
		k := diffKey{p.Name, pkg.OwnerName, pkg.Type, pkg.Name, d.Version.ID}
		s.old[k] = &oldSide{v: verdictOf(d), name: d.Version.Name, tags: d.Version.Tags, freed: pkg.FreedBytes}
		if d.Deletes() {
			s.count++
		}
	}
	return nil
}
func (s *baselineSink) PolicyDone(*plan.Policy) error { return nil }

func verdictOf(d *plan.Decision) verdict {
	return verdict{Action: string(d.Action), Rule: string(d.Rule), Reason: d.Reason}
}

// compareSink compares what the new config decides with the baseline, a
// package at a time, and takes the compared versions out of it: what is
// left was selected by the baseline only.
type compareSink struct {
	old  map[diffKey]*oldSide
	out  *policyDiff
	byPk map[[4]string]*diffPackage
}

func (s *compareSink) Start(*plan.Run) error { return nil }
func (s *compareSink) Package(p *plan.Policy, pkg *plan.Package) error {
	var oldFreed int64 // the package's, as the baseline planned it
	for _, d := range pkg.Decisions {
		if o := s.old[diffKey{p.Name, pkg.OwnerName, pkg.Type, pkg.Name, d.Version.ID}]; o != nil {
			oldFreed = o.freed
			break
		}
	}
	for _, d := range pkg.Decisions {
		k := diffKey{p.Name, pkg.OwnerName, pkg.Type, pkg.Name, d.Version.ID}
		after := verdictOf(d)
		if d.Deletes() {
			s.out.Summary.DeleteAfter++
		}
		o := s.old[k]
		delete(s.old, k)
		var before *verdict
		if o != nil {
			before = &o.v
		}
		s.note(p.Name, pkg.OwnerName, pkg.Type, pkg.Name, d.Version.ID, d.Version.Name, d.Version.Tags, before, &after, oldFreed, pkg.FreedBytes)
	}
	return nil
}
func (s *compareSink) PolicyDone(*plan.Policy) error { return nil }

// note lists a version when its decision differs.
func (s *compareSink) note(pol, owner, typ, name string, id int64, version string, tags []string, before, after *verdict, freedBefore, freedAfter int64) {
	sum := &s.out.Summary
	action := func(v *verdict) string {
		if v == nil {
			return string(policy.Keep) // not selected: kept
		}
		return v.Action
	}
	a, b := action(before), action(after)
	switch {
	case a != b && b == string(policy.Delete):
		sum.NewlyDeleted++
	case a != b:
		sum.NoLongerDeleted++
	case before != nil && after != nil && before.Rule != after.Rule:
		sum.RuleChanged++
	default:
		return // the same, or one side does not select it and both keep
	}
	sum.Differ++
	key := [4]string{pol, owner, typ, name}
	pk := s.byPk[key]
	if pk == nil {
		pk = &diffPackage{Policy: pol, Owner: owner, PackageType: typ, Package: name, FreedBytesBefore: freedBefore, FreedBytesAfter: freedAfter}
		s.byPk[key] = pk
		s.out.Packages = append(s.out.Packages, pk)
	}
	if tags == nil {
		tags = []string{}
	}
	pk.Versions = append(pk.Versions, &diffVersion{VersionID: id, Version: version, Tags: tags, Before: before, After: after})
}

// finish lists what only the baseline selected.
func (s *compareSink) finish() {
	keys := make([]diffKey, 0, len(s.old))
	for k := range s.old {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.policy != b.policy || a.owner != b.owner || a.typ != b.typ || a.pkg != b.pkg {
			return a.policy+"\x00"+a.owner+"\x00"+a.typ+"\x00"+a.pkg < b.policy+"\x00"+b.owner+"\x00"+b.typ+"\x00"+b.pkg
		}
		return a.id > b.id
	})
	for _, k := range keys {
		o := s.old[k]
		s.note(k.policy, k.owner, k.typ, k.pkg, k.id, o.name, o.tags, &o.v, nil, o.freed, 0)
	}
}

// planDiff is plan -baseline: both configs planned from one reading.
func planDiff(ctx context.Context, cfg *policy.Config, pols []*policy.Policy, f runFlags, out *reportOutput, format string, e env) int {
	base, code := loadConfig(f.baseline, e)
	if base == nil {
		out.Abort()
		return code
	}
	at, err := parseOneAt(f.at, e.clock.Now())
	if err != nil {
		out.Abort()
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	snap, code := diffSnapshot(ctx, cfg, pols, baselinePolicies(cfg, base, pols), f, e)
	if snap == nil {
		out.Abort()
		return code
	}
	d, code := diffPlans(ctx, cfg, base, pols, snap, at, f, e)
	if d == nil {
		out.Abort()
		return code
	}
	d.Config, d.Baseline = cfg.File, base.File
	if code := commitReport(out, writeDiff(out, d, format), e); code != exitOK {
		return code
	}
	if f.detailed && d.Summary.DeleteAfter > d.Summary.DeleteBefore {
		return exitHasDelete
	}
	return exitOK
}

// baselinePolicies are the baseline's policies compared with pols: all of
// them, or, when pols are a selection of cfg's (-policy), those of the
// same names. Planning the baseline's others would count their deletes as
// "before" and hide what the selected policies now delete more.
func baselinePolicies(cfg, base *policy.Config, pols []*policy.Policy) []*policy.Policy {
	if len(pols) == len(cfg.Policies) {
		return base.Policies
	}
	var out []*policy.Policy
	for _, b := range base.Policies {
		if slices.ContainsFunc(pols, func(p *policy.Policy) bool { return p.Name == b.Name }) {
			out = append(out, b)
		}
	}
	return out
}

// diffSnapshot is the one reading both configs are planned from: -snapshot,
// or a snapshot taken now of what either config's policies read.
func diffSnapshot(ctx context.Context, cfg *policy.Config, pols, basePols []*policy.Policy, f runFlags, e env) (*snapshot.Snapshot, int) {
	if f.snapshot != "" {
		return loadSnapshot(f.snapshot, cfg, e)
	}
	eng, code := openEngine(ctx, cfg, f.logLevel, e, engine.JournalOptional)
	if eng == nil {
		return nil, code
	}
	defer eng.Close()
	// Manifests are read as the plans of both configs read them, unless
	// the diff is at another time, whose plans may delete what plans now
	// do not.
	snap, errs := eng.SnapshotOf(ctx, append(append([]*policy.Policy(nil), pols...), basePols...), f.at != "")
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", report.Escape(err.Error()))
	}
	if snap == nil || len(errs) > 0 {
		return nil, exitFailed // a diff of half the packages would mislead a review
	}
	return snap, 0
}

// diffPlans plans the baseline, then the new config, comparing as it goes.
func diffPlans(ctx context.Context, cfg, base *policy.Config, pols []*policy.Policy, snap *snapshot.Snapshot, at time.Time, f runFlags, e env) (*policyDiff, int) {
	oldEng, code := openOffline(ctx, base, snap, f.logLevel, e)
	if oldEng == nil {
		return nil, code
	}
	defer oldEng.Close()
	bs := &baselineSink{old: map[diffKey]*oldSide{}}
	if _, err := oldEng.Run(ctx, baselinePolicies(cfg, base, pols), engine.RunOptions{Trigger: engine.TriggerCLI, Sink: bs, At: at}); err != nil {
		fmt.Fprintf(e.stderr, "ghprune: the baseline: %v\n", report.Escape(err.Error()))
		return nil, exitFailed
	}
	newEng, code := openOffline(ctx, cfg, snap, f.logLevel, e)
	if newEng == nil {
		return nil, code
	}
	defer newEng.Close()
	d := &policyDiff{At: at.UTC(), Packages: []*diffPackage{}}
	d.Summary.DeleteBefore = bs.count
	cs := &compareSink{old: bs.old, out: d, byPk: map[[4]string]*diffPackage{}}
	if _, err := newEng.Run(ctx, pols, engine.RunOptions{Trigger: engine.TriggerCLI, Sink: cs, At: at}); err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", report.Escape(err.Error()))
		return nil, exitFailed
	}
	cs.finish()
	return d, 0
}

// writeDiff renders a diff.
func writeDiff(w io.Writer, d *policyDiff, format string) error {
	switch format {
	case "json":
		return report.WriteJSON(w, d)
	case "markdown":
		return writeDiffMarkdown(w, d)
	}
	return writeDiffTable(w, d)
}

func side(v *verdict) (string, string) {
	if v == nil {
		return "keep", "not selected"
	}
	return v.Action, v.Rule
}

func pkgLine(p *diffPackage) string {
	more, fewer := 0, 0
	for _, v := range p.Versions {
		a, _ := side(v.Before)
		b, _ := side(v.After)
		switch {
		case a != b && b == "delete":
			more++
		case a != b:
			fewer++
		}
	}
	s := fmt.Sprintf("%d versions differ: %d more deleted, %d fewer", len(p.Versions), more, fewer)
	if p.FreedBytesBefore != p.FreedBytesAfter {
		s += fmt.Sprintf("; frees ~%s, was ~%s", report.HumanBytes(p.FreedBytesAfter), report.HumanBytes(p.FreedBytesBefore))
	}
	return s
}

func writeDiffTable(w io.Writer, d *policyDiff) error {
	bw := &errWriterCmd{w: w}
	for _, p := range d.Packages {
		fmt.Fprintf(bw, "policy %s: %s/%s (%s): %s\n", report.Escape(p.Policy), report.Escape(p.Owner), report.Escape(p.Package), p.PackageType, pkgLine(p))
		for _, v := range p.Versions {
			ba, br := side(v.Before)
			aa, ar := side(v.After)
			fmt.Fprintf(bw, "  %d  %s  %s  %s (%s) → %s (%s)\n", v.VersionID, report.Escape(report.ShortVersion(v.Version)),
				report.Escape(report.TagList(v.Tags)), ba, report.Escape(report.ShortDigests(br)), aa, report.Escape(report.ShortDigests(ar)))
		}
	}
	s := d.Summary
	fmt.Fprintf(bw, "diff: %d versions differ: %d more deleted, %d fewer, %d by another rule; deletes %d, was %d\n",
		s.Differ, s.NewlyDeleted, s.NoLongerDeleted, s.RuleChanged, s.DeleteAfter, s.DeleteBefore)
	return bw.err
}

func writeDiffMarkdown(w io.Writer, d *policyDiff) error {
	bw := &errWriterCmd{w: w}
	s := d.Summary
	fmt.Fprintf(bw, "### ghprune policy diff\n\n%d versions differ: **%d more deleted**, %d fewer, %d by another rule; the new config deletes %d, the baseline %d.\n",
		s.Differ, s.NewlyDeleted, s.NoLongerDeleted, s.RuleChanged, s.DeleteAfter, s.DeleteBefore)
	for _, p := range d.Packages {
		fmt.Fprintf(bw, "\n<details><summary>%s: %s/%s: %s</summary>\n\n", report.MarkdownEscape(p.Policy), report.MarkdownEscape(p.Owner),
			report.MarkdownEscape(p.Package), report.MarkdownEscape(pkgLine(p)))
		fmt.Fprintln(bw, "| id | version | tags | before | after |")
		fmt.Fprintln(bw, "|--:|---|---|---|---|")
		for i, v := range p.Versions {
			if i == 100 {
				fmt.Fprintf(bw, "\n… and %d more (-format json lists them all)\n", len(p.Versions)-i)
				break
			}
			ba, br := side(v.Before)
			aa, ar := side(v.After)
			fmt.Fprintf(bw, "| %d | %s | %s | %s (%s) | %s (%s) |\n", v.VersionID, report.MarkdownEscape(report.ShortVersion(v.Version)),
				report.MarkdownEscape(report.TagList(v.Tags)), ba, report.MarkdownEscape(br), aa, report.MarkdownEscape(ar))
		}
		fmt.Fprintln(bw, "\n</details>")
	}
	return bw.err
}
