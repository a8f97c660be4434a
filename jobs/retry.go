package jobs

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
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
	for attempt := 1; ; attempt++ {
		res := r.attempt(runCtx, job, p, id, attempt, log)
		var delay time.Duration
		switch {
		case res.Err == nil || errors.Is(res.Err, ErrAlreadyRunning):
			// attempt logged it
		case runCtx.Err() != nil:
			logCancelled(log, res, stopping())
		case job.Retries == 0:
			// Nothing to explain: the job does not retry.
			logFailed(log, res)
		case !Retryable(res.Err):
			res.NotRetried = "the error is permanent"
			logFailed(log, res)
		case attempt > job.Retries:
			res.NotRetried = fmt.Sprintf("gave up after %d attempts", attempt)
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
			delay = backoff(job.RetryDelay, job.RetryMaxDelay, attempt, random)
			log.Warn("attempt failed, will retry", "attempt", attempt, "retries", job.Retries, "retry_in", delay, "error", res.Err)
		}
		r.Hooks.attempt(runCtx, Run{Job: job, Result: res, Log: log, RetryIn: delay})
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

// passingCodes are the MySQL and MariaDB server errors that a later attempt
// may not meet: the server was busy, restarting or failing over, or the
// statement lost a race with another session. Any other server error says
// something about the query, the account or the server's settings, which
// the next attempt would meet again: a syntax error (1064), an unknown
// table (1146) or column (1054), access denied (1044, 1045, 1142), an
// unknown database (1049), a statement timeout (1969 on MariaDB, 3024 on
// MySQL: the same query meets the same limit), a query killed on its own
// (1317, KILL QUERY: someone stopped it on purpose, and would again), a
// host blocked for its connection errors (1129, until an administrator
// flushes hosts).
//
// Read-only servers (1290 ER_OPTION_PREVENTS_STATEMENT, 1836
// ER_READ_ONLY_MODE) are left out on purpose: joinery only reads, so a
// replica or a primary demoted in a failover runs its queries, and 1290
// also reports options that stay (--secure-file-priv,
// --skip-grant-tables). The two servers share the numbers below 1888;
// MariaDB's own start at 1900 and MySQL's at 3000, and each number here
// was checked against both.
var passingCodes = map[uint16]bool{
	// Too many connections, server-wide: others finish and free theirs.
	1040: true, // ER_CON_COUNT_ERROR
	// The account's own max_user_connections: as above, for one user.
	1203: true, // ER_TOO_MANY_USER_CONNECTIONS
	// The account's MAX_USER_CONNECTIONS or its hourly quotas
	// (MAX_QUERIES_PER_HOUR...): connections close, quotas reset each hour.
	1226: true, // ER_USER_LIMIT_REACHED
	// The server is shutting down: it is restarting, or another takes over.
	1053: true, // ER_SERVER_SHUTDOWN
	// offline_mode: an administrator took the server offline for
	// maintenance and will bring it back.
	3032: true, // ER_SERVER_OFFLINE_MODE (MySQL; the same number on MariaDB)
	// Galera: "WSREP has not yet prepared node for application use", a node
	// joining, resyncing or cut off from the primary component. joinery
	// sends no command the server could not know, so on Galera this is
	// the only meaning it can have.
	1047: true, // ER_UNKNOWN_COM_ERROR
	// Lock waits lost to writers, and deadlocks (also Galera's
	// certification conflicts): the server itself says to try again.
	1205: true, // ER_LOCK_WAIT_TIMEOUT
	1213: true, // ER_LOCK_DEADLOCK
	1689: true, // ER_LOCK_ABORTED: waited behind an exclusive lock (DDL)
	// A table's definition changed under the statement (DDL, or ANALYZE
	// on a table in use): "please retry transaction", and preparing the
	// statement again on the next attempt sees the new definition.
	1412: true, // ER_TABLE_DEF_CHANGED
	1615: true, // ER_NEED_REPREPARE
	// The session was killed: by an administrator, a failover tool or a
	// proxy recycling connections. joinery's own KILL on cancellation
	// never gets here: the run's error is then its cancellation.
	1927: true, // ER_CONNECTION_KILLED (MariaDB; MySQL has no 1927)
	// MySQL 8.0.24 and later closes a connection idle past wait_timeout
	// with this error; a new connection is fine. On MariaDB 4031 is
	// ER_REFERENCED_TRG_DOES_NOT_EXIST, which only CREATE TRIGGER can
	// return, never joinery's SELECTs.
	4031: true, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL)
	// The server is short of memory, threads or transaction slots under
	// the load of the moment. (Out of sort memory, 1038, is left out: it
	// comes from sort_buffer_size and the query, which do not change.)
	1037: true, // ER_OUTOFMEMORY
	1041: true, // ER_OUT_OF_RESOURCES
	1135: true, // ER_CANT_CREATE_THREAD
	1637: true, // ER_TOO_MANY_CONCURRENT_TRXS
	// The server's side of the network failed or timed out.
	1158: true, // ER_NET_READ_ERROR
	1159: true, // ER_NET_READ_INTERRUPTED
	1160: true, // ER_NET_ERROR_ON_WRITE
	1161: true, // ER_NET_WRITE_INTERRUPTED
	// Client codes for a lost server. go-sql-driver/mysql reports a lost
	// connection as mysql.ErrInvalidConn, but a proxy that loses its
	// backend may send them in an error packet (ProxySQL does).
	2006: true, // CR_SERVER_GONE_ERROR
	2013: true, // CR_SERVER_LOST
	// ProxySQL: no backend of the hostgroup answered in time, as during a
	// failover (also when the hostgroup is misconfigured, which costs only
	// the retries).
	9001: true, // "Max connect timeout reached while reaching hostgroup"
}

