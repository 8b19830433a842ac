package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

// openJournal opens the journal named by the config without needing a token:
// history must work for an on-call engineer with only the database. It never
// creates one: run from the wrong directory, an empty new journal would
// answer "nothing happened".
func openJournal(ctx context.Context, config string, e env) (*journal.Journal, int) {
	cfg, code := loadConfig(config, e)
	if cfg == nil {
		return nil, code
	}
	j, err := journal.OpenExisting(ctx, cfg.State.Path)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		if errors.Is(err, journal.ErrNoJournal) {
			return nil, exitUsage
		}
		return nil, exitFailed
	}
	return j, 0
}

// checkRun makes -run N an error when the journal has no run N: "0 matched"
// would read as "nothing to do".
func checkRun(ctx context.Context, j *journal.Journal, id int64, e env) int {
	if id == 0 {
		return 0
	}
	if _, err := j.Run(ctx, id); err != nil {
		if errors.Is(err, journal.ErrNoRun) {
			fmt.Fprintf(e.stderr, "ghprune: the journal %s has no run %d (ghprune history lists the runs)\n", j.Path(), id)
			return exitUsage
		}
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitFailed
	}
	return 0
}

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
	f := journal.Filter{RunID: *runID, Owner: *owner, Package: *pkg, Tag: *tag, Restorable: *restorable, IncludeIntents: *restorable, Now: e.clock.Now()}
	if f.Since, err = parseSince(*since, e); err != nil {
		fmt.Fprintf(e.stderr, "ghprune history: %v\n", err)
		return exitUsage
	}
	j, code := openJournal(ctx, *config, e)
	if j == nil {
		return code
	}
	defer j.Close()
	if code := checkRun(ctx, j, *runID, e); code != 0 {
		return code
	}
	deletionsWanted := *runID != 0 || *owner != "" || *pkg != "" || *tag != "" || *restorable || *since != ""
	if !deletionsWanted {
		runs, err := j.Runs(ctx, *limit)
		if err != nil {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
			return exitFailed
		}
		if fmtName == "json" {
			report.WriteJSON(e.stdout, map[string]any{"runs": nonNilRuns(runs)})
			return exitOK
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
		return exitOK
	}
	ds, err := j.Deletions(ctx, f)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitFailed
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
