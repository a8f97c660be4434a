package queries

import (
	"fmt"
	"testing"
	"time"
)

// benchDataset is a report of the size issue 14 sets a budget for: users
// and ten joined tables (left, inner and right joins, on conditions with a
// parameter and a literal, one derived dataset) and 50 expressions: 30 in
// select (8 columns, 10 functions of them, 12 aggregates), 8 where
// filters, 8 group_by columns, 2 having filters and 2 order_by terms;
// besides, 12 on conditions and the run's window.
func benchDataset() (Dataset, Env) {
	stats := Dataset{
		Name:    "stats",
		From:    Table{Table: "posts", As: "p"},
		Select:  []Selection{{Column: "p.user_id"}, {Agg: "count", Column: "*", As: "posts"}},
		GroupBy: []string{"p.user_id"},
	}
	d := Dataset{
		Name: "report",
		From: Table{Table: "users", As: "u"},
		Joins: []Join{
			{Table: "posts", As: "p", Type: "left", On: []Condition{{Left: "p.user_id", Op: "=", Right: "u.id"}, {Left: "p.views", Op: ">=", Right: ":min_views"}}},
			{Table: "comments", As: "c", Type: "left", On: []Condition{{Left: "c.post_id", Op: "=", Right: "p.id"}}},
			{Table: "categories", As: "k", Type: "left", On: []Condition{{Left: "k.id", Op: "=", Right: "p.category_id"}}},
			{Table: "countries", As: "co", On: []Condition{{Left: "co.code", Op: "=", Right: "u.country"}}},
			{Table: "users", As: "r", Type: "left", On: []Condition{{Left: "r.id", Op: "=", Right: "u.referrer_id"}}},
			{Table: "tags", As: "t", Type: "left", On: []Condition{{Left: "t.post_id", Op: "=", Right: "p.id"}, {Left: "t.kind", Op: "=", Right: "'topic'"}}},
			{Table: "likes", As: "l", Type: "left", On: []Condition{{Left: "l.post_id", Op: "=", Right: "p.id"}}},
			{Table: "orders", As: "o", Type: "left", On: []Condition{{Left: "o.user_id", Op: "=", Right: "u.id"}}},
			{Dataset: "stats", As: "s", Type: "left", On: []Condition{{Left: "s.user_id", Op: "=", Right: "u.id"}}},
			{Table: "regions", As: "g", Type: "right", On: []Condition{{Left: "g.id", Op: "=", Right: "co.region_id"}}},
		},
		Window: "p.published_at",
	}
	for i, col := range []string{"u.id", "u.name", "u.email", "co.name", "g.name", "r.name", "k.name", "s.posts"} {
		d.Select = append(d.Select, Selection{Column: col, As: fmt.Sprintf("c%d", i)})
		d.GroupBy = append(d.GroupBy, col)
	}
	for i, e := range []string{
		"lower(u.email)", "upper(co.name)", "coalesce(r.name, '(none)')", "concat(u.name, ' <', u.email, '>')",
		"if(s.posts > 10, 'active', 'quiet')", "case(s.posts > 100, 'busy', s.posts > 10, 'active', 'quiet')",
		"coalesce(g.name, co.name, 'unknown')", "lower(k.name)", "upper(concat(r.name, '/', g.name))", "coalesce(s.posts, 0)",
	} {
		d.Select = append(d.Select, Selection{Column: e, As: fmt.Sprintf("e%d", i)})
	}
	for i, e := range []string{
		"count(*)", "count(distinct p.id)", "count(c.id)", "sum(p.views)", "date_format(max(p.published_at), '%Y-%m')", "min(p.published_at)",
		"avg(p.views)", "round(avg(l.weight), 2)", "sum(if(p.views >= 100, 1, 0))", "count(distinct t.name)",
		"sum(o.total)", "max(case(o.total > 1000, 'big', 'small'))",
	} {
		d.Select = append(d.Select, Selection{Column: e, As: fmt.Sprintf("a%d", i)})
	}
	d.Where = []Filter{
		{Column: "u.active", Op: "=", Value: true},
		{Column: "u.country", Op: "in", Param: "countries"},
		{Column: "lower(u.email)", Op: "not like", Value: "%@example.com"},
		{Column: "p.status", Op: "=", Value: "published"},
		{Column: "p.views", Op: "between", Value: []any{int64(1), int64(1000000)}},
		{Column: "coalesce(c.spam, 0)", Op: "=", Value: int64(0)},
		{Column: "u.created_at", Op: ">=", Param: "since"},
		{Column: "k.name", Op: "is not null"},
	}
	d.Having = []Filter{
		{Column: "a0", Op: ">=", Value: int64(1)},
		{Column: "p.views", Agg: "sum", Op: ">", Param: "min_views"},
	}
	d.OrderBy = []Order{{Column: "a0", Dir: "desc"}, {Column: "lower(u.email)"}}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	env := Env{
		Window:      &Window{Start: start, End: start.AddDate(0, 0, 1)},
		Params:      map[string]any{"min_views": int64(10), "countries": []any{"DE", "FR"}, "since": start.AddDate(-1, 0, 0)},
		Datasets:    []Dataset{stats, d},
		Location:    time.UTC,
		Diagnostics: true,
	}
	return d, env
}

