package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/internal/testlog"
	"github.com/joinery/joinery/internal/testnet"
	"github.com/joinery/joinery/output"
)

// Several joinery schedule daemons, real processes, on a real three-node
// MariaDB Galera cluster (.ci/servers/galera.sh, testdb.Galera): each
// talks to a node of its own, and database.lock: auto takes the lease
// table there (TestGaleraNodeKilledMidRun, in its own file, starts a
// cluster of its own). The tests skip without the cluster, and fail
// without it when JOINERY_REQUIRE_CLUSTER is set.

// galeraConfig runs a job every second (@every 1s: every daemon's
// scheduled times are the whole seconds, so that two daemons share them;
// with @every 2s each would count from its own start). Its first dataset
// sleeps for delay.secs on the server: 0 for a quick run, more for a run
// to kill in the middle. The lease lasts 5 s, its least.
const galeraConfig = `
database:
  dsn: ${E2E_DSN}
  lease_ttl: 5s
timezone: UTC
output_dir: ${E2E_OUT}
jobs:
  - name: often
    schedule: "@every 1s"
    datasets:
      wait: {sql: "SELECT SLEEP(secs) AS s FROM delay"}
      d: {from: users u, select: [u.id, u.name], order_by: [u.id]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{datetime}.csv"}
`

// galera is a test's database on the cluster: its DSN on every node, a
// pool on the first node, the binary and the configuration's path.
type galera struct {
	dsns []string
	db   *sql.DB
	bin  string
	cfg  string
}

// galeraTest makes the test's database on the cluster with the users and
// posts tables and delay (the seconds the job's first dataset sleeps),
// and writes galeraConfig.
func galeraTest(t *testing.T, delay float64) *galera {
	t.Helper()
	g := galeraOn(t, testdb.Galera(t), delay)
	// A killed daemon leaves its SLEEP on the server, which would hold the
	// database's drop (testdb's cleanup, which runs after this one).
	t.Cleanup(func() {
		for _, dsn := range g.dsns {
			db := testdb.Open(t, dsn)
			rows, err := db.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE '%SLEEP(secs)%' AND ID <> CONNECTION_ID()")
			if err != nil {
				t.Error(err)
				continue
			}
			var ids []int64
			for rows.Next() {
				var id int64
				rows.Scan(&id)
				ids = append(ids, id)
			}
			rows.Close()
			for _, id := range ids {
				db.Exec("KILL ?", id)
			}
			db.Close()
		}
	})
	return g
}

// galeraOn is galeraTest on the database of dsns, one per node.
func galeraOn(t *testing.T, dsns []string, delay float64) *galera {
	t.Helper()
	g := &galera{dsns: dsns, bin: binary(t, "")}
	g.db = testdb.Open(t, g.dsns[0])
	testdb.SeedUsersPosts(t, g.db)
	testdb.Exec(t, g.db, "CREATE TABLE delay (id INT NOT NULL PRIMARY KEY, secs DOUBLE NOT NULL)")
	if _, err := g.db.Exec("INSERT INTO delay VALUES (1, ?)", delay); err != nil {
		t.Fatal(err)
	}
	// Every node has applied the seed before a daemon reads it there.
	for _, dsn := range g.dsns {
		conn, err := testdb.Open(t, dsn).Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := conn.ExecContext(context.Background(), "SET SESSION wsrep_sync_wait = 1"); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM delay").Scan(&n); err != nil || n != 1 {
			t.Fatalf("delay on %s: %d rows, %v", dsn, n, err)
		}
		conn.Close()
	}
	g.cfg = filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, g.cfg, galeraConfig)
	return g
}

// daemon starts joinery schedule on dsn, writing to out.
func (g *galera) daemon(t *testing.T, dsn, out string) *daemon {
	t.Helper()
	return startDaemon(t, g.bin, []string{"E2E_DSN=" + dsn, "E2E_OUT=" + out}, "schedule", "--config", g.cfg, "--grace", "10s")
}

// setDelay sets the seconds the job's first dataset sleeps.
func (g *galera) setDelay(t *testing.T, secs float64) {
	t.Helper()
	if _, err := g.db.Exec("UPDATE delay SET secs = ?", secs); err != nil {
		t.Fatal(err)
	}
}

