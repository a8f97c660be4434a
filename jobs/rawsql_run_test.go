package jobs_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
)

// rawTopSQL ranks each author's posts by views with a window function over
// a CTE, neither of which the declarative form can say.
const rawTopSQL = `-- each author's most viewed posts in the window
WITH recent AS (
  SELECT p.id, p.user_id, p.title, p.views
  FROM posts p
  WHERE p.published_at >= :window_start AND p.published_at < :window_end
    AND p.views >= :min_views AND p.user_id IN (:authors)
)
SELECT u.name, r.title, r.views,
       RANK() OVER (PARTITION BY r.user_id ORDER BY r.views DESC) AS author_rank,
       'it''s :not_a_param' AS note
FROM recent r JOIN users u ON u.id = r.user_id
ORDER BY u.name, author_rank, r.id;
`

// TestRawSQLMatchesHandWritten runs a raw SQL dataset read from sql_file,
// with a window, an int and a list parameter, and compares its CSV with
// the same query run by hand with the values bound in order.
func TestRawSQLMatchesHandWritten(t *testing.T) {
	cfg := `
jobs:
  - name: j
    schedule: "@daily"
    window: last 87600h
    params:
      min_views: {type: int, default: 5}
      authors: {type: "list<int>", default: [1, 2, 3, 4]}
    datasets:
      top:
        sql_file: top.sql
        expect: [rows >= 1]
    outputs:
` + csvOut
	r, raw := setupFiles(t, cfg, map[string]string{"top.sql": rawTopSQL})
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	start, end := res.Window.Start.UTC().Format("2006-01-02 15:04:05"), res.Window.End.UTC().Format("2006-01-02 15:04:05")
	hand := strings.NewReplacer(":window_start", "?", ":window_end", "?", ":min_views", "?", ":authors", "?, ?, ?, ?", ";\n", "").Replace(rawTopSQL)
	want := handRows(t, raw, hand, start, end, 5, 1, 2, 3, 4)
	header, got := readCSV(t, filepath.Join(r.Config.OutputPath(), "j", "top-2026-11-25.csv"))
	if wantHeader := []string{"name", "title", "views", "author_rank", "note"}; !slices.Equal(header, wantHeader) {
		t.Errorf("header %q, want %q", header, wantHeader)
	}
	if len(want) == 0 || !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows\n got %q\nwant %q", got, want)
	}
	if res.Datasets[0].Rows != int64(len(want)) || res.Snapshot == "" {
		t.Errorf("rows %d, snapshot %q", res.Datasets[0].Rows, res.Snapshot)
	}
	assertReadWriteSessions(t, r.DB)
}

// assertReadWriteSessions checks that the runs left no read-only
// connection in the pool.
func assertReadWriteSessions(t *testing.T, db *sql.DB) {
	t.Helper()
	var ro int
	if err := db.QueryRow("SELECT @@tx_read_only").Scan(&ro); err != nil || ro != 0 {
		t.Errorf("a pooled connection has @@tx_read_only = %d, %v; want 0", ro, err)
	}
}

// TestRawSQLWritesRefused runs raw SQL datasets that pass validation but
// write, through stored functions: the server refuses each write (the
// run's session is READ ONLY, with the snapshot and without), the run
// fails, the table is as it was and the previous report is untouched.
// Validation refuses the statements that are not a SELECT (INSERT, DDL:
// TestRawSQLConfig, TestScanRawErrors); a DDL statement that got past it
// is refused by the same session (mysqlconn's TestReadOnlyRefusesWrites).
func TestRawSQLWritesRefused(t *testing.T) {
	for _, snapshot := range []string{"", "    snapshot: false\n"} {
		name := "snapshot"
		if snapshot != "" {
			name = "snapshot false"
		}
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(oneJob("      ok:\n        sql: SELECT COUNT(*) AS posts FROM posts\n", csvOut), "    datasets:\n", snapshot+"    datasets:\n", 1)
			r, raw := setupFiles(t, cfg, nil)
			testdb.Exec(t, raw,
				"CREATE FUNCTION joinery_insert() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO posts (id, user_id, title, views) VALUES (1000, 1, 'written', 1); RETURN 1; END",
				"CREATE FUNCTION joinery_update() RETURNS INT MODIFIES SQL DATA BEGIN UPDATE posts SET views = views + 1; RETURN 1; END",
				"CREATE FUNCTION joinery_delete() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM posts; RETURN 1; END")
			job := &r.Config.Jobs[0]
			if res := r.Run(context.Background(), job, logical); res.Err != nil {
				t.Fatal(res.Err)
			}
			report := filepath.Join(r.Config.OutputPath(), "j", "ok-2026-11-25.csv")
			before, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			state := func() []string {
				var s []string
				for _, row := range handRows(t, raw, "SELECT COUNT(*), SUM(views) FROM posts") {
					s = append(s, row...)
				}
				return s
			}
			was := state()
			for _, fn := range []string{"joinery_insert", "joinery_update", "joinery_delete"} {
				job.Datasets[0].SQL = "SELECT u.id, " + fn + "() AS wrote FROM users u" // writes posts, which it does not read
				res := r.Run(context.Background(), job, logical)
				if res.Err == nil || !strings.Contains(res.Err.Error(), "READ ONLY") {
					t.Errorf("%s: run error %v, want the server's refusal (READ ONLY)", fn, res.Err)
				}
				if res.Commit != nil || res.Manifest != "" {
					t.Errorf("%s: the failed run committed %+v", fn, res.Commit)
				}
				if now := state(); !slices.Equal(now, was) {
					t.Errorf("%s: posts went from %v to %v", fn, was, now)
				}
				if after, err := os.ReadFile(report); err != nil || !bytes.Equal(after, before) {
					t.Errorf("%s: the previous report changed (%v)", fn, err)
				}
			}
			assertReadWriteSessions(t, r.DB)
			assertNoOpenTransaction(t, raw)
		})
	}
}

// TestRawSQLDuplicateColumns fails a run whose raw SQL names two columns
// alike: they would head the CSV twice and collide as JSON keys.
func TestRawSQLDuplicateColumns(t *testing.T) {
	r, _ := setupFiles(t, oneJob("      d:\n        sql: SELECT u.id, p.id FROM users u JOIN posts p ON p.user_id = u.id\n", csvOut), nil)
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err == nil || !strings.Contains(res.Err.Error(), `result columns 1 and 2 are both named "id"`) {
		t.Errorf("err = %v, want the duplicate column named", res.Err)
	}
}
