package mysqlconn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Kind is a database engine joinery tells apart: they differ in how a
// run's lock, statement timeout, cancellation and streaming work.
type Kind string

const (
	MySQL         Kind = "mysql"
	MariaDB       Kind = "mariadb"
	MariaDBGalera Kind = "mariadb-galera" // MariaDB with wsrep_on=ON
	// MySQLGalera is MySQL with wsrep_on=ON: Percona XtraDB Cluster, or
	// Codership's MySQL-wsrep.
	MySQLGalera Kind = "mysql-galera"
	TiDB        Kind = "tidb"
	Vitess      Kind = "vitess" // Vitess, and PlanetScale which runs it
	// Embedded is go-mysql-server, the embedded demo database (its
	// @@version_comment is "Dolt", its VERSION() MySQL's).
	Embedded Kind = "go-mysql-server"
	Unknown  Kind = "unknown"
)

// Engine is what Detect found the server to be.
type Engine struct {
	Kind    Kind
	Version string // VERSION()
	Comment string // @@version_comment
	// Release is the engine's own release where VERSION() speaks of
	// MySQL compatibility: TiDB's ("v7.5.1"), from the version or
	// tidb_version().
	Release string
	// GroupReplication: a MySQL member of an online Group Replication
	// group.
	GroupReplication bool
	// PlanetScale: a Vitess that says it is PlanetScale's.
	PlanetScale bool
}

// Name is the engine's name for logs and manifests.
func (e Engine) Name() string { return string(e.Kind) }

// Lock mechanisms: what keeps two runs of a job apart (database.lock).
const (
	LockNamed = "named" // GET_LOCK, per server
	// LockLease: a row of the lease table (see LeaseTable), shared by
	// every server of a cluster.
	LockLease = "lease"
	LockNone  = "none" // no exclusion
)

// Statement timeout mechanisms of a Profile.
const (
	TimeoutMaxStatementTime = "max_statement_time" // seconds, MariaDB
	TimeoutMaxExecutionTime = "max_execution_time" // milliseconds, SELECT only, MySQL and TiDB
	TimeoutQueryTimeout     = "query_timeout"      // milliseconds, Vitess's vtgate (it ignores max_execution_time)
	TimeoutNone             = "none"
)

// Profile is what each of joinery's features uses on an engine, and what
// the user should know about it.
type Profile struct {
	// Lock is what database.lock: auto uses: LockNamed where named locks
	// exclude runs from every server, LockLease elsewhere.
	Lock       string
	LockReason string // why the lease; empty for LockNamed
	// StatementTimeout is the session variable SetStatementTimeout sets.
	StatementTimeout string
	Cancel           string // how a cancelled run's query is stopped
	Snapshot         string // the run's snapshot and read-only session
	Streaming        string // how large results are read
	Warnings         []string
}

// Profile returns what joinery uses on e. Session's choices
// (SetStatementTimeout, NoSnapshot) follow it.
func (e Engine) Profile() Profile {
	p := Profile{
		Lock:             LockNamed,
		StatementTimeout: TimeoutMaxExecutionTime,
		Cancel:           "KILL <connection id>",
		Snapshot:         "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY; jobs with raw SQL: SET SESSION TRANSACTION READ ONLY",
		Streaming:        "rows read as they arrive (unbuffered result)",
	}
	switch e.Kind {
	case MariaDB:
		p.StatementTimeout = TimeoutMaxStatementTime
	case MariaDBGalera:
		p.StatementTimeout = TimeoutMaxStatementTime
		p.Lock, p.LockReason = LockLease, "named locks on Galera are per node: two daemons on different nodes both run"
		p.Warnings = append(p.Warnings, "some MariaDB releases refuse GET_LOCK with wsrep on (MDEV-30473): with database.lock: named every run would fail to take its lock")
	case MySQLGalera:
		p.Lock, p.LockReason = LockLease, "named locks on a Galera cluster are per node: two daemons on different nodes both run"
	case MySQL:
		if e.GroupReplication {
			p.Lock, p.LockReason = LockLease, "named locks on Group Replication are per member: two daemons on different members both run"
		}
	case TiDB:
		if tidbBefore61(e.Release) {
			p.Lock, p.LockReason = LockLease, "TiDB before 6.1 accepts GET_LOCK without locking anything"
		} else {
			p.Lock, p.LockReason = LockLease, "TiDB bounds a named lock by max-txn-ttl (60 min by default): a run longer than an hour can lose it"
		}
		p.Cancel = "KILL <connection id> (global kill, TiDB 6.1+; older releases kill only on the TiDB instance the KILL reaches)"
	case Vitess:
		p.Lock, p.LockReason = LockLease, "Vitess holds a named lock on a reserved connection that it reclaims when idle"
		// vtgate ignores max_execution_time (vitess issue 9236) and caps
		// OLTP results (10,000 rows by default); OLAP mode streams, but
		// has no transactions.
		p.StatementTimeout = TimeoutQueryTimeout
		p.Streaming = "SET workload = 'olap' on the run's session, which streams results past OLTP's row cap; the connection is closed after the run"
		p.Snapshot = "none: Vitess has no transactions in OLAP mode, and reads across shards are READ COMMITTED; each dataset reads the data as of its own query"
		p.Cancel = "KILL <connection id> (vtgate 18+)"
		p.Warnings = append(p.Warnings, "not run against a Vitess server here: the settings follow Vitess's documentation")
	case Embedded:
		p.Snapshot = "none: go-mysql-server has no consistent snapshot (read-only session accepted, not enforced)"
	case Unknown:
		p.Lock, p.LockReason = LockLease, "an unknown engine may not share named locks between its servers"
		p.Warnings = append(p.Warnings, "unknown engine: joinery assumes MySQL's behaviour")
	}
	return p
}

