package executor

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/journal"
)

// Reconciled counts what Reconcile settled.
type Reconciled struct {
	Deleted    int // GitHub has it deleted: recorded, restorable until deleted_at + 30 days
	NotDeleted int // still there: the process stopped before the DELETE took effect
	Unknown    int // could not be learned now: left open for the next start
	InFlight   int // the intent of a run still alive: its own process completes it
	// Settled is each settled intent as it is (or, in a dry run, would be)
	// recorded, by journal row id.
	Settled map[int64]journal.Deletion
}

// Reconcile settles the intents a stopped process left open (killed between
// journaling a delete and recording the answer, or an answer that never
// came): a version GitHub lists as deleted is recorded as deleted, with
// GitHub's deleted_at, so it is restorable; one that still exists is
// recorded as not deleted. The intents of a run whose process is alive are
// in flight and left to it. With dryRun the journal is not written: the
// result says what a real reconcile would record, so that a dry run of a
// restore agrees with the real one. It costs one listing of deleted
// versions per package with open intents, plus a read of each version not
// listed.
func (e *Executor) Reconcile(ctx context.Context, dryRun bool) (Reconciled, error) {
	out := Reconciled{Settled: map[int64]journal.Deletion{}}
	open, err := e.Journal.Deletions(ctx, journal.Filter{States: []string{journal.StateIntent}})
	if err != nil || len(open) == 0 {
		return out, err
	}
	runs := map[int64]bool{} // run id -> alive
	type pkgKey struct{ ownerType, owner, typ, name string }
	deleted := map[pkgKey]map[int64]githubapi.Version{}
	unlisted := map[pkgKey]bool{} // packages whose listing failed this pass
	for _, d := range open {
		alive, ok := runs[d.RunID]
		if !ok {
			r, err := e.Journal.Run(ctx, d.RunID)
			alive = err == nil && r.Status == journal.RunRunning
			runs[d.RunID] = alive
		}
		if alive {
			out.InFlight++
			continue
		}
		k := pkgKey{d.OwnerType, d.Owner, d.PackageType, d.Package}
		owner := apiOwner(d.OwnerType, d.Owner)
		if unlisted[k] {
			out.Unknown++ // its package could not be listed this pass: not asked again
			continue
		}
		if _, ok := deleted[k]; !ok {
			list, err := e.Client.ListVersions(ctx, owner, d.PackageType, d.Package, githubapi.ListVersionsOptions{State: githubapi.StateDeleted})
			if err != nil && !errors.Is(err, githubapi.ErrNotFound) {
				e.log().Warn("reconcile: deleted versions not listed", zap.String("package", d.Package), zap.Error(err))
				unlisted[k] = true
				out.Unknown++
				continue
			}
			m := map[int64]githubapi.Version{}
			for _, v := range list.Versions {
				m[v.ID] = v
			}
			deleted[k] = m
		}
		state, note, at := "", "", d.RequestedAt // RequestedAt: the earlier, safe bound when GitHub gives no deleted_at
		if v, ok := deleted[k][d.VersionID]; ok {
			state, note = journal.StateDeleted, "reconciled: GitHub lists it as deleted"
			if v.DeletedAt != nil {
				at = *v.DeletedAt
			}
		} else {
			_, gerr := e.Client.GetVersion(ctx, owner, d.PackageType, d.Package, d.VersionID)
			switch {
			case gerr == nil:
				state, note, at = journal.StateFailed, "reconciled: the delete did not take effect; the version still exists", e.Clock.Now()
			case errors.Is(gerr, githubapi.ErrNotFound):
				// Gone, yet not among the deleted versions: removed with its
				// package, or past the window. Recorded as deleted so history
				// shows it; a restore will report what GitHub says.
				state, note = journal.StateDeleted, "reconciled: gone, but not in GitHub's list of deleted versions"
			default:
				out.Unknown++
				continue
			}
		}
		if state == journal.StateDeleted {
			out.Deleted++
		} else {
			out.NotDeleted++
		}
		settled := d
		settled.State, settled.Error = state, note
		if state == journal.StateDeleted {
			until := at.Add(journal.RestoreWindow)
			settled.DeletedAt, settled.RestorableUntil = &at, &until
		}
		if !dryRun {
			ok, err := e.Journal.Settle(ctx, d.ID, state, note, at)
			if err != nil {
				return out, err
			}
			if !ok {
				// Its own process answered meanwhile: that answer stands.
				now, err := e.Journal.Deletions(ctx, journal.Filter{ID: d.ID})
				if err != nil {
					return out, err
				}
				if len(now) == 1 {
					settled = now[0]
				}
			}
		}
		out.Settled[d.ID] = settled
	}
	if out.Deleted+out.NotDeleted+out.Unknown > 0 {
		e.log().Info("open intents reconciled", zap.Bool("dry_run", dryRun), zap.Int("deleted", out.Deleted),
			zap.Int("not_deleted", out.NotDeleted), zap.Int("unknown", out.Unknown), zap.Int("in_flight", out.InFlight))
	}
	if out.Unknown > 0 {
		return out, fmt.Errorf("%d open delete intents could not be reconciled now; they stay open", out.Unknown)
	}
	return out, nil
}
