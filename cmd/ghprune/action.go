package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/policytest"
	"github.com/ghprune/ghprune/report"
	"github.com/ghprune/ghprune/snapshot"
)

// ghprune action is the GitHub Action (action.yml): the same engine as
// plan and apply, with its inputs, outputs, job summary and annotations
// the way Actions passes and reads them. Docker actions get their inputs
// as INPUT_<NAME> variables (upper case, hyphens kept) and run in
// GITHUB_WORKSPACE.

// actionInputs are the inputs action.yml declares, by name.
var actionInputs = []string{"config", "policy", "mode", "token", "fail-on-delete", "journal", "baseline", "tests"}

// stepSummaryMax is what ghprune writes to the job summary at most: GitHub
// refuses a step's summary over 1 MiB.
const stepSummaryMax = 900 << 10

// actionEnv is the Actions side of a run.
type actionEnv struct {
	e         env
	workspace string // GITHUB_WORKSPACE: relative paths in inputs are relative to it
	temp      string // RUNNER_TEMP
	config    string // as the input gives it, for annotations
	mode      string // plan or apply
	failOn    bool
	policies  []string
	journal   string
	report    string // where the JSON report goes
	baseline  string // the config to compare with (a pull request's base), as the input gives it
	tests     string // the policy tests file, as the input gives it
	base      *policy.Config
	suite     *policytest.Suite
	// snap is the one reading of GitHub a plan with baseline or tests is
	// made from, and the diff and the tests too; nil otherwise.
	snap *snapshot.Snapshot
	// live is the engine that read it, and readCost what the reading
	// sent (API requests, manifest fetches): the plan's report counts them
	// and estimates its apply from live's rate limit.
	live     *engine.Engine
	readCost [2]int64
	// summaryLeft is what may still be appended to the job summary: the
	// tests, the plan and the diff share stepSummaryMax.
	summaryLeft int
}

func (a *actionEnv) input(name string) string {
	return strings.TrimSpace(a.e.getenv("INPUT_" + strings.ToUpper(name)))
}

// path resolves p against the workspace.
func (a *actionEnv) path(p string) string {
	if p == "" || filepath.IsAbs(p) || a.workspace == "" {
		return p
	}
	return filepath.Join(a.workspace, p)
}

// maskToken tells Actions to mask the token in the log: the action's
// first workflow command, written past the redaction (which would hide
// the very token to mask).
func maskToken(stdout io.Writer, getenv func(string) string, s *secrets) {
	if getenv == nil {
		return
	}
	if tok := strings.TrimSpace(getenv("INPUT_TOKEN")); tok != "" {
		fmt.Fprintf(stdout, "::add-mask::%s\n", escapeData(tok))
		s.add(tok)
	}
}

func cmdAction(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("action", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ghprune action\n\nThe GitHub Action (action.yml). It takes no flags: its inputs come from the\nINPUT_* variables Actions sets (%s).\n",
			strings.Join(actionInputs, ", "))
	}
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	a, err := readActionInputs(e)
	if err != nil {
		fmt.Fprintf(e.stdout, "::error title=ghprune::%s\n", escapeData(err.Error()))
		fmt.Fprintf(e.stderr, "ghprune action: %v\n", err)
		return exitUsage
	}
	cfg, code := a.loadConfig()
	if cfg == nil {
		return code
	}
	pols, code := selectPolicies(cfg, a.policies, e)
	if pols == nil {
		fmt.Fprintf(e.stdout, "::error title=ghprune::%s\n", escapeData("no such policy in "+a.config+": "+strings.Join(a.policies, ", ")))
		return code
	}
	if err := os.MkdirAll(filepath.Dir(cfg.State.Path), 0o755); err != nil {
		fmt.Fprintf(e.stderr, "ghprune action: %v\n", err)
		return exitFailed
	}
	jm := engine.JournalOptional
	if a.mode == "apply" {
		jm = engine.JournalCreate
	}
	eng, code := openEngine(ctx, cfg, "", e, jm)
	if eng == nil {
		return code
	}
	defer eng.Close()
	return a.run(ctx, eng, cfg, pols)
}

