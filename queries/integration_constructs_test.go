package queries

import (
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
)

// seedBlog creates users, posts, comments and categories with the awkward
// cases every construct must survive: NULL keys on both sides of every
// join (posts.user_id, posts.category_id, comments.post_id, categories.id,
// users.referrer_id), duplicate keys (category 3 twice, post 11 twice),
// and rows without a match on either side (user 6 has no posts, post 16
// names user 42, comment 104 names post 99, category 5 has no posts, user
// 5's favourite category 7 does not exist).
func seedBlog(t *testing.T) *sql.DB {
	t.Helper()
	db := testdb.New(t)
	testdb.Exec(t, db,
		"CREATE TABLE users (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NULL, email VARCHAR(100) NOT NULL, country CHAR(2) NULL,"+
			" created_at DATETIME NOT NULL, referrer_id INT NULL, favourite_category_id INT NULL, active TINYINT(1) NOT NULL, score DECIMAL(6,2) NULL)",
		"CREATE TABLE posts (id INT NOT NULL, user_id INT NULL, category_id INT NULL, title VARCHAR(100) NOT NULL, status VARCHAR(20) NOT NULL,"+
			" views INT NOT NULL, published_at DATETIME NULL)",
		"CREATE TABLE comments (id INT NOT NULL, post_id INT NULL, user_id INT NULL, body VARCHAR(100) NOT NULL, created_at DATETIME NOT NULL)",
		"CREATE TABLE categories (id INT NULL, name VARCHAR(50) NOT NULL, parent_id INT NULL)",
		"INSERT INTO users VALUES"+
			" (1, 'Alice', 'alice@example.com', 'DE', '2026-01-01 10:00:00', NULL, 1, 1, 12.50),"+
			" (2, 'bob', 'bob@example.com', 'FR', '2026-01-05 08:00:00', 1, 2, 1, NULL),"+
			" (3, NULL, 'anon@example.com', NULL, '2026-02-01 00:00:00', 1, NULL, 0, 3.00),"+
			" (4, 'Zoë', 'zoe@EXAMPLE.com', 'DE', '2026-03-01 12:00:00', 99, 3, 1, 99.99),"+
			" (5, 'Dave', 'dave@other.org', 'US', '2026-03-10 09:30:00', 2, 7, 0, 0.00),"+
			" (6, 'Eve', 'eve@example.com', 'US', '2026-04-01 00:00:00', NULL, 1, 1, 50.00)",
		"INSERT INTO posts VALUES"+
			" (10, 1, 1, 'Hello', 'published', 150, '2026-01-02 09:00:00'),"+
			" (11, 1, 2, 'Again', 'published', 5, '2026-01-03 09:00:00'),"+
			" (11, 1, 2, 'Again', 'published', 5, '2026-01-03 09:00:00'),"+
			" (12, 2, 1, 'Bonjour news', 'draft', 0, NULL),"+
			" (13, 2, NULL, 'Salut', 'published', 1200, '2026-02-10 12:00:00'),"+
			" (14, 3, 3, 'Anon news', 'published', 20, '2026-01-15 00:00:00'),"+
			" (15, NULL, 1, 'Orphan', 'published', 7, '2026-02-20 18:00:00'),"+
			" (16, 42, 9, 'Ghost', 'published', 3, '2026-03-05 00:00:00'),"+
			" (17, 4, 3, 'Über', 'published', 101, '2026-03-02 10:00:00'),"+
			" (18, 1, 1, 'Third', 'published', 100, '2026-03-02 10:00:00'),"+
			" (19, 1, 1, 'Tie', 'published', 1, '2026-03-02 10:00:00')",
		"INSERT INTO comments VALUES"+
			" (100, 10, 2, 'nice', '2026-01-02 10:00:00'),"+
			" (101, 10, 1, 'thanks', '2026-01-02 11:00:00'),"+
			" (102, 11, 3, 'on a duplicated post', '2026-01-04 00:00:00'),"+
			" (103, 15, 2, 'on the orphan', '2026-02-21 00:00:00'),"+
			" (104, 99, 1, 'on nothing', '2026-02-22 00:00:00'),"+
			" (105, NULL, 4, 'no post', '2026-02-23 00:00:00'),"+
			" (106, 13, NULL, 'anonymous', '2026-02-24 00:00:00')",
		"INSERT INTO categories VALUES (1, 'News', NULL), (2, 'Tech', 1), (3, 'Life', NULL), (3, 'Life again', NULL), (5, 'Empty', NULL), (NULL, 'Nameless', NULL)",
	)
	return db
}

