// Package journal is ghprune's record of runs and deletions: an embedded
// SQLite database (pure Go, so the binary stays static) that turns GitHub's
// 30-day restore window into a safety net. Each delete is written as an intent
// before the request and completed after the answer; the file is opened in WAL
// mode with a busy timeout so `history` and `restore` from a second process
// work while `serve` writes.
package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// RestoreWindow is how long GitHub keeps a deleted version restorable.
const RestoreWindow = 30 * 24 * time.Hour

// Deletion states.
const (
	StateIntent  = "intent"  // written before the DELETE was sent
	StateDeleted = "deleted" // GitHub answered 204 (or 404: already gone)
	StateFailed  = "failed"
	StateSkipped = "skipped" // GitHub refused (download limit, last version)
)

// Run statuses.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Journal is an open journal database. Safe for concurrent use.
type Journal struct {
	db *sql.DB
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

const schema = `
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
`

// Open opens (creating if needed) the journal at path.
func Open(ctx context.Context, path string) (*Journal, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open journal: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(15000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: an intent must survive a power loss once the DELETE is sent;
	// one fsync per delete is cheap at GitHub's one mutation a second.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	// One connection: writes in this process serialize here instead of
	// contending for SQLite's lock; other processes wait on busy_timeout.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	return &Journal{db: db}, nil
}

// Close closes the database.
func (j *Journal) Close() error { return j.db.Close() }

// Run is one apply or restore invocation.
type Run struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	Policies    []string   `json:"policies"`
	Mode        string     `json:"mode"`
	Trigger     string     `json:"trigger"`
	Actor       string     `json:"actor"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Status      string     `json:"status"`
	Planned     int        `json:"planned"`
	Deleted     int        `json:"deleted"`
	Failed      int        `json:"failed"`
	Skipped     int        `json:"skipped"`
	Restored    int        `json:"restored"`
	APIRequests int64      `json:"api_requests"`
}

// StartRun records a new run as running and returns its id.
func (j *Journal) StartRun(ctx context.Context, r Run) (int64, error) {
	res, err := j.db.ExecContext(ctx,
		`INSERT INTO runs (kind, policies, mode, trigger, actor, started_at, status) VALUES (?,?,?,?,?,?,?)`,
		r.Kind, strings.Join(r.Policies, ","), r.Mode, r.Trigger, r.Actor, fmtTime(r.StartedAt), RunRunning)
	if err != nil {
		return 0, fmt.Errorf("start run: %w", err)
	}
	return res.LastInsertId()
}

// FinishRun records a run's end, status and counts.
func (j *Journal) FinishRun(ctx context.Context, r Run) error {
	_, err := j.db.ExecContext(ctx,
		`UPDATE runs SET finished_at=?, status=?, planned=?, deleted=?, failed=?, skipped=?, restored=?, api_requests=? WHERE id=?`,
		fmtTime(*r.FinishedAt), r.Status, r.Planned, r.Deleted, r.Failed, r.Skipped, r.Restored, r.APIRequests, r.ID)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	return nil
}

const runCols = `id, kind, policies, mode, trigger, actor, started_at, finished_at, status, planned, deleted, failed, skipped, restored, api_requests`

func scanRun(s interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var pols, started string
	var finished sql.NullString
	if err := s.Scan(&r.ID, &r.Kind, &pols, &r.Mode, &r.Trigger, &r.Actor, &started, &finished, &r.Status,
		&r.Planned, &r.Deleted, &r.Failed, &r.Skipped, &r.Restored, &r.APIRequests); err != nil {
		return r, err
	}
	if pols != "" {
		r.Policies = strings.Split(pols, ",")
	}
	r.StartedAt = parseTime(started)
	r.FinishedAt = parseNullTime(finished)
	return r, nil
}

// Runs returns the newest runs first, at most limit (0 = 50).
func (j *Journal) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := j.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrNoRun is returned for a run id the journal does not have.
var ErrNoRun = errors.New("no such run")

// Run returns one run.
func (j *Journal) Run(ctx context.Context, id int64) (Run, error) {
	r, err := scanRun(j.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id=?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %d: %w", id, ErrNoRun)
	}
	if err != nil {
		return r, fmt.Errorf("get run %d: %w", id, err)
	}
	return r, nil
}

// Deletion is one version the executor set out to delete.
type Deletion struct {
	ID              int64      `json:"id"`
	RunID           int64      `json:"run_id"`
	Policy          string     `json:"policy"`
	OwnerType       string     `json:"owner_type"`
	Owner           string     `json:"owner"`
	PackageType     string     `json:"package_type"`
	Package         string     `json:"package"`
	VersionID       int64      `json:"version_id"`
	Version         string     `json:"version"`
	Tags            []string   `json:"tags"`
	Rule            string     `json:"rule"`
	Reason          string     `json:"reason"`
	State           string     `json:"state"`
	Error           string     `json:"error,omitempty"`
	RequestedAt     time.Time  `json:"requested_at"`
	DeletedAt       *time.Time `json:"deleted_at,omitempty"`
	RestorableUntil *time.Time `json:"restorable_until,omitempty"`
	RestoredAt      *time.Time `json:"restored_at,omitempty"`
	RestoreRunID    int64      `json:"restore_run_id,omitempty"`
	RestoreError    string     `json:"restore_error,omitempty"`
}

// Intend records that d is about to be deleted, before the request is sent,
// and returns the row id to Complete.
func (j *Journal) Intend(ctx context.Context, d Deletion) (int64, error) {
	tags, _ := json.Marshal(nonNil(d.Tags))
	res, err := j.db.ExecContext(ctx,
		`INSERT INTO deletions (run_id, policy, owner_type, owner, package_type, package, version_id, version, tags, rule, reason, state, requested_at)
		 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		d.RunID, d.Policy, d.OwnerType, d.Owner, d.PackageType, d.Package, d.VersionID, d.Version, string(tags), d.Rule, d.Reason, StateIntent, fmtTime(d.RequestedAt))
	if err != nil {
		return 0, fmt.Errorf("journal intent for version %d: %w", d.VersionID, err)
	}
	return res.LastInsertId()
}

