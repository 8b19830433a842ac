package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/policytest"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/snapshot"
)

// testFlags are the flags of ghprune test.
type testFlags struct {
	config, tests, snapshot, at string
	format, out, logLevel       string
	verbose                     bool
}

func parseTestFlags(args []string, e env) (testFlags, int, bool) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var f testFlags
	fs.StringVar(&f.config, "config", policy.DefaultConfigFile, "config `file`")
	fs.StringVar(&f.tests, "tests", "", "the policy tests `file` (required; see docs/policy-tests.md)")
	fs.StringVar(&f.snapshot, "snapshot", "", "plan from the snapshot `file` (ghprune snapshot): no request, no token")
	fs.StringVar(&f.at, "at", "", "the run's `TIME`: RFC 3339, a date, or +30d/-2w from now; synthetic ages and cases' at count from it")
	fs.StringVar(&f.format, "format", "", "report format: table, json or markdown (default: table on a terminal, else json)")
	fs.StringVar(&f.out, "o", "", "write the report to `file`")
	fs.BoolVar(&f.verbose, "v", false, "table: list the cases that pass too")
	fs.StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error (logs are JSON on stderr)")
	code, ok := parseFlags(fs, args, e)
	if ok && f.tests == "" {
		fmt.Fprintln(e.stderr, "ghprune test: -tests FILE is required")
		return f, exitUsage, false
	}
	return f, code, ok
}

// cmdTest runs a policy tests file: each case names a version and the
// decision a policy must make for it. The policies are planned offline,
// from -snapshot, the file's synthetic packages, or a snapshot read from
// GitHub first when a case names a package neither has; then each case
// passes or fails, reported as go test does. Exit 0 when all pass, 1 when
// any fails, 2 for a bad tests file or config (nothing sent).
func cmdTest(ctx context.Context, args []string, e env) int {
	f, code, ok := parseTestFlags(args, e)
	if !ok {
		return code
	}
	format, err := resolveFormat(f.format, f.out, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	cfg, code := loadConfig(f.config, e)
	if cfg == nil {
		return code
	}
	suite, code := loadTests(f.tests, cfg, e)
	if suite == nil {
		return code
	}
	runAt, err := parseOneAt(f.at, e.clock.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune test: %v\n", err)
		return exitUsage
	}
	out, err := openOutput(f.out, cfg, e, [2]string{"-tests", f.tests}, [2]string{"-snapshot", f.snapshot})
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return exitUsage
	}
	rep, code := runTests(ctx, suite, cfg, f, runAt, e)
	if rep == nil {
		out.Abort()
		return code
	}
	werr := writeTestReport(out, rep, format, testView{file: f.tests, runAt: runAt.UTC(), verbose: f.verbose})
	if code := commitReport(out, werr, e); code != exitOK {
		return code
	}
	if rep.Failed > 0 {
		return exitFailed
	}
	return exitOK
}

// loadTests reads the tests file and binds it to the config; a bad file is
// a usage error, reported with file:line:col.
func loadTests(path string, cfg *policy.Config, e env) (*policytest.Suite, int) {
	tf, err := policytest.Load(path)
	if err == nil {
		var suite *policytest.Suite
		if suite, err = policytest.Bind(tf, cfg); err == nil {
			return suite, exitOK
		}
	}
	var errs *policy.Errors
	if errors.As(err, &errs) {
		fmt.Fprintf(e.stderr, "%s\n", escapeLines(err.Error()))
	} else {
		fmt.Fprintf(e.stderr, "ghprune: %s\n", escapeLines(err.Error()))
	}
	return nil, exitUsage
}

// escapeLines escapes each line of a message of several (every problem of
// a file) for a terminal, keeping the line breaks between them.
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = report.Escape(l)
	}
	return strings.Join(lines, "\n")
}

// runTests builds the snapshot the cases are planned from and decides
// them. On failure it has said why and returns the exit code.
func runTests(ctx context.Context, suite *policytest.Suite, cfg *policy.Config, f testFlags, runAt time.Time, e env) (*policytest.Report, int) {
	base, code := testBase(ctx, suite, cfg, f, e)
	if code != exitOK {
		return nil, code
	}
	eng, code := openOffline(ctx, cfg, suite.Snapshot(base, runAt), f.logLevel, e)
	if eng == nil {
		return nil, code
	}
	defer eng.Close()
	results, err := suite.Run(ctx, eng, runAt)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune test: %v\n", err)
		return nil, exitFailed
	}
	return policytest.NewReport(results), exitOK
}

// testBase is what the packages that are not synthetic are read from:
// -snapshot, or, when a case names such a package and no -snapshot was
// given, a snapshot read from GitHub now (only then is a token needed);
// nil when every case names a synthetic package.
func testBase(ctx context.Context, suite *policytest.Suite, cfg *policy.Config, f testFlags, e env) (*snapshot.Snapshot, int) {
	if f.snapshot != "" {
		suite.Source = "the snapshot " + f.snapshot
		return loadSnapshot(f.snapshot, cfg, e)
	}
	pols, cases := suite.Unsynthetic()
	if len(cases) == 0 {
		return nil, exitOK
	}
	suite.Source = "what GitHub listed"
	eng, code := openEngine(ctx, cfg, f.logLevel, e, engine.JournalOptional)
	if eng == nil {
		c := cases[0]
		fmt.Fprintf(e.stderr, "ghprune test: %s:%d: %s names the package %s, which the tests file does not declare under packages:, so it is read from GitHub; declare it, or give -snapshot FILE\n",
			f.tests, c.Pos.Line, report.Escape(c.DisplayName()), report.Escape(fmt.Sprintf("%q", c.Package)))
		return nil, code
	}
	defer eng.Close()
	snap, errs := eng.SnapshotOf(ctx, pols, suite.NeedsAllManifests() || f.at != "")
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "ghprune test: %v\n", report.Escape(err.Error()))
	}
	if snap == nil {
		return nil, exitCode(errs[0])
	}
	if ctx.Err() != nil {
		return nil, exitFailed
	}
	return snap, exitOK
}