// readActionInputs reads and checks the inputs.
func readActionInputs(e env) (*actionEnv, error) {
	a := &actionEnv{e: e, workspace: e.getenv("GITHUB_WORKSPACE"), temp: e.getenv("RUNNER_TEMP"), summaryLeft: stepSummaryMax}
	if a.temp == "" {
		a.temp = os.TempDir()
	}
	a.config = a.input("config")
	if a.config == "" {
		return nil, errors.New("input config is required: the path of a ghprune config in the repository")
	}
	for _, p := range strings.Split(a.input("policy"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			a.policies = append(a.policies, p)
		}
	}
	switch a.mode = a.input("mode"); a.mode {
	case "":
		a.mode = "plan"
	case "plan", "apply":
	default:
		return nil, fmt.Errorf("input mode must be plan or apply, got %q", a.mode)
	}
	if v := a.input("fail-on-delete"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("input fail-on-delete must be true or false, got %q", v)
		}
		a.failOn = b
	}
	a.journal = a.path(a.input("journal"))
	if a.journal == "" {
		a.journal = filepath.Join(a.temp, "ghprune", "journal.db")
	}
	a.report = filepath.Join(a.temp, "ghprune", "report.json")
	a.baseline, a.tests = a.input("baseline"), a.input("tests")
	if a.baseline != "" && a.mode != "plan" {
		return nil, errors.New("input baseline compares two plans, for a pull request: use it with mode plan")
	}
	return a, nil
}

// loadConfig reads the config input, annotating each problem on its file
// and line, and points the config at the action's token and journal.
func (a *actionEnv) loadConfig() (*policy.Config, int) {
	e := a.e
	data, err := policy.ReadFile(a.path(a.config))
	if err != nil {
		fmt.Fprintf(e.stdout, "::error file=%s,title=ghprune config::%s\n", escapeProperty(a.config), escapeData(err.Error()))
		fmt.Fprintf(e.stderr, "ghprune: %v\n", err)
		return nil, exitUsage
	}
	cfg, err := policy.Parse(a.config, data)
	var errs *policy.Errors
	if errors.As(err, &errs) {
		for _, fe := range errs.List {
			annotate(e.stdout, "error", fe)
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "%v\n", err)
		return nil, exitUsage
	}
	for _, w := range cfg.Warnings {
		annotate(e.stdout, "warning", w)
	}
	if e.getenv("INPUT_TOKEN") != "" {
		cfg.GitHub.TokenEnv, cfg.GitHub.TokenFile = "INPUT_TOKEN", ""
	}
	cfg.State.Path = a.journal
	return cfg, 0
}

// annotate writes a workflow command that annotates fe's file and line of
// a config.
func annotate(w io.Writer, level string, fe *policy.FieldError) {
	annotateAs(w, level, "ghprune config", fe)
}

// annotateAs annotates fe's file and line under title.
func annotateAs(w io.Writer, level, title string, fe *policy.FieldError) {
	props := "file=" + escapeProperty(fe.File)
	if fe.Line > 0 {
		props += fmt.Sprintf(",line=%d,col=%d", fe.Line, fe.Column)
	}
	msg := fe.Msg
	if fe.Path != "" {
		msg = fe.Path + ": " + msg
	}
	fmt.Fprintf(w, "::%s %s,title=%s::%s\n", level, props, escapeProperty(title), escapeData(msg))
}

