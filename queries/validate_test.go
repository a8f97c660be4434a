package queries

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/joinery/joinery/config"
)

// validDataset returns a dataset that passes Validate; the table test below
// breaks one thing at a time.
func validDataset() Dataset {
	return Dataset{
		Name: "posts",
		From: Table{Table: "users", As: "u"},
		Joins: []Join{{
			Table: "posts", As: "p", Type: "left",
			On: []Condition{{Left: "u.id", Op: "=", Right: "p.user_id"}},
		}},
		Select: []Selection{
			{Column: "u.id"},
			{Column: "u.name", As: "user_name"},
			{Column: "p.id", Agg: "count", As: "posts"},
		},
		Where:   []Filter{{Column: "u.active", Op: "=", Value: true}},
		GroupBy: []string{"u.id", "u.name"},
		Having:  []Filter{{Column: "posts", Op: ">", Value: 1}},
		OrderBy: []Order{{Column: "posts", Dir: "desc"}, {Column: "u.id"}},
		Limit:   ptr(uint64(10)),
	}
}

// fullDataset returns a valid dataset with a full join.
func fullDataset() Dataset {
	return Dataset{
		From: Table{Table: "users", As: "u"},
		Joins: []Join{{
			Table: "posts", As: "p", Type: "full",
			On: []Condition{{Left: "u.id", Op: "=", Right: "p.user_id"}},
		}},
		Select:  []Selection{{Column: "u.id", As: "user_id"}, {Column: "p.id", As: "post_id"}},
		OrderBy: []Order{{Column: "u.id"}, {Column: "post_id", Dir: "desc"}},
		Limit:   ptr(uint64(5)),
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidateValid(t *testing.T) {
	for name, d := range map[string]Dataset{"grouped": validDataset(), "full": fullDataset()} {
		t.Run(name, func(t *testing.T) {
			if errs := d.Validate(Scope{}); len(errs) > 0 {
				t.Fatalf("Validate: %v", errors.Join(errs...))
			}
			if _, err := Compile(&d, Env{}); err != nil {
				t.Fatalf("Compile: %v", err)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		full   bool // start from fullDataset instead of validDataset
		mutate func(d *Dataset)
		path   string
		msg    string
	}{
		// from
		{"from table missing", false, func(d *Dataset) { d.From.Table = "" }, "from.table", "required"},
		{"from table invalid", false, func(d *Dataset) { d.From.Table = "users`; drop" }, "from.table", "invalid name"},
		{"from table starts with digit", false, func(d *Dataset) { d.From.Table = "1users" }, "from.table", "invalid name"},
		{"from table too long", false, func(d *Dataset) { d.From.Table = strings.Repeat("t", 65) }, "from.table", "longer than 64"},
		{"from alias invalid", false, func(d *Dataset) { d.From.As = "u-1" }, "from.as", "invalid name"},

		// joins: tables and aliases
		{"join table missing", false, func(d *Dataset) { d.Joins[0].Table = "" }, "joins[0].table", "required"},
		{"join alias invalid", false, func(d *Dataset) { d.Joins[0].As = "p.x" }, "joins[0].as", "invalid name"},
		{"duplicate alias", false, func(d *Dataset) { d.Joins[0].As = "u" }, "joins[0].as", "duplicate alias (from uses it)"},
		{"duplicate alias ignoring case", false, func(d *Dataset) { d.Joins[0].As = "U" }, "joins[0].as", "duplicate alias"},
		{"duplicate table without alias", false, func(d *Dataset) {
			d.From = Table{Table: "users"}
			d.Joins = append(d.Joins, Join{Table: "users", Type: "cross"})
			d.Select = []Selection{{Column: "users.id"}}
			d.Where, d.GroupBy, d.Having, d.OrderBy = nil, nil, nil, nil
		}, "joins[1].table", "duplicate alias (from uses it): set as:"},

		// joins: types and on
		{"join type unknown", false, func(d *Dataset) { d.Joins[0].Type = "outer" }, "joins[0].type", "unknown join type: want one of inner, left, right, full, cross"},
		{"join type with outer", false, func(d *Dataset) { d.Joins[0].Type = "left outer" }, "joins[0].type", "unknown join type"},
		{"inner join without on", false, func(d *Dataset) { d.Joins[0].Type = ""; d.Joins[0].On = nil }, "joins[0].on", "required for inner joins"},
		{"left join without on", false, func(d *Dataset) { d.Joins[0].On = nil }, "joins[0].on", "required for left joins"},
		{"cross join with on", false, func(d *Dataset) { d.Joins[0].Type = "CROSS" }, "joins[0].on", "a cross join takes no on conditions"},
		{"on left unknown alias", false, func(d *Dataset) { d.Joins[0].On[0].Left = "px.id" }, "joins[0].on[0].left", `unknown alias "px" (known: p, u)`},
		{"on right unknown alias", false, func(d *Dataset) { d.Joins[0].On[0].Right = "x.user_id" }, "joins[0].on[0].right", `unknown alias "x"`},
		{"on uses a later join", false, func(d *Dataset) {
			d.Joins = append(d.Joins, Join{Table: "comments", As: "c", On: []Condition{{Left: "c.post_id", Op: "=", Right: "p.id"}}})
			d.Joins[0].On = append(d.Joins[0].On, Condition{Left: "c.id", Op: ">", Right: "p.id"})
		}, "joins[0].on[1].left", `alias "c" is joined later`},
		{"on unqualified", false, func(d *Dataset) { d.Joins[0].On[0].Left = "id" }, "joins[0].on[0].left", "must be qualified as alias.column"},
		{"on star", false, func(d *Dataset) { d.Joins[0].On[0].Right = "*" }, "joins[0].on[0].right", `"*" is only allowed in count(*)`},
		{"on invalid column", false, func(d *Dataset) { d.Joins[0].On[0].Right = "p.user_id`" }, "joins[0].on[0].right", "invalid column"},
		{"on three parts", false, func(d *Dataset) { d.Joins[0].On[0].Right = "db.p.user_id" }, "joins[0].on[0].right", "invalid column"},
		{"on column too long", false, func(d *Dataset) { d.Joins[0].On[0].Right = "p." + strings.Repeat("c", 65) }, "joins[0].on[0].right", "longer than 64"},
		{"on empty operand", false, func(d *Dataset) { d.Joins[0].On[0].Right = "" }, "joins[0].on[0].right", "required"},
		{"on op unknown", false, func(d *Dataset) { d.Joins[0].On[0].Op = "==" }, "joins[0].on[0].op", "unknown operator: want one of = != <> < <= > >="},
		{"on op null-safe", false, func(d *Dataset) { d.Joins[0].On[0].Op = "<=>" }, "joins[0].on[0].op", "unknown operator"},
		{"on op missing", false, func(d *Dataset) { d.Joins[0].On[0].Op = "" }, "joins[0].on[0].op", "required"},

		// full joins
		{"second full join", true, func(d *Dataset) {
			d.Joins = append(d.Joins, Join{Table: "tags", As: "t", Type: "full", On: []Condition{{Left: "t.post_id", Op: "=", Right: "p.id"}}})
		}, "joins[1].type", "only one full join per dataset is supported (joins[0] is full)"},
		{"right join after full", true, func(d *Dataset) {
			d.Joins = append(d.Joins, Join{Table: "tags", As: "t", Type: "right", On: []Condition{{Left: "t.post_id", Op: "=", Right: "p.id"}}})
		}, "joins[1].type", "a right join after a full join is not supported"},
		{"full join without left operand", true, func(d *Dataset) {
			d.Joins[0].On = []Condition{{Left: "p.a", Op: "=", Right: "p.b"}}
		}, "joins[0].on", "a full join needs an on condition that uses a column of a table before it"},
		{"full join without on", true, func(d *Dataset) { d.Joins[0].On = nil }, "joins[0].on", "required for full joins"},
		{"full join with aggregate", true, func(d *Dataset) {
			d.Select = append(d.Select, Selection{Column: "p.id", Agg: "count", As: "n"})
		}, "select[2].agg", "aggregates are not supported with a full join"},
		{"full join with group_by", true, func(d *Dataset) { d.GroupBy = []string{"u.id", "p.id"} }, "group_by", "not supported with a full join"},
		{"full join with having", true, func(d *Dataset) {
			d.Having = []Filter{{Column: "user_id", Op: ">", Value: 1}}
		}, "having", "not supported with a full join"},
		{"full join order by unselected column", true, func(d *Dataset) {
			d.OrderBy = []Order{{Column: "u.email"}}
		}, "order_by[0].column", "with a full join, order_by must name a selected column"},

		// select
		{"select empty", false, func(d *Dataset) { d.Select = nil }, "select", "must not be empty"},
		{"select unknown alias", false, func(d *Dataset) { d.Select[0].Column = "x.id" }, "select[0].column", `unknown alias "x"`},
		{"select column missing", false, func(d *Dataset) { d.Select[0].Column = "" }, "select[0].column", "required"},
		{"select star", false, func(d *Dataset) { d.Select[0].Column = "*" }, "select[0].column", `"*" is only allowed in count(*)`},
		{"select qualified star", false, func(d *Dataset) { d.Select[0].Column = "u.*" }, "select[0].column", "invalid column"},
		{"count_distinct star", false, func(d *Dataset) { d.Select[2] = Selection{Agg: "count_distinct", Column: "*", As: "n"} }, "select[2].column", `"*" is only allowed in count(*)`},
		{"select unqualified", false, func(d *Dataset) { d.Select[0].Column = "id" }, "select[0].column", "must be qualified as alias.column"},
		{"select unknown aggregate", false, func(d *Dataset) { d.Select[2].Agg = "median" }, "select[2].agg", "unknown aggregate: want one of count, count_distinct, sum, min, max, avg"},
		{"select blank aggregate", false, func(d *Dataset) { d.Select[2].Agg = " " }, "select[2].agg", "unknown aggregate"},
		{"select alias invalid", false, func(d *Dataset) { d.Select[1].As = "user name" }, "select[1].as", "invalid name"},
		{"duplicate output column", false, func(d *Dataset) {
			d.Select = append(d.Select, Selection{Column: "p.id"}, Selection{Column: "u.id"})
			d.GroupBy = append(d.GroupBy, "p.id")
		}, "select[4].column", `output column "id" duplicates select[0]: use as: to rename`},
		{"duplicate output alias ignoring case", false, func(d *Dataset) { d.Select[1].As = "POSTS" }, "select[2].as", "duplicate output column name (select[1] has it): use as: to rename"},
		{"duplicate default aggregate name", false, func(d *Dataset) {
			d.Select = append(d.Select, Selection{Agg: "sum", Column: "p.score"}, Selection{Agg: "sum", Column: "u.score"})
		}, "select[4].column", `output column "sum_score" duplicates select[3]`},
		{"plain column not grouped", false, func(d *Dataset) { d.GroupBy = []string{"u.id"} }, "select[1].column", "must be listed in group_by when the query aggregates"},
		{"aggregate without group_by", false, func(d *Dataset) { d.GroupBy = nil }, "select[0].column", "must be listed in group_by"},

		// where
		{"where aggregate", false, func(d *Dataset) { d.Where[0].Agg = "count" }, "where[0].agg", "aggregates are not allowed in where: use having"},
		{"where select alias", false, func(d *Dataset) { d.Where[0].Column = "user_name" }, "where[0].column", "must be qualified as alias.column"},
		{"where unknown alias", false, func(d *Dataset) { d.Where[0].Column = "q.active" }, "where[0].column", `unknown alias "q"`},
		{"where op missing", false, func(d *Dataset) { d.Where[0].Op = "" }, "where[0].op", "required"},
		{"where op unknown", false, func(d *Dataset) { d.Where[0].Op = "ilike" }, "where[0].op", "unknown operator"},
		{"where op not between", false, func(d *Dataset) { d.Where[0].Op = "not between" }, "where[0].op", "unknown operator"},
		{"in empty list", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "in", Value: []any{}} }, "where[0].value", "in needs a non-empty list"},
		{"in scalar", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "IN", Value: 3} }, "where[0].value", "in needs a non-empty list"},
		{"not in missing", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "not in"} }, "where[0].value", "not in needs a non-empty list"},
		{"in list with null", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "in", Value: []any{1, nil}} }, "where[0].value[1]", "a value is required"},
		{"in nested list", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "in", Value: []any{[]any{1}}} }, "where[0].value[0]", "a list is not allowed here"},
		{"between one value", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "between", Value: []any{1}} }, "where[0].value", "between needs a list of exactly two values"},
		{"between three values", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "between", Value: []any{1, 2, 3}} }, "where[0].value", "exactly two values"},
		{"between scalar", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "between", Value: 1} }, "where[0].value", "exactly two values"},
		{"between null bound", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "between", Value: []any{1, nil}} }, "where[0].value[1]", "a value is required"},
		{"is null with value", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "is null", Value: 0} }, "where[0].value", "is null takes no value"},
		{"is not null with value", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.id", Op: "IS NOT  NULL", Value: ""} }, "where[0].value", "is not null takes no value"},
		{"equals null", false, func(d *Dataset) { d.Where[0].Value = nil }, "where[0].value", "a value is required (use op: is null to match NULL)"},
		{"equals list", false, func(d *Dataset) { d.Where[0].Value = []any{1, 2} }, "where[0].value", "a list needs op in, not in or between"},
		{"like number", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.name", Op: "like", Value: 5} }, "where[0].value", "like needs a string pattern"},
		{"not like missing", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.name", Op: "not like"} }, "where[0].value", "not like needs a string pattern"},
		{"unsupported value type", false, func(d *Dataset) { d.Where[0].Value = map[string]any{"a": 1} }, "where[0].value", "unsupported value type map[string]interface {}"},
		{"NaN value", false, func(d *Dataset) { d.Where[0] = Filter{Column: "u.score", Op: "<", Value: math.NaN()} }, "where[0].value", "not a finite number"},

		// group_by
		{"group_by unknown alias", false, func(d *Dataset) { d.GroupBy[0] = "x.id" }, "group_by[0]", `unknown alias "x"`},
		{"group_by unqualified", false, func(d *Dataset) { d.GroupBy[1] = "user_name" }, "group_by[1]", "must be qualified as alias.column"},

		// having
		{"having unknown output name", false, func(d *Dataset) { d.Having[0].Column = "postz" }, "having[0].column", "not an output column of select"},
		{"having unknown aggregate", false, func(d *Dataset) { d.Having[0] = Filter{Column: "p.id", Agg: "total", Op: ">", Value: 1} }, "having[0].agg", "unknown aggregate"},
		{"having aggregate unknown alias", false, func(d *Dataset) { d.Having[0] = Filter{Column: "x.id", Agg: "count", Op: ">", Value: 1} }, "having[0].column", `unknown alias "x"`},
		{"having sum star", false, func(d *Dataset) { d.Having[0] = Filter{Column: "*", Agg: "sum", Op: ">", Value: 1} }, "having[0].column", `"*" is only allowed in count(*)`},
		{"having op unknown", false, func(d *Dataset) { d.Having[0].Op = "~" }, "having[0].op", "unknown operator"},
		{"having in empty", false, func(d *Dataset) { d.Having[0] = Filter{Column: "posts", Op: "in", Value: []any{}} }, "having[0].value", "in needs a non-empty list"},

		// order_by and limit
		{"order_by dir invalid", false, func(d *Dataset) { d.OrderBy[0].Dir = "down" }, "order_by[0].dir", "want asc or desc"},
		{"order_by unknown output name", false, func(d *Dataset) { d.OrderBy[0].Column = "postz" }, "order_by[0].column", "not an output column of select (qualify table columns as alias.column)"},
		{"order_by unknown alias", false, func(d *Dataset) { d.OrderBy[1].Column = "x.id" }, "order_by[1].column", `unknown alias "x"`},
		{"order_by invalid", false, func(d *Dataset) { d.OrderBy[1].Column = "u.id desc" }, "order_by[1].column", "invalid column"},
		{"limit zero", false, func(d *Dataset) { d.Limit = ptr(uint64(0)) }, "limit", "must be from 1 to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDataset()
			if tt.full {
				d = fullDataset()
			}
			tt.mutate(&d)
			errs := d.Validate(Scope{})
			found := false
			for _, err := range errs {
				var fe *config.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is a %T, want *config.FieldError", err, err)
				}
				if fe.Path == tt.path && strings.Contains(fe.Msg, tt.msg) {
					found = true
				}
			}
			if testing.Verbose() && len(errs) > 1 {
				t.Logf("%d errors: %v", len(errs), errors.Join(errs...))
			}
			if !found {
				t.Errorf("want an error at %s containing %q, got %d:\n%v", tt.path, tt.msg, len(errs), errors.Join(errs...))
			}
			if _, err := Compile(&d, Env{}); err == nil {
				t.Error("Compile accepted an invalid dataset")
			}
		})
	}
}

