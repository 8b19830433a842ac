package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ghprune/ghprune/plan"
)

// Stream writes the report of a run as the run makes it, a package at a
// time, so that writing it holds one package, whatever the size of the
// organization. It has the methods of the engine's Sink: Start, Package,
// PolicyDone; End closes the report. The JSON is the same document as
// WriteJSON's (FromRun), with finished_at, and each policy's error,
// warnings and api_requests, after what they follow from.
type Stream struct {
	w     *errWriter
	table *table // nil: JSON
	// policies written, and packages of the policy being written.
	policies, packages int
	open               *plan.Policy // the policy whose packages are being written
	started            bool
}

// NewJSONStream writes the JSON report to w.
func NewJSONStream(w io.Writer) *Stream { return &Stream{w: &errWriter{w: w}} }

// NewTableStream writes the table to w.
func NewTableStream(w io.Writer, o TableOptions) *Stream {
	bw := &errWriter{w: w}
	return &Stream{w: bw, table: &table{w: bw, o: o}}
}

// Start begins the report of run.
func (s *Stream) Start(run *plan.Run) error {
	s.started = true
	if s.table == nil {
		fmt.Fprint(s.w, "{\n")
		s.field(1, "run_id", run.RunID, false)
		s.field(1, "mode", string(run.Mode), false)
		s.field(1, "started_at", run.StartedAt, false)
		if run.PlannedAt != nil {
			s.field(1, "planned_at", *run.PlannedAt, false)
		}
		fmt.Fprint(s.w, `  "policies": [`)
	}
	return s.w.err
}

// Package writes one final package of p.
func (s *Stream) Package(p *plan.Policy, pkg *plan.Package) error {
	s.openPolicy(p)
	rp := fromPackage(pkg)
	if s.table != nil {
		s.table.pkg(rp)
		return s.w.err
	}
	if s.packages > 0 {
		fmt.Fprint(s.w, ",")
	}
	fmt.Fprint(s.w, "\n        ")
	s.json(4, rp)
	s.packages++
	return s.w.err
}

// PolicyDone ends p.
func (s *Stream) PolicyDone(p *plan.Policy) error {
	s.openPolicy(p)
	rp := fromPolicy(p)
	if s.table != nil {
		s.table.policyEnd(rp)
		s.open = nil
		return s.w.err
	}
	if s.packages > 0 {
		fmt.Fprint(s.w, "\n      ")
	}
	fmt.Fprint(s.w, "],\n")
	if rp.Error != "" {
		s.field(3, "error", rp.Error, false)
	}
	if rp.Deferred != "" {
		s.field(3, "deferred", rp.Deferred, false)
	}
	if len(rp.Warnings) > 0 {
		s.field(3, "warnings", rp.Warnings, false)
	}
	s.field(3, "api_requests", rp.APIRequests, true)
	fmt.Fprint(s.w, "    }")
	s.open = nil
	return s.w.err
}

// End closes the report of run with its summary. A stream never started
// writes nothing.
func (s *Stream) End(run *plan.Run) error {
	if !s.started {
		return nil
	}
	if s.open != nil {
		return errors.New("report: End inside a policy")
	}
	sum := SummaryOf(run)
	if s.table != nil {
		s.table.summary(run.RunID, sum)
		if run.PlannedAt != nil {
			fmt.Fprintf(s.w, "planned as of %s (-at), not now: ages and older_than count from then\n", run.PlannedAt.Format(time.RFC3339))
		}
		return s.w.err
	}
	if s.policies > 0 {
		fmt.Fprint(s.w, "\n  ")
	}
	fmt.Fprint(s.w, "],\n")
	s.field(1, "finished_at", run.FinishedAt, false)
	s.field(1, "summary", sum, true)
	fmt.Fprint(s.w, "}\n")
	return s.w.err
}

// openPolicy writes the start of p unless it is already open.
func (s *Stream) openPolicy(p *plan.Policy) {
	if s.open == p {
		return
	}
	s.open, s.packages = p, 0
	if s.table != nil {
		s.table.policy(p.Name, string(p.Mode))
		s.policies++
		return
	}
	if s.policies > 0 {
		fmt.Fprint(s.w, ",")
	}
	fmt.Fprint(s.w, "\n    {\n")
	s.field(3, "policy", p.Name, false)
	s.field(3, "mode", string(p.Mode), false)
	fmt.Fprint(s.w, `      "packages": [`)
	s.policies++
}

// field writes "name": v at depth, indented as WriteJSON indents.
func (s *Stream) field(depth int, name string, v any, last bool) {
	ind := indent(depth)
	fmt.Fprintf(s.w, "%s%q: ", ind, name)
	s.json(depth, v)
	if !last {
		fmt.Fprint(s.w, ",")
	}
	fmt.Fprint(s.w, "\n")
}

// json writes v as WriteJSON would at depth, without a final newline.
func (s *Stream) json(depth int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent(indent(depth), "  ")
	if err := enc.Encode(v); err != nil {
		if s.w.err == nil {
			s.w.err = err
		}
		return
	}
	s.w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func indent(depth int) string {
	const spaces = "                                "
	return spaces[:2*depth]
}
