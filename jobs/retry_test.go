package jobs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/testdb"
)

// serverError runs query on conn and returns its error, failing the test
// when it has none.
func serverError(t *testing.T, conn interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string) error {
	t.Helper()
	_, err := conn.ExecContext(context.Background(), query)
	if err == nil {
		t.Fatalf("%s: no error", query)
	}
	return err
}

// wantCode fails the test unless err is a server error numbered code: the
// scenario provoked what it meant to.
func wantCode(t *testing.T, err error, code uint16) {
	t.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != code {
		t.Fatalf("got %v, want MySQL error %d", err, code)
	}
}

// TestRetryableServerErrors classifies errors provoked on the real server,
// wrapped as the runner wraps them.
func TestRetryableServerErrors(t *testing.T) {
	db := testdb.New(t)
	dsn := testdb.DSN(t) // the parent's: a subtest would get a database of its own
	testdb.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB", "INSERT INTO t VALUES (1, 0), (2, 0)")
	ctx := context.Background()
	conn := func(t *testing.T) *sql.Conn {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	check := func(t *testing.T, err error, want bool) {
		t.Helper()
		wantRetryable(t, fmt.Errorf("dataset x: query: %w", err), want)
	}

	t.Run("syntax error", func(t *testing.T) {
		err := serverError(t, db, "SELEC 1")
		wantCode(t, err, 1064)
		check(t, err, false)
	})
	t.Run("unknown table", func(t *testing.T) {
		err := serverError(t, db, "SELECT * FROM nope")
		wantCode(t, err, 1146)
		check(t, err, false)
	})
	t.Run("unknown column", func(t *testing.T) {
		err := serverError(t, db, "SELECT nope FROM t")
		wantCode(t, err, 1054)
		check(t, err, false)
	})
	t.Run("access denied", func(t *testing.T) {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Passwd += "-wrong"
		wrong, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer wrong.Close()
		err = wrong.PingContext(ctx)
		wantCode(t, err, 1045)
		wantRetryable(t, fmt.Errorf("connect: %w", err), false)
	})
	t.Run("max_statement_time", func(t *testing.T) {
		c := conn(t)
		if _, err := c.ExecContext(ctx, "SET SESSION max_statement_time = 0.05"); err != nil {
			t.Fatal(err)
		}
		err := serverError(t, c, "SELECT SLEEP(2)")
		wantCode(t, err, 1969)
		check(t, err, false)
	})
	t.Run("KILL QUERY", func(t *testing.T) {
		// Someone stopped the query on purpose: not retried.
		err := killWhileRunning(t, db, conn(t), "KILL QUERY", "SELECT COUNT(*) FROM seq_1_to_100000 a, seq_1_to_100000 b")
		wantCode(t, err, 1317)
		check(t, err, false)
	})

	t.Run("lock wait timeout", func(t *testing.T) {
		a, b := conn(t), conn(t)
		mustExec(t, a, "BEGIN", "UPDATE t SET v = 1 WHERE id = 1")
		defer mustExec(t, a, "ROLLBACK")
		mustExec(t, b, "SET SESSION innodb_lock_wait_timeout = 1")
		err := serverError(t, b, "UPDATE t SET v = 2 WHERE id = 1")
		wantCode(t, err, 1205)
		check(t, err, true)
	})
	t.Run("deadlock", func(t *testing.T) {
		a, b := conn(t), conn(t)
		mustExec(t, a, "SET SESSION innodb_lock_wait_timeout = 10", "BEGIN", "UPDATE t SET v = 1 WHERE id = 1")
		mustExec(t, b, "SET SESSION innodb_lock_wait_timeout = 10", "BEGIN", "UPDATE t SET v = 2 WHERE id = 2")
		aID := connectionID(t, a)
		aErr := make(chan error, 1)
		go func() {
			_, err := a.ExecContext(ctx, "UPDATE t SET v = 1 WHERE id = 2") // waits for b
			aErr <- err
		}()
		waitUntilRunning(t, db, aID)
		// Now b waits for a: one of them is chosen as the victim.
		_, bErr := b.ExecContext(ctx, "UPDATE t SET v = 2 WHERE id = 1")
		var err error
		if bErr != nil {
			err = bErr
			mustExec(t, b, "ROLLBACK")
			<-aErr
		} else {
			err = <-aErr
			mustExec(t, b, "ROLLBACK")
		}
		mustExec(t, a, "ROLLBACK")
		wantCode(t, err, 1213)
		check(t, err, true)
	})
	t.Run("max_user_connections", func(t *testing.T) {
		u, err := sql.Open("mysql", limitedUser(t, db, dsn))
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		held, err := u.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		_, err = u.Conn(ctx)
		wantCode(t, err, 1226)
		wantRetryable(t, fmt.Errorf("connect: %w", err), true)
	})
	t.Run("connection killed mid-query", func(t *testing.T) {
		c := conn(t)
		err := killWhileRunning(t, db, c, "KILL", "SELECT SLEEP(10)")
		if !errors.Is(err, mysql.ErrInvalidConn) {
			t.Fatalf("got %v, want mysql.ErrInvalidConn", err)
		}
		check(t, err, true)
		// The same connection used again.
		err = serverError(t, c, "SELECT 1")
		if !errors.Is(err, driver.ErrBadConn) {
			t.Fatalf("got %v, want driver.ErrBadConn", err)
		}
		check(t, err, true)
	})

	// Errors no single test server can be made to return: a server
	// shutting down, a Galera node not ready, and the like.
	for _, code := range []uint16{1040, 1053, 1047, 1412, 1615, 1927, 2006, 2013, 3032, 4031, 9001} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			check(t, &mysql.MySQLError{Number: code}, true)
		})
	}
	for _, code := range []uint16{1038, 1044, 1049, 1105, 1129, 1142, 1290, 1836, 3024} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			check(t, &mysql.MySQLError{Number: code}, false)
		})
	}
}

