package mysqlconn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ErrLeaseLost is the cause of the cancellation of a run whose lease was
// lost (another daemon took it, or it could not be renewed in time), and
// is wrapped by Verify's error: the run must not commit.
var ErrLeaseLost = errors.New("the run's lease was lost")

// LeaseTable is the table of run leases (database.lock: lease): one row
// per lock name, with its holder, a fencing token that grows by one at
// every acquisition, and an expiry renewed by a heartbeat. Every time is
// the server's UTC_TIMESTAMP(6): the daemons' clocks do not matter. The
// table is created on first use (CreateTableSQL).
type LeaseTable struct {
	DB *sql.DB
	// Table is the table's name, "name" or "schema.name", an identifier
	// checked by the configuration (database.lock_table).
	Table string
	TTL   time.Duration // how long a lease lasts without a heartbeat
	// Heartbeat is the interval between renewals; 0 for TTL/3.
	Heartbeat time.Duration
	// PlainToken: the engine does not take LAST_INSERT_ID(expr) in an
	// UPDATE (Vitess on a sharded keyspace, vitess issue 13020); the
	// token is read back instead.
	PlainToken bool
}

// CreateTableSQL is the lease table's DDL, for table (quoted).
func CreateTableSQL(table string) string {
	return "CREATE TABLE IF NOT EXISTS " + quoteTable(table) + ` (
  name         VARCHAR(64)  NOT NULL PRIMARY KEY,
  holder       VARCHAR(255) NOT NULL DEFAULT '',
  token        BIGINT UNSIGNED NOT NULL DEFAULT 0,
  acquired_at  DATETIME(6) NULL,
  heartbeat_at DATETIME(6) NULL,
  expires_at   DATETIME(6) NOT NULL DEFAULT '1970-01-01 00:00:01',
  done_logical DATETIME(6) NULL,
  done_run_id  VARCHAR(64) NULL,
  running_logical DATETIME(6) NULL
) ENGINE=InnoDB`
}

// quoteTable quotes "name" or "schema.name", whose parts the
// configuration has checked to be identifiers without backticks.
func quoteTable(table string) string {
	parts := strings.Split(table, ".")
	for i, p := range parts {
		parts[i] = "`" + p + "`"
	}
	return strings.Join(parts, ".")
}

func (t *LeaseTable) heartbeat() time.Duration {
	if t.Heartbeat > 0 {
		return t.Heartbeat
	}
	return t.TTL / 3
}

// LeaseHeldError is the error of a run skipped because another holds the
// lease of its job. It wraps ErrAlreadyRunning.
type LeaseHeldError struct {
	Name, Holder string
	Token        uint64
	// HeartbeatAge is the time since the holder's last renewal, and
	// ExpiresIn the time until the lease expires unless renewed, both by
	// the server's clock.
	HeartbeatAge, ExpiresIn time.Duration
	// Running is the logical time (UTC) of the scheduled run that holds
	// it; zero for a run by hand. Done is the latest logical time a
	// scheduled run committed under the lease (see MarkDone), zero when
	// none.
	Running, Done time.Time
	// Lookup is the error that kept the holder from being read.
	Lookup error
}

func (e *LeaseHeldError) Error() string {
	if e.Lookup != nil {
		return fmt.Sprintf("%s: the lease %s is held (its holder could not be read: %v)", ErrAlreadyRunning, e.Name, e.Lookup)
	}
	return fmt.Sprintf("%s: the lease %s is held by %s (token %d), last heartbeat %s ago, expires in %s",
		ErrAlreadyRunning, e.Name, e.Holder, e.Token, e.HeartbeatAge.Round(time.Millisecond), e.ExpiresIn.Round(time.Millisecond))
}

func (e *LeaseHeldError) Unwrap() error { return ErrAlreadyRunning }

// HolderValue is the holder's fields, for the skip's log record.
func (e *LeaseHeldError) HolderValue() slog.Value {
	return slog.GroupValue(slog.String("lease", e.Name), slog.String("holder", e.Holder), slog.Uint64("token", e.Token),
		slog.Duration("heartbeat_age", e.HeartbeatAge), slog.Duration("expires_in", e.ExpiresIn))
}

// Lease is a lease held (Acquire) until Release.
type Lease struct {
	Name, Holder string
	Token        uint64 // the fencing token of this acquisition
	// DoneLogical is the latest logical time (UTC) a scheduled run of the
	// job committed under this lease's row (MarkDone), zero when none;
	// DoneRunID that run's id.
	DoneLogical time.Time
	DoneRunID   string

	t    *LeaseTable
	mu   sync.Mutex
	last time.Time // the last successful renewal, on the monotonic clock
	lost error     // why the lease was lost, once it was
	stop func()    // stops Keep's goroutine
	// released: Done gave the lease back; Release and Abandon have
	// nothing left to do.
	released bool
}

