package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/ghprune/ghprune/daemon"
	"github.com/ghprune/ghprune/policy"
)

// cmdServe runs the daemon: each policy on its schedule, with /metrics,
// health, the run API and the status page, until SIGTERM.
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
	log, err := newLogger(*logLevel, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	defer log.Sync()
	err = daemon.Serve(ctx, daemon.Options{
		Config: cfg, ConfigPath: *config, ConfigData: data, Listen: *listen, RunOnStart: *runOnStart, Grace: *grace,
		Logger: log, Clock: e.clock, Getenv: e.getenv, Secret: e.secrets.add, HTTPClient: e.httpClient,
		Redact: e.secrets.redact, Warn: e.warning, Reload: e.hup,
		OnListen: e.onListen, OnRun: e.onRun, OnReload: e.onReload,
	})
	if err != nil {
		// A config problem exits 2; a journal another enforcing process
		// holds, or an address in use, exits 1.
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitCode(err)
	}
	return exitOK
}
