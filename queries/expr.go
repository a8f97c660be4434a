package queries

import (
	"fmt"
	"math"
	"strings"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"
)

// The expression language of column fields (select, where, on, group_by,
// order_by, window) and of conditions (where and having entries written as
// a condition, the conditions of if and case): its syntax tree, how an
// expression is checked where it is used, and how it is compiled; its
// lexer and parser are in exprparse.go. Literals and parameters are
// always bound values; identifiers are validated; function names come from
// funcs (funcs.go), keywords (units, cast types) from the vetted lists of
// exprparse.go, never from the configuration.
//
//	u.name                              column (alias.column)
//	posts                               select output name (having, order_by)
//	'text', 42, 100.00, true, null      literals, bound as ? arguments (null is NULL)
//	:min_views, :window_start           run parameters, bound as ? arguments
//	lower(u.email)                      function call
//	count(*), count(distinct p.user_id) aggregates
//	i.qty * i.unit_price * (1 - i.discount)   arithmetic: + - * / div % mod, unary -
//	case when p.views > 100 then 'hot' else 'cold' end, case p.kind when 1 then 'a' end
//	if(p.views >= 100 and p.title like '%go%', 'hot', 'cold')
//	cast(x as decimal(10,2)), date_add(o.at, interval 7 day), extract(year from o.at)
//
// Precedence, from the tightest (MySQL's, for the operators it has):
//
//	-  (unary minus)
//	*  /  div  %  mod
//	+  -
//	=  !=  <>  <  <=  >  >=  is [not] null  [not] like  [not] in (...)  [not] between ... and ...
//	not
//	and
//	or
//
// A comparison is not chained (a < b < c is an error: MySQL would compare
// the 0 or 1 of a < b with c). Every node is compiled in parentheses, so
// the SQL's grouping is the tree's whatever the server's precedence.

// exprKind says what an expr node is.
type exprKind uint8

const (
	exColumn   exprKind = iota // text is alias.column
	exName                     // text is an unqualified name
	exStar                     // * (only inside count)
	exValue                    // value is a literal from the configuration: int64, decimalLit, string, bool
	exNull                     // the literal null
	exParam                    // text is a parameter name
	exCall                     // text is the function name, lower case; args
	exCompare                  // args[0] op args[1:]: see compareOps
	exArith                    // args[0] op args[1], op one of + - * / DIV %
	exNeg                      // -args[0]
	exAnd                      // args[0] AND args[1]
	exOr                       // args[0] OR args[1]
	exNot                      // NOT args[0]
	exCase                     // case [args[0] if simple] when/then pairs [else] end
	exInterval                 // INTERVAL args[0] kw (an argument of date_add, date_sub)
)

// expr is a parsed expression.
type expr struct {
	kind exprKind
	text string
	// value is an exValue's literal.
	value any
	// op is an exCompare's operator (= != <> < <= > >= "is null" "is not
	// null" like "not like" in "not in" between "not between") or an
	// exArith's (+ - * / DIV %).
	op string
	// kw is a vetted keyword: the type of cast and convert, the unit of
	// extract, timestampdiff and an interval.
	kw       string
	distinct bool // count(distinct x), group_concat(distinct x)
	// simple and hasElse say how an exCase's args are laid out.
	simple, hasElse bool
	// nOrder is the number of group_concat's order by terms, the last
	// args; desc says which are descending.
	nOrder int
	desc   []bool
	sep    *string // group_concat's separator
	pos    int     // byte offset in the source
	args   []*expr
}

// decimalLit is a literal with a decimal point (or an integer too long for
// int64), kept exact: MySQL reads 100.00 as DECIMAL(5,2), and so does the
// compiled CAST(? AS DECIMAL(5,2)) with "100.00" bound (see
// compiler.exprOf). prec is the number of digits written, scale the number
// after the point, as MySQL's literal has them.
type decimalLit struct {
	text        string
	prec, scale int
}

// MySQL's largest DECIMAL: 65 digits, 30 of them after the point (MariaDB
// allows 38).
const (
	maxDecimalPrec  = 65
	maxDecimalScale = 30
)

// isCond reports whether e is a condition: a comparison or a logical
// operator.
func (e *expr) isCond() bool {
	switch e.kind {
	case exCompare, exAnd, exOr, exNot:
		return true
	}
	return false
}

// plainCall reports whether e is a call without syntax of its own:
// no distinct, cast type, unit, order by or separator.
func (e *expr) plainCall() bool {
	return e.kind == exCall && !e.distinct && e.kw == "" && e.nOrder == 0 && e.sep == nil
}

