package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Scheduler runs every job of a Runner's config on its cron schedule.
type Scheduler struct {
	Runner *Runner
	Logger *slog.Logger
	// Grace is how long a running job may go on after shutdown begins
	// before it is cancelled (its temporary files are then removed).
	Grace time.Duration
	// OnResult, when set, receives each finished run.
	OnResult func(*Result)
	// Clock is what schedules follow; nil means the system clock.
	Clock Clock
}

// ErrNotSchedulable is returned by Scheduler.Run, before it schedules
// anything, when a job cannot run on its schedule: a required parameter
// without a default would fail every run.
var ErrNotSchedulable = errors.New("configuration cannot be scheduled")

// Schedulable reports why cfg's jobs cannot run on their schedules, as Run
// would before it schedules anything: no jobs, or a required parameter
// without a default (scheduled runs take the defaults, and it would fail
// every run, night after night), wrapped in ErrNotSchedulable.
func Schedulable(cfg *Config) error {
	if len(cfg.Jobs) == 0 {
		return errors.New("no jobs to schedule")
	}
	var problems []error
	for _, j := range cfg.Jobs {
		if _, err := j.PlanAt(time.Now(), nil); err != nil {
			problems = append(problems, fmt.Errorf("job %s cannot run on its schedule: %w (give the parameter a default)", j.Name, err))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("%w: %w", ErrNotSchedulable, err)
	}
	return nil
}

// Run schedules the jobs and blocks until ctx is cancelled. It then starts
// no new run, waits up to Grace for running ones, cancels what is still
// running, waits for it to clean up and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	cfg := s.Runner.Config
	if err := Schedulable(cfg); err != nil {
		return err
	}
	loop := newCronLoop(s.clock(), s.Logger)

	// Runs get a context of their own: shutdown cancels it only after the
	// grace period.
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()

	// One reading of the clock for the first scheduled times and catch-up:
	// a time is either caught up or scheduled.
	now := s.clock().Now()
	for i := range cfg.Jobs {
		job := &cfg.Jobs[i]
		loop.add(job, func(logical time.Time) {
			res := s.runScheduled(runCtx, ctx, job, logical)
			if s.OnResult != nil {
				s.OnResult(res)
			}
		})
		next := job.sched.Next(now)
		s.Logger.Info("job scheduled", "job", job.Name, "schedule", job.Schedule, "timezone", job.Location.String(), "next_run", next.In(job.Location).Format(time.RFC3339))
	}

	// Commits that a crash interrupted are finished, and the temporary
	// files of runs that died removed, before anything runs.
	for i := range cfg.Jobs {
		s.Runner.Recover(&cfg.Jobs[i])
	}
	loop.start(now)
	s.Logger.Info("scheduler started", "jobs", len(cfg.Jobs))
	var catchUps sync.WaitGroup
	for i := range cfg.Jobs {
		s.catchUp(runCtx, ctx, &catchUps, &cfg.Jobs[i], now)
	}
	<-ctx.Done()

	s.Logger.Info("shutting down: no new runs will start", "grace", s.Grace)
	stopped := loop.stop()
	idle := make(chan struct{})
	go func() {
		<-stopped.Done()
		catchUps.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-time.After(s.Grace):
		s.Logger.Warn("grace period over: cancelling running jobs")
		cancelRuns()
		<-idle
	}
	s.Logger.Info("scheduler stopped")
	return nil
}

// runScheduled runs job for its scheduled time t, with the default
// parameter values, retrying as the job says.
func (s *Scheduler) runScheduled(ctx, stopping context.Context, job *Job, t time.Time) *Result {
	p, err := job.PlanAt(t, nil)
	if err != nil {
		s.Logger.Error("run failed", "job", job.Name, "error", err)
		return &Result{Job: job.Name, Logical: t.In(job.Location), Started: time.Now(), Err: err}
	}
	return s.Runner.runWithRetries(ctx, stopping, job, p)
}

// catchUp starts, in the background, the run of a scheduled time that job
// missed while joinery was not running (see Job.CatchUp).
func (s *Scheduler) catchUp(ctx, stopping context.Context, wg *sync.WaitGroup, job *Job, now time.Time) {
	at, ok, err := s.Runner.Config.missed(job, now)
	if err != nil {
		s.Logger.Warn("catch-up: cannot read the job's state", "job", job.Name, "error", err)
		return
	}
	if !ok {
		return
	}
	s.Logger.Info("catching up a missed run", "job", job.Name, "logical_time", at.Format(time.RFC3339))
	wg.Go(func() {
		res := s.runScheduled(ctx, stopping, job, at)
		if s.OnResult != nil {
			s.OnResult(res)
		}
	})
}

// clock returns s.Clock, or the system clock.
func (s *Scheduler) clock() Clock {
	if s.Clock != nil {
		return s.Clock
	}
	return systemClock{}
}