// run plans or applies, and reports to the log, the job summary and the
// step's outputs. A tests file is checked first: in apply mode a failing
// case stops the step before anything is deleted.
func (a *actionEnv) run(ctx context.Context, eng *engine.Engine, cfg *policy.Config, pols []*policy.Policy) int {
	e := a.e
	eng, done, code := a.prepare(ctx, eng, cfg, pols)
	if eng == nil {
		return code
	}
	defer done()
	extra := map[string]string{"changed": "", "tests-failed": ""}
	testsCode := exitOK
	if a.suite != nil {
		extra["tests-failed"], testsCode = a.policyTests(ctx, eng, cfg)
		if testsCode == exitUsage || (testsCode != exitOK && a.mode == "apply") {
			if testsCode == exitFailed && extra["tests-failed"] != "" {
				fmt.Fprintf(e.stdout, "::error title=ghprune::%s\n", escapeData(extra["tests-failed"]+" policy tests failed, so nothing was applied"))
			}
			if err := a.outputs(nil, report.Summary{}, extra); err != nil {
				fmt.Fprintf(e.stderr, "ghprune action: %v\n", err)
			}
			return testsCode
		}
	}
	if err := os.MkdirAll(filepath.Dir(a.report), 0o755); err != nil {
		fmt.Fprintf(e.stderr, "ghprune action: %v\n", err)
		return exitFailed
	}
	file, err := os.Create(a.report)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune action: %v\n", err)
		return exitFailed
	}
	defer file.Close()
	jsonOut := bufio.NewWriterSize(newRedactWriter(file, e.secrets), 1<<16)
	// The log gets the table between stop-commands markers: nothing a
	// package name or tag holds can run as a workflow command.
	stop := stopToken()
	fmt.Fprintf(e.stdout, "::stop-commands::%s\n", stop)
	logOut := bufio.NewWriterSize(e.stdout, 1<<16)
	js, table := report.NewJSONStream(jsonOut), report.NewTableStream(logOut, report.TableOptions{MaxRows: 50})
	run, runErr := eng.Run(ctx, pols, engine.RunOptions{Apply: a.mode == "apply", Trigger: engine.TriggerCLI, Sink: sinks{js, table}})
	if a.live != nil {
		// Planned from the one reading: what it cost, and the apply
		// estimated from the rate limit GitHub reported to it.
		run.APIRequests, run.ManifestFetches = a.readCost[0], a.readCost[1]
		run.Estimate = a.live.Estimate(run, pols)
	}
	werr := errors.Join(js.End(run), table.End(run), jsonOut.Flush(), logOut.Flush())
	fmt.Fprintf(e.stdout, "::%s::\n", stop)
	if runErr != nil && len(run.Policies) == 0 {
		fmt.Fprintf(e.stdout, "::error title=ghprune::%s\n", escapeData(runErr.Error()))
		return exitFailed
	}
	a.annotateRun(run)
	sum := report.SummaryOf(run)
	werr = errors.Join(werr, a.summary(run))
	diffCode := exitOK
	if a.baseline != "" {
		extra["changed"], diffCode = a.diff(ctx, cfg, pols)
	}
	werr = errors.Join(werr, a.outputs(run, sum, extra))
	switch {
	case werr != nil:
		fmt.Fprintf(e.stderr, "ghprune action: %v\n", werr)
		return exitFailed
	case runErr != nil:
		fmt.Fprintf(e.stdout, "::error title=ghprune::%s\n", escapeData(runErr.Error()))
		return exitFailed
	case diffCode != exitOK:
		return diffCode
	case testsCode != exitOK:
		msg := "the policy tests could not be run"
		if extra["tests-failed"] != "" {
			msg = extra["tests-failed"] + " policy tests failed"
		}
		fmt.Fprintf(e.stdout, "::error title=ghprune::%s\n", escapeData(msg))
		return testsCode
	case a.failOn && a.mode == "plan" && sum.Delete > 0:
		fmt.Fprintf(e.stdout, "::error title=ghprune::%s\n", escapeData(fmt.Sprintf("the plan deletes %d versions (fail-on-delete)", sum.Delete)))
		return exitHasDelete
	}
	return exitOK
}

// prepare reads the baseline and the tests before anything else (a broken
// one is a usage error, found before a request is spent) and, for a plan
// that needs GitHub for the diff or the tests, reads it once and returns
// an engine that plans from that reading: a GITHUB_TOKEN has 1,000
// requests an hour. done closes what it opened; a nil engine comes with
// the exit code.
func (a *actionEnv) prepare(ctx context.Context, eng *engine.Engine, cfg *policy.Config, pols []*policy.Policy) (*engine.Engine, func(), int) {
	nothing := func() {}
	if a.baseline != "" {
		if a.base = a.loadBaseline(); a.base == nil {
			return nil, nothing, exitUsage
		}
	}
	if a.tests != "" {
		if a.suite = a.loadTests(cfg); a.suite == nil {
			return nil, nothing, exitUsage
		}
	}
	if a.mode != "plan" || !a.needsReading() {
		return eng, nothing, exitOK
	}
	off, code := a.readOnce(ctx, eng, cfg, pols)
	switch {
	case off == nil && code == exitOK:
		return eng, nothing, exitOK // the plan goes on live
	case off == nil:
		return nil, nothing, code
	}
	return off, func() { off.Close() }, exitOK
}

