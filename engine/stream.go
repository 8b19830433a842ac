package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/metrics"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
)

// policyRun carries one policy through a run a package at a time.
//
// Without a sink it keeps every package, as Plan and Apply return them.
// With one, a package goes to the sink as soon as it is final, and what the
// run keeps is bounded by what is left to do, not by the organization:
//   - a plan without max_deletes_per_run: nothing; each package goes out
//     as soon as it is decided;
//   - otherwise (the cap spans the policy's packages; an apply acts after
//     the last is listed): each package's decisions wait in a spill file,
//     the run keeps the cap's candidates (policy.RunCap) and, to apply,
//     the deletions with the ids of container packages (for the check
//     that nothing was pushed since the plan); once the cap is known and
//     the deletes are done, the packages are read back, capped, given
//     their outcomes and sent out.
type policyRun struct {
	e          *Engine
	p          *policy.Policy
	pp         *plan.Policy
	runID      int64
	sink       Sink
	selectedBy map[string]string
	budget     *budget
	progress   *progress
	at         time.Time // decisions are made at at; zero is now

	lint *policy.PlanLint
	cap  *policy.RunCap
	// pkgs are the packages in order: whole without a sink; with one and a
	// second pass, their metadata with only the deletions (apply).
	pkgs []*plan.Package
	// kept maps, for a package of pkgs, the index of each deletion it
	// holds in the decisions the spill has.
	kept  [][]int32
	spill *spill
	// sinkErr is the first error of the sink: the run stops.
	sinkErr error
}

// secondPass says whether packages wait for the end of the policy before
// they go out: the run cap spans packages, and deletes come after the
// last is listed.
func (r *policyRun) secondPass() bool {
	return r.sink != nil && (r.p.Limits.MaxDeletesPerRun > 0 || r.pp.Mode == policy.ModeEnforce)
}

// run plans the policy and, in enforce mode, carries it out, then
// publishes its metrics once.
func (r *policyRun) run(ctx context.Context) *plan.Policy {
	e, p, pp := r.e, r.p, r.pp
	pstart := e.clock.Now()
	decideAt := pstart
	if !r.at.IsZero() {
		decideAt = r.at
	}
	startReqs := e.requests()
	// This run's planner and executor: they wait for the budget within its
	// deadline.
	pl, ex := *e.planner, *e.exec
	pl.Budget, ex.Budget = r.budget.wait, r.budget.wait
	ex.Done = func() { r.progress.update(func(p *plan.Progress) { p.Done++ }) }
	r.progress.update(func(p *plan.Progress) { p.Policy = r.p.Name })
	r.lint = p.NewPlanLint()
	r.cap = policy.NewRunCap(p.Limits.MaxDeletesPerRun)
	err := r.budget.wait(ctx, 1)
	if err == nil && r.secondPass() {
		r.spill, err = newSpill()
		if err != nil {
			err = fmt.Errorf("cannot hold the plan for the run cap or the deletes: %w", err)
		}
	}
	defer r.spill.close()
	if err == nil {
		var planned *plan.Policy
		planned, err = pl.Each(ctx, p, pp.Mode, decideAt, r.add)
		if planned != nil && err == nil {
			r.lintEnd()
		}
	}
	if err == nil {
		err = r.finish(ctx, &ex)
	}
	if r.sink == nil {
		pp.Packages = r.pkgs
	}
	c := pp.Count()
	if c.NotPlanned > 0 && err == nil {
		err = ErrPackagesNotPlanned
	}
	if c.Failed > 0 && err == nil {
		err = fmt.Errorf("%d %w", c.Failed, ErrDeletesFailed)
	}
	result := metrics.Success
	if errors.Is(err, plan.ErrDeferred) {
		pp.Err = err // the whole policy waits for the next run: not a failure
		e.log.Info("policy deferred to the next run", zap.String("policy", p.Name), zap.Error(err))
	} else if err != nil {
		result = metrics.Failure
		if ctx.Err() != nil {
			result = metrics.Cancelled
		}
		pp.Err = err
		e.log.Warn("policy run failed", zap.String("policy", p.Name), zap.Error(err))
	}
	pp.APIRequests = e.requests() - startReqs
	now := e.clock.Now()
	e.metrics.PolicyRun(pp, result, now.Sub(pstart), now)
	return pp
}

// add takes one package as the planner decided it.
func (r *policyRun) add(pkg *plan.Package) error {
	r.lintPackage(pkg)
	r.logPackage(pkg)
	r.progress.update(func(p *plan.Progress) { p.Packages++; p.Versions += len(pkg.Decisions) })
	i := len(r.pkgs)
	r.cap.Add(i, pkg.PolicyDecisions())
	switch {
	case r.sink == nil:
		r.pkgs = append(r.pkgs, pkg)
	case !r.secondPass():
		return r.send(pkg)
	default:
		if err := r.spill.put(pkg.Decisions); err != nil {
			return fmt.Errorf("cannot hold the plan for the run cap or the deletes: %w", err)
		}
		meta, kept := r.trim(pkg)
		r.pkgs = append(r.pkgs, meta)
		r.kept = append(r.kept, kept)
	}
	return nil
}