var tidbRelease = regexp.MustCompile(`(?i)TiDB-(v\d+\.\d+\.\d+[\w.+-]*)`)
var tidbVersionRelease = regexp.MustCompile(`Release Version:\s*(v?\d+\.\d+\.\d+[\w.+-]*)`)

// tidbBefore61 reports whether TiDB release r ("v7.5.1") is older than 6.1;
// an unknown release counts as recent.
func tidbBefore61(r string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(strings.TrimPrefix(r, "v"), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major < 6 || major == 6 && minor < 1
}

// Querier answers the detection's queries: the first row of query, each
// column as text (NULL as ""), or nil when the query returns no row or the
// server does not know what it asks for (an unknown function, variable or
// table). *sql.DB and *sql.Conn are one through DBQuerier.
type Querier interface {
	Row(ctx context.Context, query string) ([]string, error)
}

// rowQueryer is what DBQuerier needs: *sql.DB and *sql.Conn.
type rowQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// DBQuerier makes a Querier of db (a *sql.DB or *sql.Conn).
func DBQuerier(db rowQueryer) Querier { return sqlQuerier{db} }

type sqlQuerier struct{ db rowQueryer }

func (q sqlQuerier) Row(ctx context.Context, query string) ([]string, error) {
	rows, err := q.db.QueryContext(ctx, query)
	if err != nil {
		if absent(err) {
			return nil, nil
		}
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]string, len(cols))
	for i, v := range vals {
		out[i] = v.String
	}
	return out, rows.Close()
}

// absent reports whether err is the server not knowing what a query asks
// for: a function (1305), a system variable (1193), a table (1146) or the
// syntax (1064), or refusing access to it (1142, 1227).
func absent(err error) bool {
	me, ok := errors.AsType[*mysql.MySQLError](err)
	if !ok {
		return false
	}
	switch me.Number {
	case 1305, 1193, 1146, 1064, 1142, 1227:
		return true
	}
	return false
}

// Classify tells the engine from VERSION() and @@version_comment alone,
// without the variables Detect reads: MariaDB with wsrep on is MariaDB
// here.
func Classify(version, comment string) Engine {
	e := Engine{Version: version, Comment: comment, Kind: Unknown}
	v, c := strings.ToLower(version), strings.ToLower(comment)
	switch {
	case strings.Contains(v, "tidb"):
		e.Kind = TiDB
		if m := tidbRelease.FindStringSubmatch(version); m != nil {
			e.Release = m[1]
		}
	case strings.Contains(v, "vitess") || strings.Contains(c, "vitess") ||
		strings.Contains(v, "planetscale") || strings.Contains(c, "planetscale"):
		e.Kind = Vitess
		e.PlanetScale = strings.Contains(v, "planetscale") || strings.Contains(c, "planetscale")
	case strings.Contains(v, "mariadb"):
		e.Kind = MariaDB
	case comment == "Dolt":
		e.Kind = Embedded
	case strings.Contains(c, "xtradb cluster") || strings.Contains(c, "wsrep"):
		// Percona XtraDB Cluster: "Percona XtraDB Cluster (GPL), Release
		// rel34, Revision ..., WSREP version 26.1.4.3".
		e.Kind = MySQLGalera
	case mysqlVersion.MatchString(version):
		e.Kind = MySQL
	}
	return e
}

