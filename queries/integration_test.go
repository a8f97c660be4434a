package queries

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
)

// The integration tests run compiled datasets on a real MariaDB/MySQL (named
// by JOINERY_TEST_DSN, see internal/testdb) and compare the rows, as
// multisets, with a hand-written query and with rows computed in Go from the
// seed below.

type seedUser struct {
	id   int
	name *string
}

type seedPost struct {
	id     int
	userID *int
	title  string
}

func sp(s string) *string { return &s }
func ip(i int) *int       { return &i }

// The seed: users without posts (6, 7), NULL names (3, 7), non-ASCII names;
// posts with a NULL user_id (7, 8), posts whose user does not exist (9, 10),
// and rows that are genuinely equal (post 2, 7 and 9 twice each; posts has
// no key), which a distinct UNION would collapse.
var (
	seedUsers = []seedUser{
		{1, sp("Alice")},
		{2, sp("bob")},
		{3, nil},
		{4, sp("Zoë")},
		{5, sp("李雷")},
		{6, sp("Dave")},
		{7, nil},
	}
	seedPosts = []seedPost{
		{1, ip(1), "a1"},
		{2, ip(1), "a2"},
		{2, ip(1), "a2"},
		{3, ip(2), "BOB"},
		{4, ip(3), "n1"},
		{5, ip(4), "Über"},
		{6, ip(5), "你好"},
		{7, nil, "orphan"},
		{7, nil, "orphan"},
		{8, nil, "orphan2"},
		{9, ip(99), "ghost"},
		{9, ip(99), "ghost"},
		{10, ip(42), "gone"},
	}
	// Comments on a matched post (twice), on an orphan post, on nothing.
	seedComments = []struct {
		postID *int
		body   string
	}{
		{ip(1), "c1"},
		{ip(1), "c1 again"},
		{ip(9), "on ghost"},
		{nil, "on nothing"},
	}
)

