package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/snapshot"
)

// cmdSnapshot reads what the selected policies' plans read, once, into a
// file that plan, explain and test then read instead of GitHub.
func cmdSnapshot(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	var c common
	c.register(fs)
	out := fs.String("o", "", "write the snapshot to `file` (gzip-compressed when it ends in .gz); required")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(e.stderr, "ghprune snapshot: -o FILE is required")
		return exitUsage
	}
	cfg, code := loadConfig(c.config, e)
	if cfg == nil {
		return code
	}
	pols, code := selectPolicies(cfg, c.policies, e)
	if pols == nil {
		return code
	}
	check, err := openOutput(*out, cfg, e) // the same refusals as a report's -o
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	check.Abort()
	eng, code := openEngine(ctx, cfg, c.logLevel, e, engine.JournalOptional)
	if eng == nil {
		return code
	}
	defer eng.Close()
	snap, errs := eng.Snapshot(ctx, pols)
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "ghprune snapshot: %v\n", report.Escape(err.Error()))
	}
	if snap == nil {
		return exitCode(errs[0])
	}
	if err := snap.Write(*out); err != nil {
		fmt.Fprintf(e.stderr, "ghprune snapshot: write %s: %v\n", *out, err)
		return exitFailed
	}
	versions := 0
	for _, p := range snap.Packages {
		versions += len(p.Versions)
	}
	fmt.Fprintf(e.stderr, "ghprune snapshot: %d packages, %d versions, %d manifests to %s\n", len(snap.Packages), versions, len(snap.Manifests), *out)
	if len(errs) > 0 {
		return exitFailed
	}
	return exitOK
}

// loadSnapshot reads -snapshot FILE; a bad file is a usage error.
func loadSnapshot(path string, e env) (*snapshot.Snapshot, int) {
	s, err := snapshot.Load(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, exitUsage
	}
	return s, 0
}

// openOffline opens an engine that plans from snap: no token, no journal,
// no request.
func openOffline(ctx context.Context, cfg *policy.Config, snap *snapshot.Snapshot, logLevel string, e env) (*engine.Engine, int) {
	if logLevel == "" {
		logLevel = "warn"
	}
	log, err := newLogger(logLevel, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, exitUsage
	}
	eng, err := engine.Open(ctx, engine.Options{Config: cfg, Snapshot: snap, Clock: e.clock, Logger: log, Warn: e.warning})
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, exitCode(err)
	}
	return eng, 0
}

// horizon is one time a plan is made at: -at +7d,+30d,+90d.
type horizon struct {
	label string
	at    time.Time
}

// parseHorizons reads -at: one time or several, comma-separated.
func parseHorizons(s string, now time.Time) ([]horizon, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []horizon
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		at, err := policy.ParseAt(part, now)
		if err != nil {
			return nil, fmt.Errorf("-at: %w", err)
		}
		out = append(out, horizon{label: part, at: at})
	}
	if len(out) > 20 {
		return nil, fmt.Errorf("-at: at most 20 times, got %d", len(out))
	}
	return out, nil
}