// TestValidateReportsAll checks that Validate keeps going after the first
// problem.
func TestValidateReportsAll(t *testing.T) {
	d := validDataset()
	d.From.Table = ""
	d.Joins[0].Type = "outer"
	d.Select[0].Column = "x.id"
	d.Where[0].Op = "=="
	d.Limit = ptr(uint64(0))
	errs := d.Validate(Scope{})
	want := []string{"from.table", "joins[0].type", "select[0].column", "where[0].op", "limit"}
	got := map[string]bool{}
	for _, err := range errs {
		got[err.(*config.FieldError).Path] = true
	}
	for _, p := range want {
		if !got[p] {
			t.Errorf("no error at %s; got %v", p, errors.Join(errs...))
		}
	}
	_, err := Compile(&d, Env{})
	for _, p := range want {
		if err == nil || !strings.Contains(err.Error(), p+":") {
			t.Errorf("Compile error does not mention %s: %v", p, err)
		}
	}
}

// TestFieldErrorKind checks that a required field left empty is Missing
// and any other problem Invalid, so that callers need not read messages.
func TestFieldErrorKind(t *testing.T) {
	d := validDataset()
	d.From.Table = ""
	d.Joins[0].On[0].Op = ""
	d.Joins = append(d.Joins, Join{Table: "tags", As: "t", Type: "left"})
	d.Select[0].Column = ""
	d.Where[0].Op = ""
	d.Limit = ptr(uint64(0))
	d.OrderBy[0].Dir = "down"
	errs := d.Validate(Scope{})
	errs = append(errs, ValidateParam(Param{Name: "p", Type: "int"}, nil)...)
	missing := []string{"from.table", "joins[0].on[0].op", "joins[1].on", "select[0].column", "where[0].op", "default"}
	for _, err := range errs {
		fe := err.(*config.FieldError)
		want := config.Invalid
		if slices.Contains(missing, fe.Path) {
			want = config.Missing
		}
		if fe.Kind != want {
			t.Errorf("%v: kind %d, want %d", fe, fe.Kind, want)
		}
		missing = slices.DeleteFunc(missing, func(p string) bool { return p == fe.Path })
	}
	if len(missing) > 0 {
		t.Errorf("no error at %q; got %v", missing, errors.Join(errs...))
	}
}

