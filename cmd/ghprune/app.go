package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/metrics"
	"github.com/ghprune/ghprune/planner"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/registry"
	"github.com/ghprune/ghprune/report"
)

// common holds the flags every policy command shares.
type common struct {
	config   string
	policies stringList
	logLevel string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", policy.DefaultConfigFile, "config `file`")
	fs.Var(&c.policies, "policy", "run only this policy (repeatable)")
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level: debug, info, warn, error (logs are JSON on stderr)")
}

// loadConfig loads and validates the config, printing errors and warnings.
// On failure it returns exitUsage: nothing has been sent anywhere.
func loadConfig(path string, e env) (*policy.Config, int) {
	data, err := policy.ReadFile(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, exitUsage
	}
	return parseConfig(path, data, e)
}

// parseConfig is loadConfig for a config already read.
func parseConfig(path string, data []byte, e env) (*policy.Config, int) {
	cfg, err := policy.Parse(path, data)
	if err != nil {
		fmt.Fprintf(e.stderr, "%v\n", err)
		return nil, exitUsage
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(e.stderr, "warning: %v\n", w)
	}
	return cfg, 0
}

// selectPolicies narrows cfg's policies to names (all when empty).
func selectPolicies(cfg *policy.Config, names []string, e env) ([]*policy.Policy, int) {
	if len(names) == 0 {
		return cfg.Policies, 0
	}
	var out []*policy.Policy
	for _, n := range names {
		p := cfg.Policy(n)
		if p == nil {
			fmt.Fprintf(e.stderr, "ghprune: no policy %q in %s\n", n, cfg.File)
			return nil, exitUsage
		}
		out = append(out, p)
	}
	return out, 0
}

// token reads the token from the file or environment variable the config
// names. It is returned to be handed to the clients and nowhere else. Surrounding
// white space (the newline of a mounted secret) is dropped; a token with a
// line break or another control character inside is a config error, not
// something to send to GitHub three times.
func token(cfg *policy.Config, e env) (string, error) {
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
		t, from = strings.TrimSpace(e.getenv(cfg.GitHub.TokenEnv)), "the environment variable "+cfg.GitHub.TokenEnv+" (github.token_env)"
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

func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("bad -log-level %q", level)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), lvl)
	return zap.New(core), nil
}

// app is a loaded config with everything needed to plan, apply and restore.
type app struct {
	// cfg is swapped by serve's reload while runs read it.
	cfg     atomic.Pointer[policy.Config]
	env     env
	log     *zap.Logger
	client  *githubapi.Client
	reg     *registry.Client
	journal *journal.Journal
	metrics *metrics.Metrics
	planner *planner.Planner
	exec    *executor.Executor
	// lock is the journal's enforcing lock when this process holds it for
	// its whole life (serve); nil otherwise, and apply takes it per run.
	lock *journal.Lock
	// tokenRefused, when it holds a func, is called on every 401 answer.
	tokenRefused *atomic.Pointer[func()]
}

// startApp builds the logger and opens the app for a loaded config: the
// common start of every command that talks to GitHub. On failure it has
// printed why and returns the exit code (exitUsage for a config problem
// such as no token or a fine-grained one: nothing was sent).
func startApp(ctx context.Context, cfg *policy.Config, logLevel string, e env, reg prometheus.Registerer, jm journalMode) (*app, int) {
	log, err := newLogger(logLevel, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, exitUsage
	}
	a, code, err := openApp(ctx, cfg, e, log, reg, jm)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, code
	}
	return a, 0
}

// parseSince turns -since DURATION into a cutoff; "" is no cutoff.
func parseSince(since string, e env) (time.Time, error) {
	if since == "" {
		return time.Time{}, nil
	}
	d, err := policy.ParseDuration(since)
	if err != nil {
		return time.Time{}, fmt.Errorf("-since: %w", err)
	}
	return e.clock.Now().Add(-time.Duration(d)), nil
}

// journalMode says how a command opens the journal.
type journalMode int

const (
	// journalOptional (plan, explain): a journal that cannot be opened (a
	// read-only CI checkout) is only a warning; the plan then lacks the
	// remembered download-limit refusals.
	journalOptional journalMode = iota
	// journalCreate (apply, serve): opened, and created when missing.
	journalCreate
	// journalExisting (restore): it must exist; a missing journal is a
	// usage error that names the path looked for, never a new empty one.
	journalExisting
)

