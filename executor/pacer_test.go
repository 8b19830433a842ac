package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/ghprune/ghprune/executor"
	"github.com/ghprune/ghprune/internal/clock"
)

// gaps sends n mutations through p and returns the waits between them.
func gaps(t *testing.T, p *executor.Pacer, clk *clock.Fake, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	last := clk.Now()
	for i := 0; i < n; i++ {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		now := clk.Now()
		out = append(out, now.Sub(last))
		last = now
	}
	return out
}

// about: within a microsecond (the limiter rounds).
func about(got, want time.Duration) bool {
	return got-want < time.Microsecond && want-got < time.Microsecond
}

// A refusal halves the pace, and the spacing the Pacer enforces follows it.
func TestPacer_RefusalHalvesThePace(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := executor.NewPacer(180, clk)
	var seen []float64
	p.OnChange(func(v float64) { seen = append(seen, v) })
	gaps(t, p, clk, 3) // the first goes at once, then 333ms apart
	if got := gaps(t, p, clk, 1)[0]; !about(got, time.Second/3) {
		t.Fatalf("gap at 180/min: %v", got)
	}
	p.Refused()
	if got := p.PerMinute(); got != 90 {
		t.Fatalf("pace after a refusal: %v, want 90", got)
	}
	g := gaps(t, p, clk, 3)
	if !about(g[1], 2*time.Second/3) || !about(g[2], 2*time.Second/3) {
		t.Errorf("gaps at 90/min: %v, want 667ms", g)
	}
	p.Refused()
	p.Refused()
	if got := p.PerMinute(); got != 22.5 {
		t.Errorf("pace after three refusals: %v, want 22.5", got)
	}
	if len(seen) != 4 || seen[0] != 180 || seen[3] != 22.5 {
		t.Errorf("OnChange saw %v", seen)
	}
	for i := 0; i < 20; i++ {
		p.Refused()
	}
	if got := p.PerMinute(); got != 1 {
		t.Errorf("pace floor: %v, want 1/min", got)
	}
}

// Accepted mutations bring the pace back up to the ceiling, never past it:
// quickly far from the rate last refused, a step every ten near it, and
// freely again once that refusal is ten minutes old.
func TestPacer_RecoversToTheCeiling(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := executor.NewPacer(100, clk)
	p.Refused() // refused at 100: 50 now
	n := 0
	for p.PerMinute() < 95 && n < 1000 {
		p.Accepted()
		n++
	}
	if n != 45 {
		t.Errorf("%d successes from 50 to 95/min, want 45 (one step of 1/min each)", n)
	}
	m := 0
	for p.PerMinute() < 100 && m < 1000 {
		p.Accepted()
		m++
	}
	if m != 45 { // a step at the 50th, 60th, ..., 90th success since the refusal
		t.Errorf("%d successes from 95 to 100/min near the refused rate, want one step per ten", m)
	}
	for i := 0; i < 100; i++ {
		p.Accepted()
	}
	if got := p.PerMinute(); got != 100 {
		t.Errorf("pace past the ceiling: %v", got)
	}

	// A refusal long ago does not slow the climb.
	p.Refused()
	clk.Advance(11 * time.Minute)
	k := 0
	for p.PerMinute() < 100 && k < 1000 {
		p.Accepted()
		k++
	}
	if k != 50 {
		t.Errorf("%d successes from 50 to 100/min after the refusal was forgotten, want 50", k)
	}
}

// The pace never goes above a ceiling below the floor of the decrease.
func TestPacer_SlowCeilingStaysTheCeiling(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := executor.NewPacer(0.5, clk)
	p.Refused()
	if got := p.PerMinute(); got > 0.5 {
		t.Errorf("pace after a refusal %v/min, above the configured 0.5", got)
	}
}

// After a refused mutation was resent and answered, whatever the answer
// (a 404, a refusal for a good reason), the next one is spaced from the
// resend at the new pace.
func TestPacer_NextMutationSpacedFromTheResend(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := executor.NewPacer(60, clk)
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Refused()              // 30/min now
	clk.Advance(time.Minute) // the retry-after, then the resend...
	p.Answered()             // ...answered 404
	if got := gaps(t, p, clk, 1)[0]; !about(got, 2*time.Second) {
		t.Errorf("next mutation %v after the resend, want 2s at 30/min", got)
	}
}
