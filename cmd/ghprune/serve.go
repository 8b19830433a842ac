package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/scheduler"
)

// tokenCheckTTL is how long /readyz trusts its last token check, success
// or failure: a probe every few seconds must not become a GET /user every
// few seconds, and repeated bad credentials can get an address blocked.
const tokenCheckTTL = time.Minute

// daemon is serve's state: the app, the schedule, the last reports.
type daemon struct {
	app   *app
	sched *scheduler.Scheduler
	log   *zap.Logger

	// tokenMu serializes token checks: concurrent probes wait for the one
	// in flight and share its answer.
	tokenMu   sync.Mutex
	tokenAt   time.Time // zero: never checked
	tokenErr  error
	reloadMu  sync.Mutex // one reload at a time
	cfgDigest [32]byte   // of the config file's bytes now running

	mu      sync.Mutex
	cfgPath string
	reports []*report.Report // newest last, bounded
}

// tokenAccepted says whether GitHub accepted the token, asking at most once
// per tokenCheckTTL.
func (d *daemon) tokenAccepted(ctx context.Context) error {
	d.tokenMu.Lock()
	defer d.tokenMu.Unlock()
	now := d.app.env.clock.Now()
	if !d.tokenAt.IsZero() && now.Sub(d.tokenAt) < tokenCheckTTL {
		return d.tokenErr
	}
	_, err := d.app.client.Identity(ctx)
	if err != nil && ctx.Err() != nil {
		return err // the caller gave up: no verdict on the token to keep
	}
	d.tokenAt, d.tokenErr = now, err
	return err
}

func cmdServe(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	config := fs.String("config", policy.DefaultConfigFile, "config `file`")
	listen := fs.String("listen", ":9090", "HTTP listen `address` for /metrics, /healthz, /readyz")
	logLevel := fs.String("log-level", "info", "log level")
	grace := fs.Duration("grace", 25*time.Second, "on SIGTERM, how long the delete in flight may take to finish")
	runOnStart := fs.Bool("run-on-start", false, "run every policy once at start, then follow the schedules")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	data, err := os.ReadFile(*config)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: read config: %v\n", err)
		return exitUsage
	}
	cfg, code := parseConfig(*config, data, e)
	if cfg == nil {
		return code
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a, code := startApp(ctx, cfg, *logLevel, e, reg, journalCreate)
	if a == nil {
		return code
	}
	defer a.Close()
	log := a.log
	defer log.Sync()
	// The daemon owns its journal for its whole life: a second serve, or an
	// apply beside it, would send every DELETE twice.
	if a.lock, err = a.lockJournal(ctx, "ghprune serve"); err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitFailed
	}
	a.exec.Grace = *grace
	d := &daemon{app: a, sched: scheduler.New(log.Named("scheduler")), log: log, cfgPath: *config, cfgDigest: sha256.Sum256(data)}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: listen: %v\n", err)
		return exitFailed
	}
	srv := &http.Server{Handler: d.routes(reg), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", zap.Error(err))
		}
	}()
	log.Info("serving", zap.String("listen", ln.Addr().String()), zap.Int("policies", len(cfg.Policies)))

	// Readiness: the token is accepted by GitHub.
	if err := d.tokenAccepted(ctx); err != nil {
		log.Warn("token check failed; not ready", zap.Error(err))
	}
	a.reconcile(ctx)
	a.updateRestorable(ctx)
	d.prune(ctx)
	jobs := d.jobs(cfg)
	d.sched.Start(ctx, jobs)
	if e.onListen != nil {
		e.onListen(ln.Addr().String()) // tests: serving, and scheduled
	}
	if *runOnStart {
		go d.sched.RunNow(ctx, jobs)
	}

	// The journal changes under other processes too (restore from kubectl
	// exec): refresh its gauges every minute.
	refresh := time.NewTicker(time.Minute)
	defer refresh.Stop()
	for {
		select {
		case <-refresh.C:
			a.updateRestorable(ctx)
		case <-ctx.Done():
			log.Info("stopping: letting the run in progress finish its delete in flight")
			done := d.sched.Stop()
			<-done.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			srv.Shutdown(sctx)
			cancel()
			log.Info("stopped")
			return exitOK
		case <-e.hup:
			d.reload(ctx)
		}
	}
}

func (d *daemon) jobs(cfg *policy.Config) []scheduler.Job {
	var jobs []scheduler.Job
	for _, p := range cfg.Policies {
		name := p.Name
		// The key is the schedule as written, in its time zone: a reload
		// that leaves it unchanged keeps the policy's next run.
		key := p.Schedule + "\x00" + cfg.Defaults.Timezone
		jobs = append(jobs, scheduler.Job{Name: name, Schedule: p.CronSchedule(), Key: key, Run: func(ctx context.Context) {
			// Look the policy up when the turn comes: a tick queued before a
			// reload must not run a policy the reload removed or changed.
			p := d.app.cfg.Load().Policy(name)
			if p == nil {
				d.log.Info("policy removed by a reload; not run", zap.String("policy", name))
				return
			}
			r, _ := d.app.runPolicies(ctx, []*policy.Policy{p}, true, "schedule") // failures are logged there
			d.remember(r)
			d.prune(ctx)
			if d.app.env.onRun != nil {
				d.app.env.onRun()
			}
		}})
	}
	return jobs
}

func (d *daemon) remember(r *report.Report) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reports = append(d.reports, r)
	if len(d.reports) > 50 {
		d.reports = d.reports[len(d.reports)-50:]
	}
}