// sleepingOn waits up to 30 s for a run's SLEEP to be on db's node.
func sleepingOn(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE '%SLEEP(secs)%' AND ID <> CONNECTION_ID()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no run's SLEEP on the node within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// committed is a manifest found in an output folder.
type committed struct {
	path string
	m    output.Manifest
}

// pid is the process id in the manifest's lock holder (host/pid/run id).
func (c committed) pid() int {
	if c.m.Lock == nil {
		return 0
	}
	parts := strings.Split(c.m.Lock.Holder, "/")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	return pid
}

// manifestsIn returns the manifests under the folders, oldest logical
// time first.
func manifestsIn(t *testing.T, dirs ...string) []committed {
	t.Helper()
	var out []committed
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(p, output.ManifestSuffix) {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var c committed
			c.path = p
			if err := json.Unmarshal(b, &c.m); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			out = append(out, c)
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].m.Logical.Before(out[j].m.Logical) })
	return out
}

// waitForManifests waits up to 30 s for n manifests under the folders,
// failing the test if a daemon exits meanwhile.
func waitForManifests(t *testing.T, n int, ds []*daemon, dirs ...string) []committed {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := manifestsIn(t, dirs...); len(got) >= n {
			return got
		}
		for _, d := range ds {
			select {
			case err := <-d.done:
				d.done <- err
				t.Fatalf("a daemon exited: %v\n%s", err, d.stderr.String())
			default:
			}
		}
		if time.Now().After(deadline) {
			for _, d := range ds {
				t.Logf("daemon %d:\n%s", d.cmd.Process.Pid, d.stderr.String())
			}
			t.Fatalf("%d manifests within 30 s, want %d", len(manifestsIn(t, dirs...)), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outcomes maps each logical time (RFC 3339, UTC) a daemon's log started
// a run of the job for to how it ended: "finished", "running" (skipped:
// another held the lock, or the lease for this time), "done" (skipped:
// the time has run) or "failed".
func outcomes(t *testing.T, log string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range testlog.Parse(t, log) {
		at, _ := r["logical_time"].(string)
		switch r["msg"] {
		case "run started":
			out[at] = "started"
		case "run finished":
			out[at] = "finished"
		case "run skipped: another run of this job holds its lock":
			out[at] = "running"
		case "run skipped: this scheduled time has run, or is running, elsewhere":
			// The lease held for this very time, or the time done.
			out[at] = "done"
			if e, _ := r["error"].(string); strings.Contains(e, " is running it ") {
				out[at] = "running"
			}
		case "run failed":
			out[at] = "failed"
		}
	}
	return out
}

// checkOncePerTime fails the test unless every logical time has one
// manifest, not partial, under the lease, from one of the daemons, with
// fencing tokens growing with the logical times.
func checkOncePerTime(t *testing.T, ms []committed, pids ...int) {
	t.Helper()
	seen := map[time.Time]string{}
	var last uint64
	for _, c := range ms {
		at := c.m.Logical.UTC()
		if p, ok := seen[at]; ok {
			t.Errorf("two manifests for %s: %s and %s", at.Format(time.RFC3339), p, c.path)
		}
		seen[at] = c.path
		if c.m.Partial {
			t.Errorf("%s is partial", c.path)
		}
		if c.m.Lock == nil || c.m.Lock.Kind != "lease" || c.m.Engine == nil || c.m.Engine.Name != "mariadb-galera" {
			t.Errorf("%s: lock %+v, engine %+v; want the lease on mariadb-galera", c.path, c.m.Lock, c.m.Engine)
			continue
		}
		if !slices.Contains(pids, c.pid()) {
			t.Errorf("%s: holder %s is none of the daemons %v", c.path, c.m.Lock.Holder, pids)
		}
		if c.m.Lock.Token <= last {
			t.Errorf("%s: token %d after %d: the fencing token must grow", c.path, c.m.Lock.Token, last)
		}
		last = c.m.Lock.Token
	}
}

// noErrors fails the test for each ERROR record in the daemon's log.
func noErrors(t *testing.T, d *daemon) {
	t.Helper()
	for _, r := range d.records(t) {
		if r["level"] == "ERROR" {
			t.Errorf("daemon %d: error record %v", d.cmd.Process.Pid, r)
		}
	}
}

// TestGaleraDaemonsRunEachTimeOnce: two daemons with the same
// configuration, on two nodes, run every scheduled time once overall. For
// every time both daemons reached, one ran it and the other skipped it:
//   - sharing an output folder, both on their node: they fire at the same
//     instant, and the later one mostly finds the lease held;
//   - with an output folder each, the second daemon 30 ms away from its
//     node (a relay with that latency): it comes for the lease after the
//     first daemon's run committed and freed it, and only the lease's
//     done_logical tells it the time has run.
func TestGaleraDaemonsRunEachTimeOnce(t *testing.T) {
	const times = 6
	for _, c := range []struct {
		name    string
		shared  bool
		latency time.Duration
	}{
		{"one output folder", true, 0},
		{"an output folder each, one daemon farther away", false, 30 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := galeraTest(t, 0)
			outs := []string{t.TempDir(), t.TempDir()}
			dirs := outs
			if c.shared {
				outs[1], dirs = outs[0], outs[:1]
			}
			dsnB := g.dsns[1]
			if c.latency > 0 {
				_, target := via(t, dsnB, "")
				rl := testnet.NewRelay(t, target)
				rl.Latency = c.latency
				rl.Start(t)
				dsnB, _ = via(t, dsnB, rl.Addr)
			}
			start := time.Now()
			a, b := g.daemon(t, g.dsns[0], outs[0]), g.daemon(t, dsnB, outs[1])
			waitForManifests(t, times, []*daemon{a, b}, dirs...)
			took := time.Since(start)
			logA, logB := a.stop(t), b.stop(t)
			ms := manifestsIn(t, dirs...)
			pidA, pidB := a.cmd.Process.Pid, b.cmd.Process.Pid
			checkOncePerTime(t, ms, pidA, pidB)
			noErrors(t, a)
			noErrors(t, b)
			for _, d := range []*daemon{a, b} {
				e := find(d.records(t), "database engine detected", "often")
				if len(e) != 1 || e[0]["engine"] != "mariadb-galera" || e[0]["lock"] != "lease" {
					t.Errorf("daemon %d logged the engine %v, want mariadb-galera with the lease, once", d.cmd.Process.Pid, e)
				}
			}
			byTime := map[string]int{}
			for _, c := range ms {
				byTime[c.m.Logical.UTC().Format(time.RFC3339)] = c.pid()
			}
			outA, outB := outcomes(t, logA), outcomes(t, logB)
			both, ranA, ranB, skips := 0, 0, 0, map[string]int{}
			for at, oa := range outA {
				ob, ok := outB[at]
				if !ok || oa == "started" || ob == "started" {
					continue // one daemon had not started, or was stopping
				}
				both++
				switch {
				case oa == "finished" && (ob == "running" || ob == "done"):
					ranA++
					skips["b "+ob]++
				case ob == "finished" && (oa == "running" || oa == "done"):
					ranB++
					skips["a "+oa]++
				default:
					t.Errorf("%s: daemon a %s, daemon b %s; want one run and one skip", at, oa, ob)
					continue
				}
				want := pidA
				if ob == "finished" {
					want = pidB
				}
				if byTime[at] != want {
					t.Errorf("%s: the manifest is of pid %d, the log says %d ran it", at, byTime[at], want)
				}
			}
			if both < times-2 {
				t.Errorf("both daemons reached %d times, want at least %d", both, times-2)
			}
			if c.latency > 0 && skips["b done"] == 0 {
				t.Errorf("the daemon farther away never found a time done in the lease: skips %v", skips)
			}
			if t.Failed() {
				t.Logf("daemon a:\n%s\ndaemon b:\n%s", logA, logB)
			}
			t.Logf("%d manifests in %s; of %d times both daemons reached, a ran %d and b %d; skips %v", len(ms), took.Round(time.Millisecond), both, ranA, ranB, skips)
			checkNoTempFiles(t, outs[0])
		})
	}
}

// TestGaleraDaemonKilledMidRun: a daemon killed with SIGKILL in the middle
// of a run commits nothing, and its lease stays until it expires (ttl
// 5 s): the other daemon, on another node, skips the times until then,
// and its next run takes the lease over with a greater fencing token,
// removes what the killed run left in the shared folder and commits.
func TestGaleraDaemonKilledMidRun(t *testing.T) {
	g := galeraTest(t, 30)
	out := t.TempDir()
	a := g.daemon(t, g.dsns[0], out)
	a.waitForLog(t, `"msg":"run started"`)
	sleepingOn(t, g.db)
	holder, token := leaseHolder(t, g.db)
	if !strings.Contains(holder, "/"+strconv.Itoa(a.cmd.Process.Pid)+"/") {
		t.Fatalf("the lease is held by %q, want daemon a (pid %d)", holder, a.cmd.Process.Pid)
	}
	b := g.daemon(t, g.dsns[1], out)
	b.waitForLog(t, `"msg":"run skipped: another run of this job holds its lock"`)

	a.cmd.Process.Kill()
	<-a.done
	killed := time.Now()
	killedAt := lastStarted(t, a)
	g.setDelay(t, 0)
	ms := waitForManifests(t, 1, []*daemon{b}, out)
	after := time.Since(killed)
	ms = waitForManifests(t, 3, []*daemon{b}, out)
	b.stop(t)

	checkOncePerTime(t, ms, b.cmd.Process.Pid)
	if first := ms[0].m.Lock.Token; first <= token {
		t.Errorf("the first run after the kill has token %d, the killed one had %d", first, token)
	}
	// The lease was renewed at most a third of its ttl before the kill:
	// it stayed at least two thirds of it, and at most the ttl.
	if after < 3*time.Second || after > 5*time.Second+2*time.Second {
		t.Errorf("daemon b committed %s after the kill, want between 3 s and 7 s (lease_ttl 5s)", after)
	}
	held := 0
	for _, r := range find(b.records(t), "run skipped: another run of this job holds its lock", "often") {
		if h, _ := r["holder"].(map[string]any); h != nil && h["holder"] == holder {
			held++
		}
	}
	if held < 3 {
		t.Errorf("daemon b skipped %d times for the killed daemon's lease, want at least 3", held)
	}
	noErrors(t, b)
	checkNoTempFiles(t, out)
	noFilesFor(t, out, killedAt)
	t.Logf("killed daemon's token %d; daemon b committed %s after the kill with token %d, after %d skips for the lease", token, after.Round(time.Millisecond), ms[0].m.Lock.Token, held)
}

// lastStarted returns the logical time of the last run the daemon's log
// started, read line by line: a daemon killed with SIGKILL may have left
// its last line cut.
func lastStarted(t *testing.T, d *daemon) string {
	t.Helper()
	at := ""
	for _, line := range strings.Split(d.stderr.String(), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == "run started" {
			at, _ = r["logical_time"].(string)
		}
	}
	if at == "" {
		t.Fatalf("the daemon started no run:\n%s", d.stderr.String())
	}
	return at
}

// noFilesFor fails the test for each file under dir named for the
// logical time at (RFC 3339, UTC): no report and no manifest of it.
func noFilesFor(t *testing.T, dir, at string) {
	t.Helper()
	logical, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	stamp := logical.UTC().Format("20060102T150405")
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), stamp) {
			t.Errorf("a file of the run for %s: %s", at, p)
		}
		return nil
	})
}

