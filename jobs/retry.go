package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/joinery/joinery/internal/mysqlconn"
)

// RunWithRetries runs job once as planned (see Job.PlanAt and
// Job.PlanRange) and, when the run fails for a reason known to pass (see
// Retryable), tries again up to job.Retries times, waiting as backoff
// says between attempts. A run that fails for any other reason, is
// cancelled or is skipped for the lock is not retried. On any error,
// cancellation, timeout or failed expectation every temporary file is
// removed and previous reports are left as they were. The returned
// Result is never nil; its Err is the run's error. Every run goes through
// here, and through r.Hooks (see Hooks), whoever asked for it.
//
// The attempts share one run id. Each attempt that will be retried logs a
// warning, "attempt failed, will retry", with the attempt, the wait and
// the error. The end of a run that failed is logged once: an error, "run
// failed", with the attempts made, the last error and why it is not
// retried ("the error is permanent", "gave up after N attempts"); or a warning,
// "run cancelled", when ctx ended (a signal, or the scheduler stopping)
// and cut the run or its wait for the next attempt short.
func (r *Runner) RunWithRetries(ctx context.Context, job *Job, p Plan) *Result {
	return r.runWithRetries(ctx, ctx, job, p)
}

// RunScheduled runs job for its scheduled time t, with its window for t
// and the default parameter values, as RunWithRetries does, except that
// it waits between attempts only while stopping lasts: a scheduler
// shutting down lets a running attempt finish within runCtx but starts
// no further attempt. A run that cannot be planned fails without an
// attempt. Either way its result goes to r.Hooks, as every run's does.
func (r *Runner) RunScheduled(runCtx, stopping context.Context, job *Job, t time.Time) *Result {
	p, err := job.PlanAt(t, nil)
	if err != nil {
		return r.failedToPlan(runCtx, job, t, err)
	}
	p.Scheduled = true
	return r.runWithRetries(runCtx, stopping, job, p)
}

// runWithRetries runs with runCtx and waits between attempts only while
// waitCtx lasts: a scheduler shutting down lets a running attempt finish
// within its grace period but starts no further attempt.
func (r *Runner) runWithRetries(runCtx, waitCtx context.Context, job *Job, p Plan) *Result {
	id := newRunID(time.Now())
	log := r.runLogger(job, id, p.Logical)
	res := r.attempts(runCtx, waitCtx, job, p, id, log)
	r.Hooks.finish(runCtx, Run{Job: job, Result: res, Log: log})
	return res
}

// attempts makes the attempts of the run id, as RunWithRetries says, and
// returns the last one's result.
func (r *Runner) attempts(runCtx, waitCtx context.Context, job *Job, p Plan, id string, log *slog.Logger) *Result {
	stopping := func() string {
		if runCtx.Err() != nil {
			return context.Cause(runCtx).Error()
		}
		return "joinery is stopping: no further attempt"
	}
	// skips counts the attempts that were skips for another daemon's run
	// of this time, before it was taken over (see watchElsewhere): they
	// spend none of the job's retries.
	skips := 0
	for attempt := 1; ; attempt++ {
		res := r.attempt(runCtx, job, p, id, attempt, log)
		tries := attempt - skips // the attempts that ran, this one too
		var delay time.Duration
		switch {
		case res.Err == nil || errors.Is(res.Err, ErrAlreadyRunning) || errors.Is(res.Err, ErrAlreadyDone):
			// attempt logged it
		case runCtx.Err() != nil:
			logCancelled(log, res, stopping())
		case job.Retries == 0:
			// Nothing to explain: the job does not retry.
			logFailed(log, res)
		case !Retryable(res.Err):
			res.NotRetried = "the error is permanent"
			logFailed(log, res)
		case tries > job.Retries:
			res.NotRetried = fmt.Sprintf("gave up after %d attempts", tries)
			logFailed(log, res)
		case waitCtx.Err() != nil:
			// The attempt failed for a reason that passes, and would be
			// tried again but for the shutdown.
			logCancelled(log, res, stopping())
		default:
			random := r.random
			if random == nil {
				random = rand.Float64
			}
			delay = backoff(job.RetryDelay, job.RetryMaxDelay, tries, random)
			log.Warn("attempt failed, will retry", "attempt", attempt, "retries", job.Retries, "retry_in", delay, "error", res.Err)
		}
		r.Hooks.attempt(runCtx, Run{Job: job, Result: res, Log: log, RetryIn: delay})
		if e, ok := errors.AsType[*runningElsewhere](res.Err); ok && r.watchElsewhere(runCtx, waitCtx, job, p, e, log) {
			skips++
			continue // the other daemon's run died: this one makes it
		}
		if delay == 0 {
			return res
		}
		if r.wait(runCtx, waitCtx, delay) != nil {
			logCancelled(log, res, stopping())
			return res
		}
	}
}

