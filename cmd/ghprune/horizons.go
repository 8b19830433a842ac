package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
)

// horizonCount is what one package deletes at one horizon.
type horizonCount struct {
	Delete     int   `json:"delete"`
	FreedBytes int64 `json:"freed_bytes"`
}

// horizonRow is one package across the horizons.
type horizonRow struct {
	Policy      string         `json:"policy"`
	Owner       string         `json:"owner"`
	PackageType string         `json:"package_type"`
	Package     string         `json:"package"`
	At          []horizonCount `json:"at"`
}

// countSink counts what each package deletes, for one horizon.
type countSink struct {
	rows  *[]*horizonRow
	index map[string]*horizonRow
	i, n  int
}

func (c *countSink) Start(*plan.Run) error { return nil }
func (c *countSink) Package(p *plan.Policy, pkg *plan.Package) error {
	key := p.Name + "\x00" + pkg.OwnerName + "\x00" + pkg.Type + "\x00" + pkg.Name
	row := c.index[key]
	if row == nil {
		row = &horizonRow{Policy: p.Name, Owner: pkg.OwnerName, PackageType: pkg.Type, Package: pkg.Name, At: make([]horizonCount, c.n)}
		c.index[key] = row
		*c.rows = append(*c.rows, row)
	}
	cnt := pkg.Count()
	row.At[c.i] = horizonCount{Delete: cnt.Delete, FreedBytes: cnt.FreedBytes}
	return nil
}
func (c *countSink) PolicyDone(*plan.Policy) error { return nil }

// planHorizons plans pols at each horizon, from one reading of GitHub (a
// snapshot taken in memory first unless -snapshot gave one), and writes
// per package how many versions and bytes each deletes: the slope before
// enforcing.
func planHorizons(ctx context.Context, eng *engine.Engine, cfg *policy.Config, pols []*policy.Policy, horizons []horizon, out *reportOutput, format string, f runFlags, e env) int {
	off := eng
	if !eng.Offline() {
		snap, errs := eng.Snapshot(ctx, pols)
		for _, err := range errs {
			fmt.Fprintf(e.stderr, "ghprune: %v\n", report.Escape(err.Error()))
		}
		if snap == nil {
			out.Abort()
			return exitFailed
		}
		var code int
		if off, code = openOffline(ctx, cfg, snap, f.logLevel, e); off == nil {
			out.Abort()
			return code
		}
		defer off.Close()
	}
	var rows []*horizonRow
	index := map[string]*horizonRow{}
	totals := make([]horizonCount, len(horizons))
	failed := false
	for i, h := range horizons {
		sink := &countSink{rows: &rows, index: index, i: i, n: len(horizons)}
		run, err := off.Run(ctx, pols, engine.RunOptions{Trigger: engine.TriggerCLI, Sink: sink, At: h.at})
		if err != nil {
			fmt.Fprintf(e.stderr, "ghprune: at %s: %v\n", h.label, report.Escape(err.Error()))
			failed = true
		}
		c := run.Count()
		totals[i] = horizonCount{Delete: c.Delete, FreedBytes: c.FreedBytes}
	}
	var err error
	switch format {
	case "json":
		type hz struct {
			Label string    `json:"label"`
			At    time.Time `json:"at"`
			horizonCount
		}
		doc := struct {
			Horizons []hz          `json:"horizons"`
			Packages []*horizonRow `json:"packages"`
		}{Packages: rows}
		for i, h := range horizons {
			doc.Horizons = append(doc.Horizons, hz{Label: h.label, At: h.at.UTC(), horizonCount: totals[i]})
		}
		if doc.Packages == nil {
			doc.Packages = []*horizonRow{}
		}
		err = report.WriteJSON(out, doc)
	default:
		err = writeHorizons(out, horizons, rows, totals, format == "markdown")
	}
	if code := commitReport(out, err, e); code != exitOK {
		return code
	}
	if failed {
		return exitFailed
	}
	if f.detailed && totals[0].Delete > 0 {
		return exitHasDelete
	}
	return exitOK
}

// writeHorizons is the table (or Markdown table) of the horizons.
func writeHorizons(w io.Writer, horizons []horizon, rows []*horizonRow, totals []horizonCount, markdown bool) error {
	cell := func(c horizonCount) string {
		if c.Delete == 0 {
			return "–"
		}
		if c.FreedBytes > 0 {
			return fmt.Sprintf("%d (%s)", c.Delete, report.HumanBytes(c.FreedBytes))
		}
		return fmt.Sprint(c.Delete)
	}
	esc := report.Escape
	if markdown {
		esc = report.MarkdownEscape
	}
	bw := &errWriterCmd{w: w}
	var tw io.Writer = bw
	var flush func() error
	if markdown {
		fmt.Fprint(bw, "### ghprune plan over time\n\n| policy | package | type |")
		for _, h := range horizons {
			fmt.Fprintf(bw, " %s |", report.MarkdownEscape(h.label))
		}
		fmt.Fprint(bw, "\n|---|---|---|")
		for range horizons {
			fmt.Fprint(bw, "--:|")
		}
		fmt.Fprintln(bw)
	} else {
		t := tabwriter.NewWriter(bw, 2, 4, 2, ' ', tabwriter.AlignRight)
		tw, flush = t, t.Flush
		fmt.Fprint(tw, "policy\tpackage\ttype\t")
		for _, h := range horizons {
			fmt.Fprintf(tw, "%s\t", esc(h.label))
		}
		fmt.Fprintln(tw)
	}
	line := func(a, b, c string, cs []horizonCount) {
		if markdown {
			fmt.Fprintf(tw, "| %s | %s | %s |", a, b, c)
			for _, x := range cs {
				fmt.Fprintf(tw, " %s |", cell(x))
			}
			fmt.Fprintln(tw)
			return
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t", a, b, c)
		for _, x := range cs {
			fmt.Fprintf(tw, "%s\t", cell(x))
		}
		fmt.Fprintln(tw)
	}
	for _, r := range rows {
		line(esc(r.Policy), esc(r.Owner+"/"+r.Package), r.PackageType, r.At)
	}
	line("all", "", "", totals)
	if flush != nil {
		if err := flush(); err != nil {
			return err
		}
	}
	return bw.err
}

type errWriterCmd struct {
	w   io.Writer
	err error
}

func (e *errWriterCmd) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