func wantRetryable(t *testing.T, err error, want bool) {
	t.Helper()
	if got := Retryable(err); got != want {
		t.Errorf("Retryable(%v) = %v, want %v", err, got, want)
	}
}

func mustExec(t *testing.T, c *sql.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := c.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func connectionID(t *testing.T, c *sql.Conn) int64 {
	t.Helper()
	var id int64
	if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// killWhileRunning runs query on c and, from db, kill (KILL or KILL
// QUERY) on c while the query runs, and returns the query's error.
func killWhileRunning(t *testing.T, db *sql.DB, c *sql.Conn, kill, query string) error {
	t.Helper()
	id := connectionID(t, c)
	go func() {
		waitUntilRunning(t, db, id)
		db.Exec(fmt.Sprintf("%s %d", kill, id))
	}()
	return serverError(t, c, query)
}

// waitUntilRunning waits until connection id runs a statement.
func waitUntilRunning(t *testing.T, db *sql.DB, id int64) {
	for range 500 {
		var n int
		err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO IS NOT NULL AND COMMAND = 'Query'", id).Scan(&n)
		if err != nil || n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// limitedUser creates an account that may hold one connection to the
// database of dsn, and returns its DSN.
func limitedUser(t *testing.T, db *sql.DB, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	user := "joinery_" + strings.TrimPrefix(cfg.DBName, "joinery_test_")
	testdb.Exec(t, db,
		"CREATE USER '"+user+"'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1",
		"GRANT ALL ON `"+cfg.DBName+"`.* TO '"+user+"'@'%'")
	t.Cleanup(func() { db.Exec("DROP USER '" + user + "'@'%'") })
	cfg.User, cfg.Passwd = user, "pw"
	return cfg.FormatDSN()
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serve listens on a loopback port until the test ends, hands each
// connection to handle and returns the address.
func serve(t *testing.T, handle func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c.(*net.TCPConn))
		}
	}()
	return ln.Addr().String()
}

// ping connects to addr through OpenDB, as a run would, and returns the
// error.
func ping(t *testing.T, d Database, addr string) error {
	t.Helper()
	db, err := OpenDB(d, "root@tcp("+addr+")/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(context.Background())
	if err == nil {
		t.Fatalf("%s: no error", addr)
	}
	return err
}

// TestRetryableNetworkErrors classifies real network errors, as the net
// package and the driver return them.
func TestRetryableNetworkErrors(t *testing.T) {
	server, err := mysql.ParseDSN(testdb.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	db := Database{ConnectTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	check := func(t *testing.T, err error, want bool) {
		t.Helper()
		wantRetryable(t, fmt.Errorf("connect: %w", err), want)
	}

	t.Run("connection refused", func(t *testing.T) {
		addr := closedAddr(t)
		_, err := net.Dial("tcp", addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("got %v, want ECONNREFUSED", err)
		}
		check(t, err, true)
		err = ping(t, db, addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("got %v, want ECONNREFUSED", err)
		}
		check(t, err, true)
	})
	t.Run("connection reset", func(t *testing.T) {
		addr := serve(t, func(c *net.TCPConn) {
			c.SetLinger(0) // close sends RST
			c.Close()
		})
		// The reset may come before connect returns, or at the first read.
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %v, want ECONNRESET", err)
		}
		check(t, err, true)
		// The driver, meeting it while dialling or reading the handshake.
		err = ping(t, db, addr)
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, mysql.ErrInvalidConn) {
			t.Fatalf("got %v, want ECONNRESET or mysql.ErrInvalidConn", err)
		}
		check(t, err, true)
	})
	t.Run("connection closed mid-packet", func(t *testing.T) {
		addr := serve(t, func(c *net.TCPConn) {
			c.Write([]byte{10, 0}) // 2 bytes of a 4-byte header
			c.Close()
		})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = io.ReadFull(c, make([]byte, 4))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
		}
		check(t, err, true)
	})
	t.Run("dial timeout", func(t *testing.T) {
		quick := db
		quick.ConnectTimeout = time.Nanosecond
		err := ping(t, quick, server.Addr)
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
			t.Fatalf("got %v, want a network timeout", err)
		}
		check(t, err, true)
	})
	t.Run("no such host", func(t *testing.T) {
		_, err := net.Dial("tcp", "joinery-retry-test.invalid:3306")
		de, ok := errors.AsType[*net.DNSError](err)
		if !ok || !de.IsNotFound {
			t.Skipf("the resolver here does not say the name does not exist: %v", err)
		}
		check(t, err, false)
	})

	// What the resolver and the kernel return when the network is in
	// trouble, which a test cannot bring about on loopback.
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	syscallErr := func(errno syscall.Errno) error { return dial(os.NewSyscallError("connect", errno)) }
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"host unreachable", syscallErr(syscall.EHOSTUNREACH), true},
		{"network unreachable", syscallErr(syscall.ENETUNREACH), true},
		{"connection timed out", syscallErr(syscall.ETIMEDOUT), true},
		{"connection aborted", syscallErr(syscall.ECONNABORTED), true},
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, true},
		{"dns temporary failure", dial(&net.DNSError{Err: "server misbehaving", Name: "db", IsTemporary: true}), true},
		{"dns timeout", dial(&net.DNSError{Err: "i/o timeout", Name: "db", IsTimeout: true}), true},
		{"dns not found", dial(&net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}), false},
		{"permission denied dialling", syscallErr(syscall.EACCES), false},
	} {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.err, tt.want) })
	}
}

