package executor

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/journal"
)

// Lister is what reconciliation needs besides Client: GitHub's list of a
// package's deleted versions, which carries their deleted_at.
type Lister interface {
	ListVersions(ctx context.Context, owner githubapi.Owner, packageType, name string, state githubapi.State) ([]githubapi.Version, error)
}

// Reconciled counts what Reconcile settled.
type Reconciled struct {
	Deleted    int // GitHub has it deleted: recorded, restorable until deleted_at + 30 days
	NotDeleted int // still there: the process stopped before the DELETE took effect
	Unknown    int // could not be learned now: left open for the next start
}

// Reconcile settles the intents a stopped process left open (killed between
// journaling a delete and recording the answer, or an answer that never
// came): a version GitHub lists as deleted is recorded as deleted, with
// GitHub's deleted_at, so it is restorable; one that still exists is
// recorded as not deleted. It costs one listing of deleted versions per
// package with open intents, plus a read of each version not listed.
func (e *Executor) Reconcile(ctx context.Context, lister Lister) (Reconciled, error) {
	var out Reconciled
	open, err := e.Journal.Deletions(ctx, journal.Filter{States: []string{journal.StateIntent}})
	if err != nil || len(open) == 0 {
		return out, err
	}
	type pkgKey struct{ ownerType, owner, typ, name string }
	deleted := map[pkgKey]map[int64]githubapi.Version{}
	for _, d := range open {
		k := pkgKey{d.OwnerType, d.Owner, d.PackageType, d.Package}
		owner := apiOwner(d.OwnerType, d.Owner)
		if _, ok := deleted[k]; !ok {
			vs, err := lister.ListVersions(ctx, owner, d.PackageType, d.Package, githubapi.StateDeleted)
			if err != nil && !errors.Is(err, githubapi.ErrNotFound) {
				e.log().Warn("reconcile: deleted versions not listed", zap.String("package", d.Package), zap.Error(err))
				out.Unknown++
				continue
			}
			m := map[int64]githubapi.Version{}
			for _, v := range vs {
				m[v.ID] = v
			}
			deleted[k] = m
		}
		if v, ok := deleted[k][d.VersionID]; ok {
			at := d.RequestedAt // the earlier, safe bound when GitHub gives no deleted_at
			if v.DeletedAt != nil {
				at = *v.DeletedAt
			}
			if err := e.Journal.Complete(ctx, d.ID, journal.StateDeleted, "reconciled: GitHub lists it as deleted", at); err != nil {
				return out, err
			}
			out.Deleted++
			continue
		}
		_, gerr := e.Client.GetVersion(ctx, owner, d.PackageType, d.Package, d.VersionID)
		switch {
		case gerr == nil:
			if err := e.Journal.Complete(ctx, d.ID, journal.StateFailed, "reconciled: the delete did not take effect; the version still exists", e.Clock.Now()); err != nil {
				return out, err
			}
			out.NotDeleted++
		case errors.Is(gerr, githubapi.ErrNotFound):
			// Gone, yet not among the deleted versions: removed with its
			// package, or past the window. Recorded as deleted so history
			// shows it; a restore will report what GitHub says.
			if err := e.Journal.Complete(ctx, d.ID, journal.StateDeleted, "reconciled: gone, but not in GitHub's list of deleted versions", d.RequestedAt); err != nil {
				return out, err
			}
			out.Deleted++
		default:
			out.Unknown++
		}
	}
	if out.Deleted+out.NotDeleted+out.Unknown > 0 {
		e.log().Info("open intents reconciled", zap.Int("deleted", out.Deleted), zap.Int("not_deleted", out.NotDeleted), zap.Int("unknown", out.Unknown))
	}
	if out.Unknown > 0 {
		return out, fmt.Errorf("%d open delete intents could not be reconciled now; they stay open", out.Unknown)
	}
	return out, nil
}
