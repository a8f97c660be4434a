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
// order_by, window) and of conditions (where and having entries written as
// a condition, the conditions of if and case): its syntax tree, lexer and
// parser, how an expression is checked where it is used, and how it is
// compiled. Literals and parameters are always bound values; identifiers
// are validated; function names come from funcs (funcs.go), keywords
// (units, cast types) from the vetted lists below, never from the
// configuration.
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

// exprError is an error in the text of an expression, at a byte offset of
// it: every error of the lexer and the parser is one.
type exprError struct {
	pos  int // byte offset; the length of the source for its end
	msg  string
	want string // what was expected, "" when nothing in particular
}

func (e *exprError) Error() string {
	if e.want == "" {
		return fmt.Sprintf("%s at %d", e.msg, e.pos+1)
	}
	return fmt.Sprintf("%s at %d (%s)", e.msg, e.pos+1, e.want)
}

func errAt(pos int, want, format string, args ...any) error {
	return &exprError{pos: pos, msg: fmt.Sprintf(format, args...), want: want}
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
		case isDigit(c):
			for i < len(src) && isDigit(src[i]) {
				i++
			}
			if i+1 < len(src) && src[i] == '.' && isDigit(src[i+1]) {
				i++
				for i < len(src) && isDigit(src[i]) {
					i++
				}
			}
			if i < len(src) && (isIdent(src[i]) || src[i] == '.') {
				return nil, errAt(i, "", "unexpected %q after a number", src[i])
			}
			toks = append(toks, token{tkNumber, src[start:i], start, i})
		case c == ':':
			i++
			for i < len(src) && isIdent(src[i]) {
				i++
			}
			if i == start+1 {
				return nil, errAt(start, "", "a parameter needs a name after ':'")
			}
			toks = append(toks, token{tkParam, src[start+1 : i], start, i})
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(src) {
					return nil, errAt(start, "", "unterminated string")
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
		case strings.IndexByte("(),.*+-/%", c) >= 0:
			i++
			toks = append(toks, token{tkPunct, src[start:i], start, i})
		case c == '=' || c == '<' || c == '>' || c == '!':
			i++
			if i < len(src) && (src[i] == '=' && c != '=' || c == '<' && src[i] == '>') {
				i++
			}
			op := src[start:i]
			if op == "!" || op == "<=>" {
				return nil, errAt(start, "", "unknown operator %q", op)
			}
			toks = append(toks, token{tkOp, op, start, i})
		default:
			return nil, errAt(start, "", "unexpected character %q", c)
		}
	}
	return append(toks, token{kind: tkEOF, pos: len(src), end: len(src)}), nil
}

// keywords cannot stand as a name or an operand: they belong to the
// syntax.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "like": true, "in": true, "between": true, "is": true,
	"when": true, "then": true, "else": true, "end": true, "div": true, "mod": true, "as": true,
	"from": true, "order": true, "by": true, "separator": true, "asc": true, "desc": true, "distinct": true,
}

// The units of interval, extract and timestampdiff.
var units = []string{"microsecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year"}

// maxDepth bounds the nesting of an expression, so that no text makes the
// parser recurse without end.
const maxDepth = 100

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

// peekAt returns the token k places after the next one.
func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

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

func (p *parser) isWord(w string) bool { return isWord(p.peek(), w) }

func isWord(t token, w string) bool { return t.kind == tkIdent && strings.EqualFold(t.text, w) }

func (p *parser) expect(s string) error {
	if !p.isPunct(s) {
		return p.unexpected("want " + s)
	}
	p.next()
	return nil
}

func (p *parser) expectWord(w string) error {
	if !p.isWord(w) {
		return p.unexpected("want " + w)
	}
	p.next()
	return nil
}

func (p *parser) unexpected(want string) error {
	t := p.peek()
	if t.kind == tkEOF {
		return errAt(t.pos, want, "unexpected end")
	}
	return errAt(t.pos, want, "unexpected %q", t.text)
}