// openApp builds the client, journal and metrics for cfg, opening the
// journal as jm says.
func openApp(ctx context.Context, cfg *policy.Config, e env, log *zap.Logger, reg prometheus.Registerer, jm journalMode) (*app, int, error) {
	tok, err := token(cfg, e)
	if err != nil {
		return nil, exitUsage, err
	}
	e.secrets.add(tok)
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := metrics.New(reg)
	// tokenRefused is set by serve: a 401 in any run means the token was
	// revoked, which readiness and the token metric must show at once.
	var tokenRefused atomic.Pointer[func()]
	client, err := githubapi.New(githubapi.Config{
		BaseURL:    cfg.GitHub.APIURL,
		Token:      tok,
		APIVersion: cfg.GitHub.APIVersion,
		UserAgent:  "ghprune",
		HTTPClient: e.httpClient,
		Clock:      e.clock,
		Logger:     log.Named("github"),
		Observe: func(a githubapi.Attempt) {
			m.ObserveRequest(a.Op, a.Status, a.Duration, a.Retry, a.SecondaryLimited)
			if a.Rate.Known {
				m.ObserveRate(a.Rate.Resource, a.Rate.Remaining, a.Rate.Reset)
			}
			if a.Status == http.StatusUnauthorized {
				if f := tokenRefused.Load(); f != nil {
					(*f)()
				}
			}
		},
	})
	if err != nil {
		return nil, exitUsage, err
	}
	var j *journal.Journal
	if jm == journalExisting {
		j, err = journal.OpenExisting(ctx, cfg.State.Path)
	} else {
		j, err = journal.Open(ctx, cfg.State.Path)
	}
	if err != nil {
		switch {
		case errors.Is(err, journal.ErrNoJournal):
			return nil, exitUsage, err
		case jm != journalOptional:
			return nil, exitFailed, err
		}
		fmt.Fprintf(e.stderr, "warning: planning without the journal (%v): versions GitHub refused before are not known\n", err)
		j = nil
	}
	// The registry is the one the config names or its api_url implies
	// (policy derives it); "" when neither does and no policy reads
	// container manifests: then there is no registry client at all.
	var rc *registry.Client
	if cfg.GitHub.RegistryURL != "" {
		rc, err = registry.New(registry.Config{URL: cfg.GitHub.RegistryURL, Token: tok, UserAgent: "ghprune",
			HTTPClient: e.httpClient, Clock: e.clock, Observe: m.ObserveManifestFetch})
		if err != nil {
			return nil, exitUsage, err
		}
	}
	a := &app{env: e, log: log, client: client, reg: rc, journal: j, metrics: m, tokenRefused: &tokenRefused}
	a.cfg.Store(cfg)
	a.planner = &planner.Planner{Client: client, Logger: log.Named("planner")}
	if rc != nil {
		a.planner.Registry = rc // never a typed nil: the planner fails closed on a nil Registry
	}
	if j != nil {
		a.planner.Facts, a.planner.Cache = j, j
	}
	a.exec = &executor.Executor{
		Client: client, Journal: j, Clock: e.clock, Logger: log.Named("executor"), Metrics: m,
		Pacer: executor.NewPacer(cfg.Limits.MutationsPerMinute, e.clock),
	}
	a.planner.Budget, a.exec.Budget = a.budget, a.budget
	return a, 0, nil
}

// errBudget: the run would use more than limits.budget_share of the token's
// hourly primary limit.
var errBudget = errors.New("limits.budget_share of the token's hourly rate limit is spent")

// budget keeps (1 - budget_share) of the token's primary limit for its other
// users, going by the last rate-limit headers GitHub sent (which count every
// client of the token). Without a primary limit (GHES) there is no budget.
func (a *app) budget() error {
	r := a.client.Rate()
	share := a.cfg.Load().Limits.BudgetShare
	if !r.Known || r.Limit <= 0 || share >= 1 {
		return nil
	}
	if reserve := (1 - share) * float64(r.Limit); float64(r.Remaining) <= reserve {
		return fmt.Errorf("%w: %d of %d requests left, the rest is kept for other users until %s; the next run goes on",
			errBudget, r.Remaining, r.Limit, r.Reset.UTC().Format(time.RFC3339))
	}
	return nil
}