// logFailed logs, as an error, the failure of a run that will not be tried
// again, and why not when the result says.
func logFailed(log *slog.Logger, res *Result) {
	attrs := []any{"attempts", res.Attempts, "error", res.Err, "duration", res.Duration.Round(time.Millisecond)}
	if res.NotRetried != "" {
		attrs = append(attrs, "not_retried", res.NotRetried)
	}
	log.Error("run failed", attrs...)
}

// logCancelled logs, as a warning, a run that a signal or the scheduler's
// shutdown stopped (or kept from its next attempt): nothing went wrong
// with the job, and it left no partial file.
func logCancelled(log *slog.Logger, res *Result, why string) {
	log.Warn("run cancelled", "attempts", res.Attempts, "error", res.Err, "duration", res.Duration.Round(time.Millisecond), "reason", why)
}

// wait waits d, or until runCtx or waitCtx ends, with r.sleep when it is
// set, and returns nil when d has passed.
func (r *Runner) wait(runCtx, waitCtx context.Context, d time.Duration) error {
	ctx, cancel := context.WithCancel(runCtx)
	defer cancel()
	defer context.AfterFunc(waitCtx, cancel)()
	if r.sleep != nil {
		return r.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// defaultRetryMaxDelay is the longest wait between attempts when a job
// sets no retry_max_delay (nor a longer retry_delay).
const defaultRetryMaxDelay = 15 * time.Minute

// backoff returns the wait before retry n (1 for the first): base doubled
// n-1 times, at most max, then "equal jitter": d/2 + random()·d/2, where
// random returns a number in [0, 1). The wait is thus never more than max
// nor less than half of d. Half is kept so that retry_delay stays a floor
// worth its name (a server restarting needs some time, which full jitter,
// from 0 to d, would not leave it); the other half spreads the retries of
// jobs that failed together (they were scheduled at the same minute, and
// the server went down under all of them), so that they do not come back
// all at once.
func backoff(base, max time.Duration, n int, random func() float64) time.Duration {
	d := min(base, max)
	for i := 1; i < n && d < max; i++ {
		if d > max/2 {
			d = max
		} else {
			d *= 2
		}
	}
	half := d / 2
	return d - half + time.Duration(random()*float64(half))
}

// errJobTimeout is wrapped by the error of a run that reached its job's
// timeout.
var errJobTimeout = errors.New("job timeout")

// Retryable reports whether a run that failed with err may succeed on a
// later attempt: RunWithRetries retries exactly these errors. It is an
// allow-list: an error is retried only when it is known to pass, which
// mysqlconn.Transient decides for the errors of the server, the driver
// and the network (server errors such as too many connections, a
// shutdown, a deadlock or a killed connection; a dropped connection, the
// driver's read timeout (database.read_timeout) included; refused, reset
// or unreachable connections, dial timeouts, DNS failures that pass), and
// data that a freshness guard found not fresh yet (ErrStale).
//
// Everything else is permanent, among them: a failed expect rule
// (ErrExpectation), an empty dataset with on_empty: fail (ErrEmpty), a
// dataset that does not compile, a bad parameter or template, another run
// holding the job's lock (ErrAlreadyRunning), a scheduled time that has
// run already (ErrAlreadyDone), a lease lost (ErrLeaseLost: another
// daemon took the run over), the run's cancellation and
// its job timeout, server errors outside the list (syntax, unknown table
// or column, access denied, statement timeout), and file system errors:
// permission denied, a read-only file system, a full disk (ENOSPC) or
// quota (EDQUOT). A full disk is rarely freed in the minutes the retries
// last without someone acting, and each attempt would run the whole
// query again to fill it again: the run fails at once, the last good
// report stays (writes are atomic), and the error reaches whoever is
// watching without the delay of the retries.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrAlreadyRunning) || errors.Is(err, ErrAlreadyDone) || errors.Is(err, ErrLeaseLost) ||
		errors.Is(err, errJobTimeout) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrStale) {
		return true // a replica catches up, a load finishes
	}
	return mysqlconn.Transient(err)
}
