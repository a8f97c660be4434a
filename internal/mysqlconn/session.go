package mysqlconn

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ErrAlreadyRunning is the error (a *LockHeldError) of a run skipped
// because another run of the same job, in this process or any other
// connected to the same database, holds the job's lock.
var ErrAlreadyRunning = errors.New("another run of this job is in progress")

// Session is the one connection a job run uses, holding the job's lock.
type Session struct {
	// Conn is the session's connection, of the pool given to Lock.
	Conn *sql.Conn
	// NoSnapshot is set for an engine that has no consistent snapshot
	// to offer (go-mysql-server, the embedded demo database): Begin would
	// fail there.
	NoSnapshot bool

	db       *sql.DB
	id       uint64 // server connection id, for KILL
	database string // DATABASE(), the DSN's
	engine   Engine
	olap     bool   // Vitess: the session streams (workload = olap)
	lock     string // the named lock held (LockNamed), "" for none
	log      *slog.Logger
	inTx     bool // the snapshot's transaction is open
	// readOnly: SET SESSION TRANSACTION READ ONLY was sent (ReadOnly).
	readOnly bool
}

// ReadOnly makes every later transaction of the session read-only, the
// snapshot's and each statement's own without one (snapshot: false): the
// server refuses writes to tables, DML and DDL alike, with error 1792
// (Cannot execute statement in a READ ONLY transaction), and locking
// reads. A READ ONLY transaction is not enough on its own: DDL commits it
// implicitly, then runs outside it, on MariaDB 10.11 at least. Release
// makes the session read-write again before the pool has it back.
// go-mysql-server (the embedded demo) accepts it and enforces nothing.
func (s *Session) ReadOnly(ctx context.Context) error {
	s.readOnly = true // from here on, Release resets it, whatever the outcome
	if _, err := s.Conn.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY"); err != nil {
		return fmt.Errorf("read-only session: %w", err)
	}
	return nil
}

// SnapshotIsolation is the isolation level of a run's snapshot: the one in
// which InnoDB keeps the read view made at the transaction's start for
// every statement of it. Under READ COMMITTED, which a server or a DSN may
// make the default, WITH CONSISTENT SNAPSHOT is ignored (with a warning)
// and each query would see the data of its own start; under SERIALIZABLE
// plain reads in a transaction would take shared locks and block writers.
const SnapshotIsolation = "REPEATABLE READ"

// Begin starts the run's snapshot: a read-only transaction whose read view
// is made now (WITH CONSISTENT SNAPSHOT, not at the first read), so that
// every dataset's query sees the data as it was at this instant, whatever
// is written meanwhile. The job's named lock is not transactional and is
// unaffected; max_statement_time still limits each query; a KILL on
// cancellation ends the transaction with the session. Tables of engines
// without multi-versioning (MyISAM, Aria, MEMORY) have no snapshot: each
// query reads them as they are.
func (s *Session) Begin(ctx context.Context) error {
	// Without SESSION, SET TRANSACTION sets the level of the next
	// transaction only: the pooled connection keeps its own default.
	if _, err := s.Conn.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL "+SnapshotIsolation); err != nil {
		return fmt.Errorf("start snapshot: %w", err)
	}
	if _, err := s.Conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return fmt.Errorf("start snapshot: %w", err)
	}
	s.inTx = true
	return nil
}

// End ends the snapshot's transaction, if one is open. It only read, so
// COMMIT and ROLLBACK are the same; ending it lets the server purge the
// history it kept for the read view, and DDL on the tables read go ahead.
func (s *Session) End(ctx context.Context) error {
	if !s.inTx {
		return nil
	}
	s.inTx = false
	if _, err := s.Conn.ExecContext(ctx, "COMMIT"); err != nil {
		// The transaction may still be open: the pool must not hand the
		// connection to anyone else.
		s.discard()
		return fmt.Errorf("end snapshot: %w", err)
	}
	return nil
}

// lockName is the name of the server lock (GET_LOCK) a run of job holds:
// "joinery/<database>/<job>", the database being the DSN's. Runs of the
// same job on the same database never overlap, from any host; jobs that
// only share a name, on other databases of the server, do not wait for
// each other. A name over the server's limit of 64 characters is hashed.
func lockName(database, job string) string {
	name := "joinery/" + database + "/" + job
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(database + "/" + job))
	return "joinery/" + hex.EncodeToString(sum[:28])
}

// ErrNamedLockRefused is wrapped by the error of LockNamed when the
// server answers GET_LOCK with an error (some MariaDB releases do with
// wsrep on, MDEV-30473): database.lock: auto then uses the lease.
var ErrNamedLockRefused = errors.New("the server refuses named locks")

// NewSession makes conn, a connection of db, the session of a run on the
// engine e (see Detector). db serves the KILL of KillOnCancel; log gets
// the session's own failures. The run's lock is taken apart: LockNamed,
// or a lease of a LeaseTable. Release ends the session.
func NewSession(ctx context.Context, db *sql.DB, conn *sql.Conn, e Engine, log *slog.Logger) (*Session, error) {
	s := &Session{db: db, Conn: conn, log: log, engine: e}
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID(), COALESCE(DATABASE(), '')").Scan(&s.id, &s.database); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	switch e.Kind {
	case Embedded:
		// go-mysql-server, the embedded demo engine, has no consistent
		// snapshot.
		s.NoSnapshot = true
	case Vitess:
		// OLTP mode stops a result at its row cap; OLAP streams it, and
		// has no transactions (see Profile). vtgate may not let the
		// session go back to OLTP: Release closes the connection.
		s.NoSnapshot, s.olap = true, true
		if _, err := conn.ExecContext(ctx, "SET workload = 'olap'"); err != nil {
			s.discard()
			return nil, fmt.Errorf("connect: stream results (workload = olap): %w", err)
		}
	}
	return s, nil
}