// testView is how a report of policy tests is written.
type testView struct {
	file    string
	runAt   time.Time
	verbose bool
}

// writeTestReport writes rep in format.
func writeTestReport(w io.Writer, rep *policytest.Report, format string, v testView) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case "json":
		err = report.WriteJSON(bw, rep)
	case "markdown":
		err = writeTestMarkdown(bw, rep, v)
	default:
		err = writeTestTable(bw, rep, v)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// where names what a case is about: "policy P, owner/package, tag prod",
// and the time it was decided at when that is not the run's.
func (v testView) where(r *policytest.Result) string {
	s := fmt.Sprintf("policy %s, %s/%s, %s", r.Policy, r.Owner, r.Package, r.Ref)
	if !r.At.Equal(v.runAt) {
		s += ", at " + r.At.Format(time.RFC3339)
	}
	return s
}

// writeTestTable writes the report as go test does: a block for each case
// that failed (and, with -v, a line for each that passed), then the count.
func writeTestTable(w *bufio.Writer, rep *policytest.Report, v testView) error {
	for _, r := range rep.Cases {
		where := report.Escape(report.ShortDigests(v.where(r)))
		if r.Pass {
			if v.verbose {
				fmt.Fprintf(w, "--- PASS: %s (%s): %s by %s\n", report.Escape(r.Name), where, r.Action, report.Escape(report.ShortDigests(r.Rule)))
			}
			continue
		}
		fmt.Fprintf(w, "--- FAIL: %s (%s)\n    %s:%d: %s\n", report.Escape(r.Name), where,
			report.Escape(v.file), r.Line, report.Escape(report.ShortDigests(r.Failure())))
	}
	if rep.Failed == 0 {
		_, err := fmt.Fprintf(w, "ok  %s\n", plural(len(rep.Cases), "case"))
		return err
	}
	_, err := fmt.Fprintf(w, "FAIL  %d of %s failed\n", rep.Failed, plural(len(rep.Cases), "case"))
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// maxPassedRows bounds the passing cases a Markdown report lists: a job
// summary is at most 1 MiB, and what failed matters more.
const maxPassedRows = 1000

// writeTestMarkdown writes the report for a job summary or a pull-request
// comment: a title with the verdict, the failed cases in a table, and the
// passed ones in a collapsed section.
func writeTestMarkdown(w *bufio.Writer, rep *policytest.Report, v testView) error {
	md := report.MarkdownEscape
	if rep.Failed == 0 {
		fmt.Fprintf(w, "## Policy tests: ok\n\nAll %s of %s passed.\n", plural(len(rep.Cases), "case"), md(v.file))
	} else {
		fmt.Fprintf(w, "## Policy tests: FAIL\n\n**%d of %s failed** in %s.\n", rep.Failed, plural(len(rep.Cases), "case"), md(v.file))
		fmt.Fprintf(w, "\n| case | policy | package | version | want | got | why |\n|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Cases {
			if r.Pass {
				continue
			}
			want, got, why := string(r.Expect), "", r.Error
			if r.RuleExpected != "" {
				want += " by " + r.RuleExpected
			}
			switch {
			case r.Error != "":
			case r.Expect == policy.Keep && r.DeletedBy != "":
				got, why = "delete by "+r.DeletedByRule+" (policy "+r.DeletedBy+")", r.DeletedByReason
			default:
				got, why = string(r.Action)+" by "+r.Rule, r.Reason
			}
			fmt.Fprintf(w, "| %s (line %d) | %s | %s/%s | %s | %s | %s | %s |\n", md(r.Name), r.Line, md(r.Policy), md(r.Owner), md(r.Package),
				md(report.ShortDigests(r.Ref)), md(want), md(report.ShortDigests(got)), md(report.ShortDigests(why)))
		}
	}
	if rep.Passed == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n<details><summary>%d passed</summary>\n\n| case | policy | package | version | decision |\n|---|---|---|---|---|\n", rep.Passed)
	n := 0
	for _, r := range rep.Cases {
		if !r.Pass {
			continue
		}
		if n++; n > maxPassedRows {
			fmt.Fprintf(w, "\n… and %d more.\n", rep.Passed-maxPassedRows)
			break
		}
		fmt.Fprintf(w, "| %s | %s | %s/%s | %s | %s by %s |\n", md(r.Name), md(r.Policy), md(r.Owner), md(r.Package),
			md(report.ShortDigests(r.Ref)), r.Action, md(report.ShortDigests(r.Rule)))
	}
	_, err := fmt.Fprintf(w, "\n</details>\n")
	return err
}
