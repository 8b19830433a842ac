package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ghprune/ghprune/internal/version"
)

// cmdVersion prints the version, commit and Go toolchain of this binary, the
// same values ghprune_build_info carries.
func cmdVersion(_ context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	fmt.Fprintln(e.stdout, version.String())
	return exitOK
}
