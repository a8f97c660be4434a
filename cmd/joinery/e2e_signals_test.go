package main

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/internal/testlog"
)

// signalsConfig has a job whose query the server sorts for minutes before
// it sends a row (64 million rows), and a quick one.
const signalsConfig = signalsHead + slowJob + `
  - name: quick
    schedule: "@every 1s"
    datasets:
      d: {from: users u, select: [u.id, u.name]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{datetime}.csv"}
`

const signalsHead = `
database:
  dsn: ${E2E_DSN}
timezone: UTC
output_dir: out
jobs:`

const slowJob = `
  - name: slow
    schedule: "@every 1s"
    datasets:
      d:
        from: posts a
        joins: [{table: posts, as: b, type: cross}, {table: posts, as: c, type: cross}, {table: posts, as: e, type: cross}, {table: posts, as: f, type: cross}, {table: posts, as: g, type: cross}]
        select: ["concat(a.title, b.title, c.title, e.title, f.title, g.title) AS t"]
        order_by: [t]
    outputs:
      - {format: csv, path: "{job}/{dataset}-{datetime}.csv"}
`

// signal sends sig to the daemon.
func (d *daemon) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// exit waits up to within for the daemon to exit, and returns its status.
func (d *daemon) exit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-d.done:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		d.cmd.Process.Kill()
		<-d.done
		t.Fatalf("the daemon did not exit within %s:\n%s", within, d.stderr.String())
		return 0
	}
}

// records returns the daemon's log records so far, which must all be JSON.
func (d *daemon) records(t *testing.T) []map[string]any {
	t.Helper()
	return testlog.Parse(t, d.stderr.String())
}

// checkNoTempFiles fails the test for each temporary file under dir.
func checkNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if strings.Contains(filepath.Base(path), ".tmp-") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
}

// sorting waits up to 30 s for the slow job's query to run on the server,
// and returns its connection id.
func sorting(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var id int64
		err := db.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE '%CROSS JOIN%' AND ID <> CONNECTION_ID()").Scan(&id)
		if err == nil {
			return id
		}
		if err != sql.ErrNoRows {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow query did not start on the server within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serverQueries counts the slow job's statements still on the server.
func serverQueries(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE '%CROSS JOIN%' AND ID <> CONNECTION_ID()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// lockFree reports whether the job's lock is free, and frees it again.
func lockFree(t *testing.T, db *sql.DB, job string) bool {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK(CONCAT('joinery/', DATABASE(), '/', ?), 0)", job).Scan(&got); err != nil {
		t.Fatal(err)
	}
	conn.ExecContext(context.Background(), "DO RELEASE_LOCK(CONCAT('joinery/', DATABASE(), '/', ?))", job)
	return got == 1
}

// signalsTest seeds the test's database and writes config into a fresh
// folder; it returns the database, the folder and the config's path.
func signalsTest(t *testing.T, config string) (db *sql.DB, dir, cfgPath string) {
	t.Helper()
	db = testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dir = t.TempDir()
	cfgPath = filepath.Join(dir, "config.yaml")
	writeConfig(t, cfgPath, config)
	return db, dir, cfgPath
}

// needHUP skips a test of SIGHUP where it is ignored: joinery leaves it so.
func needHUP(t *testing.T) {
	if signal.Ignored(syscall.SIGHUP) {
		t.Skip("SIGHUP is ignored here (nohup?), and so it is in joinery")
	}
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScheduleSecondSignal: SIGTERM starts the graceful stop, and a second
// one cancels the running job at once: the server's query is killed, the
// job's lock is free, no temporary file is left, the cancel is a warning
// and the daemon exits 0.
func TestScheduleSecondSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			db, dir, cfgPath := signalsTest(t, signalsConfig)
			d := startDaemon(t, binary(t, ""), []string{"E2E_DSN=" + testdb.DSN(t)}, "schedule", "--config", cfgPath, "--grace", "5m")
			sorting(t, db)
			d.signal(t, sig)
			d.waitForLog(t, `"msg":"shutting down: no new runs will start"`)
			d.running(t, time.Second, "during its grace period")
			if serverQueries(t, db) != 1 {
				t.Fatal("the slow query stopped during the grace period")
			}
			start := time.Now()
			d.signal(t, sig)
			if code := d.exit(t, 20*time.Second); code != 0 {
				t.Errorf("exit %d, want 0\n%s", code, d.stderr.String())
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the second signal took %s to stop the daemon", took)
			}
			recs := d.records(t)
			if len(find(recs, "stop requested again: cancelling running jobs now", "")) != 1 {
				t.Errorf("no record of the second signal:\n%s", d.stderr.String())
			}
			cancelled := find(recs, "run cancelled", "slow")
			if len(cancelled) != 1 || cancelled[0]["level"] != "WARN" {
				t.Errorf("cancel records %v, want one warning", cancelled)
			}
			for _, r := range recs {
				if r["level"] == "ERROR" {
					t.Errorf("error record: %v", r)
				}
			}
			if n := serverQueries(t, db); n != 0 {
				t.Errorf("%d slow queries still on the server", n)
			}
			if !lockFree(t, db, "slow") {
				t.Error("the job's lock is still held")
			}
			checkNoTempFiles(t, dir)
		})
	}
}

