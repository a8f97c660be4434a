package jobs_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// freshJob is a daily job over posts read from a replica, whose window is
// the previous day in Berlin; freshness is its freshness block.
func freshJob(freshness string) string {
	return `
timezone: Europe/Berlin
database: {timezone: Europe/Berlin}
jobs:
  - name: fresh
    schedule: "0 6 * * *"
    window: previous_day
    freshness:
` + freshness + `
    datasets:
      posts:
        from: posts p
        window: p.updated_at
        select: [p.id, p.title]
    outputs:
      - {format: csv, path: "{job}/{dataset}-{from}.csv"}
`
}

// freshLogical is the logical time of the runs of freshJob: its window is
// 3 November 2026 in Berlin, which ends at 2026-11-04 00:00 (+01:00).
var freshLogical = time.Date(2026, 11, 4, 6, 0, 0, 0, mustZone("Europe/Berlin"))

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// replicaSetup is a runner whose database is the test's database on the
// replica of testdb.Replica, with its log in a buffer; primary and
// replica are handles on the two servers' copies of the database, with
// posts created and replicated, holding two posts of the window.
type replicaSetup struct {
	r                *jobs.Runner
	primary, replica *sql.DB
	primaryDSN, rDSN string
	log              *bytes.Buffer
	outputDir        string
}

