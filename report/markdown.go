package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ghprune/ghprune/policy"
)

// markdownSummary is the report's opening sentence, and the apply's cost
// on a plan.
func markdownSummary(bw io.Writer, r *Report) {
	s := r.Summary
	fmt.Fprintf(bw, "%d versions scanned: **%d delete**, %d keep", s.VersionsScanned, s.Delete, s.Keep)
	if s.Deferred > 0 {
		fmt.Fprintf(bw, " (%d deferred)", s.Deferred)
	}
	if s.DeferredPackages > 0 {
		fmt.Fprintf(bw, "; %d packages deferred to the next run", s.DeferredPackages)
	}
	if r.RunID != nil {
		fmt.Fprintf(bw, "; %d deleted, %d failed, %d skipped", s.Deleted, s.Failed, s.Skipped)
	}
	if s.FreedBytes > 0 {
		fmt.Fprintf(bw, "; frees ~%s", HumanBytes(s.FreedBytes))
	}
	fmt.Fprintf(bw, "; %d API requests.\n\n", s.APIRequests)
	if e := s.ApplyEstimate; e != nil && s.Delete > 0 {
		fmt.Fprintf(bw, "Applying it: %s.\n\n", MarkdownEscape(e.String()))
	}
}

// WriteMarkdown renders r for a GitHub job summary or pull-request comment:
// a summary table, then one collapsible section per package listing what it
// deletes. Everything from GitHub is escaped so a name cannot inject
// Markdown, HTML or an @mention.
func WriteMarkdown(w io.Writer, r *Report, o TableOptions) error {
	bw := &errWriter{w: w}
	title := "ghprune plan"
	if r.RunID != nil {
		title = fmt.Sprintf("ghprune run %d", *r.RunID)
	}
	if r.PlannedAt != nil {
		title += " as of " + r.PlannedAt.Format(time.RFC3339)
	}
	fmt.Fprintf(bw, "### %s\n\n", title)
	markdownSummary(bw, r)
	fmt.Fprintln(bw, "| policy | package | type | versions | delete | keep | frees | deleted | failed | skipped |")
	fmt.Fprintln(bw, "|---|---|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, p := range r.Policies {
		if p.Error != "" && len(p.Packages) == 0 {
			fmt.Fprintf(bw, "| %s | error: %s | | | | | | | | |\n", MarkdownEscape(p.Policy), MarkdownEscape(p.Error))
		}
		for _, pkg := range p.Packages {
			c := pkg.Count()
			frees := "–"
			if pkg.FreedBytes > 0 {
				frees = HumanBytes(pkg.FreedBytes)
			}
			fmt.Fprintf(bw, "| %s | %s/%s | %s | %d | %d | %d | %s | %d | %d | %d |\n", MarkdownEscape(p.Policy),
				MarkdownEscape(pkg.Owner), MarkdownEscape(pkg.Package), pkg.PackageType, c.VersionsScanned, c.Delete, c.Keep, frees, c.Deleted, c.Failed, c.Skipped)
		}
	}
	for _, p := range r.Policies {
		if p.Error != "" {
			fmt.Fprintf(bw, "\n> **%s failed:** %s\n", MarkdownEscape(p.Policy), MarkdownEscape(p.Error))
		}
		if p.Deferred != "" {
			fmt.Fprintf(bw, "\n> **%s deferred:** %s\n", MarkdownEscape(p.Policy), MarkdownEscape(p.Deferred))
		}
		for _, w := range p.Warnings {
			fmt.Fprintf(bw, "\n> %s warning: %s\n", MarkdownEscape(p.Policy), MarkdownEscape(w))
		}
		for _, pkg := range p.Packages {
			c := pkg.Count()
			if c.Delete == 0 && pkg.Error == "" && pkg.Deferred == "" && !o.Verbose {
				continue
			}
			fmt.Fprintf(bw, "\n<details><summary>%s: %s/%s: %d delete, %d keep</summary>\n\n", MarkdownEscape(p.Policy),
				MarkdownEscape(pkg.Owner), MarkdownEscape(pkg.Package), c.Delete, c.Keep)
			if pkg.Error != "" {
				fmt.Fprintf(bw, "Not planned: %s\n\n", MarkdownEscape(pkg.Error))
			}
			if pkg.Deferred != "" {
				fmt.Fprintf(bw, "Not listed: %s\n\n", MarkdownEscape(pkg.Deferred))
			}
			if len(pkg.Decisions) > 0 {
				fmt.Fprintln(bw, "| action | id | version | tags | created | rule | reason |")
				fmt.Fprintln(bw, "|---|--:|---|---|---|---|---|")
			}
			rows, hidden := o.rows(pkg)
			for _, d := range rows {
				action, reason := d.shown()
				fmt.Fprintf(bw, "| %s | %d | %s | %s | %s | %s | %s |\n", action, d.VersionID, MarkdownEscape(ShortVersion(d.Version)),
					MarkdownEscape(TagList(d.Tags)), d.CreatedAt.UTC().Format("2006-01-02"), MarkdownEscape(ShortDigests(d.Rule)), MarkdownEscape(ShortDigests(reason)))
			}
			if hidden > 0 {
				fmt.Fprintf(bw, "\n… and %d more (the JSON report lists every decision).\n", hidden)
			}
			if !o.Verbose && c.Keep > 0 {
				fmt.Fprintf(bw, "\nKept: %s.\n", MarkdownEscape(keptByRule(pkg)))
			}
			fmt.Fprintln(bw, "\n</details>")
		}
	}
	return bw.err
}

var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`, "~", `\~`, "#", `\#`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "@", "&#64;", "\n", " ",
	// GitHub links bare URLs and www. names (extended autolinks): a
	// version named 1.0-https://evil.example would be a link.
	"://", "&#58;//", "www.", "www&#46;", "WWW.", "WWW&#46;",
)

// MarkdownEscape makes s inert inside Markdown text and table cells:
// control characters are shown (Escape), and emphasis, links, code,
// HTML, table pipes and @mentions are escaped. Anything shaped like a
// token is redacted first: escaped, ghp\_… no longer looks like one to
// the redaction that output passes through later.
func MarkdownEscape(s string) string {
	return mdReplacer.Replace(Escape(policy.RedactTokens(s)))
}
