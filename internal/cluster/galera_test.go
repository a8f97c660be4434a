package cluster_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/internal/testdb"
)

// testTimeout bounds each test's statements: a cluster that stops
// answering (a node lost its quorum) fails the test instead of hanging it.
const testTimeout = 60 * time.Second

// errDeadlock is the error a transaction gets when it loses certification
// to a conflicting one from another node (or is aborted by it).
const errDeadlock = 1213

// open returns a pool on dsn, closed when t ends.
func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// nodes opens the test's database on every node of the cluster, and
// returns the pools and their DSNs.
func nodes(t *testing.T) ([]*sql.DB, []string) {
	t.Helper()
	dsns := testdb.Galera(t)
	if len(dsns) < 3 {
		t.Fatalf("%s names %d nodes, these tests want 3", testdb.EnvGaleraDSNs, len(dsns))
	}
	dbs := make([]*sql.DB, len(dsns))
	for i, dsn := range dsns {
		dbs[i] = open(t, dsn)
	}
	return dbs, dsns
}

// syncRead opens dsn with wsrep_sync_wait=1: its SELECTs wait until the
// node has applied every write the cluster had committed when they
// started.
func syncRead(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["wsrep_sync_wait"] = "1"
	return open(t, cfg.FormatDSN())
}

// pinned returns one connection of db, closed when t ends: session state
// (named locks, transactions) lives on a connection.
func pinned(t *testing.T, ctx context.Context, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exec(t *testing.T, ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func mysqlErrorNumber(err error) uint16 {
	if me, ok := errors.AsType[*mysql.MySQLError](err); ok {
		return me.Number
	}
	return 0
}

func TestDetectSaysGaleraAndLease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dbs, _ := nodes(t)
	for i, db := range dbs {
		e, err := mysqlconn.Detect(ctx, mysqlconn.DBQuerier(db))
		if err != nil {
			t.Fatalf("node %d: detect: %v", i+1, err)
		}
		if e.Kind != mysqlconn.MariaDBGalera {
			t.Errorf("node %d: engine = %q (version %q), want %q", i+1, e.Kind, e.Version, mysqlconn.MariaDBGalera)
		}
		if p := e.Profile(); p.Lock != mysqlconn.LockLease || p.LockReason == "" {
			t.Errorf("node %d: profile lock = %q (reason %q), want %q with a reason", i+1, p.Lock, p.LockReason, mysqlconn.LockLease)
		}
	}
}

// TestNamedLocksArePerNode shows the problem the lease fixes: GET_LOCK of
// one name succeeds on node 1 and on node 2 at the same time, while on one
// node it does exclude a second session.
func TestNamedLocksArePerNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dbs, _ := nodes(t)
	name := "joinery-galera-test-" + t.Name()
	getLock := func(c *sql.Conn) int64 {
		t.Helper()
		var got sql.NullInt64
		if err := c.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
			t.Fatalf("GET_LOCK: %v (some MariaDB releases refuse it with wsrep on, MDEV-30473)", err)
		}
		return got.Int64
	}
	n1, n1again, n2 := pinned(t, ctx, dbs[0]), pinned(t, ctx, dbs[0]), pinned(t, ctx, dbs[1])
	if got := getLock(n1); got != 1 {
		t.Fatalf("GET_LOCK on node 1 = %d, want 1", got)
	}
	if got := getLock(n1again); got != 0 {
		t.Errorf("GET_LOCK by a second session on node 1 = %d, want 0 (held by the first)", got)
	}
	if got := getLock(n2); got != 1 {
		t.Errorf("GET_LOCK on node 2 while node 1 holds it = %d, want 1: named locks are per node", got)
	}
	var free sql.NullInt64
	if err := dbs[2].QueryRowContext(ctx, "SELECT IS_FREE_LOCK(?)", name).Scan(&free); err != nil {
		t.Fatal(err)
	}
	if free.Int64 != 1 {
		t.Errorf("IS_FREE_LOCK on node 3 while nodes 1 and 2 hold it = %d, want 1", free.Int64)
	}
	for _, c := range []*sql.Conn{n1, n2} {
		exec(t, ctx, c, "DO RELEASE_LOCK(?)", name)
	}
}

// TestWritesReplicate: a row written on one node is read on another, with
// wsrep_sync_wait=1 on the reading session (without it a read may come
// before the node has applied the write).
func TestWritesReplicate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dbs, dsns := nodes(t)
	exec(t, ctx, dbs[0], "CREATE TABLE notes (id INT NOT NULL PRIMARY KEY, body VARCHAR(100) NOT NULL)")
	for _, c := range []struct{ from, to, id int }{{0, 2, 1}, {2, 0, 2}, {1, 2, 3}} {
		body := fmt.Sprintf("written on node %d", c.from+1)
		exec(t, ctx, dbs[c.from], "INSERT INTO notes (id, body) VALUES (?, ?)", c.id, body)
		var got string
		if err := syncRead(t, dsns[c.to]).QueryRowContext(ctx, "SELECT body FROM notes WHERE id = ?", c.id).Scan(&got); err != nil {
			t.Fatalf("read row %d on node %d: %v", c.id, c.to+1, err)
		}
		if got != body {
			t.Errorf("row %d on node %d = %q, want %q", c.id, c.to+1, got, body)
		}
	}
}

