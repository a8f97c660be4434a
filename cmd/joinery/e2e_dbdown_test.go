package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/internal/testnet"
)

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
	relayed := func(t *testing.T) (*testnet.Relay, string) {
		_, target := via(t, parentDSN, "")
		rl := testnet.NewRelay(t, target)
		dsn, _ := via(t, parentDSN, rl.Addr)
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
		time.AfterFunc(500*time.Millisecond, func() { rl.Start(t) })
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
		rl.Start(t)
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
