package queries

// The lexer and parser of the expression language (expr.go has its syntax
// tree, its grammar and precedence, and how it is checked and compiled):
// positions in every error, the depth bounded by maxDepth, keywords, units
// and cast types from the vetted lists here.

import (
	"fmt"
	"strconv"
	"strings"
)

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
