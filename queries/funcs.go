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
	// interval says that the second argument is an interval:
	// date_add(x, interval 7 day).
	interval bool
	// build compiles a call from its compiled arguments, when that is not
	// SQL(args...); e is the call, with its keyword, order and separator.
	build func(e *expr, args []any) exp.Expression
}

// funcs is the vetted set of functions, by their lower-case names. The
// functions with syntax of their own inside the parentheses (cast,
// convert, extract, timestampdiff, group_concat, and the interval of
// date_add and date_sub) are parsed in expr.go; their keywords come from
// its vetted lists.
var funcs = map[string]funcInfo{
	"coalesce":       {sql: "COALESCE", min: 2, max: -1},
	"concat":         {sql: "CONCAT", min: 1, max: -1},
	"concat_ws":      {sql: "CONCAT_WS", min: 2, max: -1},
	"lower":          {sql: "LOWER", min: 1, max: 1},
	"upper":          {sql: "UPPER", min: 1, max: 1},
	"substring":      {sql: "SUBSTRING", min: 2, max: 3},
	"left":           {sql: "LEFT", min: 2, max: 2},
	"right":          {sql: "RIGHT", min: 2, max: 2},
	"trim":           {sql: "TRIM", min: 1, max: 1},
	"length":         {sql: "LENGTH", min: 1, max: 1},
	"char_length":    {sql: "CHAR_LENGTH", min: 1, max: 1},
	"replace":        {sql: "REPLACE", min: 3, max: 3},
	"date":           {sql: "DATE", min: 1, max: 1},
	"year":           {sql: "YEAR", min: 1, max: 1},
	"month":          {sql: "MONTH", min: 1, max: 1},
	"week":           {sql: "WEEK", min: 1, max: 2},
	"quarter":        {sql: "QUARTER", min: 1, max: 1},
	"dayofweek":      {sql: "DAYOFWEEK", min: 1, max: 1},
	"last_day":       {sql: "LAST_DAY", min: 1, max: 1},
	"date_format":    {sql: "DATE_FORMAT", min: 2, max: 2},
	"datediff":       {sql: "DATEDIFF", min: 2, max: 2},
	"date_add":       {sql: "DATE_ADD", min: 2, max: 2, interval: true},
	"date_sub":       {sql: "DATE_SUB", min: 2, max: 2, interval: true},
	"timestampdiff":  {min: 2, max: 2, build: unitFirst},
	"extract":        {min: 1, max: 1, build: extractOf},
	"convert_tz":     {sql: "CONVERT_TZ", min: 3, max: 3},
	"abs":            {sql: "ABS", min: 1, max: 1},
	"ceil":           {sql: "CEIL", min: 1, max: 1},
	"floor":          {sql: "FLOOR", min: 1, max: 1},
	"round":          {sql: "ROUND", min: 1, max: 2},
	"greatest":       {sql: "GREATEST", min: 2, max: -1},
	"least":          {sql: "LEAST", min: 2, max: -1},
	"ifnull":         {sql: "IFNULL", min: 2, max: 2},
	"nullif":         {sql: "NULLIF", min: 2, max: 2},
	"cast":           {min: 1, max: 1, build: castOf},
	"convert":        {min: 1, max: 1, build: convertOf},
	"if":             {sql: "IF", min: 3, max: 3, cond: []int{0}},
	"case":           {min: 2, max: -1, condPairs: true, build: caseWhen},
	"count":          {sql: "COUNT", min: 1, max: 1, agg: true, distinct: true, star: true, build: countOf},
	"count_distinct": {min: 1, max: 1, agg: true, build: countDistinct},
	"sum":            {sql: "SUM", min: 1, max: 1, agg: true},
	"min":            {sql: "MIN", min: 1, max: 1, agg: true},
	"max":            {sql: "MAX", min: 1, max: 1, agg: true},
	"avg":            {sql: "AVG", min: 1, max: 1, agg: true},
	"stddev":         {sql: "STDDEV", min: 1, max: 1, agg: true},
	"variance":       {sql: "VARIANCE", min: 1, max: 1, agg: true},
	"group_concat":   {min: 1, max: -1, agg: true, distinct: true, build: groupConcat},
}

