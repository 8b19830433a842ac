package main

import (
	"context"
	"flag"
)

func cmdDemo(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	return exitOK
}
