package testdb

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Environment variables of the replication pair that .ci/servers/replica.sh
// starts: a MariaDB primary and a replica of it.
const (
	// EnvPrimaryDSN and EnvReplicaDSN name the two servers: DSNs without
	// a database, such as root@tcp(127.0.0.1:3306)/.
	EnvPrimaryDSN = "JOINERY_PRIMARY_DSN"
	EnvReplicaDSN = "JOINERY_REPLICA_DSN"
)

// Replica returns the DSNs of the test's own database on the primary and
// on its replica: created on the primary, and there on the replica when
// Replica returns (see CatchUp). The database is dropped on the primary,
// and so on the replica, when t ends; before that, replication that the
// test stopped or delayed is set running again without delay (STOP SLAVE,
// MASTER_DELAY=0, START SLAVE). Tests that stop or delay replication share
// one replica with every test that uses it, in any package: they must not
// run in parallel, and belong in one package (jobs).
//
// Without EnvPrimaryDSN and EnvReplicaDSN the test is skipped, or fails
// when EnvRequireCluster is set (as .ci/run does).
func Replica(t testing.TB) (primary, replica string) {
	t.Helper()
	p, r := os.Getenv(EnvPrimaryDSN), os.Getenv(EnvReplicaDSN)
	if p == "" || r == "" {
		if os.Getenv(EnvRequireCluster) != "" {
			t.Fatalf("testdb: %s and %s are not set but %s is; run bash .ci/run", EnvPrimaryDSN, EnvReplicaDSN, EnvRequireCluster)
		}
		t.Skipf("%s and %s are not set; run bash .ci/run", EnvPrimaryDSN, EnvReplicaDSN)
	}
	pcfg := serverConfig(t, EnvPrimaryDSN, p)
	pcfg.DBName = createDatabase(t, pcfg)
	primary = pcfg.FormatDSN()
	rcfg := serverConfig(t, EnvReplicaDSN, r)
	admin := rcfg.FormatDSN()
	t.Cleanup(func() {
		db, err := sql.Open("mysql", admin)
		if err != nil {
			t.Errorf("testdb: restore replication: %v", err)
			return
		}
		defer db.Close()
		st := ReplicaStatus(t, admin)
		if st["Slave_IO_Running"].String == "Yes" && st["Slave_SQL_Running"].String == "Yes" && st["SQL_Delay"].String == "0" {
			// Running as set up: restarting it would stop it under the
			// tests of other packages.
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		for _, stmt := range []string{"STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=0", "START SLAVE"} {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				t.Errorf("testdb: restore replication: %s: %v", stmt, err)
			}
		}
	})
	pcfg, err := mysql.ParseDSN(primary)
	if err != nil {
		t.Fatal(err)
	}
	rcfg.DBName = pcfg.DBName
	replica = rcfg.FormatDSN()
	CatchUp(t, primary, replica)
	return primary, replica
}

// CatchUp waits, at most 30 s, until the replica (a DSN) has applied
// everything the primary (another) has written (MASTER_GTID_WAIT for the
// primary's @@gtid_binlog_pos), both its threads run and it says so
// (Seconds_Behind_Master 0): right after START SLAVE the I/O thread may
// still be connecting, and Seconds_Behind_Master is NULL until it is; and
// for a moment after MASTER_GTID_WAIT returns it may still give the lag
// of the event just applied (seen: 3600 for an event an hour old). It
// fails the test when replication is stopped or does not get there in
// time.
func CatchUp(t testing.TB, primary, replica string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout+10*time.Second)
	defer cancel()
	var pos string
	query(t, ctx, primary, "SELECT @@gtid_binlog_pos", &pos)
	var got int
	query(t, ctx, replica, "SELECT MASTER_GTID_WAIT(?, 30)", &got, pos)
	if got != 0 {
		t.Fatalf("testdb: the replica did not reach the primary's GTID %s within 30 s (replication stopped?)", pos)
	}
	for {
		// A state of the server no clock of ours can stand in for: poll.
		st := ReplicaStatus(t, replica)
		if st["Slave_IO_Running"].String == "Yes" && st["Slave_SQL_Running"].String == "Yes" && st["Seconds_Behind_Master"].String == "0" {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("testdb: the replica has not caught up: I/O thread %q, SQL thread %q, Seconds_Behind_Master %v",
				st["Slave_IO_Running"].String, st["Slave_SQL_Running"].String, st["Seconds_Behind_Master"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReplicaStatus returns the replica's SHOW SLAVE STATUS, by column name;
// the test fails when the server of dsn is no replica.
func ReplicaStatus(t testing.TB, dsn string) map[string]sql.NullString {
	t.Helper()
	db := openServer(t, dsn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		t.Fatalf("testdb: SHOW SLAVE STATUS: %v", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("testdb: SHOW SLAVE STATUS: %v", err)
	}
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if !rows.Next() {
		t.Fatalf("testdb: SHOW SLAVE STATUS: no row: not a replica (%v)", rows.Err())
	}
	if err := rows.Scan(dest...); err != nil {
		t.Fatalf("testdb: SHOW SLAVE STATUS: %v", err)
	}
	out := make(map[string]sql.NullString, len(cols))
	for i, c := range cols {
		out[c] = vals[i]
	}
	return out
}

// openServer opens a pool on the server of dsn, outside its database
// (which may not be there yet); the caller closes it.
func openServer(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return db
}

// query runs a one-value query on the server of dsn, outside its
// database (which may not be there yet), and scans it to dest.
func query(t testing.TB, ctx context.Context, dsn, q string, dest any, args ...any) {
	t.Helper()
	db := openServer(t, dsn)
	defer db.Close()
	if err := db.QueryRowContext(ctx, q, args...).Scan(dest); err != nil {
		t.Fatalf("testdb: %s: %v", q, err)
	}
}
