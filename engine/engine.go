// Package engine runs policies. A plan, an apply and a restore are each one
// run: the engine opens the clients and the journal for a config, takes the
// journal's lock, settles what a stopped process left open, plans through
// the planner, deletes and restores through the executor, keeps the token's
// budget, journals the run, lints the plan, publishes the run's metrics once
// at its end, and prunes the journal after an enforcing run. The commands
// and the daemon are wiring around it: options in, one call, a typed result
// out.
package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/metrics"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/planner"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/registry"
	"github.com/ghprune/ghprune/snapshot"
)

// ErrUsage is wrapped by errors that mean the config or the command line must
// change: no token, a token GitHub's packages API does not take, a journal
// that is not there. Nothing was sent to GitHub.
var ErrUsage = errors.New("fix the config or the command line")

// usage marks err as a usage error without changing what it says.
func usage(err error) error { return usageError{err} }

type usageError struct{ err error }

func (u usageError) Error() string   { return u.err.Error() }
func (u usageError) Unwrap() []error { return []error{ErrUsage, u.err} }

// JournalMode says how Open treats the journal.
type JournalMode int

const (
	// JournalOptional (plan, explain): a journal that cannot be opened (a
	// read-only CI checkout) is only a warning; the plan then lacks the
	// remembered download-limit refusals.
	JournalOptional JournalMode = iota
	// JournalCreate (apply, serve): opened, and created when missing.
	JournalCreate
	// JournalExisting (restore): it must exist; a missing journal is a
	// usage error that names the path looked for, never a new empty one.
	JournalExisting
)

// Options open an engine.
type Options struct {
	Config *policy.Config
	// Getenv reads github.token_env; nil means os.Getenv.
	Getenv func(string) string
	// Secret, when set, is told the token once read, so output can be
	// redacted of it whatever its format.
	Secret func(token string)
	// Clock tells time and waits; nil means the wall clock.
	Clock  clock.Clock
	Logger *zap.Logger
	// Registerer receives the metrics; nil means a private registry.
	Registerer prometheus.Registerer
	// HTTPClient sends every request (API and registry); nil means the
	// clients' defaults. Tests route hosts to loopback with it.
	HTTPClient *http.Client
	Journal    JournalMode
	// Warn receives what a person should read: planning without the
	// journal, intents that could not be settled.
	Warn func(string)
	// Grace is how long a delete in flight may still take after the run is
	// cancelled, so that it is answered and journaled (SIGTERM).
	Grace time.Duration
	// Snapshot, when set, is where plans and explanations read from instead
	// of GitHub: no token, no request, no journal. Such an engine cannot
	// apply or restore.
	Snapshot *snapshot.Snapshot
}

// Engine runs the policies of one config against GitHub. It is safe for
// concurrent use, though runs take turns: they share one token, one budget
// and one pace.
type Engine struct {
	cfg      atomic.Pointer[policy.Config] // swapped by a reload while runs read it
	clock    clock.Clock
	log      *zap.Logger
	warn     func(string)
	client   *githubapi.Client
	registry *registry.Client // nil when no policy reads container manifests
	// snapshot, when set, is what the engine plans from; client is nil.
	snapshot *snapshot.Snapshot
	journal  *journal.Journal // nil for a plan without a journal
	metrics  *metrics.Metrics
	planner  *planner.Planner
	exec     *executor.Executor
	// pacer spaces every mutation of the token; observe slows it on a
	// secondary-limit refusal and lets it creep back up.
	pacer *executor.Pacer
	// lock is the enforcing lock when held for the engine's life (serve);
	// nil otherwise, and an apply takes it for its run.
	lock *journal.Lock
	// tokenRefused, when it holds a func, is called on every 401 answer.
	tokenRefused atomic.Pointer[func()]
}

