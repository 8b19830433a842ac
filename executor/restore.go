package executor

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/plan"
)

// RestoreResult is what became of one journaled deletion.
type RestoreResult struct {
	Deletion journal.Deletion   `json:"deletion"`
	Result   plan.RestoreResult `json:"result"`
	Error    string             `json:"error,omitempty"`
	// Active says whether GitHub lists the version as active after the
	// restore; nil when not checked (a dry run).
	Active *bool `json:"active,omitempty"`
}

// Restore brings back the versions of rows, recording each under the
// restore run runID (started on the executor's journal). Deadlines are
// checked before sending, restores already done are not repeated, a row
// another live restore holds is left to it, and a refusal (a reused name) is
// reported per version while the rest go on. With dryRun nothing is sent.
func (e *Executor) Restore(ctx context.Context, runID int64, rows []journal.Deletion, dryRun bool) ([]RestoreResult, error) {
	out := make([]RestoreResult, 0, len(rows))
	for _, d := range rows {
		res := RestoreResult{Deletion: d}
		now := e.Clock.Now()
		switch {
		case d.RestoredAt != nil:
			res.Result = plan.AlreadyRestored
		case d.State == journal.StateIntent:
			res.Result, res.Error = plan.Unknown, "an open delete intent whose outcome GitHub could not tell now"
		case d.State != journal.StateDeleted:
			res.Result = plan.NotDeleted
		case d.RestorableUntil == nil || !now.Before(*d.RestorableUntil):
			res.Result = plan.Expired
			res.Error = "past GitHub's 30-day restore window"
		case dryRun:
			res.Result = plan.WouldRestore
		default:
			if err := ctx.Err(); err != nil {
				return out, err
			}
			if err := e.Pacer.Wait(ctx); err != nil {
				return out, err
			}
			// The wait may have been long: check the deadline again.
			if !e.Clock.Now().Before(*d.RestorableUntil) {
				res.Result, res.Error = plan.Expired, "past GitHub's 30-day restore window"
				break
			}
			claim, err := e.Journal.ClaimRestore(ctx, d.ID, runID, e.Clock.Now())
			if err != nil {
				return out, err
			}
			switch claim.Outcome {
			case journal.ClaimWon:
				res.Result, res.Error = e.restoreOne(ctx, runID, d)
			case journal.ClaimAlreadyRestored:
				res.Result = plan.AlreadyRestored
			case journal.ClaimHeld:
				res.Result = plan.InProgress
				res.Error = fmt.Sprintf("being restored by restore run %d, whose process is alive", claim.RunID)
			default:
				res.Result = plan.NotDeleted
			}
		}
		out = append(out, res)
	}
	return out, nil
}

func (e *Executor) restoreOne(ctx context.Context, runID int64, d journal.Deletion) (plan.RestoreResult, string) {
	log := e.log().With(zap.String("package", d.Package), zap.Int64("version_id", d.VersionID))
	rctx, done := e.inflight(ctx)
	defer done()
	owner := apiOwner(d.OwnerType, d.Owner)
	err := e.Client.RestoreVersion(rctx, owner, d.PackageType, d.Package, d.VersionID)
	if errors.Is(err, githubapi.ErrNotFound) {
		// GitHub answers 404 to restoring a version that is active: an
		// earlier restore that died before journaling it, or someone else,
		// brought it back. Only an active version counts as restored.
		if _, gerr := e.Client.GetVersion(rctx, owner, d.PackageType, d.Package, d.VersionID); gerr == nil {
			err = nil
			log.Info("version already active; recorded as restored")
		}
	}
	if err != nil {
		log.Warn("restore failed", zap.Error(err))
		if jerr := e.Journal.MarkRestoreFailed(rctx, d.ID, err.Error()); jerr != nil {
			log.Warn("restore failure not journaled", zap.Error(jerr))
		}
		if errors.Is(err, githubapi.ErrNotFound) {
			return plan.RestoreFailed, "GitHub no longer has it to restore (past the window, or the package was removed): " + err.Error()
		}
		return plan.RestoreFailed, err.Error()
	}
	if err := e.Journal.MarkRestored(rctx, d.ID, runID, e.Clock.Now()); err != nil {
		log.Error("restore not journaled", zap.Error(err))
		return plan.Restored, "restored, but the journal could not record it: " + err.Error()
	}
	log.Info("version restored")
	return plan.Restored, ""
}

// verifyPerPackage is how many versions of one package are read one by one
// when checking a restore; past it, the package's active versions are
// listed instead (100 a page).
const verifyPerPackage = 10

// VerifyActive asks GitHub whether the version of each result is active
// and sets its Active field: a restore has succeeded only when every version
// it matched is back, whoever restored it. A version that cannot be checked
// is left nil and the error says why.
func (e *Executor) VerifyActive(ctx context.Context, results []RestoreResult) error {
	type pkgKey struct{ ownerType, owner, typ, name string }
	byPkg := map[pkgKey][]int{}
	var order []pkgKey
	for i, r := range results {
		d := r.Deletion
		k := pkgKey{d.OwnerType, d.Owner, d.PackageType, d.Package}
		if _, ok := byPkg[k]; !ok {
			order = append(order, k)
		}
		byPkg[k] = append(byPkg[k], i)
	}
	var errs []error
	for _, k := range order {
		idx := byPkg[k]
		owner := apiOwner(k.ownerType, k.owner)
		if len(idx) <= verifyPerPackage {
			for _, i := range idx {
				_, err := e.Client.GetVersion(ctx, owner, k.typ, k.name, results[i].Deletion.VersionID)
				switch {
				case err == nil:
					results[i].Active = ptr(true)
				case errors.Is(err, githubapi.ErrNotFound):
					results[i].Active = ptr(false)
				default:
					errs = append(errs, err)
				}
			}
			continue
		}
		list, err := e.Client.ListVersions(ctx, owner, k.typ, k.name, githubapi.ListVersionsOptions{State: githubapi.StateActive})
		if err != nil && !errors.Is(err, githubapi.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		active := map[int64]bool{}
		for _, v := range list.Versions {
			active[v.ID] = true
		}
		for _, i := range idx {
			results[i].Active = ptr(active[results[i].Deletion.VersionID])
		}
	}
	// A restore the journal records but GitHub does not show (an answer
	// that lied, a version deleted again) must be tried by the next restore.
	for i, r := range results {
		if r.Active != nil && !*r.Active && (r.Result == plan.Restored || r.Result == plan.AlreadyRestored) {
			msg := "recorded as restored, but GitHub does not list it as active"
			if err := e.Journal.MarkNotRestored(ctx, r.Deletion.ID, msg); err != nil {
				errs = append(errs, err)
				continue
			}
			results[i].Error = msg + ": the next restore tries it again"
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("could not check %d packages on GitHub after the restore: %w", len(errs), errors.Join(errs...))
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
