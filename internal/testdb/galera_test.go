package testdb_test

import (
	"database/sql"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/testdb"
)

func TestGaleraSkipsWithoutDSNs(t *testing.T) {
	if os.Getenv(testdb.EnvGaleraDSNs) == "" {
		t.Skip("needs the cluster to be configured to tell a skip from a missing cluster")
	}
	var ran bool
	sub := t.Run("unset", func(t *testing.T) {
		t.Setenv(testdb.EnvGaleraDSNs, "")
		t.Setenv(testdb.EnvRequireCluster, "")
		testdb.Galera(t)
		ran = true
	})
	if !sub {
		t.Fatalf("subtest failed, want a skip")
	}
	if ran {
		t.Errorf("Galera returned without %s, want a skip", testdb.EnvGaleraDSNs)
	}
}

// syncOpen opens dsn with wsrep_sync_wait=1, so that its reads see what
// another node has written; without its database when noDB.
func syncOpen(t *testing.T, dsn string, noDB bool) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if noDB {
		cfg.DBName = ""
	}
	cfg.Params = map[string]string{"wsrep_sync_wait": "1"}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestGaleraOneDatabaseOnEveryNodeDroppedAtTheEnd(t *testing.T) {
	var dsns []string
	var name string
	t.Run("inner", func(t *testing.T) {
		dsns = testdb.Galera(t)
		ports := map[int]bool{}
		for i, dsn := range dsns {
			db := syncOpen(t, dsn, false)
			got := currentDatabase(t, db)
			var port int
			if err := db.QueryRow("SELECT @@port").Scan(&port); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				name = got
			}
			if got != name || name == "" {
				t.Errorf("node %d: database %q, want %q (node 1's)", i+1, got, name)
			}
			ports[port] = true
		}
		if len(ports) != len(dsns) {
			t.Errorf("%d DSNs reach %d servers, want one each", len(dsns), len(ports))
		}
	})
	if dsns == nil {
		t.Skipf("the subtest skipped: %s is not set", testdb.EnvGaleraDSNs)
	}
	if name == "" {
		t.Fatal("no database made")
	}
	for i, dsn := range dsns {
		if databaseExists(t, syncOpen(t, dsn, true), name) {
			t.Errorf("node %d: database %s still exists after its test ended", i+1, name)
		}
	}
}