// TestRetryableRunErrors classifies the run's own failures: none passes.
func TestRetryableRunErrors(t *testing.T) {
	type namedErr struct {
		name string
		err  error
	}
	var errs []namedErr
	add := func(name string, err error) { errs = append(errs, namedErr{name, err}) }

	add("expectation", fmt.Errorf("dataset x: %w", fmt.Errorf("%w: rows >= 1 (got 0)", ErrExpectation)))
	add("empty", fmt.Errorf("dataset x: %w", ErrEmpty))
	add("lock held", ErrAlreadyRunning)
	add("cancelled", fmt.Errorf("%w (%w)", context.Canceled, fmt.Errorf("dataset x: query: %w", mysql.ErrInvalidConn)))
	// The job's timeout, reached while dialling: the dial's own timeout
	// would pass, the job's does not.
	dialTimeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	add("job timeout", fmt.Errorf("%w (%w)", fmt.Errorf("%w of %s reached", errJobTimeout, time.Second), fmt.Errorf("connect: %w", dialTimeout)))
	add("deadline", context.DeadlineExceeded)
	_, err := Parse("c.yaml", []byte("jobs: [{name: j, schedule: \"61 * * * *\"}]"))
	add("config", err)
	cfg, err := Parse("c.yaml", []byte(`
jobs:
  - name: j
    schedule: "@daily"
    params: {n: {type: int, required: true}}
    datasets:
      d: {from: users u, select: [u.id], where: [{column: u.id, op: "=", param: n}]}
    outputs: [{format: csv, path: "{job}.csv"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Jobs[0].PlanAt(time.Now(), map[string]string{"n": "many"})
	add("parameter", err)
	_, err = cfg.Jobs[0].PlanAt(time.Now(), nil)
	add("missing parameter", err)

	// File system errors, real where this machine can make them.
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err = os.Create(filepath.Join(ro, "x.csv"))
	if !errors.Is(err, fs.ErrPermission) {
		_, err = os.Create("/sys/joinery-retry-test") // as root: sysfs refuses
	}
	if errors.Is(err, fs.ErrPermission) {
		add("permission denied", fmt.Errorf("output %s: %w", "x.csv", err))
	} else {
		t.Logf("no permission error to be had here (%v)", err)
	}
	if err := os.WriteFile("/dev/full", []byte("x"), 0o644); errors.Is(err, syscall.ENOSPC) {
		add("disk full", fmt.Errorf("write report: %w", err))
	} else {
		t.Logf("no /dev/full here (%v)", err)
	}
	add("read-only file system", fmt.Errorf("write report: %w", &os.PathError{Op: "open", Path: "/r/x.csv", Err: syscall.EROFS}))
	add("quota", fmt.Errorf("write report: %w", &os.PathError{Op: "write", Path: "/r/x.csv", Err: syscall.EDQUOT}))
	add("timeout writing a file", fmt.Errorf("write report: %w", &os.PathError{Op: "write", Path: "/nfs/x.csv", Err: syscall.ETIMEDOUT}))
	add("nil", nil)

	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			if e.name != "nil" && e.err == nil {
				t.Fatal("no error to classify")
			}
			wantRetryable(t, e.err, false)
		})
	}
}

// TestRunWithRetriesGivesUp runs against a port nothing listens on: a
// connection failure is retried, with a growing delay, then reported.
func TestRunWithRetriesGivesUp(t *testing.T) {
	cfg, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(`
database: {connect_timeout: 1s}
jobs:
  - name: j
    schedule: "@daily"
    retries: 2
    retry_delay: 50ms
    datasets:
      d: {from: users u, select: [u.id]}
    outputs: [{format: csv, path: "{job}.csv"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB(cfg.Database, "root@tcp(127.0.0.1:1)/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := &Runner{DB: db, Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	start := time.Now()
	p, err := cfg.Jobs[0].PlanAt(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := r.RunWithRetries(context.Background(), &cfg.Jobs[0], p)
	if res.Err == nil || res.Attempts != 3 {
		t.Fatalf("attempts = %d, err = %v; want 3 failed attempts", res.Attempts, res.Err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("waited %v between attempts, want at least 50ms + 100ms", waited)
	}
}