// LockName is the name of the lock of a run of job (see lockName): the
// named lock's, or the lease's row.
func (s *Session) LockName(job string) string { return lockName(s.database, job) }

// LockNamed takes job's named lock (GET_LOCK is per server, so runs on
// different hosts connected to the same server never overlap either), or
// returns a *LockHeldError naming the session that holds it. An error of
// the server itself wraps ErrNamedLockRefused. Release gives it back.
func (s *Session) LockNamed(ctx context.Context, job string) error {
	name := s.LockName(job)
	var got sql.NullInt64
	if err := s.Conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
		if _, ok := errors.AsType[*mysql.MySQLError](err); ok {
			return fmt.Errorf("take job lock: %w: %w", ErrNamedLockRefused, err)
		}
		return fmt.Errorf("take job lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return lockHolder(ctx, s.Conn, name)
	}
	s.lock = name
	return nil
}

// Release ends the snapshot, if one is open, and gives the job's lock
// back. The lock also goes with the connection; it is released
// explicitly so that a pooled connection does not keep it. Failures are
// logged at debug level: the connection's end frees both anyway.
func (s *Session) Release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// A run that failed between datasets leaves its snapshot open: a
	// pooled connection must not keep it.
	if err := s.End(ctx); err != nil {
		s.log.Debug("end snapshot", "error", err)
	}
	if s.lock != "" {
		if _, err := s.Conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", s.lock); err != nil {
			s.log.Debug("release job lock", "error", err)
		}
		s.lock = ""
	}
	if s.readOnly {
		s.readOnly = false
		if _, err := s.Conn.ExecContext(ctx, "SET SESSION TRANSACTION READ WRITE"); err != nil {
			// The pool must not hand a read-only connection to anyone
			// else.
			s.discard()
			s.log.Debug("end read-only session", "error", err)
		}
	}
	if s.olap {
		s.discard() // nor a Vitess connection in OLAP mode
	}
}

// discard makes the pool close the session's connection instead of
// handing it to anyone else: ErrBadConn from Raw does.
func (s *Session) discard() {
	_ = s.Conn.Raw(func(any) error { return driver.ErrBadConn })
}

// IsStatementTimeout reports whether err is the server's statement
// timeout: 1969 on MariaDB (max_statement_time), 3024 on MySQL
// (max_execution_time).
func IsStatementTimeout(err error) bool {
	me, ok := errors.AsType[*mysql.MySQLError](err)
	return ok && (me.Number == 1969 || me.Number == 3024)
}

// SetStatementTimeout sets the server-side limit on each statement of the
// session, as the engine's profile says (Profile.StatementTimeout):
// max_statement_time (seconds) on MariaDB, max_execution_time
// (milliseconds, SELECT only) on MySQL and TiDB.
func (s *Session) SetStatementTimeout(ctx context.Context, t time.Duration) error {
	var err error
	switch mech := s.engine.Profile().StatementTimeout; mech {
	case TimeoutMaxStatementTime:
		_, err = s.Conn.ExecContext(ctx, "SET SESSION max_statement_time = ?", t.Seconds())
	case TimeoutMaxExecutionTime:
		_, err = s.Conn.ExecContext(ctx, "SET SESSION max_execution_time = ?", t.Milliseconds())
	case TimeoutQueryTimeout:
		_, err = s.Conn.ExecContext(ctx, "SET query_timeout = ?", t.Milliseconds())
	default:
		err = fmt.Errorf("%s has no statement timeout joinery can set", s.engine.Name())
	}
	if err != nil {
		return fmt.Errorf("statement timeout: %w", err)
	}
	return nil
}

// KillOnCancel makes the server stop the session when ctx ends. The
// driver only closes its socket on cancellation; without KILL the server
// would go on computing a result nobody reads, and hold the job's lock
// until it noticed. The returned stop disarms it, or, when ctx has ended,
// waits until the KILL is done: the process may be about to exit.
func (s *Session) KillOnCancel(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	disarm := context.AfterFunc(ctx, func() {
		defer close(done)
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The id comes from the server, not from configuration. The whole
		// connection goes: its socket is closed already.
		_, err := s.db.ExecContext(kctx, "KILL "+strconv.FormatUint(s.id, 10))
		var me *mysql.MySQLError
		switch {
		case errors.As(err, &me) && me.Number == 1094: // unknown thread: the session had ended
			return
		case err != nil:
			s.log.Warn("could not stop the query on the server", "connection_id", s.id, "error", err)
			return
		}
		// KILL only flags the session; wait until it is gone, and with it
		// the job's lock, so that the next run finds the lock free.
		for kctx.Err() == nil {
			var n int
			err := s.db.QueryRowContext(kctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", s.id).Scan(&n)
			if err != nil || n == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.log.Info("query stopped on the server", "connection_id", s.id)
	})
	return func() {
		if !disarm() {
			<-done
		}
	}
}