// Complete records the answer to an intended delete. For StateDeleted,
// deletedAt starts the restore window.
func (j *Journal) Complete(ctx context.Context, id int64, state, errMsg string, deletedAt time.Time) error {
	var del, until any
	if state == StateDeleted {
		del, until = fmtTime(deletedAt), fmtTime(deletedAt.Add(RestoreWindow))
	}
	_, err := j.db.ExecContext(ctx, `UPDATE deletions SET state=?, error=?, deleted_at=?, restorable_until=? WHERE id=?`,
		state, errMsg, del, until, id)
	if err != nil {
		return fmt.Errorf("journal completion of %d: %w", id, err)
	}
	return nil
}

// Filter selects deletions; zero fields do not filter.
type Filter struct {
	RunID     int64
	VersionID int64
	Owner     string
	Package   string
	Tag       string
	Version   string
	Since     time.Time // deleted at or after
	// Restorable keeps only deleted, not restored versions still inside the
	// restore window at Now.
	Restorable bool
	Now        time.Time
	States     []string
}

const delCols = `id, run_id, policy, owner_type, owner, package_type, package, version_id, version, tags, rule, reason, state, error,
	requested_at, deleted_at, restorable_until, restored_at, COALESCE(restore_run_id, 0), restore_error`

// Deletions returns matching deletions, oldest first.
func (j *Journal) Deletions(ctx context.Context, f Filter) ([]Deletion, error) {
	var where []string
	var args []any
	if f.RunID != 0 {
		where, args = append(where, "run_id=?"), append(args, f.RunID)
	}
	if f.VersionID != 0 {
		where, args = append(where, "version_id=?"), append(args, f.VersionID)
	}
	if f.Owner != "" {
		where, args = append(where, "owner=?"), append(args, f.Owner)
	}
	if f.Package != "" {
		where, args = append(where, "package=?"), append(args, f.Package)
	}
	if f.Version != "" {
		where, args = append(where, "version=?"), append(args, f.Version)
	}
	if f.Tag != "" {
		where, args = append(where, "EXISTS (SELECT 1 FROM json_each(deletions.tags) WHERE value=?)"), append(args, f.Tag)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "deleted_at>=?"), append(args, fmtTime(f.Since))
	}
	if f.Restorable {
		where, args = append(where, "state=? AND restored_at IS NULL AND restorable_until>?"), append(args, StateDeleted, fmtTime(f.Now))
	}
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(",?", len(f.States)-1)+")")
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	q := `SELECT ` + delCols + ` FROM deletions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := j.db.QueryContext(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list deletions: %w", err)
	}
	defer rows.Close()
	var out []Deletion
	for rows.Next() {
		var d Deletion
		var tags, requested string
		var deleted, until, restored sql.NullString
		if err := rows.Scan(&d.ID, &d.RunID, &d.Policy, &d.OwnerType, &d.Owner, &d.PackageType, &d.Package, &d.VersionID, &d.Version,
			&tags, &d.Rule, &d.Reason, &d.State, &d.Error, &requested, &deleted, &until, &restored, &d.RestoreRunID, &d.RestoreError); err != nil {
			return nil, fmt.Errorf("list deletions: %w", err)
		}
		if err := json.Unmarshal([]byte(tags), &d.Tags); err != nil {
			return nil, fmt.Errorf("list deletions: tags of row %d: %w", d.ID, err)
		}
		d.RequestedAt = parseTime(requested)
		d.DeletedAt, d.RestorableUntil, d.RestoredAt = parseNullTime(deleted), parseNullTime(until), parseNullTime(restored)
		out = append(out, d)
	}
	return out, rows.Err()
}

// MarkRestored records a successful restore of deletion id by restore run runID.
func (j *Journal) MarkRestored(ctx context.Context, id, runID int64, at time.Time) error {
	_, err := j.db.ExecContext(ctx, `UPDATE deletions SET restored_at=?, restore_run_id=?, restore_error='' WHERE id=?`, fmtTime(at), runID, id)
	if err != nil {
		return fmt.Errorf("journal restore of %d: %w", id, err)
	}
	return nil
}

// restoreClaimTTL is how long a claim holds: a process that died after
// claiming must not block the restore forever.
const restoreClaimTTL = 10 * time.Minute

// ClaimRestore atomically takes deletion id for restoring at now; false means
// it is restored already or another process is restoring it, so nothing is
// sent twice when two on-call engineers run restore at once.
func (j *Journal) ClaimRestore(ctx context.Context, id int64, now time.Time) (bool, error) {
	res, err := j.db.ExecContext(ctx, `UPDATE deletions SET restore_claimed_at=?
		WHERE id=? AND restored_at IS NULL AND (restore_claimed_at IS NULL OR restore_claimed_at<?)`,
		fmtTime(now), id, fmtTime(now.Add(-restoreClaimTTL)))
	if err != nil {
		return false, fmt.Errorf("claim restore of %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MarkRestoreFailed records why deletion id could not be restored.
func (j *Journal) MarkRestoreFailed(ctx context.Context, id int64, msg string) error {
	_, err := j.db.ExecContext(ctx, `UPDATE deletions SET restore_error=?, restore_claimed_at=NULL WHERE id=?`, msg, id)
	if err != nil {
		return fmt.Errorf("journal restore failure of %d: %w", id, err)
	}
	return nil
}

// VersionKey names one version of one package of one owner.
type VersionKey struct {
	OwnerType, Owner, PackageType, Package string
	VersionID                              int64
}

// RecordRefusal remembers that GitHub refused to delete a version for reason
// (e.g. the download limit), so later plans keep it without asking again.
func (j *Journal) RecordRefusal(ctx context.Context, k VersionKey, reason string, at time.Time) error {
	_, err := j.db.ExecContext(ctx,
		`INSERT OR IGNORE INTO refusals (owner_type, owner, package_type, package, version_id, reason, first_seen) VALUES (?,?,?,?,?,?,?)`,
		k.OwnerType, k.Owner, k.PackageType, k.Package, k.VersionID, reason, fmtTime(at))
	if err != nil {
		return fmt.Errorf("record refusal of version %d: %w", k.VersionID, err)
	}
	return nil
}

// Refused returns the ids of a package's versions GitHub refused for reason.
func (j *Journal) Refused(ctx context.Context, ownerType, owner, packageType, pkg, reason string) (map[int64]bool, error) {
	rows, err := j.db.QueryContext(ctx,
		`SELECT version_id FROM refusals WHERE owner_type=? AND owner=? AND package_type=? AND package=? AND reason=?`,
		ownerType, owner, packageType, pkg, reason)
	if err != nil {
		return nil, fmt.Errorf("list refusals: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// Prune removes runs, and their deletions, that finished more than retain
// before now and whose deletions are all past their restore window at now:
// the journal keeps whatever can still be restored, and open intents.
func (j *Journal) Prune(ctx context.Context, now time.Time, retain time.Duration) (int64, error) {
	c, n0 := fmtTime(now.Add(-retain)), fmtTime(now)
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune journal: %w", err)
	}
	defer tx.Rollback()
	const old = `SELECT id FROM runs WHERE finished_at IS NOT NULL AND finished_at<?
		AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.run_id=runs.id AND (d.restorable_until IS NULL OR d.restorable_until>=?) AND d.state<>'failed' AND d.state<>'skipped')`
	if _, err := tx.ExecContext(ctx, `DELETE FROM deletions WHERE run_id IN (`+old+`)`, c, n0); err != nil {
		return 0, fmt.Errorf("prune journal: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id IN (`+old+`)`, c, n0)
	if err != nil {
		return 0, fmt.Errorf("prune journal: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}

// RestorableStats returns how many deletions are still restorable at now and
// the earliest of their deadlines (zero when none).
func (j *Journal) RestorableStats(ctx context.Context, now time.Time) (int, time.Time, error) {
	var n int
	var earliest sql.NullString
	err := j.db.QueryRowContext(ctx,
		`SELECT COUNT(*), MIN(restorable_until) FROM deletions WHERE state=? AND restored_at IS NULL AND restorable_until>?`,
		StateDeleted, fmtTime(now)).Scan(&n, &earliest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count restorable: %w", err)
	}
	var t time.Time
	if p := parseNullTime(earliest); p != nil {
		t = *p
	}
	return n, t, nil
}

// Manifest returns a cached manifest by digest. Digests are immutable, so a
// manifest read once is never fetched again: for a public image every fetch
// counts as a download on GitHub.
func (j *Journal) Manifest(ctx context.Context, digest string) (mediaType string, body []byte, ok bool, err error) {
	err = j.db.QueryRowContext(ctx, `SELECT media_type, body FROM manifests WHERE digest=?`, digest).Scan(&mediaType, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("read cached manifest %s: %w", digest, err)
	}
	return mediaType, body, true, nil
}

// PutManifest caches a manifest the caller verified against its digest.
func (j *Journal) PutManifest(ctx context.Context, digest, mediaType string, body []byte, at time.Time) error {
	_, err := j.db.ExecContext(ctx, `INSERT OR REPLACE INTO manifests (digest, media_type, body, fetched_at) VALUES (?,?,?,?)`,
		digest, mediaType, body, fmtTime(at))
	if err != nil {
		return fmt.Errorf("cache manifest %s: %w", digest, err)
	}
	return nil
}

// RestoreCounts counts journaled restores: versions restored, and versions
// whose last restore attempt failed. Restores made by any process count, so
// the daemon's metrics show what an on-call engineer restored beside it.
func (j *Journal) RestoreCounts(ctx context.Context) (restored, failed int, err error) {
	err = j.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN restored_at IS NOT NULL THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN restored_at IS NULL AND restore_error<>'' THEN 1 ELSE 0 END), 0)
		FROM deletions`).Scan(&restored, &failed)
	if err != nil {
		return 0, 0, fmt.Errorf("count restores: %w", err)
	}
	return restored, failed, nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

func parseNullTime(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := parseTime(s.String)
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
