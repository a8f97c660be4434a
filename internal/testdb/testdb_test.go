package testdb_test

import (
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/testdb"
)

func currentDatabase(t *testing.T, db *sql.DB) string {
	t.Helper()
	var name sql.NullString
	if err := db.QueryRow("SELECT DATABASE()").Scan(&name); err != nil {
		t.Fatalf("select database(): %v", err)
	}
	return name.String
}

func databaseExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
	if err != nil {
		t.Fatalf("query schemata: %v", err)
	}
	return n == 1
}

func TestNewAndDSNShareOneFreshDatabase(t *testing.T) {
	db := testdb.New(t)
	name := currentDatabase(t, db)
	if !strings.HasPrefix(name, "joinery_test_") {
		t.Fatalf("database name = %q, want prefix joinery_test_", name)
	}
	var tables int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("fresh database has %d tables, want 0", tables)
	}

	dsn := testdb.DSN(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN(t) %q: %v", dsn, err)
	}
	if cfg.DBName != name {
		t.Errorf("DSN(t) database = %q, want %q (the one New made)", cfg.DBName, name)
	}
	if cfg.ParseTime || cfg.MultiStatements || cfg.Loc.String() != "UTC" {
		t.Errorf("DSN(t) = %q: want parseTime=false, multiStatements=false, loc=UTC", dsn)
	}
	if again := currentDatabase(t, testdb.New(t)); again != name {
		t.Errorf("second New database = %q, want %q", again, name)
	}
}

func TestEachTestGetsItsOwnDatabaseAndItIsDropped(t *testing.T) {
	outer := testdb.New(t)
	outerName := currentDatabase(t, outer)

	var innerName string
	t.Run("inner", func(t *testing.T) {
		inner := testdb.New(t)
		innerName = currentDatabase(t, inner)
		testdb.Exec(t, inner, "CREATE TABLE x (id INT)", "INSERT INTO x VALUES (1)")
	})
	if innerName == "" || innerName == outerName {
		t.Fatalf("subtest database = %q, outer = %q: want a different one", innerName, outerName)
	}
	if databaseExists(t, outer, innerName) {
		t.Errorf("database %s still exists after its test ended", innerName)
	}
	if !databaseExists(t, outer, outerName) {
		t.Errorf("database %s of the running test is gone", outerName)
	}
}

func TestSkipsWithoutDSN(t *testing.T) {
	if os.Getenv(testdb.EnvDSN) == "" {
		t.Skip("needs the server to be configured to tell a skip from a missing server")
	}
	var ran bool
	sub := t.Run("unset", func(t *testing.T) {
		t.Setenv(testdb.EnvDSN, "")
		t.Setenv(testdb.EnvRequire, "")
		testdb.New(t)
		ran = true
	})
	if !sub {
		t.Fatalf("subtest failed, want a skip")
	}
	if ran {
		t.Errorf("New returned without %s, want a skip", testdb.EnvDSN)
	}
}

func TestSeedUsersPosts(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)

	count := func(query string) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	// These are the facts promised by SeedUsersPosts's comment.
	tests := []struct {
		name  string
		query string
		want  int64
	}{
		{"users", "SELECT COUNT(*) FROM users", 10},
		{"posts", "SELECT COUNT(*) FROM posts", 20},
		{"inner join", "SELECT COUNT(*) FROM users u JOIN posts p ON p.user_id = u.id", 16},
		{"users left join posts", "SELECT COUNT(*) FROM users u LEFT JOIN posts p ON p.user_id = u.id", 18},
		{"posts left join users", "SELECT COUNT(*) FROM posts p LEFT JOIN users u ON p.user_id = u.id", 20},
		{"full outer join", "SELECT (SELECT COUNT(*) FROM users u LEFT JOIN posts p ON p.user_id = u.id) + " +
			"(SELECT COUNT(*) FROM users u RIGHT JOIN posts p ON p.user_id = u.id WHERE u.id IS NULL)", 22},
		{"users without posts", "SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.user_id = u.id)", 2},
		{"posts with NULL user_id", "SELECT COUNT(*) FROM posts WHERE user_id IS NULL", 2},
		{"posts with a missing author", "SELECT COUNT(*) FROM posts p LEFT JOIN users u ON p.user_id = u.id WHERE p.user_id IS NOT NULL AND u.id IS NULL", 2},
		{"unpublished posts", "SELECT COUNT(*) FROM posts WHERE published_at IS NULL", 3},
		{"users with NULL name", "SELECT COUNT(*) FROM users WHERE name IS NULL", 1},
		{"users with NULL country", "SELECT COUNT(*) FROM users WHERE country IS NULL", 2},
		{"sum of views", "SELECT SUM(views) FROM posts", 4294968699},
		{"sum of joined views", "SELECT SUM(p.views) FROM users u JOIN posts p ON p.user_id = u.id", 4294968682},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(tt.query); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}

	t.Run("posts per user", func(t *testing.T) {
		want := map[int]int{1: 4, 2: 2, 3: 3, 4: 2, 5: 1, 6: 1, 7: 1, 8: 0, 9: 0, 10: 2}
		rows, err := db.Query("SELECT u.id, COUNT(p.id) FROM users u LEFT JOIN posts p ON p.user_id = u.id GROUP BY u.id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[int]int{}
		for rows.Next() {
			var id, n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			got[id] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		for id, n := range want {
			if got[id] != n {
				t.Errorf("user %d: got %d posts, want %d", id, got[id], n)
			}
		}
		if len(got) != len(want) {
			t.Errorf("got %d users, want %d", len(got), len(want))
		}
	})

	t.Run("values round trip", func(t *testing.T) {
		tests := []struct {
			query string
			want  string
		}{
			{"SELECT name FROM users WHERE id = 3", "Zoë"},
			{"SELECT name FROM users WHERE id = 4", "李雷"},
			{"SELECT name FROM users WHERE id = 5", "😀 Smile"},
			{"SELECT name FROM users WHERE id = 7", "O'Brien, Pat"},
			{"SELECT title FROM posts WHERE id = 10", "Hello, \"world\"\nsecond line"},
			{"SELECT title FROM posts WHERE id = 8", "Emoji 🎉 party"},
			{"SELECT created_at FROM users WHERE id = 4", "2024-02-29 23:59:59"},
			{"SELECT score FROM users WHERE id = 1", "12.50"},
			{"SELECT score FROM users WHERE id = 5", "-5.25"},
			{"SELECT score FROM users WHERE id = 4", "0.00"},
			{"SELECT views FROM posts WHERE id = 11", "4294967295"},
		}
		for _, tt := range tests {
			var got string
			if err := db.QueryRow(tt.query).Scan(&got); err != nil {
				t.Errorf("%s: %v", tt.query, err)
				continue
			}
			if got != tt.want {
				t.Errorf("%s: got %q, want %q", tt.query, got, tt.want)
			}
		}
		var name sql.NullString
		if err := db.QueryRow("SELECT name FROM users WHERE id = 6").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name.Valid {
			t.Errorf("user 6 name = %q, want NULL", name.String)
		}
	})
}
