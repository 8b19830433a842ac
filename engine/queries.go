package engine

import (
	"context"

	"github.com/ghprune/ghprune/journal"
)

// What the daemon shows on-call, read from the journal: every run any
// process made, not only the ones this process remembers.

// Runs returns the newest runs first, at most limit (0 = 50).
func (e *Engine) Runs(ctx context.Context, limit int) ([]journal.Run, error) {
	return e.journal.Runs(ctx, limit)
}

// RunDeletions returns run id and its deletions (for a restore run, the
// deletions it restored). An unknown id wraps journal.ErrNoRun.
func (e *Engine) RunDeletions(ctx context.Context, id int64) (journal.Run, []journal.Deletion, error) {
	run, err := e.journal.Run(ctx, id)
	if err != nil {
		return run, nil, err
	}
	f := journal.Filter{RunID: id}
	if run.Kind == "restore" {
		f = journal.Filter{RestoreRunID: id}
	}
	dels, err := e.journal.Deletions(ctx, f)
	return run, dels, err
}

// Restorable returns the deleted versions still restorable now and the open
// intents a restore would settle first.
func (e *Engine) Restorable(ctx context.Context) ([]journal.Deletion, error) {
	return e.journal.Deletions(ctx, journal.Filter{Restorable: true, IncludeIntents: true, Now: e.clock.Now()})
}

// LastRun returns the newest apply run of policy, and false when it has none.
func (e *Engine) LastRun(ctx context.Context, policy string) (journal.Run, bool, error) {
	return e.journal.LastRun(ctx, policy)
}
