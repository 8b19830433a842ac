package report

import (
	"errors"
	"time"

	"github.com/ghprune/ghprune/plan"
)

// FromRun is the report of a run: the JSON document cli.md fixes, which the
// table and Markdown renderings read too. It converts the typed plan into
// the wire format (strings, errors as their text) and counts the summary.
func FromRun(run *plan.Run) *Report {
	r := &Report{RunID: run.RunID, Mode: string(run.Mode), StartedAt: run.StartedAt, PlannedAt: run.PlannedAt, FinishedAt: run.FinishedAt,
		Policies: make([]*Policy, 0, len(run.Policies))}
	for _, p := range run.Policies {
		rp := fromPolicy(p)
		for _, pkg := range p.Packages {
			rp.Packages = append(rp.Packages, fromPackage(pkg))
		}
		r.Policies = append(r.Policies, rp)
	}
	r.Summary.APIRequests, r.Summary.ManifestFetches = run.APIRequests, run.ManifestFetches
	r.Summary.ApplyEstimate = estimateOf(run)
	r.Summarize()
	return r
}

// fromPolicy is a policy without its packages.
func fromPolicy(p *plan.Policy) *Policy {
	rp := &Policy{Policy: p.Name, Mode: string(p.Mode), Warnings: p.Warnings, Packages: make([]*Package, 0, len(p.Packages)),
		APIRequests: p.APIRequests}
	switch {
	case errors.Is(p.Err, plan.ErrDeferred):
		rp.Deferred = p.Err.Error()
	case p.Err != nil:
		rp.Error = p.Err.Error()
	}
	return rp
}

// SummaryOf counts a run, streamed or not, as Summarize counts a report.
func SummaryOf(run *plan.Run) Summary {
	c := run.Count()
	return Summary{VersionsScanned: c.Versions, Keep: c.Keep, Delete: c.Delete, Deleted: c.Deleted, Failed: c.Failed,
		Skipped: c.Skipped, Deferred: c.Deferred, DeferredPackages: c.DeferredPackages, FreedBytes: c.FreedBytes,
		APIRequests: run.APIRequests, ManifestFetches: run.ManifestFetches, ApplyEstimate: estimateOf(run)}
}

// estimateOf is the apply estimate of a plan; nil for an apply.
func estimateOf(run *plan.Run) *Estimate {
	if run.RunID != nil {
		return nil
	}
	e := run.Estimate
	return &Estimate{Requests: e.Requests, ListRequests: e.ListRequests, DeleteRequests: e.DeleteRequests,
		ManifestFetches: e.ManifestFetches, DurationSeconds: e.Duration.Round(time.Second).Seconds(),
		BudgetPauses: e.BudgetPauses, PastDeadline: e.PastDeadline}
}

func fromPackage(pkg *plan.Package) *Package {
	rp := &Package{Owner: pkg.OwnerName, OwnerType: pkg.OwnerType, PackageType: pkg.Type, Package: pkg.Name,
		Visibility: pkg.Visibility, VersionsTotal: len(pkg.Decisions), FreedBytes: pkg.FreedBytes,
		APIOwner: pkg.Owner.Kind.String(), Decisions: make([]*Decision, len(pkg.Decisions))}
	switch {
	case errors.Is(pkg.Err, plan.ErrDeferred):
		rp.Deferred = pkg.Err.Error()
	case pkg.Err != nil:
		rp.Error = pkg.Err.Error()
	}
	for i, d := range pkg.Decisions {
		v := d.Version
		tags := v.Tags
		if tags == nil {
			tags = []string{}
		}
		rd := &Decision{VersionID: v.ID, Version: v.Name, Tags: tags, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
			Action: string(d.Action), Rule: string(d.Rule), Reason: d.Reason, Parents: d.Parents,
			Outcome: string(d.Outcome), RestorableUntil: d.RestorableUntil}
		if d.Err != nil {
			rd.Error = d.Err.Error()
		}
		rp.Decisions[i] = rd
	}
	return rp
}
