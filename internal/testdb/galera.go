package testdb

import (
	"context"
	"os"
	"strings"
	"testing"
)

// Environment variables of the cluster tests, set by .ci/run
// (.ci/servers/galera.sh).
const (
	// EnvGaleraDSNs names the nodes of a MariaDB Galera cluster: their
	// DSNs, without a database, comma separated.
	EnvGaleraDSNs = "JOINERY_GALERA_DSNS"
	// EnvRequireCluster, when set to anything, turns a missing cluster
	// variable into a failure.
	EnvRequireCluster = "JOINERY_REQUIRE_CLUSTER"
)

// Galera returns one DSN per node of the Galera cluster named by
// JOINERY_GALERA_DSNS, all naming the same freshly created database (made
// on the first node, which the cluster replicates to the others, and
// dropped when t ends). Each call makes a new database. Without the
// variable the test is skipped, or fails when JOINERY_REQUIRE_CLUSTER is
// set. The DSNs have New's options; a read on one node of what another
// wrote needs wsrep_sync_wait (a DSN parameter) to be sure to see it.
func Galera(t testing.TB) []string {
	t.Helper()
	env := os.Getenv(EnvGaleraDSNs)
	if env == "" {
		if os.Getenv(EnvRequireCluster) != "" {
			t.Fatalf("testdb: %s is not set but %s is; run bash .ci/run", EnvGaleraDSNs, EnvRequireCluster)
		}
		t.Skipf("%s is not set; run bash .ci/run", EnvGaleraDSNs)
	}
	nodes := strings.Split(env, ",")
	if len(nodes) < 2 {
		t.Fatalf("testdb: %s names %d node, want at least 2: %q", EnvGaleraDSNs, len(nodes), env)
	}
	name := createDatabase(t, serverConfig(t, EnvGaleraDSNs, strings.TrimSpace(nodes[0])))
	dsns := onNodes(t, EnvGaleraDSNs, nodes, name)
	waitForDatabase(t, EnvGaleraDSNs, nodes, name)
	return dsns
}

// waitForDatabase waits until every node has applied the creation of
// database name, made on another: a test connecting to it at once could
// find it unknown there (seen under load).
func waitForDatabase(t testing.TB, what string, nodes []string, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for _, node := range nodes {
		db := openServer(t, serverConfig(t, what, strings.TrimSpace(node)).FormatDSN())
		// wsrep_sync_wait: the read waits until the node has applied
		// every write the cluster committed before it.
		var n int
		err := db.QueryRowContext(ctx, "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
		db.Close()
		if err != nil || n != 1 {
			t.Fatalf("testdb: database %s on %s: %d found, %v", name, strings.TrimSpace(node), n, err)
		}
	}
}

// onNodes returns the DSN of database name on each node (server DSNs
// read from what), with New's options.
func onNodes(t testing.TB, what string, nodes []string, name string) []string {
	t.Helper()
	dsns := make([]string, len(nodes))
	for i, node := range nodes {
		cfg := serverConfig(t, what, strings.TrimSpace(node))
		cfg.DBName = name
		dsns[i] = cfg.FormatDSN()
	}
	return dsns
}
