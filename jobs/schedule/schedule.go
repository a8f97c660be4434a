// Package schedule runs the jobs of a configuration on their cron
// schedules: the daemon of joinery schedule. Its Scheduler starts each
// scheduled run on a loop that a Clock drives, catches up the scheduled
// times missed while joinery was not running (from the last success the
// Runner records with every run), and reloads the configuration on a
// signal. Every run goes through jobs.Runner, as a run by hand does; see
// docs/ARCHITECTURE-run.md.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/joinery/joinery/jobs"
)

// Scheduler runs every job of a Runner's config on its cron schedule.
type Scheduler struct {
	Runner *jobs.Runner
	Logger *slog.Logger
	// Grace is how long running jobs may go on after shutdown begins
	// before they are cancelled (their temporary files are then removed).
	Grace time.Duration
	// Abort, once closed, cancels the running jobs of a shutdown at once,
	// without waiting for the rest of Grace: a second SIGTERM.
	Abort <-chan struct{}
	// Reload reloads the configuration each time it receives (SIGHUP); see
	// reload.
	Reload <-chan struct{}
	// Load reads the configuration for Reload; nil reads the file the
	// configuration in use came from, with jobs.Load.
	Load func() (*jobs.Config, error)
	// Clock is what schedules follow; nil means the system clock.
	Clock Clock
	// OnSkip, when set, is called for a scheduled time t of job that is
	// not run because the job's previous run is still going (a skip the
	// scheduler makes itself: no run, no hook sees it). It must be quick.
	OnSkip func(job *jobs.Job, t time.Time)
	// OnMissed, when set, is called when catch-up drops scheduled times
	// of job that were missed while joinery was not running, once per
	// reason: how many, the newest of them (at most 100, oldest first)
	// and why. It must be quick.
	OnMissed func(job *jobs.Job, newest []time.Time, count int, why string)

	// mu guards live, set while Run runs: what RunNow, ReloadNow and
	// Config reach from other goroutines.
	mu   sync.Mutex
	live *live
}

// live is what a running Scheduler shares with RunNow, ReloadNow and
// Config.
type live struct {
	runCtx, stopping context.Context
	runs             *runSet
	cur              *inUse
	reloads          chan chan error // ReloadNow's requests, served by Run's loop
}

// ErrBusy is returned by RunNow when a run of the job is under way
// already (scheduled, caught up or asked for): the job runs once at a
// time.
var ErrBusy = errors.New("a run of this job is under way already")

// ErrNotRunning is returned by RunNow and ReloadNow when the Scheduler is
// not running: not started yet, or shutting down.
var ErrNotRunning = errors.New("the scheduler is not running")

// ErrNotSchedulable is returned by Scheduler.Run, before it schedules
// anything, when a job cannot run on its schedule: a required parameter
// without a default would fail every run; see Check.
var ErrNotSchedulable = errors.New("configuration cannot be scheduled")

