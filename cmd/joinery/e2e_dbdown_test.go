package main

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/testdb"
)

// relay accepts connections on a port of its own and copies bytes both
// ways to the real server at target: the database as seen through a
// port that answers only once start is called, as a server that is still
// starting (or restarting) does, and that goes away when cut is called,
// as a server that dies does.
type relay struct {
	addr   string // 127.0.0.1:port, refused until start
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn // both ends of every connection relayed
	isCut  bool
	// latency, set before start, delays every chunk of bytes relayed,
	// both ways: a server farther away.
	latency time.Duration
}

func newRelay(t *testing.T, target string) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there until start
	r := &relay{addr: addr, target: target}
	t.Cleanup(func() {
		r.cut()
	})
	return r
}

// cut closes the port and every connection through it.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.isCut = true
	if r.ln != nil {
		r.ln.Close()
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// start opens the port; it may be called from any goroutine.
func (r *relay) start(t *testing.T) {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		t.Errorf("relay: %v", err)
		return
	}
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", r.target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			if r.isCut {
				c.Close()
				s.Close()
			} else {
				r.conns = append(r.conns, c, s)
			}
			r.mu.Unlock()
			go func() { r.copy(s, c); s.Close() }()
			go func() { r.copy(c, s); c.Close() }()
		}
	}()
}

// copy copies src to dst, each chunk r.latency after it was read.
func (r *relay) copy(dst, src net.Conn) {
	if r.latency == 0 {
		io.Copy(dst, src)
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			time.Sleep(r.latency)
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// via returns dsn with its address replaced by addr, and the address.
func via(t *testing.T, dsn, addr string) (string, string) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := cfg.Addr
	cfg.Addr = addr
	return cfg.FormatDSN(), target
}

// TestDatabaseNotUpYet: a database that is not reachable when joinery
// starts fails a run at once unless the job retries, in which case the
// retries wait for it; the daemon keeps running and its runs succeed once
// the database answers.
func TestDatabaseNotUpYet(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	bin := binary(t, "")
	// The database of this test, not of a subtest (each would get its own),
	// reached through a relay of the subtest's.
	parentDSN := testdb.DSN(t)
	relayed := func(t *testing.T) (*relay, string) {
		_, target := via(t, parentDSN, "")
		rl := newRelay(t, target)
		dsn, _ := via(t, parentDSN, rl.addr)
		return rl, dsn
	}

	t.Run("run without retries fails at once", func(t *testing.T) {
		dir := t.TempDir()
		_, dsn := relayed(t) // never started
		cfgPath := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfgPath, []byte(e2eConfig), 0o644)
		start := time.Now()
		r := runBin(t, bin, []string{"E2E_DSN=" + dsn}, "run", "nightly", "--config", cfgPath)
		if r.code != exitFailed || !strings.Contains(r.stderr, "connect to") {
			t.Errorf("exit %d, want %d and the connection error\n%s", r.code, exitFailed, r.stderr)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s", d)
		}
	})

	t.Run("run with retries waits for the database", func(t *testing.T) {
		dir := t.TempDir()
		rl, dsn := relayed(t)
		cfg := strings.Replace(e2eConfig, `    schedule: "0 6 * * *"`, `    schedule: "0 6 * * *"`+"\n    retries: 3\n    retry_delay: 1s", 1)
		cfgPath := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfgPath, []byte(cfg), 0o644)
		// The database answers a little after the first attempt failed.
		time.AfterFunc(500*time.Millisecond, func() { rl.start(t) })
		r := runBin(t, bin, []string{"E2E_DSN=" + dsn}, "run", "nightly", "--config", cfgPath, "--at", "2026-11-01")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"the database is not reachable yet", "attempt failed, will retry"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "out", "nightly", "nightly-2026-11-01.xlsx")); err != nil {
			t.Error(err)
		}
	})

	t.Run("run with retries does not wait for a host that does not exist", func(t *testing.T) {
		const host = "joinery-retry-test.invalid"
		if _, err := net.LookupHost(host); !isNotFound(err) {
			t.Skipf("the resolver here does not say %s does not exist: %v", host, err)
		}
		dir := t.TempDir()
		dsn, _ := via(t, parentDSN, host+":3306")
		cfg := strings.Replace(e2eConfig, `    schedule: "0 6 * * *"`, `    schedule: "0 6 * * *"`+"\n    retries: 3\n    retry_delay: 1m", 1)
		cfgPath := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfgPath, []byte(cfg), 0o644)
		start := time.Now()
		r := runBin(t, bin, []string{"E2E_DSN=" + dsn}, "run", "nightly", "--config", cfgPath)
		if r.code != exitFailed || !strings.Contains(r.stderr, "no such host") || strings.Contains(r.stderr, "not reachable yet") {
			t.Errorf("exit %d, want %d and the lookup error, without waiting\n%s", r.code, exitFailed, r.stderr)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %s", d)
		}
	})

	t.Run("schedule keeps running until the database answers", func(t *testing.T) {
		dir := t.TempDir()
		rl, dsn := relayed(t)
		cfgPath := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfgPath, []byte(strings.Replace(e2eConfig, `"0 6 * * *"`, `"@every 1s"`, 1)), 0o644)
		d := startDaemon(t, bin, []string{"E2E_DSN=" + dsn}, "schedule", "--config", cfgPath, "--grace", "10s")
		// Two runs fail on the closed port; the daemon must still be there.
		d.running(t, 2500*time.Millisecond, "while the database was down")
		rl.start(t)
		d.waitForFile(t, filepath.Join(dir, "out", "nightly", "*.xlsx"))
		log := d.stop(t)
		for _, want := range []string{"the database is not reachable yet", `"msg":"run failed"`, `"msg":"run finished"`} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %s:\n%s", want, log)
			}
		}
	})
}

func isNotFound(err error) bool {
	de, ok := errors.AsType[*net.DNSError](err)
	return ok && de.IsNotFound
}
