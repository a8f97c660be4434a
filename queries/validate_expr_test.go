package queries

import (
	"errors"
	"strings"
	"testing"
)

// TestValidateExprErrors has one row per rejected form of issue 14's
// expressions, conditions, functions and filters: each breaks
// constructDataset in one way and wants the error at its path, with its
// message (and, for a parse error, the position in the expression).
func TestValidateExprErrors(t *testing.T) {
	sel := func(src string) func(d *Dataset, s *Scope) {
		return func(d *Dataset, s *Scope) { d.Select[1].Column = src }
	}
	runConstructErrors(t, []constructError{
		// arithmetic
		{"operator without a right operand", sel("u.id +"), "select[1].column", "unexpected end at 7 (want a column, a value, a :parameter or a function call)"},
		{"two operators", sel("u.id * / 2"), "select[1].column", `unexpected "/" at 8`},
		{"unclosed parenthesis", sel("(u.id + 1"), "select[1].column", "unexpected end at 10 (want ))"},
		{"operator after a number", sel("1.5.2"), "select[1].column", `unexpected '.' after a number at 4`},
		{"decimal literal too long", sel(strings.Repeat("9", 66)), "select[1].column", "a number of more than 65 digits at 1"},
		{"decimal literal scale too large", sel("0." + strings.Repeat("1", 31)), "select[1].column", "more than 30 digits after the point at 1"},
		{"unknown character", sel("u.id ^ 2"), "select[1].column", `unexpected character '^' at 6`},
		{"star in arithmetic", sel("u.id * *"), "select[1].column", `"*" is only allowed in count(*)`},
		{"aggregate arithmetic in where", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Column: "sum(p.views) * 2", Op: ">", Value: 1} }, "where[0].column", "aggregates are not allowed in where"},
		{"arithmetic with an unknown alias", sel("u.id + x.id"), "select[1].column", `unknown alias "x"`},
		{"arithmetic on a list parameter", sel("u.id + :ids"), "select[1].column", `the list parameter "ids" can only be used`},
		{"comparison as a value", sel("u.id + (u.id > 1)"), "select[1].column", "a comparison is only allowed as the condition of if or case"},
		{"bare name in arithmetic", func(d *Dataset, s *Scope) { d.OrderBy = []Order{{Column: "name * 2"}} }, "order_by[0].column", "name: must be qualified as alias.column"},
		{"arithmetic in on with an alias joined later", func(d *Dataset, s *Scope) { d.Joins[0].On[1].Right = "s.posts * 2" }, "joins[0].on[1].right", `alias "s" is joined later`},

		// conditions
		{"chained comparison", sel("if(u.id < 2 < 3, 1, 0)"), "select[1].column", "comparisons cannot be chained: join them with and at 13"},
		{"compared with null", sel("if(u.id = null, 1, 0)"), "select[1].column", "null is never equal or unequal to anything: use is null"},
		{"null in an in list", sel("if(u.id in (1, null), 1, 0)"), "select[1].column", "use is null or is not null"},
		{"case without when", sel("case u.id else 1 end"), "select[1].column", `unexpected "else" at 11 (want when)`},
		{"case without end", sel("case when u.id > 1 then 1"), "select[1].column", "unexpected end at 26 (want end)"},
		{"searched case with a value as condition", sel("case when u.id then 1 end"), "select[1].column", "u.id: want a comparison"},
		{"simple case with a condition as operand", sel("case u.id > 1 when 1 then 2 end"), "select[1].column", "a comparison is only allowed as the condition"},
		{"case result is a condition", sel("case when u.id > 1 then u.id > 2 end"), "select[1].column", "a comparison is only allowed as the condition"},
		{"and of a value", sel("if(u.id > 1 and u.id, 1, 0)"), "select[1].column", "u.id: want a comparison"},
		{"between without and", sel("if(u.id between 1 or 2, 1, 0)"), "select[1].column", `unexpected "or" at 19 (want and)`},
		{"in without a list", sel("if(u.id in 1, 1, 0)"), "select[1].column", `unexpected "1" at 12 (want ()`},
		{"not without like, in or between", sel("if(u.id not null, 1, 0)"), "select[1].column", `unexpected "not" at 9`},
		{"keyword as an operand", sel("if(and > 1, 1, 0)"), "select[1].column", `unexpected "and" at 4`},
		{"nested too deep", sel(strings.Repeat("(", 101) + "u.id" + strings.Repeat(")", 101)), "select[1].column", "nested more than 100 levels deep"},
		{"like on an aggregate in where", func(d *Dataset, s *Scope) {
			d.Where[0] = Filter{Column: "if(max(u.name) like 'a%', 1, 0)", Op: "=", Value: 1}
		}, "where[0].column", "aggregates are not allowed in where"},

		// filters: conditions and any groups
		{"condition that is no condition", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Cond: "u.id + 1"} }, "where[0].cond", "want a comparison"},
		{"condition that does not parse", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Cond: "u.id >"} }, "where[0].cond", "unexpected end at 7"},
		{"condition with op", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Cond: "u.id > 1", Op: "="} }, "where[0].cond", "give cond alone"},
		{"condition with an aggregate in where", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Cond: "count(p.id) > 1"} }, "where[0].cond", "aggregates are not allowed in where"},
		{"output name in a where condition", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Cond: "name = 'x'"} }, "where[0].cond", "name: must be qualified as alias.column"},
		{"unknown output name in a having condition", func(d *Dataset, s *Scope) { d.Having = []Filter{{Cond: "names > 1"}} }, "having[0].cond", "not an output column of select"},
		{"output name inside an aggregate", func(d *Dataset, s *Scope) {
			d.Select = append(d.Select, Selection{Agg: "count", Column: "*", As: "n"})
			d.GroupBy = []string{"u.id", "lower(u.name)", "s.posts"}
			d.Having = []Filter{{Cond: "sum(n) > 1"}}
		}, "having[0].cond", "n: must be qualified as alias.column"},
		{"list parameter in arithmetic in a condition", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Cond: "u.id + :ids > 1"} }, "where[0].cond", `the list parameter "ids"`},
		{"any with a column", func(d *Dataset, s *Scope) {
			d.Where[0] = Filter{Column: "u.id", Any: [][]Filter{{{Cond: "u.id > 1"}}}}
		}, "where[0].any", "give any alone"},
		{"any without groups", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Any: [][]Filter{}} }, "where[0].any", "needs at least one group"},
		{"any with an empty group", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Any: [][]Filter{{{Cond: "u.id > 1"}}, {}}} }, "where[0].any[1]", "an empty group"},
		{"bad operator in an any group", func(d *Dataset, s *Scope) {
			d.Where = append(d.Where, Filter{}, Filter{Any: [][]Filter{{{Cond: "u.id > 1"}}, {{Column: "u.id", Op: "~", Value: 1}}}})
			d.Where[1] = Filter{Column: "u.id", Op: "=", Value: 1}
		}, "where[2].any[1][0].op", "unknown operator"},
		{"bad value in a nested any group", func(d *Dataset, s *Scope) {
			d.Where[0] = Filter{Any: [][]Filter{{{Any: [][]Filter{{{Column: "u.id", Op: "in", Value: []any{}}}}}}}}
		}, "where[0].any[0][0].any[0][0].value", "in needs a non-empty list of values"},
		{"aggregate in an any group of where", func(d *Dataset, s *Scope) {
			d.Where[0] = Filter{Any: [][]Filter{{{Column: "p.views", Agg: "sum", Op: ">", Value: 1}}}}
		}, "where[0].any[0][0].agg", "aggregates are not allowed in where"},

		// functions
		{"unknown function lists the table", sel("median(u.id)"), "select[1].column", `unknown function "median" at 1: want one of abs, avg, case, cast, ceil, char_length,`},
		{"unknown unit", sel("date_add(u.created_at, interval 2 fortnight)"), "select[1].column", `unexpected "fortnight" at 35 (want a unit: microsecond, second, minute, hour, day, week, month, quarter, year)`},
		{"compound unit", sel("extract(year_month from u.created_at)"), "select[1].column", `unexpected "year_month" at 9 (want a unit`},
		{"timestampdiff without a unit", sel("timestampdiff(u.created_at, u.created_at)"), "select[1].column", "(want a unit"},
		{"unknown cast type", sel("cast(u.id as binary)"), "select[1].column", `unexpected "binary" at 14 (want a type: signed, unsigned, decimal(p,s), char, date or datetime)`},
		{"cast scale above precision", sel("cast(u.id as decimal(5,6))"), "select[1].column", "decimal(5,6): want 1 to 65 digits"},
		{"cast precision too large", sel("cast(u.id as decimal(66,2))"), "select[1].column", "want a whole number from 0 to 65"},
		{"cast size from a parameter", sel("cast(u.id as char(:n))"), "select[1].column", "want a whole number from 0 to 65535"},
		{"cast without as", sel("cast(u.id, signed)"), "select[1].column", `unexpected "," at 10 (want as)`},
		{"interval outside date_add", sel("u.created_at + interval 1 day"), "select[1].column", "an interval is only allowed as the second argument of date_add or date_sub"},
		{"date_add without an interval", sel("date_add(u.created_at, 7)"), "select[1].column", "the second argument of date_add is an interval"},
		{"separator from a parameter", sel("group_concat(u.name separator :name)"), "select[1].column", "(want the separator as a 'string')"},
		{"order by outside group_concat", sel("concat(u.name order by u.id)"), "select[1].column", `unexpected "order"`},
		{"distinct in sum", sel("sum(distinct u.id)"), "select[1].column", "distinct is only allowed in count(distinct ...) and group_concat(distinct ...)"},
		{"too few arguments for replace", sel("replace(u.name, 'a')"), "select[1].column", "replace takes 3 arguments"},
		{"group_concat in where", func(d *Dataset, s *Scope) { d.Where[0] = Filter{Column: "group_concat(u.name)", Op: "=", Value: "a"} }, "where[0].column", "aggregates are not allowed in where"},
		{"stddev of an aggregate", sel("stddev(count(u.id))"), "select[1].column", "an aggregate cannot contain another aggregate"},
	})
}

// TestUnknownFunctionListsTable checks that the message of an unknown
// function names every function of the table, so that a new entry is
// listed without another edit.
func TestUnknownFunctionListsTable(t *testing.T) {
	d, s := constructDataset(), constructScope()
	d.Select[1].Column = "sleep(1)"
	msg := errors.Join(d.Validate(s)...).Error()
	for name := range funcs {
		if !strings.Contains(msg, " "+name+",") && !strings.HasSuffix(msg, " "+name) {
			t.Errorf("%q is not listed in %s", name, msg)
		}
	}
}
