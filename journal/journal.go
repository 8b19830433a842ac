// Package journal is ghprune's record of runs and deletions: an embedded
// SQLite database (pure Go, so the binary stays static) that turns GitHub's
// 30-day restore window into a safety net. Each delete is written as an intent
// before the request and completed after the answer; the file is opened in WAL
// mode with a busy timeout so `history` and `restore` from a second process
// work while `serve` writes.
//
// Beside the database, <journal>.lock keeps processes honest: one enforcing
// run at a time (LockEnforce), and a lock per running run so that a run or a
// restore claim whose process died is seen as such instead of blocking.
package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// RestoreWindow is how long GitHub keeps a deleted version restorable.
const RestoreWindow = 30 * 24 * time.Hour

// Deletion states.
const (
	StateIntent  = "intent"  // written before the DELETE was sent
	StateDeleted = "deleted" // GitHub answered 204: deleted by this run, restorable
	StateFailed  = "failed"
	StateSkipped = "skipped" // GitHub refused (download limit, last version)
	// StateGone: GitHub answered 404 because the version was deleted before
	// this run's request, by another tool or person. Kept for history; not a
	// deletion of this run and never restorable through this row.
	StateGone = "gone"
)

// Run statuses.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
	// RunInterrupted: the run's process died before finishing it. Runs and
	// Run report it for a run stored as running whose process is gone;
	// MarkInterrupted stores it.
	RunInterrupted = "interrupted"
)

var (
	// ErrNoJournal is returned by OpenExisting when there is no journal
	// at the path.
	ErrNoJournal = errors.New("no journal")
	// ErrJournalReplaced is returned by CheckFile when the journal's path
	// no longer names the file that was opened.
	ErrJournalReplaced = errors.New("journal removed or replaced since it was opened")
)

