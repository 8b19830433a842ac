package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/report"
)

func (d *daemon) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := d.reload(context.WithoutCancel(r.Context()), false); err != nil {
			http.Error(w, d.redact(report.Escape(err.Error())), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "reloaded")
	})
	mux.HandleFunc("GET /{$}", d.status)
	mux.HandleFunc("GET /api/v1/policies", func(w http.ResponseWriter, r *http.Request) {
		pols, err := d.policies(r.Context())
		if err != nil {
			http.Error(w, "journal unavailable", http.StatusInternalServerError)
			return
		}
		d.writeJSON(w, map[string]any{"policies": pols})
	})
	mux.HandleFunc("GET /api/v1/runs", func(w http.ResponseWriter, r *http.Request) {
		runs, err := d.eng.Runs(r.Context(), 50)
		if err != nil {
			http.Error(w, "journal unavailable", http.StatusInternalServerError)
			return
		}
		out := make([]RunInfo, len(runs))
		for i, r := range runs {
			out[i] = toRunInfo(r)
		}
		d.writeJSON(w, map[string]any{"runs": out})
	})
	mux.HandleFunc("GET /api/v1/runs/{id}", d.run)
	return mux
}

// healthz: alive means scheduling, since a daemon whose cron stopped runs
// nothing.
func (d *daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	last := d.sched.LastTick()
	if now := d.clock.Now(); last.IsZero() || now.Sub(last) > StaleAfter {
		http.Error(w, "unhealthy: the scheduler has not ticked since "+last.UTC().Format(time.RFC3339), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz: ready means the journal is usable and GitHub accepts the token.
func (d *daemon) readyz(w http.ResponseWriter, r *http.Request) {
	if err := d.eng.Ping(r.Context()); err != nil {
		http.Error(w, "not ready: the journal is unusable", http.StatusServiceUnavailable)
		return
	}
	if err := d.tokenAccepted(r.Context()); err != nil {
		http.Error(w, "not ready: the token was not accepted", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// run answers one run from the journal, with its deletions (any run the
// journal has).
func (d *daemon) run(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad run id", http.StatusBadRequest)
		return
	}
	run, dels, err := d.eng.RunDeletions(r.Context(), id)
	switch {
	case errors.Is(err, journal.ErrNoRun):
		http.Error(w, "no such run", http.StatusNotFound)
	case err != nil:
		http.Error(w, "journal unavailable", http.StatusInternalServerError)
	default:
		d.writeJSON(w, RunDetail{RunInfo: toRunInfo(run), Deletions: append([]journal.Deletion{}, dels...)})
	}
}

// policies describes each policy with its next and last run.
func (d *daemon) policies(ctx context.Context) ([]PolicyInfo, error) {
	cfg := d.eng.Config()
	out := make([]PolicyInfo, 0, len(cfg.Policies))
	for _, p := range cfg.Policies {
		pj := PolicyInfo{Name: p.Name, Schedule: p.Schedule, Mode: string(cfg.EffectiveMode(p))}
		if next, ok := d.sched.NextRun(p.Name); ok && !next.IsZero() {
			pj.NextRun = &next
		}
		run, ok, err := d.eng.LastRun(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		if ok {
			pj.LastRun = &LastRun{ID: run.ID, Status: run.Status, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt}
		} else if m, ok := d.lastInMem(p.Name); ok {
			// A policy in plan mode is not journaled: what this process saw.
			fin := m.finished
			pj.LastRun = &LastRun{Status: m.status, StartedAt: m.started, FinishedAt: &fin}
		}
		out = append(out, pj)
	}
	return out, nil
}

func (d *daemon) lastInMem(policy string) (lastInMem, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.last[policy]
	return m, ok
}

// writeJSON answers v as JSON, with secrets redacted (error texts in
// reports come from servers).
func (d *daemon) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, d.redact(string(b))+"\n")
}

// PolicyInfo is one policy as GET /api/v1/policies shows it.
type PolicyInfo struct {
	Name     string     `json:"name"`
	Schedule string     `json:"schedule"`
	Mode     string     `json:"mode"`
	NextRun  *time.Time `json:"next_run"`
	LastRun  *LastRun   `json:"last_run"`
}

// LastRun is the newest run of a policy: journaled (with its id), or
// for a policy in plan mode the last this process made (id 0).
type LastRun struct {
	ID         int64      `json:"id"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// RunDetail is a run as GET /api/v1/runs/{id} answers it from the journal:
// its deletions (for a restore run, the deletions it restored).
type RunDetail struct {
	RunInfo
	Deletions []journal.Deletion `json:"deletions"`
}

// RunInfo is a journaled run as GET /api/v1/runs lists it, in the JSON
// report's shape without decisions.
type RunInfo struct {
	RunID      int64              `json:"run_id"`
	Kind       string             `json:"kind"`
	Mode       string             `json:"mode"`
	Trigger    string             `json:"trigger"`
	Status     string             `json:"status"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt *time.Time         `json:"finished_at"`
	Policies   []map[string]any   `json:"policies"`
	Summary    map[string]float64 `json:"summary"`
}

func toRunInfo(r journal.Run) RunInfo {
	pols := make([]map[string]any, len(r.Policies))
	for i, p := range r.Policies {
		pols[i] = map[string]any{"policy": p}
	}
	return RunInfo{RunID: r.ID, Kind: r.Kind, Mode: r.Mode, Trigger: r.Trigger, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Policies: pols, Summary: map[string]float64{"delete": float64(r.Planned), "deleted": float64(r.Deleted), "failed": float64(r.Failed),
			"skipped": float64(r.Skipped), "restored": float64(r.Restored), "api_requests": float64(r.APIRequests)}}
}
