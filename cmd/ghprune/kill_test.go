package main

import (
	"context"
	"errors"
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
	// onRestore, when set, sees each POST …/restore first: true means it
	// answered the request itself.
	onRestore atomic.Pointer[func(n int32, w http.ResponseWriter, r *http.Request) bool]
	restores  atomic.Int32
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
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/restore") {
			if f := rig.onRestore.Load(); f != nil && (*f)(rig.restores.Add(1), w, r) {
				return
			}
		}
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

// run runs a ghprune command in-process against the rig, in real time.
func (rig *realRig) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out syncBuffer
	args = append([]string{args[0], "-config", rig.cfg}, args[1:]...)
	code := run(context.Background(), args, env{stdout: &out, stderr: &out, clock: clock.Real{}, getenv: func(string) string { return testToken }})
	return code, out.String()
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
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and kills real processes")
	}
	bin := ghpruneBinary(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	// Each kill has its own simulator, journal and process, and spends its
	// time waiting on the real pace: six at a time, whatever GOMAXPROCS
	// (t.Parallel would run two on two cores).
	var wg sync.WaitGroup
	slots := make(chan struct{}, 6)
	defer wg.Wait()
	for i := 0; i < 20; i++ {
		killAt, afterGitHub := int32(1+r.IntN(6)), r.IntN(2) == 0
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
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
				// The killed run shows as interrupted, not running forever, and
				// what history and a dry run promise is what the restore does.
				if _, out := rig.run(t, "history", "-format", "json"); !strings.Contains(out, `"status": "interrupted"`) {
					t.Errorf("history does not show the killed run as interrupted:\n%s", out)
				}
				// history reads only the journal: it lists the open intent the
				// kill left (deleted or not, GitHub will tell the restore).
				_, hist := rig.run(t, "history", "-restorable", "-format", "json")
				if n, open := strings.Count(hist, `"version_id"`), strings.Count(hist, `"state": "intent"`); n != int(killAt) || open != 1 {
					t.Errorf("history -restorable lists %d versions (%d open intents), want %d with 1 open intent:\n%s", n, open, killAt, hist)
				}
				_, dry := rig.run(t, "restore", "-since", "1h", "-dry-run", "-format", "json")
				if n := strings.Count(dry, `"result": "would-restore"`); n != wantDeleted {
					t.Errorf("restore -dry-run would restore %d, want %d:\n%s", n, wantDeleted, dry)
				}
				code, out := rig.run(t, "restore", "-since", "1h", "-format", "json")
				if code != 0 {
					t.Fatalf("restore exit %d:\n%s", code, out)
				}
				if n := strings.Count(out, `"result": "restored"`); n != wantDeleted {
					t.Errorf("restore restored %d, the dry run promised %d", n, wantDeleted)
				}
				if got := rig.deleted(); got != 0 {
					t.Fatalf("%d versions still deleted after restore:\n%s", got, out)
				}
			})
		}()
	}
}

// history runs from a second process while apply is deleting.
func TestKill_HistoryFromSecondProcessDuringApply(t *testing.T) {
	t.Parallel()
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

// Two enforcing processes on one journal: the second is refused while the
// first deletes, naming it, and every version is deleted and journaled once.
func TestKill_SecondApplyProcessIsRefused(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := ghpruneBinary(t)
	var second []byte
	var secondErr error
	rig := newRealRig(t, 6, func(rig *realRig, n int32, w http.ResponseWriter, req *http.Request) bool {
		if n == 2 { // the first apply holds the journal, mid-run
			second, secondErr = childCmd(bin, "apply", "-config", rig.cfg, "-format", "json").CombinedOutput()
		}
		return false
	})
	out, err := childCmd(bin, "apply", "-config", rig.cfg, "-format", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("first apply: %v\n%s", err, out)
	}
	var ee *exec.ExitError
	if !errors.As(secondErr, &ee) || ee.ExitCode() != exitFailed || !strings.Contains(string(second), "is in use by ghprune apply (pid ") {
		t.Fatalf("second apply: %v, want exit 1 naming the first:\n%s", secondErr, second)
	}
	if n := rig.deletes.Load(); n != 6 {
		t.Errorf("%d DELETEs sent for 6 versions", n)
	}
	_, hist := rig.run(t, "history", "-run", "1", "-format", "json")
	if n := strings.Count(hist, `"state": "deleted"`); n != 6 {
		t.Errorf("journal has %d deletions for 6 versions:\n%s", n, hist)
	}
}

// A restore killed mid-way leaves no claim behind that blocks the next
// one: the second restore brings everything back and exits 0.
func TestKill_RestoreKilledMidwayIsFinishedByTheNext(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and kills real processes")
	}
	bin := ghpruneBinary(t)
	rig := newRealRig(t, 5, nil)
	if code, out := rig.run(t, "apply", "-format", "json"); code != 0 {
		t.Fatalf("apply exit %d\n%s", code, out)
	}
	if rig.deleted() != 5 {
		t.Fatalf("%d deleted, want 5", rig.deleted())
	}
	var child atomic.Pointer[os.Process]
	kill := func(n int32, w http.ResponseWriter, r *http.Request) bool {
		if n != 3 {
			return false
		}
		rig.sim.ServeHTTP(httptest.NewRecorder(), r) // GitHub restores; the answer is lost
		if p := child.Load(); p != nil {
			p.Kill()
		}
		return true
	}
	rig.onRestore.Store(&kill)
	cmd := childCmd(bin, "restore", "-config", rig.cfg, "-run", "1", "-format", "json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Store(cmd.Process)
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("restore was not killed: %v", err)
	}
	rig.onRestore.Store(nil)
	code, out := rig.run(t, "restore", "-run", "1", "-format", "json")
	if code != 0 {
		t.Fatalf("second restore exit %d:\n%s", code, out)
	}
	if got := rig.deleted(); got != 0 {
		t.Fatalf("%d versions still deleted after the second restore:\n%s", got, out)
	}
}