// String renders the expression canonically: function names and keywords
// in lower case, single spaces, operations in parentheses, literals in Go
// syntax. Two expressions that mean the same have the same canonical form;
// group_by and order_by use it to find the select entry they repeat.
func (e *expr) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *expr) write(b *strings.Builder) {
	list := func(args []*expr) {
		for i, a := range args {
			if i > 0 {
				b.WriteString(", ")
			}
			a.write(b)
		}
	}
	switch e.kind {
	case exStar:
		b.WriteString("*")
	case exNull:
		b.WriteString("null")
	case exValue:
		switch v := e.value.(type) {
		case string:
			b.WriteString("'" + strings.ReplaceAll(v, "'", "''") + "'")
		case decimalLit:
			b.WriteString(v.text)
		default:
			fmt.Fprint(b, v)
		}
	case exParam:
		b.WriteString(":" + e.text)
	case exCall:
		b.WriteString(e.text + "(")
		if e.distinct {
			b.WriteString("distinct ")
		}
		n := len(e.args) - e.nOrder
		switch e.text {
		case "extract":
			b.WriteString(e.kw + " from ")
		case "timestampdiff":
			b.WriteString(e.kw + ", ")
		}
		list(e.args[:n])
		switch e.text {
		case "cast":
			b.WriteString(" as " + e.kw)
		case "convert":
			b.WriteString(", " + e.kw)
		}
		for i, o := range e.args[n:] {
			if i == 0 {
				b.WriteString(" order by ")
			} else {
				b.WriteString(", ")
			}
			o.write(b)
			if e.desc[i] {
				b.WriteString(" desc")
			}
		}
		if e.sep != nil {
			b.WriteString(" separator '" + strings.ReplaceAll(*e.sep, "'", "''") + "'")
		}
		b.WriteString(")")
	case exCompare:
		b.WriteString("(")
		e.args[0].write(b)
		b.WriteString(" " + e.op)
		switch e.op {
		case "is null", "is not null":
		case "in", "not in":
			b.WriteString(" (")
			list(e.args[1:])
			b.WriteString(")")
		case "between", "not between":
			b.WriteString(" ")
			e.args[1].write(b)
			b.WriteString(" and ")
			e.args[2].write(b)
		default:
			b.WriteString(" ")
			e.args[1].write(b)
		}
		b.WriteString(")")
	case exArith, exAnd, exOr:
		op := strings.ToLower(e.op)
		if e.kind == exAnd {
			op = "and"
		} else if e.kind == exOr {
			op = "or"
		}
		b.WriteString("(")
		e.args[0].write(b)
		b.WriteString(" " + op + " ")
		e.args[1].write(b)
		b.WriteString(")")
	case exNeg:
		b.WriteString("(-")
		e.args[0].write(b)
		b.WriteString(")")
	case exNot:
		b.WriteString("(not ")
		e.args[0].write(b)
		b.WriteString(")")
	case exInterval:
		b.WriteString("interval ")
		e.args[0].write(b)
		b.WriteString(" " + e.kw)
	case exCase:
		b.WriteString("case")
		args := e.args
		if e.simple {
			b.WriteString(" ")
			args[0].write(b)
			args = args[1:]
		}
		for i := 0; i+1 < len(args); i += 2 {
			if e.hasElse && i+1 == len(args)-1 {
				break
			}
			b.WriteString(" when ")
			args[i].write(b)
			b.WriteString(" then ")
			args[i+1].write(b)
		}
		if e.hasElse {
			b.WriteString(" else ")
			args[len(args)-1].write(b)
		}
		b.WriteString(" end")
	default:
		b.WriteString(e.text)
	}
}

// walk calls fn for e and every node below it, parents first.
func (e *expr) walk(fn func(*expr)) {
	fn(e)
	for _, a := range e.args {
		a.walk(fn)
	}
}

// hasAggregate reports whether an aggregate function occurs in e.
func (e *expr) hasAggregate() bool {
	found := false
	e.walk(func(x *expr) { found = found || x.kind == exCall && funcs[x.text].agg })
	return found
}

// caseParts returns an exCase's operand (nil for a searched case), its
// when and then expressions in pairs, and its else (nil when there is
// none).
func (e *expr) caseParts() (operand *expr, pairs []*expr, els *expr) {
	args := e.args
	if e.simple {
		operand, args = args[0], args[1:]
	}
	if e.hasElse {
		els, args = args[len(args)-1], args[:len(args)-1]
	}
	return operand, args, els
}

// Checking.

// anyPos is the maxPos of an exprCtx that sees every alias.
const anyPos = math.MaxInt

// exprCtx says what an expression may contain where it is used.
type exprCtx struct {
	maxPos int    // aliases visible (see validator.column)
	agg    string // why aggregates are not allowed here; "" when they are
	names  bool   // a bare select output name is allowed (as the whole expression)
	// namesIn allows a bare select output name anywhere outside a
	// function (a having condition: posts > 2 * :min).
	namesIn bool
}

