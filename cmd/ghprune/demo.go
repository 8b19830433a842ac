package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/policy"
	"github.com/ghprune/ghprune/simulator"
)

// demoToken is the simulator's token for the demo's own account; it is not
// a GitHub credential.
const demoToken = "ghp_demo0000000000000000000000000000000"

// cmdDemo starts the simulator on loopback with a realistic organization and
// walks through plan, apply, history and restore against it. It runs in
// simulated time: deletes are paced at the configured 60 a minute, as
// against GitHub, but the clock jumps instead of sleeping.
func cmdDemo(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	keep := fs.String("dir", "", "keep the demo's config and journal in `dir` (default: a temporary directory, removed after)")
	rows := fs.Int("max-rows", 6, "versions listed per package in the tables")
	if code, ok := parseFlags(fs, args, e); !ok {
		return code
	}
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ghprune-demo-")
		if err != nil {
			fmt.Fprintf(e.stderr, "ghprune demo: %v\n", err)
			return exitFailed
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		fmt.Fprintf(e.stderr, "ghprune demo: %v\n", err)
		return exitFailed
	}
	// The simulator starts afresh every time, so must its journal: an old
	// journal's refusals would name versions of an earlier simulator.
	for _, f := range []string{"journal.db", "journal.db-wal", "journal.db-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	clk := clock.NewFake(e.clock.Now().UTC().Truncate(time.Second))
	sim := simulator.New(simulator.Options{Clock: clk, PrimaryLimit: 5000, MutationSpacing: time.Second})
	counts, child, err := seedDemo(sim, clk.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune demo: seed: %v\n", err)
		return exitFailed
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune demo: %v\n", err)
		return exitFailed
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	cfgPath := filepath.Join(dir, "ghprune.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(demoConfig, url, filepath.Join(dir, "journal.db"))), 0o600); err != nil {
		fmt.Fprintf(e.stderr, "ghprune demo: %v\n", err)
		return exitFailed
	}
	de := env{stdout: e.stdout, stderr: e.stderr, clock: clk, stdoutTTY: e.stdoutTTY,
		getenv: func(k string) string {
			if k == "GITHUB_TOKEN" {
				return demoToken
			}
			return ""
		}}
	w := e.stdout
	step := func(n int, title, cmd string) {
		fmt.Fprintf(w, "\n━━ %d. %s\n   $ %s\n\n", n, title, cmd)
	}
	fmt.Fprintf(w, "ghprune demo: a GitHub Packages simulator on %s (no token, no network)\n", url)
	fmt.Fprintf(w, "  org acme-corp: %s\n  user octocat (the token's own account): %s\n  user hubot (someone else; public packages only)\n",
		counts["acme-corp"], counts["octocat"])
	fmt.Fprintf(w, "  simulated time starts %s; deletes are paced at 60 a minute as on GitHub, the clock jumps instead of waiting\n", clk.Now().Format(time.RFC3339))
	fmt.Fprintf(w, "  config: %s\n", cfgPath)

	step(1, "Validate the policies", "ghprune validate -config ghprune.yaml")
	if code := run(ctx, []string{"validate", "-config", cfgPath}, de); code != 0 {
		return code
	}
	maxRows := fmt.Sprint(*rows)
	step(2, "Plan (dry run, the default): every version gets a decision and a reason; nothing is sent but GETs", "ghprune plan -config ghprune.yaml")
	before := sim.Stats()
	if code := run(ctx, []string{"plan", "-config", cfgPath, "-format", "table", "-max-rows", maxRows}, de); code != 0 {
		return code
	}
	after := sim.Stats()
	fmt.Fprintf(w, "\n   simulator: %d API requests and %d manifest reads served during the plan, %d of them DELETE\n",
		after.Requests-before.Requests-(after.ByOp["GET manifest"]-before.ByOp["GET manifest"])-(after.ByOp["GET token"]-before.ByOp["GET token"])-(after.ByOp["GET /v2/"]-before.ByOp["GET /v2/"]),
		after.ManifestFetches-before.ManifestFetches, after.ByOp["DELETE version"]-before.ByOp["DELETE version"])

	step(3, "Explain: why an untagged platform manifest of the multi-platform image v3.0.0 survives \"untagged older than 7d\"",
		"ghprune explain -config ghprune.yaml -policy ci-images -package platform/api -version "+child[:19]+"…")
	before = sim.Stats()
	if code := run(ctx, []string{"explain", "-config", cfgPath, "-policy", "ci-images", "-package", "platform/api", "-version", child, "-format", "table"}, de); code != 0 {
		return code
	}
	fmt.Fprintf(w, "\n   manifests read again for this: %d (cached by digest in the journal)\n", sim.Stats().ManifestFetches-before.ManifestFetches)

	step(4, "Apply: enforce policies delete, oldest first, each journaled before it is sent", "ghprune apply -config ghprune.yaml")
	start := clk.Now()
	code := run(ctx, []string{"apply", "-config", cfgPath, "-format", "table", "-max-rows", maxRows}, de)
	st := sim.Stats()
	fmt.Fprintf(w, "\n   simulator: %d versions deleted, %d refused by GitHub (the public cli version pulled 12,000 times: reported as skipped, the run went on; exit %d); %s of simulated time at 60 deletes a minute\n",
		st.Deletes, st.ByStatus[400], code, clk.Now().Sub(start).Round(time.Second))
	fmt.Fprintf(w, "   a second plan now keeps that version as download-limit without asking GitHub again\n")

	runID, err := lastRunID(ctx, cfgPath)
	if err != nil {
		fmt.Fprintf(e.stderr, "ghprune demo: %v\n", err)
		return exitFailed
	}
	rid := fmt.Sprint(runID)
	step(5, "History: the journal records every deletion and its restore deadline", "ghprune history -config ghprune.yaml")
	if code := run(ctx, []string{"history", "-config", cfgPath, "-format", "table"}, de); code != 0 {
		return code
	}
	var hist strings.Builder
	he := de
	he.stdout = &hist
	run(ctx, []string{"history", "-config", cfgPath, "-run", rid, "-format", "table"}, he)
	lines := strings.Split(strings.TrimSpace(hist.String()), "\n")
	fmt.Fprintf(w, "\n   $ ghprune history -config ghprune.yaml -run %s   (first rows of %d)\n", rid, len(lines)-2)
	for i, l := range lines {
		if i <= 5 || i == len(lines)-1 {
			fmt.Fprintln(w, l)
		} else if i == 6 {
			fmt.Fprintln(w, "   …")
		}
	}

	step(6, "Restore: on-call undoes the whole run with one command", "ghprune restore -config ghprune.yaml -run "+rid)
	var rest strings.Builder
	re := de
	re.stdout = &rest
	restoresBefore := sim.Stats().Restores
	rc := run(ctx, []string{"restore", "-config", cfgPath, "-run", rid, "-format", "table"}, re)
	rl := strings.Split(strings.TrimSpace(rest.String()), "\n")
	for i, l := range rl {
		if i <= 4 || i == len(rl)-1 {
			fmt.Fprintln(w, l)
		} else if i == 5 {
			fmt.Fprintln(w, "   …")
		}
	}
	restored := sim.Stats().Restores - restoresBefore
	active := 0
	for _, p := range demoPackages {
		for _, v := range sim.Versions(p[0], p[1], p[2]) {
			if v.DeletedAt == nil {
				active++
			}
		}
	}
	fmt.Fprintf(w, "\n   simulator: %d versions restored (exit %d); %d of %d seeded versions are active again\n", restored, rc, active, counts["total"].n)
	if rc != 0 || code != 0 {
		return exitFailed
	}
	fmt.Fprintln(w, "\nDone. Point -config at a file like configs/ghcr-services.yaml and GITHUB_TOKEN at a classic PAT to plan against GitHub.")
	return exitOK
}

// lastRunID returns the newest apply run in the demo's journal.
func lastRunID(ctx context.Context, cfgPath string) (int64, error) {
	cfg, err := policy.LoadFile(cfgPath)
	if err != nil {
		return 0, err
	}
	j, err := journal.Open(ctx, cfg.State.Path)
	if err != nil {
		return 0, err
	}
	defer j.Close()
	runs, err := j.Runs(ctx, 10)
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

// demoPackages lists the seeded packages, to count what is active.
var demoPackages = [][3]string{
	{"acme-corp", "container", "ci/web"}, {"acme-corp", "container", "ci/runner-cache"}, {"acme-corp", "container", "cli"},
	{"acme-corp", "container", "platform/api"},
	{"acme-corp", "npm", "design-system"}, {"acme-corp", "maven", "com.acme.billing"},
	{"octocat", "container", "devcontainer"}, {"hubot", "npm", "hubot-scripts"},
}

type demoCount struct {
	pkgs, n int
}

func (c demoCount) String() string { return fmt.Sprintf("%d packages, %d versions", c.pkgs, c.n) }

// seedDemo fills sim with a realistic organization and two users.
// seedDemo also returns the digest of an untagged platform manifest of a
// tagged multi-platform image, for the explain step.
func seedDemo(sim *simulator.Server, now time.Time) (map[string]demoCount, string, error) {
	sim.AddToken(demoToken, simulator.Token{Login: "octocat", Scopes: []string{"read:packages", "write:packages", "delete:packages", "repo"}})
	sim.AddOrg("acme-corp", 9919, "octocat")
	sim.AddUser("octocat", 583231)
	sim.AddUser("hubot", 480938)
	counts := map[string]demoCount{}
	var errs []error
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const day = 24 * time.Hour
	add := func(owner, typ, name, vis string, vs []simulator.VersionSeed) {
		if err := sim.AddPackage(owner, simulator.PackageSeed{Name: name, Type: typ, Visibility: vis, CreatedAt: ago(500 * day)}); err != nil {
			errs = append(errs, err)
			return
		}
		for _, v := range vs {
			if v.UpdatedAt.IsZero() {
				v.UpdatedAt = v.CreatedAt
			}
			if _, err := sim.AddVersion(owner, typ, name, v); err != nil {
				errs = append(errs, err)
			}
		}
		c := counts[owner]
		c.pkgs++
		c.n += len(vs)
		counts[owner] = c
		t := counts["total"]
		t.n += len(vs)
		counts["total"] = t
	}
	img := func(name string, i int, age time.Duration, tags ...string) simulator.VersionSeed {
		m := simulator.ImageManifest(simulator.MediaOCIManifest, fmt.Sprint(name, i), 30<<20, 5<<20, int64(i%7+1)<<20)
		return simulator.VersionSeed{Manifest: m, Tags: tags, CreatedAt: ago(age), UpdatedAt: ago(age)}
	}
	// multiPlatform is a buildx image: an index, two platform manifests and
	// their attestations, the children untagged as on ghcr.io.
	multiPlatform := func(name string, age time.Duration, tags ...string) []simulator.VersionSeed {
		var children []simulator.Descriptor
		var vs []simulator.VersionSeed
		for _, arch := range []string{"amd64", "arm64"} {
			m := simulator.ImageManifest(simulator.MediaOCIManifest, name+arch, 40<<20, 8<<20)
			d := simulator.Describe(simulator.MediaOCIManifest, m)
			d.Platform = &simulator.Platform{OS: "linux", Architecture: arch}
			att := simulator.ImageManifest(simulator.MediaOCIManifest, name+arch+"-att", 4<<10)
			ad := simulator.Describe(simulator.MediaOCIManifest, att)
			ad.Platform = &simulator.Platform{OS: "unknown", Architecture: "unknown"}
			ad.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d.Digest}
			children = append(children, d, ad)
			vs = append(vs, simulator.VersionSeed{Manifest: m, CreatedAt: ago(age), UpdatedAt: ago(age)},
				simulator.VersionSeed{Manifest: att, CreatedAt: ago(age), UpdatedAt: ago(age)})
		}
		idx := simulator.Index(simulator.MediaOCIIndex, children...)
		return append(vs, simulator.VersionSeed{Manifest: idx, Tags: tags, CreatedAt: ago(age), UpdatedAt: ago(age)})
	}
	// ci/web: main and PR builds, releases, orphans.
	var web []simulator.VersionSeed
	for i := 0; i < 12; i++ {
		web = append(web, img("web-main", i, time.Duration(3*i+1)*day, fmt.Sprintf("main-%d", 100-i)))
	}
	for i := 0; i < 10; i++ {
		web = append(web, img("web-pr", i, time.Duration(4*i+2)*day, fmt.Sprintf("pr-%d", 400-i)))
	}
	web = append(web, img("web-rel", 0, 60*day, "v1.4.0", "latest"), img("web-rel", 1, 120*day, "v1.3.0"))
	for i := 0; i < 8; i++ {
		web = append(web, img("web-orphan", i, time.Duration(5*i+3)*day))
	}
	add("acme-corp", "container", "ci/web", "private", web)
	// platform/api: multi-platform images. The tagged one's untagged
	// children and attestations must survive "untagged older than 7d"; the
	// old untagged index goes with its children; a signature follows its image.
	api := multiPlatform("api-v3", 20*day, "v3.0.0", "latest")
	api = append(api, multiPlatform("api-old", 60*day)...)
	signed := img("api-hotfix", 0, 45*day)
	signedDigest := simulator.Digest(signed.Manifest)
	sig := img("api-hotfix-sig", 0, 45*day, "sha256-"+strings.TrimPrefix(signedDigest, "sha256:")+".sig")
	api = append(api, signed, sig)
	add("acme-corp", "container", "platform/api", "private", api)
	// ci/runner-cache: 1,200 untagged cache layers and one tag.
	cache := []simulator.VersionSeed{img("cache", 0, 6*time.Hour, "latest")}
	for i := 1; i < 1200; i++ {
		cache = append(cache, img("cache", i, time.Duration(i)*6*time.Hour))
	}
	add("acme-corp", "container", "ci/runner-cache", "private", cache)
	// cli: public, one old untagged version pulled more than 5,000 times.
	hot := img("cli", 1, 90*day)
	hot.Downloads = 12000
	cli := []simulator.VersionSeed{img("cli", 0, 10*day, "v2.0.0", "latest"), hot}
	for i := 2; i < 7; i++ {
		cli = append(cli, img("cli", i, time.Duration(20+i*10)*day))
	}
	add("acme-corp", "container", "cli", "public", cli)
	// design-system: npm with prereleases.
	var npm []simulator.VersionSeed
	for i, v := range []string{"3.0.0", "3.1.0-beta.1", "3.1.0-beta.2", "3.1.0", "3.2.0-rc.1", "3.2.0-rc.2", "3.2.0", "4.0.0-alpha.1"} {
		npm = append(npm, simulator.VersionSeed{Name: v, CreatedAt: ago(time.Duration(90-10*i) * day)})
	}
	add("acme-corp", "npm", "design-system", "private", npm)
	var mvn []simulator.VersionSeed
	for i := 0; i < 6; i++ {
		mvn = append(mvn, simulator.VersionSeed{Name: fmt.Sprintf("2.%d.0-SNAPSHOT", i), CreatedAt: ago(time.Duration(40-6*i) * day)})
	}
	mvn = append(mvn, simulator.VersionSeed{Name: "1.9.0", CreatedAt: ago(100 * day)})
	add("acme-corp", "maven", "com.acme.billing", "private", mvn)
	var dev []simulator.VersionSeed
	dev = append(dev, img("dev", 0, 2*day, "latest"))
	for i := 1; i < 6; i++ {
		dev = append(dev, img("dev", i, time.Duration(i*10)*day))
	}
	add("octocat", "container", "devcontainer", "private", dev)
	add("hubot", "npm", "hubot-scripts", "public", []simulator.VersionSeed{
		{Name: "2.0.0", CreatedAt: ago(900 * day)}, {Name: "2.19.0", CreatedAt: ago(400 * day)}, {Name: "3.0.0", CreatedAt: ago(30 * day)}})
	return counts, simulator.Digest(api[0].Manifest), errors.Join(errs...)
}