// Check reports why cfg's jobs cannot run on their schedules, as Run
// would before it schedules anything: no jobs, or a required parameter
// without a default (scheduled runs take the defaults, and it would fail
// every run, night after night), wrapped in ErrNotSchedulable.
func Check(cfg *jobs.Config) error {
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

// Run schedules the jobs and blocks until ctx is cancelled, reloading the
// configuration on each receive from Reload. It then starts no new run,
// waits up to Grace (or until Abort) for running ones, cancels what is
// still running, waits for it to clean up and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	cfg := s.Runner.Config
	if err := Check(cfg); err != nil {
		return err
	}
	// Runs get a context of their own: shutdown cancels it only after the
	// grace period.
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	runs := newRunSet()

	// Commits that a crash interrupted are finished, and the temporary
	// files of runs that died removed, before anything runs.
	all := make([]*jobs.Job, len(cfg.Jobs))
	for i := range cfg.Jobs {
		all[i] = &cfg.Jobs[i]
	}
	s.Runner.Recover(all...)
	// One reading of the clock for the first scheduled times and catch-up:
	// a time is either caught up or scheduled.
	now := s.clock().Now()
	cur := s.start(runCtx, ctx, runs, s.runner(cfg), now)
	s.Logger.Info("scheduler started", "jobs", len(cfg.Jobs))
	for i := range cfg.Jobs {
		s.catchUp(runCtx, ctx, runs, cur.runner, &cfg.Jobs[i], now)
	}
	lv := &live{runCtx: runCtx, stopping: ctx, runs: runs, cur: cur, reloads: make(chan chan error)}
	s.setLive(lv)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-s.Reload:
			cur, _ = s.reload(runCtx, ctx, runs, cur)
			s.setCur(cur)
		case reply := <-lv.reloads:
			var err error
			cur, err = s.reload(runCtx, ctx, runs, cur)
			s.setCur(cur)
			reply <- err
		}
	}
	s.setLive(nil)

	s.Logger.Info("shutting down: no new runs will start", "grace", s.Grace, "running", runs.names())
	cur.loop.stop()
	idle := runs.stop()
	select {
	case <-idle:
	case <-time.After(s.Grace):
		s.Logger.Warn("grace period over: cancelling running jobs", "running", runs.names())
		cancelRuns()
		<-idle
	case <-s.Abort:
		s.Logger.Warn("stop requested again: cancelling running jobs now", "running", runs.names())
		cancelRuns()
		<-idle
	}
	s.Logger.Info("scheduler stopped")
	return nil
}

// inUse is the loop of one configuration, and the runner of its runs.
type inUse struct {
	loop   *cronLoop
	runner *jobs.Runner
}

// statementTimeout is the statement timeout of the scheduled runs whose
// job sets no timeout, when the configuration sets no
// database.statement_timeout either (see jobs.Runner.DefaultStatementTimeout):
// a statement whose client was killed (SIGKILL, OOM) goes on on the
// server, holding the job's lock, until it sends rows or meets this limit.
const statementTimeout = time.Hour

// runner returns the runner of cfg's runs: the Scheduler's, on cfg, with
// a statement timeout even when nothing sets one.
func (s *Scheduler) runner(cfg *jobs.Config) *jobs.Runner {
	r := *s.Runner
	r.Config = cfg
	if r.DefaultStatementTimeout == 0 {
		r.DefaultStatementTimeout = statementTimeout
	}
	return &r
}

// start schedules each job of r's configuration on a loop of its own,
// from the scheduled times after now, and starts it.
func (s *Scheduler) start(runCtx, stopping context.Context, runs *runSet, r *jobs.Runner, now time.Time) *inUse {
	cfg := r.Config
	loop := newCronLoop(s.clock(), s.Logger)
	for i := range cfg.Jobs {
		job := &cfg.Jobs[i]
		// The loop calls with the scheduled time: the logical time,
		// whatever the delay in starting it.
		loop.add(job, func(t time.Time) {
			if s.claim(runs, job, t) {
				s.run(runCtx, stopping, runs, r, job, t)
			}
		})
		logical, next := job.NextStart(now)
		attrs := []any{"job", job.Name, "schedule", job.Schedule, "timezone", job.Location.String(), "next_run", next.Format(time.RFC3339)}
		if d := job.Delay(); d > 0 {
			// next_run is when it starts; the run is for its scheduled time.
			attrs = append(attrs, "jitter_delay", d, "next_logical_time", logical.Format(time.RFC3339))
		}
		s.Logger.Info("job scheduled", attrs...)
	}
	loop.start(now)
	return &inUse{loop: loop, runner: r}
}