// passingErrnos are the socket errors, met by a network operation, after
// which a new connection may succeed: the server is not listening yet
// (restarting), dropped the connection, or the network between is down
// for a while.
var passingErrnos = []error{
	syscall.ECONNREFUSED,
	syscall.ECONNRESET,
	syscall.ECONNABORTED,
	syscall.EPIPE, // writing to a connection the server has closed
	syscall.ETIMEDOUT,
	syscall.EHOSTUNREACH,
	syscall.ENETUNREACH,
	syscall.ENETDOWN,
	syscall.EHOSTDOWN,
}

// Retryable reports whether a run that failed with err may succeed on a
// later attempt: RunWithRetries retries exactly these errors. It is an
// allow-list: an error is retried only when it is known to pass.
//
//   - MySQL and MariaDB server errors listed in passingCodes: too many
//     connections, shutdown, lock wait timeouts and deadlocks, a killed
//     connection, resources short for a while, a Galera node not ready.
//   - A connection dropped by the server or the network, as the driver
//     reports it: driver.ErrBadConn, mysql.ErrInvalidConn,
//     io.ErrUnexpectedEOF. The driver reports its read timeout
//     (database.read_timeout) the same way, so a query slower than that
//     timeout is retried too.
//   - Network errors: connection refused, reset or aborted, a broken
//     pipe, a host or network unreachable or down, a connection that timed
//     out (while dialling, or writing to a server that no longer reads),
//     and a DNS lookup that timed out or failed for a while. A host name
//     that does not exist is permanent.
//
// Everything else is permanent, among them: a failed expect rule
// (ErrExpectation), an empty dataset with on_empty: fail (ErrEmpty), a
// dataset that does not compile, a bad parameter or template, another run
// holding the job's lock (ErrAlreadyRunning), the run's cancellation and
// its job timeout, server errors outside the list (syntax, unknown table
// or column, access denied, statement timeout), and file system errors:
// permission denied, a read-only file system, a full disk (ENOSPC) or
// quota (EDQUOT). A full disk is rarely freed in the minutes the retries
// last without someone acting, and each attempt would run the whole
// query again to fill it again: the run fails at once, the last good
// report stays (writes are atomic), and the error reaches whoever is
// watching without the delay of the retries.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrAlreadyRunning) || errors.Is(err, errJobTimeout) || errors.Is(err, context.Canceled) {
		return false
	}
	if me, ok := errors.AsType[*mysql.MySQLError](err); ok {
		return passingCodes[me.Number]
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if de, ok := errors.AsType[*net.DNSError](err); ok {
		return !de.IsNotFound && (de.IsTimeout || de.IsTemporary)
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		// A timeout while dialling: the server is down or the network
		// drops its packets. (A write that times out, the server no
		// longer reading, is one too; the driver reports a read timeout
		// as mysql.ErrInvalidConn.)
		if oe.Timeout() {
			return true
		}
		for _, errno := range passingErrnos {
			if errors.Is(oe.Err, errno) {
				return true
			}
		}
	}
	return false
}
