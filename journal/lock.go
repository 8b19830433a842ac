package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// The lock file <journal>.lock sits beside the database (the real file, when
// the journal's path is a symlink) and is never
// deleted once created: deleting a lock file someone holds would let the
// next process lock a new file beside it. Byte 0 is the enforcing lock;
// byte livenessBase+id is held by the process running run id, so readers
// can tell a live run from one whose process died.
const (
	enforceByte  = 0
	livenessBase = 1 << 32
)

var (
	// ErrLocked is wrapped by *LockedError: another enforcing run holds the
	// journal.
	ErrLocked = errors.New("journal is in use by an enforcing run")

	errWouldBlock  = errors.New("lock held elsewhere")
	errUnsupported = errors.New("file locking is not supported on this platform")
)

// Holder says who holds a journal's enforcing lock. The holder writes it
// into the lock file so the process it refuses can name it.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"` // e.g. "ghprune serve"
	Since   time.Time `json:"since"`
}

// HolderFor describes this process running command since now.
func HolderFor(command string, now time.Time) Holder {
	host, _ := os.Hostname() // empty when unknown: only shown to people
	return Holder{PID: os.Getpid(), Host: host, Command: command, Since: now}
}

// LockedError is returned by LockEnforce when another enforcing run holds
// the journal at Path. Holder is zero when the holder had not written itself
// down yet.
type LockedError struct {
	Path   string
	Holder Holder
}

// Error names the holder and says what to do about it.
func (e *LockedError) Error() string {
	h := e.Holder
	who := "another process"
	if h.Command != "" {
		who = h.Command
	}
	if h.PID != 0 {
		who += fmt.Sprintf(" (pid %d on host %s)", h.PID, h.Host)
	}
	if !h.Since.IsZero() {
		who += " since " + h.Since.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("journal %s is in use by %s; an enforcing run is already using it: wait for it to finish or stop it", e.Path, who)
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is a held enforcing lock; the OS releases it if the process dies.
type Lock struct {
	mu   sync.Mutex
	f    *os.File // nil once released
	path string
}

// lockPath is the lock file of the journal.
func (j *Journal) lockPath() string { return j.lock }

// LockEnforce takes the journal's enforcing lock without waiting, so that
// one process at a time sends DELETEs recorded in this journal. When another
// run holds it, in this process or another, the error is a *LockedError
// naming that holder. On success h is written into the lock file.
func (j *Journal) LockEnforce(h Holder) (*Lock, error) {
	// A fresh open per call: locks belong to one open of the file, so a
	// second LockEnforce in this process is refused too.
	f, err := os.OpenFile(j.lockPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock journal %s: %w", j.path, err)
	}
	if err := lockEnforceFile(f); err != nil {
		defer f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &LockedError{Path: j.path, Holder: readHolder(f)}
		}
		return nil, fmt.Errorf("lock journal %s: %w", j.path, err)
	}
	l := &Lock{f: f, path: j.lockPath()}
	// The file locked must be the one the path names: locking a file
	// someone removed meanwhile would lock nothing the next process sees.
	if err := l.Check(); err != nil {
		l.Release()
		return nil, fmt.Errorf("lock journal %s: %w", j.path, err)
	}
	if err := writeHolder(f, h); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock journal %s: record holder: %w", j.path, err)
	}
	j.mu.Lock()
	j.enforce = l
	j.mu.Unlock()
	return l, nil
}

// ErrLockReplaced is wrapped by Lock.Check when the lock file was removed
// or replaced: the lock held no longer keeps another process out.
var ErrLockReplaced = errors.New("the journal's lock file was removed or replaced")

// Check returns an error wrapping ErrLockReplaced when the lock's path no
// longer names the file locked (someone removed or replaced it, so the next
// process would lock a new file and run beside this one), and nil while the
// lock holds. It costs two stats.
func (l *Lock) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("%s: released: %w", l.path, ErrLockReplaced)
	}
	held, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	named, err := os.Stat(l.path)
	if err != nil || !os.SameFile(held, named) {
		return fmt.Errorf("%s: %w", l.path, ErrLockReplaced)
	}
	return nil
}

// held reports whether l is held (not released).
func (l *Lock) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f != nil
}

// Release gives the lock up. Releasing twice is harmless.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Clear the holder while still holding the lock, so it never erases
	// the next holder's line.
	terr := f.Truncate(0)
	if err := f.Close(); err != nil {
		return fmt.Errorf("release journal lock: %w", err)
	}
	if terr != nil {
		return fmt.Errorf("release journal lock: clear holder: %w", terr)
	}
	return nil
}

func writeHolder(f *os.File, h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
		return err
	}
	return f.Sync()
}

// readHolder reads the holder line; zero when it is missing or half written
// (the holder writes it just after taking the lock).
func readHolder(f *os.File) Holder {
	line, err := bufio.NewReader(io.NewSectionReader(f, 0, 4096)).ReadBytes('\n')
	var h Holder
	if err != nil || json.Unmarshal(bytes.TrimSpace(line), &h) != nil {
		return Holder{}
	}
	return h
}

// holdLiveness locks run id's liveness byte through a new open of the lock
// file, held until the returned file is closed. Nil, nil where the platform
// has no byte locks: the run's status is then what is stored.
func (j *Journal) holdLiveness(id int64) (*os.File, error) {
	f, err := os.OpenFile(j.lockPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	switch err := lockByte(f, livenessBase+id); {
	case errors.Is(err, errUnsupported):
		f.Close()
		return nil, nil
	case errors.Is(err, errWouldBlock):
		f.Close()
		return nil, fmt.Errorf("liveness lock of run %d in %s is held by another process (was the journal replaced while that process had it open?)", id, j.lockPath())
	case err != nil:
		f.Close()
		return nil, err
	}
	return f, nil
}

// prober asks whether runs are alive. Its own open of the lock file is
// another open file description than any holding a liveness lock, so runs
// of this very process are seen as alive too.
type prober struct {
	f *os.File // nil: liveness unknown
}

// newProber opens the lock file read-only, which works in a read-only
// directory too. Without a lock file liveness is unknown: the runs may come
// from a ghprune that did not lock.
func (j *Journal) newProber() *prober {
	f, err := os.Open(j.lockPath())
	if err != nil {
		return &prober{}
	}
	return &prober{f: f}
}

// alive reports whether the process running run id still holds its
// liveness lock; known is false when that cannot be told.
func (p *prober) alive(id int64) (alive, known bool) {
	if p.f == nil {
		return false, false
	}
	held, err := byteLocked(p.f, livenessBase+id)
	if err != nil {
		return false, false
	}
	return held, true
}

func (p *prober) close() {
	if p.f != nil {
		p.f.Close()
	}
}
