package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

// restoreFlags are restore's flags.
type restoreFlags struct {
	config, journal string
	format, out     string
	logLevel        string
	since           string
	dryRun          bool
	sel             engine.Selector // all but Since, which is parsed from since
}

func (f *restoreFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", policy.DefaultConfigFile, "config `file`")
	fs.StringVar(&f.journal, "journal", "", "restore from the journal `file` instead of the config's state.path")
	fs.Int64Var(&f.sel.RunID, "run", 0, "restore every version run `ID` deleted")
	fs.Int64Var(&f.sel.VersionID, "version-id", 0, "restore the version with GitHub id `N`")
	fs.StringVar(&f.sel.Owner, "owner", "", "only versions of this `owner` (an organization or user)")
	fs.StringVar(&f.sel.Package, "package", "", "restore versions of `package` (with -tag or -version)")
	fs.StringVar(&f.sel.Tag, "tag", "", "with -package: the version that had this `tag`")
	fs.StringVar(&f.sel.Version, "version", "", "with -package: the version `name` (digest for containers)")
	fs.StringVar(&f.since, "since", "", "restore everything deleted in the last `duration` (e.g. 2h)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "say what would be restored; send nothing")
	fs.StringVar(&f.format, "format", "", "table, json or markdown (default: table on a terminal, else json)")
	fs.StringVar(&f.out, "o", "", "write the report to `file`")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level")
}

// check refuses a restore that names nothing, or a whole package: on-call
// must say what comes back.
func (f *restoreFlags) check() error {
	s := f.sel
	if s.RunID == 0 && s.VersionID == 0 && s.Package == "" && f.since == "" {
		return errors.New("say what to restore: -run ID, -version-id N, -package P with -tag T or -version V, or -since DURATION")
	}
	if s.Package != "" && s.Tag == "" && s.Version == "" && s.RunID == 0 && f.since == "" {
		return errors.New("-package needs -tag or -version (or -run/-since) so a whole package is never restored by accident")
	}
	return nil
}

func cmdRestore(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var f restoreFlags
	f.register(fs)
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	format, err := resolveFormat(f.format, f.out, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	if f.sel.Since, err = parseSince(f.since, e); err != nil {
		fmt.Fprintf(e.stderr, "ghprune restore: %v\n", err)
		return exitUsage
	}
	if err := f.check(); err != nil {
		fmt.Fprintf(e.stderr, "ghprune restore: %v\n", err)
		return exitUsage
	}
	// The config is needed even with -journal: it names the token and the
	// API.
	cfg, code := loadConfig(f.config, e)
	if cfg == nil {
		return code
	}
	configJournal := overrideJournal(cfg, f.journal)
	// Open the report file before anything is restored: a report that
	// cannot be written must not be discovered after the restores.
	out, err := openJournalOutput(f.out, cfg, configJournal, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	r, code := restore(ctx, cfg, f, e)
	if r == nil {
		out.Abort()
		return code
	}
	// What went wrong is said on stderr even when the report could not be
	// written: the restores were sent all the same.
	code = commitReport(out, writeRestore(out, r, format), e)
	reportNotActive(e, r)
	for _, err := range []error{r.Err, r.VerifyErr} {
		if err != nil {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		}
	}
	if code != exitOK || !r.OK() {
		return exitFailed
	}
	return exitOK
}

// restore opens the engine and restores what f selects. On failure it has
// printed why and returns a nil run and the exit code.
func restore(ctx context.Context, cfg *policy.Config, f restoreFlags, e env) (*engine.RestoreRun, int) {
	eng, code := openEngine(ctx, cfg, f.logLevel, e, engine.JournalExisting)
	if eng == nil {
		return nil, code
	}
	defer eng.Close()
	r, err := eng.Restore(ctx, f.sel, f.dryRun)
	if err != nil {
		if errors.Is(err, engine.ErrUsage) {
			fmt.Fprintf(e.stderr, "ghprune restore: %v\n", report.Escape(err.Error()))
		} else {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		}
		return nil, exitCode(err)
	}
	return r, exitOK
}

// restoreReport is r as the reports show it.
func restoreReport(r *engine.RestoreRun) report.Restore {
	results := r.Results
	if results == nil {
		results = []executor.RestoreResult{}
	}
	return report.Restore{RunID: r.RunID, DryRun: r.DryRun, Results: results,
		Matched: r.Matched, Restored: r.Restored, Failed: r.Failed, Inactive: r.Inactive}
}

// writeRestore renders what a restore did to w.
func writeRestore(w io.Writer, r *engine.RestoreRun, format string) error {
	rr := restoreReport(r)
	switch format {
	case "json":
		return report.WriteJSON(w, map[string]any{"restore_run_id": rr.RunID, "dry_run": rr.DryRun, "results": rr.Results,
			"summary": map[string]int{"matched": rr.Matched, "restored": rr.Restored, "failed": rr.Failed, "not_active": rr.Inactive}})
	case "markdown":
		return report.WriteRestoreMarkdown(w, rr)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tACTIVE\tRUN\tPACKAGE\tVERSION ID\tVERSION\tTAGS\tNOTE")
	for _, res := range rr.Results {
		d := res.Deletion
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", res.Result, report.ActiveCell(res), d.RunID, report.Escape(d.Package), d.VersionID,
			report.Escape(report.ShortVersion(d.Version)), report.Escape(report.TagList(d.Tags)), report.Escape(res.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, rr.Summary())
	return err
}

// reportNotActive names on stderr each version GitHub does not list as
// active after the restore, whatever the report's format and destination:
// on-call must see it.
func reportNotActive(e env, r *engine.RestoreRun) {
	for _, res := range r.Results {
		if res.Active != nil && !*res.Active {
			fmt.Fprintf(e.stderr, "ghprune restore: version %d of %s %s is not active on GitHub after the restore (%s)\n",
				res.Deletion.VersionID, report.Escape(res.Deletion.Package), report.Escape(report.ShortVersion(res.Deletion.Version)), res.Result)
		}
	}
}