// caseWhen compiles case(cmp1, a1, cmp2, a2, ..., else) into CASE WHEN
// cmp1 THEN a1 ... ELSE else END.
func caseWhen(_ *expr, args []any) exp.Expression {
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
func countOf(e *expr, args []any) exp.Expression {
	if e.distinct {
		return countDistinct(e, args)
	}
	return goqu.Func("COUNT", args...)
}

// countDistinct compiles count_distinct(x) into COUNT(DISTINCT x).
func countDistinct(_ *expr, args []any) exp.Expression {
	return goqu.COUNT(goqu.DISTINCT(args[0]))
}

// castOf compiles cast(x as type); the type is one castType wrote.
func castOf(e *expr, args []any) exp.Expression {
	return goqu.L("CAST(? AS "+e.kw+")", args[0])
}

// convertOf compiles convert(x, type).
func convertOf(e *expr, args []any) exp.Expression {
	return goqu.L("CONVERT(?, "+e.kw+")", args[0])
}

// extractOf compiles extract(unit from x); the unit is one of units.
func extractOf(e *expr, args []any) exp.Expression {
	return goqu.L("EXTRACT("+strings.ToUpper(e.kw)+" FROM ?)", args[0])
}

// unitFirst compiles timestampdiff(unit, a, b).
func unitFirst(e *expr, args []any) exp.Expression {
	return goqu.L("TIMESTAMPDIFF("+strings.ToUpper(e.kw)+", ?, ?)", args[0], args[1])
}

// groupConcat compiles group_concat([distinct] x, ... [order by y [desc],
// ...] [separator 's']). MySQL's grammar takes the separator only as a
// literal, so it cannot be bound: it is written as a hexadecimal literal
// of its bytes (X'2C20' for ", "), in which no text of the configuration
// can end the literal.
func groupConcat(e *expr, args []any) exp.Expression {
	var b strings.Builder
	b.WriteString("GROUP_CONCAT(")
	if e.distinct {
		b.WriteString("DISTINCT ")
	}
	n := len(args) - e.nOrder
	for i := range args {
		switch {
		case i == n:
			b.WriteString(" ORDER BY ")
		case i > 0:
			b.WriteString(", ")
		}
		b.WriteString("?")
		if i >= n {
			if e.desc[i-n] {
				b.WriteString(" DESC")
			} else {
				b.WriteString(" ASC")
			}
		}
	}
	if e.sep != nil {
		fmt.Fprintf(&b, " SEPARATOR X'%X'", *e.sep)
	}
	b.WriteString(")")
	return goqu.L(b.String(), args...)
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
	nArgs := len(e.args) - e.nOrder
	switch {
	case !ok:
		v.add(path, src, "unknown function %q at %d: want one of %s", e.text, e.pos+1, funcNames())
		return
	case f.agg && c.agg != "":
		v.add(path, src, "%s", c.agg)
		return
	case f.agg && inAgg:
		v.add(path, src, "%s: an aggregate cannot contain another aggregate", e)
		return
	case e.distinct && !f.distinct:
		v.add(path, src, "distinct is only allowed in count(distinct ...) and group_concat(distinct ...)")
		return
	case nArgs < f.min || f.max >= 0 && nArgs > f.max:
		v.add(path, src, "%s takes %s", e.text, f.argCount())
		return
	}
	for i, a := range e.args {
		switch {
		case a.kind == exStar && f.star && !e.distinct:
			continue
		case f.interval && i == 1:
			if a.kind != exInterval {
				v.add(path, src, "%s: the second argument of %s is an interval: %s(x, interval 7 day)", e, e.text, e.text)
				continue
			}
			v.node(path, src, a.args[0], c, inAgg || f.agg, false)
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
		return f.build(e, args)
	}
	return goqu.Func(f.sql, args...)
}