// Acquire takes the lease name for holder when it is free or expired, or
// returns a *LeaseHeldError. running is the logical time of the
// scheduled run that takes it, zero for a run by hand: a daemon that
// finds the lease held for its own scheduled time knows another is
// running it. It creates the table when it is missing. Each statement
// commits on its own: the lease is a row, not a transaction.
func (t *LeaseTable) Acquire(ctx context.Context, name, holder string, running time.Time) (*Lease, error) {
	table := quoteTable(t.Table)
	var at any // NULL for a run by hand
	if !running.IsZero() {
		at = running.UTC().Format(dbTime)
	}
	var start time.Time
	var token uint64 // this acquisition's, from the UPDATE's LAST_INSERT_ID
	for attempt := 1; ; attempt++ {
		if err := t.insertRow(ctx, name); err != nil {
			return nil, err
		}
		start = time.Now()
		next := "LAST_INSERT_ID(token + 1)"
		if t.PlainToken {
			next = "token + 1"
		}
		res, err := t.DB.ExecContext(ctx, "UPDATE "+table+" SET holder = ?, token = "+next+", acquired_at = UTC_TIMESTAMP(6), "+
			"heartbeat_at = UTC_TIMESTAMP(6), expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND, running_logical = ? "+
			"WHERE name = ? AND expires_at < UTC_TIMESTAMP(6)", holder, t.TTL.Microseconds(), at, name)
		var n int64
		switch {
		case serverError(err, 1213):
			// Galera: a certification conflict with another node's
			// acquisition, which won.
		case err != nil:
			return nil, fmt.Errorf("take job lease: %w", err)
		default:
			if n, err = res.RowsAffected(); err != nil {
				return nil, fmt.Errorf("take job lease: %w", err)
			}
			if id, err := res.LastInsertId(); err == nil && id > 0 {
				token = uint64(id)
			}
		}
		if n > 0 {
			break
		}
		e := t.held(ctx, name)
		if attempt < acquireAttempts && (errors.Is(e.Lookup, sql.ErrNoRows) || e.Lookup == nil && e.ExpiresIn <= 0) {
			// Free, or no row, once this node caught up. Galera: the
			// UPDATE saw the row, or its absence, before the release or
			// the insert of another node was applied here; and two
			// nodes' inserts of a new row can both fail (1213), leaving
			// none. Try again.
			continue
		}
		return nil, e
	}
	// The token comes with the UPDATE (LAST_INSERT_ID(expr) sets the
	// OK packet's insert id): known even when the read below fails, or,
	// through a proxy, reaches a node that has not applied the UPDATE
	// yet, so that Release frees this acquisition. An engine without it
	// leaves it to the read.
	l := &Lease{Name: name, Holder: holder, Token: token, t: t, last: start}
	var got string
	var read uint64
	var done, doneRun sql.NullString
	query := "SELECT holder, token, done_logical, done_run_id FROM " + table + " WHERE name = ?"
	err := t.DB.QueryRowContext(ctx, query, name).Scan(&got, &read, &done, &doneRun)
	if err == nil && (got != holder || l.Token != 0 && read != l.Token) {
		// A node (through a proxy, another connection may reach another)
		// that has not applied the UPDATE yet: read again once it has
		// (see held), so that done_logical is this lease's.
		var g string
		var r uint64
		var d, dr sql.NullString
		if t.DB.QueryRowContext(ctx, "SET STATEMENT wsrep_sync_wait = 1 FOR "+query, name).Scan(&g, &r, &d, &dr) == nil {
			got, read, done, doneRun = g, r, d, dr
		}
	}
	if err != nil {
		if l.Token != 0 {
			_ = l.Release(ctx)
		}
		return nil, fmt.Errorf("take job lease: %w", err)
	}
	if l.Token == 0 {
		if got != holder {
			return nil, t.held(ctx, name)
		}
		l.Token = read
	}
	if done.Valid {
		var err error
		if l.DoneLogical, err = time.Parse(dbTime, done.String); err != nil {
			l.Release(ctx)
			return nil, fmt.Errorf("take job lease: done_logical %q: %w", done.String, err)
		}
		l.DoneRunID = doneRun.String
	}
	return l, nil
}

// acquireAttempts is how many times Acquire tries a lease that it finds
// free, or without its row, after failing to take it (see Acquire).
const acquireAttempts = 3

