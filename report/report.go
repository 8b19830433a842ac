// Package report renders a run (the plan model): the JSON report whose
// fields docs/cli.md fixes, the table for people and the Markdown for pull
// requests. Everything printed from GitHub (package names, tags, reasons
// quoting them) is escaped, so a hostile name cannot break a table or drive
// a terminal. It imports the model; nothing it imports renders.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Outcomes of a planned deletion after apply.
const (
	OutcomeDeleted = "deleted"
	OutcomeFailed  = "failed"
	OutcomeSkipped = "skipped" // GitHub refused (download limit, last version)
	// OutcomeDeferred: not sent; the run reached limits.max_run_duration
	// (or its budget resets only after it), and the next run plans it again.
	OutcomeDeferred = "deferred"
)

// Report is one plan or apply invocation.
type Report struct {
	RunID     *int64    `json:"run_id"` // nil for a plan: plans are not journaled
	Mode      string    `json:"mode"`   // plan, or enforce when anything was executed
	StartedAt time.Time `json:"started_at"`
	// PlannedAt is the time the plan was made as of (plan -at), omitted
	// when it was made as of its start.
	PlannedAt  *time.Time `json:"planned_at,omitempty"`
	FinishedAt time.Time  `json:"finished_at"`
	Policies   []*Policy  `json:"policies"`
	Summary    Summary    `json:"summary"`
}

// Policy is one policy's part of a report.
type Policy struct {
	Policy string `json:"policy"`
	Mode   string `json:"mode"`
	Error  string `json:"error,omitempty"` // the policy could not be planned or finished
	// Deferred says why the whole policy was left for the next run.
	Deferred string `json:"deferred,omitempty"`
	// Warnings are lint findings of the plan: patterns that matched
	// nothing, packages another policy also selects.
	Warnings []string   `json:"warnings,omitempty"`
	Packages []*Package `json:"packages"`
	// APIRequests is what the policy's part of the run sent.
	APIRequests int64 `json:"api_requests"`
}

// Package is one package's decisions.
type Package struct {
	Owner         string      `json:"owner"`
	OwnerType     string      `json:"owner_type"` // org or user
	PackageType   string      `json:"package_type"`
	Package       string      `json:"package"`
	Visibility    string      `json:"visibility"`
	VersionsTotal int         `json:"versions_total"`
	Decisions     []*Decision `json:"decisions"`
	// FreedBytes estimates what the planned deletions free: the blobs of
	// deleted manifests that no kept manifest uses (container packages).
	FreedBytes int64 `json:"freed_bytes"`
	// Error says why the package could not be planned; it then has no
	// decisions and nothing in it is touched.
	Error string `json:"error,omitempty"`
	// Deferred says why the package was not listed this run: the run
	// reached its deadline; the next run plans it. Not a failure.
	Deferred string `json:"deferred,omitempty"`
	// APIOwner is how the API addresses the owner: org, user, or self (the
	// token's own account, /user). Not part of the JSON contract.
	APIOwner string `json:"-"`
}

// Decision is one version's verdict, and after apply what became of it.
type Decision struct {
	VersionID int64     `json:"version_id"`
	Version   string    `json:"version"`
	Tags      []string  `json:"tags"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Action    string    `json:"action"`
	Rule      string    `json:"rule"`
	Reason    string    `json:"reason"`
	// Parents are the deleted versions that refer to this one (its index,
	// or the image it signs); they are deleted first, and this one is not
	// deleted while one of them stays.
	Parents         []string   `json:"parents,omitempty"`
	Outcome         string     `json:"outcome,omitempty"`
	Error           string     `json:"error,omitempty"`
	RestorableUntil *time.Time `json:"restorable_until,omitempty"`
}

// Summary counts a report.
type Summary struct {
	VersionsScanned int `json:"versions_scanned"`
	Keep            int `json:"keep"`
	Delete          int `json:"delete"`
	Deleted         int `json:"deleted"`
	Failed          int `json:"failed"`
	Skipped         int `json:"skipped"`
	Deferred        int `json:"deferred"`
	// DeferredPackages were not listed: the run reached its deadline.
	DeferredPackages int   `json:"deferred_packages"`
	FreedBytes       int64 `json:"freed_bytes"`
	APIRequests      int64 `json:"api_requests"`
	ManifestFetches  int64 `json:"manifest_fetches"`
	// ApplyEstimate, on a plan, is what applying it would cost.
	ApplyEstimate *Estimate `json:"apply_estimate,omitempty"`
}

// Estimate is what applying a plan would cost.
type Estimate struct {
	Requests        int     `json:"requests"`
	ListRequests    int     `json:"list_requests"`
	DeleteRequests  int     `json:"delete_requests"`
	ManifestFetches int64   `json:"manifest_fetches"`
	DurationSeconds float64 `json:"duration_seconds"`
	BudgetPauses    int     `json:"budget_pauses"`
	PastDeadline    bool    `json:"past_deadline"`
}

// Summarize recounts r.Summary from its decisions (APIRequests is kept).
func (r *Report) Summarize() {
	s := Summary{APIRequests: r.Summary.APIRequests, ManifestFetches: r.Summary.ManifestFetches, ApplyEstimate: r.Summary.ApplyEstimate}
	for _, p := range r.Policies {
		for _, pkg := range p.Packages {
			c := pkg.Count()
			s.VersionsScanned += c.VersionsScanned
			s.Keep += c.Keep
			s.Delete += c.Delete
			s.Deleted += c.Deleted
			s.Failed += c.Failed
			s.Skipped += c.Skipped
			s.Deferred += c.Deferred
			s.DeferredPackages += c.DeferredPackages
			s.FreedBytes += pkg.FreedBytes
		}
	}
	r.Summary = s
}

// Count summarizes one package (APIRequests is not known per package).
func (p *Package) Count() Summary {
	var s Summary
	s.VersionsScanned = len(p.Decisions)
	if p.Deferred != "" {
		s.DeferredPackages = 1
	}
	for _, d := range p.Decisions {
		if d.Action == "delete" {
			s.Delete++
		} else {
			s.Keep++
		}
		if d.Rule == "deferred" || d.Outcome == OutcomeDeferred {
			s.Deferred++
		}
		switch d.Outcome {
		case OutcomeDeleted:
			s.Deleted++
		case OutcomeFailed:
			s.Failed++
		case OutcomeSkipped:
			s.Skipped++
		}
	}
	return s
}

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// String says what an apply would cost, in a sentence.
func (e *Estimate) String() string {
	s := fmt.Sprintf("about %d API requests (%d to list, %d to delete)", e.Requests, e.ListRequests, e.DeleteRequests)
	if e.ManifestFetches > 0 {
		s += fmt.Sprintf(" and %d manifest reads", e.ManifestFetches)
	}
	s += ", " + humanDuration(time.Duration(e.DurationSeconds*float64(time.Second)))
	switch e.BudgetPauses {
	case 0:
	case 1:
		s += ", pausing once for limits.budget_share"
	default:
		s += fmt.Sprintf(", pausing %d times for limits.budget_share", e.BudgetPauses)
	}
	if e.PastDeadline {
		s += "; longer than limits.max_run_duration: each run defers the rest to the next"
	}
	return s
}

// humanDuration is d rounded for a person: "under a minute", "12m", "3h05m".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute)/time.Minute))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
