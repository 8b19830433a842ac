package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

func cmdRestore(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	config := fs.String("config", policy.DefaultConfigFile, "config `file`")
	runID := fs.Int64("run", 0, "restore every version run `ID` deleted")
	versionID := fs.Int64("version-id", 0, "restore the version with GitHub id `N`")
	owner := fs.String("owner", "", "only versions of this `owner` (an organization or user)")
	pkg := fs.String("package", "", "restore versions of `package` (with -tag or -version)")
	tag := fs.String("tag", "", "with -package: the version that had this `tag`")
	version := fs.String("version", "", "with -package: the version `name` (digest for containers)")
	since := fs.String("since", "", "restore everything deleted in the last `duration` (e.g. 2h)")
	dryRun := fs.Bool("dry-run", false, "say what would be restored; send nothing")
	format := fs.String("format", "", "table or json (default: table on a terminal, else json)")
	logLevel := fs.String("log-level", "warn", "log level")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	fmtName, err := resolveFormat(*format, "", e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	var sel engine.Selector
	if sel.Since, err = parseSince(*since, e); err != nil {
		fmt.Fprintf(e.stderr, "ghprune restore: %v\n", err)
		return exitUsage
	}
	if *runID == 0 && *versionID == 0 && *pkg == "" && *since == "" {
		fmt.Fprintln(e.stderr, "ghprune restore: say what to restore: -run ID, -version-id N, -package P with -tag T or -version V, or -since DURATION")
		return exitUsage
	}
	if *pkg != "" && *tag == "" && *version == "" && *runID == 0 && *since == "" {
		fmt.Fprintln(e.stderr, "ghprune restore: -package needs -tag or -version (or -run/-since) so a whole package is never restored by accident")
		return exitUsage
	}
	sel.RunID, sel.VersionID, sel.Owner, sel.Package, sel.Tag, sel.Version = *runID, *versionID, *owner, *pkg, *tag, *version
	cfg, code := loadConfig(*config, e)
	if cfg == nil {
		return code
	}
	eng, code := openEngine(ctx, cfg, *logLevel, e, engine.JournalExisting)
	if eng == nil {
		return code
	}
	defer eng.Close()
	r, err := eng.Restore(ctx, sel, *dryRun)
	if err != nil {
		if errors.Is(err, engine.ErrUsage) {
			fmt.Fprintf(e.stderr, "ghprune restore: %v\n", report.Escape(err.Error()))
		} else {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		}
		return exitCode(err)
	}
	writeRestore(e, r, fmtName)
	for _, err := range []error{r.Err, r.VerifyErr} {
		if err != nil {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		}
	}
	if !r.OK() {
		return exitFailed
	}
	return exitOK
}

// writeRestore renders what a restore did.
func writeRestore(e env, r *engine.RestoreRun, format string) {
	results := r.Results
	if format == "json" {
		if results == nil {
			results = []executor.RestoreResult{}
		}
		report.WriteJSON(e.stdout, map[string]any{"restore_run_id": r.RunID, "dry_run": r.DryRun, "results": results,
			"summary": map[string]int{"matched": r.Matched, "restored": r.Restored, "failed": r.Failed, "not_active": r.Inactive}})
	} else {
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RESULT\tACTIVE\tRUN\tPACKAGE\tVERSION ID\tVERSION\tTAGS\tNOTE")
		for _, res := range results {
			d := res.Deletion
			active := "-"
			if res.Active != nil {
				active = map[bool]string{true: "yes", false: "NO"}[*res.Active]
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", res.Result, active, d.RunID, report.Escape(d.Package), d.VersionID,
				report.Escape(report.ShortVersion(d.Version)), report.Escape(report.TagList(d.Tags)), report.Escape(res.Error))
		}
		tw.Flush()
		fmt.Fprintf(e.stdout, "%d matched, %d restored, %d failed or expired", r.Matched, r.Restored, r.Failed)
		if r.DryRun {
			fmt.Fprint(e.stdout, " (dry run: nothing sent)")
		} else {
			fmt.Fprintf(e.stdout, "; %d of %d active on GitHub now", len(results)-r.Inactive, len(results))
		}
		fmt.Fprintln(e.stdout)
	}
	for _, res := range results {
		if res.Active != nil && !*res.Active {
			fmt.Fprintf(e.stderr, "ghprune restore: version %d of %s %s is not active on GitHub after the restore (%s)\n",
				res.Deletion.VersionID, report.Escape(res.Deletion.Package), report.Escape(report.ShortVersion(res.Deletion.Version)), res.Result)
		}
	}
}