// runDataset compiles d in env with diagnostics, runs it and returns its
// visible rows and the stats summed from the hidden columns.
func runDataset(t *testing.T, db *sql.DB, d Dataset, env Env) ([]string, []JoinStats) {
	t.Helper()
	env.Diagnostics = true
	q, err := Compile(&d, env)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	checkQueryShape(t, q)
	stats := make([]JoinStats, len(q.Joins))
	for i, j := range q.Joins {
		stats[i] = JoinStats{Alias: j.Alias, Type: j.Type}
	}
	var rows []string
	for _, r := range queryRows(t, db, q.SQL, q.Args...) {
		f := strings.Split(r, " | ")
		if len(f) != len(q.Columns)+3*len(q.Joins) {
			t.Fatalf("row %q: want %d columns", r, len(q.Columns)+3*len(q.Joins))
		}
		for i := range stats {
			h := f[len(q.Columns)+3*i:]
			stats[i].Add(atoi(t, h[0]), atoi(t, h[1]), atoi(t, h[2]))
		}
		rows = append(rows, strings.Join(f[:len(q.Columns)], " | "))
	}
	return rows, stats
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	if s == "NULL" {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(s, ".0"), 10, 64)
	if err != nil {
		t.Fatalf("diagnostic value %q: %v", s, err)
	}
	return n
}

// countRows runs a COUNT(*) query.
func countRows(t *testing.T, db *sql.DB, query string) int64 {
	t.Helper()
	rows := queryRows(t, db, query)
	return atoi(t, rows[0])
}

func parseDataset(t *testing.T, name, src string) Dataset {
	t.Helper()
	var d Dataset
	decodeYAML(t, src, &d)
	d.Name = name
	return d
}