// leaseHolder reads the job's lease on db's node.
func leaseHolder(t *testing.T, db *sql.DB) (string, uint64) {
	t.Helper()
	var holder string
	var token uint64
	if err := db.QueryRow("SELECT holder, token FROM joinery_locks WHERE name = CONCAT('joinery/', DATABASE(), '/often')").Scan(&holder, &token); err != nil {
		t.Fatal(err)
	}
	return holder, token
}

// TestGaleraNodeLostMidRun: the node of a daemon becomes unreachable in
// the middle of a run (the daemon reaches it through a relay, which the
// test cuts, closing every connection as a node that dies does; the node
// itself stays, for the other tests on the cluster). The run fails and
// commits nothing, and the other daemon, on a live node, runs the
// following times once its lease expired.
func TestGaleraNodeLostMidRun(t *testing.T) {
	g := galeraTest(t, 30)
	out := t.TempDir()
	_, target := via(t, g.dsns[0], "")
	rl := testnet.NewRelay(t, target)
	rl.Start(t)
	dsnA, _ := via(t, g.dsns[0], rl.Addr)
	a := g.daemon(t, dsnA, out)
	a.waitForLog(t, `"msg":"run started"`)
	sleepingOn(t, g.db)
	_, token := leaseHolder(t, g.db)
	b := g.daemon(t, g.dsns[1], out)
	b.waitForLog(t, `"msg":"run skipped: another run of this job holds its lock"`)

	cutAt := lastStarted(t, a)
	rl.Cut()
	cut := time.Now()
	a.waitForLog(t, `"msg":"run failed"`)
	failedIn := time.Since(cut)
	g.setDelay(t, 0)
	ms := waitForManifests(t, 1, []*daemon{a, b}, out)
	after := time.Since(cut)
	ms = waitForManifests(t, 3, []*daemon{a, b}, out)
	logA, _ := a.stop(t), b.stop(t)

	failed := checkLostDatabase(t, ms, a, b, logA, out, token, cutAt, "cut off")
	t.Logf("daemon a failed %s after the cut: %s; daemon b committed %s after it with token %d (a's %d)", failedIn.Round(time.Millisecond), failed["error"], after.Round(time.Millisecond), ms[0].m.Lock.Token, token)
}

