package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/output"
)

// ErrAlreadyDone is the error of a scheduled run skipped because its
// scheduled time has run already: a run for the same logical time (and
// parameters) committed, by this daemon or another sharing the database's
// lease table or the output folder; or because another daemon holds the
// job's lease for that very time, and is running it. A skip, like
// ErrAlreadyRunning, not a failure, and quieter: it is what N daemons do
// for every scheduled time. Manual runs (joinery run) never get it.
var ErrAlreadyDone = errors.New("this scheduled time has run, or is running, elsewhere")

// runningElsewhere is the error (wrapping ErrAlreadyDone) of a scheduled
// run skipped because another daemon holds the job's lease for the same
// scheduled time: it is running it. See Runner.watchElsewhere.
type runningElsewhere struct{ held *mysqlconn.LeaseHeldError }

func (e *runningElsewhere) Error() string {
	return fmt.Sprintf("%s: %s is running it (lease %s, token %d)", ErrAlreadyDone, e.held.Holder, e.held.Name, e.held.Token)
}

func (e *runningElsewhere) Unwrap() error { return ErrAlreadyDone }

// watchElsewhere follows, after a skip for it (runningElsewhere), the run
// of the scheduled time p that another daemon makes under the job's
// lease, until it ends, and reports whether this daemon is to take the
// time over: the holder's lease expired while it held it for p, without
// the time being committed (the holder died, or lost the database), so
// nobody else would make the report. It returns false when the time was
// committed, when the holder let the lease go without committing (its
// run failed or was cancelled, which it reported itself), when another
// time is held now, or when runCtx or waitCtx ends. It reads the lease
// row every third of its time to live (or at the expiry it was told of,
// when sooner), and gives up after half the time to the job's next
// scheduled time: this daemon's slot for the job must be free for it
// (a holder that dies that late leaves its time to catch-up).
func (r *Runner) watchElsewhere(runCtx, waitCtx context.Context, job *Job, p Plan, e *runningElsewhere, log *slog.Logger) bool {
	db := r.Config.Database
	t := &mysqlconn.LeaseTable{DB: r.control(), Table: db.LockTable, TTL: db.LeaseTTL}
	held := e.held
	budget := job.NextRun(p.Logical).Sub(p.Logical) / 2
	var waited time.Duration
	for {
		d := min(max(held.ExpiresIn, 0)+time.Second, db.LeaseTTL/3)
		if waited+d > budget {
			d = budget - waited
		}
		if d <= 0 {
			log.Info("stopped following the run of this time by another daemon: the job's next scheduled time is near", "lease", held.Name)
			return false
		}
		if r.wait(runCtx, waitCtx, d) != nil {
			return false
		}
		waited += d
		held = t.Read(runCtx, e.held.Name)
		switch {
		case held.Lookup != nil:
			log.Warn("could not read the job's lease, held by another daemon for this time", "lease", held.Name, "error", held.Lookup)
			held.ExpiresIn = db.LeaseTTL / 3
		case !held.Done.IsZero() && !p.Logical.After(held.Done):
			log.Info("the run of this time by another daemon committed", "lease", held.Name)
			return false
		case !held.Running.Equal(p.Logical):
			log.Info("the run of this time by another daemon ended without committing; it reports its own failure", "lease", held.Name)
			return false
		case held.ExpiresIn <= 0 && held.Holder != "":
			log.Warn("the run of this time by another daemon stopped without committing (its lease expired): taking the run over",
				"lease", held.Name, "holder", held.Holder, "token", held.Token)
			return true
		}
	}
}

// ErrLeaseLost is wrapped by the error of a run whose lease was lost
// before it committed (see mysqlconn.LeaseTable): it committed nothing.
var ErrLeaseLost = mysqlconn.ErrLeaseLost

// runLock keeps other runs of a job out while one runs: the named lock,
// the lease, or nothing (database.lock).
type runLock interface {
	// verify checks, just before the commit, that the lock is still the
	// run's.
	verify(ctx context.Context) error
	// doneAt is the latest logical time a scheduled run of the job
	// committed, as the lock records it; zero when it keeps no record.
	doneAt() time.Time
	// markDone records that the scheduled run id for logical committed,
	// and gives a lease back in the same statement: the moment between
	// the commit and the record, in which a daemon dying leaves the time
	// to be made again by another, is one statement long.
	markDone(ctx context.Context, logical time.Time, id string) error
	// release gives the lock back; abandoned, for a scheduled run that
	// joinery stopped, leaves its time to be taken over at once.
	release(ctx context.Context, abandoned bool)
	// record is the lock as the manifest says it.
	record() *output.ManifestLock
}

// namedLock is GET_LOCK on the run's session (mysqlconn.Session.LockNamed):
// its session's Release gives it back.
type namedLock struct{ rec output.ManifestLock }

func (namedLock) verify(context.Context) error                      { return nil }
func (namedLock) doneAt() time.Time                                 { return time.Time{} }
func (namedLock) markDone(context.Context, time.Time, string) error { return nil }
func (namedLock) release(context.Context, bool)                     {}
func (l namedLock) record() *output.ManifestLock                    { return &l.rec }

// leaseLock is a lease of the lease table, renewed by a heartbeat that
// cancels the run when the lease is lost.
type leaseLock struct {
	*mysqlconn.Lease
	log *slog.Logger
}

