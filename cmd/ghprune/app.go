package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/policy"
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
	fs.StringVar(&c.logLevel, "log-level", "", "log level: debug, info, warn, error (logs are JSON on stderr; default: warn on a terminal, which shows a progress line instead, else info, a line per package)")
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

// openEngine builds the logger and opens the engine for a loaded config:
// the common start of every command that talks to GitHub. On failure it has
// printed why and returns the exit code (exitUsage for a config problem such
// as no token or a fine-grained one: nothing was sent).
func openEngine(ctx context.Context, cfg *policy.Config, logLevel string, e env, jm engine.JournalMode) (*engine.Engine, int) {
	if logLevel == "" {
		logLevel = "info"
		if e.progress != nil {
			logLevel = "warn"
		}
	}
	log, err := newLogger(logLevel, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, exitUsage
	}
	eng, err := engine.Open(ctx, engine.Options{Config: cfg, Getenv: e.getenv, Secret: e.secrets.add, Clock: e.clock,
		Logger: log, HTTPClient: e.httpClient, Journal: jm, Warn: e.warning})
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, exitCode(err)
	}
	return eng, 0
}

// exitCode maps an error from the engine to an exit code: 2 when the config
// or command line must change (nothing was sent), else 1.
func exitCode(err error) int {
	if errors.Is(err, engine.ErrUsage) {
		return exitUsage
	}
	return exitFailed
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
//
// inputs are the command's other input files, by flag ("-tests",
// "-snapshot", "-baseline"): a report written over one would destroy it.
func openOutput(path string, cfg *policy.Config, e env, inputs ...[2]string) (*reportOutput, error) {
	if path == "" || path == "-" {
		return &reportOutput{Writer: e.stdout}, nil
	}
	protected := map[string]string{cfg.File: "the config file"}
	for _, in := range inputs {
		if in[1] != "" {
			protected[in[1]] = "the " + in[0] + " file"
		}
	}
	if cfg.GitHub.TokenFile != "" {
		protected[cfg.GitHub.TokenFile] = "the token file"
	}
	for _, p := range journalFiles(cfg.State.Path) {
		protected[p] = "the journal (state.path)"
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

// resolveFormat applies the documented default: a table for a person at a
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

// overrideJournal points cfg at -journal FILE, when given, in place of
// state.path: a CI job keeps its journal as a file of the job, and on-call
// reads or restores from a downloaded copy. It returns the journal the
// config names, which -o must still refuse (openJournalOutput).
func overrideJournal(cfg *policy.Config, path string) (configJournal string) {
	configJournal = cfg.State.Path
	if path != "" {
		cfg.State.Path = path
	}
	return configJournal
}

// openJournalOutput is openOutput for the commands that take -journal:
// besides the journal they read, -o refuses the one the config names (and
// the files SQLite and the lock keep beside it), which a running daemon
// may be using.
func openJournalOutput(path string, cfg *policy.Config, configJournal string, e env) (*reportOutput, error) {
	if path != "" && path != "-" && configJournal != "" {
		for _, p := range journalFiles(configJournal) {
			if samePath(path, p) {
				return nil, fmt.Errorf("-o %s is the journal of %s (state.path); write the report elsewhere", path, cfg.File)
			}
		}
	}
	return openOutput(path, cfg, e)
}

// journalFiles are the journal at path and the files SQLite and the lock
// keep beside it, by the path as given and as symlinks resolve it.
func journalFiles(path string) []string {
	var out []string
	for _, p := range []string{path, realPath(path)} {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal", ".lock"} {
			out = append(out, p+suffix)
		}
	}
	return out
}

// commitReport puts a report written to out in place, or, when writing it
// failed (werr), drops it so that an existing report stays as it was. It
// returns the exit code: exitOK, or exitFailed when the report is not there.
func commitReport(out *reportOutput, werr error, e env) int {
	if werr != nil {
		out.Abort()
		fmt.Fprintf(e.stderr, "ghprune: write report: %v\n", werr)
		return exitFailed
	}
	if err := out.Commit(); err != nil {
		fmt.Fprintf(e.stderr, "ghprune: write report: %v\n", err)
		return exitFailed
	}
	return exitOK
}