func TestOutputName(t *testing.T) {
	tests := []struct {
		s    Selection
		want string
	}{
		{Selection{Column: "u.name"}, "name"},
		{Selection{Column: "u.name", As: "n"}, "n"},
		{Selection{Column: "p.id", Agg: "count"}, "count_id"},
		{Selection{Column: "*", Agg: "count"}, "count"},
		{Selection{Column: "p.user_id", Agg: "COUNT_DISTINCT"}, "count_distinct_user_id"},
		{Selection{Column: "p.id", Agg: "max", As: "last"}, "last"},
	}
	for _, tt := range tests {
		if got := tt.s.outputName(); got != tt.want {
			t.Errorf("%+v: got %s, want %s", tt.s, got, tt.want)
		}
	}
}

// TestDialectRejectsFullJoin checks the safety net: a full join that reached
// goqu without the emulation is a build error, not SQL.
func TestDialectRejectsFullJoin(t *testing.T) {
	d := fullDataset()
	_, _, err := (&compiler{}).selectCore(&d, branch{full: -1}).Prepared(true).ToSQL()
	if err == nil || !strings.Contains(err.Error(), "FullOuterJoinType") {
		t.Errorf("got %v, want an unsupported join type error", err)
	}
}

// TestErrorValueAsWritten: an error names the aggregate as the config
// writes it, count(p.id), not its parts run together.
func TestErrorValueAsWritten(t *testing.T) {
	d := fullDataset()
	d.Select = append(d.Select, Selection{Column: "p.id", Agg: "count", As: "n"})
	for _, err := range d.Validate(Scope{}) {
		var fe *config.FieldError
		if errors.As(err, &fe) && fe.Path == "select[2].agg" {
			if fe.Value != "count(p.id)" {
				t.Errorf("value %q, want %q", fe.Value, "count(p.id)")
			}
			return
		}
	}
	t.Error("no error at select[2].agg")
}
