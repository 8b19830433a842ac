package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/planner"
)

// The adapters keep the consumers' small interfaces honest.
var (
	_ planner.Client  = (*githubapi.Client)(nil)
	_ executor.Client = (*githubapi.Client)(nil)
)

func TestDemo_RunsEveryStep(t *testing.T) {
	t.Parallel() // the longest test: let the rest run beside it
	var out strings.Builder
	e := env{stdout: &out, stderr: &out, clock: clock.NewFake(t0), getenv: func(string) string { return "" }}
	if code := run(context.Background(), []string{"demo", "-dir", t.TempDir()}, e); code != 0 {
		t.Fatalf("demo exit %d:\n%s", code, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"0 of them DELETE", // the plan sent no delete
		"simulator: 25 API requests and 1257 manifest reads served during the plan", // BENCHMARKS.md, API cost
		"run 1: 1208 deleted, 0 failed, 1 skipped; 3536 API requests",               // BENCHMARKS.md, API cost
		"1 skipped",                       // the download-limited version
		"1208 versions deleted",           // apply
		"1208 versions restored (exit 0)", // restore -run 1
		"1275 of 1275 seeded versions are active again",
		"→ graph", // the multi-platform image's child is kept by the graph step
		"keep (referenced-by:sha256:",
		"manifests read again for this: 0",
		"frees ~",        // the storage estimate
		"2026-12-21T12:", // restore deadlines 30 days after the run
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if regexp.MustCompile(`\x1b\[`).MatchString(s) {
		t.Error("colour codes written to a non-terminal")
	}
	if strings.Contains(s, demoToken) {
		t.Error("demo printed its token")
	}
}
