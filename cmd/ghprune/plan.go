package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/report"
)

// runFlags are plan's and apply's flags.
type runFlags struct {
	common
	format, out string
	verbose     bool
	detailed    bool
	maxRows     int
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
	out, err := openOutput(f.out, cfg, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	jm := engine.JournalOptional
	if apply {
		jm = engine.JournalCreate
	}
	eng, code := openEngine(ctx, cfg, f.logLevel, e, jm)
	if eng == nil {
		out.Abort()
		return code
	}
	defer eng.Close()
	var run *plan.Run
	var runErr error
	if apply {
		run, runErr = eng.Apply(ctx, pols, engine.TriggerCLI)
	} else {
		run, runErr = eng.Plan(ctx, pols)
	}
	if runErr != nil && len(run.Policies) == 0 {
		// Nothing was planned (the journal is locked by another enforcing
		// run, say): an empty report must not replace the last one.
		out.Abort()
		fmt.Fprintf(e.stderr, "ghprune: %v\n", report.Escape(runErr.Error()))
		return exitFailed
	}
	r := report.FromRun(run)
	if err := writeReport(out, r, format, e, f.verbose, f.out == "" && e.stdoutTTY, f.maxRows); err != nil {
		out.Abort()
		fmt.Fprintf(e.stderr, "ghprune: write report: %v\n", err)
		return exitFailed
	}
	if err := out.Commit(); err != nil {
		fmt.Fprintf(e.stderr, "ghprune: write report: %v\n", err)
		return exitFailed
	}
	if runErr != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", report.Escape(runErr.Error()))
		return exitFailed
	}
	if f.detailed && r.Summary.Delete > 0 {
		return exitHasDelete
	}
	return exitOK
}