// insertRow makes the lease name's row, free, unless it is there, and the
// table on first use.
func (t *LeaseTable) insertRow(ctx context.Context, name string) error {
	insert := "INSERT IGNORE INTO " + quoteTable(t.Table) + " (name) VALUES (?)"
	_, err := t.DB.ExecContext(ctx, insert, name)
	if serverError(err, 1146) { // no such table: first use
		if _, err := t.DB.ExecContext(ctx, CreateTableSQL(t.Table)); err != nil {
			return fmt.Errorf("create the lease table %s: %w", t.Table, err)
		}
		_, err = t.DB.ExecContext(ctx, insert, name)
	}
	if err != nil && !serverError(err, 1213) { // Galera: another node inserted it at once
		return fmt.Errorf("take job lease: %w", err)
	}
	return nil
}

// dbTime is how DATETIME(6) values are read (as text) and bound.
const dbTime = "2006-01-02 15:04:05.999999"

// held reads who holds the lease name, for the skip's error. A read that
// finds it free (or no row) is made again once the node has applied every
// write the cluster committed before it (MariaDB's wsrep_sync_wait, for
// this statement only): on Galera the acquisition that won on another node
// may not be applied here yet. Elsewhere the variable does nothing, or the
// statement is refused and the first read stays.
func (t *LeaseTable) held(ctx context.Context, name string) *LeaseHeldError {
	e := t.readHolder(ctx, "", name)
	if e.Lookup != nil || e.Holder == "" || e.ExpiresIn <= 0 {
		if again := t.readHolder(ctx, "SET STATEMENT wsrep_sync_wait = 1 FOR ", name); again.Lookup == nil {
			e = again
		}
	}
	return e
}

// Count returns how many leases the table holds; exists is false when the
// table is not there yet (the first Acquire creates it).
func (t *LeaseTable) Count(ctx context.Context) (n int, exists bool, err error) {
	err = t.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteTable(t.Table)).Scan(&n)
	if serverError(err, 1146) {
		return 0, false, nil
	}
	return n, err == nil, err
}

// Read reads the lease name as Acquire would find it held (see held): its
// holder, expiry, the time it runs and the last done. Lookup is set when
// it could not be read.
func (t *LeaseTable) Read(ctx context.Context, name string) *LeaseHeldError { return t.held(ctx, name) }

// readHolder reads the lease name's row, the statement prefixed by
// prefix.
func (t *LeaseTable) readHolder(ctx context.Context, prefix, name string) *LeaseHeldError {
	e := &LeaseHeldError{Name: name}
	var age, left sql.NullInt64
	var running, done sql.NullString
	err := t.DB.QueryRowContext(ctx, prefix+"SELECT holder, token, TIMESTAMPDIFF(MICROSECOND, heartbeat_at, UTC_TIMESTAMP(6)), "+
		"TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at), running_logical, done_logical FROM "+quoteTable(t.Table)+" WHERE name = ?", name).
		Scan(&e.Holder, &e.Token, &age, &left, &running, &done)
	if err != nil {
		e.Lookup = err
	}
	for _, c := range []struct {
		v  sql.NullString
		to *time.Time
	}{{running, &e.Running}, {done, &e.Done}} {
		if c.v.Valid {
			if at, err := time.ParseInLocation(dbTime, c.v.String, time.UTC); err == nil {
				*c.to = at
			}
		}
	}
	e.HeartbeatAge, e.ExpiresIn = time.Duration(age.Int64)*time.Microsecond, time.Duration(left.Int64)*time.Microsecond
	return e
}

// serverError reports whether err is the server's error number.
func serverError(err error, number uint16) bool {
	me, ok := errors.AsType[*mysql.MySQLError](err)
	return ok && me.Number == number
}

// renew extends the lease by the table's TTL from now, or returns an
// error wrapping ErrLeaseLost when another holds it. It gives up at the
// local deadline (the last renewal plus the TTL), after which the server
// may have let another take it.
func (l *Lease) renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, l.last.Add(l.t.TTL))
	defer cancel()
	table := quoteTable(l.t.Table)
	res, err := l.t.DB.ExecContext(ctx, "UPDATE "+table+" SET heartbeat_at = UTC_TIMESTAMP(6), "+
		"expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE name = ? AND token = ? AND holder = ?",
		l.t.TTL.Microseconds(), l.Name, l.Token, l.Holder)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err == nil && n == 0 {
		// Nothing changed: another holds it, or the row already said
		// what this renewal writes (the same microsecond).
		var holder string
		var token uint64
		err = l.t.DB.QueryRowContext(ctx, "SELECT holder, token FROM "+table+" WHERE name = ?", l.Name).Scan(&holder, &token)
		if err == nil && (holder != l.Holder || token != l.Token) {
			l.lost = fmt.Errorf("%w: %s holds it now (token %d)", ErrLeaseLost, holder, token)
			return l.lost
		}
	}
	if err != nil {
		if time.Since(l.last) >= l.t.TTL {
			l.lost = fmt.Errorf("%w: not renewed for %s, its time to live: %w", ErrLeaseLost, l.t.TTL, err)
			return l.lost
		}
		return fmt.Errorf("renew job lease: %w", err)
	}
	l.last = start
	return nil
}

