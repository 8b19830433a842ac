package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/journal"
)

// The journal's views as Markdown, for a job summary or an issue comment:
// history's runs and deletions, and what a restore did. Package names, tags,
// versions, rules and errors come from GitHub or a config, so every string
// cell goes through MarkdownEscape: a name cannot open a code span, break a
// table with a pipe, inject HTML or notify someone with an @mention.

// IntentNote is what history shows in place of a restore deadline for an
// open intent, whose outcome nobody has recorded yet.
const IntentNote = "open intent: settled against GitHub by the next apply, serve or restore"

// DeletionTimes returns the time columns of a deletion row, shared by the
// table and the Markdown: when it was deleted, until when it can be
// restored ("(expired)" past it at now, IntentNote for an open intent) and
// when it was restored; "-" where there is none.
func DeletionTimes(d journal.Deletion, now time.Time) (deleted, until, restored string) {
	deleted, until, restored = "-", "-", "-"
	if d.DeletedAt != nil {
		deleted = d.DeletedAt.Format(time.RFC3339)
	}
	if d.RestorableUntil != nil {
		until = d.RestorableUntil.Format(time.RFC3339)
		if !now.Before(*d.RestorableUntil) {
			until += " (expired)"
		}
	}
	if d.State == journal.StateIntent {
		until = IntentNote
	}
	if d.RestoredAt != nil {
		restored = d.RestoredAt.Format(time.RFC3339)
	}
	return deleted, until, restored
}

// WriteRunsMarkdown renders history's list of runs, newest first as given.
func WriteRunsMarkdown(w io.Writer, runs []journal.Run) error {
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "### ghprune history: %s\n\n", count(len(runs), "run"))
	if len(runs) == 0 {
		fmt.Fprintln(bw, "The journal has no runs.")
		return bw.err
	}
	fmt.Fprintln(bw, "| run | kind | started | finished | status | policies | planned | deleted | failed | skipped | restored | trigger | actor |")
	fmt.Fprintln(bw, "|--:|---|---|---|---|---|--:|--:|--:|--:|--:|---|---|")
	for _, r := range runs {
		fin := "-"
		if r.FinishedAt != nil {
			fin = r.FinishedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(bw, "| %d | %s | %s | %s | %s | %s | %d | %d | %d | %d | %d | %s | %s |\n", r.ID, MarkdownEscape(r.Kind),
			r.StartedAt.Format(time.RFC3339), fin, MarkdownEscape(r.Status), MarkdownEscape(orDash(strings.Join(r.Policies, ", "))),
			r.Planned, r.Deleted, r.Failed, r.Skipped, r.Restored, MarkdownEscape(r.Trigger), MarkdownEscape(orDash(r.Actor)))
	}
	return bw.err
}

// WriteDeletionsMarkdown renders history's deletions, oldest first as
// given; now decides which restore deadlines have passed.
func WriteDeletionsMarkdown(w io.Writer, ds []journal.Deletion, now time.Time) error {
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "### ghprune history: %s\n\n", count(len(ds), "deletion"))
	if len(ds) == 0 {
		fmt.Fprintln(bw, "No deletion in the journal matches.")
		return bw.err
	}
	fmt.Fprintln(bw, "| run | package | version id | version | tags | state | deleted | restorable until | restored | rule |")
	fmt.Fprintln(bw, "|--:|---|--:|---|---|---|---|---|---|---|")
	for _, d := range ds {
		deleted, until, restored := DeletionTimes(d, now)
		fmt.Fprintf(bw, "| %d | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", d.RunID, packageCell(d), d.VersionID,
			MarkdownEscape(ShortVersion(d.Version)), MarkdownEscape(TagList(d.Tags)), MarkdownEscape(d.State),
			deleted, MarkdownEscape(until), restored, MarkdownEscape(ShortDigests(d.Rule)))
	}
	return bw.err
}

// Restore is what a restore did, as its reports show it.
type Restore struct {
	// RunID is the restore's journaled run; 0 for a dry run.
	RunID   int64
	DryRun  bool
	Results []executor.RestoreResult
	// Matched, Restored and Failed count Results (Failed: failed, expired
	// or unknown); Inactive counts the versions GitHub does not show as
	// active afterwards.
	Matched, Restored, Failed, Inactive int
}

// Summary is the restore's closing sentence, without a full stop.
func (r Restore) Summary() string {
	s := fmt.Sprintf("%d matched, %d restored, %d failed or expired", r.Matched, r.Restored, r.Failed)
	if r.DryRun {
		return s + " (dry run: nothing sent)"
	}
	return s + fmt.Sprintf("; %d of %d active on GitHub now", len(r.Results)-r.Inactive, len(r.Results))
}

// ActiveCell says whether GitHub lists a restored version as active: "yes",
// "NO", or "-" when it was not asked (a dry run).
func ActiveCell(res executor.RestoreResult) string {
	switch {
	case res.Active == nil:
		return "-"
	case *res.Active:
		return "yes"
	}
	return "NO"
}

// WriteRestoreMarkdown renders a restore: a title, the summary, and a row
// per matched version.
func WriteRestoreMarkdown(w io.Writer, r Restore) error {
	bw := &errWriter{w: w}
	if r.DryRun {
		fmt.Fprintln(bw, "### ghprune restore (dry run)")
	} else {
		fmt.Fprintf(bw, "### ghprune restore run %d\n", r.RunID)
	}
	fmt.Fprintf(bw, "\n%s.\n", r.Summary())
	if len(r.Results) == 0 {
		return bw.err
	}
	fmt.Fprintln(bw, "\n| result | active | run | package | version id | version | tags | note |")
	fmt.Fprintln(bw, "|---|---|--:|---|--:|---|---|---|")
	for _, res := range r.Results {
		d := res.Deletion
		fmt.Fprintf(bw, "| %s | %s | %d | %s | %d | %s | %s | %s |\n", MarkdownEscape(string(res.Result)), ActiveCell(res), d.RunID,
			packageCell(d), d.VersionID, MarkdownEscape(ShortVersion(d.Version)), MarkdownEscape(TagList(d.Tags)), MarkdownEscape(res.Error))
	}
	return bw.err
}

// packageCell names a deletion's package with its owner, as the plan's
// Markdown does: the same name may exist under two owners.
func packageCell(d journal.Deletion) string {
	return MarkdownEscape(d.Owner) + "/" + MarkdownEscape(d.Package)
}

// count is n and noun, with an s unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
