//go:build linux

package journal

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Linux uses open-file-description locks: they belong to one open of the
// file (so a second open in the same process conflicts, unlike POSIX record
// locks), the kernel drops them when the last descriptor of that open is
// closed or the process dies, and F_OFD_GETLK asks who holds a byte without
// taking it, which flock cannot do.

// lockByte takes a non-blocking exclusive lock on byte off of f, held until
// f is closed. errWouldBlock means another open file holds it.
func lockByte(f *os.File, off int64) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: off, Len: 1}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return errWouldBlock
	}
	if err != nil {
		return fmt.Errorf("lock byte %d of %s: %w", off, f.Name(), err)
	}
	return nil
}

// lockEnforceFile takes the enforcing lock on f: byte 0.
func lockEnforceFile(f *os.File) error { return lockByte(f, enforceByte) }

// byteLocked reports whether some open file other than f holds a lock on
// byte off. f needs no write access.
func byteLocked(f *os.File, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: off, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, fmt.Errorf("query lock on byte %d of %s: %w", off, f.Name(), err)
	}
	return lk.Type != unix.F_UNLCK, nil
}
