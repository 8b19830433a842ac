package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ghprune/ghprune/daemon"
	"github.com/ghprune/ghprune/simulator"
)

// hostileName is a package name that would run script, or a shell command,
// if the status page or its restore commands did not escape it.
const hostileName = `evil<script>window.pwned=1</script>'$(touch /tmp/pwned)`

// serveWithRun starts serve with an enforcing policy over a normal and a
// hostile package, and waits for its first run.
func serveWithRun(t *testing.T) (*harness, *daemonRig, string) {
	t.Helper()
	h := newHarness(t, simulator.Options{})
	h.seedLibs(2)
	h.pkg("acme", "npm", hostileName, "private",
		simulator.VersionSeed{Name: "0.1.0", CreatedAt: h.ago(60 * day)}, simulator.VersionSeed{Name: "0.2.0", CreatedAt: h.ago(day)})
	cfg := h.config("  - name: libs\n    schedule: \"@daily\"\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n    limits: {max_deletes_per_run: 10}\n")
	d := h.serve(t, cfg, testToken, "-run-on-start")
	waitFor(t, d.ran)
	return h, d, cfg
}

// The API answers any run from the journal, with what it deleted.
func TestServe_RunFromTheJournal(t *testing.T) {
	_, d, _ := serveWithRun(t)
	code, body := get(t, "GET", d.base+"/api/v1/runs/1")
	if code != 200 {
		t.Fatalf("/api/v1/runs/1 = %d %s", code, body)
	}
	if code, _ := get(t, "GET", d.base+"/api/v1/runs/99"); code != 404 {
		t.Errorf("/api/v1/runs/99 = %d, want 404", code)
	}
	code, body = get(t, "GET", d.base+"/api/v1/policies")
	var pols struct {
		Policies []struct {
			Name    string `json:"name"`
			Mode    string `json:"mode"`
			LastRun *struct {
				ID     int64  `json:"id"`
				Status string `json:"status"`
			} `json:"last_run"`
			NextRun *time.Time `json:"next_run"`
		} `json:"policies"`
	}
	if err := json.Unmarshal([]byte(body), &pols); err != nil || code != 200 || len(pols.Policies) != 1 {
		t.Fatalf("/api/v1/policies = %d %s", code, body)
	}
	p := pols.Policies[0]
	if p.Name != "libs" || p.Mode != "enforce" || p.NextRun == nil || p.LastRun == nil || p.LastRun.ID != 1 || p.LastRun.Status != "succeeded" {
		t.Errorf("policy = %+v", p)
	}
}

// /healthz fails when the scheduler stops beating; /readyz when the
// journal is gone; /-/reload answers POST only.
func TestServe_HealthMeansSomething(t *testing.T) {
	h, d, _ := serveWithRun(t)
	if code, _ := get(t, "GET", d.base+"/healthz"); code != 200 {
		t.Fatalf("/healthz = %d right after start", code)
	}
	stale := false
	for i := 0; i < 3 && !stale; i++ { // the real heartbeat may beat in between: then try again
		h.clock.Advance(daemon.StaleAfter + time.Second)
		code, body := get(t, "GET", d.base+"/healthz")
		stale = code == 503 && strings.Contains(body, "scheduler has not ticked")
	}
	if !stale {
		t.Error("/healthz stayed healthy although the scheduler did not beat")
	}
	if code, _ := get(t, "GET", d.base+"/-/reload"); code != 405 {
		t.Errorf("GET /-/reload = %d, want 405", code)
	}
	if code, _ := get(t, "GET", d.base+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d with a good journal and token", code)
	}
	os.Remove(filepath.Join(h.dir, "journal.db"))
	if code, body := get(t, "GET", d.base+"/readyz"); code != 503 || !strings.Contains(body, "journal") {
		t.Errorf("/readyz = %d %q without its journal", code, body)
	}
}

// The status page, driven in a real headless Chromium: what on-call sees is
// the policies, the runs and the restore commands, and a hostile package
// name is shown as text, not run.
func TestServe_StatusPageInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("GHPRUNE_REQUIRE_CHROMIUM") != "" {
			t.Fatal("GHPRUNE_REQUIRE_CHROMIUM is set but chromium is not on PATH")
		}
		t.Skip("chromium not installed (CI installs it and sets GHPRUNE_REQUIRE_CHROMIUM)")
	}
	_, d, cfg := serveWithRun(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(d.base+"/")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	get := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("chromium, %s: %v", what, err)
		}
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	get("title", err)
	text, err := chromedp.Run(ctx, chromedp.Text("body"))
	get("text", err)
	pwned, err := chromedp.Run(ctx, chromedp.Evaluate[string](`typeof window.pwned`))
	get("script", err)
	restorableRows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#restorable tr").length - 1`))
	get("rows", err)
	cmdRun, err := chromedp.Run(ctx, chromedp.Text("#restore-runs td code"))
	get("command", err)
	if title != "ghprune status" {
		t.Errorf("title %q", title)
	}
	for _, want := range []string{
		"Token: accepted", "libs", "@daily", "enforce", "succeeded",
		"3 deleted versions can still be restored",
		hostileName, // shown as text
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q:\n%s", want, text)
		}
	}
	if pwned != "undefined" {
		t.Errorf("the hostile package name ran as script (window.pwned is %s)", pwned)
	}
	if restorableRows != 3 {
		t.Errorf("%d restorable rows, want 3", restorableRows)
	}
	if want := "ghprune restore -config " + cfg + " -run 1"; cmdRun != want { // a temporary path needs no quoting
		t.Errorf("restore command %q, want %q", cmdRun, want)
	}
	if !strings.Contains(text, `-package 'evil<script>window.pwned=1</script>'\''$(touch /tmp/pwned)'`) &&
		!strings.Contains(text, "-version-id") {
		t.Errorf("no per-version restore command:\n%s", text)
	}
}