// Open builds the clients, the journal and the metrics for o.Config. An
// error wrapping ErrUsage means nothing was sent and the config or command
// line must change.
func Open(ctx context.Context, o Options) (*Engine, error) {
	cfg := o.Config
	e := &Engine{clock: o.Clock, log: o.Logger, warn: o.Warn}
	if e.clock == nil {
		e.clock = clock.Real{}
	}
	if e.log == nil {
		e.log = zap.NewNop()
	}
	if e.warn == nil {
		e.warn = func(string) {}
	}
	e.cfg.Store(cfg)
	if o.Snapshot != nil {
		return e.offline(o), nil
	}
	tok, err := ReadToken(cfg, o.Getenv)
	if err != nil {
		return nil, usage(err)
	}
	if o.Secret != nil {
		o.Secret(tok)
	}
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	e.metrics = metrics.New(reg)
	if err := e.openJournal(ctx, cfg, o.Journal); err != nil {
		return nil, err
	}
	e.pacer = executor.NewPacer(cfg.Limits.MutationsPerMinute, e.clock)
	e.pacer.OnChange(e.metrics.MutationPace)
	var cache githubapi.Cache // nil: the client's own, in memory
	if e.journal != nil {
		cache = journalCache{j: e.journal, clock: e.clock, log: e.log}
	}
	e.client, err = githubapi.New(githubapi.Config{
		BaseURL: cfg.GitHub.APIURL, Token: tok, APIVersion: cfg.GitHub.APIVersion, UserAgent: "ghprune",
		HTTPClient: o.HTTPClient, Clock: e.clock, Logger: e.log.Named("github"), Observe: e.observe, Cache: cache,
	})
	if err != nil {
		e.Close()
		return nil, usage(err)
	}
	// The registry is the one the config names or its api_url implies
	// (policy derives it); none when neither does and no policy reads
	// container manifests.
	if cfg.GitHub.RegistryURL != "" {
		e.registry, err = registry.New(registry.Config{URL: cfg.GitHub.RegistryURL, Token: tok, UserAgent: "ghprune",
			HTTPClient: o.HTTPClient, Clock: e.clock, Observe: e.metrics.ObserveManifestFetch})
		if err != nil {
			e.Close()
			return nil, usage(err)
		}
	}
	e.planner = &planner.Planner{Client: e.client, Logger: e.log.Named("planner")}
	if e.registry != nil {
		e.planner.Registry = e.registry // never a typed nil: the planner fails closed on a nil Registry
	}
	if e.journal != nil {
		e.planner.Facts, e.planner.Cache = e.journal, e.journal
	}
	e.exec = &executor.Executor{Client: e.client, Journal: e.journal, Clock: e.clock, Logger: e.log.Named("executor"),
		Pacer: e.pacer, Grace: o.Grace}
	return e, nil
}

// offline is an engine that plans from a snapshot.
func (e *Engine) offline(o Options) *Engine {
	reg := o.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	e.metrics = metrics.New(reg)
	e.snapshot = o.Snapshot
	e.pacer = executor.NewPacer(o.Config.Limits.MutationsPerMinute, e.clock)
	e.planner = &planner.Planner{Client: o.Snapshot, Registry: o.Snapshot, Facts: o.Snapshot, Logger: e.log.Named("planner")}
	e.exec = &executor.Executor{Clock: e.clock, Logger: e.log.Named("executor"), Pacer: e.pacer} // never runs: Run refuses to apply
	return e
}

// ErrOffline: an engine planning from a snapshot sends nothing, so it does
// not apply, restore or check a token.
var ErrOffline = errors.New("planning from a snapshot: nothing is sent to GitHub")

// requests is how many API requests the engine sent: none offline.
func (e *Engine) requests() int64 {
	if e.client == nil {
		return 0
	}
	return e.client.Requests()
}

// Cost is what the engine has sent so far: API requests and manifest
// fetches (none offline).
func (e *Engine) Cost() (requests, manifestFetches int64) {
	return e.requests(), e.registry.Fetches()
}

