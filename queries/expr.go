package queries

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"
)

// The expression language of column fields (select, where, on, group_by,
// order_by, window): its syntax tree, lexer and parser, how an expression
// is checked where it is used, and how it is compiled. It is deliberately
// small: a column, a select output name, a literal, a :parameter, or a
// call of a vetted function whose arguments are expressions again.
// Literals and parameters are always bound values; identifiers are
// validated; function names come from funcs (funcs.go), never from the
// configuration.
//
//	u.name                              column (alias.column)
//	posts                               select output name (having, order_by)
//	'text', 42, -1.5, true, false       literals, bound as ? arguments
//	:min_views, :window_start           run parameters, bound as ? arguments
//	lower(u.email)                      function call
//	count(*), count(distinct p.user_id) aggregates
//	if(p.views >= 100, 'hot', 'cold')   a comparison is allowed as the
//	case(p.views > 100, 'hot', p.views > 10, 'warm', 'cold')   condition of if/case

// exprKind says what an expr node is.
type exprKind uint8

const (
	exColumn  exprKind = iota // text is alias.column
	exName                    // text is an unqualified name
	exStar                    // * (only inside count)
	exValue                   // value is a literal from the configuration
	exParam                   // text is a parameter name
	exCall                    // text is the function name, lower case; args
	exCompare                 // args[0] op args[1], or args[0] op (is null / is not null)
)

// expr is a parsed expression.
type expr struct {
	kind     exprKind
	text     string
	value    any
	op       string // exCompare: = != <> < <= > >= "is null" "is not null"
	distinct bool   // exCall count(distinct x)
	args     []*expr
}