// loadTests reads the tests input and binds it to cfg, annotating each
// problem on its file and line; nil when it cannot be used.
func (a *actionEnv) loadTests(cfg *policy.Config) *policytest.Suite {
	e := a.e
	// Read by its path in the workspace, named as the input gives it: the
	// annotations then land on the file in the pull request.
	data, err := policytest.ReadFile(a.path(a.tests))
	var tf *policytest.File
	if err == nil {
		tf, err = policytest.Parse(a.tests, data)
	}
	var suite *policytest.Suite
	if err == nil {
		suite, err = policytest.Bind(tf, cfg)
	}
	if err == nil {
		return suite
	}
	var errs *policy.Errors
	if errors.As(err, &errs) {
		for _, fe := range errs.List {
			annotateAs(e.stdout, "error", "ghprune tests", fe)
		}
	} else {
		fmt.Fprintf(e.stdout, "::error file=%s,title=ghprune tests::%s\n", escapeProperty(a.tests), escapeData(err.Error()))
	}
	fmt.Fprintf(e.stderr, "%s\n", escapeLines(err.Error()))
	return nil
}

// needsReading reports whether the diff or the tests read GitHub.
func (a *actionEnv) needsReading() bool {
	if a.base != nil {
		return true
	}
	if a.suite != nil {
		_, cases := a.suite.Unsynthetic()
		return len(cases) > 0
	}
	return false
}

// readOnce reads, through eng, what the plan, the baseline's policies and
// the tests' cases read, into a.snap, and opens an engine that plans from
// it: what the plan, the diff and the tests then share.
func (a *actionEnv) readOnce(ctx context.Context, eng *engine.Engine, cfg *policy.Config, pols []*policy.Policy) (*engine.Engine, int) {
	e := a.e
	all := append([]*policy.Policy(nil), pols...)
	if a.base != nil {
		all = append(all, baselinePolicies(cfg, a.base, pols)...)
	}
	if a.suite != nil {
		testPols, _ := a.suite.Unsynthetic()
		for _, p := range testPols {
			if !slices.Contains(all, p) {
				all = append(all, p)
			}
		}
	}
	reqs, fetches := eng.Cost()
	snap, errs := eng.SnapshotOf(ctx, all, a.suite.NeedsAllManifests())
	if snap == nil || len(errs) > 0 {
		// Deferred for the budget, or unreadable: the plan is made live, as
		// without baseline or tests, and the diff and tests say they lack
		// what could not be read.
		seen := map[string]bool{}
		for _, err := range errs {
			if msg := err.Error(); !seen[msg] {
				seen[msg] = true
				fmt.Fprintf(e.stdout, "::warning title=ghprune::%s\n", escapeData("not read for the diff and the tests: "+msg))
			}
		}
		return nil, exitOK
	}
	off, code := openOffline(ctx, cfg, snap, "", e)
	if off == nil {
		return nil, code
	}
	r2, f2 := eng.Cost()
	a.snap, a.live, a.readCost = snap, eng, [2]int64{r2 - reqs, f2 - fetches}
	return off, exitOK
}

