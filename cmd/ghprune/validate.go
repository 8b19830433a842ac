package main

import (
	"context"
	"flag"
	"fmt"
)

// cmdValidate lints the config and sends nothing anywhere.
func cmdValidate(_ context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	config := fs.String("config", "ghprune.yaml", "config `file`")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	cfg, code := loadConfig(*config, e)
	if cfg == nil {
		return code
	}
	fmt.Fprintf(e.stdout, "%s: ok: %d policies, %d warnings\n", *config, len(cfg.Policies), len(cfg.Warnings))
	return exitOK
}