// prune drops journal rows past state.retain_days (never restorable ones).
func (d *daemon) prune(ctx context.Context) {
	days := d.app.cfg.Load().State.RetainDays
	if days <= 0 {
		days = policy.DefaultRetainDays
	}
	if n, err := d.app.journal.Prune(ctx, d.app.env.clock.Now(), time.Duration(days)*24*time.Hour); err != nil {
		d.log.Warn("journal prune", zap.Error(err))
	} else if n > 0 {
		d.log.Info("journal pruned", zap.Int64("runs", n))
	}
}

// reload re-reads the config and replaces the policies and schedules. A bad
// config is refused and the running one stays.
func (d *daemon) reload(ctx context.Context) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.Lock()
	path := d.cfgPath
	d.mu.Unlock()
	data, err := os.ReadFile(path)
	if err == nil && sha256.Sum256(data) == d.cfgDigest {
		// The running config is the file's: a success, with nothing to
		// redo (restarting the schedules would postpone every policy).
		d.app.metrics.ConfigReloads.WithLabelValues("success").Inc()
		d.log.Info("config unchanged; nothing to reload")
		return nil
	}
	var cfg *policy.Config
	if err == nil {
		cfg, err = policy.Parse(path, data)
	}
	if err != nil {
		d.app.metrics.ConfigReloads.WithLabelValues("failure").Inc()
		d.log.Error("reload refused: config invalid; keeping the running config", zap.Error(err))
		return err
	}
	old := d.app.cfg.Load()
	if cfg.GitHub != old.GitHub || cfg.State != old.State || cfg.Limits != old.Limits {
		d.log.Warn("github, state and limits changes take effect on restart only")
		cfg.GitHub, cfg.State, cfg.Limits = old.GitHub, old.State, old.Limits
	}
	d.app.cfg.Store(cfg)
	d.cfgDigest = sha256.Sum256(data)
	kept := d.sched.Start(ctx, d.jobs(cfg))
	d.app.metrics.ConfigReloads.WithLabelValues("success").Inc()
	d.log.Info("config reloaded", zap.Int("policies", len(cfg.Policies)), zap.Strings("schedules_kept", kept))
	return nil
}

func (d *daemon) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := d.tokenAccepted(r.Context()); err != nil {
			http.Error(w, "not ready: the token was not accepted", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := d.reload(context.WithoutCancel(r.Context())); err != nil {
			http.Error(w, policy.RedactTokens(report.Escape(err.Error())), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "reloaded")
	})
	mux.HandleFunc("GET /api/v1/policies", func(w http.ResponseWriter, r *http.Request) {
		cfg := d.app.cfg.Load()
		runs, err := d.app.journal.Runs(r.Context(), 200)
		if err != nil {
			http.Error(w, "journal unavailable", http.StatusInternalServerError)
			return
		}
		out := make([]policyJSON, 0, len(cfg.Policies))
		for _, p := range cfg.Policies {
			pj := policyJSON{Name: p.Name, Schedule: p.Schedule, Mode: string(cfg.EffectiveMode(p))}
			if next, ok := d.sched.NextRun(p.Name); ok && !next.IsZero() {
				pj.NextRun = &next
			}
			for _, run := range runs { // newest first
				if run.Kind == "apply" && slices.Contains(run.Policies, p.Name) {
					pj.LastRun = &lastRunJSON{ID: run.ID, Status: run.Status, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt}
					break
				}
			}
			out = append(out, pj)
		}
		writeJSON(w, map[string]any{"policies": out})
	})
	mux.HandleFunc("GET /api/v1/runs", func(w http.ResponseWriter, r *http.Request) {
		runs, err := d.app.journal.Runs(r.Context(), 50)
		if err != nil {
			http.Error(w, "journal unavailable", http.StatusInternalServerError)
			return
		}
		out := make([]runJSON, len(runs))
		for i, r := range runs {
			out[i] = toRunJSON(r)
		}
		writeJSON(w, map[string]any{"runs": out})
	})
	mux.HandleFunc("GET /api/v1/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "bad run id", http.StatusBadRequest)
			return
		}
		d.mu.Lock()
		var found *report.Report
		for _, rep := range d.reports {
			if rep.RunID != nil && *rep.RunID == id {
				found = rep
			}
		}
		d.mu.Unlock()
		if found != nil {
			writeJSON(w, found)
			return
		}
		run, err := d.app.journal.Run(r.Context(), id)
		if err != nil {
			http.Error(w, "no such run", http.StatusNotFound)
			return
		}
		writeJSON(w, toRunJSON(run)) // decisions are kept in memory only for recent runs
	})
	return mux
}

// writeJSON answers v as JSON, with anything that looks like a token
// redacted (error texts in reports come from servers).
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, policy.RedactTokens(string(b))+"\n")
}

// policyJSON is one policy as /api/v1/policies shows it.
type policyJSON struct {
	Name     string       `json:"name"`
	Schedule string       `json:"schedule"`
	Mode     string       `json:"mode"`
	NextRun  *time.Time   `json:"next_run"`
	LastRun  *lastRunJSON `json:"last_run"`
}

// lastRunJSON is the newest journaled run of a policy.
type lastRunJSON struct {
	ID         int64      `json:"id"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// runJSON is a journaled run in the JSON report's shape (cli.md), without
// decisions.
type runJSON struct {
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

func toRunJSON(r journal.Run) runJSON {
	pols := make([]map[string]any, len(r.Policies))
	for i, p := range r.Policies {
		pols[i] = map[string]any{"policy": p}
	}
	return runJSON{RunID: r.ID, Kind: r.Kind, Mode: r.Mode, Trigger: r.Trigger, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Policies: pols, Summary: map[string]float64{"delete": float64(r.Planned), "deleted": float64(r.Deleted), "failed": float64(r.Failed),
			"skipped": float64(r.Skipped), "restored": float64(r.Restored), "api_requests": float64(r.APIRequests)}}
}
