// Package daemon is `ghprune serve`: each policy on its cron schedule
// through the engine, and the HTTP side on-call and Prometheus read —
// metrics, health and readiness, the config reload, the run API and the
// status page. It owns the config file while it runs: it watches it and
// reloads it, refusing a bad one and keeping what runs.
package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/metrics"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/scheduler"
)

// TokenCheckTTL is how long /readyz trusts its last token check, success
// or failure: a probe every few seconds must not become a GET /user every
// few seconds, and repeated bad credentials can get an address blocked.
const TokenCheckTTL = time.Minute

// StaleAfter is how long the scheduler may go without a heartbeat before
// /healthz fails: four beats missed.
const StaleAfter = 4 * scheduler.HeartbeatEvery

// ErrListen: the HTTP address could not be listened on.
var ErrListen = errors.New("listen")

// Options run the daemon.
type Options struct {
	// Config is the config loaded from ConfigPath, and ConfigData its bytes
	// (a reload of the same bytes is a no-op).
	Config     *policy.Config
	ConfigPath string
	ConfigData []byte
	// Listen is the HTTP address, e.g. ":9090".
	Listen string
	// RunOnStart runs every policy once at start, then follows the schedules.
	RunOnStart bool
	// Grace is how long the delete in flight may take after SIGTERM.
	Grace  time.Duration
	Logger *zap.Logger
	// Clock tells time; nil means the wall clock.
	Clock clock.Clock
	// Getenv, Secret and HTTPClient are passed to the engine.
	Getenv     func(string) string
	Secret     func(string)
	HTTPClient *http.Client
	// Redact cleans text the HTTP side answers of secrets; nil means
	// policy.RedactTokens.
	Redact func(string) string
	// Warn receives what a person should read on stderr.
	Warn func(string)
	// Reload delivers SIGHUP; nil when nothing signals.
	Reload <-chan os.Signal

	// Tests wait on these instead of sleeping; nil in production.
	OnListen func(addr string) // serving, and scheduled
	OnRun    func()            // a scheduled run finished
	OnReload func(err error)   // a reload was decided (nil: loaded, or unchanged)
}

// daemon is serve's state: the engine, the schedule, the last runs.
type daemon struct {
	eng    *engine.Engine
	sched  *scheduler.Scheduler
	log    *zap.Logger
	dm     *metrics.Daemon
	clock  clock.Clock
	redact func(string) string
	opts   Options

	// checkMu serializes token checks: concurrent probes wait for the one
	// in flight and share its answer. tokenMu guards the answer.
	checkMu  sync.Mutex
	tokenMu  sync.Mutex
	tokenAt  time.Time // zero: never checked
	tokenErr error

	reloadMu  sync.Mutex  // one reload at a time
	cfgDigest [32]byte    // of the config file's bytes now running
	reloadOK  atomic.Bool // the last load or reload succeeded

	mu   sync.Mutex
	last map[string]lastInMem // a policy's last run this process made
}

// lastInMem is a policy's last run as this process saw it: for the runs
// the journal does not record (a policy in plan mode).
type lastInMem struct {
	status   string
	started  time.Time
	finished time.Time
}

