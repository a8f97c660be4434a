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
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/internal/testlog"
	"github.com/joinery/joinery/internal/testnet"
)

// seq returns a random source that hands out vs in turn.
func seq(vs ...float64) func() float64 {
	i := 0
	return func() float64 {
		v := vs[i%len(vs)]
		i++
		return v
	}
}

func TestBackoff(t *testing.T) {
	const m = time.Minute
	tests := []struct {
		base, max time.Duration
		n         int
		random    float64
		want      time.Duration
	}{
		{m, 15 * m, 1, 0, 30 * time.Second},          // half of retry_delay at least
		{m, 15 * m, 1, 0.5, 45 * time.Second},        // d/2 + 0.5·d/2
		{m, 15 * m, 2, 0, m},                         // doubled
		{m, 15 * m, 3, 0.25, 2*m + 30*time.Second},   // 4m: 2m + 0.25·2m
		{m, 15 * m, 4, 0, 4 * m},                     // 8m
		{m, 15 * m, 5, 0, 7*m + 30*time.Second},      // 16m capped to 15m
		{m, 15 * m, 5, 0.5, 11*m + 15*time.Second},   // 7m30s + 0.5·7m30s
		{m, 15 * m, 100, 0, 7*m + 30*time.Second},    // no overflow
		{20 * m, 15 * m, 1, 0, 7*m + 30*time.Second}, // a retry_delay over the cap is capped
		{2 * m, 15 * m, 1, 0.5, 90 * time.Second},    // the shipped config
		{2 * m, 15 * m, 2, 0.5, 3 * m},
		{2 * m, 15 * m, 3, 0.5, 6 * m},
		{3 * time.Second, 10 * time.Second, 3, 0, 5 * time.Second}, // 12s capped to 10s
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s-%s-n%d-r%g", tt.base, tt.max, tt.n, tt.random)
		t.Run(name, func(t *testing.T) {
			if got := backoff(tt.base, tt.max, tt.n, seq(tt.random)); got != tt.want {
				t.Errorf("backoff = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestBackoffBounds: whatever the random source returns in [0, 1), the
// wait is at least half the capped delay and never more than the cap.
func TestBackoffBounds(t *testing.T) {
	below1 := math.Nextafter(1, 0)
	for _, c := range []struct{ base, max time.Duration }{
		{time.Minute, 15 * time.Minute},
		{7 * time.Second, 15 * time.Minute},
		{time.Nanosecond, math.MaxInt64},
		{time.Hour, time.Hour},
	} {
		d := c.base
		for n := 1; n <= 100; n++ {
			lo := backoff(c.base, c.max, n, seq(0))
			hi := backoff(c.base, c.max, n, seq(below1))
			if lo < min(d, c.max)/2 || hi > c.max || lo > hi {
				t.Errorf("base %s, max %s, retry %d: wait from %s to %s, want within [%s, %s]", c.base, c.max, n, lo, hi, min(d, c.max)/2, c.max)
			}
			if d < c.max/2 {
				d *= 2
			} else {
				d = c.max
			}
		}
	}
}

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
		// The connection goes back to the pool: later subtests must not
		// inherit the limit.
		defer c.ExecContext(ctx, "SET SESSION max_statement_time = 0")
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
		u, err := sql.Open("mysql", testdb.LimitedUser(t, db, dsn))
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
		addr := testnet.FreeAddr(t)
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
		addr := testnet.Serve(t, func(c net.Conn) {
			c.(*net.TCPConn).SetLinger(0) // close sends RST
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
		addr := testnet.Serve(t, func(c net.Conn) {
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

// logRecords collects a logger's records, as JSON lines.
type logRecords struct{ testlog.Buffer }

// sameRun checks that every record is one of res's run: the job, its run
// id and its logical time.
func (l *logRecords) sameRun(t *testing.T, res *Result) {
	t.Helper()
	if res.RunID == "" {
		t.Fatal("the result has no run id")
	}
	for _, rec := range l.Records(t) {
		if rec["job"] != res.Job || rec["run_id"] != res.RunID || rec["logical_time"] != res.Logical.Format(time.RFC3339) {
			t.Errorf("record %v: want job %s, run_id %s and logical_time %s", rec, res.Job, res.RunID, res.Logical.Format(time.RFC3339))
		}
	}
}

// retryRunner returns a runner for the config yamlText (output_dir a fresh
// folder) on the database of dsn, logging into the returned records.
func retryRunner(t *testing.T, dsn, yamlText string) (*Runner, *logRecords) {
	t.Helper()
	cfg, err := Parse(filepath.Join(t.TempDir(), "config.yaml"), []byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB(cfg.Database, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &logRecords{}
	r := &Runner{DB: db, Config: cfg, Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	return r, logs
}

// retryJob is a job on users, with the settings given, such as retries.
func retryJob(settings string) string {
	return `
jobs:
  - name: j
    schedule: "@daily"
` + settings + `
    datasets:
      d: {from: users u, select: [u.id, u.name]}
    outputs: [{format: csv, path: "{job}.csv"}]
`
}

func runJob(t *testing.T, r *Runner) *Result {
	t.Helper()
	p, err := r.Config.Jobs[0].PlanAt(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.RunWithRetries(context.Background(), &r.Config.Jobs[0], p)
}

// TestRunWithRetriesGivesUp runs against a port nothing listens on: the
// connection is retried with waits that double, up to the cap, jittered,
// and the failure is logged once, as given up.
func TestRunWithRetriesGivesUp(t *testing.T) {
	r, logs := retryRunner(t, "root@tcp("+testnet.FreeAddr(t)+")/x", retryJob(`
    retries: 3
    retry_delay: 1m
    retry_max_delay: 3m`))
	var waits []time.Duration
	r.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}
	r.random = seq(0, 0.5, 0.75)
	res := runJob(t, r)
	if !errors.Is(res.Err, syscall.ECONNREFUSED) || res.Attempts != 4 {
		t.Fatalf("attempts = %d, err = %v; want 4 attempts refused", res.Attempts, res.Err)
	}
	// 1m, 2m, 4m capped to 3m; each wait d/2 + random·d/2.
	want := []time.Duration{30 * time.Second, 90 * time.Second, 90*time.Second + 67500*time.Millisecond}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits = %v, want %v", waits, want)
	}
	warns := logs.Find(t, "WARN", "attempt failed, will retry")
	if len(warns) != 3 {
		t.Fatalf("%d retry warnings, want 3:\n%s", len(warns), logs)
	}
	for i, w := range warns {
		if w["attempt"] != float64(i+1) || w["retry_in"] != float64(want[i]) || !strings.Contains(w["error"].(string), "connection refused") {
			t.Errorf("warning %d = %v, want attempt %d, retry_in %s and the error", i, w, i+1, want[i])
		}
	}
	errs := logs.Find(t, "ERROR", "")
	if len(errs) != 1 || errs[0]["msg"] != "run failed" || errs[0]["attempts"] != 4.0 || errs[0]["not_retried"] != "gave up after 4 attempts" ||
		!strings.Contains(errs[0]["error"].(string), "connection refused") {
		t.Errorf("error records = %v, want one: run failed after 4 attempts, the retries spent, with the last error\n%s", errs, logs)
	}
	// Every record is the one run's.
	logs.sameRun(t, res)
}

// TestRunWithRetriesRecovers: the account may hold one connection, and
// another session holds it when the run starts (1226, passing); it lets
// go while the run waits, and the second attempt succeeds.
func TestRunWithRetriesRecovers(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dsn := testdb.LimitedUser(t, db, testdb.DSN(t))
	other, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	held, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, logs := retryRunner(t, dsn, retryJob("    retries: 2"))
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	r.sleep = func(ctx context.Context, d time.Duration) error {
		held.Close()
		other.Close()
		// The server frees the account's connection when it has seen the
		// client go, a moment after Close: wait for that, not for a time.
		waitNoSessions(t, db, cfg.User)
		return nil
	}
	r.random = seq(0)
	res := runJob(t, r)
	if res.Err != nil || res.Attempts != 2 {
		t.Fatalf("attempts = %d, err = %v; want success at the second attempt\n%s", res.Attempts, res.Err, logs)
	}
	if warns := logs.Find(t, "WARN", "attempt failed, will retry"); len(warns) != 1 || !strings.Contains(warns[0]["error"].(string), "max_user_connections") {
		t.Errorf("retry warnings = %v, want one for max_user_connections", warns)
	}
	if errs := logs.Find(t, "ERROR", ""); len(errs) != 0 {
		t.Errorf("error records = %v, want none", errs)
	}
	fin := logs.Find(t, "INFO", "run finished")
	if len(fin) != 1 || fin[0]["attempts"] != 2.0 || fin[0]["files"] != 1.0 || fin[0]["rows"] == nil || fin[0]["duration"] == nil {
		t.Errorf("run finished = %v, want one with attempts 2, files 1, rows and duration", fin)
	}
	logs.sameRun(t, res)
}

// TestRunWithRetriesPermanent: a run that fails for a reason that stays
// (on_empty: fail, an expect rule, a missing table) is attempted once,
// whatever its retries, and its failure is logged once, as permanent.
func TestRunWithRetriesPermanent(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dsn := testdb.DSN(t)
	tests := []struct {
		name, dataset string
		settings      string
		want          error
	}{
		{"on_empty fail", `{from: users u, select: [u.id], where: [{column: u.id, op: "<", value: 0}]}`, "    on_empty: fail", ErrEmpty},
		{"expect rule", `{from: users u, select: [u.id], expect: ["rows >= 1000"]}`, "", ErrExpectation},
		{"missing table", `{from: nope n, select: [n.id]}`, "", &mysql.MySQLError{Number: 1146}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yamlText := strings.Replace(retryJob("    retries: 2\n    retry_delay: 1ms\n"+tt.settings), "{from: users u, select: [u.id, u.name]}", tt.dataset, 1)
			r, logs := retryRunner(t, dsn, yamlText)
			// The real clock: were the run retried, the test would show
			// it, not wait for it.
			res := runJob(t, r)
			if me := (*mysql.MySQLError)(nil); errors.As(tt.want, &me) {
				wantCode(t, res.Err, me.Number)
			} else if !errors.Is(res.Err, tt.want) {
				t.Fatalf("err = %v, want %v", res.Err, tt.want)
			}
			if res.Attempts != 1 {
				t.Errorf("attempts = %d, want 1", res.Attempts)
			}
			if starts := logs.Find(t, "INFO", "run started"); len(starts) != 1 {
				t.Errorf("%d runs started, want 1", len(starts))
			}
			if warns := logs.Find(t, "WARN", "run failed"); len(warns) != 0 {
				t.Errorf("retry warnings = %v, want none", warns)
			}
			errs := logs.Find(t, "ERROR", "")
			if len(errs) != 1 || errs[0]["msg"] != "run failed" || errs[0]["not_retried"] != "the error is permanent" {
				t.Errorf("error records = %v, want one run failed, not retried as permanent\n%s", errs, logs)
			}
			if _, err := os.Stat(filepath.Join(r.Config.OutputPath(), "j.csv")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("report: %v, want none", err)
			}
		})
	}
}

// TestRunWithRetriesStops: a scheduler shutting down (waitCtx) or a
// cancelled run ends the wait for the next attempt; the run is logged once,
// as cancelled (a warning: nothing went wrong with the job), saying why.
func TestRunWithRetriesStops(t *testing.T) {
	for _, which := range []string{"wait", "run"} {
		t.Run(which, func(t *testing.T) {
			r, logs := retryRunner(t, "root@tcp("+testnet.FreeAddr(t)+")/x", retryJob("    retries: 2"))
			runCtx, cancelRun := context.WithCancel(context.Background())
			defer cancelRun()
			waitCtx, cancelWait := context.WithCancel(context.Background())
			defer cancelWait()
			sleeps := 0
			r.sleep = func(ctx context.Context, d time.Duration) error {
				sleeps++
				if which == "wait" {
					cancelWait()
				} else {
					cancelRun()
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Second):
					t.Error("the wait went on after shutdown")
					return nil
				}
			}
			p, err := r.Config.Jobs[0].PlanAt(time.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			res := r.runWithRetries(runCtx, waitCtx, &r.Config.Jobs[0], p)
			if res.Attempts != 1 || sleeps != 1 {
				t.Errorf("attempts = %d after %d waits, want 1 after 1", res.Attempts, sleeps)
			}
			if errs := logs.Find(t, "ERROR", ""); len(errs) != 0 {
				t.Errorf("error records = %v, want none", errs)
			}
			wantWhy := map[string]string{"wait": "joinery is stopping: no further attempt", "run": "context canceled"}[which]
			if c := logs.Find(t, "WARN", "run cancelled"); len(c) != 1 || c[0]["reason"] != wantWhy || c[0]["attempts"] != 1.0 {
				t.Errorf("cancel records = %v, want one with reason %q\n%s", c, wantWhy, logs)
			}
		})
	}
}

// TestRunWithoutRetries: a job without retries logs its failure once, as
// before retries existed, even when the error would pass.
func TestRunWithoutRetries(t *testing.T) {
	r, logs := retryRunner(t, "root@tcp("+testnet.FreeAddr(t)+")/x", retryJob(""))
	r.sleep = func(ctx context.Context, d time.Duration) error {
		t.Error("waited to retry a job without retries")
		return nil
	}
	res := runJob(t, r)
	if res.Err == nil || res.Attempts != 1 {
		t.Fatalf("attempts = %d, err = %v; want 1 failed attempt", res.Attempts, res.Err)
	}
	errs := logs.Find(t, "ERROR", "")
	if len(errs) != 1 || errs[0]["msg"] != "run failed" || errs[0]["not_retried"] != nil {
		t.Errorf("error records = %v, want one run failed", errs)
	}
}

// waitNoSessions waits until the server lists no session of user.
func waitNoSessions(t *testing.T, db *sql.DB, user string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?", user).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of %s still open after 10 s", n, user)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