// TestIntegrationConstructs runs each construct on MariaDB and compares its
// rows, as multisets (or in order when ordered), with hand-written SQL.
func TestIntegrationConstructs(t *testing.T) {
	db := seedBlog(t)
	stats := parseDataset(t, "post_stats", `
from: posts p
select: [p.user_id, "count(*) AS posts", "max(p.published_at) AS latest"]
where: [{column: p.status, op: "=", value: published}]
group_by: [p.user_id]`)
	handStats := "(SELECT p.user_id, COUNT(*) AS posts, MAX(p.published_at) AS latest FROM posts p WHERE p.status = 'published' GROUP BY p.user_id)"
	recent := parseDataset(t, "recent", `
from: posts p
select: [p.id, p.user_id]
where: [{column: p.published_at, op: ">=", param: since}]`)
	perUser := parseDataset(t, "per_user", `
from: {dataset: recent, as: r}
select: [r.user_id, "count(r.id) AS posts"]
group_by: [r.user_id]`)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-01-03 00:00 to 2026-03-01 00:00 in Berlin, bound as UTC wall clocks.
	window := &Window{Start: time.Date(2026, 1, 3, 0, 0, 0, 0, berlin), End: time.Date(2026, 3, 1, 0, 0, 0, 0, berlin)}
	env := Env{
		Datasets: []Dataset{stats, recent, perUser},
		Params: map[string]any{
			"min_views": int64(10), "since": "2026-02-01", "ids": []any{int64(1), int64(2), int64(4)},
			"countries": []any{"FR"}, "pattern": "%news%", "min_score": "10.00", "active": true, "min_posts": int64(2),
		},
		Window:   window,
		Location: time.UTC,
	}

	runExprCases(t, db, env, []exprCase{
		{"chain of four tables", `
from: users u
joins:
  - {table: posts, as: p, on: "u.id = p.user_id"}
  - {table: comments, as: c, type: left, on: "c.post_id = p.id"}
  - {table: categories, as: k, type: left, on: "k.id = p.category_id"}
select: [u.id, p.id AS post_id, c.id AS comment_id, k.name AS category]`,
			"SELECT u.id, p.id, c.id, k.name FROM users u JOIN posts p ON u.id = p.user_id LEFT JOIN comments c ON c.post_id = p.id LEFT JOIN categories k ON k.id = p.category_id", false, 12},
		{"mixed join types with non-equality and constant conditions", `
from: users u
joins:
  - {table: posts, as: p, type: left, on: ["u.id = p.user_id", "p.published_at >= u.created_at", "p.status = 'published'"]}
  - {table: categories, as: k, type: right, on: "k.id = p.category_id"}
  - {table: comments, as: c, type: left, on: ["c.post_id = p.id", "c.user_id != u.id"]}
select: [u.id, p.id AS post_id, k.name AS category, c.body]`,
			"SELECT u.id, p.id, k.name, c.body FROM users u LEFT JOIN posts p ON u.id = p.user_id AND p.published_at >= u.created_at AND p.status = 'published'" +
				" RIGHT JOIN categories k ON k.id = p.category_id LEFT JOIN comments c ON c.post_id = p.id AND c.user_id <> u.id", false, 9},
		{"self-joins through aliases and several join columns", `
from: users u
joins:
  - {table: users, as: r, type: left, on: "r.id = u.referrer_id"}
  - {table: posts, as: p1, on: "p1.user_id = u.id"}
  - {table: posts, as: p2, type: left, on: ["p2.user_id = p1.user_id", "p2.published_at > p1.published_at"]}
select: [u.id, r.name AS referred_by, p1.id AS post_id, "count(p2.id) AS later_posts"]
group_by: [u.id, r.name, p1.id]`,
			"SELECT u.id, r.name, p1.id, COUNT(p2.id) FROM users u LEFT JOIN users r ON r.id = u.referrer_id JOIN posts p1 ON p1.user_id = u.id" +
				" LEFT JOIN posts p2 ON p2.user_id = p1.user_id AND p2.published_at > p1.published_at GROUP BY u.id, r.name, p1.id", false, 8},
		{"using against a derived dataset", `
from: posts p
joins:
  - {dataset: post_stats, as: s, type: left, using: [user_id]}
select: [p.id, p.user_id, s.posts]`,
			"SELECT p.id, p.user_id, s.posts FROM posts p LEFT JOIN " + handStats + " s USING (user_id)", false, 11},
		{"on with a parameter", `
from: users u
joins:
  - {table: posts, as: p, type: left, on: ["u.id = p.user_id", "p.views >= :min_views", "date(p.published_at) != date(u.created_at)"]}
select: [u.id, p.id AS post_id]`,
			"SELECT u.id, p.id FROM users u LEFT JOIN posts p ON u.id = p.user_id AND p.views >= 10 AND DATE(p.published_at) <> DATE(u.created_at)", false, 7},
		{"full join in a chain", `
from: categories k
joins:
  - {table: users, as: u, on: "u.favourite_category_id = k.id"}
  - {table: posts, as: p, type: full, on: "p.user_id = u.id"}
  - {table: comments, as: c, type: left, on: "c.post_id = p.id"}
select: [k.name AS category, u.id AS user_id, p.id AS post_id, c.id AS comment_id]`,
			// Independent of the emulation: matched and left-only rows, then
			// the posts no (category, user) row matches, found with NOT EXISTS.
			"SELECT k.name, u.id, p.id, c.id FROM categories k JOIN users u ON u.favourite_category_id = k.id LEFT JOIN posts p ON p.user_id = u.id LEFT JOIN comments c ON c.post_id = p.id" +
				" UNION ALL SELECT NULL, NULL, p.id, c.id FROM posts p LEFT JOIN comments c ON c.post_id = p.id" +
				" WHERE NOT EXISTS (SELECT 1 FROM categories k JOIN users u ON u.favourite_category_id = k.id WHERE p.user_id = u.id)", false, 14},
		{"derived dataset: users with their post statistics and latest posts", `
from: users u
joins:
  - {dataset: post_stats, as: s, type: left, on: "s.user_id = u.id"}
  - {table: posts, as: lp, type: left, on: ["lp.user_id = s.user_id", "lp.published_at = s.latest"]}
select: [u.id, u.name, s.posts, lp.title AS latest_title]
order_by: ["coalesce(s.posts, 0) desc", u.id, latest_title]`,
			"SELECT u.id, u.name, s.posts, lp.title FROM users u LEFT JOIN " + handStats + " s ON s.user_id = u.id" +
				" LEFT JOIN posts lp ON lp.user_id = s.user_id AND lp.published_at = s.latest ORDER BY COALESCE(s.posts, 0) DESC, u.id, lp.title", true, 7},
		{"derived dataset as from, on a derived dataset", `
from: {dataset: per_user, as: pu}
joins:
  - {table: users, as: u, on: "u.id = pu.user_id"}
select: [u.name, pu.posts]
where: [{column: pu.posts, op: ">=", param: min_posts}]`,
			"SELECT u.name, pu.posts FROM (SELECT r.user_id, COUNT(r.id) AS posts FROM (SELECT p.id, p.user_id FROM posts p WHERE p.published_at >= '2026-02-01') r GROUP BY r.user_id) pu" +
				" JOIN users u ON u.id = pu.user_id WHERE pu.posts >= 2", false, 1},
		{"expressions in select, where, group_by, having and order_by", `
from: users u
joins:
  - {table: posts, as: p, type: left, on: "p.user_id = u.id"}
select:
  - "coalesce(u.name, 'unknown') AS name"
  - "lower(u.email) AS email"
  - "upper(coalesce(u.country, 'xx')) AS country"
  - "concat(coalesce(u.name, '?'), ' <', u.email, '>') AS contact"
  - "date_format(p.published_at, '%Y-%m') AS month"
  - "year(p.published_at) AS year"
  - "count(distinct p.id) AS posts"
  - "count_distinct(month(p.published_at)) AS months"
  - "round(avg(p.views), 1) AS avg_views"
  - "max(datediff(p.published_at, u.created_at)) AS max_days"
  - "sum(if(p.views >= 100, 1, 0)) AS hot"
  - "max(case(p.views > 1000, 'viral', p.views > 100, 'hot', 'normal')) AS best"
  - "min(date(p.published_at)) AS first_day"
  - "sum(if(p.id is null, 1, 0)) AS missing"
where:
  - {column: "lower(u.email)", op: like, value: "%@example.com"}
  - {column: "coalesce(p.status, 'none')", op: "!=", value: draft}
group_by: ["coalesce(u.name, 'unknown')", "lower(u.email)", "upper(coalesce(u.country, 'xx'))", "concat(coalesce(u.name, '?'), ' <', u.email, '>')", "date_format(p.published_at, '%Y-%m')", "year(p.published_at)"]
having: [{column: "round(avg(p.views), 1)", op: ">=", value: 0}]
order_by: ["year(p.published_at) desc", email, month]`,
			"SELECT COALESCE(u.name, 'unknown') AS name, LOWER(u.email) AS email, UPPER(COALESCE(u.country, 'xx')), CONCAT(COALESCE(u.name, '?'), ' <', u.email, '>'), DATE_FORMAT(p.published_at, '%Y-%m') AS month," +
				" YEAR(p.published_at) AS year, COUNT(DISTINCT p.id), COUNT(DISTINCT MONTH(p.published_at)), ROUND(AVG(p.views), 1), MAX(DATEDIFF(p.published_at, u.created_at))," +
				" SUM(CASE WHEN p.views >= 100 THEN 1 ELSE 0 END), MAX(CASE WHEN p.views > 1000 THEN 'viral' WHEN p.views > 100 THEN 'hot' ELSE 'normal' END), MIN(DATE(p.published_at)), SUM(p.id IS NULL)" +
				" FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE LOWER(u.email) LIKE '%@example.com' AND COALESCE(p.status, 'none') <> 'draft'" +
				" GROUP BY 1, 2, 3, 4, 5, 6 HAVING ROUND(AVG(p.views), 1) >= 0 ORDER BY year DESC, email, month", true, 5},
		{"window", `
from: posts p
window: p.published_at
select: [p.id, p.published_at]`,
			"SELECT p.id, p.published_at FROM posts p WHERE p.published_at >= '2026-01-02 23:00:00' AND p.published_at < '2026-02-28 23:00:00'", false, 5},
		{"parameters of every kind", `
from: users u
joins:
  - {table: posts, as: p, type: left, on: "p.user_id = u.id"}
select: [u.id, p.id AS post_id]
where:
  - {column: u.id, op: in, param: ids}
  - {column: u.country, op: not in, param: countries}
  - {column: "coalesce(p.title, '')", op: not like, param: pattern}
  - {column: u.score, op: ">=", param: min_score}
  - {column: u.active, op: "=", param: active}
  - {column: "date(p.published_at)", op: "<", param: since}`,
			"SELECT u.id, p.id FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.id IN (1, 2, 4) AND u.country NOT IN ('FR')" +
				" AND COALESCE(p.title, '') NOT LIKE '%news%' AND u.score >= 10.00 AND u.active = 1 AND DATE(p.published_at) < '2026-02-01'", false, 3},
	})
}

