package engine

import (
	"context"
	"errors"
	"time"

	"github.com/ghprune/ghprune/journal"
	"github.com/ghprune/ghprune/policy"
)

// History reads the journal for people: what ran, what it deleted, what
// can still be restored. It needs no token and sends nothing, so on-call
// can read it with only the database.
type History struct {
	j *journal.Journal
}

// OpenHistory opens the journal cfg names. It never creates one: run from
// the wrong directory, an empty new journal would answer "nothing
// happened"; a missing journal is a usage error naming the path looked for.
func OpenHistory(ctx context.Context, cfg *policy.Config) (*History, error) {
	j, err := journal.OpenExisting(ctx, cfg.State.Path)
	if errors.Is(err, journal.ErrNoJournal) {
		return nil, usage(err)
	}
	if err != nil {
		return nil, err
	}
	return &History{j: j}, nil
}

// Close closes the journal.
func (h *History) Close() error { return h.j.Close() }

// Runs returns the newest runs first, at most limit (0 = 50). A run whose
// process died reads as interrupted.
func (h *History) Runs(ctx context.Context, limit int) ([]journal.Run, error) {
	return h.j.Runs(ctx, limit)
}

// Query picks deletions from the journal; zero fields do not narrow.
type Query struct {
	RunID   int64
	Owner   string
	Package string
	Tag     string
	Since   time.Time
	// Restorable keeps the versions still restorable at Now, and the open
	// intents that a restore settles first and may then restore.
	Restorable bool
	Now        time.Time
}

// Deletions returns what q picks, oldest first. A run id the journal lacks
// is a usage error.
func (h *History) Deletions(ctx context.Context, q Query) ([]journal.Deletion, error) {
	if err := checkRun(ctx, h.j, q.RunID); err != nil {
		return nil, err
	}
	return h.j.Deletions(ctx, journal.Filter{RunID: q.RunID, Owner: q.Owner, Package: q.Package, Tag: q.Tag, Since: q.Since,
		Restorable: q.Restorable, IncludeIntents: q.Restorable, Now: q.Now})
}