// expr parses and checks one column field. It returns the parsed expression
// and whether it is valid.
func (v *validator) expr(path, src string, c exprCtx) (*expr, bool) {
	return v.parsed(path, src, c, false)
}

// cond parses and checks a condition: a where or having entry written as
// one.
func (v *validator) cond(path, src string, c exprCtx) (*expr, bool) {
	return v.parsed(path, src, c, true)
}

func (v *validator) parsed(path, src string, c exprCtx, cond bool) (*expr, bool) {
	if strings.TrimSpace(src) == "" {
		v.missing(path, "required")
		return nil, false
	}
	e, err := parseExpr(src)
	if err != nil {
		v.add(path, src, "invalid column or expression: %v", err)
		return nil, false
	}
	if cond {
		n := len(v.errs)
		v.node(path, src, e, c, false, true)
		return e, len(v.errs) == n
	}
	return e, v.check(path, src, e, c)
}

// check checks a parsed expression; src is shown in errors.
func (v *validator) check(path, src string, e *expr, c exprCtx) bool {
	n := len(v.errs)
	switch {
	case e.kind == exName && c.names:
		v.outputName(path, e.text)
	case e.kind == exName && identRE.MatchString(src):
		v.add(path, src, "must be qualified as alias.column")
	default:
		v.node(path, src, e, c, false, false)
	}
	return len(v.errs) == n
}

// node checks e and what is below it. inAgg is set inside an aggregate's
// argument; cond when e must be a condition (the condition of if or case,
// a where or having condition).
func (v *validator) node(path, src string, e *expr, c exprCtx, inAgg, cond bool) {
	if cond != e.isCond() {
		if cond {
			v.add(path, src, "%s: want a comparison (a = b, a > b, a is null, ...) as the condition", e)
		} else {
			v.add(path, src, "a comparison is only allowed as the condition of if or case, or as a where or having condition: %s", e)
		}
		return
	}
	values := func(args []*expr) {
		for _, a := range args {
			v.node(path, src, a, c, inAgg, false)
		}
	}
	switch e.kind {
	case exColumn:
		v.column(path, src, e.text, c.maxPos)
	case exName:
		if c.namesIn && !inAgg {
			v.outputName(path, e.text)
			return
		}
		v.add(path, src, "%s: must be qualified as alias.column (a select output name can only stand alone)", e.text)
	case exStar:
		v.add(path, src, `"*" is only allowed in count(*)`)
	case exParam:
		if p := v.paramRef(path, e.text); p != nil && p.isList() {
			v.add(path, src, "the list parameter %q can only be used with op: in or not in, or in (:%s)", e.text, e.text)
		}
	case exCompare:
		for i, a := range e.args {
			switch {
			case a.kind == exNull:
				v.add(path, src, "%s: null is never equal or unequal to anything: use is null or is not null", e)
				return
			case i > 0 && len(e.args) == 2 && (e.op == "in" || e.op == "not in") && a.kind == exParam:
				v.paramRef(path, a.text) // a list parameter or a single value: both bind
				continue
			}
			v.node(path, src, a, c, inAgg, false)
		}
	case exArith, exNeg:
		values(e.args)
	case exAnd, exOr, exNot:
		for _, a := range e.args {
			v.node(path, src, a, c, inAgg, true)
		}
	case exCase:
		operand, pairs, els := e.caseParts()
		if operand != nil {
			v.node(path, src, operand, c, inAgg, false)
		}
		for i := 0; i < len(pairs); i += 2 {
			v.node(path, src, pairs[i], c, inAgg, operand == nil)
			v.node(path, src, pairs[i+1], c, inAgg, false)
		}
		if els != nil {
			v.node(path, src, els, c, inAgg, false)
		}
	case exInterval:
		v.add(path, src, "%s: an interval is only allowed as the second argument of date_add or date_sub", e)
	case exCall:
		v.call(path, src, e, c, inAgg)
	}
}

// Compiling.

// parse parses an expression that Validate has accepted. The trees are
// kept by source text for the compiler's lifetime: the two compiles of
// Compile, and the lookups of group_by and order_by terms among the select
// entries, parse each expression once. Nothing changes a tree once parsed.
func (c *compiler) parse(src string) *expr {
	return c.memo(src, func() (*expr, error) { return parseExpr(src) })
}

// memo returns the tree kept under key, made by parse the first time.
func (c *compiler) memo(key string, parse func() (*expr, error)) *expr {
	if e, ok := c.parsed[key]; ok {
		return e
	}
	e, err := parse()
	if err != nil {
		panic(fmt.Sprintf("queries: validated expression %q does not parse: %v", key, err))
	}
	if c.parsed == nil {
		c.parsed = map[string]*expr{}
	}
	c.parsed[key] = e
	return e
}

