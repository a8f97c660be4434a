package queries

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
)

// constructScope is a job context: two parameters, a window and one
// earlier dataset, stats, with output columns user_id and posts.
func constructScope() Scope {
	return Scope{
		Params: []Param{
			{Name: "min_views", Type: "int", Default: 10},
			{Name: "ids", Type: "list<int>", Default: []any{1, 2}},
			{Name: "name", Type: "string", Default: "x"},
		},
		Datasets: []Dataset{{
			Name:    "stats",
			From:    Table{Table: "posts", As: "p"},
			Select:  []Selection{{Column: "p.user_id"}, {Agg: "count", Column: "*", As: "posts"}},
			GroupBy: []string{"p.user_id"},
		}},
		Window: true,
	}
}

// constructDataset passes Validate in constructScope.
func constructDataset() Dataset {
	return Dataset{
		Name: "report",
		From: Table{Table: "users", As: "u"},
		Joins: []Join{
			{Table: "posts", As: "p", Type: "left", On: []Condition{{Left: "u.id", Op: "=", Right: "p.user_id"}, {Left: "p.views", Op: ">=", Right: ":min_views"}}},
			{Dataset: "stats", As: "s", Type: "left", On: []Condition{{Left: "s.user_id", Op: "=", Right: "u.id"}}},
		},
		Select: []Selection{
			{Column: "u.id"},
			{Column: "lower(u.name)", As: "name"},
			{Column: "s.posts"},
		},
		Where:  []Filter{{Column: "u.id", Op: "in", Param: "ids"}},
		Window: "p.published_at",
		Expect: []Expect{{Check: "rows", Op: ">=", Value: 1}, {Check: "p.left_unmatched", Op: "=", Value: 0, OnFail: "warn"}},
	}
}

func TestValidateConstructsValid(t *testing.T) {
	d := constructDataset()
	if errs := d.Validate(constructScope()); len(errs) > 0 {
		t.Fatalf("Validate: %v", errors.Join(errs...))
	}
}

