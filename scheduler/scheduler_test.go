package scheduler

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/robfig/cron/v3"

	"github.com/ghprune/ghprune/internal/clock"
)

// everyTick fires at once and then never again, so a test sees exactly one run.
type onceSchedule struct{ fired bool }

func (o *onceSchedule) Next(t time.Time) time.Time {
	if o.fired {
		return t.Add(100 * 365 * 24 * time.Hour)
	}
	o.fired = true
	return t.Add(time.Millisecond)
}

func TestScheduler_RunsJobsAndStops(t *testing.T) {
	s := New(nil, nil)
	ran := make(chan string, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx, []Job{
		{Name: "a", Schedule: &onceSchedule{}, Run: func(context.Context) { ran <- "a" }},
		{Name: "no-schedule", Run: func(context.Context) { ran <- "never" }},
	})
	select {
	case got := <-ran:
		if got != "a" {
			t.Fatalf("ran %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("job did not run")
	}
	if n := len(s.Next()); n != 1 {
		t.Errorf("entries = %d, want 1 (jobs without schedule are skipped)", n)
	}
	<-s.Stop().Done()
}

func TestScheduler_StopWaitsForRunningJob(t *testing.T) {
	s := New(nil, nil)
	started, release := make(chan struct{}), make(chan struct{})
	finished := make(chan struct{})
	s.Start(context.Background(), []Job{{Name: "slow", Schedule: &onceSchedule{}, Run: func(context.Context) {
		close(started)
		<-release
		close(finished)
	}}})
	<-started
	done := s.Stop()
	select {
	case <-done.Done():
		t.Fatal("Stop finished while the job was still running")
	default:
	}
	close(release)
	<-done.Done()
	select {
	case <-finished:
	default:
		t.Fatal("stop returned before the job finished")
	}
}

var _ cron.Schedule = (*onceSchedule)(nil)

// Stop also waits for a run started by RunNow, and for one of a schedule
// that a reload replaced.
func TestScheduler_StopWaitsForRunNowAndReplacedSchedules(t *testing.T) {
	s := New(nil, nil)
	started, release := make(chan string, 2), make(chan struct{})
	slow := func(name string) Job {
		return Job{Name: name, Schedule: &onceSchedule{}, Run: func(context.Context) { started <- name; <-release }}
	}
	s.Start(context.Background(), []Job{slow("old")})
	<-started
	s.Start(context.Background(), nil) // a reload replaces the schedule while "old" runs
	go s.RunNow(context.Background(), []Job{slow("now")})
	done := s.Stop()
	select {
	case <-done.Done():
		t.Fatal("Stop finished while a run of the replaced schedule was in progress")
	default:
	}
	close(release)
	<-done.Done()
}

// countingSchedule never fires during a test, and answers a later time each
// time any of them is asked, so a recomputed next run shows.
type countingSchedule struct{}

var asked atomic.Int64

func (countingSchedule) Next(time.Time) time.Time {
	return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(asked.Add(1)) * time.Hour)
}

// A reload must not postpone a policy whose schedule it did not change:
// reloading every few seconds stopped every "@every 10s" policy.
func TestScheduler_StartAgainKeepsUnchangedSchedules(t *testing.T) {
	s := New(nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := func(name, key string) Job {
		return Job{Name: name, Key: key, Schedule: countingSchedule{}, Run: func(context.Context) {}}
	}
	s.Start(ctx, []Job{job("a", "@every 10s"), job("b", "0 3 * * *")})
	nextA, _ := s.NextRun("a")
	nextB, _ := s.NextRun("b")
	for i := 0; i < 3; i++ {
		kept := s.Start(ctx, []Job{job("a", "@every 10s"), job("b", "0 4 * * *"), job("c", "@daily")})
		want := []string{"a", "b", "c"} // an unchanged reload keeps everything
		if i == 0 {
			want = []string{"a"}
		}
		if diff := cmp.Diff(want, kept); diff != "" {
			t.Fatalf("kept (-want +got):\n%s", diff)
		}
		if got, ok := s.NextRun("a"); !ok || !got.Equal(nextA) {
			t.Fatalf("reload %d moved a's next run from %v to %v", i, nextA, got)
		}
	}
	if got, _ := s.NextRun("b"); got.Equal(nextB) {
		t.Errorf("b's schedule changed but its next run %v was kept", got)
	}
	s.Start(ctx, []Job{job("c", "@daily")})
	if _, ok := s.NextRun("a"); ok {
		t.Error("a removed from the config but still scheduled")
	}
	if n := len(s.Next()); n != 1 {
		t.Errorf("entries = %d, want 1", n)
	}
	<-s.Stop().Done()
}

// The heartbeat is a cron entry: it beats at Start and then as the cron
// dispatches, with the scheduler's clock, and is not listed as a job.
func TestScheduler_HeartbeatBeatsThroughTheCron(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := New(nil, clk)
	s.heartbeatEvery = time.Second // cron's smallest step
	ticks := make(chan time.Time, 16)
	s.OnTick = func(at time.Time) { ticks <- at }
	if !s.LastTick().IsZero() {
		t.Fatal("a heartbeat before Start")
	}
	s.Start(context.Background(), nil)
	if got := <-ticks; !got.Equal(clk.Now()) || !s.LastTick().Equal(clk.Now()) {
		t.Fatalf("first beat at %v (last tick %v), want the clock's %v", got, s.LastTick(), clk.Now())
	}
	clk.Advance(time.Hour)
	select {
	case got := <-ticks: // dispatched by the cron
		if !got.Equal(clk.Now()) {
			t.Errorf("beat at %v, want %v", got, clk.Now())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cron never dispatched the heartbeat")
	}
	if n := len(s.Next()); n != 0 {
		t.Errorf("Next lists %d entries; the heartbeat is no job", n)
	}
	<-s.Stop().Done()
}
