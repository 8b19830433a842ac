package journal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *Journal {
	t.Helper()
	j, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func TestJournal_IntentCompleteRestore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state", "j.db")
	j := open(t, path)
	run, id := intendAndDelete(ctx, t, j)
	// A second handle on the same file, as `kubectl exec ghprune history` would have.
	other := openSecond(t, path)
	checkRestorable(ctx, t, j, other, run)
	checkRestored(ctx, t, j, id)
	checkFinishedRun(ctx, t, j, other, run)
}

// intendAndDelete records the intent to delete one version in a new apply
// run, checks that it is an open intent, and completes it as deleted.
func intendAndDelete(ctx context.Context, t *testing.T, j *Journal) (run, id int64) {
	t.Helper()
	run, err := j.StartRun(ctx, Run{Kind: "apply", Policies: []string{"a", "b"}, Mode: "enforce", Trigger: "cli", Actor: "octo", StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	d := Deletion{RunID: run, Policy: "a", OwnerType: "org", Owner: "acme", PackageType: "container", Package: "team/api",
		VersionID: 42, Version: "sha256:ab", Tags: []string{"pr-1"}, Rule: "delete:prs", Reason: "old", RequestedAt: t0}
	id, err = j.Intend(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	open, _ := j.Deletions(ctx, Filter{States: []string{StateIntent}})
	if len(open) != 1 || open[0].VersionID != 42 {
		t.Fatalf("open intents = %+v", open)
	}
	if err := j.Complete(ctx, id, StateDeleted, "", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	return run, id
}

// checkRestorable checks that the deletion of intendAndDelete is restorable
// for RestoreWindow after it completed, and no longer.
func checkRestorable(ctx context.Context, t *testing.T, j, other *Journal, run int64) {
	t.Helper()
	got, err := other.Deletions(ctx, Filter{RunID: run, Restorable: true, Now: t0.Add(29 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("restorable = %d rows, want 1", len(got))
	}
	wantUntil := t0.Add(time.Second + RestoreWindow)
	if !got[0].RestorableUntil.Equal(wantUntil) || got[0].State != StateDeleted || !cmp.Equal(got[0].Tags, []string{"pr-1"}) {
		t.Errorf("row = %+v", got[0])
	}
	if byTag, _ := other.Deletions(ctx, Filter{Tag: "pr-1"}); len(byTag) != 1 {
		t.Errorf("tag filter found %d", len(byTag))
	}
	if late, _ := j.Deletions(ctx, Filter{Restorable: true, Now: t0.Add(31 * 24 * time.Hour)}); len(late) != 0 {
		t.Errorf("past the window still restorable: %+v", late)
	}
	n, earliest, err := j.RestorableStats(ctx, t0)
	if err != nil || n != 1 || !earliest.Equal(wantUntil) {
		t.Errorf("RestorableStats = %d, %v, %v", n, earliest, err)
	}
}

// checkRestored marks deletion id restored by a restore run and checks that
// it is then neither restorable nor claimable.
func checkRestored(ctx context.Context, t *testing.T, j *Journal, id int64) {
	t.Helper()
	restoreRun, err := j.StartRun(ctx, Run{Kind: "restore", Mode: "restore", Trigger: "cli", Actor: "cli", StartedAt: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.MarkRestored(ctx, id, restoreRun, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if left, _ := j.Deletions(ctx, Filter{Restorable: true, Now: t0}); len(left) != 0 {
		t.Errorf("restored row still restorable")
	}
	if r, f, err := j.RestoreCounts(ctx); err != nil || r != 1 || f != 0 {
		t.Errorf("RestoreCounts = %d, %d, %v; want 1, 0", r, f, err)
	}
	if got, err := j.ClaimRestore(ctx, id, restoreRun, t0.Add(2*time.Hour)); err != nil || got != (ClaimResult{ClaimAlreadyRestored, restoreRun}) {
		t.Errorf("ClaimRestore of a restored row = %+v, %v; want already restored by run %d", got, err, restoreRun)
	}
}

// checkFinishedRun finishes run and reads it back through the other handle.
func checkFinishedRun(ctx context.Context, t *testing.T, j, other *Journal, run int64) {
	t.Helper()
	fin := t0.Add(time.Minute)
	if err := j.FinishRun(ctx, Run{ID: run, FinishedAt: &fin, Status: RunSucceeded, Planned: 1, Deleted: 1, APIRequests: 7}); err != nil {
		t.Fatal(err)
	}
	r, err := other.Run(ctx, run)
	if err != nil || r.Status != RunSucceeded || r.Deleted != 1 || r.APIRequests != 7 || !cmp.Equal(r.Policies, []string{"a", "b"}) {
		t.Errorf("run = %+v, %v", r, err)
	}
	if _, err := j.Run(ctx, 999); err == nil {
		t.Error("missing run: no error")
	}
}

func openSecond(t *testing.T, path string) *Journal { return open(t, path) }

func TestJournal_Refusals(t *testing.T) {
	ctx := context.Background()
	j := open(t, filepath.Join(t.TempDir(), "j.db"))
	k := VersionKey{"org", "acme", "npm", "lib", 7}
	for i := 0; i < 2; i++ { // recording twice is harmless
		if err := j.RecordRefusal(ctx, k, "download-limit", t0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := j.Refused(ctx, "org", "acme", "npm", "lib", "download-limit")
	if err != nil || !cmp.Equal(got, map[int64]bool{7: true}) {
		t.Errorf("Refused = %v, %v", got, err)
	}
	if other, _ := j.Refused(ctx, "org", "acme", "npm", "other", "download-limit"); len(other) != 0 {
		t.Errorf("refusal leaked to another package: %v", other)
	}
}

func TestJournal_PruneKeepsWhatIsRestorable(t *testing.T) {
	ctx := context.Background()
	j := open(t, filepath.Join(t.TempDir(), "j.db"))
	mk := func(start time.Time) int64 {
		id, _ := j.StartRun(ctx, Run{Kind: "apply", Mode: "enforce", Trigger: "cli", StartedAt: start})
		did, _ := j.Intend(ctx, Deletion{RunID: id, VersionID: id, RequestedAt: start})
		j.Complete(ctx, did, StateDeleted, "", start)
		end := start.Add(time.Minute)
		j.FinishRun(ctx, Run{ID: id, FinishedAt: &end, Status: RunSucceeded})
		return id
	}
	oldRun := mk(t0.Add(-100 * 24 * time.Hour))
	newRun := mk(t0.Add(-10 * 24 * time.Hour))
	n, err := j.Prune(ctx, t0, 90*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1 run", n, err)
	}
	if _, err := j.Run(ctx, oldRun); err == nil {
		t.Error("old run survived")
	}
	if _, err := j.Run(ctx, newRun); err != nil {
		t.Errorf("recent run pruned: %v", err)
	}
}

// Only failed, unrestored, still restorable rows set the deadline on-call
// is paged on; Ping notices a removed journal.
func TestJournal_FailedRestoreDeadlineAndPing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if d, err := j.FailedRestoreDeadline(ctx, now); err != nil || !d.IsZero() {
		t.Fatalf("empty journal: %v, %v", d, err)
	}
	run, err := j.StartRun(ctx, Run{Kind: "apply", Mode: "enforce", Trigger: "cli", Actor: "t", StartedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	deleted := func(v int64, at time.Time) int64 {
		id, err := j.Intend(ctx, Deletion{RunID: run, Policy: "p", OwnerType: "org", Owner: "o", PackageType: "npm", Package: "x", VersionID: v, Version: "1", RequestedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Complete(ctx, id, StateDeleted, "", at); err != nil {
			t.Fatal(err)
		}
		return id
	}
	deleted(1, now.Add(-time.Hour))                 // never asked to restore
	failed := deleted(2, now.Add(-28*24*time.Hour)) // restore failed, window closes in 2 days
	expired := deleted(3, now.Add(-40*24*time.Hour))
	for _, id := range []int64{failed, expired} {
		if err := j.MarkRestoreFailed(ctx, id, "reused name"); err != nil {
			t.Fatal(err)
		}
	}
	want := now.Add(-28 * 24 * time.Hour).Add(RestoreWindow)
	if d, err := j.FailedRestoreDeadline(ctx, now); err != nil || !d.Equal(want) {
		t.Errorf("deadline = %v, %v; want %v", d, err, want)
	}
	if err := j.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	os.Remove(path)
	if err := j.Ping(ctx); !errors.Is(err, ErrJournalReplaced) {
		t.Errorf("Ping after removal = %v, want ErrJournalReplaced", err)
	}
}

// Under the enforcing lock, an apply run stored as running whose liveness
// cannot be told (here: its lock file is gone) is interrupted: only one
// enforcing process can exist. Without the lock it is left as stored.
func TestMarkInterrupted_UnderTheLockSettlesRunsOfUnknownLiveness(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	old, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := old.StartRun(ctx, Run{Kind: "apply", Mode: "enforce", Trigger: "cli", Actor: "old", StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	old.Close() // the process is gone
	os.Remove(path + ".lock")
	j := open(t, path)
	if n, err := j.MarkInterrupted(ctx, t0); err != nil || n != 0 {
		t.Fatalf("without the lock: %d marked, %v; want 0 (liveness unknown)", n, err)
	}
	l, err := j.LockEnforce(HolderFor("ghprune apply", t0))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	os.Remove(path + ".lock") // liveness unknown again
	if n, err := j.MarkInterrupted(ctx, t0); err != nil || n != 1 {
		t.Fatalf("under the lock: %d marked, %v; want 1", n, err)
	}
	if r, _ := j.Run(ctx, id); r.Status != RunInterrupted {
		t.Errorf("status %q", r.Status)
	}
	if err := j.CheckFile(); !errors.Is(err, ErrLockReplaced) {
		t.Errorf("CheckFile with the lock file gone = %v, want ErrLockReplaced", err)
	}
}

// LastRun finds a policy's newest apply run by exact name, not by a name
// that contains it or a LIKE wildcard.
func TestJournal_LastRun(t *testing.T) {
	ctx := context.Background()
	j := open(t, filepath.Join(t.TempDir(), "j.db"))
	start := func(pols ...string) int64 {
		id, err := j.StartRun(ctx, Run{Kind: "apply", Policies: pols, Mode: "enforce", Trigger: "cli", Actor: "t", StartedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a1 := start("a")
	start("ab", "x_y")
	a2 := start("b", "a")
	for pol, want := range map[string]int64{"a": a2, "ab": a1 + 1, "x_y": a1 + 1, "b": a2} {
		r, ok, err := j.LastRun(ctx, pol)
		if err != nil || !ok || r.ID != want {
			t.Errorf("LastRun(%q) = %d, %v, %v; want %d", pol, r.ID, ok, err, want)
		}
	}
	for _, pol := range []string{"x", "xy", "x%y", "_"} {
		if r, ok, _ := j.LastRun(ctx, pol); ok {
			t.Errorf("LastRun(%q) found run %d", pol, r.ID)
		}
	}
}
