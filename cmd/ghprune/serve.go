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
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/metrics"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/scheduler"
)

// tokenCheckTTL is how long /readyz trusts its last token check, success
// or failure: a probe every few seconds must not become a GET /user every
// few seconds, and repeated bad credentials can get an address blocked.
const tokenCheckTTL = time.Minute

// staleAfter is how long the scheduler may go without a heartbeat before
// /healthz fails: four beats missed.
const staleAfter = 4 * scheduler.HeartbeatEvery

// daemon is serve's state: the app, the schedule, the last reports.
type daemon struct {
	app   *app
	sched *scheduler.Scheduler
	log   *zap.Logger
	dm    *metrics.Daemon

	// checkMu serializes token checks: concurrent probes wait for the one
	// in flight and share its answer. tokenMu guards the answer.
	checkMu   sync.Mutex
	tokenMu   sync.Mutex
	tokenAt   time.Time // zero: never checked
	tokenErr  error
	reloadMu  sync.Mutex  // one reload at a time
	cfgDigest [32]byte    // of the config file's bytes now running
	reloadOK  atomic.Bool // the last load or reload succeeded

	mu      sync.Mutex
	cfgPath string
	reports []*report.Report // newest last, bounded
}

// tokenAccepted says whether GitHub accepted the token, asking at most once
// per tokenCheckTTL.
func (d *daemon) tokenAccepted(ctx context.Context) error {
	d.checkMu.Lock()
	defer d.checkMu.Unlock()
	now := d.app.env.clock.Now()
	d.tokenMu.Lock()
	at, verdict := d.tokenAt, d.tokenErr
	d.tokenMu.Unlock()
	if !at.IsZero() && now.Sub(at) < tokenCheckTTL {
		return verdict
	}
	// Not under tokenMu: the request's 401 reaches tokenWasRefused. Not
	// under the probe's context either: a probe that gives up before a slow
	// GitHub answers would leave no verdict, and every probe would ask again.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := d.app.client.CheckToken(cctx)
	if err != nil && !errors.Is(err, githubapi.ErrBadCredentials) && !errors.Is(err, githubapi.ErrForbidden) {
		// No verdict on the token (GitHub unreachable, rate limited): the
		// last verdict stands, and the next question waits a minute too.
		d.log.Warn("token check without an answer", zap.Error(err))
		d.tokenMu.Lock()
		defer d.tokenMu.Unlock()
		if d.tokenAt.IsZero() {
			d.tokenErr = err
		}
		d.tokenAt = now
		return d.tokenErr
	}
	d.tokenMu.Lock()
	d.tokenAt, d.tokenErr = now, err
	d.tokenMu.Unlock()
	d.dm.TokenChecked(err == nil)
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
	data, err := policy.ReadFile(*config)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
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
	d := &daemon{app: a, sched: scheduler.New(log.Named("scheduler"), e.clock), log: log, dm: metrics.NewDaemon(reg),
		cfgPath: *config, cfgDigest: sha256.Sum256(data)}
	d.setReloaded(true)
	d.sched.OnTick = d.dm.Tick
	refused := d.tokenWasRefused
	a.tokenRefused.Store(&refused)

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
	d.refresh(ctx)
	d.prune(ctx)
	jobs := d.jobs(cfg)
	d.sched.Start(ctx, jobs)
	d.publishSchedules()
	// A mounted ConfigMap changes by a symlink swap: watch the directory and
	// reload, as SIGHUP and POST /-/reload do.
	if err := d.watchConfig(ctx); err != nil {
		log.Warn("config file not watched; reload with SIGHUP or POST /-/reload", zap.Error(err))
	}
	if e.onListen != nil {
		e.onListen(ln.Addr().String()) // tests: serving, and scheduled
	}
	if *runOnStart {
		go d.sched.RunNow(ctx, jobs)
	}

	// The journal changes under other processes too (restore from kubectl
	// exec): refresh its gauges every minute, and look at the config file
	// in case a change was not notified (a reload of an unchanged file is
	// free).
	refresh := time.NewTicker(time.Minute)
	defer refresh.Stop()
	for {
		select {
		case <-refresh.C:
			d.refresh(ctx)
			d.reload(ctx)
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
			d.refresh(ctx)
			d.publishSchedules()
			if d.app.env.onRun != nil {
				d.app.env.onRun()
			}
		}})
	}
	return jobs
}