// BenchmarkCompile compiles benchDataset as a run does (Validate, the
// query, its argument names, the diagnostic columns). Issue 14 wants it
// under 1 ms.
func BenchmarkCompile(b *testing.B) {
	d, env := benchDataset()
	if _, err := Compile(&d, env); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(&d, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate is the Validate part of BenchmarkCompile.
func BenchmarkValidate(b *testing.B) {
	d, env := benchDataset()
	scope := env.scope(&d)
	b.ReportAllocs()
	for b.Loop() {
		if errs := d.Validate(scope); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// benchExprDataset is benchDataset with issue 14's constructs in its 50
// expressions: the 10 function selects become arithmetic, case and cast,
// 4 of the aggregates aggregate arithmetic, the where filters are
// condition strings and an any group, the having filters conditions.
func benchExprDataset() (Dataset, Env) {
	d, env := benchDataset()
	for i, e := range []string{
		"s.posts * 100.00 / (s.posts + 1)", "case when s.posts > 100 then 'busy' when s.posts > 10 then 'active' else 'quiet' end",
		"-coalesce(s.posts, 0) div 7 % 3", "cast(s.posts as decimal(10,2)) * 1.19",
		"if(u.name like 'a%' and not u.email like '%@example.com', 1, 0)", "case co.name when 'Germany' then 1 when 'France' then 2 else 0 end",
		"date_add(:since, interval s.posts day)", "timestampdiff(hour, :since, date_add(:since, interval s.posts day))", "concat_ws(' ', u.name, r.name, g.name)", "round(abs(s.posts - 10) / 3, 2)",
	} {
		d.Select[8+i].Column = e
	}
	for i, e := range []string{
		"sum(p.views * 2 - 1)", "sum(o.total * (1 - 0.19))", "sum(case when o.total > 1000 then o.total else 0 end)", "group_concat(distinct t.name order by t.name separator ', ')",
	} {
		d.Select[18+i].Column = e
	}
	d.Where = []Filter{
		{Cond: "u.active = true and u.country in (:countries)"},
		{Cond: "lower(u.email) not like '%@example.com'"},
		{Cond: "p.status = 'published' and p.views between 1 and 1000000"},
		{Any: [][]Filter{{{Cond: "coalesce(c.spam, 0) = 0"}, {Cond: "u.created_at >= :since"}}, {{Cond: "k.name is not null or p.views * 2 > 100"}}}},
		{Cond: "p.views * 1.5 >= o.total / 10"},
	}
	d.Having = []Filter{{Cond: "a0 >= 1 and a3 > 2 * a2"}, {Cond: "sum(p.views) > :min_views"}}
	return d, env
}

// BenchmarkCompileExpr is BenchmarkCompile on benchExprDataset. Issue 14
// wants it under 1 ms too.
func BenchmarkCompileExpr(b *testing.B) {
	d, env := benchExprDataset()
	if _, err := Compile(&d, env); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(&d, env); err != nil {
			b.Fatal(err)
		}
	}
}