func (a *app) Close() {
	if a.lock != nil {
		a.lock.Release()
	}
	if a.journal != nil {
		a.journal.Close()
	}
}

// lockJournal takes the journal's enforcing lock for command: one enforcing
// process per journal, or every DELETE goes out twice and is journaled twice.
// The lock dies with the process. Runs a dead process left "running" are
// then marked interrupted.
func (a *app) lockJournal(ctx context.Context, command string) (*journal.Lock, error) {
	l, err := a.journal.LockEnforce(journal.HolderFor(command, a.env.clock.Now()))
	if err != nil {
		return nil, err
	}
	if n, err := a.journal.MarkInterrupted(ctx, a.env.clock.Now()); err != nil {
		a.log.Warn("mark interrupted runs", zap.Error(err))
	} else if n > 0 {
		a.log.Info("runs of stopped processes marked interrupted", zap.Int("runs", n))
	}
	return l, nil
}

// runPolicies plans pols and, when apply is set, carries out the enforce
// policies among them, journaling the run. The report always comes back;
// the error says the run failed (exit 1).
func (a *app) runPolicies(ctx context.Context, pols []*policy.Policy, apply bool, trigger string) (*report.Report, error) {
	cfg := a.cfg.Load() // one config for the whole run, whatever a reload does
	start := a.env.clock.Now()
	startReqs, startFetches := a.client.Requests(), a.reg.Fetches()
	r := &report.Report{Mode: string(policy.ModePlan), StartedAt: start, Policies: []*report.Policy{}}
	enforce := false
	var names []string
	for _, p := range pols {
		names = append(names, p.Name)
		if apply && cfg.EffectiveMode(p) == policy.ModeEnforce {
			enforce = true
		}
	}
	var runID int64
	if enforce && a.lock == nil {
		l, err := a.lockJournal(ctx, "ghprune apply")
		if err != nil {
			return r, err
		}
		defer l.Release()
	}
	if enforce {
		a.reconcile(ctx)
		r.Mode = string(policy.ModeEnforce)
		actor := "unknown"
		if id, err := a.client.Identity(ctx); err == nil && id.Login != "" {
			actor = id.Login
		}
		if host, err := os.Hostname(); err == nil {
			actor += "@" + host
		}
		id, err := a.journal.StartRun(ctx, journal.Run{Kind: "apply", Policies: names, Mode: r.Mode, Trigger: trigger, Actor: actor, StartedAt: start})
		if err != nil {
			return r, err
		}
		runID = id
		r.RunID = &runID
	}
	var failed []string
	selectedBy := map[string]string{} // owner/type/package -> the first policy selecting it
	for _, p := range pols {
		mode := policy.ModePlan
		if apply {
			mode = cfg.EffectiveMode(p)
		}
		pstart := a.env.clock.Now()
		pr, err := a.planner.Plan(ctx, p, mode, pstart)
		pr.Warnings = planWarnings(p, pr, selectedBy)
		if err == nil && mode == policy.ModeEnforce {
			err = a.exec.Execute(ctx, runID, pr)
		}
		for _, pkg := range pr.Packages {
			if pkg.Error != "" && err == nil {
				err = errors.New("some packages could not be planned")
			}
			c := pkg.Count()
			a.metrics.VersionsScanned.WithLabelValues(p.Name).Add(float64(c.VersionsScanned))
			a.metrics.VersionsPlanned.WithLabelValues(p.Name).Add(float64(c.Delete))
			a.metrics.FreedBytes.WithLabelValues(p.Name).Add(float64(pkg.FreedBytes))
			if c.Failed > 0 && err == nil {
				err = fmt.Errorf("%d deletes failed", c.Failed)
			}
		}
		result := "success"
		if err != nil {
			result = "failure"
			if ctx.Err() != nil {
				result = "cancelled"
			}
			pr.Error = err.Error()
			failed = append(failed, p.Name)
			a.log.Warn("policy run failed", zap.String("policy", p.Name), zap.Error(err))
		} else {
			a.metrics.LastSuccess.WithLabelValues(p.Name).Set(float64(a.env.clock.Now().Unix()))
		}
		a.metrics.Runs.WithLabelValues(p.Name, result).Inc()
		a.metrics.RunDuration.WithLabelValues(p.Name).Observe(a.env.clock.Now().Sub(pstart).Seconds())
		r.Policies = append(r.Policies, pr)
		if ctx.Err() != nil {
			break
		}
	}
	r.FinishedAt = a.env.clock.Now()
	r.Summary.APIRequests = a.client.Requests() - startReqs
	r.Summary.ManifestFetches = a.reg.Fetches() - startFetches
	r.Summarize()
	var runErr error
	if len(failed) > 0 {
		runErr = fmt.Errorf("policies failed: %s", strings.Join(failed, ", "))
	}
	if enforce {
		status := journal.RunSucceeded
		switch {
		case ctx.Err() != nil:
			status = journal.RunCancelled
		case runErr != nil:
			status = journal.RunFailed
		}
		fin := r.FinishedAt
		s := r.Summary
		if err := a.journal.FinishRun(context.WithoutCancel(ctx), journal.Run{ID: runID, FinishedAt: &fin, Status: status,
			Planned: s.Delete, Deleted: s.Deleted, Failed: s.Failed, Skipped: s.Skipped, APIRequests: s.APIRequests}); err != nil && runErr == nil {
			runErr = err
		}
		a.updateRestorable(ctx)
	}
	return r, runErr
}

