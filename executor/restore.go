package executor

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/ghprune/ghprune/githubapi"
	"github.com/ghprune/ghprune/journal"
)

// Restore results.
const (
	RestoreRestored        = "restored"
	RestoreFailed          = "failed"
	RestoreExpired         = "expired"          // past the 30-day window: not sent
	RestoreAlreadyRestored = "already-restored" // recorded as restored before: not sent
	RestoreNotDeleted      = "not-deleted"      // the delete never happened
	RestoreWouldRestore    = "would-restore"    // dry run
)

// RestoreResult is what became of one journaled deletion.
type RestoreResult struct {
	Deletion journal.Deletion `json:"deletion"`
	Result   string           `json:"result"`
	Error    string           `json:"error,omitempty"`
}

// Restore brings back the versions of rows, recording each under the
// restore run runID. Deadlines are checked before sending, restores already
// done are not repeated, and a refusal (a reused name) is reported per
// version while the rest go on. With dryRun nothing is sent.
func (e *Executor) Restore(ctx context.Context, runID int64, rows []journal.Deletion, dryRun bool) ([]RestoreResult, error) {
	out := make([]RestoreResult, 0, len(rows))
	for _, d := range rows {
		res := RestoreResult{Deletion: d}
		now := e.Clock.Now()
		switch {
		case d.RestoredAt != nil:
			res.Result = RestoreAlreadyRestored
		case d.State != journal.StateDeleted:
			res.Result = RestoreNotDeleted
		case d.RestorableUntil == nil || !now.Before(*d.RestorableUntil):
			res.Result = RestoreExpired
			res.Error = "past GitHub's 30-day restore window"
		case dryRun:
			res.Result = RestoreWouldRestore
		default:
			if err := ctx.Err(); err != nil {
				return out, err
			}
			if err := e.Pacer.Wait(ctx); err != nil {
				return out, err
			}
			// The wait may have been long: check the deadline again.
			if !e.Clock.Now().Before(*d.RestorableUntil) {
				res.Result, res.Error = RestoreExpired, "past GitHub's 30-day restore window"
				break
			}
			claimed, err := e.Journal.ClaimRestore(ctx, d.ID, e.Clock.Now())
			if err != nil {
				return out, err
			}
			if !claimed {
				res.Result = RestoreAlreadyRestored
				res.Error = "restored, or being restored, by another process"
				break
			}
			res.Result, res.Error = e.restoreOne(ctx, runID, d)
		}
		if e.Metrics != nil && res.Result != RestoreWouldRestore {
			e.Metrics.Restores.WithLabelValues(res.Result).Inc()
		}
		out = append(out, res)
	}
	return out, nil
}

func (e *Executor) restoreOne(ctx context.Context, runID int64, d journal.Deletion) (string, string) {
	log := e.log().With(zap.String("package", d.Package), zap.Int64("version_id", d.VersionID))
	rctx, done := e.inflight(ctx)
	defer done()
	err := e.Client.RestoreVersion(rctx, apiOwner(d.OwnerType, d.Owner), d.PackageType, d.Package, d.VersionID)
	if err != nil {
		log.Warn("restore failed", zap.Error(err))
		if jerr := e.Journal.MarkRestoreFailed(rctx, d.ID, err.Error()); jerr != nil {
			log.Warn("restore failure not journaled", zap.Error(jerr))
		}
		if errors.Is(err, githubapi.ErrNotFound) {
			return RestoreFailed, "GitHub no longer has it to restore (past the window, or the package was removed): " + err.Error()
		}
		return RestoreFailed, err.Error()
	}
	if err := e.Journal.MarkRestored(rctx, d.ID, runID, e.Clock.Now()); err != nil {
		log.Error("restore not journaled", zap.Error(err))
		return RestoreRestored, "restored, but the journal could not record it: " + err.Error()
	}
	log.Info("version restored")
	return RestoreRestored, ""
}