// policyTests checks the tests against the config, planned offline from
// its synthetic packages and, for the cases that name live packages, the
// one reading (a.snap) or, in apply mode, a snapshot read through eng, and
// appends the results to the job summary. Each failing case annotates its
// line of the tests file. It returns how many cases failed ("" when they
// could not be run) and an exit code: 1 when a case failed.
func (a *actionEnv) policyTests(ctx context.Context, eng *engine.Engine, cfg *policy.Config) (string, int) {
	e, suite := a.e, a.suite
	var base *snapshot.Snapshot
	if pols, cases := suite.Unsynthetic(); len(cases) > 0 {
		base = a.snap
		if base == nil {
			snap, errs := eng.Snapshot(ctx, pols)
			for _, err := range errs {
				fmt.Fprintf(e.stdout, "::error title=ghprune tests::%s\n", escapeData(err.Error()))
			}
			if snap == nil || len(errs) > 0 {
				return "", exitFailed
			}
			base = snap
		}
		suite.Source = "what GitHub listed"
	}
	now := e.clock.Now()
	off, code := openOffline(ctx, cfg, suite.Snapshot(base, now), "", e)
	if off == nil {
		return "", code
	}
	defer off.Close()
	results, err := suite.Run(ctx, off, now)
	if err != nil {
		fmt.Fprintf(e.stdout, "::error title=ghprune tests::%s\n", escapeData(err.Error()))
		return "", exitFailed
	}
	rep := policytest.NewReport(results)
	for _, r := range rep.Cases {
		if !r.Pass {
			fmt.Fprintf(e.stdout, "::error file=%s,line=%d,title=ghprune test %s::%s\n", escapeProperty(a.tests), r.Line,
				escapeProperty(r.Name), escapeData(report.ShortDigests(r.Failure())))
		}
	}
	var md bytes.Buffer
	bw := bufio.NewWriter(&md)
	werr := writeTestMarkdown(bw, rep, testView{file: a.tests, runAt: now.UTC()})
	if werr = errors.Join(werr, bw.Flush()); werr == nil {
		werr = a.appendSummary(md.String(), stepSummaryMax/4)
	}
	if werr != nil {
		fmt.Fprintf(e.stderr, "ghprune action: %v\n", werr)
		return "", exitFailed
	}
	if rep.Failed > 0 {
		return strconv.Itoa(rep.Failed), exitFailed
	}
	return "0", exitOK
}

// loadBaseline reads the baseline input, annotating each problem on its
// file and line; nil when it cannot be used.
func (a *actionEnv) loadBaseline() *policy.Config {
	e := a.e
	data, err := policy.ReadFile(a.path(a.baseline))
	if err != nil {
		fmt.Fprintf(e.stdout, "::error file=%s,title=ghprune baseline::%s\n", escapeProperty(a.baseline), escapeData(err.Error()))
		return nil
	}
	base, err := policy.Parse(a.baseline, data)
	if err != nil {
		var errs *policy.Errors
		if errors.As(err, &errs) {
			for _, fe := range errs.List {
				annotateAs(e.stdout, "error", "ghprune baseline", fe)
			}
		}
		fmt.Fprintf(e.stderr, "%s\n", escapeLines(err.Error()))
		return nil
	}
	return base
}

// diff appends the policy diff against the baseline to the job summary and
// returns how many versions differ.
func (a *actionEnv) diff(ctx context.Context, cfg *policy.Config, pols []*policy.Policy) (string, int) {
	e, base, snap := a.e, a.base, a.snap
	if snap == nil {
		fmt.Fprintf(e.stdout, "::error title=ghprune diff::%s\n", escapeData("the diff needs every package of both configs read, and some were not (see the warnings)"))
		return "", exitFailed
	}
	d, code := diffPlans(ctx, cfg, base, pols, snap, e.clock.Now(), runFlags{}, e)
	if d == nil {
		return "", code
	}
	d.Config, d.Baseline = a.config, a.baseline
	var md bytes.Buffer
	if err := writeDiffMarkdown(&md, d); err != nil {
		return "", exitFailed
	}
	if err := a.appendSummary(md.String(), a.summaryLeft); err != nil {
		fmt.Fprintf(e.stderr, "ghprune action: %v\n", err)
		return "", exitFailed
	}
	return strconv.Itoa(d.Summary.Differ), exitOK
}

// appendSummary appends Markdown to the job summary, redacted, and cut to
// at most limit bytes and what is left of stepSummaryMax.
func (a *actionEnv) appendSummary(md string, limit int) error {
	path := a.e.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	md = cutToFit("\n"+a.e.secrets.redact(md), min(limit, a.summaryLeft), "\n\n… cut to fit the job summary.\n")
	a.summaryLeft -= len(md)
	return appendFile(path, md)
}

// cutToFit cuts md at a line break so that it and note fit in limit bytes;
// md as it is when it fits.
func cutToFit(md string, limit int, note string) string {
	if len(md) <= limit {
		return md
	}
	if limit <= len(note) {
		return ""
	}
	cut := strings.LastIndexByte(md[:limit-len(note)], '\n')
	return md[:max(cut, 0)] + note
}

