package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghprune/ghprune/simulator"
)

// syncBuffer is a bytes.Buffer safe for the daemon's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve runs the policies, serves health, readiness, runs and metrics
// without the token in any of them, reloads, and stops cleanly when its
// context ends (SIGTERM).
func TestServe_RunsPoliciesAndExportsMetrics(t *testing.T) {
	h := newHarness(t, simulator.Options{PrimaryLimit: 5000})
	h.pkg("acme", "npm", "lib", "private",
		simulator.VersionSeed{Name: "1.0.0", CreatedAt: h.ago(90 * day)},
		simulator.VersionSeed{Name: "2.0.0", CreatedAt: h.ago(day)})
	cfg := h.config("  - name: libs\n    schedule: \"@every 1h\"\n    mode: enforce\n    select: {owner: acme, owner_type: org, package_type: npm}\n    delete: [{name: old, older_than: 30d}]\n    limits: {max_deletes_per_run: 10}\n")
	addr := make(chan string, 1)
	ran := make(chan struct{}, 4)
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	e := env{stdout: &logs, stderr: &logs, clock: h.clock, getenv: func(string) string { return testToken },
		onListen: func(a string) { addr <- a }, onRun: func() { ran <- struct{}{} }}
	go func() {
		exited <- run(ctx, []string{"serve", "-config", cfg, "-listen", "127.0.0.1:0", "-run-on-start", "-log-level", "debug"}, e)
	}()
	base := "http://" + waitFor(t, addr)
	waitFor(t, ran)

	if code, body := get(t, "GET", base+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := get(t, "GET", base+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	if code, body := get(t, "GET", base+"/api/v1/runs"); code != 200 || !strings.Contains(body, `"status": "succeeded"`) || !strings.Contains(body, `"run_id": 1`) {
		t.Errorf("/api/v1/runs = %d %s", code, body)
	}
	if code, body := get(t, "GET", base+"/api/v1/runs/1"); code != 200 || !strings.Contains(body, `"state": "deleted"`) {
		t.Errorf("/api/v1/runs/1 = %d %s", code, body)
	}
	if code, body := get(t, "POST", base+"/-/reload"); code != 200 {
		t.Errorf("reload = %d %s", code, body)
	}
	_, metrics := get(t, "GET", base+"/metrics")
	for _, want := range []string{
		`ghprune_runs_total{policy="libs",result="success"} 1`,
		`ghprune_versions_deleted_total{policy="libs"} 1`,
		`ghprune_versions_scanned_total{policy="libs"} 2`,
		`ghprune_last_success_timestamp_seconds{policy="libs"}`,
		`ghprune_github_requests_total{code="204",operation="`,
		`ghprune_journal_restorable_versions 1`,
		`ghprune_journal_restores{result="restored"} 0`,
		`ghprune_config_reloads_total{result="success"} 1`,
		`ghprune_build_info{`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if h.sim.Stats().Deletes != 1 {
		t.Errorf("simulator deletes = %d, want 1", h.sim.Stats().Deletes)
	}
	cancel()
	if code := waitFor(t, exited); code != 0 {
		t.Errorf("serve exit %d after cancel", code)
	}
	for name, s := range map[string]string{"logs": logs.String(), "metrics": metrics} {
		if strings.Contains(s, testToken) {
			t.Errorf("token found in %s", name)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"version deleted"`) || !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("logs lack the delete or the clean stop:\n%s", logs.String())
	}
}

func waitFor[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for serve")
	}
	var zero T
	return zero
}
