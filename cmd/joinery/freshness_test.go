package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
)

// TestFreshnessCommands: sql prints the freshness guard's statements
// before the job's queries; validate --connect checks them on the server
// (the dev MariaDB is no replica: its status reads, empty) and names a
// watermark column that is missing or holds no time.
func TestFreshnessCommands(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	t.Setenv("E2E_DSN", testdb.DSN(t))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	write := func(column string) {
		t.Helper()
		text := `
database: {dsn: "${E2E_DSN}"}
jobs:
  - name: guarded
    schedule: "@daily"
    window: previous_day
    freshness:
      max_replica_lag: 30s
      watermark: {table: posts, column: ` + column + `}
    datasets:
      posts: {from: posts p, window: p.published_at, select: [p.id]}
    outputs:
      - {format: csv, path: "{job}-{date}.csv"}
`
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cli := secretCLI(t, cfg, "error", "no secret here")

	write("published_at")
	code, out := cli("sql", "guarded", "--at", "2026-11-04")
	want := "-- job guarded: the freshness guard runs first, on the run's connection:\nSHOW REPLICA STATUS;\nSELECT MAX(`published_at`) FROM `posts`;\n"
	if code != exitOK || !strings.Contains(out, want) || strings.Index(out, want) > strings.Index(out, "FROM `posts` AS `p`") {
		t.Errorf("sql: exit %d, want the guard's statements first:\n%s", code, out)
	}
	if code, out = cli("validate", "--connect"); code != exitOK {
		t.Errorf("validate --connect: exit %d\n%s", code, out)
	}
	for column, msg := range map[string]string{
		"nope":  "job guarded: freshness: watermark posts.nope: Error 1054",
		"title": "job guarded: freshness: watermark posts.title is VARCHAR: want a DATETIME, DATE or TIMESTAMP column",
	} {
		write(column)
		if code, out = cli("validate", "--connect"); code != exitFailed || !strings.Contains(out, "1 freshness guard cannot check the database") || !strings.Contains(out, msg) {
			t.Errorf("validate --connect with watermark column %s: exit %d, want %q\n%s", column, code, msg, out)
		}
	}
}