func seed(t *testing.T) *sql.DB {
	t.Helper()
	db := testdb.New(t)
	testdb.Exec(t, db,
		"CREATE TABLE users (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
		"CREATE TABLE posts (id INT NOT NULL, user_id INT NULL, title VARCHAR(50) NOT NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
		"CREATE TABLE comments (post_id INT NULL, body VARCHAR(50) NOT NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
	)
	ctx := context.Background()
	for _, u := range seedUsers {
		if _, err := db.ExecContext(ctx, "INSERT INTO users (id, name) VALUES (?, ?)", u.id, u.name); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range seedPosts {
		if _, err := db.ExecContext(ctx, "INSERT INTO posts (id, user_id, title) VALUES (?, ?, ?)", p.id, p.userID, p.title); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range seedComments {
		if _, err := db.ExecContext(ctx, "INSERT INTO comments (post_id, body) VALUES (?, ?)", c.postID, c.body); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// queryRows runs a query and returns each row as its values, NULL written
// as NULL, joined by " | ".
func queryRows(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, done := openRows(t, db, query, args...)
	defer done()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fields := make([]string, len(vals))
		for i, v := range vals {
			fields[i] = "NULL"
			if v.Valid {
				fields[i] = v.String
			}
		}
		out = append(out, strings.Join(fields, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// openRows runs a query; done closes its rows and ends its context.
func openRows(t *testing.T, db *sql.DB, query string, args ...any) (rows *sql.Rows, done func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		cancel()
		t.Fatalf("query: %v\n%s\nargs: %v", err, query, args)
	}
	return rows, func() {
		rows.Close()
		cancel()
	}
}

// modelRow formats a joined row (u.id, u.name, p.id, p.user_id, p.title)
// the way queryRows does; a nil side is NULL-extended.
func modelRow(u *seedUser, p *seedPost) string {
	f := []string{"NULL", "NULL", "NULL", "NULL", "NULL"}
	if u != nil {
		f[0] = strconv.Itoa(u.id)
		if u.name != nil {
			f[1] = *u.name
		}
	}
	if p != nil {
		f[2] = strconv.Itoa(p.id)
		if p.userID != nil {
			f[3] = strconv.Itoa(*p.userID)
		}
		f[4] = p.title
	}
	return strings.Join(f, " | ")
}

type pair struct {
	u *seedUser
	p *seedPost
}

// modelPairs computes users <typ> JOIN posts ON match in Go, by definition:
// matched pairs, plus unmatched users (left, full), plus unmatched posts
// (right, full); cross is every pair. A nil side is NULL-extended.
func modelPairs(typ string, match func(seedUser, seedPost) bool) []pair {
	var out []pair
	postMatched := make([]bool, len(seedPosts))
	for i := range seedUsers {
		u := &seedUsers[i]
		matched := false
		for k := range seedPosts {
			p := &seedPosts[k]
			if typ == joinCross || match(*u, *p) {
				out = append(out, pair{u, p})
				matched = true
				postMatched[k] = true
			}
		}
		if !matched && (typ == joinLeft || typ == joinFull) {
			out = append(out, pair{u, nil})
		}
	}
	if typ == joinRight || typ == joinFull {
		for k := range seedPosts {
			if !postMatched[k] {
				out = append(out, pair{nil, &seedPosts[k]})
			}
		}
	}
	return out
}

// modelJoin formats the rows of modelPairs that keep (if not nil) accepts.
func modelJoin(typ string, match func(seedUser, seedPost) bool, keep func(u *seedUser, p *seedPost) bool) []string {
	var out []string
	for _, pr := range modelPairs(typ, match) {
		if keep == nil || keep(pr.u, pr.p) {
			out = append(out, modelRow(pr.u, pr.p))
		}
	}
	return out
}

// idMatch is u.id = p.user_id: NULL matches nothing.
func idMatch(u seedUser, p seedPost) bool { return p.userID != nil && *p.userID == u.id }

func sorted(rows []string) []string {
	rows = slices.Clone(rows)
	slices.Sort(rows)
	return rows
}

func sameMultiset(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := sorted(got), sorted(want)
	if !slices.Equal(g, w) {
		t.Errorf("%s: rows differ\ngot %d:\n  %s\nwant %d:\n  %s", what, len(g), strings.Join(g, "\n  "), len(w), strings.Join(w, "\n  "))
	}
}

const refColumns = "u.id, u.name, p.id AS post_id, p.user_id, p.title"

func joinDataset(typ string, on ...Condition) Dataset {
	return Dataset{
		From:  Table{Table: "users", As: "u"},
		Joins: []Join{{Table: "posts", As: "p", Type: typ, On: on}},
		Select: []Selection{
			{Column: "u.id"}, {Column: "u.name"}, {Column: "p.id", As: "post_id"},
			{Column: "p.user_id"}, {Column: "p.title"},
		},
	}
}

var onID = Condition{Left: "u.id", Op: "=", Right: "p.user_id"}

func compileT(t *testing.T, d Dataset) Query {
	t.Helper()
	q, err := Compile(&d, Env{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return q
}

func TestIntegrationJoinTypes(t *testing.T) {
	db := seed(t)
	tests := []struct {
		typ string
		ref string // hand-written reference query
	}{
		{joinInner, "SELECT " + refColumns + " FROM users u INNER JOIN posts p ON u.id = p.user_id"},
		{joinLeft, "SELECT " + refColumns + " FROM users u LEFT JOIN posts p ON u.id = p.user_id"},
		{joinRight, "SELECT " + refColumns + " FROM users u RIGHT JOIN posts p ON u.id = p.user_id"},
		{joinCross, "SELECT " + refColumns + " FROM users u CROSS JOIN posts p"},
		{joinFull, "SELECT " + refColumns + " FROM users u LEFT JOIN posts p ON u.id = p.user_id" +
			" UNION ALL SELECT " + refColumns + " FROM users u RIGHT JOIN posts p ON u.id = p.user_id WHERE u.id IS NULL"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			var d Dataset
			if tt.typ == joinCross {
				d = joinDataset(tt.typ)
			} else {
				d = joinDataset(tt.typ, onID)
			}
			q := compileT(t, d)
			got := queryRows(t, db, q.SQL, q.Args...)
			want := modelJoin(tt.typ, idMatch, nil)
			sameMultiset(t, "compiled vs Go model", got, want)
			sameMultiset(t, "hand-written vs Go model", queryRows(t, db, tt.ref), want)
		})
	}
	// Sanity checks on the model itself, so that a wrong model cannot make
	// both comparisons pass: 7 matched pairs (one duplicated post), users 6
	// and 7 unmatched, 6 unmatched post rows of which 4 are duplicates.
	for typ, n := range map[string]int{joinInner: 7, joinLeft: 9, joinRight: 13, joinFull: 15, joinCross: 7 * 13} {
		if got := len(modelJoin(typ, idMatch, nil)); got != n {
			t.Errorf("model %s join: %d rows, want %d", typ, got, n)
		}
	}
}

// TestIntegrationFullJoinNullableKey puts a nullable column first in the on
// clause, so the emulation tests u.name IS NULL: users with a NULL name never
// match (NULL != x is not true) and must show up exactly once on each side.
func TestIntegrationFullJoinNullableKey(t *testing.T) {
	db := seed(t)
	d := joinDataset(joinFull,
		Condition{Left: "p.title", Op: "!=", Right: "u.name"},
		onID,
	)
	q := compileT(t, d)
	if !strings.Contains(q.SQL, "(`u`.`name` IS NULL)") {
		t.Fatalf("the emulation does not test u.name: %s", q.SQL)
	}
	match := func(u seedUser, p seedPost) bool {
		// utf8mb4_unicode_ci: "BOB" = "bob", so that post does not match.
		return idMatch(u, p) && u.name != nil && !strings.EqualFold(p.title, *u.name)
	}
	want := modelJoin(joinFull, match, nil)
	sameMultiset(t, "compiled vs Go model", queryRows(t, db, q.SQL, q.Args...), want)
	on := "p.title != u.name AND u.id = p.user_id"
	ref := "SELECT " + refColumns + " FROM users u LEFT JOIN posts p ON " + on +
		" UNION ALL SELECT " + refColumns + " FROM users u RIGHT JOIN posts p ON " + on + " WHERE u.id IS NULL"
	sameMultiset(t, "hand-written vs Go model", queryRows(t, db, ref), want)
}

// TestIntegrationFullJoinWhere checks that where filters apply to both
// branches with their args in the right order (swapping them changes the
// result), and that like is case-insensitive.
func TestIntegrationFullJoinWhere(t *testing.T) {
	db := seed(t)
	d := joinDataset(joinFull, onID)
	d.Where = []Filter{
		{Column: "p.title", Op: "like", Value: "%O%"},
		{Column: "p.id", Op: "not in", Value: []any{8}},
	}
	q := compileT(t, d)
	got := queryRows(t, db, q.SQL, q.Args...)
	want := modelJoin(joinFull, idMatch, func(u *seedUser, p *seedPost) bool {
		return p != nil && strings.Contains(strings.ToLower(p.title), "o") && p.id != 8
	})
	// bob's BOB (first branch), orphan x2, ghost x2, gone (second branch).
	if len(want) != 6 {
		t.Fatalf("model: %d rows, want 6: %v", len(want), want)
	}
	sameMultiset(t, "compiled vs Go model", got, want)
}

// TestIntegrationFullJoinOrderLimit runs the derived-table form and checks
// the order, not only the multiset.
func TestIntegrationFullJoinOrderLimit(t *testing.T) {
	db := seed(t)
	d := joinDataset(joinFull, onID)
	d.OrderBy = []Order{{Column: "p.id", Dir: "desc"}, {Column: "title"}}
	d.Limit = ptr(uint64(5))
	q := compileT(t, d)
	got := queryRows(t, db, q.SQL, q.Args...)
	want := []string{
		modelRow(nil, &seedPost{10, ip(42), "gone"}),
		modelRow(nil, &seedPost{9, ip(99), "ghost"}),
		modelRow(nil, &seedPost{9, ip(99), "ghost"}),
		modelRow(nil, &seedPost{8, nil, "orphan2"}),
		modelRow(nil, &seedPost{7, nil, "orphan"}),
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestIntegrationAggregates compares a grouped dataset with a hand-written
// query: every aggregate, having by alias and by aggregate, order by alias.
func TestIntegrationAggregates(t *testing.T) {
	db := seed(t)
	d := Dataset{
		From:  Table{Table: "users", As: "u"},
		Joins: []Join{{Table: "posts", As: "p", Type: "left", On: []Condition{onID}}},
		Select: []Selection{
			{Column: "u.id"}, {Column: "u.name"},
			{Agg: "count", Column: "p.id", As: "posts"},
			{Agg: "count", Column: "*"},
			{Agg: "count_distinct", Column: "p.id", As: "distinct_posts"},
			{Agg: "sum", Column: "p.id"}, {Agg: "min", Column: "p.title"},
			{Agg: "max", Column: "p.title"}, {Agg: "avg", Column: "p.id"},
		},
		GroupBy: []string{"u.id", "u.name"},
		Having: []Filter{
			{Column: "posts", Op: ">=", Value: 1},
			{Agg: "count", Column: "*", Op: "<", Value: 10},
		},
		OrderBy: []Order{{Column: "posts", Dir: "desc"}, {Column: "u.id"}},
	}
	q := compileT(t, d)
	if want := []string{"id", "name", "posts", "count", "distinct_posts", "sum_id", "min_title", "max_title", "avg_id"}; !slices.Equal(q.Columns, want) {
		t.Errorf("columns %v, want %v", q.Columns, want)
	}
	got := queryRows(t, db, q.SQL, q.Args...)
	ref := queryRows(t, db, "SELECT u.id, u.name, COUNT(p.id) AS posts, COUNT(*), COUNT(DISTINCT p.id), SUM(p.id), MIN(p.title), MAX(p.title), AVG(p.id)"+
		" FROM users u LEFT JOIN posts p ON u.id = p.user_id GROUP BY u.id, u.name HAVING COUNT(p.id) >= 1 AND COUNT(*) < 10 ORDER BY posts DESC, u.id")
	if !slices.Equal(got, ref) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(ref, "\n  "))
	}
	if len(got) != 5 || !strings.HasPrefix(got[0], "1 | Alice | 3 | 3 | 2 |") {
		t.Errorf("unexpected rows: %q", got)
	}
}

// TestIntegrationColumns checks that Query.Columns are the names the server
// reports.
func TestIntegrationColumns(t *testing.T) {
	db := seed(t)
	d := joinDataset(joinFull, onID)
	d.Select = append(d.Select, Selection{Column: "u.name", As: "who"})
	d.OrderBy = []Order{{Column: "who"}}
	for _, d := range []Dataset{d, joinDataset(joinInner, onID)} {
		q := compileT(t, d)
		rows, err := db.QueryContext(context.Background(), q.SQL, q.Args...)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		rows.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cols, q.Columns) {
			t.Errorf("server columns %v, Query.Columns %v", cols, q.Columns)
		}
	}
}

// TestIntegrationCanonicalSeed cross-checks the join row counts documented
// in internal/testdb for its shared users/posts data.
func TestIntegrationCanonicalSeed(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	for typ, n := range map[string]int{joinInner: 16, joinLeft: 18, joinRight: 20, joinFull: 22, joinCross: 200} {
		t.Run(typ, func(t *testing.T) {
			d := joinDataset(typ, onID)
			if typ == joinCross {
				d = joinDataset(typ)
			}
			q := compileT(t, d)
			if got := len(queryRows(t, db, q.SQL, q.Args...)); got != n {
				t.Errorf("%d rows, want %d", got, n)
			}
		})
	}
}

// TestIntegrationFullJoinBetweenJoins runs a full join with an inner join
// before it (part of its left side, which also provides the key u2.id) and
// a left join after it (repeated in both branches of the emulation).
func TestIntegrationFullJoinBetweenJoins(t *testing.T) {
	db := seed(t)
	d := Dataset{
		From: Table{Table: "users", As: "u"},
		Joins: []Join{
			{Table: "users", As: "u2", On: []Condition{{Left: "u2.id", Op: "=", Right: "u.id"}}},
			{Table: "posts", As: "p", Type: "full", On: []Condition{{Left: "p.user_id", Op: "=", Right: "u2.id"}}},
			{Table: "comments", As: "c", Type: "left", On: []Condition{{Left: "c.post_id", Op: "=", Right: "p.id"}}},
		},
		Select: []Selection{
			{Column: "u.id"}, {Column: "u.name"}, {Column: "p.id", As: "post_id"},
			{Column: "p.user_id"}, {Column: "p.title"}, {Column: "c.body"},
		},
	}
	q := compileT(t, d)
	if !strings.Contains(q.SQL, "(`u2`.`id` IS NULL)") {
		t.Fatalf("the emulation does not test u2.id: %s", q.SQL)
	}
	var want []string
	for _, pr := range modelPairs(joinFull, idMatch) {
		matched := false
		for _, c := range seedComments {
			if pr.p != nil && c.postID != nil && *c.postID == pr.p.id {
				want = append(want, modelRow(pr.u, pr.p)+" | "+c.body)
				matched = true
			}
		}
		if !matched {
			want = append(want, modelRow(pr.u, pr.p)+" | NULL")
		}
	}
	if len(want) != 16 { // 15 full join rows, one more for the second comment on post 1
		t.Fatalf("model: %d rows, want 16", len(want))
	}
	sameMultiset(t, "compiled vs Go model", queryRows(t, db, q.SQL, q.Args...), want)
}