// exprCase is a dataset and the hand-written SQL whose rows it must
// return.
type exprCase struct {
	name    string
	dataset string
	hand    string
	ordered bool
	n       int // rows the hand-written query returns, so that an empty result cannot pass
}

// runExprCases runs each case on db in env and compares its rows, as
// multisets (or in order when ordered), with its hand-written SQL.
func runExprCases(t *testing.T, db *sql.DB, env Env, cases []exprCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			d := parseDataset(t, "report", tt.dataset)
			got, _ := runDataset(t, db, d, env)
			want := queryRows(t, db, tt.hand)
			if len(want) != tt.n {
				t.Errorf("the hand-written query returns %d rows, want %d:\n  %s", len(want), tt.n, strings.Join(want, "\n  "))
			}
			if tt.ordered {
				if !slices.Equal(got, want) {
					t.Errorf("rows differ\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
				return
			}
			sameMultiset(t, "compiled vs hand-written", got, want)
		})
	}
}

// TestIntegrationJoinDiagnostics checks the counts of the hidden columns
// against hand-written COUNT queries, plain and grouped, for left, right
// and full joins, and Evaluate on them.
func TestIntegrationJoinDiagnostics(t *testing.T) {
	db := seedBlog(t)
	count := func(q string) int64 { return countRows(t, db, q) }
	usersWithoutPosts := count("SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.user_id = u.id)")
	postsWithoutUsers := count("SELECT COUNT(*) FROM posts p WHERE NOT EXISTS (SELECT 1 FROM users u WHERE p.user_id = u.id)")
	matched := count("SELECT COUNT(*) FROM users u JOIN posts p ON p.user_id = u.id")
	if usersWithoutPosts != 2 || postsWithoutUsers != 2 || matched != 9 {
		t.Fatalf("seed: %d users without posts, %d posts without users, %d matched; want 2, 2, 9", usersWithoutPosts, postsWithoutUsers, matched)
	}
	postsWithoutComments := count("SELECT COUNT(*) FROM users u JOIN posts p ON p.user_id = u.id WHERE NOT EXISTS (SELECT 1 FROM comments c WHERE c.post_id = p.id)")
	matchedComments := count("SELECT COUNT(*) FROM users u JOIN posts p ON p.user_id = u.id JOIN comments c ON c.post_id = p.id")

	tests := []struct {
		name, dataset string
		want          []JoinStats
	}{
		{"left join", `
from: users u
joins: [{table: posts, as: p, type: left, on: "u.id = p.user_id"}]
select: [u.id, p.id AS post_id]`,
			[]JoinStats{{Alias: "p", Type: "left", Matched: matched, LeftUnmatched: usersWithoutPosts}}},
		{"right join", `
from: users u
joins: [{table: posts, as: p, type: right, on: "u.id = p.user_id"}]
select: [u.id, p.id AS post_id]`,
			[]JoinStats{{Alias: "p", Type: "right", Matched: matched, RightUnmatched: postsWithoutUsers}}},
		{"full join", `
from: users u
joins: [{table: posts, as: p, type: full, on: "u.id = p.user_id"}]
select: [u.id, p.id AS post_id]
order_by: [u.id]`,
			[]JoinStats{{Alias: "p", Type: "full", Matched: matched, LeftUnmatched: usersWithoutPosts, RightUnmatched: postsWithoutUsers}}},
		{"grouped chain", `
from: users u
joins:
  - {table: posts, as: p, type: left, on: "u.id = p.user_id"}
  - {table: comments, as: c, type: left, on: "c.post_id = p.id"}
select: [u.id, "count(c.id) AS comments"]
group_by: [u.id]`,
			[]JoinStats{
				{Alias: "p", Type: "left", Matched: count("SELECT COUNT(*) FROM users u JOIN posts p ON p.user_id = u.id LEFT JOIN comments c ON c.post_id = p.id"), LeftUnmatched: usersWithoutPosts},
				// A user without posts is a left row of the second join too.
				{Alias: "c", Type: "left", Matched: matchedComments, LeftUnmatched: postsWithoutComments + usersWithoutPosts},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := parseDataset(t, "report", tt.dataset)
			_, got := runDataset(t, db, d, Env{})
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}

	d := parseDataset(t, "report", `
from: users u
joins: [{table: posts, as: p, type: full, on: "u.id = p.user_id"}]
select: [u.id, p.id AS post_id]
expect:
  - rows >= 1
  - p.right_unmatched = 0
  - {check: p.left_unmatched, op: "=", value: 0, on_fail: warn}
  - {check: rows, op: "<", value: 1000, on_fail: warn}`)
	rows, stats := runDataset(t, db, d, Env{})
	failed, warned := Evaluate(&d, int64(len(rows)), stats)
	if want := []string{"expect p.right_unmatched = 0: got 2"}; !slices.Equal(failed, want) {
		t.Errorf("failed %q, want %q", failed, want)
	}
	if want := []string{"expect p.left_unmatched = 0: got 2"}; !slices.Equal(warned, want) {
		t.Errorf("warned %q, want %q", warned, want)
	}
}
