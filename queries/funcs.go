package queries

import (
	"fmt"
	"sort"
	"strings"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"
)

// The functions an expression may call (see expr.go): each entry of funcs
// says how a call is checked and how it is compiled. Nothing else can be
// called. A new function is an entry here, with its golden test and its
// line in docs/QUERIES.md.

// funcInfo describes one function of the vetted set.
type funcInfo struct {
	sql      string // SQL name, for SQL(args...)
	min, max int    // number of arguments; max -1 for no limit
	agg      bool   // an aggregate
	distinct bool   // takes distinct before its argument: count(distinct x)
	star     bool   // takes * as its argument: count(*)
	// cond lists the argument positions that must be comparisons (if) or,
	// with condPairs, every even position but a trailing else (case).
	cond      []int
	condPairs bool
	// build compiles a call from its compiled arguments, when that is not
	// SQL(args...).
	build func(args []any, distinct bool) exp.Expression
}

// funcs is the vetted set of functions, by their lower-case names.
var funcs = map[string]funcInfo{
	"coalesce":       {sql: "COALESCE", min: 2, max: -1},
	"concat":         {sql: "CONCAT", min: 1, max: -1},
	"lower":          {sql: "LOWER", min: 1, max: 1},
	"upper":          {sql: "UPPER", min: 1, max: 1},
	"date":           {sql: "DATE", min: 1, max: 1},
	"year":           {sql: "YEAR", min: 1, max: 1},
	"month":          {sql: "MONTH", min: 1, max: 1},
	"date_format":    {sql: "DATE_FORMAT", min: 2, max: 2},
	"datediff":       {sql: "DATEDIFF", min: 2, max: 2},
	"round":          {sql: "ROUND", min: 1, max: 2},
	"if":             {sql: "IF", min: 3, max: 3, cond: []int{0}},
	"case":           {min: 2, max: -1, condPairs: true, build: caseWhen},
	"count":          {sql: "COUNT", min: 1, max: 1, agg: true, distinct: true, star: true, build: countOf},
	"count_distinct": {min: 1, max: 1, agg: true, build: countDistinct},
	"sum":            {sql: "SUM", min: 1, max: 1, agg: true},
	"min":            {sql: "MIN", min: 1, max: 1, agg: true},
	"max":            {sql: "MAX", min: 1, max: 1, agg: true},
	"avg":            {sql: "AVG", min: 1, max: 1, agg: true},
}

// caseWhen compiles case(cmp1, a1, cmp2, a2, ..., else) into CASE WHEN
// cmp1 THEN a1 ... ELSE else END.
func caseWhen(args []any, _ bool) exp.Expression {
	ce := goqu.Case()
	for i := 0; i+1 < len(args); i += 2 {
		ce = ce.When(args[i], args[i+1])
	}
	if len(args)%2 == 1 {
		ce = ce.Else(args[len(args)-1])
	}
	return ce
}

// countOf compiles count(x), count(*) and count(distinct x).
func countOf(args []any, distinct bool) exp.Expression {
	if distinct {
		return countDistinct(args, true)
	}
	return goqu.Func("COUNT", args...)
}

// countDistinct compiles count_distinct(x) into COUNT(DISTINCT x).
func countDistinct(args []any, _ bool) exp.Expression {
	return goqu.COUNT(goqu.DISTINCT(args[0]))
}

// isCondArg reports whether argument i of a call of f must be a comparison.
func (f funcInfo) isCondArg(i, n int) bool {
	if f.condPairs {
		return i%2 == 0 && i != n-1
	}
	for _, c := range f.cond {
		if c == i {
			return true
		}
	}
	return false
}

// argCount says how many arguments f takes.
func (f funcInfo) argCount() string {
	switch {
	case f.min == f.max && f.min == 1:
		return "one argument"
	case f.min == f.max:
		return fmt.Sprintf("%d arguments", f.min)
	case f.max < 0:
		return fmt.Sprintf("at least %d arguments", f.min)
	}
	return fmt.Sprintf("%d to %d arguments", f.min, f.max)
}

func funcNames() string {
	names := make([]string, 0, len(funcs))
	for n := range funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// call checks a call and its arguments (see validator.node).
func (v *validator) call(path, src string, e *expr, c exprCtx, inAgg bool) {
	f, ok := funcs[e.text]
	switch {
	case !ok:
		v.add(path, src, "unknown function %q: want one of %s", e.text, funcNames())
		return
	case f.agg && c.agg != "":
		v.add(path, src, "%s", c.agg)
		return
	case f.agg && inAgg:
		v.add(path, src, "%s: an aggregate cannot contain another aggregate", e)
		return
	case e.distinct && !f.distinct:
		v.add(path, src, "distinct is only allowed in count(distinct ...)")
		return
	case len(e.args) < f.min || f.max >= 0 && len(e.args) > f.max:
		v.add(path, src, "%s takes %s", e.text, f.argCount())
		return
	}
	for i, a := range e.args {
		if a.kind == exStar && f.star && !e.distinct {
			continue
		}
		v.node(path, src, a, c, inAgg || f.agg, f.isCondArg(i, len(e.args)))
	}
}

// call compiles a validated call.
func (c *compiler) call(e *expr) exp.Expression {
	args := make([]any, len(e.args))
	for i, a := range e.args {
		args[i] = c.exprOf(a)
	}
	f := funcs[e.text]
	if f.build != nil {
		return f.build(args, e.distinct)
	}
	return goqu.Func(f.sql, args...)
}