// mysqlVersion is MySQL's VERSION(): "8.0.36", "8.4.0-log", "5.7.44-0ubuntu0.18.04.1".
var mysqlVersion = regexp.MustCompile(`^\d+\.\d+\.\d+`)

// Detect tells the engine q's server is: VERSION() and @@version_comment,
// then, tolerant of their absence, wsrep_on (MariaDB, MySQL), tidb_version()
// (TiDB) and the Group Replication members (MySQL).
func Detect(ctx context.Context, q Querier) (Engine, error) {
	row, err := q.Row(ctx, "SELECT VERSION(), @@version_comment")
	if err != nil {
		return Engine{}, fmt.Errorf("detect database engine: %w", err)
	}
	if len(row) < 2 {
		return Engine{}, errors.New("detect database engine: SELECT VERSION(), @@version_comment returned nothing")
	}
	e := Classify(row[0], row[1])
	switch e.Kind {
	case MariaDB:
		row, err := q.Row(ctx, "SHOW VARIABLES LIKE 'wsrep_on'")
		if err != nil {
			return e, fmt.Errorf("detect database engine: wsrep_on: %w", err)
		}
		if len(row) >= 2 && strings.EqualFold(row[1], "ON") {
			e.Kind = MariaDBGalera
		}
	case TiDB:
		row, err := q.Row(ctx, "SELECT tidb_version()")
		if err != nil {
			return e, fmt.Errorf("detect database engine: tidb_version(): %w", err)
		}
		if len(row) >= 1 {
			if m := tidbVersionRelease.FindStringSubmatch(row[0]); m != nil {
				e.Release = m[1]
			}
		}
	case MySQLGalera:
		// A Galera build standing alone is a MySQL server.
		row, err := q.Row(ctx, "SHOW VARIABLES LIKE 'wsrep_on'")
		if err != nil {
			return e, fmt.Errorf("detect database engine: wsrep_on: %w", err)
		}
		if len(row) >= 2 && strings.EqualFold(row[1], "OFF") {
			e.Kind = MySQL
		}
	case MySQL:
		// A Galera build whose comment does not say so.
		row, err := q.Row(ctx, "SHOW VARIABLES LIKE 'wsrep_on'")
		if err != nil {
			return e, fmt.Errorf("detect database engine: wsrep_on: %w", err)
		}
		if len(row) >= 2 && strings.EqualFold(row[1], "ON") {
			e.Kind = MySQLGalera
			return e, nil
		}
		row, err = q.Row(ctx, "SELECT COUNT(*) FROM performance_schema.replication_group_members WHERE MEMBER_STATE = 'ONLINE'")
		if err != nil {
			return e, fmt.Errorf("detect database engine: group replication: %w", err)
		}
		e.GroupReplication = len(row) >= 1 && row[0] != "" && row[0] != "0"
	}
	return e, nil
}

// Detector detects the engine of one connection pool once, and remembers
// what the runs learnt of it since: a Runner holds one per pool (no
// package-level cache: two pools may reach two engines). Its zero value
// is ready; it is safe for concurrent use.
type Detector struct {
	mu       sync.Mutex
	detected bool
	engine   Engine
	// namedRefused: GET_LOCK failed with a server error on this pool
	// (MDEV-30473), and database.lock: auto uses the lease from then on.
	namedRefused bool
}

// detectTimeout bounds the detection, whatever the run's context: it
// runs before the run's lock, once per pool.
const detectTimeout = 5 * time.Second

// Engine returns the pool's engine, detecting it on q (a connection of
// the pool) the first time, under a timeout of its own and not the
// caller's cancellation: a run cancelled during the detection must not
// leave it half done for the next. first reports whether this call
// detected it, for the caller to log it once. A failed detection is not
// remembered: the next call tries again.
func (d *Detector) Engine(ctx context.Context, q Querier) (e Engine, first bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.detected {
		return d.engine, false, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detectTimeout)
	defer cancel()
	e, err = Detect(ctx, q)
	if err != nil {
		return Engine{}, false, err
	}
	d.engine, d.detected = e, true
	return e, true, nil
}

// RefuseNamed records that the pool's server refused GET_LOCK, and
// reports whether it is the first time (for the caller to warn once).
func (d *Detector) RefuseNamed() (first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	first = !d.namedRefused
	d.namedRefused = true
	return first
}

// NamedRefused reports whether RefuseNamed was called.
func (d *Detector) NamedRefused() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.namedRefused
}