// TestConflictingTransactionsCertify: two transactions update one row, on
// node 1 and on node 2, both before either commits. The first to commit
// wins; the other fails with 1213 (its write set loses certification, or
// the winner's write set aborts it), and every node ends with the winner's
// value.
func TestConflictingTransactionsCertify(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dbs, dsns := nodes(t)
	exec(t, ctx, dbs[0], "CREATE TABLE counter (id INT NOT NULL PRIMARY KEY, v INT NOT NULL)")
	exec(t, ctx, dbs[0], "INSERT INTO counter (id, v) VALUES (1, 0)")
	var v int
	if err := syncRead(t, dsns[1]).QueryRowContext(ctx, "SELECT v FROM counter WHERE id = 1").Scan(&v); err != nil {
		t.Fatal(err)
	}

	tx1, err := dbs[0].BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback()
	tx2, err := dbs[1].BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback()
	exec(t, ctx, tx1, "UPDATE counter SET v = v + 1 WHERE id = 1")
	exec(t, ctx, tx2, "UPDATE counter SET v = v + 10 WHERE id = 1")
	if err := tx1.Commit(); err != nil {
		t.Fatalf("commit on node 1 (first): %v", err)
	}
	err = tx2.Commit()
	if n := mysqlErrorNumber(err); n != errDeadlock {
		t.Fatalf("commit on node 2 (second) = %v, want error %d", err, errDeadlock)
	}
	t.Logf("the second commit, on node 2: %v", err)

	for i := range dbs {
		if err := syncRead(t, dsns[i]).QueryRowContext(ctx, "SELECT v FROM counter WHERE id = 1").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != 1 {
			t.Errorf("node %d: v = %d, want 1 (node 1's update alone)", i+1, v)
		}
	}
}

// TestConcurrentConditionalUpdatesHaveOneWinner is the lease's take: one
// session on each node sends, at once, the same autocommit UPDATE
// conditional on an empty holder. Each round exactly one affects the row;
// the others affect none or fail with 1213 (their write set lost
// certification, and so did the automatic retry of an autocommit statement,
// wsrep_retry_autocommit). Seen here: mostly 1213, rarely 0 rows.
func TestConcurrentConditionalUpdatesHaveOneWinner(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dbs, dsns := nodes(t)
	exec(t, ctx, dbs[0], "CREATE TABLE lease (id INT NOT NULL PRIMARY KEY, holder VARCHAR(20) NOT NULL, token BIGINT NOT NULL)")
	exec(t, ctx, dbs[0], "INSERT INTO lease (id, holder, token) VALUES (1, '', 0)")
	readers := make([]*sql.DB, len(dbs))
	for i := range dbs {
		readers[i] = syncRead(t, dsns[i])
	}

	const rounds = 20
	outcomes := map[string]int{}
	for round := 1; round <= rounds; round++ {
		if round > 1 {
			exec(t, ctx, dbs[0], "UPDATE lease SET holder = '' WHERE id = 1")
		}
		// Every node has applied the reset before the round starts.
		for i, r := range readers {
			var holder string
			if err := r.QueryRowContext(ctx, "SELECT holder FROM lease WHERE id = 1").Scan(&holder); err != nil {
				t.Fatal(err)
			}
			if holder != "" {
				t.Fatalf("round %d: node %d holder = %q before the round, want empty", round, i+1, holder)
			}
		}

		type result struct {
			rows int64
			err  error
		}
		results := make([]result, len(dbs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() {
				<-start
				res, err := db.ExecContext(ctx,
					"UPDATE lease SET holder = ?, token = token + 1 WHERE id = 1 AND holder = ''",
					fmt.Sprintf("node%d", i+1))
				if err == nil {
					results[i].rows, err = res.RowsAffected()
				}
				results[i].err = err
			})
		}
		close(start)
		wg.Wait()

		winner := ""
		for i, r := range results {
			switch {
			case r.err == nil && r.rows == 1:
				outcomes["1 row"]++
				if winner != "" {
					t.Errorf("round %d: nodes %s and %d both took the row", round, winner, i+1)
				}
				winner = fmt.Sprintf("node%d", i+1)
			case r.err == nil && r.rows == 0:
				outcomes["0 rows"]++
			case mysqlErrorNumber(r.err) == errDeadlock:
				outcomes["error 1213"]++
			default:
				t.Fatalf("round %d: node %d: rows %d, error %v", round, i+1, r.rows, r.err)
			}
		}
		if winner == "" {
			t.Fatalf("round %d: no node took the row: %+v", round, results)
		}
		for i, r := range readers {
			var holder string
			var token int
			if err := r.QueryRowContext(ctx, "SELECT holder, token FROM lease WHERE id = 1").Scan(&holder, &token); err != nil {
				t.Fatal(err)
			}
			if holder != winner || token != round {
				t.Errorf("round %d: node %d has holder %q, token %d; want %q, %d", round, i+1, holder, token, winner, round)
			}
		}
	}
	t.Logf("%d rounds of 3 concurrent UPDATEs, one per node: %v", rounds, outcomes)
}

