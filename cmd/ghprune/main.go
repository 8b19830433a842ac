// Command ghprune enforces version-retention policies on GitHub Packages.
// See README.md; every command, flag and exit code is in docs/cli.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/ghprune/ghprune/internal/clock"
)

// Exit codes (docs/cli.md).
const (
	exitOK        = 0
	exitFailed    = 1 // a run failed: some deletes failed, GitHub unreachable…
	exitUsage     = 2 // usage or config error: nothing was sent to GitHub
	exitHasDelete = 3 // plan -detailed-exitcode: the plan deletes something
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], realEnv()))
}

// env is everything a command takes from its surroundings, injected so tests
// drive the real commands with a fake clock and captured output.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	clock          clock.Clock
	// stdoutTTY and stderrTTY say whether colour and progress may be used.
	stdoutTTY, stderrTTY bool
	// hup delivers SIGHUP to serve (reload); nil in tests that do not reload.
	hup <-chan os.Signal
	// onListen and onRun let tests wait for serve instead of sleeping; nil
	// in production.
	onListen func(addr string)
	onRun    func()
	// onReload is told each reload's outcome (nil: loaded, or unchanged).
	onReload func(err error)
	// secrets holds the token once read, for redacting output; run sets it.
	secrets *secrets
	// progress, set by run when stderr is a terminal, shows a run's
	// progress on one redrawn line.
	progress *progressLine
	// httpClient, when set, sends every request to the API and the registry
	// (tests route made-up host names to loopback servers with it); nil in
	// production: each client's own default.
	httpClient *http.Client
}

func realEnv() env {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, clock: clock.Real{},
		stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr), hup: hup}
}

// isTerminal reports whether f is a terminal. Not os.ModeCharDevice: that
// is true for /dev/null too.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

var commands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, e env) int
}{
	{"validate", "lint the config; errors with file:line:col and key path", cmdValidate},
	{"plan", "dry run of the selected policies now (never writes to GitHub)", cmdPlan},
	{"apply", "run the selected policies once: enforce policies delete", cmdApply},
	{"serve", "the daemon: each policy on its schedule; /metrics and /healthz", cmdServe},
	{"history", "runs and deletions from the journal", cmdHistory},
	{"restore", "restore deleted versions recorded in the journal", cmdRestore},
	{"snapshot", "read what the policies' plans read, once, into a file that plan, explain and test read instead", cmdSnapshot},
	{"explain", "show each step of the decision order for one version", cmdExplain},
	{"test", "check a policy tests file: the decisions each case expects, planned offline", cmdTest},
	{"version", "print the version, commit and Go version of this binary", cmdVersion},
	{"action", "the GitHub Action (action.yml): plan or apply from INPUT_* variables", cmdAction},
	{"demo", "plan, apply and restore against the built-in GitHub simulator", nil}, // set in init: it calls run
}

func init() { commands[len(commands)-1].run = cmdDemo }

func run(ctx context.Context, args []string, e env) int {
	if e.secrets == nil {
		e.secrets = &secrets{}
	}
	if e.stderrTTY && e.getenv != nil && e.getenv("TERM") != "dumb" {
		// Beneath the redaction: what the commands write to stderr reaches
		// the terminal above the progress line.
		e.progress = newProgressLine(e.stderr, e.clock.Now)
		e.stderr = e.progress
		if e.stdoutTTY {
			e.stdout = e.progress.through(e.stdout)
		}
		defer e.progress.clear()
	}
	if len(args) > 0 && args[0] == "action" {
		maskToken(e.stdout, e.getenv, e.secrets)
	}
	stdout, stderr := newRedactWriter(e.stdout, e.secrets), newRedactWriter(e.stderr, e.secrets)
	defer stdout.Flush()
	defer stderr.Flush()
	e.stdout, e.stderr = stdout, stderr
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], e)
		}
	}
	fmt.Fprintf(e.stderr, "ghprune: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ghprune <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'ghprune <command> -h' for a command's flags.")
}

// warning prints msg for a person.
func (e env) warning(msg string) { fmt.Fprintf(e.stderr, "warning: %s\n", msg) }

// stringList is a repeatable string flag (-policy a -policy b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseFlags parses args, turning -h into exit 0 and bad flags into exit 2.
func parseFlags(fs *flag.FlagSet, args []string, e env) (int, bool) {
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "ghprune %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}