// Serve runs the daemon until ctx ends, then lets the delete in flight
// finish and be journaled. An error wrapping engine.ErrUsage means the
// config must change; others (the journal locked by another enforcing
// process, the address in use) that it could not start.
func Serve(ctx context.Context, o Options) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	eng, err := engine.Open(ctx, engine.Options{Config: o.Config, Getenv: o.Getenv, Secret: o.Secret, Clock: clk, Logger: log,
		Registerer: reg, HTTPClient: o.HTTPClient, Journal: engine.JournalCreate, Warn: o.Warn, Grace: o.Grace})
	if err != nil {
		return err
	}
	defer eng.Close()
	// The daemon owns its journal for its whole life: a second serve, or an
	// apply beside it, would send every DELETE twice.
	if err := eng.HoldLock(ctx, "ghprune serve"); err != nil {
		return err
	}
	d := &daemon{eng: eng, sched: scheduler.New(log.Named("scheduler"), clk), log: log, dm: metrics.NewDaemon(reg),
		clock: clk, redact: o.Redact, opts: o, cfgDigest: sha256.Sum256(o.ConfigData), last: map[string]lastInMem{}}
	if d.redact == nil {
		d.redact = policy.RedactTokens
	}
	d.reloadOK.Store(true)
	d.dm.Loaded(clk.Now())
	d.sched.OnTick = d.dm.Tick
	eng.OnTokenRefused(d.tokenWasRefused)

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrListen, err)
	}
	srv := &http.Server{Handler: d.routes(reg), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", zap.Error(err))
		}
	}()
	log.Info("serving", zap.String("listen", ln.Addr().String()), zap.Int("policies", len(o.Config.Policies)))
	d.start(ctx)
	if o.OnListen != nil {
		o.OnListen(ln.Addr().String())
	}
	jobs := d.jobs(o.Config)
	if o.RunOnStart {
		go d.sched.RunNow(ctx, jobs)
	}
	d.loop(ctx)
	log.Info("stopping: letting the run in progress finish its delete in flight")
	<-d.sched.Stop().Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	srv.Shutdown(sctx)
	cancel()
	log.Info("stopped")
	return nil
}

// start checks the token, settles what a stopped process left open, and
// schedules the policies.
func (d *daemon) start(ctx context.Context) {
	if err := d.tokenAccepted(ctx); err != nil {
		d.log.Warn("token check failed; not ready", zap.Error(err))
	}
	d.eng.Reconcile(ctx)
	d.refresh(ctx)
	d.eng.Prune(ctx)
	d.sched.Start(ctx, d.jobs(d.eng.Config()))
	d.publishSchedules()
	// A mounted ConfigMap changes by a symlink swap: watch the directory and
	// reload, as SIGHUP and POST /-/reload do.
	if err := d.watchConfig(ctx); err != nil {
		d.log.Warn("config file not watched; reload with SIGHUP or POST /-/reload", zap.Error(err))
	}
}

// loop refreshes what the journal holds every minute (other processes
// change it too: a restore from kubectl exec) and looks at the config file
// in case a change was not notified (a reload of an unchanged file is
// free), until ctx ends.
func (d *daemon) loop(ctx context.Context) {
	refresh := time.NewTicker(time.Minute)
	defer refresh.Stop()
	for {
		select {
		case <-refresh.C:
			d.refresh(ctx)
			d.reload(ctx, true)
		case <-ctx.Done():
			return
		case <-d.opts.Reload:
			d.reload(ctx, false)
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
			d.runPolicy(ctx, name)
		}})
	}
	return jobs
}

// runPolicy runs one policy when its turn comes. It looks the policy up
// then: a tick queued before a reload must not run a policy the reload
// removed or changed.
func (d *daemon) runPolicy(ctx context.Context, name string) {
	p := d.eng.Config().Policy(name)
	if p == nil {
		d.log.Info("policy removed by a reload; not run", zap.String("policy", name))
		return
	}
	// The run is counted, not kept: its decisions go nowhere (the journal
	// has its deletions), so a run of any size leaves the daemon's memory
	// as it was.
	run, err := d.eng.Run(ctx, []*policy.Policy{p}, engine.RunOptions{Apply: true, Trigger: engine.TriggerSchedule, Sink: discard{}}) // failures are logged by the engine
	status := "succeeded"
	if err != nil {
		status = "failed"
	}
	d.remember(run, name, status)
	d.refresh(ctx)
	d.publishSchedules()
	if d.opts.OnRun != nil {
		d.opts.OnRun()
	}
}

func (d *daemon) remember(r *plan.Run, policy, status string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last[policy] = lastInMem{status: status, started: r.StartedAt, finished: r.FinishedAt}
}

// discard is the sink of the daemon's runs: what a run decided is in its
// counts, metrics and journal, and nothing more is kept.
type discard struct{}

func (discard) Start(*plan.Run) error                     { return nil }
func (discard) Package(*plan.Policy, *plan.Package) error { return nil }
func (discard) PolicyDone(*plan.Policy) error             { return nil }

