package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/go-sql-driver/mysql"
)

// RunWithRetries runs job like RunPlan and, when the run fails for a reason a
// later attempt may not meet (the server gone, a deadlock, too many
// connections, a full disk), tries again up to job.Retries times, waiting
// job.RetryDelay, then twice as long each time. A run skipped for the lock,
// cancelled or timed out, or failing on the query itself (a missing table,
// a syntax error) is not retried.
func (r *Runner) RunWithRetries(ctx context.Context, job *Job, p Plan) *Result {
	return r.runWithRetries(ctx, ctx, job, p)
}

// runWithRetries runs with runCtx and waits between attempts only while
// waitCtx lasts: a scheduler shutting down lets a running attempt finish
// within its grace period but starts no further attempt.
func (r *Runner) runWithRetries(runCtx, waitCtx context.Context, job *Job, p Plan) *Result {
	ctx := runCtx
	delay := job.RetryDelay
	for attempt := 1; ; attempt++ {
		res := r.RunPlan(ctx, job, p)
		res.Attempts = attempt
		if res.Err == nil || attempt > job.Retries || !Retryable(res.Err) || ctx.Err() != nil || waitCtx.Err() != nil {
			return res
		}
		r.Logger.Warn("run failed, will retry", "job", job.Name, "attempt", attempt, "retries", job.Retries, "retry_in", delay, "error", res.Err)
		select {
		case <-ctx.Done():
			return res
		case <-waitCtx.Done():
			return res
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// transientCodes are MySQL server errors worth another attempt.
var transientCodes = map[uint16]bool{
	1040: true, // too many connections
	1053: true, // server shutdown in progress
	1205: true, // lock wait timeout
	1213: true, // deadlock
	1927: true, // connection killed (MariaDB)
	2006: true, // server has gone away
	2013: true, // lost connection during query
}

// Retryable reports whether a run that failed with err may succeed on a
// later attempt: RunWithRetries retries exactly these errors.
func Retryable(err error) bool {
	if errors.Is(err, ErrAlreadyRunning) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return transientCodes[me.Number]
	}
	// Anything else: connection failures (driver.ErrBadConn,
	// mysql.ErrInvalidConn, network errors) and file system errors.
	return true
}
