package testdb_test

import (
	"database/sql"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
)

func TestReplicaFollowsThePrimary(t *testing.T) {
	primary, replica := testdb.Replica(t)
	p, err := sql.Open("mysql", primary)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, err := sql.Open("mysql", replica)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, want := currentDatabase(t, r), currentDatabase(t, p); got != want {
		t.Fatalf("replica database %q, want the primary's %q", got, want)
	}
	testdb.Exec(t, p, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	testdb.CatchUp(t, primary, replica)
	var n int
	if err := r.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("replica has %d rows, want 2", n)
	}
	var id int
	if err := r.QueryRow("SELECT @@server_id").Scan(&id); err != nil || id == 1 {
		t.Errorf("replica server_id %d (%v): want the replica's, not the primary's 1", id, err)
	}
}