// checkLostDatabase checks what two daemons left when daemon a lost its
// database node (how: "cut off", "killed") in the middle of its run of
// lostAt, ms being the runs committed since: every time once, by daemon b,
// the first with a greater fencing token than a's (token); a's first
// failure is its dataset wait in the run of lostAt, and it finished no
// run; b logged no error; no temporary file, and no file of lostAt. It
// returns a's first failure's record.
func checkLostDatabase(t *testing.T, ms []committed, a, b *daemon, logA, out string, token uint64, lostAt, how string) map[string]any {
	t.Helper()
	checkOncePerTime(t, ms, b.cmd.Process.Pid)
	if first := ms[0].m.Lock.Token; first <= token {
		t.Errorf("the first run after daemon a's node was %s has token %d, a's had %d", how, first, token)
	}
	failed := find(testlog.Parse(t, logA), "run failed", "often")
	if len(failed) == 0 {
		t.Fatalf("daemon a logged no failure:\n%s", logA)
	}
	if e, _ := failed[0]["error"].(string); !strings.Contains(e, "dataset wait") {
		t.Errorf("the first failure of daemon a is %q, want the failure of its dataset wait", e)
	}
	if at, _ := failed[0]["logical_time"].(string); at != lostAt {
		t.Errorf("daemon a's first failure is of %s, want the run its node was %s under, of %s", at, how, lostAt)
	}
	if !strings.Contains(logA, `"msg":"run started"`) || strings.Contains(logA, `"msg":"run finished"`) {
		t.Errorf("daemon a finished a run:\n%s", logA)
	}
	noErrors(t, b)
	checkNoTempFiles(t, out)
	noFilesFor(t, out, lostAt)
	return failed[0]
}

