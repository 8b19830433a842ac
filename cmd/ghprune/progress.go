package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ghprune/ghprune/plan"
)

// progressLine shows a run's progress on the last line of a terminal,
// redrawn in place: each frame is written, the rest of the line cleared,
// and the cursor returned to the start of the line. Everything else
// written to the terminal meanwhile (warnings, logs) goes through Write,
// which clears the frame first and draws it again after a whole line, so
// the two never mix.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	frame string    // what is shown, "" when nothing is
	drawn time.Time // when: redraws are throttled
	now   func() time.Time
}

// clearEOL erases from the cursor to the end of the line (ANSI EL).
const clearEOL = "\x1b[K"

// minRedraw is the least time between two frames: a plan decides
// thousands of packages a second, and a terminal need not see them all.
const minRedraw = 100 * time.Millisecond

// newProgressLine draws on w, throttled by the clock now tells.
func newProgressLine(w io.Writer, now func() time.Time) *progressLine {
	return &progressLine{w: w, now: now}
}

// Write writes b above the progress line.
func (p *progressLine) Write(b []byte) (int, error) { return p.writeTo(p.w, b) }

// through is w, when w is the same terminal (stdout on a terminal), with
// what is written to it kept above the progress line.
func (p *progressLine) through(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) { return p.writeTo(w, b) })
}

func (p *progressLine) writeTo(w io.Writer, b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frame != "" {
		io.WriteString(p.w, clearEOL)
	}
	n, err := w.Write(b)
	if p.frame != "" && bytes.HasSuffix(b, []byte("\n")) {
		io.WriteString(p.w, p.frame)
	}
	return n, err
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// show draws s, at most every minRedraw; the first frame always.
func (p *progressLine) show(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.frame != "" && now.Sub(p.drawn) < minRedraw {
		return
	}
	p.frame, p.drawn = s+clearEOL+"\r", now
	io.WriteString(p.w, p.frame)
}

// clear removes the line for good.
func (p *progressLine) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frame != "" {
		io.WriteString(p.w, clearEOL)
		p.frame = ""
	}
}

// formatProgress is one frame: what the run decided, what it deleted of
// what it plans to, at what pace, and when it should be done.
func formatProgress(pr plan.Progress, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ghprune: %s: %d packages, %d versions decided", pr.Policy, pr.Packages, pr.Versions)
	if pr.Deletes > 0 {
		fmt.Fprintf(&b, "; %d of %d deleted at %s/min", pr.Done, pr.Deletes, trimFloat(pr.PerMinute))
	}
	if pr.PausedUntil.After(now) {
		fmt.Fprintf(&b, "; paused for limits.budget_share until %s", pr.PausedUntil.UTC().Format("15:04:05 UTC"))
	}
	if pr.ETA > 0 {
		fmt.Fprintf(&b, "; ETA %s", roundETA(pr.ETA))
	}
	return b.String()
}

// roundETA is d to the second under ten minutes, else to the minute.
func roundETA(d time.Duration) time.Duration {
	if d < 10*time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}

// trimFloat prints a pace without needless decimals: 60, 45.5.
func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".")
}
