package journal

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The second processes of these tests are this test binary run again with
// only TestHelperProcess selected; the environment says what it does.
const (
	helperEnv     = "GHPRUNE_JOURNAL_HELPER" // lock | run | claim
	helperPathEnv = "GHPRUNE_JOURNAL_PATH"
	helperRowEnv  = "GHPRUNE_JOURNAL_ROW" // deletion id, for claim
)

// TestHelperProcess is not a test: it is the second process of the tests
// below. It opens the journal, does its action, prints "ready <id>" and
// holds on until its stdin closes or it is killed.
func TestHelperProcess(t *testing.T) {
	action := os.Getenv(helperEnv)
	if action == "" {
		return
	}
	os.Exit(helperMain(action, os.Getenv(helperPathEnv), os.Getenv(helperRowEnv)))
}

func helperMain(action, path, row string) int {
	ctx := context.Background()
	j, err := OpenExisting(ctx, path)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	var id int64
	switch action {
	case "lock":
		_, err = j.LockEnforce(HolderFor("ghprune serve", t0))
	case "run":
		id, err = j.StartRun(ctx, Run{Kind: "apply", Mode: "enforce", Trigger: "schedule", Actor: "helper", StartedAt: t0})
	case "claim":
		id, err = j.StartRun(ctx, Run{Kind: "restore", Mode: "restore", Trigger: "cli", Actor: "helper", StartedAt: t0})
		if err == nil {
			var del int64
			del, err = strconv.ParseInt(row, 10, 64)
			if err == nil {
				var res ClaimResult
				res, err = j.ClaimRestore(ctx, del, id, t0)
				if err == nil && res.Outcome != ClaimWon {
					err = fmt.Errorf("claim: %+v", res)
				}
			}
		}
	default:
		err = fmt.Errorf("unknown action %q", action)
	}
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	fmt.Printf("ready %d\n", id)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// helper is a running second process.
type helper struct {
	cmd *exec.Cmd
	ID  int64 // the run it started, for run and claim
}

// startHelper starts a second process doing action on the journal at path
// and returns once it is ready.
func startHelper(t *testing.T, action, path string, row int64) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+action, helperPathEnv+"="+path, helperRowEnv+"="+strconv.FormatInt(row, 10))
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil { // closed by Wait; its closing ends the helper
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd}
	t.Cleanup(func() { h.kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	id, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if !ok {
		t.Fatalf("helper %s: %q, %v", action, line, err)
	}
	if h.ID, err = strconv.ParseInt(id, 10, 64); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

// kill sends SIGKILL and waits until the process is gone: the kernel has
// dropped its locks when Wait returns.
func (h *helper) kill() {
	h.cmd.Process.Kill()
	h.cmd.Wait()
}

func TestLockEnforce_RefusesSecondProcessUntilTheHolderDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, path)
	holder := startHelper(t, "lock", path, 0)

	_, err := j.LockEnforce(HolderFor("ghprune apply", t0.Add(time.Hour)))
	var locked *LockedError
	if !errors.As(err, &locked) || !errors.Is(err, ErrLocked) {
		t.Fatalf("LockEnforce while another process holds it = %v; want *LockedError", err)
	}
	host, _ := os.Hostname()
	want := &LockedError{Path: j.Path(), Holder: Holder{PID: holder.pid(), Host: host, Command: "ghprune serve", Since: t0}}
	if d := cmp.Diff(want, locked); d != "" {
		t.Errorf("LockedError (-want +got):\n%s", d)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("ghprune serve (pid %d on host %s)", holder.pid(), host)) {
		t.Errorf("error does not name the holder: %v", err)
	}

	holder.kill()
	l, err := j.LockEnforce(HolderFor("ghprune apply", t0.Add(time.Hour)))
	if err != nil {
		t.Fatalf("LockEnforce after the holder was killed: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestLockEnforce_RefusesSecondRunInTheSameProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, path)
	first, err := j.LockEnforce(HolderFor("ghprune serve", t0))
	if err != nil {
		t.Fatal(err)
	}
	// Another goroutine with its own handle, as a scheduled run beside a
	// manual one in one process.
	second := openSecond(t, path)
	errc := make(chan error)
	go func() {
		_, err := second.LockEnforce(HolderFor("ghprune apply", t0.Add(time.Hour)))
		errc <- err
	}()
	err = <-errc
	var locked *LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second LockEnforce in one process = %v; want *LockedError", err)
	}
	if locked.Holder.PID != os.Getpid() || locked.Holder.Command != "ghprune serve" {
		t.Errorf("holder = %+v; want this process's ghprune serve", locked.Holder)
	}
	if _, err := j.LockEnforce(HolderFor("ghprune apply", t0)); !errors.Is(err, ErrLocked) {
		t.Errorf("second LockEnforce on the same handle = %v; want ErrLocked", err)
	}

	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := j.LockEnforce(HolderFor("ghprune apply", t0))
	if err != nil {
		t.Fatalf("LockEnforce after Release: %v", err)
	}
	again.Release()
}

func TestLockedError_NamesHolderAndWhatToDo(t *testing.T) {
	err := &LockedError{Path: "/x/ghprune.db", Holder: Holder{PID: 4242, Host: "ghprune-7d9f", Command: "ghprune serve", Since: t0}}
	want := "journal /x/ghprune.db is in use by ghprune serve (pid 4242 on host ghprune-7d9f) since 2026-11-21T12:00:00Z; an enforcing run is already using it: wait for it to finish or stop it"
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err.Error(), want)
	}
}

