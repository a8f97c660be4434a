package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
)

// TestDoctor: without --connect, the summary and what cannot be known;
// with it, the dev server's engine (MariaDB) and what runs use on it; a
// database that does not answer is exit 1, a bad flag exit 2.
func TestDoctor(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	t.Setenv("E2E_DSN", testdb.DSN(t))
	t.Setenv("E2E_HOOK", "http://127.0.0.1:1/hook")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(deliverConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := secretCLI(t, cfg, "error", "sekrit")

	code, out := cli("doctor")
	if code != exitOK || !strings.Contains(out, "(2 jobs)") || !strings.Contains(out, "not known without --connect") || strings.Contains(out, "engine:") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}
	code, out = cli("doctor", "--connect")
	var version string
	if err := db.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"engine:            mariadb, version " + version, "lock:              named (GET_LOCK", "statement timeout: max_statement_time", "cancel:            KILL <connection id>", "snapshot:", "streaming:"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor --connect says no %q", want)
		}
	}
	if code != exitOK || strings.Contains(out, "warning:") || strings.Contains(out, "not known without") {
		t.Errorf("doctor --connect: exit %d\n%s", code, out)
	}
	if code, out = cli("doctor", "--nope"); code != exitUsage {
		t.Errorf("doctor --nope: exit %d\n%s", code, out)
	}

	// A database nobody answers for.
	t.Setenv("E2E_DSN", "root@tcp(127.0.0.1:1)/x")
	if code, out = cli("doctor", "--connect"); code != exitFailed || !strings.Contains(out, "connect to") {
		t.Errorf("doctor --connect, no database: exit %d\n%s", code, out)
	}
}

// leaseConfig is one job on E2E_DSN whose runs take the lease.
const leaseConfig = `
database:
  dsn: ${E2E_DSN}
  lock: lease
output_dir: out
jobs:
  - name: j
    schedule: "@daily"
    datasets:
      users: {from: users u, select: [u.id]}
    outputs:
      - format: csv
        path: "{job}.csv"
`

// TestDoctorLease: with the lease, doctor --connect says whether its
// table is there yet, and warns of a read-only server (the replica of
// .ci/servers/replica.sh, made read-only for the test), where every run
// of an account without the right to write there would fail.
func TestDoctorLease(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	t.Setenv("E2E_DSN", testdb.DSN(t))
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(leaseConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := secretCLI(t, cfg, "error", "no secret here")
	code, out := cli("doctor", "--connect")
	if want := "lease table:       joinery_locks does not exist yet: the first run creates it"; code != exitOK || !strings.Contains(out, want) || strings.Contains(out, "warning:") {
		t.Errorf("doctor --connect before any run: exit %d, want it to say %q and warn of nothing:\n%s", code, want, out)
	}
	if code, out := cli("run", "j"); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	if code, out = cli("doctor", "--connect"); code != exitOK || !strings.Contains(out, "lease table:       joinery_locks, 1 leases") {
		t.Errorf("doctor --connect after a run: exit %d\n%s", code, out)
	}

	_, replica := testdb.Replica(t)
	rdb := testdb.Open(t, replica)
	var was string
	if err := rdb.QueryRow("SELECT @@global.read_only").Scan(&was); err != nil {
		t.Fatal(err)
	}
	testdb.Exec(t, rdb, "SET GLOBAL read_only = ON")
	t.Cleanup(func() {
		if _, err := rdb.Exec("SET GLOBAL read_only = " + map[bool]string{true: "ON", false: "OFF"}[was == "1" || was == "ON"]); err != nil {
			t.Error(err)
		}
	})
	t.Setenv("E2E_DSN", replica)
	if code, out = cli("doctor", "--connect"); code != exitOK || !strings.Contains(out, "warning: the server is read-only (read_only): the lease is a write") {
		t.Errorf("doctor --connect on a read-only server: exit %d\n%s", code, out)
	}
}
