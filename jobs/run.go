package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
	"github.com/joinery/joinery/queries"
)

// ErrAlreadyRunning is the error (a *mysqlconn.LockHeldError) of a run
// skipped because another run of the same job, in this process or any
// other connected to the same database, holds the job's lock.
var ErrAlreadyRunning = mysqlconn.ErrAlreadyRunning

// Runner runs jobs against a database and writes their reports.
type Runner struct {
	DB     *sql.DB
	Config *Config
	Logger *slog.Logger
	// Progress, when set, is called every few thousand rows and once at the
	// end of each dataset (done true). It must be quick.
	Progress func(job, dataset string, rows int64, done bool)
	// Version is joinery's version, for manifests and About sheets.
	Version string
	// Hooks are called around every run (see Hooks): delivery,
	// notifications and metrics plug in there.
	Hooks Hooks
	// DefaultStatementTimeout is the statement timeout of runs whose job
	// has no timeout, when database.statement_timeout is not set either
	// (see statementTimeout); 0 for none. The scheduler (package
	// jobs/schedule) sets one.
	DefaultStatementTimeout time.Duration
	// Control is a small pool on the same database for the statements
	// that must never wait for a run's connection: the lease's, and the
	// KILL of a cancelled query (see OpenControlDB). nil uses DB.
	Control *sql.DB
	// Detector detects the database engine of DB once, before the first
	// run's lock, and remembers it (and a server that refuses named
	// locks) for the runs after it. nil detects it at every run.
	Detector *mysqlconn.Detector

	// The fields below are set by tests.

	// leaseHeartbeat, when set, replaces the interval between renewals of
	// a lease (a third of database.lease_ttl).
	leaseHeartbeat time.Duration
	// dirHook, when set, becomes the output folder's output.Dir.Hook:
	// tests use it to crash a run, or fail its disk, at a chosen step.
	dirHook func(step, path string) error
	// sleep, when set, replaces the wait between attempts of
	// RunWithRetries (tests): it waits d and returns nil, or returns
	// ctx's error when ctx ends first.
	sleep func(ctx context.Context, d time.Duration) error
	// random, when set, replaces the source of the jitter of that wait: a
	// number in [0, 1).
	random func() float64
}

// DatasetResult is what one dataset of a run produced.
type DatasetResult struct {
	Name     string
	Rows     int64
	Duration time.Duration
	SQLHash  string              // hex SHA-256 of the query's text
	Joins    []queries.JoinStats // one per diagnosed outer join
	Warnings []string            // suspicious values (zero dates), expect rules with on_fail: warn that did not hold
}

// ErrExpectation is wrapped by the error of a run in which an expect rule
// (with on_fail: fail, the default) did not hold.
var ErrExpectation = errors.New("expectation failed")

// Result is the outcome of one job run.
type Result struct {
	Job string
	// RunID names the run in every log record of it, in its manifest and
	// on its About sheet; the attempts of one run share it (see newRunID).
	RunID    string
	Logical  time.Time       // in the job's zone
	Window   *queries.Window // nil when the job has no window
	Params   []output.Param  // the run's parameter values, in declaration order
	Started  time.Time
	Duration time.Duration
	Datasets []DatasetResult
	Files    []string // written, in output order
	Attempts int      // 1, or more after retries (RunWithRetries)
	Manifest string   // the run's manifest, beside its files ("" when none was written)
	// Partial is set for a run whose window (or logical time) was not over
	// when it started (run --allow-partial).
	Partial bool
	// Latest reports whether the outputs' latest names moved to this run.
	Latest bool
	// Snapshot is the isolation level of the consistent snapshot every
	// dataset of the run was read from ("REPEATABLE READ"), or "" when
	// each was read as of its own query (snapshot: false, or the embedded
	// demo database).
	Snapshot string
	Warnings []string // values the outputs had to change, files retention left alone
	// Engine is the database engine the run read from, and Lock the lock
	// it held (as its manifest records them); nil when it got no further.
	Engine *output.ManifestEngine
	Lock   *output.ManifestLock
	// Freshness is what the job's freshness guard saw at its last check;
	// nil when the job has none, or the run failed before it.
	Freshness *output.ManifestFreshness
	// Err is the run's error. The outcomes that hooks and callers tell
	// apart wrap ErrAlreadyRunning or ErrAlreadyDone (skips),
	// ErrLeaseLost, ErrExpectation or ErrEmpty
	// (the data is not as the job expects); a cancelled run's wraps the
	// cause of its context's end (context.Cause).
	Err error
	// NotRetried says why a run that failed was not tried again, as its
	// log record does: "the error is permanent", "gave up after N
	// attempts"; "" when it succeeded, its job does not retry, or it was
	// cancelled or skipped.
	NotRetried string
	// Commit is what the run put in place; nil unless it succeeded.
	Commit *Commit
	// PostCommit are the steps after the commit (Hooks.AfterCommit) that
	// failed: the run succeeded, and its reports are in place, but what
	// these steps were to do with them was not done.
	PostCommit []*StepError
}