// planWarnings lints a plan: patterns that matched nothing, and packages an
// earlier policy of the run also selected (one policy's protect does not
// stop another's deletes).
func planWarnings(p *policy.Policy, pr *report.Policy, selectedBy map[string]string) []string {
	var seen policy.Seen
	var warn []string
	for _, pkg := range pr.Packages {
		seen.Packages = append(seen.Packages, pkg.Package)
		undated, first := 0, ""
		for _, d := range pkg.Decisions {
			seen.Tags = append(seen.Tags, d.Tags...)
			seen.Versions = append(seen.Versions, d.Version)
			if d.Rule == string(policy.RuleInvalidTime) {
				if undated++; undated == 1 {
					first = fmt.Sprintf("version %d: %s", d.VersionID, d.Reason)
				}
			}
		}
		if undated > 0 {
			warn = append(warn, fmt.Sprintf("package %q: %d versions kept because a date is missing, unreadable or in the future (invalid-time); first, %s", pkg.Package, undated, first))
		}
		if len(pkg.Decisions) > 0 && pkg.Decisions[0].Rule == string(policy.RuleListingChanged) {
			warn = append(warn, fmt.Sprintf("package %q kept whole: %s", pkg.Package, pkg.Decisions[0].Reason))
		}
		key := pkg.Owner + "/" + pkg.PackageType + "/" + pkg.Package
		if other, ok := selectedBy[key]; ok {
			warn = append(warn, fmt.Sprintf("package %q is also selected by policy %q: each policy's protect and keep rules do not stop the other's deletes", pkg.Package, other))
		} else {
			selectedBy[key] = p.Name
		}
	}
	if len(pr.Packages) == 0 {
		return append(warn, "selects no package")
	}
	return append(warn, p.LintPlan(seen)...)
}

// reconcile settles delete intents a stopped process left open, so every
// version it deleted is recorded and restorable. What cannot be learned now
// stays open for the next start.
func (a *app) reconcile(ctx context.Context) {
	if _, err := a.exec.Reconcile(ctx, false); err != nil {
		a.log.Warn("reconcile open intents", zap.Error(err))
		fmt.Fprintf(a.env.stderr, "warning: %v\n", err)
	}
}

func (a *app) updateRestorable(ctx context.Context) {
	n, earliest, err := a.journal.RestorableStats(context.WithoutCancel(ctx), a.env.clock.Now())
	if err != nil {
		a.log.Warn("journal stats", zap.Error(err))
		return
	}
	a.metrics.ObserveRestorable(n, earliest)
	restored, failed, err := a.journal.RestoreCounts(context.WithoutCancel(ctx))
	if err != nil {
		a.log.Warn("journal stats", zap.Error(err))
		return
	}
	a.metrics.JournalRestores.WithLabelValues("restored").Set(float64(restored))
	a.metrics.JournalRestores.WithLabelValues("failed").Set(float64(failed))
}

