package queries

import (
	"fmt"
	"strconv"
	"strings"
)

// The expression language of column fields (select, where, on, group_by,
// order_by, window). It is deliberately small: a column, a select output
// name, a literal, a :parameter, or a call of a vetted function whose
// arguments are expressions again. Literals and parameters are always bound
// values; identifiers are validated; function names come from funcs below,
// never from the configuration.
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

// funcInfo describes one function of the vetted set.
type funcInfo struct {
	sql      string // SQL name
	min, max int    // number of arguments; max -1 for no limit
	agg      bool
	// cond lists the argument positions that must be comparisons (if) or,
	// with condPairs, every even position but a trailing else (case).
	cond      []int
	condPairs bool
}

// funcs is the vetted set of functions. Nothing else can be called.
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
	"case":           {sql: "CASE", min: 2, max: -1, condPairs: true},
	"count":          {sql: "COUNT", min: 1, max: 1, agg: true},
	"count_distinct": {sql: "COUNT", min: 1, max: 1, agg: true},
	"sum":            {sql: "SUM", min: 1, max: 1, agg: true},
	"min":            {sql: "MIN", min: 1, max: 1, agg: true},
	"max":            {sql: "MAX", min: 1, max: 1, agg: true},
	"avg":            {sql: "AVG", min: 1, max: 1, agg: true},
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
