// Package scheduler runs each policy on its cron schedule (robfig/cron/v3)
// for the daemon. Runs never overlap: a policy still running skips its next
// tick, and runs of different policies take turns, because they share one
// token, one rate budget and one mutation pace.
package scheduler

import (
	"context"
	"sync"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// Job is one policy's schedule and run.
type Job struct {
	Name     string
	Schedule cron.Schedule
	Run      func(ctx context.Context)
}

// Scheduler runs jobs on their schedules until stopped.
type Scheduler struct {
	log  *zap.Logger
	turn sync.Mutex     // one run at a time across jobs
	runs sync.WaitGroup // every run in progress, of any schedule generation

	mu   sync.Mutex
	cron *cron.Cron
}

// New returns an idle scheduler.
func New(log *zap.Logger) *Scheduler {
	if log == nil {
		log = zap.NewNop()
	}
	return &Scheduler{log: log}
}

// cronLogger adapts zap to cron's logr-style logger.
type cronLogger struct{ l *zap.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug(msg, zap.Any("details", kv)) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error(msg, zap.Error(err), zap.Any("details", kv))
}

// Start schedules jobs, replacing any schedule already running (a config
// reload); runs in progress finish. Jobs get ctx, so cancelling it stops them.
func (s *Scheduler) Start(ctx context.Context, jobs []Job) {
	cl := cronLogger{s.log}
	c := cron.New(cron.WithChain(cron.Recover(cl)), cron.WithLogger(cl))
	for _, j := range jobs {
		j := j
		if j.Schedule == nil {
			s.log.Warn("policy has no schedule; serve will not run it", zap.String("policy", j.Name))
			continue
		}
		c.Schedule(j.Schedule, cron.NewChain(cron.SkipIfStillRunning(cl)).Then(cron.FuncJob(func() {
			s.run(ctx, j, "scheduled run")
		})))
	}
	s.mu.Lock()
	old := s.cron
	s.cron = c
	s.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	c.Start()
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

// Next returns when each scheduled job runs next.
func (s *Scheduler) Next() []cron.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cron == nil {
		return nil
	}
	return s.cron.Entries()
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