// tokenAccepted says whether GitHub accepted the token, asking at most once
// per TokenCheckTTL.
func (d *daemon) tokenAccepted(ctx context.Context) error {
	d.checkMu.Lock()
	defer d.checkMu.Unlock()
	now := d.clock.Now()
	d.tokenMu.Lock()
	at, verdict := d.tokenAt, d.tokenErr
	d.tokenMu.Unlock()
	if !at.IsZero() && now.Sub(at) < TokenCheckTTL {
		return verdict
	}
	// Not under tokenMu: the request's 401 reaches tokenWasRefused. Not
	// under the probe's context either: a probe that gives up before a slow
	// GitHub answers would leave no verdict, and every probe would ask again.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := d.eng.CheckToken(cctx)
	d.tokenMu.Lock()
	defer d.tokenMu.Unlock()
	if err != nil && !errors.Is(err, githubapi.ErrBadCredentials) && !errors.Is(err, githubapi.ErrForbidden) {
		// No verdict on the token (GitHub unreachable, rate limited): the
		// last verdict stands, and the next question waits a minute too.
		d.log.Warn("token check without an answer", zap.Error(err))
		if d.tokenAt.IsZero() {
			d.tokenErr = err
		}
		d.tokenAt = now
		return d.tokenErr
	}
	d.tokenAt, d.tokenErr = now, err
	d.dm.TokenChecked(err == nil)
	return err
}

// tokenWasRefused records a 401 seen by any request: readiness and the
// token metric turn at once, without waiting for the next check.
func (d *daemon) tokenWasRefused() {
	d.tokenMu.Lock()
	defer d.tokenMu.Unlock()
	d.tokenAt, d.tokenErr = d.clock.Now(), githubapi.ErrBadCredentials
	d.dm.TokenChecked(false)
}

// refresh updates the gauges that read the journal.
func (d *daemon) refresh(ctx context.Context) {
	deadline, err := d.eng.RefreshJournal(ctx)
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
	for _, p := range d.eng.Config().Policies {
		sched := p.CronSchedule()
		if sched == nil {
			continue
		}
		first := sched.Next(d.clock.Now())
		interval[p.Name] = sched.Next(first).Sub(first)
		if t, ok := d.sched.NextRun(p.Name); ok && !t.IsZero() {
			next[p.Name] = t
		}
	}
	d.dm.Schedules(interval, next)
}

// reload re-reads the config and replaces the policies and schedules. A bad
// config is refused and the running one stays. The file's bytes unchanged
// is nothing to redo (restarting the schedules would postpone every
// policy). Asked for (SIGHUP, POST /-/reload, a file event), that is a
// reload that succeeded; the loop's look every minute (poll) counts only
// when the last reload was refused: the file is the running config again.
func (d *daemon) reload(ctx context.Context, poll bool) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	data, err := policy.ReadFile(d.opts.ConfigPath)
	if err == nil && sha256.Sum256(data) == d.cfgDigest {
		d.log.Debug("config unchanged; nothing to reload")
		switch {
		case !poll || !d.reloadOK.Load():
			d.reloaded(nil, "")
		case d.opts.OnReload != nil:
			d.opts.OnReload(nil)
		}
		return nil
	}
	var cfg *policy.Config
	if err == nil {
		cfg, err = policy.Parse(d.opts.ConfigPath, data)
	}
	if err != nil {
		d.log.Error("reload refused: config invalid; keeping the running config", zap.Error(err))
		d.reloaded(err, "")
		return err
	}
	if d.eng.SetConfig(cfg) {
		d.log.Warn("github, state and limits changes take effect on restart only")
	}
	d.cfgDigest = sha256.Sum256(data)
	kept := d.sched.Start(ctx, d.jobs(cfg))
	d.publishSchedules()
	d.log.Info("config reloaded", zap.Int("policies", len(cfg.Policies)), zap.Strings("schedules_kept", kept))
	d.reloaded(nil, "")
	return nil
}

// reloaded records a reload's outcome (logging note at debug level when
// set) and tells a test.
func (d *daemon) reloaded(err error, note string) {
	if note != "" {
		d.log.Debug(note)
	}
	d.reloadOK.Store(err == nil)
	d.dm.Reloaded(err == nil, d.clock.Now())
	if d.opts.OnReload != nil {
		d.opts.OnReload(err)
	}
}