// annotateRun turns each policy's warnings and errors into annotations.
func (a *actionEnv) annotateRun(run *plan.Run) {
	for _, p := range run.Policies {
		for _, w := range p.Warnings {
			fmt.Fprintf(a.e.stdout, "::warning title=ghprune policy %s::%s\n", escapeProperty(p.Name), escapeData(w))
		}
		if p.Err != nil && !errors.Is(p.Err, plan.ErrDeferred) {
			fmt.Fprintf(a.e.stdout, "::error title=ghprune policy %s::%s\n", escapeProperty(p.Name), escapeData(p.Err.Error()))
		}
	}
}

// summary appends the Markdown report to the job summary, read back from
// the JSON report (Markdown opens with the summary, so it needs the whole
// run), at most 50 versions per package and stepSummaryMax in all, and
// says how to restore what an apply deleted.
func (a *actionEnv) summary(run *plan.Run) error {
	path := a.e.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	raw, err := os.ReadFile(a.report)
	if err != nil {
		return err
	}
	var r report.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("read the report back: %w", err)
	}
	var md bytes.Buffer
	if err := report.WriteMarkdown(&md, &r, report.TableOptions{MaxRows: 50}); err != nil {
		return err
	}
	restore := ""
	if run.RunID != nil {
		restore = fmt.Sprintf("\n**To restore** what run %d deleted (within 30 days), download the journal artifact and run\n"+
			"`ghprune restore -config %s -journal journal.db -run %d` (see the README's GitHub Action section).\n",
			*run.RunID, report.MarkdownEscape(a.config), *run.RunID)
	}
	// The restore note always fits, and a diff still to come keeps its
	// share.
	limit := a.summaryLeft - len(restore)
	if a.base != nil {
		limit -= stepSummaryMax / 4
	}
	text := cutToFit(a.e.secrets.redact(md.String()), limit, "\n\n… cut to fit the job summary; the `report` output has every decision.\n") + restore
	a.summaryLeft -= len(text)
	return appendFile(path, text)
}

// outputs writes the step's outputs.
func (a *actionEnv) outputs(run *plan.Run, s report.Summary, extra map[string]string) error {
	path := a.e.getenv("GITHUB_OUTPUT")
	if path == "" {
		return nil
	}
	runID := ""
	if run != nil && run.RunID != nil {
		runID = strconv.FormatInt(*run.RunID, 10)
	}
	kvs := [][2]string{
		{"planned", strconv.Itoa(s.Delete)}, {"deleted", strconv.Itoa(s.Deleted)}, {"skipped", strconv.Itoa(s.Skipped)},
		{"failed", strconv.Itoa(s.Failed)}, {"freed-bytes", strconv.FormatInt(s.FreedBytes, 10)}, {"run-id", runID},
		{"report", a.report}, {"journal", a.journal}, {"changed", extra["changed"]}, {"tests-failed", extra["tests-failed"]},
	}
	if run == nil { // the tests stopped the step: there was no plan, only these
		for i := range kvs {
			if k := kvs[i][0]; k != "journal" && k != "changed" && k != "tests-failed" {
				kvs[i][1] = ""
			}
		}
	}
	var b strings.Builder
	for _, kv := range kvs {
		if strings.ContainsAny(kv[1], "\r\n") {
			return fmt.Errorf("output %s holds a line break", kv[0])
		}
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	return appendFile(path, b.String())
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sinks sends a run to several sinks.
type sinks []engine.Sink

func (s sinks) Start(run *plan.Run) error {
	var err error
	for _, k := range s {
		err = errors.Join(err, k.Start(run))
	}
	return err
}

func (s sinks) Package(p *plan.Policy, pkg *plan.Package) error {
	var err error
	for _, k := range s {
		err = errors.Join(err, k.Package(p, pkg))
	}
	return err
}

func (s sinks) PolicyDone(p *plan.Policy) error {
	var err error
	for _, k := range s {
		err = errors.Join(err, k.PolicyDone(p))
	}
	return err
}

// escapeData escapes a workflow command's message: %, CR and LF.
func escapeData(s string) string { return dataEscaper.Replace(s) }

var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

// escapeProperty escapes a workflow command's property value: as data,
// and : and , too.
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }

// stopToken is a fresh random token for ::stop-commands::.
func stopToken() string {
	var b [16]byte
	rand.Read(b[:])
	return "ghprune-" + hex.EncodeToString(b[:])
}