// TestRunStopsOnSIGHUP: run treats SIGHUP (a terminal closing) as a stop:
// the run is cancelled cleanly, exit status 130.
func TestRunStopsOnSIGHUP(t *testing.T) {
	needHUP(t)
	db, dir, cfgPath := signalsTest(t, signalsConfig)
	cmd := exec.Command(binary(t, ""), "run", "slow", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "E2E_DSN="+testdb.DSN(t))
	d := startCmd(t, cmd)
	sorting(t, db)
	d.signal(t, syscall.SIGHUP)
	if code := d.exit(t, 20*time.Second); code != exitInterrupted {
		t.Errorf("exit %d, want %d\n%s", code, exitInterrupted, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "interrupted (hangup signal received): cancelled slow") {
		t.Errorf("stderr:\n%s", d.stderr.String())
	}
	if n := serverQueries(t, db); n != 0 {
		t.Errorf("%d slow queries still on the server", n)
	}
	checkNoTempFiles(t, dir)
}

// TestScheduleReload: SIGHUP reloads the configuration. A valid one
// replaces the schedules without disturbing a running job; an invalid one
// is logged and the one in use stays.
func TestScheduleReload(t *testing.T) {
	needHUP(t)
	// held reads posts, which this session locks: its run waits on the
	// server until the lock goes, as long as the test wants.
	const v1 = `
database:
  dsn: ${E2E_DSN}
output_dir: out
jobs:
  - name: held
    schedule: "@every 1s"
    datasets:
      d: {from: posts p, select: [p.id]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{datetime}.csv"}
`
	const added = `
  - name: added
    schedule: "@every 1s"
    datasets:
      d: {from: users u, select: [u.id]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{datetime}.csv"}
`
	db, dir, cfgPath := signalsTest(t, v1)
	out := filepath.Join(dir, "out")
	locker, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	if _, err := locker.ExecContext(context.Background(), "LOCK TABLES posts WRITE"); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, binary(t, ""), []string{"E2E_DSN=" + testdb.DSN(t)}, "schedule", "--config", cfgPath, "--grace", "10s")
	d.waitForLog(t, `"msg":"run skipped: the previous run of this job is still running","job":"held"`)

	// A valid configuration: held stays, added comes.
	writeConfig(t, cfgPath, v1+added)
	d.signal(t, syscall.SIGHUP)
	d.waitForLog(t, `"msg":"configuration reloaded"`)
	d.waitForFile(t, filepath.Join(out, "added", "*.csv"))
	reloaded := find(d.records(t), "configuration reloaded", "")
	if len(reloaded) != 1 || strings.Join(toStrings(reloaded[0]["added"]), ",") != "added" ||
		strings.Join(toStrings(reloaded[0]["running"]), ",") != "held" {
		t.Errorf("reload record %v, want added [added] and running [held]", reloaded)
	}

	// An invalid one: logged, and the schedules in use go on.
	writeConfig(t, cfgPath, v1+strings.Replace(added, "@every 1s", "61 * * * *", 1))
	d.signal(t, syscall.SIGHUP)
	d.waitForLog(t, `"msg":"reload failed: the configuration in use stays"`)
	failed := find(d.records(t), "reload failed: the configuration in use stays", "")
	if len(failed) != 1 || failed[0]["level"] != "ERROR" || !strings.Contains(failed[0]["error"].(string), `jobs[1].schedule: "61 * * * *"`) {
		t.Errorf("reload failure records %v, want one error naming the field", failed)
	}
	// And a configuration on another database is refused too.
	writeConfig(t, cfgPath, strings.Replace(v1, "dsn: ${E2E_DSN}", "dsn: ${E2E_DSN}\n  max_open_conns: 3", 1))
	d.signal(t, syscall.SIGHUP)
	d.waitForLog(t, `restart joinery to apply them`)
	runs := len(find(d.records(t), "run finished", "added"))
	for deadline := time.Now().Add(20 * time.Second); len(find(d.records(t), "run finished", "added")) <= runs; {
		if time.Now().After(deadline) {
			t.Fatalf("added stopped running after a failed reload:\n%s", d.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The run of held that started before the reloads was not disturbed:
	// it finishes once the table is free.
	if _, err := locker.ExecContext(context.Background(), "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	d.waitForFile(t, filepath.Join(out, "held", "*.csv"))
	d.waitForLog(t, `"msg":"run finished","job":"held"`)
	if code := d.exitAfter(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	recs := d.records(t)
	for _, msg := range []string{"run cancelled", "run failed"} {
		if r := find(recs, msg, ""); len(r) > 0 {
			t.Errorf("%s: %v", msg, r)
		}
	}
	// Each skip of held names the job and the time it skipped.
	for _, r := range find(recs, "run skipped: the previous run of this job is still running", "") {
		if r["job"] != "held" || r["level"] != "WARN" {
			t.Errorf("skip record %v, want a warning for held", r)
		}
		if _, err := time.Parse(time.RFC3339, r["logical_time"].(string)); err != nil {
			t.Errorf("skip record %v: logical_time: %v", r, err)
		}
	}
	checkNoTempFiles(t, dir)
}

// exitAfter sends sig and waits up to 30 s for the daemon's exit status.
func (d *daemon) exitAfter(t *testing.T, sig os.Signal) int {
	t.Helper()
	d.signal(t, sig)
	return d.exit(t, 30*time.Second)
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestScheduleAfterSIGKILL: a daemon killed in the middle of a query that
// the server sorts leaves that query running, holding the job's lock. The
// restarted daemon's runs are skipped, naming the holder as running a
// query, until the statement timeout (the job's timeout and a second)
// ends it; then the job runs, and nothing of the killed run is left.
func TestScheduleAfterSIGKILL(t *testing.T) {
	const timeout = 4 * time.Second // the statement timeout is 5 s
	db, dir, cfgPath := signalsTest(t, signalsHead+strings.Replace(slowJob, "  - name: slow\n", "  - name: slow\n    timeout: 4s\n", 1))
	out := filepath.Join(dir, "out")
	env := []string{"E2E_DSN=" + testdb.DSN(t)}
	d := startDaemon(t, binary(t, ""), env, "schedule", "--config", cfgPath)
	holder := sorting(t, db)
	d.cmd.Process.Kill()
	<-d.done
	killed := time.Now()
	if serverQueries(t, db) != 1 {
		t.Fatal("the server stopped the query at once: nothing to show")
	}

	// The same job, now quick (the same outputs, so that its runs clean
	// up after the killed one).
	writeConfig(t, cfgPath, signalsHead+`
  - name: slow
    schedule: "@every 1s"
    datasets:
      d: {from: posts a, select: ["a.title AS t"]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{datetime}.csv"}
`)
	d2 := startDaemon(t, binary(t, ""), env, "schedule", "--config", cfgPath)
	d2.waitForFile(t, filepath.Join(out, "slow", "*.csv"))
	ran := time.Since(killed)
	if code := d2.exitAfter(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	recs := d2.records(t)
	skips := find(recs, "run skipped: another run of this job holds its lock", "slow")
	if len(skips) == 0 {
		t.Fatalf("no run was skipped for the lock:\n%s", d2.stderr.String())
	}
	h, _ := skips[0]["holder"].(map[string]any)
	if h["connection_id"] != float64(holder) || h["state"] != "running" || h["command"] == "Sleep" {
		t.Errorf("holder %v, want connection %d running a query", h, holder)
	}
	if e, _ := skips[0]["error"].(string); !strings.Contains(e, ", running a query for ") || !strings.Contains(e, "SELECT CONCAT(`a`.`title`") {
		t.Errorf("skip error %q, want the holder running the slow query", e)
	}
	// The statement timeout, and the restarted daemon's next tick.
	t.Logf("the job ran %s after the kill, after %d skips", ran, len(skips))
	if limit := timeout + time.Second + 5*time.Second; ran > limit {
		t.Errorf("the job ran %s after the kill, want at most %s (the statement timeout and a few seconds)", ran, limit)
	}
	if n := serverQueries(t, db); n != 0 {
		t.Errorf("%d slow queries still on the server", n)
	}
	checkNoTempFiles(t, dir)
}
