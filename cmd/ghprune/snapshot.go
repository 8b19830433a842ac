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
//
// It says on stderr when the snapshot was taken, since everything planned
// from it is as of then, and warns when it was taken of another API than
// cfg names: its packages are another GitHub's.
func loadSnapshot(path string, cfg *policy.Config, e env) (*snapshot.Snapshot, int) {
	s, err := snapshot.Load(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %s\n", report.Escape(err.Error()))
		return nil, exitUsage
	}
	fmt.Fprintf(e.stderr, "ghprune: from the snapshot %s, taken %s (%s ago)\n", report.Escape(path), s.TakenAt.UTC().Format(time.RFC3339),
		ageText(e.clock.Now().Sub(s.TakenAt)))
	if strings.TrimRight(s.APIURL, "/") != strings.TrimRight(cfg.GitHub.APIURL, "/") {
		fmt.Fprintf(e.stderr, "warning: the snapshot was taken of %s, but %s names %s: its packages are that GitHub's\n",
			report.Escape(policy.RedactTokens(s.APIURL)), report.Escape(cfg.File), report.Escape(cfg.GitHub.APIURL))
	}
	return s, 0
}

// ageText is a duration as a person reads an age: 3d, 5h, 12m.
func ageText(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return "0m" // a clock behind the snapshot's
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
	parts := strings.Split(s, ",")
	if len(parts) > 20 {
		return nil, fmt.Errorf("-at: at most 20 times, got %d", len(parts))
	}
	var out []horizon
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("-at %q: an empty time between commas", policy.CutValue(s))
		}
		at, err := policy.ParseAt(part, now)
		if err != nil {
			return nil, fmt.Errorf("-at: %w", err)
		}
		for _, h := range out {
			if h.at.Equal(at) {
				return nil, fmt.Errorf("-at: %s and %s are the same time", h.label, part)
			}
		}
		out = append(out, horizon{label: part, at: at})
	}
	return out, nil
}

// parseOneAt reads -at where one time only makes sense (explain, test,
// plan -baseline).
func parseOneAt(s string, now time.Time) (time.Time, error) {
	if strings.Contains(s, ",") {
		return time.Time{}, fmt.Errorf("-at %q: one time only here (several horizons are for plan alone)", policy.CutValue(s))
	}
	t, err := policy.ParseAt(s, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("-at: %w", err)
	}
	return t, nil
}