// Keep renews the lease every heartbeat interval until the returned stop
// is called. When the lease is lost (another took it, or no renewal
// succeeded within the TTL), it calls lost with ErrLeaseLost: the run's
// context ends, and the run with it, before it commits.
func (l *Lease) Keep(ctx context.Context, log *slog.Logger, lost context.CancelCauseFunc) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(l.t.heartbeat())
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := l.renew(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, ErrLeaseLost):
				log.Error("job lease lost: the run stops", "lease", l.Name, "token", l.Token, "error", err)
				lost(err)
				return
			case err != nil:
				log.Warn("could not renew the job's lease; trying again", "lease", l.Name, "error", err)
			}
		}
	}()
	l.mu.Lock()
	l.stop = func() { cancel(); <-done }
	l.mu.Unlock()
	return l.stop
}

// Verify renews the lease now, before the run commits: an error (wrapping
// ErrLeaseLost when the lease is another's) means the run must not.
func (l *Lease) Verify(ctx context.Context) error {
	return l.renew(ctx)
}

// MarkDone records that a scheduled run for logical (its logical time)
// committed under this lease, unless a later time is recorded already.
func (l *Lease) MarkDone(ctx context.Context, logical time.Time, runID string) error {
	at := logical.UTC().Format(dbTime)
	_, err := l.t.DB.ExecContext(ctx, "UPDATE "+quoteTable(l.t.Table)+" SET done_logical = ?, done_run_id = ? "+
		"WHERE name = ? AND token = ? AND (done_logical IS NULL OR done_logical < ?)", at, runID, l.Name, l.Token, at)
	if err != nil {
		return fmt.Errorf("record the scheduled time as done: %w", err)
	}
	return nil
}

// Done records, as MarkDone, that a scheduled run for logical committed,
// and releases the lease in the same statement (see Release); Release and
// Abandon do nothing after it.
func (l *Lease) Done(ctx context.Context, logical time.Time, runID string) error {
	if l.stopKeeping() {
		return nil
	}
	at := logical.UTC().Format(dbTime)
	_, err := l.t.DB.ExecContext(ctx, "UPDATE "+quoteTable(l.t.Table)+" SET holder = '', expires_at = '1970-01-01 00:00:01', running_logical = NULL, "+
		"done_logical = IF(done_logical IS NULL OR done_logical < ?, ?, done_logical), "+
		"done_run_id = IF(done_logical = ?, ?, done_run_id) WHERE name = ? AND token = ?", at, at, at, runID, l.Name, l.Token)
	if err != nil {
		return fmt.Errorf("record the scheduled time as done: %w", err)
	}
	l.mu.Lock()
	l.released = true
	l.mu.Unlock()
	return nil
}

// Abandon stops the heartbeat and lets the lease expire now, keeping its
// holder and the scheduled time it runs: a daemon that follows that run
// (it was skipped for it) takes the time over at once, as it would after
// the holder died. For a run that joinery stopped (a shutdown) without
// committing.
func (l *Lease) Abandon(ctx context.Context) error {
	if l.stopKeeping() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := l.t.DB.ExecContext(ctx, "UPDATE "+quoteTable(l.t.Table)+" SET expires_at = '1970-01-01 00:00:01' "+
		"WHERE name = ? AND token = ?", l.Name, l.Token)
	if err != nil {
		return fmt.Errorf("release job lease: %w", err)
	}
	return nil
}

// stopKeeping stops Keep's goroutine, if it runs, and reports whether
// Done has released the lease already.
func (l *Lease) stopKeeping() (released bool) {
	l.mu.Lock()
	stop := l.stop
	l.stop = nil
	released = l.released
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
	return released
}

// Release stops the heartbeat and frees the lease, if it is still this
// acquisition's (its token), whatever ctx's state: the next run need not
// wait for the expiry.
func (l *Lease) Release(ctx context.Context) error {
	if l.stopKeeping() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := l.t.DB.ExecContext(ctx, "UPDATE "+quoteTable(l.t.Table)+" SET holder = '', expires_at = '1970-01-01 00:00:01', running_logical = NULL "+
		"WHERE name = ? AND token = ?", l.Name, l.Token)
	if err != nil {
		return fmt.Errorf("release job lease: %w", err)
	}
	return nil
}