// String renders the expression canonically: function names in lower case,
// single spaces, literals in Go syntax. Two expressions that mean the same
// have the same canonical form; group_by and order_by use it to find the
// select entry they repeat.
func (e *expr) String() string {
	switch e.kind {
	case exStar:
		return "*"
	case exValue:
		if s, ok := e.value.(string); ok {
			return "'" + strings.ReplaceAll(s, "'", "''") + "'"
		}
		return fmt.Sprint(e.value)
	case exParam:
		return ":" + e.text
	case exCall:
		args := make([]string, len(e.args))
		for i, a := range e.args {
			args[i] = a.String()
		}
		d := ""
		if e.distinct {
			d = "distinct "
		}
		return e.text + "(" + d + strings.Join(args, ", ") + ")"
	case exCompare:
		if len(e.args) == 1 {
			return e.args[0].String() + " " + e.op
		}
		return e.args[0].String() + " " + e.op + " " + e.args[1].String()
	}
	return e.text
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

// token kinds of the lexer.
type tokKind uint8

const (
	tkEOF tokKind = iota
	tkIdent
	tkNumber
	tkString
	tkParam
	tkOp // comparison operator
	tkPunct
)

type token struct {
	kind tokKind
	text string // for tkString the unquoted value
	pos  int    // byte offset in the source
	end  int
}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	isIdentStart := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i < len(src) {
		c := src[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case isIdentStart(c):
			for i < len(src) && isIdent(src[i]) {
				i++
			}
			toks = append(toks, token{tkIdent, src[start:i], start, i})
		case isDigit(c) || c == '-' && i+1 < len(src) && isDigit(src[i+1]):
			i++
			for i < len(src) && (isDigit(src[i]) || src[i] == '.') {
				i++
			}
			if i < len(src) && isIdent(src[i]) {
				return nil, fmt.Errorf("unexpected %q after a number", src[i])
			}
			toks = append(toks, token{tkNumber, src[start:i], start, i})
		case c == ':':
			i++
			for i < len(src) && isIdent(src[i]) {
				i++
			}
			if i == start+1 {
				return nil, fmt.Errorf("a parameter needs a name after ':'")
			}
			toks = append(toks, token{tkParam, src[start+1 : i], start, i})
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(src) {
					return nil, fmt.Errorf("unterminated string")
				}
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			toks = append(toks, token{tkString, b.String(), start, i})
		case c == '(' || c == ')' || c == ',' || c == '.' || c == '*':
			i++
			toks = append(toks, token{tkPunct, src[start:i], start, i})
		case c == '=' || c == '<' || c == '>' || c == '!':
			i++
			if i < len(src) && (src[i] == '=' && c != '=' || c == '<' && src[i] == '>') {
				i++
			}
			op := src[start:i]
			if op == "!" || op == "<=>" {
				return nil, fmt.Errorf("unknown operator %q", op)
			}
			toks = append(toks, token{tkOp, op, start, i})
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return append(toks, token{kind: tkEOF, pos: len(src), end: len(src)}), nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

// back undoes next() of t.
func (p *parser) back(t token) {
	if t.kind != tkEOF {
		p.i--
	}
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.kind == tkPunct && t.text == s
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tkIdent && strings.EqualFold(t.text, w)
}

func (p *parser) expect(s string) error {
	if !p.isPunct(s) {
		return p.unexpected("want " + s)
	}
	p.next()
	return nil
}

func (p *parser) unexpected(want string) error {
	t := p.peek()
	if t.kind == tkEOF {
		return fmt.Errorf("unexpected end (%s)", want)
	}
	return fmt.Errorf("unexpected %q at %d (%s)", t.text, t.pos+1, want)
}

// parseExpr parses a whole expression (no top-level comparison).
func parseExpr(src string) (*expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.primary()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tkEOF {
		return nil, p.unexpected("want the end of the expression")
	}
	return e, nil
}

// splitComparison parses "left OP right" and returns the source text of
// each side with the operator; used by the on-condition shorthand.
func splitComparison(src string) (left, op, right string, err error) {
	toks, err := lex(src)
	if err != nil {
		return "", "", "", err
	}
	p := &parser{toks: toks}
	if _, err := p.primary(); err != nil {
		return "", "", "", err
	}
	opTok := p.next()
	if opTok.kind != tkOp {
		p.back(opTok)
		return "", "", "", p.unexpected("want a comparison operator")
	}
	rightStart := p.peek().pos
	if _, err := p.primary(); err != nil {
		return "", "", "", err
	}
	if p.peek().kind != tkEOF {
		return "", "", "", p.unexpected("want the end of the condition")
	}
	return strings.TrimSpace(src[:opTok.pos]), opTok.text, strings.TrimSpace(src[rightStart:]), nil
}

// cond parses an argument: an expression, optionally compared.
func (p *parser) cond() (*expr, error) {
	left, err := p.primary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tkOp {
		p.next()
		right, err := p.primary()
		if err != nil {
			return nil, err
		}
		return &expr{kind: exCompare, op: t.text, args: []*expr{left, right}}, nil
	}
	if p.isWord("is") {
		p.next()
		op := "is null"
		if p.isWord("not") {
			p.next()
			op = "is not null"
		}
		if !p.isWord("null") {
			return nil, p.unexpected("want null")
		}
		p.next()
		return &expr{kind: exCompare, op: op, args: []*expr{left}}, nil
	}
	return left, nil
}

func (p *parser) primary() (*expr, error) {
	t := p.next()
	switch t.kind {
	case tkNumber:
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return &expr{kind: exValue, value: i}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid number %q", t.text)
		}
		return &expr{kind: exValue, value: f}, nil
	case tkString:
		return &expr{kind: exValue, value: t.text}, nil
	case tkParam:
		return &expr{kind: exParam, text: t.text}, nil
	case tkPunct:
		if t.text == "*" {
			return &expr{kind: exStar}, nil
		}
	case tkIdent:
		switch {
		case p.isPunct("("):
			return p.call(t.text)
		case p.isPunct("."):
			p.next()
			col := p.next()
			if col.kind != tkIdent {
				p.back(col)
				return nil, p.unexpected("want a column name after " + t.text + ".")
			}
			return &expr{kind: exColumn, text: t.text + "." + col.text}, nil
		case strings.EqualFold(t.text, "true"), strings.EqualFold(t.text, "false"):
			return &expr{kind: exValue, value: strings.EqualFold(t.text, "true")}, nil
		}
		return &expr{kind: exName, text: t.text}, nil
	}
	p.back(t)
	return nil, p.unexpected("want a column, a value, a :parameter or a function call")
}

func (p *parser) call(name string) (*expr, error) {
	p.next() // (
	e := &expr{kind: exCall, text: strings.ToLower(name)}
	if p.isWord("distinct") && p.toks[p.i+1].kind != tkPunct {
		p.next()
		e.distinct = true
	}
	if p.isPunct(")") {
		p.next()
		return e, nil
	}
	for {
		a, err := p.cond()
		if err != nil {
			return nil, err
		}
		e.args = append(e.args, a)
		if p.isPunct(",") {
			p.next()
			continue
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return e, nil
	}
}

// Checking.

// anyPos is the maxPos of an exprCtx that sees every alias.
const anyPos = math.MaxInt

// exprCtx says what an expression may contain where it is used.
type exprCtx struct {
	maxPos int    // aliases visible (see validator.column)
	agg    string // why aggregates are not allowed here; "" when they are
	names  bool   // a bare select output name is allowed (as the whole expression)
}

// expr parses and checks one column field. It returns the parsed expression
// and whether it is valid.
func (v *validator) expr(path, src string, c exprCtx) (*expr, bool) {
	if strings.TrimSpace(src) == "" {
		v.missing(path, "required")
		return nil, false
	}
	e, err := parseExpr(src)
	if err != nil {
		v.add(path, src, "invalid column or expression: %v", err)
		return nil, false
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
// argument; cond when e is the condition argument of if or case.
func (v *validator) node(path, src string, e *expr, c exprCtx, inAgg, cond bool) {
	if cond != (e.kind == exCompare) {
		if cond {
			v.add(path, src, "%s: want a comparison (a = b, a > b, a is null, ...) as the condition", e)
		} else {
			v.add(path, src, "a comparison is only allowed as the condition of if or case")
		}
		return
	}
	switch e.kind {
	case exColumn:
		v.column(path, src, e.text, c.maxPos)
	case exName:
		v.add(path, src, "%s: must be qualified as alias.column (a select output name can only stand alone)", e.text)
	case exStar:
		v.add(path, src, `"*" is only allowed in count(*)`)
	case exParam:
		if p := v.paramRef(path, e.text); p != nil && p.isList() {
			v.add(path, src, "the list parameter %q can only be used with op: in or not in", e.text)
		}
	case exCompare:
		for _, a := range e.args {
			v.node(path, src, a, c, inAgg, false)
		}
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

// exprOf compiles a validated expression.
func (c *compiler) exprOf(e *expr) exp.Expression {
	switch e.kind {
	case exColumn, exName:
		return goqu.I(e.text)
	case exStar:
		return goqu.Star()
	case exValue:
		return goqu.V(c.literal(e.value))
	case exParam:
		return goqu.V(c.param(e.text))
	case exCompare:
		var r any
		if len(e.args) == 2 {
			r = c.exprOf(e.args[1])
		}
		return c.compare(c.exprOf(e.args[0]), e.op, r)
	}
	return c.call(e)
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
