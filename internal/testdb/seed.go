package testdb

import (
	"context"
	"database/sql"
	"testing"
)

// SeedUsersPosts creates the canonical tables users and posts in db and fills
// them with the rows below. Tests compute their expectations from this table,
// so change it only together with the tests that use it.
//
//	CREATE TABLE users (
//	  id         INT PRIMARY KEY,
//	  name       VARCHAR(100) NULL,
//	  email      VARCHAR(200) NOT NULL,
//	  country    CHAR(2) NULL,
//	  created_at DATETIME NOT NULL,
//	  score      DECIMAL(10,2) NULL
//	) utf8mb4, utf8mb4_unicode_ci
//
//	id | name             | email              | country | created_at          | score
//	---+------------------+--------------------+---------+---------------------+-------
//	 1 | Alice            | alice@example.com  | US      | 2024-01-05 10:00:00 |  12.50
//	 2 | Bob              | bob@example.com    | GB      | 2024-01-06 11:30:00 |   NULL
//	 3 | Zoë              | zoe@example.com    | DE      | 2024-02-10 08:15:00 |  99.99
//	 4 | 李雷             | lilei@example.cn   | CN      | 2024-02-29 23:59:59 |   0.00
//	 5 | 😀 Smile         | smile@example.com  | NULL    | 2024-03-01 00:00:00 |  -5.25
//	 6 | NULL             | noname@example.com | FR      | 2024-03-15 12:00:00 |   7.00
//	 7 | O'Brien, Pat     | pat@example.ie     | IE      | 2024-03-17 17:17:17 |  50.00
//	 8 | Dave             | dave@example.com   | US      | 2024-04-01 09:00:00 | 100.00
//	 9 | Eve              | eve@example.com    | NULL    | 2024-05-20 18:45:30 |   NULL
//	10 | Frank            | frank@example.com  | BR      | 2024-06-30 06:00:00 |   3.14
//
//	CREATE TABLE posts (
//	  id           INT PRIMARY KEY,
//	  user_id      INT NULL,            -- no foreign key: some authors are missing
//	  title        VARCHAR(200) NOT NULL,
//	  published_at DATETIME NULL,
//	  views        INT UNSIGNED NOT NULL
//	) utf8mb4, utf8mb4_unicode_ci
//
//	id | user_id | title                          | published_at        | views
//	---+---------+--------------------------------+---------------------+-----------
//	 1 |       1 | First post                     | 2024-01-10 09:00:00 |         10
//	 2 |       1 | Second post                    | 2024-01-11 09:00:00 |          0
//	 3 |       1 | Draft                          | NULL                |          0
//	 4 |       2 | Bob's thoughts                 | 2024-02-01 12:00:00 |        150
//	 5 |       3 | Über Zoë                       | 2024-02-15 14:30:00 |         42
//	 6 |       3 | Café, crème                    | 2024-02-16 14:30:00 |          7
//	 7 |       4 | 你好，世界                     | 2024-03-01 08:00:00 |       1000
//	 8 |       5 | Emoji 🎉 party                 | 2024-03-02 20:00:00 |          5
//	 9 |       6 | Anonymous note                 | 2024-03-20 10:00:00 |          3
//	10 |       7 | Hello, "world"⏎second line     | 2024-04-02 11:11:11 |         11
//	11 |      10 | Frank's first                  | 2024-07-01 00:00:00 | 4294967295
//	12 |      10 | Frank's second                 | NULL                |          0
//	13 |    NULL | Orphan without author          | 2024-05-01 12:00:00 |          8
//	14 |    NULL | Another orphan                 | NULL                |          1
//	15 |      99 | Ghost author                   | 2024-05-05 05:05:05 |          2
//	16 |      42 | Deleted user post              | 2024-06-06 06:06:06 |          6
//	17 |       2 | Bob again                      | 2024-06-10 10:00:00 |         20
//	18 |       4 | 李雷的第二篇                   | 2024-06-11 11:00:00 |         30
//	19 |       1 | Third post                     | 2024-12-31 23:59:59 |        100
//	20 |       3 | Zoë's summary                  | 2025-01-01 00:00:00 |          9
//
// In post 10 "⏎" is a newline (LF): the title is `Hello, "world"` LF `second line`,
// with a comma, double quotes and a newline. 你好，世界 uses a full-width comma.
//
// Facts that follow:
//   - posts per user: 1→4, 2→2, 3→3, 4→2, 5→1, 6→1, 7→1, 8→0, 9→0, 10→2
//   - users 8 (Dave) and 9 (Eve) have no posts
//   - posts 13 and 14 have a NULL user_id; posts 15 (user 99) and 16 (user 42)
//     name users that do not exist
//   - posts 3, 12 and 14 have a NULL published_at
//   - users JOIN posts ON posts.user_id = users.id: 16 rows
//   - users LEFT JOIN posts: 18 rows (16 + Dave + Eve)
//   - posts LEFT JOIN users: 20 rows; full outer join: 22 rows
//   - SUM(views) over all posts: 4294968699; over the 16 joined posts: 4294968682
func SeedUsersPosts(t testing.TB, db *sql.DB) {
	t.Helper()
	Exec(t, db,
		"CREATE TABLE users ("+
			" id INT NOT NULL PRIMARY KEY,"+
			" name VARCHAR(100) NULL,"+
			" email VARCHAR(200) NOT NULL,"+
			" country CHAR(2) NULL,"+
			" created_at DATETIME NOT NULL,"+
			" score DECIMAL(10,2) NULL"+
			") DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
		"CREATE TABLE posts ("+
			" id INT NOT NULL PRIMARY KEY,"+
			" user_id INT NULL,"+
			" title VARCHAR(200) NOT NULL,"+
			" published_at DATETIME NULL,"+
			" views INT UNSIGNED NOT NULL"+
			") DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
	)

	// nil is NULL. Values travel as placeholders so that no escaping rule of
	// the server (NO_BACKSLASH_ESCAPES or not) can change them.
	users := [][]any{
		{1, "Alice", "alice@example.com", "US", "2024-01-05 10:00:00", "12.50"},
		{2, "Bob", "bob@example.com", "GB", "2024-01-06 11:30:00", nil},
		{3, "Zoë", "zoe@example.com", "DE", "2024-02-10 08:15:00", "99.99"},
		{4, "李雷", "lilei@example.cn", "CN", "2024-02-29 23:59:59", "0.00"},
		{5, "😀 Smile", "smile@example.com", nil, "2024-03-01 00:00:00", "-5.25"},
		{6, nil, "noname@example.com", "FR", "2024-03-15 12:00:00", "7.00"},
		{7, "O'Brien, Pat", "pat@example.ie", "IE", "2024-03-17 17:17:17", "50.00"},
		{8, "Dave", "dave@example.com", "US", "2024-04-01 09:00:00", "100.00"},
		{9, "Eve", "eve@example.com", nil, "2024-05-20 18:45:30", nil},
		{10, "Frank", "frank@example.com", "BR", "2024-06-30 06:00:00", "3.14"},
	}
	posts := [][]any{
		{1, 1, "First post", "2024-01-10 09:00:00", 10},
		{2, 1, "Second post", "2024-01-11 09:00:00", 0},
		{3, 1, "Draft", nil, 0},
		{4, 2, "Bob's thoughts", "2024-02-01 12:00:00", 150},
		{5, 3, "Über Zoë", "2024-02-15 14:30:00", 42},
		{6, 3, "Café, crème", "2024-02-16 14:30:00", 7},
		{7, 4, "你好，世界", "2024-03-01 08:00:00", 1000},
		{8, 5, "Emoji 🎉 party", "2024-03-02 20:00:00", 5},
		{9, 6, "Anonymous note", "2024-03-20 10:00:00", 3},
		{10, 7, "Hello, \"world\"\nsecond line", "2024-04-02 11:11:11", 11},
		{11, 10, "Frank's first", "2024-07-01 00:00:00", uint32(4294967295)},
		{12, 10, "Frank's second", nil, 0},
		{13, nil, "Orphan without author", "2024-05-01 12:00:00", 8},
		{14, nil, "Another orphan", nil, 1},
		{15, 99, "Ghost author", "2024-05-05 05:05:05", 2},
		{16, 42, "Deleted user post", "2024-06-06 06:06:06", 6},
		{17, 2, "Bob again", "2024-06-10 10:00:00", 20},
		{18, 4, "李雷的第二篇", "2024-06-11 11:00:00", 30},
		{19, 1, "Third post", "2024-12-31 23:59:59", 100},
		{20, 3, "Zoë's summary", "2025-01-01 00:00:00", 9},
	}

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	insert := func(stmt string, rows [][]any) {
		t.Helper()
		for _, row := range rows {
			if _, err := db.ExecContext(ctx, stmt, row...); err != nil {
				t.Fatalf("testdb: seed: %v\n%s %v", err, stmt, row)
			}
		}
	}
	insert("INSERT INTO users (id, name, email, country, created_at, score) VALUES (?, ?, ?, ?, ?, ?)", users)
	insert("INSERT INTO posts (id, user_id, title, published_at, views) VALUES (?, ?, ?, ?, ?)", posts)
}