func setupReplica(t *testing.T, yamlText string) *replicaSetup {
	t.Helper()
	pDSN, rDSN := testdb.Replica(t)
	s := &replicaSetup{primaryDSN: pDSN, rDSN: rDSN, log: &bytes.Buffer{}}
	s.primary, s.replica = testdb.Open(t, pDSN), testdb.Open(t, rDSN)
	testdb.Exec(t, s.primary,
		"CREATE TABLE posts (id INT NOT NULL PRIMARY KEY, title VARCHAR(50) NOT NULL, updated_at DATETIME NOT NULL)",
		"INSERT INTO posts VALUES (1, 'a', '2026-11-03 08:00:00'), (2, 'b', '2026-11-03 22:00:00')")
	testdb.CatchUp(t, pDSN, rDSN)
	cfg, err := jobs.Parse(filepath.Join(t.TempDir(), "config.yaml"), []byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	db, err := jobs.OpenDB(cfg.Database, rDSN, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s.r = &jobs.Runner{DB: db, Config: cfg, Logger: slog.New(slog.NewJSONHandler(s.log, nil))}
	s.outputDir = cfg.OutputPath()
	return s
}

// checks returns the "freshness checked" records of the log.
func (s *replicaSetup) checks(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(s.log.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "freshness checked" {
			out = append(out, rec)
		}
	}
	return out
}

// files returns the files under the output folder, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() && rel == output.StateDir {
			return fs.SkipDir // joinery's state (the job's lock file), not a report
		}
		if !d.IsDir() {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lateRow writes, on the primary, a post after the window's end: the
// watermark reaches the window's end once the replica has it.
const lateRow = "INSERT INTO posts VALUES (3, 'late', '2026-11-04 00:05:00')"

func TestFreshnessReplicaInSync(t *testing.T) {
	s := setupReplica(t, freshJob(`      max_replica_lag: 30s
      watermark: {table: posts, column: updated_at}`))
	testdb.Exec(t, s.primary, lateRow)
	testdb.CatchUp(t, s.primaryDSN, s.rDSN)

	res := s.r.Run(context.Background(), &s.r.Config.Jobs[0], freshLogical)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m := readManifest(t, res.Manifest)
	f := m.Freshness
	if f == nil || f.Replica == nil || f.Watermark == nil {
		t.Fatalf("manifest freshness %+v, want the replica and the watermark", f)
	}
	if !f.Fresh || f.Checks != 1 || f.Waited != 0 {
		t.Errorf("fresh %v after %d checks and %gs, want fresh after 1 and 0s", f.Fresh, f.Checks, f.Waited)
	}
	if !f.Replica.IsReplica || f.Replica.LagSeconds == nil || *f.Replica.LagSeconds != 0 || f.Replica.MaxLagSeconds != 30 {
		t.Errorf("replica %+v (lag %v), want a replica with lag 0 of at most 30", f.Replica, f.Replica.LagSeconds)
	}
	wantValue := time.Date(2026, 11, 4, 0, 5, 0, 0, freshLogical.Location())
	wantEnd := time.Date(2026, 11, 4, 0, 0, 0, 0, freshLogical.Location())
	if w := f.Watermark; w.Value == nil || !w.Value.Equal(wantValue) || !w.Want.Equal(wantEnd) {
		t.Errorf("watermark %v want %v, want %v want %v", w.Value, w.Want, wantValue, wantEnd)
	}
	// The manifest's JSON says it as written.
	data, err := os.ReadFile(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"lag_seconds": 0`, `"value": "2026-11-04T00:05:00+01:00"`, `"want": "2026-11-04T00:00:00+01:00"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("manifest lacks %s:\n%s", want, data)
		}
	}
	if got := res.Datasets[0].Rows; got != 2 {
		t.Errorf("%d rows, want the window's 2", got)
	}
	if c := s.checks(t); len(c) != 1 || c[0]["lag_seconds"] != 0.0 || c[0]["replica"] != true || c[0]["watermark"] != "2026-11-04T00:05:00+01:00" {
		t.Errorf("log records %v, want one freshness check with lag 0 and the watermark", c)
	}
}

// stopReplication stops the replica's SQL thread (its I/O thread goes on
// receiving events, which it does not apply) and writes lateRow on the
// primary: the replica's posts stop before the window's end.
func (s *replicaSetup) stopReplication(t *testing.T) {
	t.Helper()
	testdb.Exec(t, s.replica, "STOP SLAVE SQL_THREAD")
	testdb.Exec(t, s.primary, lateRow)
}

func TestFreshnessStoppedReplicaFails(t *testing.T) {
	s := setupReplica(t, freshJob(`      max_replica_lag: 30s
      watermark: {table: posts, column: updated_at}`))
	s.stopReplication(t)

	res := s.r.Run(context.Background(), &s.r.Config.Jobs[0], freshLogical)
	if !errors.Is(res.Err, jobs.ErrStale) {
		t.Fatalf("err = %v, want ErrStale", res.Err)
	}
	// MariaDB 10.11 says NULL while the SQL thread is stopped.
	for _, want := range []string{"replication is stopped (Seconds_Behind_Master is NULL)",
		"watermark posts.updated_at is 2026-11-03T22:00:00+01:00, before 2026-11-04T00:00:00+01:00"} {
		if !strings.Contains(res.Err.Error(), want) {
			t.Errorf("error %q lacks %q", res.Err, want)
		}
	}
	if !jobs.Retryable(res.Err) {
		t.Errorf("a stale replica's error is permanent, want it retried: %v", res.Err)
	}
	if f := res.Freshness; f == nil || f.Fresh || f.Replica == nil || !f.Replica.IsReplica || f.Replica.LagSeconds != nil {
		t.Errorf("result freshness %+v, want a stale replica without lag", f)
	}
	if got := files(t, s.outputDir); len(got) != 0 {
		t.Errorf("a stale run left files: %v", got)
	}
}

func TestFreshnessStoppedReplicaWarns(t *testing.T) {
	s := setupReplica(t, freshJob(`      watermark: {table: posts, column: updated_at}
      on_stale: warn`))
	s.stopReplication(t)

	res := s.r.Run(context.Background(), &s.r.Config.Jobs[0], freshLogical)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m := readManifest(t, res.Manifest)
	if m.Freshness == nil || m.Freshness.Fresh || m.Freshness.Replica != nil {
		t.Errorf("manifest freshness %+v, want stale, the watermark only", m.Freshness)
	}
	want := "freshness: watermark posts.updated_at is 2026-11-03T22:00:00+01:00, before 2026-11-04T00:00:00+01:00; ran anyway (on_stale: warn)"
	if len(m.Warnings) != 1 || m.Warnings[0] != want {
		t.Errorf("manifest warnings %q, want %q", m.Warnings, want)
	}
	if len(res.Files) != 1 || res.Datasets[0].Rows != 2 {
		t.Errorf("files %v, %d rows; want the report of the 2 rows the replica has", res.Files, res.Datasets[0].Rows)
	}
}

// delayReplication makes the replica really lag: it applies events only
// MASTER_DELAY (2 h) after the primary wrote them, and insert is written
// with a timestamp an hour old, so the replica, waiting on it, is an hour
// behind. It returns when the replica's SQL thread waits on that event.
func (s *replicaSetup) delayReplication(t *testing.T, insert string) {
	t.Helper()
	testdb.Exec(t, s.replica, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=7200", "START SLAVE")
	ctx := context.Background()
	conn, err := s.primary.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{"SET TIMESTAMP = UNIX_TIMESTAMP() - 3600", insert, "SET TIMESTAMP = DEFAULT"} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	// The replica receives the event at once and waits; poll its state,
	// a server-side event no clock of ours can stand in for.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := testdb.ReplicaStatus(t, s.rDSN)
		if lag, err := strconv.Atoi(st["Seconds_Behind_Master"].String); err == nil && lag >= 3600 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica does not lag an hour within 30 s (lag %v, state %q)", st["Seconds_Behind_Master"], st["Slave_SQL_Running_State"].String)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFreshnessWaitsForTheReplica(t *testing.T) {
	s := setupReplica(t, freshJob(`      max_replica_lag: 30s
      watermark: {table: posts, column: updated_at}
      wait: 2m
      interval: 1m`))
	s.delayReplication(t, lateRow)
	job := &s.r.Config.Jobs[0]

	t.Run("gives up after wait", func(t *testing.T) {
		s.log.Reset()
		var slept []time.Duration
		s.r.SetSleep(func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			return nil
		})
		res := s.r.Run(context.Background(), job, freshLogical)
		if !errors.Is(res.Err, jobs.ErrStale) || !strings.Contains(res.Err.Error(), "(after 3 checks in 2m0s)") {
			t.Fatalf("err = %v, want ErrStale after 3 checks in 2m0s", res.Err)
		}
		if !strings.Contains(res.Err.Error(), "behind, more than max_replica_lag 30s") {
			t.Errorf("error %q does not give the lag", res.Err)
		}
		if len(slept) != 2 || slept[0] != time.Minute || slept[1] != time.Minute {
			t.Errorf("slept %v, want 1m twice", slept)
		}
		c := s.checks(t)
		if len(c) != 3 {
			t.Fatalf("%d checks logged, want 3", len(c))
		}
		if lag, _ := c[2]["lag_seconds"].(float64); lag < 3600 {
			t.Errorf("last check saw lag %v, want at least 3600 s", c[2]["lag_seconds"])
		}
		if got := files(t, s.outputDir); len(got) != 0 {
			t.Errorf("a stale run left files: %v", got)
		}
	})

	t.Run("the replica catches up between checks", func(t *testing.T) {
		s.log.Reset()
		var slept []time.Duration
		s.r.SetSleep(func(ctx context.Context, d time.Duration) error {
			slept = append(slept, d)
			testdb.Exec(t, s.replica, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=0", "START SLAVE")
			testdb.CatchUp(t, s.primaryDSN, s.rDSN)
			return nil
		})
		res := s.r.Run(context.Background(), job, freshLogical)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(slept) != 1 {
			t.Errorf("slept %v, want one pause", slept)
		}
		f := readManifest(t, res.Manifest).Freshness
		if f == nil || !f.Fresh || f.Checks != 2 || f.Waited != 60 || f.Replica == nil || f.Replica.LagSeconds == nil || *f.Replica.LagSeconds != 0 {
			t.Errorf("manifest freshness %+v, want fresh at the second check after 60 s, lag 0", f)
		}
		if c := s.checks(t); len(c) != 2 || c[0]["fresh"] != false || c[1]["fresh"] != true {
			t.Errorf("checks logged %v, want stale then fresh", c)
		}
	})

	t.Run("a cancelled wait ends the run", func(t *testing.T) {
		s.delayReplication(t, "INSERT INTO posts VALUES (4, 'later', '2026-11-04 00:10:00')")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s.r.SetSleep(func(ctx context.Context, d time.Duration) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		})
		before := files(t, s.outputDir)
		res := s.r.Run(ctx, job, freshLogical)
		if !errors.Is(res.Err, context.Canceled) || jobs.Retryable(res.Err) {
			t.Fatalf("err = %v, want context.Canceled, not retried", res.Err)
		}
		if got := files(t, s.outputDir); len(got) != len(before) {
			t.Errorf("files %v after the cancelled run, want %v", got, before)
		}
	})
}

// TestFreshnessWatermark compares watermarks with the window's end on one
// server (no replica): a DATETIME column holds wall clocks in
// database.timezone (New York), a TIMESTAMP column instants. The window
// ends at 2026-11-04 00:00 in Berlin, 2026-11-03 23:00 UTC, 18:00 in New
// York. A server that is no replica passes max_replica_lag.
func TestFreshnessWatermark(t *testing.T) {
	end := time.Date(2026, 11, 3, 23, 0, 0, 0, time.UTC)
	tests := []struct {
		name, column, value string // value: SQL for the column's one row, "" for none
		want                string // "" for fresh, else a substring of the error
	}{
		{"datetime reached", "dt", "'2026-11-03 18:00:00'", ""},
		{"datetime a second short", "dt", "'2026-11-03 17:59:59'", "watermark w.dt is 2026-11-03T23:59:59+01:00, before 2026-11-04T00:00:00+01:00"},
		{"datetime in UTC would be wrong", "dt", "'2026-11-03 23:00:00'", ""},
		{"timestamp reached", "ts", "FROM_UNIXTIME(" + fmt.Sprint(end.Unix()) + ")", ""},
		{"timestamp a second short", "ts", "FROM_UNIXTIME(" + fmt.Sprint(end.Unix()-1) + ")", "watermark w.ts is 2026-11-03T23:59:59+01:00, before"},
		{"date", "d", "'2026-11-04'", ""},
		{"no rows", "dt", "", "watermark w.dt has no value (no rows), want 2026-11-04T00:00:00+01:00"},
		{"not a date", "title", "'2026-11-05'", "watermark w.title is VARCHAR: want a DATETIME, DATE or TIMESTAMP column"},
		{"no such column", "nope", "'x'", "Unknown column 'nope'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, raw := setup(t, strings.Replace(strings.Replace(freshJob(`      max_replica_lag: 1s
      watermark: {table: w, column: `+tt.column+`}`), "database: {timezone: Europe/Berlin}", "database: {timezone: America/New_York}", 1), "p.updated_at", "p.published_at", 1))
			testdb.Exec(t, raw, "CREATE TABLE w (id INT NOT NULL PRIMARY KEY, dt DATETIME NULL, ts TIMESTAMP NULL, d DATE NULL, title VARCHAR(20) NULL)")
			if tt.value != "" && tt.column != "nope" {
				testdb.Exec(t, raw, "INSERT INTO w (id, "+tt.column+") VALUES (1, "+tt.value+")")
			}
			res := r.Run(context.Background(), &r.Config.Jobs[0], freshLogical)
			if tt.want == "" {
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				if rep := res.Freshness.Replica; rep == nil || rep.IsReplica || rep.LagSeconds != nil {
					t.Errorf("replica %+v, want no replica", rep)
				}
				return
			}
			if res.Err == nil || !strings.Contains(res.Err.Error(), tt.want) {
				t.Fatalf("err = %v, want one with %q", res.Err, tt.want)
			}
			stale := strings.Contains(tt.want, "before") || strings.Contains(tt.want, "no value")
			if errors.Is(res.Err, jobs.ErrStale) != stale || jobs.Retryable(res.Err) != stale {
				t.Errorf("err = %v: stale and retried %v, want %v", res.Err, errors.Is(res.Err, jobs.ErrStale), stale)
			}
		})
	}
}