// TestValidateConstructErrors has one test per rejected construct: each
// breaks the valid dataset in one way and wants the error at its path.
func TestValidateConstructErrors(t *testing.T) {
	runConstructErrors(t, []constructError{
		// expressions
		{"unknown function", func(d *Dataset, s *Scope) { d.Select[1].Column = "sleep(u.id)" }, "select[1].column", `unknown function "sleep"`},
		{"raw sql is not an expression", func(d *Dataset, s *Scope) { d.Select[1].Column = "u.id; drop table users" }, "select[1].column", "invalid column or expression"},
		{"unterminated string", func(d *Dataset, s *Scope) { d.Select[1].Column = "coalesce(u.name, 'x)" }, "select[1].column", "unterminated string"},
		{"too many arguments", func(d *Dataset, s *Scope) { d.Select[1].Column = "lower(u.name, u.id)" }, "select[1].column", "lower takes one argument"},
		{"too few arguments", func(d *Dataset, s *Scope) { d.Select[1].Column = "coalesce(u.name)" }, "select[1].column", "coalesce takes at least 2 arguments"},
		{"aggregate in where expression", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Column: "sum(p.views)", Op: ">", Value: 1} }, "where[0].column", "aggregates are not allowed in where: use having"},
		{"aggregate in on", func(d *Dataset, s *Scope) { d.Joins[0].On[1].Left = "max(p.views)" }, "joins[0].on[1].left", "aggregates are not allowed in on conditions"},
		{"aggregate in group_by", func(d *Dataset, s *Scope) { d.GroupBy = []string{"count(u.id)"} }, "group_by[0]", "aggregates are not allowed in group_by"},
		{"aggregate in window", func(d *Dataset, s *Scope) { d.Window = "max(p.published_at)" }, "window", "aggregates are not allowed in window"},
		{"nested aggregate", func(d *Dataset, s *Scope) {
			d.Select = []Selection{{Column: "sum(count(p.id))", As: "n"}}
		}, "select[0].column", "an aggregate cannot contain another aggregate"},
		{"distinct outside count", func(d *Dataset, s *Scope) { d.Select[1].Column = "sum(distinct p.views)" }, "select[1].column", "distinct is only allowed in count"},
		{"comparison outside if", func(d *Dataset, s *Scope) { d.Select[1].Column = "coalesce(u.id = 1, 0)" }, "select[1].column", "a comparison is only allowed as the condition of if or case"},
		{"if without comparison", func(d *Dataset, s *Scope) { d.Select[1].Column = "if(u.id, 1, 0)" }, "select[1].column", "want a comparison"},
		{"case without comparison", func(d *Dataset, s *Scope) { d.Select[1].Column = "case(u.id, 1, 0)" }, "select[1].column", "want a comparison"},
		{"star outside count", func(d *Dataset, s *Scope) { d.Select[1].Column = "lower(*)" }, "select[1].column", `"*" is only allowed in count(*)`},
		{"bare name inside a function", func(d *Dataset, s *Scope) { d.OrderBy = []Order{{Column: "lower(name)"}} }, "order_by[0].column", "must be qualified as alias.column"},
		{"expression without as", func(d *Dataset, s *Scope) { d.Select[1].As = "" }, "select[1].as", "an expression needs as: to name its output column"},
		{"reserved output name", func(d *Dataset, s *Scope) { d.Select[1].As = "_joinery_0_matched" }, "select[1].as", "reserved"},
		{"expression not grouped", func(d *Dataset, s *Scope) {
			d.Select = append(d.Select, Selection{Agg: "count", Column: "p.id", As: "n"})
			d.GroupBy = []string{"u.id", "s.posts"}
		}, "select[1].column", "must be listed in group_by"},

		// parameters and window
		{"unknown parameter", func(d *Dataset, s *Scope) { d.Joins[0].On[1].Right = ":max_views" }, "joins[0].on[1].right", "unknown parameter (declared: window_start, window_end, min_views, ids, name)"},
		{"list parameter in an expression", func(d *Dataset, s *Scope) { d.Joins[0].On[1].Right = ":ids" }, "joins[0].on[1].right", "the list parameter \"ids\" can only be used with op: in or not in"},
		{"list parameter with =", func(d *Dataset, s *Scope) { d.Where[0].Op = "=" }, "where[0].param", "the list parameter can only be used with op: in or not in"},
		{"scalar parameter with in", func(d *Dataset, s *Scope) { d.Where[0].Param = "min_views" }, "where[0].param", "in needs a list parameter (type: list<int>)"},
		{"like with a non-string parameter", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Column: "u.name", Op: "like", Param: "min_views"} }, "where[0].param", "like needs a string parameter"},
		{"between with a parameter", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Column: "u.id", Op: "between", Param: "min_views"} }, "where[0].param", "between takes value: [low, high], not a param"},
		{"value and parameter", func(d *Dataset, s *Scope) { d.Where[0].Value = []any{1} }, "where[0].param", "give value or param, not both"},
		{"is null with a parameter", func(d *Dataset, s *Scope) { d.Where[0].Op = "is null" }, "where[0].param", "is null takes no param"},
		{"window parameter without a window", func(d *Dataset, s *Scope) {
			s.Window = false
			d.Window = ""
			d.Where[0] = Filter{Column: "p.published_at", Op: ">=", Param: "window_start"}
		}, "where[0].param", "the job has no window"},
		{"dataset window without a job window", func(d *Dataset, s *Scope) { s.Window = false }, "window", "the job has no window"},

		// derived datasets
		{"unknown dataset", func(d *Dataset, s *Scope) { d.Joins[1].Dataset = "statz" }, "joins[1].dataset", "unknown dataset: a dataset can use the datasets defined before it in the same job (before it: stats)"},
		{"dataset uses itself", func(d *Dataset, s *Scope) { d.From = Table{Dataset: "report", As: "r"} }, "from.dataset", "a dataset cannot use itself"},
		{"later dataset", func(d *Dataset, s *Scope) { s.Datasets = nil }, "joins[1].dataset", "before it: none"},
		{"table and dataset", func(d *Dataset, s *Scope) { d.Joins[1].Table = "stats" }, "joins[1]", "give table or dataset, not both"},
		{"unknown column of a derived dataset", func(d *Dataset, s *Scope) { d.Select[2].Column = "s.views" }, "select[2].column", `the derived dataset s has no output column "views"`},
		{"dataset name is no alias", func(d *Dataset, s *Scope) {
			s.Datasets[0].Name = "post-stats"
			d.Joins[1] = Join{Dataset: "post-stats", Type: "cross"}
		}, "joins[1].dataset", "this dataset name is not a valid alias: set as:"},

		// join shapes
		{"using and on", func(d *Dataset, s *Scope) { d.Joins[1].Using = []string{"user_id"} }, "joins[1].using", "give on or using, not both"},
		{"using with a full join", func(d *Dataset, s *Scope) {
			d.Joins[1] = Join{Dataset: "stats", As: "s", Type: "full", Using: []string{"user_id"}}
			d.Expect = nil
		}, "joins[1].using", "a full join needs on conditions: using cannot be emulated"},
		{"using with a cross join", func(d *Dataset, s *Scope) {
			d.Joins[1] = Join{Dataset: "stats", As: "s", Type: "cross", Using: []string{"user_id"}}
		}, "joins[1].on", "a cross join takes no on conditions"},
		{"using an invalid column", func(d *Dataset, s *Scope) { d.Joins[1] = Join{Dataset: "stats", As: "s", Using: []string{"user id"}} }, "joins[1].using[0]", "invalid name"},
		{"using a column the derived dataset lacks", func(d *Dataset, s *Scope) { d.Joins[1] = Join{Dataset: "stats", As: "s", Using: []string{"id"}} }, "joins[1].using[0]", `the derived dataset s has no output column "id"`},
		{"full join keyed only through a function", func(d *Dataset, s *Scope) {
			d.Joins[0] = Join{Table: "posts", As: "p", Type: "full", On: []Condition{{Left: "coalesce(u.id, 0)", Op: "=", Right: "p.user_id"}}}
			d.Joins = d.Joins[:1]
			d.Select = d.Select[:2]
			d.Expect = nil
		}, "joins[0].on", "a full join needs an on condition that uses a column of a table before it, as a whole operand"},
		{"right join after full join in a chain", func(d *Dataset, s *Scope) {
			d.Joins[0].Type = "full"
			d.Joins[1].Type = "right"
		}, "joins[1].type", "a right join after a full join is not supported"},

		// expect
		{"expect unknown check", func(d *Dataset, s *Scope) { d.Expect[0].Check = "row_count" }, "expect[0].check", "want rows or <alias>.matched"},
		{"expect unknown alias", func(d *Dataset, s *Scope) { d.Expect[1].Check = "q.matched" }, "expect[1].check", `"q" is not the alias of a join`},
		{"expect on the from table", func(d *Dataset, s *Scope) { d.Expect[1].Check = "u.matched" }, "expect[1].check", `"u" is not the alias of a join`},
		{"expect on an inner join", func(d *Dataset, s *Scope) { d.Joins[0].Type = "inner" }, "expect[1].check", "join p has no diagnostics"},
		{"expect op", func(d *Dataset, s *Scope) { d.Expect[0].Op = "~" }, "expect[0].op", "want one of"},
		{"expect negative", func(d *Dataset, s *Scope) { d.Expect[0].Value = -1 }, "expect[0].value", "must be at least 0"},
		{"expect on_fail", func(d *Dataset, s *Scope) { d.Expect[0].OnFail = "ignore" }, "expect[0].on_fail", "want fail or warn"},
	})
}

