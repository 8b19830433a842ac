package report

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode"
)

// TableOptions tune the table.
type TableOptions struct {
	Color   bool // ANSI colour; only when writing to a terminal
	Verbose bool // list kept versions too, not only their counts by rule
	// MaxRows caps the versions listed per package (0 = all); the rest are
	// counted. The JSON report always has every decision.
	MaxRows int
}

const (
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiDim   = "\x1b[2m"
	ansiBold  = "\x1b[1m"
	ansiReset = "\x1b[0m"
)

// WriteTable renders r for a person: per policy a summary line per
// package, the versions it deletes (or deleted) with their reasons, the
// kept ones counted by rule, then the policy's error and warnings; and a
// closing summary. A run of any size is written the same way a package at
// a time by NewTableStream.
func WriteTable(w io.Writer, r *Report, o TableOptions) error {
	t := &table{w: &errWriter{w: w}, o: o}
	for _, p := range r.Policies {
		t.policy(p.Policy, p.Mode)
		for _, pkg := range p.Packages {
			t.pkg(pkg)
		}
		t.policyEnd(p)
	}
	t.summary(r.RunID, r.Summary)
	return t.w.err
}

// table writes the table a piece at a time.
type table struct {
	w *errWriter
	o TableOptions
}

func (t *table) paint(code, s string) string {
	if !t.o.Color {
		return s
	}
	return code + s + ansiReset
}

func (t *table) policy(name, mode string) {
	fmt.Fprintf(t.w, "%s %s (%s)\n", t.paint(ansiBold, "policy"), Escape(name), mode)
}

func (t *table) policyEnd(p *Policy) {
	if p.Error != "" {
		fmt.Fprintf(t.w, "  %s %s\n", t.paint(ansiRed, "error:"), Escape(p.Error))
	}
	if p.Deferred != "" {
		fmt.Fprintf(t.w, "  %s %s\n", t.paint(ansiBold, "deferred:"), Escape(p.Deferred))
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(t.w, "  %s %s\n", t.paint(ansiBold, "warning:"), Escape(w))
	}
}

func (t *table) pkg(pkg *Package) {
	bw, paint := t.w, t.paint
	c := pkg.Count()
	vis := ""
	if pkg.Visibility != "" {
		vis = ", " + pkg.Visibility
	}
	fmt.Fprintf(bw, "  %s %s/%s (%s%s): %d versions, %s, %d keep",
		pkg.OwnerType, Escape(pkg.Owner), Escape(pkg.Package), pkg.PackageType, vis,
		c.VersionsScanned, paint(ansiRed, fmt.Sprintf("%d delete", c.Delete)), c.Keep)
	if pkg.FreedBytes > 0 {
		fmt.Fprintf(bw, ", frees ~%s", HumanBytes(pkg.FreedBytes))
	}
	if c.Deleted+c.Failed+c.Skipped > 0 {
		fmt.Fprintf(bw, "; %d deleted, %d failed, %d skipped", c.Deleted, c.Failed, c.Skipped)
	}
	fmt.Fprintln(bw)
	tw := tabwriter.NewWriter(bw, 2, 4, 2, ' ', 0)
	rows, hidden := t.o.rows(pkg)
	for _, d := range rows {
		action, reason := d.shown()
		switch action {
		case "delete", OutcomeDeleted, OutcomeFailed:
			action = paint(ansiRed, action)
		case "keep":
			action = paint(ansiGreen, action)
		}
		fmt.Fprintf(tw, "    %s\t%d\t%s\t%s\t%s\t%s\n", action, d.VersionID, Escape(ShortVersion(d.Version)),
			Escape(TagList(d.Tags)), d.CreatedAt.UTC().Format("2006-01-02"), Escape(ShortDigests(reason)))
	}
	tw.Flush()
	if hidden > 0 {
		fmt.Fprintf(bw, "    … and %d more (-format json lists every decision)\n", hidden)
	}
	if pkg.Error != "" {
		fmt.Fprintf(bw, "    %s %s\n", paint(ansiRed, "not planned:"), Escape(pkg.Error))
	}
	if pkg.Deferred != "" {
		fmt.Fprintf(bw, "    %s %s\n", paint(ansiBold, "not listed:"), Escape(pkg.Deferred))
	}
	if !t.o.Verbose && c.Keep > 0 {
		fmt.Fprintf(bw, "    %s\n", paint(ansiDim, "keep: "+keptByRule(pkg)))
	}
}

