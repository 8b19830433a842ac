package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghprune/ghprune/daemon"
	"github.com/ghprune/ghprune/simulator"
)

// daemonRig runs serve in-process against the harness's simulator.
type daemonRig struct {
	base    string
	logs    *syncBuffer
	cancel  context.CancelFunc
	exited  chan int
	reloads chan error    // each reload decided, in order
	ran     chan struct{} // each scheduled run finished
}

func (h *harness) serve(t *testing.T, cfg, token string, extra ...string) *daemonRig {
	t.Helper()
	addr := make(chan string, 1)
	d := &daemonRig{logs: &syncBuffer{}, exited: make(chan int, 1), reloads: make(chan error, 64), ran: make(chan struct{}, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	e := env{stdout: d.logs, stderr: d.logs, clock: h.clock, getenv: func(string) string { return token },
		onListen: func(a string) { addr <- a },
		onRun:    func() { d.ran <- struct{}{} },
		onReload: func(err error) {
			select {
			case d.reloads <- err:
			default: // nobody is waiting for reloads in this test
			}
		}}
	go func() {
		d.exited <- run(ctx, append([]string{"serve", "-config", cfg, "-listen", "127.0.0.1:0", "-log-level", "debug"}, extra...), e)
	}()
	d.base = "http://" + waitFor(t, addr)
	t.Cleanup(func() {
		cancel()
		waitFor(t, d.exited)
	})
	return d
}

// Finding 12: /readyz with a refused token asks GitHub at most once a
// minute, however many probes come, and remembers the failure too.
func TestServe_ReadyzCachesTheTokenCheck(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(1)
	cfg := h.config("  - name: libs\n    schedule: \"@every 1h\"\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	d := h.serve(t, cfg, "ghp_RevokedToken00000000000000000000000000")
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(d.base + "/readyz")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d with a refused token, want 503", c)
		}
	}
	if n := h.sim.Stats().ByOp["GET /user"]; n != 1 {
		t.Fatalf("200 probes made %d token checks, want 1 (the one at start)", n)
	}
	h.clock.Advance(daemon.TokenCheckTTL + time.Second)
	get(t, "GET", d.base+"/readyz")
	get(t, "GET", d.base+"/readyz")
	if n := h.sim.Stats().ByOp["GET /user"]; n != 2 {
		t.Errorf("after a minute: %d token checks, want 2", n)
	}
}

// policiesNow reads /api/v1/policies as name -> next run.
func policiesNow(t *testing.T, base string) map[string]string {
	t.Helper()
	code, body := get(t, "GET", base+"/api/v1/policies")
	if code != 200 {
		t.Fatalf("/api/v1/policies = %d %s", code, body)
	}
	var out struct {
		Policies []struct {
			Name    string     `json:"name"`
			NextRun *time.Time `json:"next_run"`
		} `json:"policies"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	m := map[string]string{}
	for _, p := range out.Policies {
		m[p.Name] = "unscheduled"
		if p.NextRun != nil {
			m[p.Name] = p.NextRun.Format(time.RFC3339Nano)
		}
	}
	return m
}

// Finding 13: a reload that leaves a policy's schedule unchanged keeps its
// next run; an unchanged file is a no-op; an invalid one (an alias bomb
// among them) is refused and the running policies stay.
func TestServe_ReloadKeepsUnchangedSchedules(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(1)
	pol := func(name, schedule string) string {
		return "  - name: " + name + "\n    schedule: \"" + schedule + "\"\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n"
	}
	cfg := h.config(pol("a", "@every 10s") + pol("b", "@every 2h"))
	d := h.serve(t, cfg, testToken)
	before := policiesNow(t, d.base)
	for i := 0; i < 3; i++ {
		if code, body := get(t, "POST", d.base+"/-/reload"); code != 200 {
			t.Fatalf("reload = %d %s", code, body)
		}
	}
	if got := policiesNow(t, d.base); !mapsEqual(got, before) {
		t.Fatalf("an unchanged reload moved next runs: %v -> %v", before, got)
	}
	if n := strings.Count(d.logs.String(), `"msg":"config unchanged; nothing to reload"`); n != 3 {
		t.Errorf("%d no-op reloads logged, want 3", n)
	}

	h.config(pol("a", "@every 10s") + pol("b", "@every 3h") + pol("c", "@daily"))
	if code, body := get(t, "POST", d.base+"/-/reload"); code != 200 {
		t.Fatalf("reload = %d %s", code, body)
	}
	after := policiesNow(t, d.base)
	if after["a"] != before["a"] || after["b"] == before["b"] || after["c"] == "" || after["c"] == "unscheduled" {
		t.Errorf("next runs %v -> %v: a must keep its next run, b and c get new ones", before, after)
	}
	if !strings.Contains(d.logs.String(), `"schedules_kept":["a"]`) {
		t.Errorf("the reload did not keep a's schedule:\n%s", d.logs.String())
	}

	bomb := "version: 1\nx: &t \"a*\"\npolicies:\n  - &p\n    name: p\n    select: {owner: acme, owner_type: org, package_type: container}\n" +
		"    keep:\n      - &r {name: r, tags: [" + strings.TrimSuffix(strings.Repeat("*t, ", 200), ", ") + "]}\n" +
		strings.Repeat("      - *r\n", 199) + strings.Repeat("  - *p\n", 199)
	if err := os.WriteFile(cfg, []byte(bomb), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, "POST", d.base+"/-/reload"); code != http.StatusBadRequest || !strings.Contains(body, "alias") {
		t.Errorf("reload of an alias bomb = %d %.300s, want 400 about aliases", code, body)
	}
	if got := policiesNow(t, d.base); !mapsEqual(got, after) {
		t.Errorf("a refused reload changed the policies: %v -> %v", after, got)
	}
	// The file put back as the running config: good again, counted once.
	h.config(pol("a", "@every 10s") + pol("b", "@every 3h") + pol("c", "@daily"))
	if code, body := get(t, "POST", d.base+"/-/reload"); code != 200 {
		t.Fatalf("reload = %d %s", code, body)
	}
	_, m := get(t, "GET", d.base+"/metrics")
	for _, want := range []string{`ghprune_config_reloads_total{result="success"} 5`, `ghprune_config_reloads_total{result="failure"} 1`, "ghprune_config_last_reload_successful 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(m, "ghprune_config_"))
		}
	}
}

// A 401 in any run (a token revoked after the check) turns readiness and
// the token metric at once, without waiting for the next check.
func TestServe_A401InARunTurnsReadiness(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(1)
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/packages") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message": "Bad credentials"}`))
			return true
		}
		return false
	})
	cfg := h.configAt(api, "", "  - name: libs\n    schedule: \"@daily\"\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	d := h.serve(t, cfg, testToken, "-run-on-start")
	waitFor(t, d.ran)
	if code, _ := get(t, "GET", d.base+"/readyz"); code != 503 {
		t.Errorf("/readyz = %d after a 401, want 503", code)
	}
	if _, m := get(t, "GET", d.base+"/metrics"); !strings.Contains(m, "ghprune_token_accepted 0") {
		t.Errorf("token metric not 0 after a 401:\n%s", grepLines(m, "token"))
	}
}

// A token revoked after a successful check is noticed at the next check,
// a minute later, not never.
func TestServe_ReadyzNoticesARevokedToken(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	h.seedLibs(1)
	var revoked atomic.Bool
	api := h.front(func(w http.ResponseWriter, r *http.Request) bool {
		if revoked.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message": "Bad credentials"}`))
			return true
		}
		return false
	})
	cfg := h.configAt(api, "", "  - name: libs\n    schedule: \"@daily\"\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n")
	d := h.serve(t, cfg, testToken)
	if code, _ := get(t, "GET", d.base+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d with a good token", code)
	}
	revoked.Store(true)
	if code, _ := get(t, "GET", d.base+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d within the minute: the check is cached", code)
	}
	h.clock.Advance(daemon.TokenCheckTTL + time.Second)
	if code, _ := get(t, "GET", d.base+"/readyz"); code != 503 {
		t.Errorf("/readyz = %d a minute after the token was revoked, want 503", code)
	}
}
