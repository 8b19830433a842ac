package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

func cmdHistory(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	config := fs.String("config", policy.DefaultConfigFile, "config `file` (for state.path)")
	runID := fs.Int64("run", 0, "show the deletions of run `ID`")
	owner := fs.String("owner", "", "only versions of this `owner` (an organization or user)")
	pkg := fs.String("package", "", "deletions of this `package`")
	tag := fs.String("tag", "", "deletions of versions that had this `tag`")
	restorable := fs.Bool("restorable", false, "only deletions still restorable")
	since := fs.String("since", "", "deletions in the last `duration` (e.g. 2h, 7d)")
	format := fs.String("format", "", "table or json (default: table on a terminal, else json)")
	limit := fs.Int("limit", 20, "runs to list")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	fmtName, err := resolveFormat(*format, "", e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	// -restorable shows open intents too: a restore settles them against
	// GitHub first and restores the ones that were deleted.
	q := engine.Query{RunID: *runID, Owner: *owner, Package: *pkg, Tag: *tag, Restorable: *restorable, Now: e.clock.Now()}
	if q.Since, err = parseSince(*since, e); err != nil {
		fmt.Fprintf(e.stderr, "ghprune history: %v\n", err)
		return exitUsage
	}
	cfg, code := loadConfig(*config, e)
	if cfg == nil {
		return code
	}
	h, err := engine.OpenHistory(ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitCode(err)
	}
	defer h.Close()
	deletionsWanted := *runID != 0 || *owner != "" || *pkg != "" || *tag != "" || *restorable || *since != ""
	if !deletionsWanted {
		runs, err := h.Runs(ctx, *limit)
		if err != nil {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
			return exitFailed
		}
		writeRuns(e, runs, fmtName)
		return exitOK
	}
	ds, err := h.Deletions(ctx, q)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitCode(err)
	}
	if fmtName == "json" {
		if ds == nil {
			ds = []journal.Deletion{}
		}
		report.WriteJSON(e.stdout, map[string]any{"deletions": ds})
		return exitOK
	}
	writeDeletions(e, ds)
	return exitOK
}

func writeDeletions(e env, ds []journal.Deletion) {
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPACKAGE\tVERSION ID\tVERSION\tTAGS\tSTATE\tDELETED\tRESTORABLE UNTIL\tRESTORED\tRULE")
	now := e.clock.Now()
	for _, d := range ds {
		until, restored := "-", "-"
		if d.RestorableUntil != nil {
			until = d.RestorableUntil.Format(time.RFC3339)
			if !now.Before(*d.RestorableUntil) {
				until += " (expired)"
			}
		}
		if d.RestoredAt != nil {
			restored = d.RestoredAt.Format(time.RFC3339)
		}
		deleted := "-"
		if d.DeletedAt != nil {
			deleted = d.DeletedAt.Format(time.RFC3339)
		}
		if d.State == journal.StateIntent {
			until = "open intent: settled against GitHub by the next apply, serve or restore"
		}
		tags := report.TagList(d.Tags)
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.RunID, report.Escape(d.Package), d.VersionID, report.Escape(report.ShortVersion(d.Version)),
			report.Escape(tags), d.State, deleted, until, restored, report.Escape(d.Rule))
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%d deletions\n", len(ds))
}

func nonNilRuns(r []journal.Run) []journal.Run {
	if r == nil {
		return []journal.Run{}
	}
	return r
}

// writeRuns renders the runs, newest first.
func writeRuns(e env, runs []journal.Run, format string) {
	if format == "json" {
		report.WriteJSON(e.stdout, map[string]any{"runs": nonNilRuns(runs)})
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tKIND\tSTARTED\tFINISHED\tSTATUS\tPOLICIES\tPLANNED\tDELETED\tFAILED\tSKIPPED\tRESTORED\tTRIGGER\tACTOR")
	for _, r := range runs {
		fin := "-"
		if r.FinishedAt != nil {
			fin = r.FinishedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.ID, r.Kind, r.StartedAt.Format(time.RFC3339), fin, r.Status,
			report.Escape(strings.Join(r.Policies, ",")), r.Planned, r.Deleted, r.Failed, r.Skipped, r.Restored, r.Trigger, report.Escape(r.Actor))
	}
	tw.Flush()
}
