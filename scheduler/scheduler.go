// Package scheduler runs each policy on its cron schedule (robfig/cron/v3)
// for the daemon. Runs never overlap: a policy still running skips its next
// tick, and runs of different policies take turns, because they share one
// token, one rate budget and one mutation pace.
package scheduler

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/ghprune/ghprune/internal/clock"
)

// HeartbeatEvery is how often the scheduler's own entry beats. The cron
// runs it like any policy, so a cron that stopped dispatching stops the
// heartbeat too; LastTick says when it last beat.
const HeartbeatEvery = 15 * time.Second

// Job is one policy's schedule and run.
type Job struct {
	Name     string
	Schedule cron.Schedule
	// Key identifies the schedule as written (spec and time zone): a job
	// whose Name and Key are unchanged by Start keeps its entry and so its
	// next run time. Empty means always replace.
	Key string
	Run func(ctx context.Context)
}

// Scheduler runs jobs on their schedules until stopped.
type Scheduler struct {
	log   *zap.Logger
	clock clock.Clock
	turn  sync.Mutex     // one run at a time across jobs
	runs  sync.WaitGroup // every run in progress, of any schedule generation
	beat  atomic.Int64   // unix nanoseconds of the last heartbeat; 0 before Start
	// OnTick, when set before Start, is called with the time of each
	// heartbeat (for a metric).
	OnTick func(time.Time)

	mu        sync.Mutex
	cron      *cron.Cron
	entries   map[string]entry // by job name
	heartbeat cron.EntryID
	// heartbeatEvery overrides HeartbeatEvery in tests.
	heartbeatEvery time.Duration
}

// entry is a scheduled job's place in the cron.
type entry struct {
	id  cron.EntryID
	key string
}

// New returns an idle scheduler whose heartbeat reads clk (nil: the wall
// clock).
func New(log *zap.Logger, clk clock.Clock) *Scheduler {
	if log == nil {
		log = zap.NewNop()
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Scheduler{log: log, clock: clk}
}

// tick records a heartbeat.
func (s *Scheduler) tick() {
	now := s.clock.Now()
	s.beat.Store(now.UnixNano())
	if s.OnTick != nil {
		s.OnTick(now)
	}
}

// LastTick returns when the scheduler last beat: at Start, then every
// HeartbeatEvery while its cron dispatches. Zero before Start.
func (s *Scheduler) LastTick() time.Time {
	n := s.beat.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// cronLogger adapts zap to cron's logr-style logger.
type cronLogger struct{ l *zap.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug(msg, zap.Any("details", kv)) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error(msg, zap.Error(err), zap.Any("details", kv))
}

// Start schedules jobs. Called again (a config reload) it replaces the
// schedule, but a job whose Name and Key are unchanged keeps its entry, so a
// reload never postpones a policy's next run; runs in progress finish. Jobs
// get ctx, so cancelling it stops them. It returns the names of the jobs
// kept unchanged.
func (s *Scheduler) Start(ctx context.Context, jobs []Job) (kept []string) {
	cl := cronLogger{s.log}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cron == nil {
		s.cron = cron.New(cron.WithChain(cron.Recover(cl)), cron.WithLogger(cl))
		s.entries = map[string]entry{}
		every := s.heartbeatEvery
		if every <= 0 {
			every = HeartbeatEvery
		}
		s.heartbeat = s.cron.Schedule(cron.Every(every), cron.FuncJob(s.tick))
		s.tick()
		defer s.cron.Start()
	}
	want := map[string]bool{}
	for _, j := range jobs {
		if j.Schedule == nil {
			s.log.Warn("policy has no schedule; serve will not run it", zap.String("policy", j.Name))
			continue
		}
		want[j.Name] = true
		if old, ok := s.entries[j.Name]; ok {
			if old.key != "" && old.key == j.Key {
				kept = append(kept, j.Name)
				continue
			}
			s.cron.Remove(old.id)
		}
		j := j
		id := s.cron.Schedule(j.Schedule, cron.NewChain(cron.SkipIfStillRunning(cl)).Then(cron.FuncJob(func() {
			s.run(ctx, j, "scheduled run")
		})))
		s.entries[j.Name] = entry{id: id, key: j.Key}
	}
	for name, e := range s.entries {
		if !want[name] {
			s.cron.Remove(e.id)
			delete(s.entries, name)
		}
	}
	return kept
}

// run runs j in its turn; Stop waits for it.
func (s *Scheduler) run(ctx context.Context, j Job, msg string) {
	s.runs.Add(1)
	defer s.runs.Done()
	s.turn.Lock()
	defer s.turn.Unlock()
	if ctx.Err() != nil {
		return
	}
	s.log.Info(msg, zap.String("policy", j.Name))
	j.Run(ctx)
}

// RunNow runs the scheduled jobs once, one after the other, taking turns
// with scheduled runs; jobs without a schedule are skipped, as in Start.
func (s *Scheduler) RunNow(ctx context.Context, jobs []Job) {
	for _, j := range jobs {
		if ctx.Err() != nil {
			return
		}
		if j.Schedule != nil {
			s.run(ctx, j, "run on start")
		}
	}
}

// Next returns when each scheduled job runs next (the heartbeat aside).
func (s *Scheduler) Next() []cron.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cron == nil {
		return nil
	}
	var out []cron.Entry
	for _, e := range s.cron.Entries() {
		if e.ID != s.heartbeat {
			out = append(out, e)
		}
	}
	return out
}

// NextRun returns when the job name runs next, and false when it is not
// scheduled.
func (s *Scheduler) NextRun(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok || s.cron == nil {
		return time.Time{}, false
	}
	return s.cron.Entry(e.id).Next, true
}

// Stop stops scheduling and returns a context done when every run in
// progress has ended: those of replaced schedules and RunNow included.
func (s *Scheduler) Stop() context.Context {
	s.mu.Lock()
	if s.cron != nil {
		s.cron.Stop()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		s.runs.Wait()
		cancel()
	}()
	return ctx
}