// rows is the number of rows the run's datasets had.
func (res *Result) rows() int64 {
	var n int64
	for _, d := range res.Datasets {
		n += d.Rows
	}
	return n
}

// newRunID returns an id for a run that starts at t: the time in UTC to
// the second and 32 random bits, such as 20261104T060000Z-3fa2b9c1. Ids
// sort by start time, and two runs in the same second differ.
func newRunID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// holderError is the error of a run skipped for its lock
// (*mysqlconn.LockHeldError, *mysqlconn.LeaseHeldError), which says who
// holds it.
type holderError interface {
	error
	HolderValue() slog.Value
}

// runLogger returns the logger of a run: each record carries the job, the
// run's id and its logical time, so that an operator can follow one run,
// or alert on one, by its fields alone.
func (r *Runner) runLogger(job *Job, id string, logical time.Time) *slog.Logger {
	return r.Logger.With("job", job.Name, "run_id", id, "logical_time", logical.In(job.Location).Format(time.RFC3339))
}

// failedToPlan is the result of a run that could not be planned (a bad
// parameter, say): it fails before it starts, and is logged as failed.
func (r *Runner) failedToPlan(ctx context.Context, job *Job, t time.Time, err error) *Result {
	now := time.Now()
	res := &Result{Job: job.Name, RunID: newRunID(now), Logical: t.In(job.Location), Started: now, Attempts: 1, Err: err}
	log := r.runLogger(job, res.RunID, t)
	log.Error("run failed", "attempts", 1, "error", err)
	r.Hooks.finish(ctx, Run{Job: job, Result: res, Log: log})
	return res
}

const progressEvery = 1 << 13

// attempt is attempt n of the run id, logged to log, without logging a
// failure: RunWithRetries logs it once for all the attempts.
func (r *Runner) attempt(ctx context.Context, job *Job, p Plan, id string, n int, log *slog.Logger) *Result {
	res := &Result{Job: job.Name, RunID: id, Logical: p.Logical.In(job.Location), Window: p.Window, Params: runParams(job, p), Started: time.Now(), Attempts: n}
	res.Partial = p.NotOver(res.Started)
	attrs := []any{"attempt", n}
	if p.Window != nil {
		attrs = append(attrs, "window_start", p.Window.Start.Format(time.RFC3339), "window_end", p.Window.End.Format(time.RFC3339))
	}
	if res.Partial {
		attrs = append(attrs, "partial", true)
	}
	log.Info("run started", attrs...)
	res.Err = r.run(ctx, job, p, res, log)
	res.Duration = time.Since(res.Started)
	switch {
	case errors.Is(res.Err, ErrAlreadyRunning):
		attrs := []any{"error", res.Err}
		if held, ok := errors.AsType[holderError](res.Err); ok {
			attrs = append(attrs, slog.Attr{Key: "holder", Value: held.HolderValue()})
		}
		log.Warn("run skipped: another run of this job holds its lock", attrs...)
		return res
	case errors.Is(res.Err, ErrAlreadyDone):
		// Another daemon ran it: what N daemons do for every scheduled time.
		log.Info("run skipped: this scheduled time has run, or is running, elsewhere", "error", res.Err)
		return res
	case res.Err != nil:
		return res
	}
	log.Info("run finished", "rows", res.rows(), "files", len(res.Files), "attempts", n, "duration", res.Duration.Round(time.Millisecond))
	return res
}

