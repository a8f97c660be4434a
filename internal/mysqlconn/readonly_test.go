package mysqlconn_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/internal/testdb"
)

// TestReadOnlyRefusesWrites is the server's guard for raw SQL datasets:
// in a session made ReadOnly, with the run's snapshot open or without
// one, every write is refused with error 1792, DDL included (a READ ONLY
// transaction alone lets DDL through on MariaDB: its implicit commit ends
// the transaction first); and after Release the pooled connection writes
// again.
func TestReadOnlyRefusesWrites(t *testing.T) {
	for _, snapshot := range []bool{true, false} {
		name := "snapshot"
		if !snapshot {
			name = "no snapshot"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.New(t)
			testdb.Exec(t, db, "CREATE TABLE kept (a INT) ENGINE=InnoDB", "INSERT INTO kept VALUES (1)")
			db.SetMaxOpenConns(2)
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s, err := mysqlconn.NewSession(ctx, db, conn, mysqlconn.Engine{Kind: mysqlconn.MariaDB}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.LockNamed(ctx, "j"); err != nil {
				t.Fatal(err)
			}
			if err := s.ReadOnly(ctx); err != nil {
				t.Fatal(err)
			}
			for _, stmt := range []string{
				"CREATE TABLE made (a INT)",
				"DROP TABLE kept",
				"ALTER TABLE kept ADD COLUMN b INT",
				"TRUNCATE TABLE kept",
				"INSERT INTO kept VALUES (2)",
				"UPDATE kept SET a = 3",
				"DELETE FROM kept",
				"SELECT a FROM kept FOR UPDATE",
			} {
				if snapshot {
					if err := s.Begin(ctx); err != nil {
						t.Fatal(err)
					}
				}
				_, err := conn.ExecContext(ctx, stmt)
				if me, ok := errors.AsType[*mysql.MySQLError](err); !ok || me.Number != 1792 {
					t.Errorf("%s: %v, want error 1792 (READ ONLY transaction)", stmt, err)
				}
				if err := s.End(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'made'").Scan(&n); err != nil || n != 0 {
				t.Errorf("table made: %d, %v; want none", n, err)
			}
			var rows, a, cols int
			if err := db.QueryRow("SELECT COUNT(*), MAX(a) FROM kept").Scan(&rows, &a); err != nil || rows != 1 || a != 1 {
				t.Errorf("kept: %d rows, a = %d, %v; want one row, 1", rows, a, err)
			}
			if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'kept'").Scan(&cols); err != nil || cols != 1 {
				t.Errorf("kept has %d columns, %v; want 1", cols, err)
			}
			s.Release(ctx)
			if _, err := conn.ExecContext(ctx, "INSERT INTO kept VALUES (4)"); err != nil {
				t.Errorf("after Release: %v, want a read-write session", err)
			}
			conn.Close()
			assertReadWrite(t, db)
		})
	}
}

// assertReadWrite checks that no connection of db's pool is read-only.
func assertReadWrite(t *testing.T, db *sql.DB) {
	t.Helper()
	for range 2 {
		var ro int
		if err := db.QueryRow("SELECT @@tx_read_only").Scan(&ro); err != nil || ro != 0 {
			t.Errorf("@@tx_read_only = %d, %v; want 0", ro, err)
		}
	}
}
