package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghprune/ghprune/internal/clock"
	"github.com/ghprune/ghprune/simulator"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// ghpruneBinary builds the real binary once, for tests that need a second
// process.
func ghpruneBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ghprune-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ghprune")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// realRig is a simulator on loopback, in real time, with a handler in front
// that can act at the k-th DELETE, for tests with a child process.
type realRig struct {
	sim     *simulator.Server
	url     string
	dir     string
	cfg     string
	deletes atomic.Int32
}

// newRealRig starts the rig; onDel is fixed before the server starts so the
// handler reads it without a race.
func newRealRig(t *testing.T, versions int, onDel func(rig *realRig, n int32, w http.ResponseWriter, r *http.Request) bool) *realRig {
	t.Helper()
	rig := &realRig{dir: t.TempDir()}
	rig.cfg = filepath.Join(rig.dir, "ghprune.yaml") // before the server: its handler reads it
	rig.sim = simulator.New(simulator.Options{PrimaryLimit: 5000})
	rig.sim.AddToken(testToken, simulator.Token{Login: "octo", Scopes: []string{"read:packages", "write:packages", "delete:packages", "repo"}})
	rig.sim.AddOrg("acme", 100, "octo")
	rig.sim.AddPackage("acme", simulator.PackageSeed{Name: "lib", Type: "npm", Visibility: "private"})
	now := time.Now()
	for i := 0; i < versions; i++ {
		c := now.Add(-time.Duration(100-i) * 24 * time.Hour)
		rig.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: fmt.Sprintf("1.0.%d", i), CreatedAt: c, UpdatedAt: c})
	}
	c := now.Add(-time.Hour)
	rig.sim.AddVersion("acme", "npm", "lib", simulator.VersionSeed{Name: "2.0.0", CreatedAt: c, UpdatedAt: c})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && onDel != nil {
			if onDel(rig, rig.deletes.Add(1), w, r) { // true: handled
				return
			}
		}
		rig.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rig.url = srv.URL
	body := fmt.Sprintf(`version: 1
github: {api_url: %s}
limits: {mutations_per_minute: 180}
state: {path: %s}
policies:
  - name: libs
    mode: enforce
    select: {owner: acme, owner_type: org, package_type: npm}
    delete: [{name: old, older_than: 30d}]
`, rig.url, filepath.Join(rig.dir, "journal.db"))
	if err := os.WriteFile(rig.cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return rig
}

func (rig *realRig) deleted() int {
	n := 0
	for _, v := range rig.sim.Versions("acme", "npm", "lib") {
		if v.DeletedAt != nil {
			n++
		}
	}
	return n
}

func childCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GITHUB_TOKEN="+testToken)
	return cmd
}

// SIGKILL a real `apply` at 20 random points, before GitHub acts on a DELETE
// or after it deleted but before the answer arrives; each time `restore
// -since 1h` must leave nothing deleted: every intent the killed process
// left open is reconciled and what it deleted is restored.
func TestKill_ApplyAtRandomPoints_RestoreBringsEverythingBack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills real processes")
	}
	bin := ghpruneBinary(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	for i := 0; i < 20; i++ {
		killAt, afterGitHub := int32(1+r.IntN(6)), r.IntN(2) == 0
		t.Run(fmt.Sprintf("kill-%02d-at-delete-%d-after-%v", i, killAt, afterGitHub), func(t *testing.T) {
			var child atomic.Pointer[os.Process]
			rig := newRealRig(t, 8, func(rig *realRig, n int32, w http.ResponseWriter, req *http.Request) bool {
				if n != killAt {
					return false
				}
				if afterGitHub {
					rig.sim.ServeHTTP(httptest.NewRecorder(), req) // GitHub deletes; the answer is lost
				}
				if p := child.Load(); p != nil {
					p.Kill()
				}
				return true
			})
			cmd := childCmd(bin, "apply", "-config", rig.cfg, "-format", "json")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			child.Store(cmd.Process)
			err := cmd.Wait()
			if err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("apply was not killed: %v", err)
			}
			wantDeleted := int(killAt) - 1
			if afterGitHub {
				wantDeleted++
			}
			if got := rig.deleted(); got != wantDeleted {
				t.Fatalf("simulator has %d deleted before restore, want %d", got, wantDeleted)
			}
			var out strings.Builder
			code := run(context.Background(), []string{"restore", "-config", rig.cfg, "-since", "1h", "-format", "table"},
				env{stdout: &out, stderr: &out, clock: clock.Real{}, getenv: func(string) string { return testToken }})
			if code != 0 {
				t.Fatalf("restore exit %d:\n%s", code, out.String())
			}
			if got := rig.deleted(); got != 0 {
				t.Fatalf("%d versions still deleted after restore:\n%s", got, out.String())
			}
		})
	}
}

// history runs from a second process while apply is deleting.
func TestKill_HistoryFromSecondProcessDuringApply(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := ghpruneBinary(t)
	var mu sync.Mutex
	var histOut []byte
	var histErr error
	rig := newRealRig(t, 8, func(rig *realRig, n int32, w http.ResponseWriter, req *http.Request) bool {
		if n == 4 { // apply is mid-run: run 1 is open, three deletes journaled
			out, err := exec.Command(bin, "history", "-config", rig.cfg, "-run", "1", "-format", "json").CombinedOutput()
			mu.Lock()
			histOut, histErr = out, err
			mu.Unlock()
		}
		return false
	})
	out, err := childCmd(bin, "apply", "-config", rig.cfg, "-format", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if histErr != nil {
		t.Fatalf("history during apply: %v\n%s", histErr, histOut)
	}
	if n := strings.Count(string(histOut), `"state": "deleted"`); n != 3 {
		t.Errorf("history saw %d deletions mid-run, want 3:\n%s", n, histOut)
	}
	if strings.Contains(string(histOut), "locked") {
		t.Errorf("database locked:\n%s", histOut)
	}
}