func (r *Runner) run(ctx context.Context, job *Job, p Plan, res *Result, log *slog.Logger) (err error) {
	if job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, job.Timeout, fmt.Errorf("%w of %s reached", errJobTimeout, job.Timeout))
		defer cancel()
	}
	// A lease that is lost ends the run with the cause ErrLeaseLost.
	ctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	defer func() {
		cause := context.Cause(ctx)
		switch {
		case err == nil || cause == nil || errors.Is(err, cause):
		case errors.Is(cause, ErrLeaseLost):
			// A failure, not a cancellation: the run's own context ended
			// for it, not joinery's.
			err = fmt.Errorf("%w (%v)", cause, err)
		default:
			err = fmt.Errorf("%w (%w)", cause, err)
		}
	}()

	conn, err := r.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// The engine decides the lock: detected before it is taken.
	engine, err := r.engine(ctx, mysqlconn.DBQuerier(conn), log)
	if err != nil {
		return err
	}
	res.Engine = &output.ManifestEngine{Name: engine.Name(), Version: engine.Version}
	sess, lock, err := r.session(ctx, conn, engine, job, p, res.RunID, log, lost)
	if err != nil {
		return err
	}
	defer sess.Release(ctx)
	defer func() {
		// A scheduled run stopped by a shutdown leaves its time to a
		// daemon that follows it (see Runner.watchElsewhere): it does not
		// report a failure. Not one that reached the job's timeout: that
		// is a failure, which another daemon would only repeat.
		cause := context.Cause(ctx)
		lock.release(ctx, p.Scheduled && err != nil && ctx.Err() != nil && !errors.Is(cause, ErrLeaseLost) && !errors.Is(cause, errJobTimeout))
	}()
	res.Lock = lock.record()

	dir, err := output.OpenDir(r.Config.OutputPath())
	if err != nil {
		return err
	}
	defer dir.Close()
	dir.Hook = r.dirHook
	// A run of this job that died left its commit to finish, or temporary
	// files to remove: the job's lock is held, so no run of it is live.
	r.recover(dir, job, log)
	// A time another daemon made is skipped before the data is waited for.
	if p.Scheduled {
		if err := alreadyDone(lock, dir, job, p, res, log); err != nil {
			return err
		}
	}
	// The data must have arrived before anything is read (freshness.go).
	if err := r.freshness(ctx, sess.Conn, job, p, res, log); err != nil {
		return err
	}

	reports := make([]output.Report, 0, len(job.Outputs))
	defer func() {
		if err != nil {
			for _, rep := range reports {
				if aerr := rep.Abort(); aerr != nil {
					log.Warn("could not remove temporary files", "error", aerr)
				}
			}
		}
	}()
	vars := r.vars(job, res)
	if r.snapshot(job, sess) {
		vars.Snapshot = mysqlconn.SnapshotIsolation
	}
	if p.Window != nil {
		vars.WindowStart, vars.WindowEnd = p.Window.Start, p.Window.End
	}
	reg := formats.Default()
	async := make([]bool, len(job.Outputs)) // which outputs' formats run on a goroutine of their own
	for k, spec := range job.Outputs {
		rep, err := reg.Open(spec, dir, vars)
		if err != nil {
			return fmt.Errorf("output %s: %w", spec.Path, err)
		}
		reports = append(reports, rep)
		f, _ := reg.Lookup(spec.Format) // Open has found it
		async[k] = f.Async()
	}

	// The snapshot starts when the first query is about to run: from
	// then on the server holds back the undo history of the rows it may
	// need, and keeps the metadata locks of the tables read, until it ends.
	if r.snapshot(job, sess) {
		if err := sess.Begin(ctx); err != nil {
			return err
		}
		res.Snapshot = mysqlconn.SnapshotIsolation
	}
	env := job.env(p, r.Config.Database.Location)
	// The server says which windows are TIMESTAMP columns, whose bounds
	// are bound in UTC: asked inside the snapshot, so the types are those
	// of the tables the datasets read.
	env.TimestampWindows, err = r.windowTypes(ctx, sess, job, env, res, log)
	if err != nil {
		return err
	}
	for q, err := range job.queries(env, false) {
		ds := q.Dataset
		if err != nil {
			return fmt.Errorf("dataset %s: compile: %w", ds.Name, err)
		}
		dr, err := r.dataset(ctx, sess, job, q, reports, async)
		if err == nil || errors.Is(err, ErrExpectation) {
			// The rows were all read: the summary shows what failed.
			res.Datasets = append(res.Datasets, dr)
		}
		if err != nil {
			if mysqlconn.IsStatementTimeout(err) {
				err = fmt.Errorf("%w (the statement timeout of %s, from %s)", err, sess.timeout, sess.timeoutFrom)
			}
			return fmt.Errorf("dataset %s: %w", ds.Name, err)
		}
		log.Info("dataset written", "dataset", ds.Name, "rows", dr.Rows, "duration", dr.Duration.Round(time.Millisecond))
		if dr.Rows == 0 && job.OnEmpty == "fail" {
			return fmt.Errorf("dataset %s: %w", ds.Name, ErrEmpty)
		}
	}

	// Every row is read: the snapshot has served its purpose. A failure
	// to end it does not change what was read; the connection goes with
	// its transaction when the session ends.
	if err := sess.End(ctx); err != nil {
		log.Warn("could not end the snapshot transaction", "error", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Every output is complete before the first one replaces anything.
	for _, rep := range reports {
		if err := rep.Prepare(); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The last check before the commit: another daemon that took the
	// job's lease over may be writing the same reports.
	if err := lock.verify(ctx); err != nil {
		return err
	}
	start := time.Now()
	m := r.manifest(job, res, reports, log)
	c, err := dir.Commit(output.Commit{Manifest: m, Reports: reports, Once: p.Scheduled})
	switch {
	case errors.Is(err, output.ErrFenced):
		// The lease was lost after its last check (see lock.verify).
		return fmt.Errorf("%w: %w", ErrLeaseLost, err)
	case errors.Is(err, output.ErrCommitted):
		// Another daemon sharing the folder made this time meanwhile.
		return fmt.Errorf("%w: %w", ErrAlreadyDone, err)
	case err != nil:
		return fmt.Errorf("write report: %w", err)
	}
	log.Debug("committed", "duration", time.Since(start), "pending", c.Pending)
	// The commit point is passed: whatever happens now, even a signal,
	// the run has happened. Nothing below fails it, nor do the hooks
	// after it (see Hooks). The lease's record of the time first: the
	// shorter the moment between the two, the less a daemon dying in it
	// leaves another to make the time again.
	if p.Scheduled {
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := lock.markDone(mctx, p.Logical, res.RunID); err != nil {
			log.Warn("could not record the scheduled time as done in the lease table, nor free the lease: a daemon that shares the output folder reads its manifests instead, one that does not may make the time again", "error", err)
		}
	}
	r.committed(dir, job, res, c, m, log)
	return nil
}

// windowTypes returns the datasets of job whose window the server types
// TIMESTAMP (see timestampWindows), and adds a warning to res for each
// window that mixes TIMESTAMP and DATETIME columns.
func (r *Runner) windowTypes(ctx context.Context, sess *session, job *Job, env queries.Env, res *Result, log *slog.Logger) (map[string]bool, error) {
	stamps, warnings, err := timestampWindows(ctx, sess.Conn, job, env)
	if err != nil {
		return nil, err
	}
	for name := range stamps {
		log.Debug("window bounds in UTC: the window is a TIMESTAMP", "dataset", name)
	}
	for _, w := range warnings {
		log.Warn("window bounds", "warning", w)
		res.Warnings = append(res.Warnings, w)
	}
	return stamps, nil
}

// dataset runs one dataset's query once and feeds each row to every report.
func (r *Runner) dataset(ctx context.Context, sess *session, job *Job, q Query, reports []output.Report, async []bool) (DatasetResult, error) {
	ds := q.Dataset
	res := DatasetResult{Name: ds.Name}
	start := time.Now()
	res.SQLHash = output.SQLHash(q.SQL)

	stopKill := sess.KillOnCancel(ctx)
	defer stopKill()
	// Rows come straight from the driver (mysqlconn.Rows), without
	// database/sql's Rows.Scan (see BENCHMARKS.md, numbers moved from
	// code comments).
	var norm *output.Normalizer
	writers := make([]output.RowWriter, 0, len(reports))
	closeAll := func() error {
		var errs []error
		for _, w := range writers {
			errs = append(errs, w.Close())
		}
		writers = nil
		return errors.Join(errs...)
	}
	defer closeAll()
	err := sess.Conn.Raw(func(dc any) error {
		rows, err := mysqlconn.Query(ctx, dc, q.SQL, q.Args)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		defer rows.Close()
		all := rows.Columns()
		// The hidden join diagnostic columns follow the dataset's own.
		visible := len(q.Columns)
		if ds.IsRaw() {
			visible = len(all) // the server names a raw SQL dataset's columns
			if err := rawColumns(all); err != nil {
				return fmt.Errorf("query: %w", err)
			}
		}
		if len(all) != visible+3*len(q.Joins) {
			return fmt.Errorf("query: %d result columns, want %d", len(all), visible+3*len(q.Joins))
		}
		cols := all[:visible:visible]
		norm = output.NewNormalizer(cols, r.Config.Database.Location, job.Location)
		res.Joins = make([]queries.JoinStats, len(q.Joins))
		for i, j := range q.Joins {
			res.Joins[i] = queries.JoinStats{Alias: j.Alias, Type: j.Type}
		}

		// Writers that run on goroutines of their own, sharing one copy of
		// each row. A format whose encoding costs more than the copy always
		// does (Format.Async: xlsx, whose deflate has another goroutine):
		// it is faster even alone. With several outputs they all do, so
		// that none waits for another nor slows the reading of rows: that
		// brings csv and xlsx in one run closer to the xlsx-only time. A
		// lone writer of another format (csv, jsonl, tsv) stays on this
		// goroutine, where it costs less than the copy. (See BENCHMARKS.md,
		// Numbers moved from code comments, jobs/run.go.)
		var own []output.RowWriter
		for k, rep := range reports {
			w, err := rep.Dataset(ds.Name, cols)
			if err != nil {
				for _, w := range own {
					_ = w.Close() // the error that matters is err
				}
				return err
			}
			if async[k] || len(reports) > 1 {
				own = append(own, w)
			} else {
				writers = append(writers, w)
			}
		}
		if len(own) > 0 {
			writers = append(writers, output.AsyncAll(own, len(cols)))
		}

		raw := rows.Row()
		vals := make([]output.Value, len(cols))
		for {
			ok, err := rows.Next()
			if se := (mysqlconn.ScanError{}); errors.As(err, &se) {
				return fmt.Errorf("read row %d: %w", res.Rows+1, se.Err)
			}
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					err = cerr
				}
				return fmt.Errorf("query: %w", err)
			}
			if !ok {
				return nil
			}
			if err := norm.Normalize(raw[:visible], vals); err != nil {
				return fmt.Errorf("row %d: %w", res.Rows+1, err)
			}
			for i := range res.Joins {
				h := raw[visible+3*i:]
				res.Joins[i].Add(count(h[0]), count(h[1]), count(h[2]))
			}
			for _, w := range writers {
				if err := w.WriteRow(vals); err != nil {
					return err
				}
			}
			res.Rows++
			if res.Rows%progressEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if r.Progress != nil {
					r.Progress(job.Name, ds.Name, res.Rows, false)
				}
			}
		}
	})
	if err != nil {
		return res, err
	}
	if err := closeAll(); err != nil {
		return res, err
	}
	res.Warnings = norm.Warnings()
	for _, w := range res.Warnings {
		sess.log.Warn("suspicious value", "dataset", ds.Name, "warning", w)
	}
	for _, j := range res.Joins {
		sess.log.Info("join diagnostics", "dataset", ds.Name, "join", j.Alias, "type", j.Type,
			"matched", j.Matched, "left_unmatched", j.LeftUnmatched, "right_unmatched", j.RightUnmatched)
	}
	failed, warned := queries.Evaluate(ds, res.Rows, res.Joins)
	res.Warnings = append(res.Warnings, warned...)
	for _, w := range warned {
		sess.log.Warn("expectation not met", "dataset", ds.Name, "expect", w)
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("%w: %s", ErrExpectation, strings.Join(failed, "; "))
	}
	res.Duration = time.Since(start)
	if r.Progress != nil {
		r.Progress(job.Name, ds.Name, res.Rows, true)
	}
	return res, nil
}