// policies describes each policy with its next and last run.
func (d *daemon) policies(ctx context.Context) ([]policyJSON, error) {
	cfg := d.app.cfg.Load()
	runs, err := d.app.journal.Runs(ctx, 200)
	if err != nil {
		return nil, err
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
	return out, nil
}

// tokenWasRefused records a 401 seen by any request: readiness and the
// token metric turn at once, without waiting for the next check.
func (d *daemon) tokenWasRefused() {
	d.tokenMu.Lock()
	defer d.tokenMu.Unlock()
	d.tokenAt, d.tokenErr = d.app.env.clock.Now(), githubapi.ErrBadCredentials
	d.dm.TokenChecked(false)
}

// setReloaded records whether the config now running came from the file.
func (d *daemon) setReloaded(ok bool) {
	d.reloadOK.Store(ok)
	d.dm.Reloaded(ok, d.app.env.clock.Now())
}

// refresh updates the gauges that read the journal, which other processes
// (a restore from kubectl exec) change too.
func (d *daemon) refresh(ctx context.Context) {
	d.app.updateRestorable(ctx)
	deadline, err := d.app.journal.FailedRestoreDeadline(ctx, d.app.env.clock.Now())
	if err != nil {
		d.log.Warn("journal stats", zap.Error(err))
		return
	}
	d.dm.FailedRestores(deadline)
}

// publishSchedules exports each scheduled policy's interval and next run,
// for the alert on a policy that has not succeeded for longer than its
// schedule allows.
func (d *daemon) publishSchedules() {
	interval, next := map[string]time.Duration{}, map[string]time.Time{}
	for _, p := range d.app.cfg.Load().Policies {
		sched := p.CronSchedule()
		if sched == nil {
			continue
		}
		first := sched.Next(d.app.env.clock.Now())
		interval[p.Name] = sched.Next(first).Sub(first)
		if t, ok := d.sched.NextRun(p.Name); ok && !t.IsZero() {
			next[p.Name] = t
		}
	}
	d.dm.Schedules(interval, next)
}

// reloaded tells a test that a reload was decided.
func (d *daemon) reloaded(err error) {
	if d.app.env.onReload != nil {
		d.app.env.onReload(err)
	}
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
	data, err := policy.ReadFile(path)
	if err == nil && sha256.Sum256(data) == d.cfgDigest {
		// The running config is the file's: a success, with nothing to
		// redo (restarting the schedules would postpone every policy).
		d.app.metrics.ConfigReloads.WithLabelValues("success").Inc()
		d.setReloaded(true)
		d.log.Debug("config unchanged; nothing to reload")
		d.reloaded(nil)
		return nil
	}
	var cfg *policy.Config
	if err == nil {
		cfg, err = policy.Parse(path, data)
	}
	if err != nil {
		d.app.metrics.ConfigReloads.WithLabelValues("failure").Inc()
		d.setReloaded(false)
		d.log.Error("reload refused: config invalid; keeping the running config", zap.Error(err))
		d.reloaded(err)
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
	d.publishSchedules()
	d.app.metrics.ConfigReloads.WithLabelValues("success").Inc()
	d.setReloaded(true)
	d.log.Info("config reloaded", zap.Int("policies", len(cfg.Policies)), zap.Strings("schedules_kept", kept))
	d.reloaded(nil)
	return nil
}

func (d *daemon) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Alive means scheduling: a daemon whose cron stopped runs nothing.
		last := d.sched.LastTick()
		if now := d.app.env.clock.Now(); last.IsZero() || now.Sub(last) > staleAfter {
			http.Error(w, "unhealthy: the scheduler has not ticked since "+last.UTC().Format(time.RFC3339), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := d.app.journal.Ping(r.Context()); err != nil {
			http.Error(w, "not ready: the journal is unusable", http.StatusServiceUnavailable)
			return
		}
		if err := d.tokenAccepted(r.Context()); err != nil {
			http.Error(w, "not ready: the token was not accepted", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := d.reload(context.WithoutCancel(r.Context())); err != nil {
			http.Error(w, d.app.env.secrets.redact(report.Escape(err.Error())), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "reloaded")
	})
	mux.HandleFunc("GET /api/v1/policies", func(w http.ResponseWriter, r *http.Request) {
		pols, err := d.policies(r.Context())
		if err != nil {
			http.Error(w, "journal unavailable", http.StatusInternalServerError)
			return
		}
		d.writeJSON(w, map[string]any{"policies": pols})
	})
	mux.HandleFunc("GET /{$}", d.status)
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
		d.writeJSON(w, map[string]any{"runs": out})
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
			d.writeJSON(w, found)
			return
		}
		// Any run the journal has, with what it deleted: the decisions of
		// a whole plan are kept in memory only for the recent runs above.
		run, err := d.app.journal.Run(r.Context(), id)
		if errors.Is(err, journal.ErrNoRun) {
			http.Error(w, "no such run", http.StatusNotFound)
			return
		}
		var dels []journal.Deletion
		if err == nil {
			f := journal.Filter{RunID: id}
			if run.Kind == "restore" {
				f = journal.Filter{RestoreRunID: id}
			}
			dels, err = d.app.journal.Deletions(r.Context(), f)
		}
		if err != nil {
			http.Error(w, "journal unavailable", http.StatusInternalServerError)
			return
		}
		d.writeJSON(w, journalRunJSON{runJSON: toRunJSON(run), Deletions: append([]journal.Deletion{}, dels...)})
	})
	return mux
}

// writeJSON answers v as JSON, with anything that looks like a token
// redacted (error texts in reports come from servers).
func (d *daemon) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, d.app.env.secrets.redact(string(b))+"\n")
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

// journalRunJSON is a run as the journal has it: its deletions (for a
// restore run, the deletions it restored).
type journalRunJSON struct {
	runJSON
	Deletions []journal.Deletion `json:"deletions"`
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