// reload reads the configuration again and, when it can replace the one
// in use (see reloadable), swaps cur's schedules for its own. Runs under
// way are not disturbed: they go on with the configuration they started
// with, and a job is not started again while a run of it is under way,
// whichever configuration started it (see runSet). A configuration that
// cannot be used is logged as an error, returned, and cur stays.
func (s *Scheduler) reload(runCtx, stopping context.Context, runs *runSet, cur *inUse) (*inUse, error) {
	old := cur.runner.Config
	s.Logger.Info("reloading the configuration", "file", old.File)
	load := s.Load
	if load == nil {
		load = func() (*jobs.Config, error) { return jobs.Load(old.File) }
	}
	cfg, err := load()
	if err == nil {
		err = reloadable(old, cfg)
	}
	if err != nil {
		s.Logger.Error("reload failed: the configuration in use stays", "file", old.File, "error", err)
		return cur, err
	}
	cur.loop.stop() // its running jobs go on
	next := s.start(runCtx, stopping, runs, s.runner(cfg), s.clock().Now())
	added, removed := jobsDiff(old, cfg)
	s.Logger.Info("configuration reloaded", "file", cfg.File, "jobs", len(cfg.Jobs), "added", added, "removed", removed, "running", runs.names())
	return next, nil
}

// setLive records what a running Scheduler shares (nil when it stops).
func (s *Scheduler) setLive(lv *live) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = lv
}

// setCur records the configuration in use after a reload.
func (s *Scheduler) setCur(cur *inUse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		s.live.cur = cur
	}
}

// getLive returns what a running Scheduler shares, or nil.
func (s *Scheduler) getLive() *live {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// Config returns the configuration in use: the last one reloaded, or
// the Runner's before Run starts.
func (s *Scheduler) Config() *jobs.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		return s.live.cur.runner.Config
	}
	return s.Runner.Config
}

// RunNow starts a run of the named job of the configuration in use, for
// the time now (its window and default parameters as for a scheduled
// time now), in the background, as a scheduled run: it is claimed in the
// same set, so it cannot overlap a scheduled, caught-up or asked-for run
// of the job (ErrBusy), and shutdown waits for it as for any run. Its
// result goes to the Runner's hooks. It returns ErrNotRunning when the
// Scheduler is not running or stopping, and an error for a job the
// configuration does not have.
func (s *Scheduler) RunNow(name string) error {
	lv := s.getLive()
	if lv == nil {
		return ErrNotRunning
	}
	s.mu.Lock()
	r := lv.cur.runner
	s.mu.Unlock()
	job, err := r.Config.Job(name)
	if err != nil {
		return err
	}
	ok, busy := lv.runs.start(job.Name)
	switch {
	case busy:
		return ErrBusy
	case !ok:
		return ErrNotRunning
	}
	t := s.clock().Now().Truncate(time.Second).In(job.Location)
	s.Logger.Info("run asked for", "job", job.Name, "logical_time", t.Format(time.RFC3339))
	go s.run(lv.runCtx, lv.stopping, lv.runs, r, job, t)
	return nil
}

