package executor

import (
	"context"
	"sync"
	"time"

	"github.com/ghprune/ghprune/internal/clock"
)

// Pacer spaces mutations. GitHub asks for at least a second between mutative
// requests, and its secondary limit allows at most 180 deletes a minute; a
// server, or the other users of the token, may allow fewer. The configured
// pace is a ceiling: the Pacer halves its rate on every secondary-limit
// refusal (Refused) and creeps back up by a hundredth of the ceiling on every
// mutation accepted (Accepted), slowly near the rate that was last refused,
// so a stricter server draws a few refusals, not one per delete. One Pacer is
// shared by everything that mutates with the same token.
type Pacer struct {
	clock   clock.Clock
	ceiling float64 // the configured mutations a minute

	mu          sync.Mutex
	last        time.Time // when the last mutation went out
	retrying    bool      // a refused mutation is to be sent again by the client
	perMinute   float64   // the pace now
	refusedAt   float64   // the pace of the last refusal, 0 when forgotten
	lastRefusal time.Time // when it came
	streak      int       // mutations accepted since the last refusal
	onChange    func(perMinute float64)
}

const (
	// paceStepDivisor: the additive increase is ceiling/paceStepDivisor a
	// success.
	paceStepDivisor = 100
	// nearRefused: within this fraction of the last refused pace, the pace
	// goes up only every probeEvery successes.
	nearRefused = 0.95
	probeEvery  = 10
	// forgetRefusal: a refusal this long ago no longer slows the increase.
	forgetRefusal = 10 * time.Minute
	// minPerMinute is the floor the decrease stops at.
	minPerMinute = 1.0
)

// NewPacer allows at most perMinute mutations a minute, with no burst.
func NewPacer(perMinute float64, clk clock.Clock) *Pacer {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Pacer{clock: clk, ceiling: perMinute, perMinute: perMinute}
}

// OnChange has f called with the new pace each time it changes (for a
// metric), and once now with the current pace.
func (p *Pacer) OnChange(f func(perMinute float64)) {
	p.mu.Lock()
	p.onChange = f
	now := p.perMinute
	p.mu.Unlock()
	if f != nil {
		f(now)
	}
}

// Wait blocks until the next mutation may be sent: a 60/pace seconds after
// the last one went out (or, after a refusal, after its resent copy was
// answered), with no burst.
func (p *Pacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.clock.Now()
	at := now
	if !p.last.IsZero() {
		if next := p.last.Add(p.interval()); next.After(at) {
			at = next
		}
	}
	prev := p.last
	p.last = at // taken, so that a concurrent Wait goes after it
	p.mu.Unlock()
	if err := p.clock.Sleep(ctx, at.Sub(now)); err != nil {
		p.mu.Lock()
		if p.last.Equal(at) {
			p.last = prev // not sent
		}
		p.mu.Unlock()
		return err
	}
	return nil
}

// interval is the spacing at the pace now; p.mu is held.
func (p *Pacer) interval() time.Duration {
	return time.Duration(float64(time.Minute) / p.perMinute)
}

// PerMinute is the pace now.
func (p *Pacer) PerMinute() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.perMinute
}

// Refused slows the pace down: a mutation met a secondary rate limit.
// (The client waits out the retry-after GitHub gives before it sends the
// mutation again; the new pace spaces the mutations after it.)
func (p *Pacer) Refused() {
	p.mu.Lock()
	p.retrying = true
	p.refusedAt = p.perMinute
	p.lastRefusal = p.clock.Now()
	p.streak = 0
	p.set(max(p.perMinute/2, min(minPerMinute, p.ceiling)))
}

// Answered records a mutation answered without a rate limit but not
// accepted (already gone, a refusal for a good reason, a failure): after a
// resend, the next mutation is spaced from it.
func (p *Pacer) Answered() {
	p.mu.Lock()
	p.answered()
	p.mu.Unlock()
}

// answered: p.mu is held.
func (p *Pacer) answered() {
	if p.retrying {
		// The client resent a refused mutation on its own, after the
		// retry-after: the next one is spaced from that.
		p.retrying = false
		if now := p.clock.Now(); now.After(p.last) {
			p.last = now
		}
	}
}

// Accepted lets the pace creep back up: a mutation was answered 2xx.
func (p *Pacer) Accepted() {
	p.mu.Lock()
	p.streak++
	p.answered()
	if p.refusedAt > 0 && p.clock.Now().Sub(p.lastRefusal) > forgetRefusal {
		p.refusedAt = 0
	}
	next := p.perMinute
	if p.perMinute < p.ceiling {
		near := p.refusedAt > 0 && p.perMinute >= nearRefused*p.refusedAt
		if !near || p.streak%probeEvery == 0 {
			next = min(p.perMinute+p.ceiling/paceStepDivisor, p.ceiling)
		}
	}
	p.set(next)
}

// set changes the pace to perMinute and unlocks p.mu.
func (p *Pacer) set(perMinute float64) {
	changed := perMinute != p.perMinute
	p.perMinute = perMinute
	f := p.onChange
	p.mu.Unlock()
	if changed && f != nil {
		f(perMinute)
	}
}