// Estimate says what applying run's plan of pols would cost, judged by
// this engine's journal and the rate limit GitHub last reported to it: for
// a plan made offline from what this engine read.
func (e *Engine) Estimate(run *plan.Run, pols []*policy.Policy) plan.Estimate {
	return e.estimate(e.cfg.Load(), run, pols)
}

// rate is the last rate limit GitHub reported: unknown offline.
func (e *Engine) rate() githubapi.Rate {
	if e.client == nil {
		return githubapi.Rate{}
	}
	return e.client.Rate()
}

func (e *Engine) openJournal(ctx context.Context, cfg *policy.Config, mode JournalMode) error {
	var err error
	if mode == JournalExisting {
		e.journal, err = journal.OpenExisting(ctx, cfg.State.Path)
	} else {
		e.journal, err = journal.Open(ctx, cfg.State.Path)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, journal.ErrNoJournal):
		return usage(err)
	case mode != JournalOptional:
		return err
	}
	e.warn(fmt.Sprintf("planning without the journal (%v): versions GitHub refused before are not known", err))
	e.journal = nil
	return nil
}

// observe records every GitHub request: its metrics, and a 401 for whoever
// watches the token.
func (e *Engine) observe(a githubapi.Attempt) {
	e.metrics.ObserveRequest(a.Op, a.Status, a.Duration, a.Retry, a.SecondaryLimited)
	if a.Method != http.MethodGet && a.Method != http.MethodHead && a.Method != "" {
		// A mutation: its answer sets the pace of the next ones.
		switch {
		case a.SecondaryLimited:
			e.pacer.Refused()
		case a.Status >= 200 && a.Status < 300:
			e.pacer.Accepted()
		case a.Status != 0:
			e.pacer.Answered()
		}
	}
	if a.Rate.Known {
		e.metrics.ObserveRate(a.Rate.Resource, a.Rate.Remaining, a.Rate.Reset)
	}
	if a.Status == http.StatusUnauthorized {
		if f := e.tokenRefused.Load(); f != nil {
			(*f)()
		}
	}
}

// OnTokenRefused has f called on every 401 answer of any request: a token
// revoked after it was checked.
func (e *Engine) OnTokenRefused(f func()) { e.tokenRefused.Store(&f) }

// Close releases the lock held for the engine's life and closes the journal.
func (e *Engine) Close() {
	if e.lock != nil {
		e.lock.Release()
	}
	if e.journal != nil {
		e.journal.Close()
	}
}

// Config is the config runs use now.
func (e *Engine) Config() *policy.Config { return e.cfg.Load() }

// SetConfig replaces the policies runs use from their next start. The
// github, state and limits sections shape the clients, journal and pace
// already open, so they stay as they are; restart reports that cfg changes
// them, which takes effect only on restart.
func (e *Engine) SetConfig(cfg *policy.Config) (restart bool) {
	old := e.cfg.Load()
	if cfg.GitHub != old.GitHub || cfg.State != old.State || cfg.Limits != old.Limits {
		restart = true
		cfg.GitHub, cfg.State, cfg.Limits = old.GitHub, old.State, old.Limits
	}
	e.cfg.Store(cfg)
	return restart
}

// ReadToken reads the token from the file or environment variable cfg
// names (getenv nil: os.Getenv). It is returned to be handed to the clients
// and nowhere else. Surrounding white space (the newline of a mounted
// secret) is dropped; a token with a line break or another control
// character inside is a config error, not something to send to GitHub
// three times.
func ReadToken(cfg *policy.Config, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var t, from string
	if cfg.GitHub.TokenFile != "" {
		b, err := os.ReadFile(cfg.GitHub.TokenFile)
		if err != nil {
			return "", fmt.Errorf("read github.token_file: %w", err)
		}
		t, from = strings.TrimSpace(string(b)), "github.token_file "+cfg.GitHub.TokenFile
		if t == "" {
			return "", fmt.Errorf("%s is empty", from)
		}
	} else {
		t, from = strings.TrimSpace(getenv(cfg.GitHub.TokenEnv)), "the environment variable "+cfg.GitHub.TokenEnv+" (github.token_env)"
		if t == "" {
			return "", fmt.Errorf("no token: set the environment variable %s (github.token_env) or github.token_file", cfg.GitHub.TokenEnv)
		}
	}
	if i := strings.IndexFunc(t, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }); i >= 0 {
		// Never echo it: say where it came from and what is wrong.
		return "", fmt.Errorf("the token in %s contains a line break, space or other control character at byte %d: it must be one line holding only the token", from, i)
	}
	return t, nil
}

