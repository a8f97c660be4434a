package demodb_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/internal/demodb"
)

func TestStart(t *testing.T) {
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))

	begin := time.Now()
	dsn, stop, err := demodb.Start(ctx, logger)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("start and seed took %v", time.Since(begin).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})

	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN %q: %v", dsn, err)
	}
	if cfg.User != "root" || cfg.Passwd != "" || cfg.DBName != demodb.DatabaseName {
		t.Errorf("DSN %q: want user root, no password, database %s", dsn, demodb.DatabaseName)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	count := func(t *testing.T, query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}

	t.Run("row counts", func(t *testing.T) {
		if got := count(t, "SELECT COUNT(*) FROM users"); got != demodb.NumUsers {
			t.Errorf("users: got %d, want %d", got, demodb.NumUsers)
		}
		if got := count(t, "SELECT COUNT(*) FROM posts"); got != demodb.NumPosts {
			t.Errorf("posts: got %d, want %d", got, demodb.NumPosts)
		}
	})

	t.Run("joins", func(t *testing.T) {
		withAuthor := count(t, "SELECT COUNT(*) FROM posts WHERE user_id BETWEEN 1 AND ?", demodb.NumUsers)
		nullAuthor := count(t, "SELECT COUNT(*) FROM posts WHERE user_id IS NULL")
		missingAuthor := count(t, "SELECT COUNT(*) FROM posts WHERE user_id > ?", demodb.NumUsers)
		t.Logf("posts: %d with an author, %d with NULL user_id, %d with a missing author", withAuthor, nullAuthor, missingAuthor)
		if withAuthor+nullAuthor+missingAuthor != demodb.NumPosts {
			t.Errorf("post authors %d + %d + %d do not add up to %d", withAuthor, nullAuthor, missingAuthor, demodb.NumPosts)
		}
		if nullAuthor == 0 || missingAuthor == 0 {
			t.Errorf("want posts with NULL and with missing authors, got %d and %d", nullAuthor, missingAuthor)
		}

		inner := count(t, "SELECT COUNT(*) FROM users u JOIN posts p ON p.user_id = u.id")
		if inner != withAuthor {
			t.Errorf("inner join: got %d rows, want %d", inner, withAuthor)
		}

		// users LEFT JOIN posts grouped by user: one row per user, and the
		// users with no post are the rows counting zero.
		rows, err := db.QueryContext(ctx,
			"SELECT u.id, COUNT(p.id) AS n FROM users u LEFT JOIN posts p ON p.user_id = u.id GROUP BY u.id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		groups, withoutPosts, total := 0, 0, 0
		for rows.Next() {
			var id, n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			groups++
			total += n
			if n == 0 {
				withoutPosts++
				continue
			}
			if id%10 == 0 {
				t.Errorf("user %d has %d posts, want none (multiples of 10 never write)", id, n)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("left join: %d users, %d without posts", groups, withoutPosts)
		if groups != demodb.NumUsers {
			t.Errorf("left join groups: got %d, want %d", groups, demodb.NumUsers)
		}
		if total != withAuthor {
			t.Errorf("left join post total: got %d, want %d", total, withAuthor)
		}
		if withoutPosts < demodb.NumUsers/10 {
			t.Errorf("users without posts: got %d, want at least %d", withoutPosts, demodb.NumUsers/10)
		}
	})

	t.Run("values", func(t *testing.T) {
		if n := count(t, "SELECT COUNT(*) FROM users WHERE name IS NULL"); n == 0 {
			t.Error("want some users with a NULL name")
		}
		if n := count(t, "SELECT COUNT(*) FROM users WHERE country IS NULL"); n == 0 {
			t.Error("want some users with a NULL country")
		}
		var minCreated, maxCreated, maxPublished time.Time
		err := db.QueryRowContext(ctx, "SELECT MIN(created_at), MAX(created_at) FROM users").Scan(&minCreated, &maxCreated)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, "SELECT MAX(published_at) FROM posts").Scan(&maxPublished); err != nil {
			t.Fatal(err)
		}
		ref := demodb.ReferenceDate()
		if minCreated.Before(ref.AddDate(-2, 0, -1)) || !maxCreated.Before(ref) || !maxPublished.Before(ref) {
			t.Errorf("dates %v..%v (published up to %v): want the two years before %v", minCreated, maxCreated, maxPublished, ref)
		}

		var nonASCII int
		rows, err := db.QueryContext(ctx, "SELECT name FROM users WHERE name IS NOT NULL")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			for _, c := range name {
				if c > 127 {
					nonASCII++
					break
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if nonASCII == 0 {
			t.Error("want some non-ASCII names")
		}

		var score string
		if err := db.QueryRowContext(ctx, "SELECT score FROM users WHERE score IS NOT NULL ORDER BY id LIMIT 1").Scan(&score); err != nil {
			t.Fatal(err)
		}
		if len(score) < 4 || score[len(score)-3] != '.' {
			t.Errorf("score = %q, want two decimals", score)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		dsn2, stop2, err := demodb.Start(ctx, logger)
		if err != nil {
			t.Fatalf("second Start: %v", err)
		}
		defer stop2()
		db2, err := sql.Open("mysql", dsn2)
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		const digest = "SELECT COUNT(*), SUM(id * (views + 1) % 1000003), SUM(LENGTH(title)), COUNT(published_at), SUM(COALESCE(user_id, 0)) FROM posts"
		var a, b [5]string
		if err := db.QueryRowContext(ctx, digest).Scan(&a[0], &a[1], &a[2], &a[3], &a[4]); err != nil {
			t.Fatal(err)
		}
		if err := db2.QueryRowContext(ctx, digest).Scan(&b[0], &b[1], &b[2], &b[3], &b[4]); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("two starts differ: %v and %v", a, b)
		}
	})

	t.Run("stop", func(t *testing.T) {
		db.Close()
		if err := stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		stopped = true
		if err := stop(); err != nil {
			t.Errorf("second stop: %v", err)
		}
		conn, err := net.DialTimeout("tcp", cfg.Addr, time.Second)
		if err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after stop", cfg.Addr)
		}
	})
}

// BenchmarkStart measures starting and seeding the demo database.
func BenchmarkStart(b *testing.B) {
	logger := slog.New(slog.DiscardHandler)
	for b.Loop() {
		_, stop, err := demodb.Start(context.Background(), logger)
		if err != nil {
			b.Fatal(err)
		}
		if err := stop(); err != nil {
			b.Fatal(err)
		}
	}
}