// TestLeaseAcquireRaceOnNodes races mysqlconn.LeaseTable.Acquire itself:
// two acquirers on each node ask for one lease at once. In the first
// rounds the lease (and, in the first, its table) does not exist yet:
// CREATE TABLE, INSERT IGNORE and the conditional UPDATE race across
// nodes; then one lease is freed and taken again. Each round exactly one
// acquirer gets it, with the next fencing token, and the others are told
// it is held (ErrAlreadyRunning), by whom and until when, whatever
// certification did to them.
func TestLeaseAcquireRaceOnNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dbs, _ := nodes(t)
	tables := make([]*mysqlconn.LeaseTable, len(dbs))
	for i, db := range dbs {
		tables[i] = &mysqlconn.LeaseTable{DB: db, Table: "joinery_locks", TTL: time.Minute}
	}
	const fresh, rounds, perNode = 16, 48, 2
	tokens := map[string]uint64{}
	outcomes := map[string]int{}
	for round := 1; round <= rounds; round++ {
		name := "shared"
		if round <= fresh {
			name = fmt.Sprintf("fresh/%d", round)
		}
		type result struct {
			lease *mysqlconn.Lease
			err   error
		}
		results := make([]result, len(dbs)*perNode)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for k := range results {
			wg.Go(func() {
				<-start
				l, err := tables[k%len(dbs)].Acquire(ctx, name, fmt.Sprintf("node%d/%d/round%d", k%len(dbs)+1, k, round), time.Time{})
				results[k] = result{l, err}
			})
		}
		close(start)
		wg.Wait()

		var won *mysqlconn.Lease
		for k, r := range results {
			held, isHeld := errors.AsType[*mysqlconn.LeaseHeldError](r.err)
			switch {
			case r.err == nil:
				outcomes["acquired"]++
				if won != nil {
					t.Errorf("round %d: %s and %s both hold %s", round, won.Holder, r.lease.Holder, name)
				}
				won = r.lease
			case isHeld && errors.Is(r.err, mysqlconn.ErrAlreadyRunning):
				outcomes["held"]++
				// The skip's message names who holds it, even when this
				// node had not yet applied the write that won.
				if held.Lookup != nil || held.Holder == "" || held.ExpiresIn <= 0 {
					t.Errorf("round %d: acquirer %d on node %d: %v", round, k, k%len(dbs)+1, r.err)
				}
			default:
				t.Fatalf("round %d: acquirer %d on node %d: %v", round, k, k%len(dbs)+1, r.err)
			}
		}
		if won == nil {
			t.Fatalf("round %d: nobody acquired %s: %+v", round, name, results)
		}
		if won.Token != tokens[name]+1 {
			t.Errorf("round %d: token %d, want %d", round, won.Token, tokens[name]+1)
		}
		tokens[name] = won.Token
		if err := won.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("outcomes of %d rounds of %d acquirers: %v", rounds, len(dbs)*perNode, outcomes)
}

// TestLeaseRenewsWhileOthersTryToTakeIt: the holder on one node renews
// its lease (Verify, as before a commit) over and over while acquirers on
// the other nodes keep asking for it: no renewal fails, every acquirer is
// told it is held, and the token stays the holder's.
func TestLeaseRenewsWhileOthersTryToTakeIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	dbs, _ := nodes(t)
	tables := make([]*mysqlconn.LeaseTable, len(dbs))
	for i, db := range dbs {
		tables[i] = &mysqlconn.LeaseTable{DB: db, Table: "joinery_locks", TTL: 5 * time.Second}
	}
	l, err := tables[0].Acquire(ctx, "contended", "holder", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	tries := 0
	for k := 0; k < 4; k++ {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := tables[1+k%(len(dbs)-1)].Acquire(ctx, "contended", fmt.Sprintf("taker%d", k), time.Time{})
				if !errors.Is(err, mysqlconn.ErrAlreadyRunning) {
					t.Errorf("taker %d: %v, want the lease held", k, err)
					return
				}
				mu.Lock()
				tries++
				mu.Unlock()
			}
		})
	}
	renewals := 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); renewals++ {
		if err := l.Verify(ctx); err != nil {
			t.Errorf("renewal %d: %v", renewals+1, err)
			break
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d renewals while %d acquisitions were refused", renewals, tries)
}
