package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghprune/ghprune/engine"
	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/simulator"
)

// demoToken is the simulator's token for the demo's own account; it is not
// a GitHub credential.
const demoToken = simulator.DemoToken

// cmdDemo starts the simulator on loopback with a realistic organization (the
// world simulator.SeedDemo seeds) and walks through plan, explain, apply,
// history and restore against it. It runs in
// simulated time: deletes are paced at the configured 60 a minute, as
// against GitHub, but the clock jumps instead of sleeping.
func cmdDemo(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	keep := fs.String("dir", "", "keep the demo's config and journal in `dir` (default: a temporary directory, removed after)")
	rows := fs.Int("max-rows", 6, "versions listed per package in the tables")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(e.stderr, "ghprune demo: %v\n", err)
		return exitFailed
	}
	dir, cleanup, err := demoDir(*keep)
	if err != nil {
		return fail(err)
	}
	defer cleanup()
	d, stop, err := startDemo(e, dir, *rows)
	if err != nil {
		return fail(err)
	}
	defer stop()
	d.intro()

	d.step(1, "Validate the policies", "ghprune validate -config ghprune.yaml")
	if code := run(ctx, []string{"validate", "-config", d.cfgPath}, d.env); code != 0 {
		return code
	}
	if code := d.plan(ctx); code != 0 {
		return code
	}
	if code := d.explain(ctx); code != 0 {
		return code
	}
	code := d.apply(ctx)
	runID, err := lastRunID(ctx, d.cfgPath)
	if err != nil {
		return fail(err)
	}
	rid := fmt.Sprint(runID)
	if code := d.history(ctx, rid); code != 0 {
		return code
	}
	rc := d.restore(ctx, rid)
	if rc != 0 || code != 0 {
		return exitFailed
	}
	fmt.Fprintln(d.w, "\nDone. Point -config at a file like configs/ghcr-services.yaml and GITHUB_TOKEN at a classic PAT to plan against GitHub.")
	return exitOK
}

// demoDir returns the directory for the demo's config and journal: keep,
// or a temporary one that cleanup removes.
func demoDir(keep string) (dir string, cleanup func(), err error) {
	dir, cleanup = keep, func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ghprune-demo-")
		if err != nil {
			return "", nil, err
		}
		dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", nil, err
	}
	// The simulator starts afresh every time, so must its journal: an old
	// journal's refusals would name versions of an earlier simulator.
	for _, f := range []string{"journal.db", "journal.db-wal", "journal.db-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	return dir, cleanup, nil
}

// demoSession is the demo's simulator, serving on loopback, and what its
// steps need to run commands against it.
type demoSession struct {
	sim     *simulator.Server
	clk     *clock.Fake
	world   simulator.DemoWorld
	counts  map[string]demoCount
	url     string
	cfgPath string
	// env runs the commands: the simulated clock, and the simulator's token
	// as GITHUB_TOKEN.
	env     env
	w       io.Writer
	maxRows string
}

