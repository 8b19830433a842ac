package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

// runFlags are plan's and apply's flags.
type runFlags struct {
	common
	format, out string
	verbose     bool
	detailed    bool
	maxRows     int
	// plan only
	snapshot, at, baseline string
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.common.register(fs)
	fs.StringVar(&f.format, "format", "", "report format: table, json or markdown (default: table on a terminal, else json)")
	fs.StringVar(&f.out, "o", "", "write the report to `file`")
	fs.BoolVar(&f.verbose, "verbose", false, "list kept versions too (table)")
	fs.IntVar(&f.maxRows, "max-rows", 0, "table: list at most `N` versions per package (0 = all)")
}

func cmdPlan(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	fs.BoolVar(&f.detailed, "detailed-exitcode", false, "exit 3 when the plan deletes something")
	fs.StringVar(&f.snapshot, "snapshot", "", "plan from the snapshot `file` (ghprune snapshot) instead of GitHub: no request, no token")
	fs.StringVar(&f.baseline, "baseline", "", "compare with the config `file` OLD: list only the versions whose action or deciding rule differs")
	fs.StringVar(&f.at, "at", "", "plan as of `TIME`: RFC 3339, a date, or +30d/+2w from now; several, comma-separated, give a table of what each deletes")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	return runCommand(ctx, f, false, e)
}

func cmdApply(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	return runCommand(ctx, f, true, e)
}

// runCommand is plan and apply: load, run the policies, write the report.
func runCommand(ctx context.Context, f runFlags, apply bool, e env) int {
	format, err := resolveFormat(f.format, f.out, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	cfg, code := loadConfig(f.config, e)
	if cfg == nil {
		return code
	}
	pols, code := selectPolicies(cfg, f.policies, e)
	if pols == nil {
		return code
	}
	// Open the report file before anything is deleted: a report that
	// cannot be written must not be discovered after the deletes.
	out, err := openOutput(f.out, cfg, e, [2]string{"-snapshot", f.snapshot}, [2]string{"-baseline", f.baseline})
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	if f.baseline != "" {
		return planDiff(ctx, cfg, pols, f, out, format, e)
	}
	horizons, err := parseHorizons(f.at, e.clock.Now())
	if err != nil {
		out.Abort()
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	eng, code := openRunEngine(ctx, cfg, f, apply, e)
	if eng == nil {
		out.Abort()
		return code
	}
	defer eng.Close()
	if len(horizons) > 1 {
		return planHorizons(ctx, eng, cfg, pols, horizons, out, format, f, e)
	}
	var at time.Time
	if len(horizons) == 1 {
		at = horizons[0].at
	}
	run, runErr, werr := runAndReport(ctx, eng, pols, apply, at, out, format, f, e)
	if runErr != nil && len(run.Policies) == 0 {
		// Nothing was planned (the journal is locked by another enforcing
		// run, say): an empty report must not replace the last one.
		out.Abort()
		fmt.Fprintf(e.stderr, "ghprune: %v\n", report.Escape(runErr.Error()))
		return exitFailed
	}
	if code := commitReport(out, werr, e); code != exitOK {
		return code
	}
	if runErr != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", report.Escape(runErr.Error()))
		return exitFailed
	}
	if f.detailed && report.SummaryOf(run).Delete > 0 {
		return exitHasDelete
	}
	return exitOK
}

// runAndReport runs the policies and writes the report: as the run goes,
// a package at a time, for the table and JSON, so that a run of any size
// holds only what is left to do; Markdown (a pull-request comment, a job
// summary) opens with the summary, so it is written from the whole run.
// The write error is the report's; when the run planned nothing at all
// (run.Policies empty) nothing has reached out.
func runAndReport(ctx context.Context, eng *engine.Engine, pols []*policy.Policy, apply bool, at time.Time, out io.Writer, format string, f runFlags, e env) (*plan.Run, error, error) {
	o := engine.RunOptions{Apply: apply, Trigger: engine.TriggerCLI, At: at}
	if e.progress != nil {
		o.Progress = func(p plan.Progress) { e.progress.show(formatProgress(p, e.clock.Now())) }
		defer e.progress.clear()
	}
	opts := report.TableOptions{Color: f.out == "" && e.stdoutTTY && colorAllowed(e), Verbose: f.verbose, MaxRows: f.maxRows}
	if format == "markdown" {
		run, err := eng.Run(ctx, pols, o)
		if len(run.Policies) == 0 {
			return run, err, nil
		}
		return run, err, report.WriteMarkdown(out, report.FromRun(run), opts)
	}
	// Buffered: a package is many short writes; nothing reaches out
	// before 64 KiB or the end, so a run that plans nothing writes nothing.
	bw := bufio.NewWriterSize(out, 1<<16)
	s := report.NewTableStream(bw, opts)
	if format == "json" {
		s = report.NewJSONStream(bw)
	}
	o.Sink = s
	run, err := eng.Run(ctx, pols, o)
	if len(run.Policies) == 0 {
		return run, err, nil
	}
	werr := s.End(run)
	if ferr := bw.Flush(); werr == nil {
		werr = ferr
	}
	return run, err, werr
}

// colorAllowed honours NO_COLOR (https://no-color.org) and TERM=dumb.
func colorAllowed(e env) bool {
	return e.getenv != nil && e.getenv("NO_COLOR") == "" && e.getenv("TERM") != "dumb"
}

// openRunEngine opens the engine of a plan or an apply: from -snapshot
// when given (a plan), else against GitHub.
func openRunEngine(ctx context.Context, cfg *policy.Config, f runFlags, apply bool, e env) (*engine.Engine, int) {
	if f.snapshot != "" {
		snap, code := loadSnapshot(f.snapshot, cfg, e)
		if snap == nil {
			return nil, code
		}
		return openOffline(ctx, cfg, snap, f.logLevel, e)
	}
	jm := engine.JournalOptional
	if apply {
		jm = engine.JournalCreate
	}
	return openEngine(ctx, cfg, f.logLevel, e, jm)
}