// trim is what the second pass keeps of pkg: its metadata and, to apply,
// its deletions (each with a copy of its version, so that the package's
// versions are not kept alive) and, for a container package, the ids of
// every version listed.
func (r *policyRun) trim(pkg *plan.Package) (*plan.Package, []int32) {
	meta := *pkg
	meta.Decisions = nil
	if r.pp.Mode != policy.ModeEnforce {
		return &meta, nil
	}
	var kept []int32
	for i, d := range pkg.Decisions {
		if d.Deletes() {
			v := *d.Version
			d.Version = &v
			meta.Decisions = append(meta.Decisions, d)
			kept = append(kept, int32(i))
		}
	}
	if pkg.Type == "container" || pkg.Type == "docker" {
		meta.Listed = make([]int64, len(pkg.Decisions))
		for i, d := range pkg.Decisions {
			meta.Listed[i] = d.Version.ID
		}
	}
	return &meta, kept
}

// finish applies the run cap, carries out the deletions in enforce mode,
// and sends out what waited for both.
func (r *policyRun) finish(ctx context.Context, ex interface {
	Execute(context.Context, int64, *plan.Policy) error
}) error {
	for i, pkg := range r.pkgs {
		for j, d := range pkg.Decisions {
			at := j
			if r.kept != nil {
				at = int(r.kept[i][j])
			}
			r.cap.Apply(i, at, &d.Decision)
		}
	}
	var err error
	if r.pp.Mode == policy.ModeEnforce {
		n := 0
		for _, pkg := range r.pkgs {
			for _, d := range pkg.Decisions {
				if d.Deletes() {
					n++
				}
			}
		}
		r.progress.update(func(p *plan.Progress) { p.Deletes += n })
		err = ex.Execute(ctx, r.runID, &plan.Policy{Name: r.pp.Name, Mode: r.pp.Mode, Packages: r.pkgs})
	}
	if r.spill == nil {
		return err
	}
	// The packages go out whatever the deletes did: the report must say
	// what was deleted before the run stopped.
	if rerr := r.spill.rewind(); rerr != nil {
		return errors.Join(err, fmt.Errorf("read the plan back: %w", rerr))
	}
	for i, meta := range r.pkgs {
		ds, rerr := r.spill.next()
		if rerr != nil {
			return errors.Join(err, fmt.Errorf("read the plan back: %w", rerr))
		}
		k := 0
		for j := range ds {
			if r.kept != nil && k < len(r.kept[i]) && int(r.kept[i][k]) == j {
				ds[j] = meta.Decisions[k] // the deletion as carried out
				k++
				continue
			}
			r.cap.Apply(i, j, &ds[j].Decision)
		}
		pkg := *meta
		pkg.Decisions, pkg.Listed = ds, nil
		r.pkgs[i] = nil
		if serr := r.send(&pkg); serr != nil {
			return errors.Join(err, serr)
		}
	}
	return err
}

// logPackage is the structured line each package decided gets (serve,
// and runs whose stderr is not a terminal, show it at -log-level info).
func (r *policyRun) logPackage(pkg *plan.Package) {
	if pkg.Err != nil {
		return // the planner logged why
	}
	c := pkg.Count()
	r.e.log.Info("package decided", zap.String("policy", r.p.Name), zap.String("package", pkg.Name),
		zap.String("package_type", pkg.Type), zap.Int("versions", c.Versions), zap.Int("delete", c.Delete), zap.Int("keep", c.Keep))
}

// send hands a final package to the sink and counts it.
func (r *policyRun) send(pkg *plan.Package) error {
	if err := r.sink.Package(r.pp, pkg); err != nil {
		r.sinkErr = err
		return fmt.Errorf("write report: %w", err)
	}
	r.pp.Sent.Add(pkg.Count())
	return nil
}

// lintPackage finds what one package of a plan says about its policy:
// undated versions, a package kept whole, a package an earlier policy of
// the run also selected (one policy's protect does not stop another's
// deletes); and records its names for the patterns that match nothing.
func (r *policyRun) lintPackage(pkg *plan.Package) {
	r.lint.Package(pkg.Name)
	undated, first := 0, ""
	for _, d := range pkg.Decisions {
		r.lint.Version(d.Version.Name, d.Version.Tags)
		if d.Rule == policy.RuleInvalidTime {
			if undated++; undated == 1 {
				first = fmt.Sprintf("version %d: %s", d.Version.ID, d.Reason)
			}
		}
	}
	warn := &r.pp.Warnings
	if undated > 0 {
		*warn = append(*warn, fmt.Sprintf("package %q: %d versions kept because a date is missing, unreadable or in the future (invalid-time); first, %s", pkg.Name, undated, first))
	}
	if len(pkg.Decisions) > 0 && pkg.Decisions[0].Rule == policy.RuleListingChanged {
		*warn = append(*warn, fmt.Sprintf("package %q kept whole: %s", pkg.Name, pkg.Decisions[0].Reason))
	}
	key := pkg.OwnerName + "/" + pkg.Type + "/" + pkg.Name
	if other, ok := r.selectedBy[key]; ok {
		*warn = append(*warn, fmt.Sprintf("package %q is also selected by policy %q: each policy's protect and keep rules do not stop the other's deletes", pkg.Name, other))
	} else {
		r.selectedBy[key] = r.p.Name
	}
}

// lintEnd adds the policy-wide findings once every package was seen.
func (r *policyRun) lintEnd() {
	if r.pp.Sent.Packages == 0 && len(r.pkgs) == 0 {
		r.pp.Warnings = append(r.pp.Warnings, "selects no package")
		return
	}
	r.pp.Warnings = append(r.pp.Warnings, r.lint.Warnings()...)
}