// startDemo seeds the simulator, serves it on loopback and writes the
// demo's config into dir; stop stops the server.
func startDemo(e env, dir string, rows int) (_ *demoSession, stop func(), _ error) {
	clk := clock.NewFake(e.clock.Now().UTC().Truncate(time.Second))
	sim := simulator.New(simulator.Options{Clock: clk, PrimaryLimit: 5000, MutationSpacing: time.Second})
	world, err := simulator.SeedDemo(sim)
	if err != nil {
		return nil, nil, err
	}
	d := &demoSession{sim: sim, clk: clk, world: world, counts: countDemo(sim, world.Packages),
		cfgPath: filepath.Join(dir, "ghprune.yaml"), w: e.stdout, maxRows: fmt.Sprint(rows)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	d.url = "http://" + ln.Addr().String()
	if err := os.WriteFile(d.cfgPath, []byte(fmt.Sprintf(demoConfig, d.url, filepath.Join(dir, "journal.db"))), 0o600); err != nil {
		srv.Close()
		return nil, nil, err
	}
	d.env = env{stdout: e.stdout, stderr: e.stderr, clock: clk, stdoutTTY: e.stdoutTTY,
		getenv: func(k string) string {
			if k == "GITHUB_TOKEN" {
				return demoToken
			}
			return ""
		}}
	return d, func() { srv.Close() }, nil
}

func (d *demoSession) intro() {
	w := d.w
	fmt.Fprintf(w, "ghprune demo: a GitHub Packages simulator on %s (no token, no network)\n", d.url)
	fmt.Fprintf(w, "  org acme-corp: %s\n  user octocat (the token's own account): %s\n  user hubot (someone else; public packages only)\n",
		d.counts["acme-corp"], d.counts["octocat"])
	fmt.Fprintf(w, "  simulated time starts %s; deletes are paced at 60 a minute as on GitHub, the clock jumps instead of waiting\n", d.clk.Now().Format(time.RFC3339))
	fmt.Fprintf(w, "  config: %s\n", d.cfgPath)
}

func (d *demoSession) step(n int, title, cmd string) {
	fmt.Fprintf(d.w, "\n━━ %d. %s\n   $ %s\n\n", n, title, cmd)
}

func (d *demoSession) plan(ctx context.Context) int {
	d.step(2, "Plan (dry run, the default): every version gets a decision and a reason; nothing is sent but GETs", "ghprune plan -config ghprune.yaml")
	before := d.sim.Stats()
	if code := run(ctx, []string{"plan", "-config", d.cfgPath, "-format", "table", "-max-rows", d.maxRows}, d.env); code != 0 {
		return code
	}
	after := d.sim.Stats()
	fmt.Fprintf(d.w, "\n   simulator: %d API requests and %d manifest reads served during the plan, %d of them DELETE\n",
		after.APIRequests()-before.APIRequests(),
		after.ManifestFetches-before.ManifestFetches, after.ByOp["DELETE version"]-before.ByOp["DELETE version"])
	return exitOK
}

func (d *demoSession) explain(ctx context.Context) int {
	child := d.world.KeptChild
	d.step(3, "Explain: why an untagged platform manifest of the multi-platform image v3.0.0 survives \"untagged older than 7d\"",
		"ghprune explain -config ghprune.yaml -policy ci-images -package platform/api -version "+child[:19]+"…")
	before := d.sim.Stats()
	if code := run(ctx, []string{"explain", "-config", d.cfgPath, "-policy", "ci-images", "-package", "platform/api", "-version", child, "-format", "table"}, d.env); code != 0 {
		return code
	}
	fmt.Fprintf(d.w, "\n   manifests read again for this: %d (cached by digest in the journal)\n", d.sim.Stats().ManifestFetches-before.ManifestFetches)
	return exitOK
}

// apply returns apply's exit code; the demo goes on after a refusal.
func (d *demoSession) apply(ctx context.Context) int {
	d.step(4, "Apply: enforce policies delete, oldest first, each journaled before it is sent", "ghprune apply -config ghprune.yaml")
	start := d.clk.Now()
	code := run(ctx, []string{"apply", "-config", d.cfgPath, "-format", "table", "-max-rows", d.maxRows}, d.env)
	st := d.sim.Stats()
	fmt.Fprintf(d.w, "\n   simulator: %d versions deleted, %d refused by GitHub (the public cli version pulled 12,000 times: reported as skipped, the run went on; exit %d); %s of simulated time at 60 deletes a minute\n",
		st.Deletes, st.ByStatus[400], code, d.clk.Now().Sub(start).Round(time.Second))
	fmt.Fprintf(d.w, "   a second plan now keeps that version as download-limit without asking GitHub again\n")
	return code
}

func (d *demoSession) history(ctx context.Context, rid string) int {
	d.step(5, "History: the journal records every deletion and its restore deadline", "ghprune history -config ghprune.yaml")
	if code := run(ctx, []string{"history", "-config", d.cfgPath, "-format", "table"}, d.env); code != 0 {
		return code
	}
	var hist strings.Builder
	he := d.env
	he.stdout = &hist
	run(ctx, []string{"history", "-config", d.cfgPath, "-run", rid, "-format", "table"}, he)
	lines := strings.Split(strings.TrimSpace(hist.String()), "\n")
	fmt.Fprintf(d.w, "\n   $ ghprune history -config ghprune.yaml -run %s   (first rows of %d)\n", rid, len(lines)-2)
	printAbridged(d.w, lines, 5)
	return exitOK
}

// restore returns restore's exit code.
func (d *demoSession) restore(ctx context.Context, rid string) int {
	d.step(6, "Restore: on-call undoes the whole run with one command", "ghprune restore -config ghprune.yaml -run "+rid)
	var rest strings.Builder
	re := d.env
	re.stdout = &rest
	restoresBefore := d.sim.Stats().Restores
	rc := run(ctx, []string{"restore", "-config", d.cfgPath, "-run", rid, "-format", "table"}, re)
	printAbridged(d.w, strings.Split(strings.TrimSpace(rest.String()), "\n"), 4)
	restored := d.sim.Stats().Restores - restoresBefore
	active := 0
	for _, p := range d.world.Packages {
		for _, v := range d.sim.Versions(p.Owner, p.Type, p.Name) {
			if v.DeletedAt == nil {
				active++
			}
		}
	}
	fmt.Fprintf(d.w, "\n   simulator: %d versions restored (exit %d); %d of %d seeded versions are active again\n", restored, rc, active, d.counts["total"].n)
	return rc
}

// printAbridged prints lines 0 to head and the last line, with "…" for
// the lines left out between them.
func printAbridged(w io.Writer, lines []string, head int) {
	for i, l := range lines {
		if i <= head || i == len(lines)-1 {
			fmt.Fprintln(w, l)
		} else if i == head+1 {
			fmt.Fprintln(w, "   …")
		}
	}
}

// lastRunID returns the newest apply run in the demo's journal.
func lastRunID(ctx context.Context, cfgPath string) (int64, error) {
	cfg, err := policy.LoadFile(cfgPath)
	if err != nil {
		return 0, err
	}
	h, err := engine.OpenHistory(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	runs, err := h.Runs(ctx, 10)
	if err != nil {
		return 0, err
	}
	for _, r := range runs {
		if r.Kind == "apply" {
			return r.ID, nil
		}
	}
	return 0, fmt.Errorf("the apply step recorded no run")
}

const demoConfig = `# Written by 'ghprune demo' for its simulator.
version: 1
github:
  api_url: %[1]s
  registry_url: %[1]s
limits:
  mutations_per_minute: 60
state:
  path: %[2]s
policies:
  - name: ci-images
    schedule: "0 3 * * *"
    mode: enforce
    select: {owner: acme-corp, owner_type: org, package_type: container}
    protect:
      tags: ["latest", "v*"]
      newer_than: 48h
      keep_at_least: 3
    keep:
      - {name: recent-main, tags: ["main-*"], most_recent: 5}
    delete:
      - {name: pr-builds, tags: ["pr-*"], older_than: 14d}
      - {name: old-main, tags: ["main-*"], older_than: 30d}
      - {name: orphans, untagged: true, older_than: 7d}
    limits: {max_deletes_per_run: 2000, max_delete_percent: 98}
  - name: npm-prereleases
    mode: enforce
    select: {owner: acme-corp, owner_type: org, package_type: npm}
    delete:
      - {name: old-prereleases, prerelease: true, older_than: 30d}
    limits: {max_deletes_per_run: 100}
  - name: maven-snapshots
    mode: enforce
    select: {owner: acme-corp, owner_type: org, package_type: maven}
    protect: {keep_at_least: 2}
    delete:
      - {name: snapshots, versions: ["*-SNAPSHOT"], older_than: 7d}
    limits: {max_deletes_per_run: 100}
  - name: my-devcontainers
    mode: enforce
    select: {owner: octocat, owner_type: user, package_type: container}
    delete:
      - {name: orphans, untagged: true, older_than: 14d}
    limits: {max_deletes_per_run: 100}
  - name: hubot-report
    mode: plan
    select: {owner: hubot, owner_type: user, package_type: npm}
    delete:
      - {name: old, older_than: 180d}
`

type demoCount struct {
	pkgs, n int
}

func (c demoCount) String() string { return fmt.Sprintf("%d packages, %d versions", c.pkgs, c.n) }

// countDemo counts the seeded packages and versions by owner, and every
// version under "total".
func countDemo(sim *simulator.Server, pkgs []simulator.DemoPackage) map[string]demoCount {
	counts := map[string]demoCount{}
	for _, p := range pkgs {
		n := len(sim.Versions(p.Owner, p.Type, p.Name))
		c := counts[p.Owner]
		c.pkgs++
		c.n += n
		counts[p.Owner] = c
		t := counts["total"]
		t.n += n
		counts["total"] = t
	}
	return counts
}