// count reads a diagnostic column: 0 or 1 per row, or a SUM per group
// (DECIMAL text such as "3", NULL for an empty group).
// It runs three times per row and joins: parse in place, without allocating.
func count(b []byte) int64 {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			break // the point of a DECIMAL sum, whose fraction is zero
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// session is the one connection a job run uses, holding the job's lock
// (mysqlconn.Session), with the statement timeout the run applied.
type session struct {
	*mysqlconn.Session
	log         *slog.Logger
	timeout     time.Duration // the statement timeout, 0 for none
	timeoutFrom string        // where it comes from, for its error
}

// snapshot reports whether a run of job in sess reads its datasets from
// one consistent snapshot. The embedded demo engine (go-mysql-server)
// refuses START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY as a
// syntax error; nothing but the run itself reads its in-process data,
// which is seeded once at start, so the run goes without.
func (r *Runner) snapshot(job *Job, sess *session) bool {
	return job.readsSnapshot() && !sess.NoSnapshot
}

// session prepares conn for a run of job on engine e: it takes the run's
// lock (see Runner.lock), makes the session read-only for raw SQL and
// applies the statement timeout. lost ends the run when a lease is lost.
func (r *Runner) session(ctx context.Context, conn *sql.Conn, e mysqlconn.Engine, job *Job, p Plan, runID string, log *slog.Logger, lost context.CancelCauseFunc) (*session, runLock, error) {
	ms, err := mysqlconn.NewSession(ctx, r.control(), conn, e, log)
	if err != nil {
		return nil, nil, err
	}
	lock, err := r.lock(ctx, ms, e, job, p, runID, log, lost)
	if err != nil {
		ms.Release(ctx)
		return nil, nil, err
	}
	s := &session{Session: ms, log: log}
	fail := func(err error) (*session, runLock, error) {
		lock.release(ctx, false)
		s.Release(ctx)
		return nil, nil, err
	}
	if job.hasRawSQL() {
		// The server refuses the writes of a raw SQL dataset: DML,
		// and DDL, which a READ ONLY transaction alone lets through on
		// MariaDB (its implicit commit ends the transaction first).
		if err := s.ReadOnly(ctx); err != nil {
			return fail(err)
		}
	}
	s.timeout, s.timeoutFrom = r.statementTimeout(job)
	if s.timeout > 0 {
		if err := s.SetStatementTimeout(ctx, s.timeout); err != nil {
			if s.timeoutFrom == fromConfig || ctx.Err() != nil {
				return fail(err)
			}
			// A limit joinery chose itself never fails a run that would
			// run without it (a proxy that refuses the variable, say).
			log.Warn("could not limit the run's statements on the server", "statement_timeout", s.timeout, "from", s.timeoutFrom, "error", err)
			s.timeout = 0
		}
	}
	return s, lock, nil
}

// control is the pool of the lease's statements and of KILL: Control, or
// DB without it.
func (r *Runner) control() *sql.DB {
	if r.Control != nil {
		return r.Control
	}
	return r.DB
}

// Where a run's statement timeout comes from (see Runner.statementTimeout).
const (
	fromConfig   = "database.statement_timeout"
	fromJob      = "the job's timeout"
	fromSchedule = "the default of schedule"
)

// statementTimeout returns the server-side limit on each statement of a
// run of job, and where it comes from: database.statement_timeout or the
// job's timeout (plus a second, so that the run's own timeout, whose
// error says more, comes first), the shorter; with neither,
// r.DefaultStatementTimeout (the scheduler's, see package jobs/schedule). A
// statement outliving the run's timeout would only hold the job's lock
// after its client is gone. The embedded demo database runs in joinery's
// process and dies with it: it gets database.statement_timeout only.
func (r *Runner) statementTimeout(job *Job) (time.Duration, string) {
	t, from := r.Config.Database.StatementTimeout, fromConfig
	if r.Config.Database.Embedded() {
		return t, from
	}
	if job.Timeout > 0 && (t == 0 || job.Timeout+time.Second < t) {
		t, from = job.Timeout+time.Second, fromJob
	}
	if t == 0 && r.DefaultStatementTimeout > 0 {
		t, from = r.DefaultStatementTimeout, fromSchedule
	}
	return t, from
}
