package jobs_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
)

// snapshotJob has two datasets over posts: the first counts them, the
// second lists them.
const snapshotJob = `      counted:
        from: posts p
        select: ["count(*) AS posts", "sum(p.views) AS views"]
      listed:
        from: posts p
        select: [p.id, p.title, p.views]
        order_by: [p.id]
`

// TestOneSnapshotPerRun writes between the two datasets' queries, on
// another connection: a post added, one changed and one deleted. With the
// run's snapshot (the default) the second dataset shows the posts as the
// first one counted them; with snapshot: false it shows the writes, which
// is what the snapshot keeps out.
func TestOneSnapshotPerRun(t *testing.T) {
	for _, tt := range []struct {
		name      string
		setting   string
		wantSeen  bool
		isolation string
	}{
		{"default", "", false, "REPEATABLE READ"},
		{"snapshot false", "    snapshot: false\n", true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := strings.Replace(oneJob(snapshotJob, csvOut), "    datasets:\n", tt.setting+"    datasets:\n", 1)
			r, raw := setup(t, cfg)
			// A session default that would defeat the snapshot (READ
			// COMMITTED reads each statement's own data): the run sets
			// the level of its transaction itself.
			dsn, err := mysql.ParseDSN(testdb.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			dsn.Params = map[string]string{"tx_isolation": "'READ-COMMITTED'"}
			r.DB.Close()
			if r.DB, err = jobs.OpenDB(r.Config.Database, dsn.FormatDSN(), nil); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.DB.Close() })
			var level string
			if err := r.DB.QueryRow("SELECT @@tx_isolation").Scan(&level); err != nil || level != "READ-COMMITTED" {
				t.Fatalf("session isolation %q, %v", level, err)
			}
			wrote := false
			r.Progress = func(job, dataset string, rows int64, done bool) {
				if dataset == "counted" && done {
					testdb.Exec(t, raw,
						"INSERT INTO posts (id, user_id, title, published_at, views) VALUES (100, 1, 'Written mid-run', NOW(), 5)",
						"UPDATE posts SET views = views + 1000, title = 'Changed mid-run' WHERE id = 1",
						"DELETE FROM posts WHERE id = 2")
					wrote = true
				}
			}
			res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !wrote {
				t.Fatal("the progress callback never ran after the first dataset")
			}
			dir := filepath.Join(r.Config.OutputPath(), "j")
			_, counted := readCSV(t, filepath.Join(dir, "counted-2026-11-25.csv"))
			_, listed := readCSV(t, filepath.Join(dir, "listed-2026-11-25.csv"))
			ids := make([]string, len(listed))
			views := 0
			for i, row := range listed {
				ids[i] = row[0]
				v, err := strconv.Atoi(row[2])
				if err != nil {
					t.Fatal(err)
				}
				views += v
			}
			seen := slices.Contains(ids, "100") || !slices.Contains(ids, "2") || listed[0][1] == "Changed mid-run"
			if seen != tt.wantSeen {
				t.Errorf("the second dataset saw the writes made after the first: %v, want %v (ids %v, first %q)", seen, tt.wantSeen, ids, listed[0])
			}
			if !tt.wantSeen {
				// Both datasets read the same data.
				if got := []string{strconv.Itoa(len(listed)), strconv.Itoa(views)}; !slices.Equal(counted[0], got) {
					t.Errorf("counted %v, listed %v rows and views", counted[0], got)
				}
			}
			if res.Snapshot != tt.isolation {
				t.Errorf("result snapshot %q, want %q", res.Snapshot, tt.isolation)
			}
			m := readManifest(t, res.Manifest)
			if m.Snapshot != (tt.isolation != "") || m.Isolation != tt.isolation {
				t.Errorf("manifest snapshot %v, isolation %q; want %v, %q", m.Snapshot, m.Isolation, tt.isolation != "", tt.isolation)
			}
			assertNoOpenTransaction(t, raw)
		})
	}
}

// TestSnapshotEndsWhenTheRunFails fails a run in its second dataset (a
// table that does not exist) and checks that the run's snapshot did not
// stay open on the pooled connection: DDL on the table the first dataset
// read goes through at once.
func TestSnapshotEndsWhenTheRunFails(t *testing.T) {
	ds := `      counted:
        from: posts p
        select: ["count(*) AS posts"]
      missing:
        from: no_such_table x
        select: [x.id]
`
	r, raw := setup(t, oneJob(ds, csvOut))
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "no_such_table") {
		t.Fatalf("err = %v, want the missing table", res.Err)
	}
	assertNoOpenTransaction(t, raw)
	// And the next run on the same pool starts its own snapshot.
	r.Config.Jobs[0].Datasets = r.Config.Jobs[0].Datasets[:1]
	if res := r.Run(context.Background(), &r.Config.Jobs[0], logical); res.Err != nil || res.Snapshot == "" {
		t.Fatalf("second run: %v, snapshot %q", res.Err, res.Snapshot)
	}
	assertNoOpenTransaction(t, raw)
}

// assertNoOpenTransaction fails when a transaction still holds a metadata
// lock on posts: an ALTER TABLE would wait for it.
func assertNoOpenTransaction(t *testing.T, raw *sql.DB) {
	t.Helper()
	_, err := raw.Exec("SET STATEMENT lock_wait_timeout = 2 FOR ALTER TABLE posts COMMENT 'checked'")
	if err != nil {
		t.Errorf("DDL on posts after the run: %v (a transaction of the run is still open)", err)
	}
}