func (l leaseLock) verify(ctx context.Context) error {
	err := l.Verify(ctx)
	if err != nil && !errors.Is(err, ErrLeaseLost) {
		// Its expiry may be past by the server's clock: another daemon
		// may be running the job.
		err = fmt.Errorf("%w: it could not be renewed before the commit: %w", ErrLeaseLost, err)
	}
	return err
}

func (l leaseLock) doneAt() time.Time { return l.DoneLogical }

func (l leaseLock) markDone(ctx context.Context, logical time.Time, id string) error {
	return l.Done(ctx, logical, id)
}

func (l leaseLock) release(ctx context.Context, abandoned bool) {
	release := l.Release
	if abandoned {
		release = l.Abandon
	}
	if err := release(ctx); err != nil {
		l.log.Warn("could not release the job's lease: the next run waits for its expiry", "lease", l.Name, "error", err)
	}
}

func (l leaseLock) record() *output.ManifestLock {
	return &output.ManifestLock{Kind: LockLease, Name: l.Name, Holder: l.Holder, Token: l.Token}
}

// noLock is database.lock: none.
type noLock struct{}

func (noLock) verify(context.Context) error                      { return nil }
func (noLock) doneAt() time.Time                                 { return time.Time{} }
func (noLock) markDone(context.Context, time.Time, string) error { return nil }
func (noLock) release(context.Context, bool)                     {}
func (noLock) record() *output.ManifestLock                      { return &output.ManifestLock{Kind: LockNone} }

// holder names a run as a lock's holder: host/pid/run id.
func holder(runID string) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	h := host + "/" + strconv.Itoa(os.Getpid()) + "/" + runID
	if len(h) > 255 { // the lease table's column
		h = h[len(h)-255:]
	}
	return h
}

// engine returns the engine of r.DB, detected on conn once per pool
// (Runner.Detector) before the run's lock, and logs it the first time,
// to log (the first run's logger).
func (r *Runner) engine(ctx context.Context, conn mysqlconn.Querier, log *slog.Logger) (mysqlconn.Engine, error) {
	d := r.Detector
	if d == nil {
		d = new(mysqlconn.Detector)
	}
	e, first, err := d.Engine(ctx, conn)
	if err != nil {
		return e, fmt.Errorf("connect: %w", err)
	}
	if first {
		log.Info("database engine detected", "engine", e.Name(), "version", e.Version, "lock", r.Config.Database.LockFor(e))
	}
	return e, nil
}

// lock takes the lock of a run of job in sess, as database.lock says;
// lost ends the run's context when a lease is lost.
func (r *Runner) lock(ctx context.Context, sess *mysqlconn.Session, e mysqlconn.Engine, job *Job, p Plan, runID string, log *slog.Logger, lost context.CancelCauseFunc) (runLock, error) {
	db := r.Config.Database
	kind := db.LockFor(e)
	auto := db.Lock == LockAuto || db.Lock == ""
	if auto && kind == LockNamed && r.Detector != nil && r.Detector.NamedRefused() {
		kind = LockLease
	}
	name, who := sess.LockName(job.Name), holder(runID)
	switch kind {
	case LockNone:
		return noLock{}, nil
	case LockNamed:
		err := sess.LockNamed(ctx, job.Name)
		if err == nil {
			return namedLock{output.ManifestLock{Kind: LockNamed, Name: name, Holder: who}}, nil
		}
		if !auto || !errors.Is(err, mysqlconn.ErrNamedLockRefused) || e.Kind == mysqlconn.Embedded {
			return nil, err
		}
		if r.Detector == nil || r.Detector.RefuseNamed() {
			log.Warn("the server refuses named locks: runs use the lease table instead (database.lock: auto)", "lock_table", db.LockTable, "error", err)
		}
	}
	t := &mysqlconn.LeaseTable{DB: r.control(), Table: db.LockTable, TTL: db.LeaseTTL, Heartbeat: r.leaseHeartbeat, PlainToken: e.Kind == mysqlconn.Vitess}
	var running time.Time
	if p.Scheduled {
		running = p.Logical
	}
	l, err := t.Acquire(ctx, name, who, running)
	if held, ok := errors.AsType[*mysqlconn.LeaseHeldError](err); ok && p.Scheduled && held.Running.Equal(p.Logical) {
		return nil, &runningElsewhere{held}
	}
	if err != nil {
		return nil, err
	}
	l.Keep(ctx, log, lost)
	return leaseLock{l, log}, nil
}

// alreadyDone returns an error wrapping ErrAlreadyDone when the scheduled
// run p of job has run already: the lock records its logical time as
// done, or the output folder has a committed run (not partial) for it and
// its parameters, of a daemon sharing the folder.
func alreadyDone(lock runLock, dir *output.Dir, job *Job, p Plan, res *Result, log *slog.Logger) error {
	at := p.Logical.Format(time.RFC3339)
	if done := lock.doneAt(); !done.IsZero() && !p.Logical.After(done) {
		return fmt.Errorf("%w: the job's lease records a run committed for %s", ErrAlreadyDone, done.In(job.Location).Format(time.RFC3339))
	}
	id, manifest, warnings, err := dir.RunFor(job.Name, p.Logical, output.ManifestParams(res.Params))
	for _, w := range warnings {
		log.Warn("reading the job's manifests", "warning", w)
	}
	if err != nil {
		// The lock still keeps runs apart: the worst is a second report.
		log.Warn("could not read the job's manifests to tell whether this scheduled time has run", "error", err)
		return nil
	}
	if manifest != "" {
		return fmt.Errorf("%w: run %s committed %s for %s", ErrAlreadyDone, id, manifest, at)
	}
	return nil
}