func (t *table) summary(runID *int64, s Summary) {
	bw, paint := t.w, t.paint
	fmt.Fprintf(bw, "%s %d versions scanned: %d keep, %d delete", paint(ansiBold, "summary:"), s.VersionsScanned, s.Keep, s.Delete)
	if s.Deferred > 0 {
		fmt.Fprintf(bw, " (%d deferred)", s.Deferred)
	}
	if s.DeferredPackages > 0 {
		fmt.Fprintf(bw, ", %d packages deferred to the next run", s.DeferredPackages)
	}
	if s.FreedBytes > 0 {
		fmt.Fprintf(bw, ", frees ~%s", HumanBytes(s.FreedBytes))
	}
	if runID != nil {
		fmt.Fprintf(bw, "; run %d: %d deleted, %d failed, %d skipped", *runID, s.Deleted, s.Failed, s.Skipped)
	}
	fmt.Fprintf(bw, "; %d API requests\n", s.APIRequests)
	if e := s.ApplyEstimate; e != nil && s.Delete > 0 {
		fmt.Fprintf(bw, "%s %s\n", paint(ansiBold, "apply:"), e.String())
	}
}

// rows returns the decisions a report lists for pkg (deletions, or all with
// Verbose), at most MaxRows, and how many more there were.
func (o TableOptions) rows(pkg *Package) ([]*Decision, int) {
	var rows []*Decision
	hidden := 0
	for _, d := range pkg.Decisions {
		if d.Action != "delete" && !o.Verbose {
			continue
		}
		if o.MaxRows > 0 && len(rows) >= o.MaxRows {
			hidden++
			continue
		}
		rows = append(rows, d)
	}
	return rows, hidden
}

// shown is what a report prints for d: the outcome when there is one, and
// the reason with any error.
func (d *Decision) shown() (action, reason string) {
	action, reason = d.Action, d.Reason
	if d.Outcome != "" {
		action = d.Outcome
	}
	if d.Error != "" {
		reason += ": " + d.Error
	}
	return action, reason
}

func keptByRule(p *Package) string {
	counts := map[string]int{}
	for _, d := range p.Decisions {
		if d.Action == "keep" {
			counts[d.Rule]++
		}
	}
	rules := make([]string, 0, len(counts))
	for r := range counts {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		if counts[rules[i]] != counts[rules[j]] {
			return counts[rules[i]] > counts[rules[j]]
		}
		return rules[i] < rules[j]
	})
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = fmt.Sprintf("%d %s", counts[r], Escape(ShortDigests(r)))
	}
	return strings.Join(parts, ", ")
}

// HumanBytes formats n in binary units: 1.5 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// longDigest matches a full sha256 digest or cosign tag hex, shortened for
// display (the JSON report keeps them whole).
var longDigest = regexp.MustCompile(`(sha256[:-])([0-9a-f]{12})[0-9a-f]{52}`)

// ShortDigests shortens every full digest in s to 12 hex digits.
func ShortDigests(s string) string {
	if !strings.Contains(s, "sha256") {
		return s
	}
	return longDigest.ReplaceAllString(s, "${1}${2}")
}

// TagList joins tags with commas, or "-" for none.
func TagList(tags []string) string {
	if len(tags) == 0 {
		return "-"
	}
	return ShortDigests(strings.Join(tags, ","))
}

// ShortVersion shortens a manifest digest to what people recognize.
func ShortVersion(v string) string {
	if strings.HasPrefix(v, "sha256:") && len(v) > 19 {
		return v[:19]
	}
	return v
}

// Escape makes s safe to print on a terminal or in a table: control
// characters (ESC, CR, tabs, newlines, bidi overrides…) are shown as \x.. or
// \u.... escapes instead of acting.
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unsafeRune(r) {
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
