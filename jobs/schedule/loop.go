package schedule

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/joinery/joinery/jobs"
)

// Clock is what a Scheduler reads the time from and waits on. The
// Scheduler's default is the system clock; tests give it one they move by
// hand, to drive schedules across clock changes without waiting for them.
type Clock interface {
	Now() time.Time
	// WaitUntil returns a channel that is closed once the clock reads t or
	// later, and a function that gives up the wait (the channel may then
	// never be closed).
	WaitUntil(t time.Time) (<-chan struct{}, func())
}

// systemClock is the Clock of time.Now.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) WaitUntil(t time.Time) (<-chan struct{}, func()) {
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		for {
			d := time.Until(t)
			if d <= 0 {
				close(done)
				return
			}
			// A timer runs on the monotonic clock, which a suspended
			// machine or a stepped system clock leaves apart from the wall
			// clock that schedules follow: look at the wall clock at least
			// every minute.
			timer := time.NewTimer(min(d, time.Minute))
			select {
			case <-timer.C:
			case <-stop:
				timer.Stop()
				return
			}
		}
	}()
	var once sync.Once
	return done, func() { once.Do(func() { close(stop) }) }
}

// cronLoop starts each entry's runs at the times its schedule gives. It is
// joinery's own loop in place of robfig/cron's (whose parser parses the
// schedules), so that a Clock drives it, and so that a run's logical time
// is exactly the time it was scheduled for. It keeps robfig/cron's
// SkipIfStillRunning and Recover: a run that is due while the entry's
// previous run goes on is skipped with a warning, and a run that panics is
// logged and does not stop the entry.
//
// A job with jitter (jobs.Job.Delay) starts each scheduled time that much
// later; its entry still holds the scheduled time, which its run gets as
// its logical time. Stopping the loop while a run waits for its delay
// drops that run, as it drops the scheduled times not yet reached.
type cronLoop struct {
	clock   Clock
	logger  *slog.Logger
	entries []*cronEntry

	running sync.WaitGroup // started runs
	cancel  context.CancelFunc
	done    chan struct{} // closed when the loop has returned
}

type cronEntry struct {
	job   *jobs.Job
	run   func(logical time.Time)
	delay time.Duration // the job's jitter delay: each run starts at next + delay
	next  time.Time     // its next scheduled time; zero when it has none
	busy  atomic.Bool   // a run of it is going on
}

// start returns when the run of e's next scheduled time starts.
func (e *cronEntry) start() time.Time { return e.next.Add(e.delay) }

func newCronLoop(clock Clock, logger *slog.Logger) *cronLoop {
	return &cronLoop{clock: clock, logger: logger, done: make(chan struct{})}
}

// add schedules job: run is called, on a goroutine of its own, with each
// scheduled time in the job's zone.
func (l *cronLoop) add(job *jobs.Job, run func(logical time.Time)) {
	l.entries = append(l.entries, &cronEntry{job: job, run: run, delay: job.Delay()})
}

// start starts the loop: the first runs are those that start after now
// (a scheduled time up to its delay before now among them).
func (l *cronLoop) start(now time.Time) {
	for _, e := range l.entries {
		e.next, _ = e.job.NextStart(now)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.loop(ctx)
}

// stop ends the loop, so that no run starts any more, and returns a
// context that is done when the runs already started have returned.
func (l *cronLoop) stop() context.Context {
	l.cancel()
	<-l.done
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		l.running.Wait()
		cancel()
	}()
	return ctx
}

func (l *cronLoop) loop(ctx context.Context) {
	defer close(l.done)
	for {
		var first time.Time
		for _, e := range l.entries {
			if !e.next.IsZero() && (first.IsZero() || e.start().Before(first)) {
				first = e.start()
			}
		}
		if first.IsZero() {
			<-ctx.Done()
			return
		}
		wake, release := l.clock.WaitUntil(first)
		select {
		case <-ctx.Done():
			release()
			return
		case <-wake:
		}
		now := l.clock.Now()
		for _, e := range l.entries {
			if e.next.IsZero() || e.start().After(now) {
				continue
			}
			l.fire(e, e.next)
			next := e.job.NextRun(e.next)
			if !next.IsZero() && !next.Add(e.delay).After(now) {
				// The loop woke late (a suspended machine, a clock set
				// forward): the times since are not run one after another.
				missed, last := 0, next
				for t := next; !t.IsZero() && !t.Add(e.delay).After(now) && missed < 10000; t = e.job.NextRun(t) {
					missed, last = missed+1, t
				}
				l.logger.Warn("scheduled times passed without a run: the clock jumped or joinery was suspended",
					"job", e.job.Name, "first", next.In(e.job.Location).Format(time.RFC3339), "last", last.In(e.job.Location).Format(time.RFC3339), "count", missed)
				next, _ = e.job.NextStart(now)
			}
			e.next = next
		}
	}
}

// fire starts a run of e for logical time t, unless one is going on.
func (l *cronLoop) fire(e *cronEntry, t time.Time) {
	logical := t.In(e.job.Location)
	if !e.busy.CompareAndSwap(false, true) {
		l.logger.Warn("run skipped: the previous run of this job is still running", "job", e.job.Name, "logical_time", logical.Format(time.RFC3339))
		return
	}
	l.running.Go(func() {
		defer e.busy.Store(false)
		defer func() {
			if r := recover(); r != nil {
				l.logger.Error("run panicked", "job", e.job.Name, "logical_time", logical.Format(time.RFC3339), "panic", r, "stack", string(debug.Stack()))
			}
		}()
		e.run(logical)
	})
}
