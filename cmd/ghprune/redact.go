package main

import (
	"bytes"
	"io"
	"sync"

	"github.com/ghprune/ghprune/policy"
)

// maxHeld bounds the partial line a redactWriter holds back: past it the
// line is written out, less a tail long enough to hold a token's start.
const maxHeld = 64 << 10

// redactWriter passes everything a command prints (reports, messages, JSON
// logs) through policy.RedactTokens, a line at a time so a token split over
// two writes is still caught. It closes the class of leaks where a token
// reaches the output through a field nobody thought of; the token itself is
// also kept out of errors at their source. Flush writes what is held.
type redactWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func newRedactWriter(w io.Writer) *redactWriter { return &redactWriter{w: w} }

// Write holds p until a line ends (\n or \r, so progress lines pass too).
func (r *redactWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	end := bytes.LastIndexAny(r.buf, "\n\r") + 1
	if end == 0 && len(r.buf) > maxHeld {
		end = len(r.buf) - 256
	}
	if end > 0 {
		if _, err := io.WriteString(r.w, policy.RedactTokens(string(r.buf[:end]))); err != nil {
			return 0, err
		}
		r.buf = append(r.buf[:0], r.buf[end:]...)
	}
	return len(p), nil
}

// Flush writes the partial line held back.
func (r *redactWriter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(r.w, policy.RedactTokens(string(r.buf)))
	r.buf = r.buf[:0]
	return err
}