// Journal is an open journal database. Safe for concurrent use.
type Journal struct {
	db *sql.DB
	// cache is a second connection to the same database for the HTTP
	// cache: synchronous NORMAL, so that keeping an answer costs no fsync
	// (in WAL mode it stays consistent; a power loss may only lose the last
	// answers kept, which are read again). The journal's own rows keep
	// FULL on db.
	cache *sql.DB
	path  string      // absolute
	fi    os.FileInfo // of the database file when opened, for CheckFile
	// lock is the lock file: beside the real file when path is a symlink,
	// so that every path to one journal shares one lock file.
	lock string

	mu   sync.Mutex
	runs map[int64]*os.File // liveness locks of runs started here; nil file where unsupported
	// enforce is the enforcing lock taken through j, if any: while it is
	// held no other enforcing process can be running.
	enforce *Lock

	// claimRead, when set by a test, runs between ClaimRestore's read and
	// its compare-and-swap.
	claimRead func()
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
	api_requests INTEGER NOT NULL DEFAULT 0,
	pid         INTEGER,                -- process that ran it (NULL: older ghprune)
	host        TEXT
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
	restore_claimed_at TEXT,
	restore_claimed_by INTEGER              -- restore run holding the claim
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
-- body last: a column after a large blob is read by walking the blob's
-- overflow pages, and eviction sums size over every row.
CREATE TABLE IF NOT EXISTS http_cache (
	key     TEXT PRIMARY KEY,   -- the URL
	etag    TEXT NOT NULL,
	link    TEXT NOT NULL,
	size    INTEGER NOT NULL,
	used_at TEXT NOT NULL,
	body    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS http_cache_used ON http_cache(used_at);
`

// columns added since the first schema, added to older journals on open.
var columns = []struct{ table, name, decl string }{
	{"runs", "pid", "INTEGER"},
	{"runs", "host", "TEXT"},
	{"deletions", "restore_claimed_by", "INTEGER"},
}

// Open opens the journal at path, creating it and its directory if needed.
// Commands that enforce or schedule use it; commands that only read or
// restore use OpenExisting.
func Open(ctx context.Context, path string) (*Journal, error) {
	return openJournal(ctx, path, true)
}

// OpenExisting opens the journal at path and never creates anything: when
// there is none it returns an error wrapping ErrNoJournal that names the
// absolute path looked for, so `history` from the wrong directory says so
// instead of showing an empty journal.
func OpenExisting(ctx context.Context, path string) (*Journal, error) {
	return openJournal(ctx, path, false)
}

func openJournal(ctx context.Context, path string, create bool) (*Journal, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	q := url.Values{}
	if create {
		if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
			return nil, fmt.Errorf("open journal: %w", err)
		}
	} else {
		if _, err := os.Stat(abs); err != nil {
			return nil, noJournal(abs, err)
		}
		q.Set("mode", "rw") // SQLite fails instead of creating the file
	}
	q.Add("_pragma", "busy_timeout(15000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: an intent must survive a power loss once the DELETE is sent;
	// one fsync per delete is cheap at GitHub's one mutation a second.
	cq := url.Values{}
	for k, v := range q {
		cq[k] = append([]string(nil), v...)
	}
	q.Add("_pragma", "synchronous(FULL)")
	cq.Add("_pragma", "synchronous(NORMAL)")
	for _, v := range []url.Values{q, cq} {
		v.Add("_pragma", "foreign_keys(1)")
		v.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", fileURI(abs)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", abs, err)
	}
	// One connection: writes in this process serialize here instead of
	// contending for SQLite's lock; other processes wait on busy_timeout.
	db.SetMaxOpenConns(1)
	fail := func(err error) (*Journal, error) {
		db.Close()
		if !create {
			if _, serr := os.Stat(abs); serr != nil {
				return nil, noJournal(abs, serr) // removed since the check above
			}
		}
		return nil, fmt.Errorf("open journal %s: %w", abs, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fail(err)
	}
	if err := migrate(ctx, db); err != nil {
		return fail(err)
	}
	// After the first statement, so the file exists and is the one the
	// connection has open.
	fi, err := os.Stat(abs)
	if err != nil {
		return fail(err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fail(err)
	}
	// NORMAL is safe for the cache only in WAL mode; where SQLite could
	// not turn WAL on (some network file systems), it keeps FULL.
	var jm string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&jm); err != nil {
		return fail(err)
	}
	if !strings.EqualFold(jm, "wal") {
		cq.Del("_pragma")
		for _, v := range q["_pragma"] {
			cq.Add("_pragma", v)
		}
	}
	cache, err := sql.Open("sqlite", fileURI(abs)+"?"+cq.Encode())
	if err != nil {
		return fail(err)
	}
	cache.SetMaxOpenConns(1)
	return &Journal{db: db, cache: cache, path: abs, fi: fi, lock: real + ".lock", runs: map[int64]*os.File{}}, nil
}

func noJournal(abs string, statErr error) error {
	if errors.Is(statErr, fs.ErrNotExist) {
		return fmt.Errorf("%w at %s (state.path); run from the directory of the config or pass the right -config", ErrNoJournal, abs)
	}
	return fmt.Errorf("open journal %s: %w", abs, statErr)
}

// fileURI makes an SQLite URI of an absolute path, escaping what SQLite
// would take for the query ('?', '#', '%').
func fileURI(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath()
}

// migrate adds the columns an older journal lacks. The check is a read, so
// an up-to-date journal is never written to on open; the change is one
// immediate transaction that checks again, so two processes opening the same
// old journal do not both alter it.
func migrate(ctx context.Context, db *sql.DB) error {
	missing := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) ([]int, error) {
		var out []int
		for i, c := range columns {
			var n int
			if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_info(?) WHERE name=?`, c.table, c.name).Scan(&n); err != nil {
				return nil, fmt.Errorf("migrate schema: %w", err)
			}
			if n == 0 {
				out = append(out, i)
			}
		}
		return out, nil
	}
	if m, err := missing(db); err != nil || len(m) == 0 {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer tx.Rollback()
	m, err := missing(tx)
	if err != nil {
		return err
	}
	for _, i := range m {
		c := columns[i]
		if _, err := tx.ExecContext(ctx, `ALTER TABLE `+c.table+` ADD COLUMN `+c.name+` `+c.decl); err != nil {
			return fmt.Errorf("migrate schema: add %s.%s: %w", c.table, c.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

// Path is the absolute path of the database file.
func (j *Journal) Path() string { return j.path }

// CheckFile returns an error wrapping ErrJournalReplaced when the journal's
// path no longer names the file that was opened: removed, or replaced by
// another file. Writes would then go to a file nobody will read, so an
// enforcing run checks before each delete. It costs one stat.
func (j *Journal) CheckFile() error {
	fi, err := os.Stat(j.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("check journal %s: the file is gone: %w", j.path, ErrJournalReplaced)
	case err != nil:
		return fmt.Errorf("check journal %s: %w", j.path, err)
	case !os.SameFile(fi, j.fi):
		return fmt.Errorf("check journal %s: the path names another file: %w", j.path, ErrJournalReplaced)
	}
	// The enforcing lock taken through j must still keep others out.
	if l := j.enforceLock(); l != nil {
		if err := l.Check(); err != nil {
			return fmt.Errorf("check journal %s: %w", j.path, err)
		}
	}
	return nil
}

// enforceLock returns the enforcing lock held through j, or nil.
func (j *Journal) enforceLock() *Lock {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.enforce != nil && !j.enforce.held() {
		j.enforce = nil
	}
	return j.enforce
}

// Close closes the database. Runs started through j and not finished lose
// their liveness lock and show as interrupted.
func (j *Journal) Close() error {
	j.mu.Lock()
	for id, f := range j.runs {
		if f != nil {
			f.Close()
		}
		delete(j.runs, id)
	}
	j.mu.Unlock()
	j.cache.Close()
	return j.db.Close()
}

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
	// PID and Host are the process that ran it, set by StartRun; zero for
	// runs of a ghprune that did not record them.
	PID  int    `json:"pid,omitempty"`
	Host string `json:"host,omitempty"`
}

// StartRun records a new run as running by this process and returns its id.
// Until FinishRun of that id (or Close, or the death of the process) this
// process holds the run's liveness lock, by which other processes tell the
// run from one that was interrupted.
func (j *Journal) StartRun(ctx context.Context, r Run) (int64, error) {
	host, _ := os.Hostname()
	// The row becomes visible with the commit, after the lock is held, so
	// no process ever sees the run before it can tell it is alive.
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("start run: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx,
		`INSERT INTO runs (kind, policies, mode, trigger, actor, started_at, status, pid, host) VALUES (?,?,?,?,?,?,?,?,?)`,
		r.Kind, strings.Join(r.Policies, ","), r.Mode, r.Trigger, r.Actor, fmtTime(r.StartedAt), RunRunning, os.Getpid(), host)
	if err != nil {
		return 0, fmt.Errorf("start run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("start run: %w", err)
	}
	f, err := j.holdLiveness(id)
	if err != nil {
		return 0, fmt.Errorf("start run %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		if f != nil {
			f.Close()
		}
		return 0, fmt.Errorf("start run: %w", err)
	}
	j.mu.Lock()
	j.runs[id] = f
	j.mu.Unlock()
	return id, nil
}

// FinishRun records a run's end, status and counts, and gives up its
// liveness lock, even when the update fails: a run that could not record
// its end should not look alive.
func (j *Journal) FinishRun(ctx context.Context, r Run) error {
	_, err := j.db.ExecContext(ctx,
		`UPDATE runs SET finished_at=?, status=?, planned=?, deleted=?, failed=?, skipped=?, restored=?, api_requests=? WHERE id=?`,
		fmtTime(*r.FinishedAt), r.Status, r.Planned, r.Deleted, r.Failed, r.Skipped, r.Restored, r.APIRequests, r.ID)
	j.mu.Lock()
	f, held := j.runs[r.ID]
	delete(j.runs, r.ID)
	j.mu.Unlock()
	if held && f != nil {
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("finish run %d: %w", r.ID, err)
	}
	return nil
}

// runningHere reports whether run id was started through j and not finished.
func (j *Journal) runningHere(id int64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.runs[id]
	return ok
}

// MarkInterrupted stores status interrupted, finished at now, for every run
// stored as running whose process is gone, and returns how many it changed.
// Run it while holding the enforcing lock, before starting a run: then any
// other apply run still "running" cannot be alive, since only one enforcing
// process can be, which settles the runs whose liveness cannot be told (a
// ghprune before liveness locks, a platform without byte locks). Restore
// runs take no enforcing lock; they count as gone only when known to be.
func (j *Journal) MarkInterrupted(ctx context.Context, now time.Time) (int, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT id, kind FROM runs WHERE status=?`, RunRunning)
	if err != nil {
		return 0, fmt.Errorf("mark interrupted runs: %w", err)
	}
	type row struct {
		id   int64
		kind string
	}
	var runs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.kind); err != nil {
			rows.Close()
			return 0, fmt.Errorf("mark interrupted runs: %w", err)
		}
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("mark interrupted runs: %w", err)
	}
	enforcing := j.enforceLock() != nil
	p := j.newProber()
	defer p.close()
	n := 0
	for _, r := range runs {
		if j.runningHere(r.id) {
			continue
		}
		alive, known := p.alive(r.id)
		gone := known && !alive
		if enforcing && r.kind == "apply" {
			gone = true
		}
		if !gone {
			continue
		}
		// Only if still running: a run that finished since the read keeps
		// the status it recorded (it gives its lock up after recording).
		res, err := j.db.ExecContext(ctx, `UPDATE runs SET status=?, finished_at=? WHERE id=? AND status=?`,
			RunInterrupted, fmtTime(now), r.id, RunRunning)
		if err != nil {
			return n, fmt.Errorf("mark run %d interrupted: %w", r.id, err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

const runCols = `id, kind, policies, mode, trigger, actor, started_at, finished_at, status, planned, deleted, failed, skipped, restored, api_requests, pid, host`

// scanRun reads a run; p, when not nil, turns a stored running status into
// interrupted if the run's process is known to be gone.
func scanRun(s interface{ Scan(...any) error }, p *prober) (Run, error) {
	var r Run
	var pols, started string
	var finished, host sql.NullString
	var pid sql.NullInt64
	if err := s.Scan(&r.ID, &r.Kind, &pols, &r.Mode, &r.Trigger, &r.Actor, &started, &finished, &r.Status,
		&r.Planned, &r.Deleted, &r.Failed, &r.Skipped, &r.Restored, &r.APIRequests, &pid, &host); err != nil {
		return r, err
	}
	if pols != "" {
		r.Policies = strings.Split(pols, ",")
	}
	r.StartedAt = parseTime(started)
	r.FinishedAt = parseNullTime(finished)
	r.PID, r.Host = int(pid.Int64), host.String
	// A run without a pid comes from a ghprune that took no liveness lock.
	if r.Status == RunRunning && pid.Valid && p != nil {
		if alive, known := p.alive(r.ID); known && !alive {
			r.Status = RunInterrupted
		}
	}
	return r, nil
}

// Runs returns the newest runs first, at most limit (0 = 50). A run stored
// as running whose process is gone is reported as interrupted; where that
// cannot be told (no lock file, a platform without byte locks) the stored
// status is reported.
func (j *Journal) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := j.db.QueryContext(ctx, `SELECT `+runCols+` FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	p := j.newProber()
	defer p.close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows, p)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LastRun returns the newest apply run of policy, and false when it has
// none.
func (j *Journal) LastRun(ctx context.Context, policy string) (Run, bool, error) {
	p := j.newProber()
	defer p.close()
	r, err := scanRun(j.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs
		WHERE kind='apply' AND (','||policies||',') LIKE ? ESCAPE '\' ORDER BY id DESC LIMIT 1`,
		"%,"+escapeLike(policy)+",%"), p)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("last run of %s: %w", policy, err)
	}
	return r, true, nil
}

// escapeLike quotes the LIKE wildcards of s.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// ErrNoRun is returned for a run id the journal does not have.
var ErrNoRun = errors.New("no such run")

// Run returns one run, its status as Runs reports it.
func (j *Journal) Run(ctx context.Context, id int64) (Run, error) {
	p := j.newProber()
	defer p.close()
	r, err := scanRun(j.db.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id=?`, id), p)
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
// and returns the row id to Complete. It fails, wrapping ErrJournalReplaced,
// when the journal's file was removed or replaced: the intent would be in a
// file nobody reads, so the DELETE must not be sent.
func (j *Journal) Intend(ctx context.Context, d Deletion) (int64, error) {
	tags, _ := json.Marshal(nonNil(d.Tags))
	res, err := j.db.ExecContext(ctx,
		`INSERT INTO deletions (run_id, policy, owner_type, owner, package_type, package, version_id, version, tags, rule, reason, state, requested_at)
		 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		d.RunID, d.Policy, d.OwnerType, d.Owner, d.PackageType, d.Package, d.VersionID, d.Version, string(tags), d.Rule, d.Reason, StateIntent, fmtTime(d.RequestedAt))
	if err != nil {
		return 0, fmt.Errorf("journal intent for version %d: %w", d.VersionID, err)
	}
	// After the insert: the check then covers the file the row went to.
	if err := j.CheckFile(); err != nil {
		return 0, fmt.Errorf("journal intent for version %d: %w", d.VersionID, err)
	}
	return res.LastInsertId()
}

// Complete records the answer to an intended delete: StateDeleted,
// StateGone, StateFailed, StateSkipped, or StateIntent to keep it open for
// reconciliation. For StateDeleted, deletedAt starts the restore window; the
// other states are not restorable.
func (j *Journal) Complete(ctx context.Context, id int64, state, errMsg string, deletedAt time.Time) error {
	switch state {
	case StateDeleted, StateGone, StateFailed, StateSkipped, StateIntent:
	default:
		return fmt.Errorf("journal completion of %d: unknown state %q", id, state)
	}
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

// Settle records the outcome of an intent that is still open, as Complete
// does, and reports false (writing nothing) when the intent was completed
// meanwhile by the process that sent it: reconciliation must never
// overwrite an answer.
func (j *Journal) Settle(ctx context.Context, id int64, state, errMsg string, deletedAt time.Time) (bool, error) {
	var del, until any
	if state == StateDeleted {
		del, until = fmtTime(deletedAt), fmtTime(deletedAt.Add(RestoreWindow))
	}
	res, err := j.db.ExecContext(ctx, `UPDATE deletions SET state=?, error=?, deleted_at=?, restorable_until=? WHERE id=? AND state=?`,
		state, errMsg, del, until, id, StateIntent)
	if err != nil {
		return false, fmt.Errorf("settle intent %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Filter selects deletions; zero fields do not filter.
type Filter struct {
	// ID keeps the one deletion with that journal row id.
	ID    int64
	RunID int64
	// RestoreRunID keeps the deletions restored by that restore run.
	RestoreRunID int64
	VersionID    int64
	Owner        string
	Package      string
	Tag          string
	Version      string
	Since        time.Time // deleted at or after
	// Restorable keeps only deleted, not restored versions still inside the
	// restore window at Now.
	Restorable bool
	// IncludeIntents, with Restorable, also keeps open intents: deletes
	// whose outcome is not recorded yet, which a restore settles against
	// GitHub first and then restores if they happened.
	IncludeIntents bool
	Now            time.Time
	States         []string
}

const delCols = `id, run_id, policy, owner_type, owner, package_type, package, version_id, version, tags, rule, reason, state, error,
	requested_at, deleted_at, restorable_until, restored_at, COALESCE(restore_run_id, 0), restore_error`

// Deletions returns matching deletions, oldest first.
func (j *Journal) Deletions(ctx context.Context, f Filter) ([]Deletion, error) {
	var where []string
	var args []any
	if f.ID != 0 {
		where, args = append(where, "id=?"), append(args, f.ID)
	}
	if f.RunID != 0 {
		where, args = append(where, "run_id=?"), append(args, f.RunID)
	}
	if f.RestoreRunID != 0 {
		where, args = append(where, "restore_run_id=?"), append(args, f.RestoreRunID)
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
		// An open intent has no deleted_at yet: its request time stands in.
		where = append(where, "(deleted_at>=? OR (state=? AND requested_at>=?))")
		args = append(args, fmtTime(f.Since), StateIntent, fmtTime(f.Since))
	}
	if f.Restorable {
		cond := "(state=? AND restored_at IS NULL AND restorable_until>?)"
		args = append(args, StateDeleted, fmtTime(f.Now))
		if f.IncludeIntents {
			cond = "(" + cond + " OR state=?)"
			args = append(args, StateIntent)
		}
		where = append(where, cond)
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

// restoreClaimTTL is how long a claim holds when the liveness of its restore
// run cannot be told (a platform without byte locks, a claim made by an
// older ghprune): a process that died after claiming must not block the
// restore forever.
const restoreClaimTTL = 10 * time.Minute

// ClaimOutcome is what ClaimRestore found.
type ClaimOutcome string

// Claim outcomes.
const (
	ClaimWon             ClaimOutcome = "claimed"          // the caller restores it
	ClaimAlreadyRestored ClaimOutcome = "already-restored" // RunID restored it
	ClaimHeld            ClaimOutcome = "held"             // live restore run RunID is restoring it
	ClaimNotDeleted      ClaimOutcome = "not-deleted"      // the row is no deletion of ours (e.g. StateGone)
)

// ClaimResult is the answer of ClaimRestore.
type ClaimResult struct {
	Outcome ClaimOutcome
	// RunID is the restore run that restored the row (ClaimAlreadyRestored;
	// zero if unknown), that holds the claim (ClaimHeld; zero for a claim of
	// an older ghprune), or the caller's run (ClaimWon).
	RunID int64
}

// ErrNoDeletion is returned for a deletion id the journal does not have.
var ErrNoDeletion = errors.New("no such deletion")

// ClaimRestore takes deletion id for restoring by restore run restoreRunID,
// which must have been started by StartRun on j and not finished, so that
// nothing is sent twice when two on-call engineers run restore at once. The
// claim lasts as long as that run: a claim whose run finished or whose
// process died is taken over. Where liveness cannot be told, a claim older
// than ten minutes at now is. Claiming again for the same run wins.
func (j *Journal) ClaimRestore(ctx context.Context, id, restoreRunID int64, now time.Time) (ClaimResult, error) {
	if !j.runningHere(restoreRunID) {
		return ClaimResult{}, fmt.Errorf("claim restore of %d: restore run %d was not started by this journal or has finished", id, restoreRunID)
	}
	// Each round reads the claim, decides, and swaps only if the claim is
	// still what was read; a lost race reads again and finds the winner.
	for range 8 {
		var (
			state      string
			restored   bool
			restoreRun int64
			claimBy    sql.NullInt64
			claimAt    sql.NullString
			byStatus   sql.NullString
			byPID      sql.NullInt64
		)
		err := j.db.QueryRowContext(ctx, `SELECT d.state, d.restored_at IS NOT NULL, COALESCE(d.restore_run_id, 0),
			d.restore_claimed_by, d.restore_claimed_at, r.status, r.pid
			FROM deletions d LEFT JOIN runs r ON r.id=d.restore_claimed_by WHERE d.id=?`, id).
			Scan(&state, &restored, &restoreRun, &claimBy, &claimAt, &byStatus, &byPID)
		if errors.Is(err, sql.ErrNoRows) {
			return ClaimResult{}, fmt.Errorf("claim restore of %d: %w", id, ErrNoDeletion)
		}
		if err != nil {
			return ClaimResult{}, fmt.Errorf("claim restore of %d: %w", id, err)
		}
		if j.claimRead != nil {
			j.claimRead()
		}
		switch {
		case restored:
			return ClaimResult{Outcome: ClaimAlreadyRestored, RunID: restoreRun}, nil
		case state != StateDeleted:
			return ClaimResult{Outcome: ClaimNotDeleted}, nil
		case claimBy.Valid && claimBy.Int64 == restoreRunID:
			return ClaimResult{Outcome: ClaimWon, RunID: restoreRunID}, nil
		case j.claimHeld(claimBy, claimAt, byStatus, byPID, now):
			return ClaimResult{Outcome: ClaimHeld, RunID: claimBy.Int64}, nil
		}
		res, err := j.db.ExecContext(ctx, `UPDATE deletions SET restore_claimed_by=?, restore_claimed_at=?
			WHERE id=? AND state=? AND restored_at IS NULL AND restore_claimed_by IS ? AND restore_claimed_at IS ?`,
			restoreRunID, fmtTime(now), id, StateDeleted, claimBy, claimAt) // NULL when not Valid
		if err != nil {
			return ClaimResult{}, fmt.Errorf("claim restore of %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return ClaimResult{}, fmt.Errorf("claim restore of %d: %w", id, err)
		} else if n == 1 {
			return ClaimResult{Outcome: ClaimWon, RunID: restoreRunID}, nil
		}
	}
	return ClaimResult{}, fmt.Errorf("claim restore of %d: the claim kept changing under concurrent restores", id)
}

// claimHeld decides whether a claim read by ClaimRestore still holds: its
// restore run is stored as running and its process holds the run's liveness
// lock, or, where that cannot be told, the claim is younger than the TTL.
func (j *Journal) claimHeld(by sql.NullInt64, at sql.NullString, status sql.NullString, pid sql.NullInt64, now time.Time) bool {
	if by.Valid {
		if !status.Valid || status.String != RunRunning {
			return false // the run finished, or was pruned
		}
		if pid.Valid {
			p := j.newProber()
			defer p.close()
			if alive, known := p.alive(by.Int64); known {
				return alive
			}
		}
	}
	if !at.Valid {
		return false
	}
	return !parseTime(at.String).Before(now.Add(-restoreClaimTTL))
}

// MarkNotRestored takes back a restore recorded for deletion id that GitHub
// does not show (the version is not active after all), so that the next
// restore tries it again; msg says why.
func (j *Journal) MarkNotRestored(ctx context.Context, id int64, msg string) error {
	_, err := j.db.ExecContext(ctx, `UPDATE deletions SET restored_at=NULL, restore_run_id=NULL, restore_error=?,
		restore_claimed_at=NULL, restore_claimed_by=NULL WHERE id=? AND state=?`, msg, id, StateDeleted)
	if err != nil {
		return fmt.Errorf("journal that %d is not restored: %w", id, err)
	}
	return nil
}

// MarkRestoreFailed records why deletion id could not be restored and gives
// its restore claim up.
func (j *Journal) MarkRestoreFailed(ctx context.Context, id int64, msg string) error {
	_, err := j.db.ExecContext(ctx, `UPDATE deletions SET restore_error=?, restore_claimed_at=NULL, restore_claimed_by=NULL WHERE id=?`, msg, id)
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
// Failed, skipped and gone rows never were restorable and keep nothing.
func (j *Journal) Prune(ctx context.Context, now time.Time, retain time.Duration) (int64, error) {
	c, n0 := fmtTime(now.Add(-retain)), fmtTime(now)
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune journal: %w", err)
	}
	defer tx.Rollback()
	const old = `SELECT id FROM runs WHERE finished_at IS NOT NULL AND finished_at<?
		AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.run_id=runs.id AND (d.restorable_until IS NULL OR d.restorable_until>=?) AND d.state NOT IN ('failed','skipped','gone'))`
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

// FailedRestoreDeadline returns the earliest restore deadline, after now,
// of the deleted versions whose restore was asked for and failed and that
// are still not restored (zero when none): on-call has days, not weeks, to
// act on those before GitHub's window closes.
func (j *Journal) FailedRestoreDeadline(ctx context.Context, now time.Time) (time.Time, error) {
	var earliest sql.NullString
	err := j.db.QueryRowContext(ctx,
		`SELECT MIN(restorable_until) FROM deletions WHERE state=? AND restored_at IS NULL AND restore_error<>'' AND restorable_until>?`,
		StateDeleted, fmtTime(now)).Scan(&earliest)
	if err != nil {
		return time.Time{}, fmt.Errorf("failed restores: %w", err)
	}
	if p := parseNullTime(earliest); p != nil {
		return *p, nil
	}
	return time.Time{}, nil
}

// Ping checks that the journal is usable: its file is still the one opened
// and the database answers.
func (j *Journal) Ping(ctx context.Context) error {
	if err := j.CheckFile(); err != nil {
		return err
	}
	var one int
	if err := j.db.QueryRowContext(ctx, `SELECT 1 FROM runs LIMIT 1`).Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
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