// TestGaleraDoctor: joinery doctor --connect on a Galera node names the
// engine and the lease that database.lock: auto takes there.
func TestGaleraDoctor(t *testing.T) {
	g := galeraTest(t, 0)
	r := runBin(t, g.bin, []string{"E2E_DSN=" + g.dsns[1], "E2E_OUT=" + t.TempDir()}, "doctor", "--connect", "--config", g.cfg)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"engine:            mariadb-galera, version ",
		"lock:              lease (table joinery_locks, ttl 5s) (database.lock: auto); the lease because named locks on Galera are per node",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor --connect says no %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "warning: database.lock: named") {
		t.Errorf("doctor --connect warns of named locks under lock: auto:\n%s", r.stdout)
	}
	// Named locks chosen by hand, where they do not keep runs apart.
	named := filepath.Join(t.TempDir(), "named.yaml")
	writeConfig(t, named, strings.Replace(galeraConfig, "  lease_ttl: 5s\n", "  lease_ttl: 5s\n  lock: named\n", 1))
	r = runBin(t, g.bin, []string{"E2E_DSN=" + g.dsns[1], "E2E_OUT=" + t.TempDir()}, "doctor", "--connect", "--config", named)
	if want := "warning: database.lock: named, but named locks on Galera are per node"; r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("doctor --connect with lock: named: exit %d, want it to say %q:\n%s", r.code, want, r.stdout)
	}
}
