package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

// historyFlags are history's flags.
type historyFlags struct {
	config, journal string
	format, out     string
	runID           int64
	owner, pkg, tag string
	since           string
	restorable      bool
	limit           int
}

func (f *historyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", policy.DefaultConfigFile, "config `file` (for state.path; not needed with -journal)")
	fs.StringVar(&f.journal, "journal", "", "read the journal `file` instead of the config's state.path")
	fs.Int64Var(&f.runID, "run", 0, "show the deletions of run `ID`")
	fs.StringVar(&f.owner, "owner", "", "only versions of this `owner` (an organization or user)")
	fs.StringVar(&f.pkg, "package", "", "deletions of this `package`")
	fs.StringVar(&f.tag, "tag", "", "deletions of versions that had this `tag`")
	fs.BoolVar(&f.restorable, "restorable", false, "only deletions still restorable")
	fs.StringVar(&f.since, "since", "", "deletions in the last `duration` (e.g. 2h, 7d)")
	fs.StringVar(&f.format, "format", "", "table, json or markdown (default: table on a terminal, else json)")
	fs.StringVar(&f.out, "o", "", "write the report to `file`")
	fs.IntVar(&f.limit, "limit", 20, "runs to list")
}

// deletionsWanted reports whether a filter was given: then history lists
// deletions, else the latest runs.
func (f *historyFlags) deletionsWanted() bool {
	return f.runID != 0 || f.owner != "" || f.pkg != "" || f.tag != "" || f.restorable || f.since != ""
}

func cmdHistory(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	var f historyFlags
	f.register(fs)
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	format, err := resolveFormat(f.format, f.out, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	// -restorable shows open intents too: a restore settles them against
	// GitHub first and restores the ones that were deleted.
	q := engine.Query{RunID: f.runID, Owner: f.owner, Package: f.pkg, Tag: f.tag, Restorable: f.restorable, Now: e.clock.Now()}
	if q.Since, err = parseSince(f.since, e); err != nil {
		fmt.Fprintf(e.stderr, "ghprune history: %v\n", err)
		return exitUsage
	}
	cfg, configJournal, code := historyConfig(f.config, f.journal, e)
	if cfg == nil {
		return code
	}
	h, err := engine.OpenHistory(ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitCode(err)
	}
	defer h.Close()
	out, err := openJournalOutput(f.out, cfg, configJournal, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	var werr error
	if f.deletionsWanted() {
		werr, err = writeHistoryDeletions(ctx, h, q, out, format, e)
	} else {
		werr, err = writeHistoryRuns(ctx, h, f.limit, out, format)
	}
	if err != nil {
		// The journal could not be read: an existing report stays as it was.
		out.Abort()
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitCode(err)
	}
	return commitReport(out, werr, e)
}

// historyConfig returns the config history reads state.path from, with
// -journal over it. history needs nothing else from the config, so with
// -journal a config file that does not exist is no error: a CI job that
// keeps its journal as an artifact, or on-call with a downloaded one, may
// have no config at hand. A config that exists is still loaded and must be
// valid. It also returns the journal the config names, for -o to refuse
// ("" without a config).
func historyConfig(path, journalPath string, e env) (*policy.Config, string, int) {
	if journalPath != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			cfg := policy.DefaultConfig()
			// Kept as the config's name so that -o refuses it all the same.
			cfg.File = path
			cfg.State.Path = journalPath
			return cfg, "", 0
		}
	}
	cfg, code := loadConfig(path, e)
	if cfg == nil {
		return nil, "", code
	}
	return cfg, overrideJournal(cfg, journalPath), 0
}

// writeHistoryRuns writes the latest runs. It returns the report's write
// error and, apart, the journal's read error.
func writeHistoryRuns(ctx context.Context, h *engine.History, limit int, w io.Writer, format string) (werr, err error) {
	runs, err := h.Runs(ctx, limit)
	if err != nil {
		return nil, err
	}
	switch format {
	case "json":
		return report.WriteJSON(w, map[string]any{"runs": nonNilRuns(runs)}), nil
	case "markdown":
		return report.WriteRunsMarkdown(w, runs), nil
	}
	return writeRuns(w, runs), nil
}

// writeHistoryDeletions writes the deletions q picks, oldest first. It
// returns the report's write error and, apart, the journal's read error.
func writeHistoryDeletions(ctx context.Context, h *engine.History, q engine.Query, w io.Writer, format string, e env) (werr, err error) {
	ds, err := h.Deletions(ctx, q)
	if err != nil {
		return nil, err
	}
	switch format {
	case "json":
		if ds == nil {
			ds = []journal.Deletion{}
		}
		return report.WriteJSON(w, map[string]any{"deletions": ds}), nil
	case "markdown":
		return report.WriteDeletionsMarkdown(w, ds, e.clock.Now()), nil
	}
	return writeDeletions(w, ds, e.clock.Now()), nil
}

// writeDeletions renders deletions as a table, then their count.
func writeDeletions(w io.Writer, ds []journal.Deletion, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPACKAGE\tVERSION ID\tVERSION\tTAGS\tSTATE\tDELETED\tRESTORABLE UNTIL\tRESTORED\tRULE")
	for _, d := range ds {
		deleted, until, restored := report.DeletionTimes(d, now)
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.RunID, report.Escape(d.Package), d.VersionID, report.Escape(report.ShortVersion(d.Version)),
			report.Escape(report.TagList(d.Tags)), d.State, deleted, until, restored, report.Escape(d.Rule))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d deletions\n", len(ds))
	return err
}

func nonNilRuns(r []journal.Run) []journal.Run {
	if r == nil {
		return []journal.Run{}
	}
	return r
}

// writeRuns renders the runs as a table, newest first.
func writeRuns(w io.Writer, runs []journal.Run) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tKIND\tSTARTED\tFINISHED\tSTATUS\tPOLICIES\tPLANNED\tDELETED\tFAILED\tSKIPPED\tRESTORED\tTRIGGER\tACTOR")
	for _, r := range runs {
		fin := "-"
		if r.FinishedAt != nil {
			fin = r.FinishedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.ID, r.Kind, r.StartedAt.Format(time.RFC3339), fin, r.Status,
			report.Escape(strings.Join(r.Policies, ",")), r.Planned, r.Deleted, r.Failed, r.Skipped, r.Restored, r.Trigger, report.Escape(r.Actor))
	}
	return tw.Flush()
}
