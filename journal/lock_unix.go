//go:build unix && !linux

package journal

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Other unix systems have no open-file-description locks that can be
// queried, so the enforcing lock is flock on the whole file (also per open
// file and released when the process dies) and runs carry no liveness lock:
// a run's status is what is stored, and restore claims fall back to their TTL.

func lockByte(*os.File, int64) error { return errUnsupported }

func lockEnforceFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errWouldBlock
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return nil
}

func byteLocked(*os.File, int64) (bool, error) { return false, errUnsupported }