// HoldLock takes the journal's enforcing lock for the engine's life: the
// daemon owns its journal, since a second serve, or an apply beside it,
// would send every DELETE twice. Runs a dead process left running are
// marked interrupted.
func (e *Engine) HoldLock(ctx context.Context, command string) error {
	l, err := e.lockJournal(ctx, command)
	if err != nil {
		return err
	}
	e.lock = l
	return nil
}

// lockJournal takes the journal's enforcing lock for command: one enforcing
// process per journal. The lock dies with the process. Runs a dead process
// left "running" are then marked interrupted.
func (e *Engine) lockJournal(ctx context.Context, command string) (*journal.Lock, error) {
	l, err := e.journal.LockEnforce(journal.HolderFor(command, e.clock.Now()))
	if err != nil {
		return nil, err
	}
	if n, err := e.journal.MarkInterrupted(ctx, e.clock.Now()); err != nil {
		e.log.Warn("mark interrupted runs", zap.Error(err))
	} else if n > 0 {
		e.log.Info("runs of stopped processes marked interrupted", zap.Int("runs", n))
	}
	return l, nil
}

// Reconcile settles delete intents a stopped process left open, so every
// version it deleted is recorded and restorable. What cannot be learned now
// stays open for the next start; the error says so.
func (e *Engine) Reconcile(ctx context.Context) error {
	if _, err := e.exec.Reconcile(ctx, false); err != nil {
		e.log.Warn("reconcile open intents", zap.Error(err))
		e.warn(err.Error())
		return err
	}
	return nil
}

// CheckToken asks GitHub whether it accepts the token now (uncached).
func (e *Engine) CheckToken(ctx context.Context) error {
	if e.client == nil {
		return usage(ErrOffline)
	}
	return e.client.CheckToken(ctx)
}

// Ping checks that the journal is usable.
func (e *Engine) Ping(ctx context.Context) error {
	if e.journal == nil {
		return errors.New("no journal")
	}
	return e.journal.Ping(ctx)
}

// RefreshJournal publishes what the journal holds (restorable versions,
// restores by any process) and returns the earliest deadline of versions
// whose restore failed (zero: none), which the daemon pages on. The journal
// changes under other processes too (a restore from kubectl exec).
func (e *Engine) RefreshJournal(ctx context.Context) (time.Time, error) {
	ctx = context.WithoutCancel(ctx)
	now := e.clock.Now()
	n, earliest, err := e.journal.RestorableStats(ctx, now)
	if err != nil {
		return time.Time{}, err
	}
	restored, failed, err := e.journal.RestoreCounts(ctx)
	if err != nil {
		return time.Time{}, err
	}
	e.metrics.Journal(n, earliest, restored, failed)
	return e.journal.FailedRestoreDeadline(ctx, now)
}

// Prune drops journal rows past state.retain_days; never what is still
// restorable, nor open intents. An enforcing run prunes when it ends.
func (e *Engine) Prune(ctx context.Context) { e.prune(ctx) }

func (e *Engine) prune(ctx context.Context) {
	days := e.cfg.Load().State.RetainDays
	if days <= 0 {
		days = policy.DefaultRetainDays
	}
	if n, err := e.journal.Prune(context.WithoutCancel(ctx), e.clock.Now(), time.Duration(days)*24*time.Hour); err != nil {
		e.log.Warn("journal prune", zap.Error(err))
	} else if n > 0 {
		e.log.Info("journal pruned", zap.Int64("runs", n))
	}
}
