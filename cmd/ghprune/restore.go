package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/journal"
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
	// Open intents are matched too: a restore settles them against GitHub
	// first (a dry run only asks), so both see the same versions.
	f := journal.Filter{RunID: *runID, VersionID: *versionID, Owner: *owner, Package: *pkg, Tag: *tag, Version: *version,
		States: []string{journal.StateDeleted, journal.StateIntent}}
	if f.Since, err = parseSince(*since, e); err != nil {
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
	cfg, code := loadConfig(*config, e)
	if cfg == nil {
		return code
	}
	a, code := startApp(ctx, cfg, *logLevel, e, nil, journalExisting)
	if a == nil {
		return code
	}
	defer a.Close()
	if code := checkRun(ctx, a.journal, *runID, e); code != 0 {
		return code
	}
	rows, err := a.journal.Deletions(ctx, f)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitFailed
	}
	// A version deleted by a killed run is restorable too: settle open
	// intents (in a dry run, only find out how they would be settled).
	rec, err := a.exec.Reconcile(ctx, *dryRun)
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: %v\n", err)
	}
	for i := range rows {
		if settled, ok := rec.Settled[rows[i].ID]; ok {
			rows[i] = settled
		}
	}
	if *runID == 0 && *versionID == 0 && *owner == "" {
		// -package or -since alone may match the same name under two owners:
		// say so before restoring more than was meant.
		owners := map[string]bool{}
		for _, d := range rows {
			owners[d.OwnerType+" "+d.Owner+"/"+d.PackageType] = true
		}
		if len(owners) > 1 && *pkg != "" {
			var list []string
			for o := range owners {
				list = append(list, o)
			}
			sort.Strings(list)
			fmt.Fprintf(e.stderr, "ghprune restore: package %q matches under %s: add -owner\n", report.Escape(*pkg), report.Escape(strings.Join(list, ", ")))
			return exitUsage
		}
	}
	var restoreRun int64
	start := e.clock.Now()
	if !*dryRun {
		restoreRun, err = a.journal.StartRun(ctx, journal.Run{Kind: "restore", Mode: "restore", Trigger: "cli", Actor: "cli", StartedAt: start})
		if err != nil {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
			return exitFailed
		}
	}
	results, runErr := a.exec.Restore(ctx, restoreRun, rows, *dryRun)
	// Success is every matched version active on GitHub afterwards,
	// whoever brought it back: ask GitHub rather than trust the answers.
	var verifyErr error
	if !*dryRun && runErr == nil {
		verifyErr = a.exec.VerifyActive(ctx, results)
	}
	failed, restored, inactive := 0, 0, 0
	for _, r := range results {
		switch r.Result {
		case executor.RestoreFailed, executor.RestoreExpired, executor.RestoreUnknown:
			failed++
		case executor.RestoreRestored:
			restored++
		}
		if r.Active != nil && !*r.Active {
			inactive++
		}
	}
	if !*dryRun {
		fin := e.clock.Now()
		status := journal.RunSucceeded
		if failed > 0 || inactive > 0 || runErr != nil || verifyErr != nil {
			status = journal.RunFailed
		}
		if err := a.journal.FinishRun(context.WithoutCancel(ctx), journal.Run{ID: restoreRun, FinishedAt: &fin, Status: status,
			Planned: len(rows), Restored: restored, Failed: failed, APIRequests: a.client.Requests()}); err != nil && runErr == nil {
			runErr = err
		}
	}
	if fmtName == "json" {
		if results == nil {
			results = []executor.RestoreResult{}
		}
		report.WriteJSON(e.stdout, map[string]any{"restore_run_id": restoreRun, "dry_run": *dryRun, "results": results,
			"summary": map[string]int{"matched": len(rows), "restored": restored, "failed": failed, "not_active": inactive}})
	} else {
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RESULT\tACTIVE\tRUN\tPACKAGE\tVERSION ID\tVERSION\tTAGS\tNOTE")
		for _, r := range results {
			d := r.Deletion
			active := "-"
			if r.Active != nil {
				active = map[bool]string{true: "yes", false: "NO"}[*r.Active]
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n", r.Result, active, d.RunID, report.Escape(d.Package), d.VersionID,
				report.Escape(report.ShortVersion(d.Version)), report.Escape(report.TagList(d.Tags)), report.Escape(r.Error))
		}
		tw.Flush()
		fmt.Fprintf(e.stdout, "%d matched, %d restored, %d failed or expired", len(rows), restored, failed)
		if *dryRun {
			fmt.Fprint(e.stdout, " (dry run: nothing sent)")
		} else {
			fmt.Fprintf(e.stdout, "; %d of %d active on GitHub now", len(results)-inactive, len(results))
		}
		fmt.Fprintln(e.stdout)
	}
	for _, r := range results {
		if r.Active != nil && !*r.Active {
			fmt.Fprintf(e.stderr, "ghprune restore: version %d of %s %s is not active on GitHub after the restore (%s)\n",
				r.Deletion.VersionID, report.Escape(r.Deletion.Package), report.Escape(report.ShortVersion(r.Deletion.Version)), r.Result)
		}
	}
	for _, err := range []error{runErr, verifyErr} {
		if err != nil {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		}
	}
	if runErr != nil || verifyErr != nil || failed > 0 || inactive > 0 {
		return exitFailed
	}
	return exitOK
}