// ReloadNow reloads the configuration as a receive from Reload does, and
// returns why the configuration in use stays, if it does. It returns
// ErrNotRunning when the Scheduler is not running, and ctx's error when
// ctx ends first.
func (s *Scheduler) ReloadNow(ctx context.Context) error {
	lv := s.getLive()
	if lv == nil {
		return ErrNotRunning
	}
	reply := make(chan error, 1)
	select {
	case lv.reloads <- reply:
	case <-lv.stopping.Done():
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reloadable reports why cfg cannot replace old in a running scheduler:
// it cannot be scheduled, its output folder cannot be written, or its
// database settings differ from old's (the connection pool was opened
// with them: a restart applies them).
func reloadable(old, cfg *jobs.Config) error {
	if err := Check(cfg); err != nil {
		return err
	}
	a, b := old.Database, cfg.Database
	a.Location, b.Location = nil, nil
	if a != b {
		return errors.New("the database settings changed: restart joinery to apply them")
	}
	return cfg.CheckOutputDir()
}

// jobsDiff returns the names of the jobs cfg has and old has not, and
// those old has and cfg has not.
func jobsDiff(old, cfg *jobs.Config) (added, removed []string) {
	for _, j := range cfg.Jobs {
		if _, err := old.Job(j.Name); err != nil {
			added = append(added, j.Name)
		}
	}
	for _, j := range old.Jobs {
		if _, err := cfg.Job(j.Name); err != nil {
			removed = append(removed, j.Name)
		}
	}
	return added, removed
}

// claim reserves job's run for its scheduled time t in runs. A run of the
// job under way keeps it from starting (logged as a skip), and so does
// the shutdown.
func (s *Scheduler) claim(runs *runSet, job *jobs.Job, t time.Time) bool {
	ok, busy := runs.start(job.Name)
	if busy {
		s.Logger.Warn("run skipped: the previous run of this job is still running", "job", job.Name, "logical_time", t.Format(time.RFC3339))
		if s.OnSkip != nil {
			s.OnSkip(job, t)
		}
	}
	return ok
}

// run runs job, claimed in runs, for its scheduled time t with r; see
// jobs.Runner.RunScheduled. A panic is logged, and the daemon goes on.
func (s *Scheduler) run(runCtx, stopping context.Context, runs *runSet, r *jobs.Runner, job *jobs.Job, t time.Time) {
	defer runs.done(job.Name)
	defer func() {
		if p := recover(); p != nil {
			s.Logger.Error("run panicked", "job", job.Name, "logical_time", t.Format(time.RFC3339), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	r.RunScheduled(runCtx, stopping, job, t)
}

// catchUp starts, in the background, the run of a scheduled time that job
// missed while joinery was not running (see jobs.Job.CatchUp), after logging
// the missed times it drops.
func (s *Scheduler) catchUp(ctx, stopping context.Context, runs *runSet, r *jobs.Runner, job *jobs.Job, now time.Time) {
	log := s.Logger.With("job", job.Name)
	cu, err := missed(r.Config, job, now)
	if err != nil {
		log.Warn("catch-up: cannot read the job's state", "error", err)
		return
	}
	cu.log(log, job)
	if s.OnMissed != nil {
		for _, d := range []*dropped{&cu.Older, &cu.Superseded} {
			if d.Count > 0 {
				s.OnMissed(job, d.Newest, d.Count, d.Why)
			}
		}
	}
	if cu.Run.IsZero() || !s.claim(runs, job, cu.Run) {
		return
	}
	go s.run(ctx, stopping, runs, r, job, cu.Run)
}

// runSet is what the scheduler runs, by job name. A job runs once at a
// time, whichever configuration (before or after a reload) scheduled it,
// where the loop of one configuration only knows its own runs; and
// shutdown waits until nothing runs.
type runSet struct {
	mu       sync.Mutex
	running  map[string]bool
	stopping bool
	idle     chan struct{} // closed when stopping and nothing runs
}

func newRunSet() *runSet {
	return &runSet{running: make(map[string]bool), idle: make(chan struct{})}
}

// start marks a run of job as under way. It reports false when the set is
// stopping or, busy, when a run of job is under way already.
func (rs *runSet) start(job string) (ok, busy bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch {
	case rs.stopping:
		return false, false
	case rs.running[job]:
		return false, true
	}
	rs.running[job] = true
	return true, false
}

// done marks the run of job as over.
func (rs *runSet) done(job string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.running, job)
	if rs.stopping && len(rs.running) == 0 {
		close(rs.idle)
	}
}

// stop starts no run from now on, and returns a channel closed when none
// is under way.
func (rs *runSet) stop() <-chan struct{} {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.stopping && len(rs.running) == 0 {
		close(rs.idle)
	}
	rs.stopping = true
	return rs.idle
}

// names returns the jobs under way, sorted, for the log.
func (rs *runSet) names() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string{}, slices.Sorted(maps.Keys(rs.running))...)
}

// clock returns s.Clock, or the system clock.
func (s *Scheduler) clock() Clock {
	if s.Clock != nil {
		return s.Clock
	}
	return systemClock{}
}