func TestRuns_RunOfKilledProcessIsInterrupted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, path)
	dead := startHelper(t, "run", path, 0)
	live := startHelper(t, "run", path, 0)
	done, err := j.StartRun(ctx, Run{Kind: "apply", Mode: "enforce", Trigger: "cli", StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Minute)
	if err := j.FinishRun(ctx, Run{ID: done, FinishedAt: &end, Status: RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	mine, err := j.StartRun(ctx, Run{Kind: "apply", Mode: "enforce", Trigger: "cli", StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	dead.kill()

	statuses := func() map[int64]string {
		t.Helper()
		runs, err := j.Runs(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]string{}
		for _, r := range runs {
			out[r.ID] = r.Status
		}
		return out
	}
	want := map[int64]string{dead.ID: RunInterrupted, live.ID: RunRunning, done: RunSucceeded, mine: RunRunning}
	if d := cmp.Diff(want, statuses()); d != "" {
		t.Errorf("Runs statuses (-want +got):\n%s", d)
	}
	r, err := openSecond(t, path).Run(ctx, dead.ID)
	if err != nil || r.Status != RunInterrupted || r.PID != dead.pid() {
		t.Errorf("Run(killed) = %+v, %v; want interrupted, pid %d", r, err, dead.pid())
	}

	n, err := j.MarkInterrupted(ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("MarkInterrupted = %d, %v; want 1", n, err)
	}
	var stored, finished string
	if err := j.db.QueryRowContext(ctx, `SELECT status, finished_at FROM runs WHERE id=?`, dead.ID).Scan(&stored, &finished); err != nil {
		t.Fatal(err)
	}
	if stored != RunInterrupted || finished != fmtTime(t0.Add(time.Hour)) {
		t.Errorf("stored = %s, %s; want interrupted at %s", stored, finished, fmtTime(t0.Add(time.Hour)))
	}
	if n, err := j.MarkInterrupted(ctx, t0.Add(2*time.Hour)); err != nil || n != 0 {
		t.Errorf("second MarkInterrupted = %d, %v; want 0", n, err)
	}
	if d := cmp.Diff(want, statuses()); d != "" {
		t.Errorf("Runs statuses after MarkInterrupted (-want +got):\n%s", d)
	}
}

// deletedRow journals one deleted version and returns its row id.
func deletedRow(t *testing.T, j *Journal) int64 {
	t.Helper()
	ctx := context.Background()
	run, err := j.StartRun(ctx, Run{Kind: "apply", Mode: "enforce", Trigger: "cli", StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Intend(ctx, Deletion{RunID: run, Policy: "p", OwnerType: "org", Owner: "acme", PackageType: "npm", Package: "lib", VersionID: 7, Version: "1.0.0", RequestedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Complete(ctx, id, StateDeleted, "", t0); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Minute)
	if err := j.FinishRun(ctx, Run{ID: run, FinishedAt: &end, Status: RunSucceeded, Deleted: 1}); err != nil {
		t.Fatal(err)
	}
	return id
}

func startRestore(t *testing.T, j *Journal) int64 {
	t.Helper()
	id, err := j.StartRun(context.Background(), Run{Kind: "restore", Mode: "restore", Trigger: "cli", Actor: "cli", StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func claimedBy(t *testing.T, j *Journal, row int64) int64 {
	t.Helper()
	var by int64
	if err := j.db.QueryRow(`SELECT COALESCE(restore_claimed_by, 0) FROM deletions WHERE id=?`, row).Scan(&by); err != nil {
		t.Fatal(err)
	}
	return by
}

func TestClaimRestore_ClaimOfKilledProcessIsTakenOver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	j := open(t, path)
	row := deletedRow(t, j)
	holder := startHelper(t, "claim", path, row)
	mine := startRestore(t, j)

	// An hour on, past the old ten-minute TTL: a live claim still holds.
	got, err := j.ClaimRestore(ctx, row, mine, t0.Add(time.Hour))
	if err != nil || got != (ClaimResult{ClaimHeld, holder.ID}) {
		t.Fatalf("ClaimRestore beside a live claimer = %+v, %v; want held by run %d", got, err, holder.ID)
	}
	if by := claimedBy(t, j, row); by != holder.ID {
		t.Fatalf("claim moved to run %d while its holder lives", by)
	}

	holder.kill()
	// A minute on, well inside the TTL: a dead claimer's claim does not hold.
	got, err = j.ClaimRestore(ctx, row, mine, t0.Add(time.Minute))
	if err != nil || got != (ClaimResult{ClaimWon, mine}) {
		t.Fatalf("ClaimRestore after the claimer was killed = %+v, %v; want won", got, err)
	}
	if by := claimedBy(t, j, row); by != mine {
		t.Errorf("claimed by %d; want %d", by, mine)
	}
}

func TestClaimRestore_ClaimEndsWithItsRunOrAFailure(t *testing.T) {
	ctx := context.Background()
	j := open(t, filepath.Join(t.TempDir(), "j.db"))
	row := deletedRow(t, j)

	first := startRestore(t, j)
	if got, err := j.ClaimRestore(ctx, row, first, t0); err != nil || got.Outcome != ClaimWon {
		t.Fatalf("first claim = %+v, %v", got, err)
	}
	second := startRestore(t, j)
	if got, err := j.ClaimRestore(ctx, row, second, t0); err != nil || got != (ClaimResult{ClaimHeld, first}) {
		t.Fatalf("claim beside a running restore = %+v, %v; want held by %d", got, err, first)
	}
	end := t0.Add(time.Second)
	if err := j.FinishRun(ctx, Run{ID: first, FinishedAt: &end, Status: RunFailed}); err != nil {
		t.Fatal(err)
	}
	if got, err := j.ClaimRestore(ctx, row, second, t0); err != nil || got.Outcome != ClaimWon {
		t.Fatalf("claim after the holding run finished = %+v, %v; want won", got, err)
	}

	if err := j.MarkRestoreFailed(ctx, row, "500"); err != nil {
		t.Fatal(err)
	}
	third := startRestore(t, j)
	if got, err := j.ClaimRestore(ctx, row, third, t0); err != nil || got.Outcome != ClaimWon {
		t.Fatalf("claim after a failed restore = %+v, %v; want won", got, err)
	}
	if _, err := j.ClaimRestore(ctx, row, 999, t0); err == nil {
		t.Error("claim for a run this journal did not start: no error")
	}
}

func TestClaimRestore_ConcurrentClaimersOneWins(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	a, b := open(t, path), openSecond(t, path)
	row := deletedRow(t, a)
	runs := []int64{startRestore(t, a), startRestore(t, b)}

	// Both read the row unclaimed before either writes.
	var bothRead sync.WaitGroup
	bothRead.Add(2)
	for _, j := range []*Journal{a, b} {
		var once sync.Once
		j.claimRead = func() { once.Do(func() { bothRead.Done(); bothRead.Wait() }) }
	}
	got := make([]ClaimResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, j := range []*Journal{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = j.ClaimRestore(ctx, row, runs[i], t0)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	winner, loser := 0, 1
	if got[1].Outcome == ClaimWon {
		winner, loser = 1, 0
	}
	want := make([]ClaimResult, 2)
	want[winner] = ClaimResult{ClaimWon, runs[winner]}
	want[loser] = ClaimResult{ClaimHeld, runs[winner]}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
}

func TestOpenExisting_MissingJournalCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // as `ghprune history` run from the wrong directory
	_, err := OpenExisting(context.Background(), filepath.Join("state", "ghprune.db"))
	if !errors.Is(err, ErrNoJournal) {
		t.Fatalf("OpenExisting(missing) = %v; want ErrNoJournal", err)
	}
	if abs := filepath.Join(dir, "state", "ghprune.db"); !strings.Contains(err.Error(), abs) {
		t.Errorf("error %q does not name %s", err, abs)
	}
	if _, err := OpenExisting(context.Background(), "ghprune.db"); !errors.Is(err, ErrNoJournal) {
		t.Fatalf("OpenExisting(missing, no directory part) = %v; want ErrNoJournal", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("OpenExisting created %v", ents)
	}
}

func TestOpenExisting_OpensWhatOpenCreated(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	row := deletedRow(t, open(t, path))
	j, err := OpenExisting(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if ds, err := j.Deletions(ctx, Filter{}); err != nil || len(ds) != 1 || ds[0].ID != row {
		t.Errorf("Deletions = %+v, %v; want row %d", ds, err, row)
	}
	if j.Path() != path {
		t.Errorf("Path() = %s; want %s", j.Path(), path)
	}
}

// oldSchema is the schema before runs had pid/host and claims a run.
const oldSchema = `
CREATE TABLE IF NOT EXISTS runs (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	kind        TEXT NOT NULL,          -- apply | restore
	policies    TEXT NOT NULL,
	mode        TEXT NOT NULL,
	trigger     TEXT NOT NULL,          -- cli | schedule | demo
	actor       TEXT NOT NULL,
	started_at  TEXT NOT NULL,
	finished_at TEXT,
	status      TEXT NOT NULL,
	planned     INTEGER NOT NULL DEFAULT 0,
	deleted     INTEGER NOT NULL DEFAULT 0,
	failed      INTEGER NOT NULL DEFAULT 0,
	skipped     INTEGER NOT NULL DEFAULT 0,
	restored    INTEGER NOT NULL DEFAULT 0,
	api_requests INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deletions (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id           INTEGER NOT NULL REFERENCES runs(id),
	policy           TEXT NOT NULL,
	owner_type       TEXT NOT NULL,
	owner            TEXT NOT NULL,
	package_type     TEXT NOT NULL,
	package          TEXT NOT NULL,
	version_id       INTEGER NOT NULL,
	version          TEXT NOT NULL,
	tags             TEXT NOT NULL,     -- JSON array
	rule             TEXT NOT NULL,
	reason           TEXT NOT NULL,
	state            TEXT NOT NULL,
	error            TEXT NOT NULL DEFAULT '',
	requested_at     TEXT NOT NULL,
	deleted_at       TEXT,
	restorable_until TEXT,
	restored_at      TEXT,
	restore_run_id   INTEGER,
	restore_error    TEXT NOT NULL DEFAULT '',
	restore_claimed_at TEXT
);
CREATE INDEX IF NOT EXISTS deletions_run ON deletions(run_id);
CREATE INDEX IF NOT EXISTS deletions_pkg ON deletions(package_type, package);
CREATE INDEX IF NOT EXISTS deletions_state ON deletions(state, restorable_until);
CREATE TABLE IF NOT EXISTS manifests (
	digest     TEXT PRIMARY KEY,
	media_type TEXT NOT NULL,
	body       BLOB NOT NULL,
	fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
	owner_type   TEXT NOT NULL,
	owner        TEXT NOT NULL,
	package_type TEXT NOT NULL,
	package      TEXT NOT NULL,
	version_id   INTEGER NOT NULL,
	reason       TEXT NOT NULL,
	first_seen   TEXT NOT NULL,
	PRIMARY KEY (owner_type, owner, package_type, package, version_id, reason)
);
INSERT INTO runs (kind, policies, mode, trigger, actor, started_at, status) VALUES ('apply', 'p', 'enforce', 'cli', 'octo', '2026-11-21T12:00:00.000Z', 'running');
INSERT INTO deletions (run_id, policy, owner_type, owner, package_type, package, version_id, version, tags, rule, reason, state,
	requested_at, deleted_at, restorable_until, restore_claimed_at)
	VALUES (1, 'p', 'org', 'acme', 'npm', 'lib', 7, '1.0.0', '[]', 'r', 'old', 'deleted',
	'2026-11-21T12:00:00.000Z', '2026-11-21T12:00:00.000Z', '2026-12-21T12:00:00.000Z', '2026-11-21T12:00:00.000Z');
`

func TestOpen_MigratesOldJournal(t *testing.T) {
	for name, opener := range map[string]func(context.Context, string) (*Journal, error){"Open": Open, "OpenExisting": OpenExisting} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "j.db")
			old, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := old.ExecContext(ctx, oldSchema); err != nil {
				t.Fatal(err)
			}
			old.Close()

			j, err := opener(ctx, path)
			if err != nil {
				t.Fatalf("%s(old journal): %v", name, err)
			}
			defer j.Close()
			// The old ghprune took no liveness lock: its running run is
			// reported, and left, as stored.
			if r, err := j.Run(ctx, 1); err != nil || r.Status != RunRunning || r.PID != 0 {
				t.Errorf("old run = %+v, %v; want running, no pid", r, err)
			}
			if n, err := j.MarkInterrupted(ctx, t0.Add(time.Hour)); err != nil || n != 0 {
				t.Errorf("MarkInterrupted = %d, %v; want 0", n, err)
			}
			mine := startRestore(t, j)
			// The old claim has no run: it holds for its TTL.
			if got, err := j.ClaimRestore(ctx, 1, mine, t0.Add(time.Minute)); err != nil || got != (ClaimResult{ClaimHeld, 0}) {
				t.Errorf("claim inside an old claim's TTL = %+v, %v; want held", got, err)
			}
			if got, err := j.ClaimRestore(ctx, 1, mine, t0.Add(11*time.Minute)); err != nil || got != (ClaimResult{ClaimWon, mine}) {
				t.Errorf("claim past an old claim's TTL = %+v, %v; want won", got, err)
			}
			if r, err := j.Run(ctx, mine); err != nil || r.PID != os.Getpid() {
				t.Errorf("new run = %+v, %v; want pid %d", r, err, os.Getpid())
			}
		})
	}
}

func TestCheckFile_NoticesRemovedOrReplacedJournal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "j.db")
	j := open(t, path)
	row := deletedRow(t, j) // writes do not change the file
	if err := j.CheckFile(); err != nil {
		t.Fatalf("CheckFile of the opened file: %v", err)
	}

	other := filepath.Join(dir, "other.db")
	open(t, other).Close()
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if err := j.CheckFile(); !errors.Is(err, ErrJournalReplaced) {
		t.Errorf("CheckFile after a rename over the journal = %v; want ErrJournalReplaced", err)
	}
	if _, err := j.Intend(ctx, Deletion{RunID: 1, VersionID: row + 1, RequestedAt: t0}); !errors.Is(err, ErrJournalReplaced) {
		t.Errorf("Intend into a replaced journal = %v; want ErrJournalReplaced", err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := j.CheckFile(); !errors.Is(err, ErrJournalReplaced) {
		t.Errorf("CheckFile after the journal was removed = %v; want ErrJournalReplaced", err)
	}
}

func TestStateGone_IsNeverRestorable(t *testing.T) {
	ctx := context.Background()
	j := open(t, filepath.Join(t.TempDir(), "j.db"))
	start := t0.Add(-100 * 24 * time.Hour)
	run, err := j.StartRun(ctx, Run{Kind: "apply", Mode: "enforce", Trigger: "cli", StartedAt: start})
	if err != nil {
		t.Fatal(err)
	}
	id, err := j.Intend(ctx, Deletion{RunID: run, VersionID: 7, RequestedAt: start})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Complete(ctx, id, StateGone, "404: deleted before this run", start); err != nil {
		t.Fatal(err)
	}
	ds, err := j.Deletions(ctx, Filter{RunID: run})
	if err != nil || len(ds) != 1 || ds[0].State != StateGone || ds[0].DeletedAt != nil || ds[0].RestorableUntil != nil {
		t.Fatalf("gone row = %+v, %v; want state gone, no deleted_at or restorable_until", ds, err)
	}
	if r, _ := j.Deletions(ctx, Filter{Restorable: true, Now: start}); len(r) != 0 {
		t.Errorf("gone row listed as restorable: %+v", r)
	}
	if n, _, err := j.RestorableStats(ctx, start); err != nil || n != 0 {
		t.Errorf("RestorableStats = %d, %v; want 0", n, err)
	}
	restore := startRestore(t, j)
	if got, err := j.ClaimRestore(ctx, id, restore, start); err != nil || got.Outcome != ClaimNotDeleted {
		t.Errorf("ClaimRestore(gone) = %+v, %v; want not deleted", got, err)
	}
	end := start.Add(time.Minute)
	if err := j.FinishRun(ctx, Run{ID: run, FinishedAt: &end, Status: RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	// Nothing to restore keeps the run: it is pruned like any old run.
	if n, err := j.Prune(ctx, t0, 90*24*time.Hour); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v; want the run with only a gone row pruned", n, err)
	}
	if err := j.Complete(ctx, id, "vanished", "", t0); err == nil {
		t.Error("Complete with an unknown state: no error")
	}
}