// constructError breaks constructDataset (or its scope) in one way and
// wants an error at path whose message contains msg.
type constructError struct {
	name   string
	mutate func(d *Dataset, s *Scope)
	path   string
	msg    string
}

func runConstructErrors(t *testing.T, tests []constructError) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, s := constructDataset(), constructScope()
			tt.mutate(&d, &s)
			errs := d.Validate(s)
			for _, err := range errs {
				var fe *config.FieldError
				if errors.As(err, &fe) && fe.Path == tt.path && strings.Contains(fe.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("want an error at %s containing %q, got %d:\n%v", tt.path, tt.msg, len(errs), errors.Join(errs...))
		})
	}
}

func TestParamValues(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tests := []struct {
		typ, in string
		want    any
	}{
		{"string", " a b ", "a b"},
		{"int", "42", int64(42)},
		{"decimal", "-12.50", "-12.50"},
		{"bool", "true", true},
		{"date", "2026-11-01", "2026-11-01"},
		{"datetime", "2026-11-01T06:30", time.Date(2026, 11, 1, 6, 30, 0, 0, berlin)},
		{"list<int>", "1, 2,3", []any{int64(1), int64(2), int64(3)}},
		{"list<string>", "DE,FR", []any{"DE", "FR"}},
	}
	for _, tt := range tests {
		got, err := Param{Name: "p", Type: tt.typ}.parse(tt.in, berlin)
		if err != nil {
			t.Errorf("%s %q: %v", tt.typ, tt.in, err)
			continue
		}
		if gt, ok := got.(time.Time); ok {
			if !gt.Equal(tt.want.(time.Time)) {
				t.Errorf("%s %q: got %v, want %v", tt.typ, tt.in, got, tt.want)
			}
			continue
		}
		if !equalAny(got, tt.want) {
			t.Errorf("%s %q: got %#v, want %#v", tt.typ, tt.in, got, tt.want)
		}
	}
	for _, bad := range []struct{ typ, in string }{
		{"int", "1.5"}, {"int", "1; drop"}, {"decimal", "1e3"}, {"decimal", "12,5"}, {"bool", "yes"},
		{"date", "2026-02-30"}, {"datetime", "tomorrow"}, {"list<int>", "1,x"},
	} {
		if _, err := (Param{Name: "p", Type: bad.typ}).parse(bad.in, berlin); err == nil {
			t.Errorf("%s %q: no error", bad.typ, bad.in)
		}
	}
}

