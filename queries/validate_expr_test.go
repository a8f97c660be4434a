package queries

import (
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
	})
}
