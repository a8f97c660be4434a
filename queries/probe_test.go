package queries

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestProbeAndTimestampWindows compiles a dataset that joins a derived
// dataset, both with a window: the probe asks about the window and its
// columns and has WHERE FALSE in every SELECT; a dataset named in
// TimestampWindows gets its window's bounds in UTC, the other keeps
// Location's wall clocks.
func TestProbeAndTimestampWindows(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 10, 25, 0, 0, 0, 0, berlin)
	inner := Dataset{Name: "stamped", From: Table{Table: "events", As: "e"}, Window: "e.ts",
		Select: []Selection{{Column: "e.id"}, {Column: "e.ts"}}}
	outer := Dataset{Name: "rows", From: Table{Table: "events", As: "d"},
		Joins:  []Join{{Dataset: "stamped", As: "s", Type: "full", On: []Condition{{Left: "s.id", Op: "=", Right: "d.id"}}}},
		Window: "coalesce(d.dt, s.ts)", Select: []Selection{{Column: "d.id"}}}
	env := Env{Window: &Window{Start: start, End: start.AddDate(0, 0, 1)}, Location: berlin, Datasets: []Dataset{inner, outer}}

	if got, want := WindowColumns(&outer), []string{"d.dt", "s.ts"}; !slices.Equal(got, want) {
		t.Errorf("window columns %q, want %q", got, want)
	}
	p, err := Probe(&outer, env, append([]string{outer.Window}, WindowColumns(&outer)...))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(p.SQL, "?"); n != len(p.Args) || n != 4 {
		t.Errorf("%d placeholders, %d args, want the derived dataset's window bounds in each branch: %s", n, len(p.Args), p.SQL)
	}
	if n, selects := strings.Count(p.SQL, "FALSE"), strings.Count(p.SQL, "SELECT"); n != selects || n != 4 {
		t.Errorf("%d SELECTs (want 4: two branches of the full join, each with the derived one), %d WHERE FALSE: %s", selects, n, p.SQL)
	}
	if want := "SELECT COALESCE(`d`.`dt`, `s`.`ts`) AS `c0`, `d`.`dt` AS `c1`, `s`.`ts` AS `c2` FROM"; !strings.HasPrefix(p.SQL, want) {
		t.Errorf("probe %s, want it to start %s", p.SQL, want)
	}

	env.TimestampWindows = map[string]bool{"stamped": true}
	q, err := Compile(&outer, env)
	if err != nil {
		t.Fatal(err)
	}
	// Each branch of the full join: the derived dataset's window, then
	// the dataset's own.
	want := []any{"2026-10-24 22:00:00", "2026-10-25 23:00:00", "2026-10-25 00:00:00", "2026-10-26 00:00:00"}
	if !slices.Equal(q.Args, append(want, want...)) {
		t.Errorf("args %q, want %q twice", q.Args, want)
	}
	if got := q.ArgNames[:2]; !slices.Equal(got, []string{"window_start (UTC: the window is a TIMESTAMP)", "window_end (UTC: the window is a TIMESTAMP)"}) {
		t.Errorf("arg names %q", got)
	}
}

// TestTimeUses finds the columns compared with the window's bounds and
// datetime parameters, by field, and nothing else.
func TestTimeUses(t *testing.T) {
	d := Dataset{
		From: Table{Table: "events", As: "e"},
		Joins: []Join{{Table: "events", As: "f", On: []Condition{
			{Left: "f.id", Op: "=", Right: "e.id"}, {Left: ":since", Op: "<=", Right: "f.ts"}, {Left: "f.n", Op: ">", Right: ":count"}}}},
		Select: []Selection{{Column: "if(date(e.ts) < :window_end, e.a, e.b)", As: "x"}},
		Where: []Filter{
			{Column: "coalesce(e.ts, e.dt)", Op: ">=", Param: "window_start"},
			{Column: "e.day", Op: "=", Param: "day"},
			{Column: "e.ts", Op: "<", Value: "2026-01-01"},
		},
		Having: []Filter{{Column: "max(e.ts)", Op: "<", Param: "since"}},
	}
	params := []Param{{Name: "since", Type: "datetime"}, {Name: "count", Type: "int"}, {Name: "day", Type: "date"}}
	got := TimeUses(&d, params)
	want := []TimeUse{
		{Path: "joins[0].on[1]", Param: "since", Columns: []string{"f.ts"}},
		{Path: "select[0].column", Param: "window_end", Columns: []string{"e.ts"}},
		{Path: "where[0]", Param: "window_start", Columns: []string{"e.ts", "e.dt"}},
		{Path: "having[0]", Param: "since", Columns: []string{"e.ts"}},
	}
	if !slices.EqualFunc(got, want, func(a, b TimeUse) bool {
		return a.Path == b.Path && a.Param == b.Param && slices.Equal(a.Columns, b.Columns)
	}) {
		t.Errorf("uses\n%+v\nwant\n%+v", got, want)
	}
}

// TestTimeUsesConditions finds the comparisons with a datetime parameter
// in filters written as conditions and in any groups.
func TestTimeUsesConditions(t *testing.T) {
	d := Dataset{
		From:   Table{Table: "events", As: "e"},
		Select: []Selection{{Column: "e.id"}},
		Where: []Filter{
			{Cond: "date_add(e.ts, interval 1 day) < :since and e.n > 1"},
			{Any: [][]Filter{{{Column: "e.n", Op: "=", Value: 1}}, {{Cond: "e.dt between :window_start and :window_end"}}}},
			{Cond: ":since > e.ts + 0"},
		},
	}
	params := []Param{{Name: "since", Type: "datetime"}}
	got := TimeUses(&d, params)
	want := []TimeUse{
		{Path: "where[0].cond", Param: "since", Columns: []string{"e.ts"}},
		{Path: "where[1].any[1][0].cond", Param: "window_start", Columns: []string{"e.dt"}},
		{Path: "where[2].cond", Param: "since", Columns: []string{"e.ts"}},
	}
	if !slices.EqualFunc(got, want, func(a, b TimeUse) bool {
		return a.Path == b.Path && a.Param == b.Param && slices.Equal(a.Columns, b.Columns)
	}) {
		t.Errorf("uses\n%+v\nwant\n%+v", got, want)
	}
}
