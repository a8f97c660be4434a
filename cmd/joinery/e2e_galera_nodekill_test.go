package main

import (
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/testdb"
)

// TestGaleraNodeKilledMidRun: the node a daemon's run reads from dies
// (its mariadbd killed with SIGKILL) in the middle of the run, on a
// three-node cluster of the test's own (testdb.StartGalera), so that the
// shared cluster of the other tests stays whole. The run fails and
// commits nothing; the two nodes left keep a primary component; the
// other daemon, on node 2, runs the following times once the dead run's
// lease expired, with a greater fencing token, each once; node 1, started
// again, rejoins the cluster with what was committed meanwhile.
func TestGaleraNodeKilledMidRun(t *testing.T) {
	c := testdb.StartGalera(t)
	t.Logf("private cluster started in %s", c.Took.Round(time.Millisecond))
	g := galeraOn(t, c.Database(t), 30)
	node2 := testdb.Open(t, g.dsns[1])
	out := t.TempDir()
	a := g.daemon(t, g.dsns[0], out)
	a.waitForLog(t, `"msg":"run started"`)
	sleepingOn(t, g.db)
	_, token := leaseHolder(t, g.db)
	b := g.daemon(t, g.dsns[1], out)
	b.waitForLog(t, `"msg":"run skipped: another run of this job holds its lock"`)

	// The runs after the kill are quick. Set before it: until the cluster
	// has put node 1 out (5 s), writes on node 2 wait, and daemon b's run
	// may start by then. Daemon a's SLEEP has read its 30 s already.
	if _, err := node2.Exec("UPDATE delay SET secs = 0"); err != nil {
		t.Fatal(err)
	}
	killedAt := lastStarted(t, a)
	c.Kill(t, 1)
	killed := time.Now()
	a.waitForLog(t, `"msg":"run failed"`)
	failedIn := time.Since(killed)
	size, status := waitForClusterSize(t, node2, 2)
	primaryIn := time.Since(killed)
	if status != "Primary" {
		t.Errorf("node 2 is in a cluster of %d, status %s; want Primary", size, status)
	}
	ms := waitForManifests(t, 1, []*daemon{a, b}, out)
	after := time.Since(killed)
	ms = waitForManifests(t, 3, []*daemon{a, b}, out)
	logA, _ := a.stop(t), b.stop(t)

	failed := checkLostDatabase(t, ms, a, b, logA, out, token, killedAt, "killed")

	// Node 1 comes back: it rejoins (Synced, in a cluster of 3) with the
	// lease as daemon b left it.
	restart := time.Now()
	c.Start(t, 1)
	rejoinIn := time.Since(restart)
	node1 := testdb.Open(t, onNode(t, g.dsns[0], c.DSNs[0]))
	if size, status := waitForClusterSize(t, node1, 3); status != "Primary" {
		t.Errorf("node 1 restarted is in a cluster of %d, status %s; want Primary", size, status)
	}
	if _, got := leaseHolder(t, node1); got != ms[len(ms)-1].m.Lock.Token {
		t.Errorf("node 1 restarted has the lease's token %d, want %d, the last commit's", got, ms[len(ms)-1].m.Lock.Token)
	}
	t.Logf("daemon a failed %s after the kill: %s; node 2 in a primary cluster of 2 %s after it; daemon b committed %s after it with token %d (a's %d); node 1 rejoined in %s",
		failedIn.Round(time.Millisecond), failed["error"], primaryIn.Round(time.Millisecond), after.Round(time.Millisecond), ms[0].m.Lock.Token, token, rejoinIn.Round(time.Millisecond))
}

// waitForClusterSize waits up to 30 s for db's node to see a cluster of
// size nodes, and returns its size and wsrep_cluster_status.
func waitForClusterSize(t *testing.T, db *sql.DB, size int) (int, string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var name, status string
		var got int
		err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'").Scan(&name, &got)
		if err == nil {
			err = db.QueryRow("SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'").Scan(&name, &status)
		}
		if err == nil && got == size {
			return got, status
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node sees a cluster of %d (%v) after 30 s, want %d", got, err, size)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// onNode returns dsn on the server of node (its new address once
// restarted), reading what the cluster committed before (wsrep_sync_wait).
func onNode(t *testing.T, dsn, node string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	n, err := mysql.ParseDSN(node)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = n.Addr
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["wsrep_sync_wait"] = "1"
	return cfg.FormatDSN()
}