// reportOutput is where a report goes: stdout, or -o FILE. A regular file
// (or a new one) is written through a temporary file beside it that Commit
// renames over it, so that a failed command never truncates an existing
// report; anything else (/dev/stdout, a pipe) is written directly.
type reportOutput struct {
	io.Writer
	file   *os.File // nil for stdout
	path   string   // where Commit renames the temporary file; "" when written directly
	redact *redactWriter
}

// openOutput opens -o FILE, or returns stdout for "" and "-". It refuses a
// FILE that is the journal (or a file SQLite or the lock keep beside it,
// through symlinks too), the config or the token file: a report written
// there would destroy what on-call needs, or the lock that keeps a second
// enforcing process out.
func openOutput(path string, cfg *policy.Config, e env) (*reportOutput, error) {
	if path == "" || path == "-" {
		return &reportOutput{Writer: e.stdout}, nil
	}
	protected := map[string]string{cfg.File: "the config file"}
	if cfg.GitHub.TokenFile != "" {
		protected[cfg.GitHub.TokenFile] = "the token file"
	}
	for _, journalPath := range []string{cfg.State.Path, realPath(cfg.State.Path)} {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal", ".lock"} {
			protected[journalPath+suffix] = "the journal (state.path)"
		}
	}
	for p, what := range protected {
		if samePath(path, p) {
			return nil, fmt.Errorf("-o %s is %s; write the report elsewhere", path, what)
		}
	}
	target := realPath(path)
	fi, err := os.Stat(target)
	if err == nil && !fi.Mode().IsRegular() {
		// A device or a pipe: no file to keep, nothing to rename over.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("-o %s: %w", path, err)
		}
		rw := newRedactWriter(f, e.secrets)
		return &reportOutput{Writer: rw, file: f, redact: rw}, nil
	}
	mode := os.FileMode(0o644)
	if err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("-o %s: %w", path, err)
	}
	f.Chmod(mode)
	rw := newRedactWriter(f, e.secrets)
	return &reportOutput{Writer: rw, file: f, path: target, redact: rw}, nil
}

// realPath is p with its symlinks resolved, as far as they exist: the file
// a write to p would reach.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(dir, filepath.Base(p))
	}
	return p
}

// samePath reports whether a and b name one file: the same path once
// symlinks are resolved, or (when both exist) the same file through a link.
func samePath(a, b string) bool {
	ra, err1 := filepath.Abs(realPath(a))
	rb, err2 := filepath.Abs(realPath(b))
	if err1 == nil && err2 == nil && ra == rb {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// Commit puts the report in place.
func (o *reportOutput) Commit() error {
	if o.file == nil {
		return nil
	}
	err := o.redact.Flush()
	if cerr := o.file.Close(); err == nil {
		err = cerr
	}
	if o.path == "" {
		return err
	}
	if err == nil {
		err = os.Rename(o.file.Name(), o.path)
	}
	if err != nil {
		os.Remove(o.file.Name())
	}
	return err
}

// Abort drops the temporary file; an existing report stays as it was.
func (o *reportOutput) Abort() {
	if o.file != nil {
		o.file.Close()
		if o.path != "" {
			os.Remove(o.file.Name())
		}
	}
}

// resolveFormat applies cli.md's default: a table for a person at a
// terminal, JSON for a pipe or a file.
func resolveFormat(format, out string, e env) (string, error) {
	switch format {
	case "":
		if (out == "" || out == "-") && e.stdoutTTY {
			return "table", nil
		}
		return "json", nil
	case "table", "json", "markdown":
		return format, nil
	}
	return "", fmt.Errorf("unknown -format %q (table, json or markdown)", format)
}

// writeReport renders r in format to w.
func writeReport(w io.Writer, r *report.Report, format string, e env, verbose bool, toTTY bool, maxRows int) error {
	switch format {
	case "json":
		return report.WriteJSON(w, r)
	case "markdown":
		return report.WriteMarkdown(w, r, report.TableOptions{Verbose: verbose, MaxRows: maxRows})
	}
	return report.WriteTable(w, r, report.TableOptions{Color: toTTY, Verbose: verbose, MaxRows: maxRows})
}