func equalAny(a, b any) bool {
	la, okA := a.([]any)
	lb, okB := b.([]any)
	if okA != okB {
		return false
	}
	if !okA {
		return a == b
	}
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		if la[i] != lb[i] {
			return false
		}
	}
	return true
}

func TestValidateParam(t *testing.T) {
	tests := []struct {
		p    Param
		path string
		msg  string
	}{
		{Param{Name: "x", Type: "float", Default: 1}, "type", "want one of string, int, decimal, date, datetime, bool, or list<type>"},
		{Param{Name: "x", Type: "list<int", Default: 1}, "type", "want one of"},
		{Param{Name: "x", Type: "list<list<int>>", Default: 1}, "type", "want one of"},
		{Param{Name: "x", Type: "int", Default: "ten"}, "default", `"ten" is not a whole number`},
		{Param{Name: "x", Type: "list<int>", Default: []any{1, "b"}}, "default", "item 2"},
		{Param{Name: "x", Type: "int"}, "default", "give a default, or set required: true"},
		{Param{Name: "x", Type: "int", Default: 1, Required: true}, "required", "a required parameter has no default"},
		{Param{Name: "window_start", Type: "datetime", Required: true}, "", "reserved"},
		{Param{Name: "1x", Type: "int", Required: true}, "", "invalid parameter name"},
	}
	for _, tt := range tests {
		errs := ValidateParam(tt.p, time.UTC)
		found := false
		for _, err := range errs {
			var fe *config.FieldError
			if errors.As(err, &fe) && fe.Path == tt.path && strings.Contains(fe.Msg, tt.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%+v: want %s: %q, got %v", tt.p, tt.path, tt.msg, errors.Join(errs...))
		}
	}
}

func TestResolveParams(t *testing.T) {
	decl := []Param{{Name: "n", Type: "int", Default: 5}, {Name: "day", Type: "date", Required: true}}
	got, err := ResolveParams(decl, map[string]string{"day": "2026-11-01"}, time.UTC)
	if err != nil || got["n"] != int64(5) || got["day"] != "2026-11-01" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, tt := range []struct {
		given map[string]string
		msg   string
	}{
		{nil, "parameter day (date) is required: give --param day=VALUE"},
		{map[string]string{"day": "2026-11-01", "x": "1"}, `unknown parameter "x" (declared: n, day)`},
		{map[string]string{"day": "2026-13-01"}, "parameter day (date): \"2026-13-01\" is not a date"},
	} {
		if _, err := ResolveParams(decl, tt.given, time.UTC); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%v: got %v, want %q", tt.given, err, tt.msg)
		}
	}
}

func TestCheckParams(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	var decl []Param
	want := map[string]any{}
	for _, tt := range []struct {
		typ       string
		def, zero any
	}{
		{"string", "x", ""},
		{"int", 7, int64(0)},
		{"decimal", "1.50", "0"},
		{"bool", true, false},
		{"date", "2026-11-01", "1970-01-01"},
		{"datetime", "2026-11-01 06:00", time.Date(1970, 1, 1, 0, 0, 0, 0, berlin)},
	} {
		def, err := Param{Type: tt.typ}.fromConfig(tt.def, berlin)
		if err != nil {
			t.Fatal(err)
		}
		decl = append(decl,
			Param{Name: tt.typ, Type: tt.typ, Default: tt.def},
			Param{Name: tt.typ + "_req", Type: tt.typ, Required: true},
			Param{Name: tt.typ + "_list", Type: "list<" + tt.typ + ">", Default: []any{tt.def, tt.def}},
			Param{Name: tt.typ + "_list_req", Type: "list<" + tt.typ + ">", Required: true})
		want[tt.typ], want[tt.typ+"_req"] = def, tt.zero
		want[tt.typ+"_list"], want[tt.typ+"_list_req"] = []any{def, def}, []any{tt.zero}
	}
	got, err := CheckParams(decl, berlin)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("got %d values, want %d", len(got), len(want))
	}
	for name, w := range want {
		if g := got[name]; fmt.Sprintf("%T %v", g, g) != fmt.Sprintf("%T %v", w, w) {
			t.Errorf("%s: got %T %v, want %T %v", name, g, g, w, w)
		}
	}
}
