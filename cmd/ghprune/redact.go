package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"sync"

	"github.com/ghprune/ghprune/policy"
)

// maxHeld bounds the partial line a redactWriter holds back: past it the
// line is written out up to a word boundary, so no token is cut in two.
const maxHeld = 64 << 10

// secrets are the values this process must never print: the token it
// read (whatever its format, a 40-hex legacy token too) and the forms it is
// sent in. Everything token-shaped is redacted besides.
type secrets struct {
	mu   sync.Mutex
	list []string
}

// add registers a token and its basic-auth form.
func (s *secrets) add(token string) {
	if s == nil || token == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, token,
		base64.StdEncoding.EncodeToString([]byte("ghprune:"+token)), // the registry's basic auth
		base64.StdEncoding.EncodeToString([]byte(token)))
}

// redact replaces every secret, and everything token-shaped, in text.
func (s *secrets) redact(text string) string {
	text = policy.RedactTokens(text)
	if s == nil {
		return text
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.list {
		if len(v) >= 8 {
			text = strings.ReplaceAll(text, v, policy.Redacted)
		}
	}
	return text
}

// redactWriter passes everything a command prints (reports, messages, JSON
// logs) through secrets.redact, a line at a time so a token split over two
// writes is still caught. It closes the class of leaks where a token
// reaches the output through a field nobody thought of; the token itself is
// also kept out of errors at their source. Flush writes what is held.
type redactWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	secrets *secrets
}

func newRedactWriter(w io.Writer, s *secrets) *redactWriter { return &redactWriter{w: w, secrets: s} }

// Write holds p until a line ends (\n or \r, so progress lines pass too).
func (r *redactWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	end := bytes.LastIndexAny(r.buf, "\n\r") + 1
	if end == 0 && len(r.buf) > maxHeld {
		end = wordEnd(r.buf)
	}
	if end > 0 {
		if _, err := io.WriteString(r.w, r.secrets.redact(string(r.buf[:end]))); err != nil {
			return 0, err
		}
		r.buf = append(r.buf[:0], r.buf[end:]...)
	}
	return len(p), nil
}

// wordEnd returns where a line held too long may be cut: after the last
// byte that cannot be part of a token, well before its end, so the part
// kept back holds any token that was still being written.
func wordEnd(b []byte) int {
	for i := len(b) - 512; i > 0; i-- {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '+' || c == '/' || c == '=') {
			return i + 1
		}
	}
	return len(b) - 512 // one word longer than any token: cut anywhere
}

// Flush writes the partial line held back.
func (r *redactWriter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(r.w, r.secrets.redact(string(r.buf)))
	r.buf = r.buf[:0]
	return err
}
