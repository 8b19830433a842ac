package engine

import (
	"sync"
	"time"

	"github.com/ghprune/ghprune/plan"
	"github.com/ghprune/ghprune/policy"
)

// progress tells RunOptions.Progress where a run stands. A nil progress,
// or one without a func, does nothing.
type progress struct {
	e   *Engine
	cfg *policy.Config
	fn  func(plan.Progress)

	mu sync.Mutex
	p  plan.Progress
}

// update changes the state with f and reports it.
func (pr *progress) update(f func(p *plan.Progress)) {
	if pr == nil || pr.fn == nil {
		return
	}
	pr.mu.Lock()
	f(&pr.p)
	pr.p.PerMinute = pr.e.pacer.PerMinute()
	pr.p.ETA = pr.eta(pr.p)
	snap := pr.p
	pr.mu.Unlock()
	pr.fn(snap)
}

// eta is how long the deletions left take at the pace now, plus the pause
// under way, or else the pauses the budget will need for them.
func (pr *progress) eta(p plan.Progress) time.Duration {
	left := max(0, p.Deletes-p.Done)
	d := paced(left, p.PerMinute)
	if now := pr.e.clock.Now(); p.PausedUntil.After(now) {
		return d + p.PausedUntil.Sub(now)
	}
	_, wait := pr.e.budgetWaits(pr.cfg, left)
	return d + wait
}
