//go:build !unix

package journal

import "os"

// Without unix locks the journal cannot keep two enforcing runs apart:
// LockEnforce fails, runs carry no liveness lock and restore claims fall back
// to their TTL.

func lockByte(*os.File, int64) error           { return errUnsupported }
func lockEnforceFile(*os.File) error           { return errUnsupported }
func byteLocked(*os.File, int64) (bool, error) { return false, errUnsupported }
