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