// exprOf compiles a validated expression. Every operator is compiled in
// parentheses; the operators and keywords written into the SQL come from
// the parser's fixed sets, never from the source text.
func (c *compiler) exprOf(e *expr) exp.Expression {
	switch e.kind {
	case exColumn:
		return goqu.I(e.text)
	case exName:
		if s, ok := c.names[strings.ToLower(e.text)]; ok {
			return c.exprOf(s)
		}
		return goqu.I(e.text)
	case exStar:
		return goqu.Star()
	case exNull:
		return goqu.L("NULL")
	case exValue:
		if d, ok := e.value.(decimalLit); ok {
			return goqu.L(fmt.Sprintf("CAST(? AS DECIMAL(%d,%d))", d.prec, d.scale), c.literal(d.text))
		}
		return goqu.V(c.literal(e.value))
	case exParam:
		return goqu.V(c.param(e.text))
	case exArith:
		return goqu.L("(? "+e.op+" ?)", c.exprOf(e.args[0]), c.exprOf(e.args[1]))
	case exNeg:
		return goqu.L("(-?)", c.exprOf(e.args[0]))
	case exAnd:
		return goqu.And(c.exprOf(e.args[0]), c.exprOf(e.args[1]))
	case exOr:
		return goqu.Or(c.exprOf(e.args[0]), c.exprOf(e.args[1]))
	case exNot:
		return goqu.L("(NOT ?)", c.exprOf(e.args[0]))
	case exInterval:
		return goqu.L("INTERVAL ? "+strings.ToUpper(e.kw), c.exprOf(e.args[0]))
	case exCase:
		return c.caseOf(e)
	case exCompare:
		return c.comparison(e)
	}
	return c.call(e)
}

// caseOf compiles case ... end.
func (c *compiler) caseOf(e *expr) exp.Expression {
	operand, pairs, els := e.caseParts()
	ce := goqu.Case()
	if operand != nil {
		ce = ce.Value(c.exprOf(operand))
	}
	for i := 0; i < len(pairs); i += 2 {
		ce = ce.When(c.exprOf(pairs[i]), c.exprOf(pairs[i+1]))
	}
	if els != nil {
		ce = ce.Else(c.exprOf(els))
	}
	return ce
}

// comparison compiles an exCompare.
func (c *compiler) comparison(e *expr) exp.Expression {
	l := operandOf(c.exprOf(e.args[0]))
	switch e.op {
	case "in", "not in":
		var list []any
		for _, a := range e.args[1:] {
			if a.kind == exParam && len(e.args) == 2 {
				if _, ok := c.env.Params[a.text].([]any); ok {
					list = append(list, c.paramList(a.text)...)
					continue
				}
			}
			list = append(list, c.exprOf(a))
		}
		if e.op == "in" {
			return l.In(list)
		}
		return l.NotIn(list)
	case "between":
		return l.Between(goqu.Range(c.exprOf(e.args[1]), c.exprOf(e.args[2])))
	case "not between":
		return l.NotBetween(goqu.Range(c.exprOf(e.args[1]), c.exprOf(e.args[2])))
	case "like":
		return l.ILike(c.exprOf(e.args[1])) // plain LIKE: see compiler.filter
	case "not like":
		return l.NotILike(c.exprOf(e.args[1]))
	}
	var r any
	if len(e.args) == 2 {
		r = c.exprOf(e.args[1])
	}
	return c.compare(l, e.op, r)
}

// compare builds l op r for the comparison operators of on and if/case.
func (c *compiler) compare(l exp.Expression, op string, r any) exp.Expression {
	lo := operandOf(l)
	switch op {
	case "=":
		return lo.Eq(r)
	case "!=", "<>":
		return lo.Neq(r)
	case "<":
		return lo.Lt(r)
	case "<=":
		return lo.Lte(r)
	case ">":
		return lo.Gt(r)
	case "is null":
		return lo.IsNull()
	case "is not null":
		return lo.IsNotNull()
	default: // ">=", the last one Validate accepts
		return lo.Gte(r)
	}
}

// literal returns a value of the configuration as bound.
func (c *compiler) literal(v any) any {
	if c.label {
		return labelMark
	}
	return bindable(v)
}

// bindable turns booleans into 1 and 0: goqu compiles Eq(true) to IS TRUE
// and Neq(true) to IS NOT TRUE, which differ from = and != (2 IS TRUE holds,
// NULL IS NOT TRUE holds).
func bindable(v any) any {
	if b, ok := v.(bool); ok {
		if b {
			return 1
		}
		return 0
	}
	return v
}

// operand is what a filter compares: a column or an expression.
type operand interface {
	exp.Expression
	exp.Comparable
	exp.Inable
	exp.Isable
	exp.Likeable
	exp.Rangeable
}

// operandOf makes any expression comparable; goqu's CASE is not.
func operandOf(x exp.Expression) operand {
	if o, ok := x.(operand); ok {
		return o
	}
	return goqu.L("?", x)
}