// parseExpr parses a whole expression or condition.
func parseExpr(src string) (*expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.condition()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tkEOF {
		return nil, p.unexpected("want the end of the expression")
	}
	return e, nil
}

// splitComparison parses "left OP right", each side an expression, and
// returns the source text of each side with the operator; used by the
// on-condition shorthand.
func splitComparison(src string) (left, op, right string, err error) {
	toks, err := lex(src)
	if err != nil {
		return "", "", "", err
	}
	p := &parser{toks: toks}
	if _, err := p.arith(); err != nil {
		return "", "", "", err
	}
	opTok := p.next()
	if opTok.kind != tkOp {
		p.back(opTok)
		return "", "", "", p.unexpected("want a comparison operator")
	}
	rightStart := p.peek().pos
	if _, err := p.arith(); err != nil {
		return "", "", "", err
	}
	if p.peek().kind != tkEOF {
		return "", "", "", p.unexpected("want the end of the condition")
	}
	return strings.TrimSpace(src[:opTok.pos]), opTok.text, strings.TrimSpace(src[rightStart:]), nil
}

// enter counts one level of nesting; leave must follow.
func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errAt(p.peek().pos, "", "nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// condition parses or, the loosest operator.
func (p *parser) condition() (*expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.logical("or", exOr, p.and)
}

func (p *parser) and() (*expr, error) { return p.logical("and", exAnd, p.not) }

// logical parses operands joined by the word of an and or or.
func (p *parser) logical(word string, kind exprKind, operand func() (*expr, error)) (*expr, error) {
	left, err := operand()
	for err == nil && p.isWord(word) {
		t := p.next()
		var right *expr
		if right, err = operand(); err == nil {
			left = &expr{kind: kind, pos: t.pos, args: []*expr{left, right}}
		}
	}
	return left, err
}

func (p *parser) not() (*expr, error) {
	if !p.isWord("not") {
		return p.predicate()
	}
	t := p.next()
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	return &expr{kind: exNot, pos: t.pos, args: []*expr{x}}, nil
}

// predicate parses an expression, compared once at most.
func (p *parser) predicate() (*expr, error) {
	left, err := p.arith()
	if err != nil {
		return nil, err
	}
	e, err := p.comparison(left)
	if err != nil || e == left {
		return e, err
	}
	if t := p.peek(); t.kind == tkOp || p.isWord("is") || p.isWord("like") || p.isWord("in") || p.isWord("between") ||
		p.isWord("not") && (isWord(p.peekAt(1), "like") || isWord(p.peekAt(1), "in") || isWord(p.peekAt(1), "between")) {
		return nil, errAt(t.pos, "", "comparisons cannot be chained: join them with and")
	}
	return e, nil
}

// comparison parses what follows left in a comparison, if anything; it
// returns left when nothing does.
func (p *parser) comparison(left *expr) (*expr, error) {
	t := p.peek()
	cmp := func(op string, args ...*expr) *expr {
		return &expr{kind: exCompare, op: op, pos: t.pos, args: append([]*expr{left}, args...)}
	}
	if t.kind == tkOp {
		p.next()
		right, err := p.arith()
		if err != nil {
			return nil, err
		}
		return cmp(t.text, right), nil
	}
	if p.isWord("is") {
		p.next()
		op := "is null"
		if p.isWord("not") {
			p.next()
			op = "is not null"
		}
		if err := p.expectWord("null"); err != nil {
			return nil, err
		}
		return cmp(op), nil
	}
	neg := ""
	if p.isWord("not") {
		if w := p.peekAt(1); !isWord(w, "like") && !isWord(w, "in") && !isWord(w, "between") {
			return left, nil
		}
		p.next()
		neg = "not "
	}
	switch {
	case p.isWord("like"):
		p.next()
		right, err := p.arith()
		if err != nil {
			return nil, err
		}
		return cmp(neg+"like", right), nil
	case p.isWord("in"):
		p.next()
		if err := p.expect("("); err != nil {
			return nil, err
		}
		var list []*expr
		for {
			x, err := p.arith()
			if err != nil {
				return nil, err
			}
			list = append(list, x)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return cmp(neg+"in", list...), nil
	case p.isWord("between"):
		p.next()
		lo, err := p.arith()
		if err != nil {
			return nil, err
		}
		if err := p.expectWord("and"); err != nil {
			return nil, err
		}
		hi, err := p.arith()
		if err != nil {
			return nil, err
		}
		return cmp(neg+"between", lo, hi), nil
	}
	return left, nil
}

// arith parses + and -.
func (p *parser) arith() (*expr, error) {
	left, err := p.term()
	for err == nil && (p.isPunct("+") || p.isPunct("-")) {
		t := p.next()
		var right *expr
		if right, err = p.term(); err == nil {
			left = &expr{kind: exArith, op: t.text, pos: t.pos, args: []*expr{left, right}}
		}
	}
	return left, err
}

// term parses * / div % mod.
func (p *parser) term() (*expr, error) {
	left, err := p.unary()
	for err == nil {
		t := p.peek()
		var op string
		switch {
		case t.kind == tkPunct && (t.text == "*" || t.text == "/" || t.text == "%"):
			op = t.text
		case isWord(t, "div"):
			op = "DIV"
		case isWord(t, "mod"):
			op = "%"
		default:
			return left, nil
		}
		p.next()
		var right *expr
		if right, err = p.unary(); err == nil {
			left = &expr{kind: exArith, op: op, pos: t.pos, args: []*expr{left, right}}
		}
	}
	return nil, err
}

// unary parses unary minus; on a number it makes a negative literal.
func (p *parser) unary() (*expr, error) {
	if !p.isPunct("-") {
		return p.primary()
	}
	t := p.next()
	if n := p.peek(); n.kind == tkNumber {
		p.next()
		return number(n, "-")
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	return &expr{kind: exNeg, pos: t.pos, args: []*expr{x}}, nil
}

// number makes the literal of a number token, with sign "" or "-": an
// int64, or a decimalLit for a number with a point or one too large.
func number(t token, sign string) (*expr, error) {
	text := sign + t.text
	if !strings.Contains(t.text, ".") {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return &expr{kind: exValue, value: i, pos: t.pos}, nil
		}
	}
	digits := strings.Replace(t.text, ".", "", 1)
	scale := 0
	if i := strings.IndexByte(t.text, '.'); i >= 0 {
		scale = len(t.text) - i - 1
	}
	switch {
	case len(digits) > maxDecimalPrec:
		return nil, errAt(t.pos, "", "a number of more than %d digits", maxDecimalPrec)
	case scale > maxDecimalScale:
		return nil, errAt(t.pos, "", "a number of more than %d digits after the point", maxDecimalScale)
	}
	return &expr{kind: exValue, value: decimalLit{text: text, prec: len(digits), scale: scale}, pos: t.pos}, nil
}

func (p *parser) primary() (*expr, error) {
	t := p.next()
	switch t.kind {
	case tkNumber:
		return number(t, "")
	case tkString:
		return &expr{kind: exValue, value: t.text, pos: t.pos}, nil
	case tkParam:
		return &expr{kind: exParam, text: t.text, pos: t.pos}, nil
	case tkPunct:
		switch t.text {
		case "*":
			return &expr{kind: exStar, pos: t.pos}, nil
		case "(":
			e, err := p.condition()
			if err != nil {
				return nil, err
			}
			return e, p.expect(")")
		}
	case tkIdent:
		word := strings.ToLower(t.text)
		switch {
		case p.isPunct("("):
			if word == "case" && isWord(p.afterParens(), "when") {
				// case (x) when ...: a simple case of a parenthesised
				// operand, not the function form case(cmp, a, ..., else).
				return p.caseExpr(t)
			}
			return p.call(t)
		case p.isPunct("."):
			p.next()
			col := p.next()
			if col.kind != tkIdent {
				p.back(col)
				return nil, p.unexpected("want a column name after " + t.text + ".")
			}
			return &expr{kind: exColumn, text: t.text + "." + col.text, pos: t.pos}, nil
		case word == "true", word == "false":
			return &expr{kind: exValue, value: word == "true", pos: t.pos}, nil
		case word == "null":
			return &expr{kind: exNull, pos: t.pos}, nil
		case word == "case":
			return p.caseExpr(t)
		case word == "interval":
			return p.interval(t)
		case keywords[word]:
			p.back(t)
			return nil, p.unexpected("want a column, a value, a :parameter or a function call")
		}
		return &expr{kind: exName, text: t.text, pos: t.pos}, nil
	}
	p.back(t)
	return nil, p.unexpected("want a column, a value, a :parameter or a function call")
}

// afterParens returns the token after the parenthesis that closes the
// one that comes next (EOF when it is not closed).
func (p *parser) afterParens() token {
	depth := 0
	for k := p.i; k < len(p.toks); k++ {
		switch t := p.toks[k]; {
		case t.kind == tkPunct && t.text == "(":
			depth++
		case t.kind == tkPunct && t.text == ")":
			depth--
			if depth == 0 {
				return p.peekAt(k - p.i + 1)
			}
		}
	}
	return p.toks[len(p.toks)-1]
}

// caseExpr parses case [operand] when a then b ... [else c] end; t is case.
func (p *parser) caseExpr(t token) (*expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	e := &expr{kind: exCase, pos: t.pos}
	if !p.isWord("when") {
		x, err := p.condition()
		if err != nil {
			return nil, err
		}
		e.simple = true
		e.args = append(e.args, x)
	}
	if !p.isWord("when") {
		return nil, p.unexpected("want when")
	}
	for p.isWord("when") {
		p.next()
		w, err := p.condition()
		if err != nil {
			return nil, err
		}
		if err := p.expectWord("then"); err != nil {
			return nil, err
		}
		r, err := p.condition()
		if err != nil {
			return nil, err
		}
		e.args = append(e.args, w, r)
	}
	if p.isWord("else") {
		p.next()
		x, err := p.condition()
		if err != nil {
			return nil, err
		}
		e.hasElse = true
		e.args = append(e.args, x)
	}
	return e, p.expectWord("end")
}

// interval parses interval n unit; t is interval.
func (p *parser) interval(t token) (*expr, error) {
	x, err := p.arith()
	if err != nil {
		return nil, err
	}
	unit, err := p.unit()
	if err != nil {
		return nil, err
	}
	return &expr{kind: exInterval, kw: unit, pos: t.pos, args: []*expr{x}}, nil
}

// unit parses one of units.
func (p *parser) unit() (string, error) {
	t := p.peek()
	for _, u := range units {
		if isWord(t, u) {
			p.next()
			return u, nil
		}
	}
	return "", p.unexpected("want a unit: " + strings.Join(units, ", "))
}

// castType parses the type of cast and convert and returns it in SQL:
// signed, unsigned (each with an optional integer), decimal, decimal(p),
// decimal(p,s), char, char(n), date, datetime, datetime(fsp). The numbers
// are checked against MySQL's limits and written into the SQL, which has no
// place for a bound value there.
func (p *parser) castType() (string, error) {
	t := p.next()
	word := strings.ToLower(t.text)
	if t.kind != tkIdent {
		word = ""
	}
	// size parses (n) or (n, m) when present, each from 0 to its limit.
	size := func(limits ...int) ([]int, error) {
		if !p.isPunct("(") {
			return nil, nil
		}
		p.next()
		var out []int
		for k, limit := range limits {
			n := p.next()
			v, err := strconv.Atoi(n.text)
			if n.kind != tkNumber || err != nil || v > limit {
				p.back(n)
				return nil, p.unexpected(fmt.Sprintf("want a whole number from 0 to %d", limit))
			}
			out = append(out, v)
			if k+1 < len(limits) && p.isPunct(",") {
				p.next()
				continue
			}
			break
		}
		return out, p.expect(")")
	}
	switch word {
	case "signed", "unsigned":
		if p.isWord("integer") || p.isWord("int") {
			p.next()
		}
		return strings.ToUpper(word), nil
	case "date":
		return "DATE", nil
	case "char":
		n, err := size(65535)
		if err != nil || n == nil {
			return "CHAR", err
		}
		return fmt.Sprintf("CHAR(%d)", n[0]), nil
	case "datetime":
		n, err := size(6)
		if err != nil || n == nil {
			return "DATETIME", err
		}
		return fmt.Sprintf("DATETIME(%d)", n[0]), nil
	case "decimal":
		n, err := size(maxDecimalPrec, maxDecimalScale)
		switch {
		case err != nil || n == nil:
			return "DECIMAL", err
		case len(n) == 1:
			return fmt.Sprintf("DECIMAL(%d)", n[0]), nil
		case n[0] == 0 || n[1] > n[0]:
			return "", errAt(t.pos, "", "decimal(%d,%d): want 1 to %d digits, as many after the point or fewer", n[0], n[1], maxDecimalPrec)
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", n[0], n[1]), nil
	}
	p.back(t)
	return "", p.unexpected("want a type: signed, unsigned, decimal(p,s), char, date or datetime")
}

// call parses a function call; t is its name, before "(".
func (p *parser) call(t token) (*expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.next() // (
	e := &expr{kind: exCall, text: strings.ToLower(t.text), pos: t.pos}
	arg := func() error {
		a, err := p.condition()
		if err == nil {
			e.args = append(e.args, a)
		}
		return err
	}
	var err error
	switch e.text {
	case "cast": // cast(x as type)
		if err = arg(); err == nil {
			if err = p.expectWord("as"); err == nil {
				e.kw, err = p.castType()
			}
		}
		return e, firstErr(err, p.expect(")"))
	case "convert": // convert(x, type)
		if err = arg(); err == nil {
			if err = p.expect(","); err == nil {
				e.kw, err = p.castType()
			}
		}
		return e, firstErr(err, p.expect(")"))
	case "extract": // extract(unit from x)
		if e.kw, err = p.unit(); err == nil {
			if err = p.expectWord("from"); err == nil {
				err = arg()
			}
		}
		return e, firstErr(err, p.expect(")"))
	case "timestampdiff": // timestampdiff(unit, a, b)
		if e.kw, err = p.unit(); err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	default:
		if p.isWord("distinct") && p.peekAt(1).kind != tkPunct || p.isWord("distinct") && p.peekAt(1).text == "(" {
			p.next()
			e.distinct = true
		}
		if p.isPunct(")") {
			p.next()
			return e, nil
		}
	}
	for {
		if err := arg(); err != nil {
			return nil, err
		}
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	if e.text == "group_concat" {
		if err := p.groupConcat(e); err != nil {
			return nil, err
		}
	}
	return e, p.expect(")")
}

// groupConcat parses group_concat's [order by x [asc|desc], ...]
// [separator 'text'] after its arguments.
func (p *parser) groupConcat(e *expr) error {
	if p.isWord("order") {
		p.next()
		if err := p.expectWord("by"); err != nil {
			return err
		}
		for {
			x, err := p.condition()
			if err != nil {
				return err
			}
			desc := p.isWord("desc")
			if desc || p.isWord("asc") {
				p.next()
			}
			e.args = append(e.args, x)
			e.desc = append(e.desc, desc)
			e.nOrder++
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if p.isWord("separator") {
		p.next()
		s := p.next()
		if s.kind != tkString {
			p.back(s)
			return p.unexpected("want the separator as a 'string'")
		}
		e.sep = &s.text
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
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
