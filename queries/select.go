package queries

import (
	"fmt"
	"slices"
	"strings"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"
)

// The select list: columns, expressions and aggregates with their output
// names, checked and compiled; and the agg field that select and having
// share ({column: p.id, agg: count}).

// Selection is one selected column or expression. In YAML: "u.name",
// "u.name AS user_name", "count(p.id) AS posts", "lower(u.email) AS email",
// or a mapping {column: p.id, agg: count, as: posts}.
type Selection struct {
	Column string `yaml:"column"` // a column or an expression
	Agg    string `yaml:"agg"`    // count, count_distinct, sum, min, max, avg, stddev, variance, group_concat
	As     string `yaml:"as"`
}

// UnmarshalText parses the shorthand "u.name", "u.name AS user_name",
// "count(p.id) AS posts", "count(*)", or any expression with a name:
// "lower(u.email) AS email", "count(distinct p.user_id) AS authors". An
// aggregate of one column keeps the agg form (Agg "count", Column "p.id"),
// with its name in lower case; Validate checks it.
func (s *Selection) UnmarshalText(text []byte) error {
	src, as, err := splitAs(string(text))
	if err == nil {
		var e *expr
		if e, err = parseExpr(src); err == nil {
			switch f, known := funcs[e.text]; {
			case e.plainCall() && (!known || f.agg) && len(e.args) == 1 &&
				(e.args[0].kind == exColumn || e.args[0].kind == exStar):
				*s = Selection{Agg: e.text, Column: e.args[0].String(), As: as}
			default:
				*s = Selection{Column: strings.TrimSpace(src), As: as}
			}
			return nil
		}
	}
	return fmt.Errorf("selection %q: want \"alias.column\", \"alias.column AS name\", \"agg(alias.column) AS name\" or \"expression AS name\": %v", text, err)
}

// splitAs splits "EXPR AS name" (AS in any case) into EXPR and name; without
// AS, name is empty.
func splitAs(src string) (string, string, error) {
	toks, err := lex(src)
	if err != nil {
		return "", "", err
	}
	n := len(toks) - 1 // without EOF
	depth := 0         // AS inside parentheses is cast's
	for i, t := range toks[:n] {
		switch {
		case t.kind == tkPunct && t.text == "(":
			depth++
		case t.kind == tkPunct && t.text == ")":
			depth--
		}
		if depth == 0 && t.kind == tkIdent && strings.EqualFold(t.text, "as") && (i == 0 || toks[i-1].kind != tkPunct || toks[i-1].text == ")") {
			if i != n-2 || toks[i+1].kind != tkIdent || i == 0 {
				return "", "", fmt.Errorf("AS must be followed by one name at the end")
			}
			return src[:t.pos], toks[i+1].text, nil
		}
	}
	return src, "", nil
}

// aggregates are the values of the agg field.
var aggregates = []string{"count", "count_distinct", "sum", "min", "max", "avg", "stddev", "variance", "group_concat"}

// outputName returns the name of the column this selection produces: As when
// set; otherwise the column name for a plain column, or <agg>_<column> for an
// aggregate of a column (just the aggregate's name for count(*)). An
// expression has no name of its own and needs As (Validate says so).
func (s Selection) outputName() string {
	if s.As != "" {
		return s.As
	}
	col := strings.TrimSpace(s.Column)
	if i := strings.LastIndexByte(col, '.'); i >= 0 {
		col = col[i+1:]
	}
	agg := normWord(s.Agg)
	switch {
	case agg == "":
		return col
	case col == "*":
		return agg
	default:
		return agg + "_" + col
	}
}

// outputNames returns the output names of sel, in order: the result's
// columns.
func outputNames(sel []Selection) []string {
	out := make([]string, len(sel))
	for i, s := range sel {
		out[i] = s.outputName()
	}
	return out
}

// selectionExpr parses a selection into its expression.
func selectionExpr(s Selection) (*expr, error) {
	if s.Agg != "" {
		return aggExprOf(s.Agg, s.Column)
	}
	return parseExpr(s.Column)
}

// aggExprOf builds agg(column) for the agg field of a selection or filter.
func aggExprOf(agg, column string) (*expr, error) {
	var arg *expr
	if strings.TrimSpace(column) == "*" {
		arg = &expr{kind: exStar}
	} else {
		var err error
		if arg, err = parseExpr(column); err != nil {
			return nil, err
		}
	}
	return &expr{kind: exCall, text: normWord(agg), args: []*expr{arg}}, nil
}

// selectedAs returns the output name of the selection that e repeats: a
// plain column selected as is, or the same expression. selExpr gives a
// selection's expression, nil when it has none.
func selectedAs(sel []Selection, e *expr, selExpr func(Selection) *expr) (string, bool) {
	want := e.String()
	for _, s := range sel {
		if se := selExpr(s); se != nil && se.String() == want {
			return s.outputName(), true
		}
	}
	return "", false
}

// parseSelection is selectionExpr for selectedAs: nil when s does not
// parse.
func parseSelection(s Selection) *expr {
	e, _ := selectionExpr(s)
	return e
}

// isAggOfColumn reports whether e is agg(alias.column) or count(*), which
// have a default output name.
func isAggOfColumn(e *expr) bool {
	return e.plainCall() && funcs[e.text].agg && len(e.args) == 1 &&
		(e.args[0].kind == exColumn || e.args[0].kind == exStar)
}

// selects checks the select list and records the parsed entries and the
// output names.
func (v *validator) selects() {
	if len(v.d.Select) == 0 {
		v.add("select", nil, "must not be empty")
		return
	}
	v.sel = make([]*expr, len(v.d.Select))
	for i, s := range v.d.Select {
		p := fmt.Sprintf("select[%d]", i)
		if e, ok := v.aggregate(p, s.Agg, s.Column, exprCtx{maxPos: anyPos}); ok {
			v.sel[i] = e
			if e.kind != exColumn && !isAggOfColumn(e) && s.As == "" {
				v.add(p+".as", nil, "an expression needs as: to name its output column")
			}
		}
		if s.As != "" && !v.ident(p+".as", s.As, false) {
			continue
		}
		name := s.outputName()
		if !identRE.MatchString(name) {
			continue // the column error has been reported
		}
		if strings.HasPrefix(strings.ToLower(name), hiddenPrefix) {
			v.add(p+".as", name, "output names starting with %s are reserved", hiddenPrefix)
		}
		key := strings.ToLower(name)
		if prev, dup := v.outputs[key]; dup {
			if s.As != "" {
				v.add(p+".as", s.As, "duplicate output column name (select[%d] has it): use as: to rename", prev)
			} else {
				v.add(p+".column", s.Column, "output column %q duplicates select[%d]: use as: to rename", name, prev)
			}
			continue
		}
		v.outputs[key] = i
	}
}

// outputName checks an unqualified reference to a select output column.
func (v *validator) outputName(path, name string) (int, bool) {
	i, ok := v.outputs[strings.ToLower(name)]
	if !ok && len(v.d.Select) > 0 { // an empty select was reported already
		v.add(path, name, "not an output column of select (qualify table columns as alias.column)")
	}
	return i, ok
}

// aggregate checks the column field of a selection or filter, applying the
// agg field when it is set, and returns the resulting expression.
func (v *validator) aggregate(p, rawAgg, column string, c exprCtx) (*expr, bool) {
	agg := normWord(rawAgg)
	if rawAgg == "" {
		return v.expr(p+".column", column, c)
	}
	if !slices.Contains(aggregates, agg) {
		v.add(p+".agg", rawAgg, "unknown aggregate: want one of %s", strings.Join(aggregates, ", "))
		v.expr(p+".column", column, exprCtx{maxPos: anyPos, agg: noAggInWhere})
		return nil, false
	}
	if c.agg != "" {
		v.add(p+".agg", rawAgg, "%s", c.agg)
		v.expr(p+".column", column, c)
		return nil, false
	}
	e, err := aggExprOf(agg, column)
	if err != nil {
		v.add(p+".column", column, "invalid column or expression: %v", err)
		return nil, false
	}
	return e, v.check(p+".column", column, e, c)
}

// selection is selectionExpr for a validated selection, parsed once (see
// compiler.parse).
func (c *compiler) selection(s Selection) *expr {
	if s.Agg == "" {
		return c.parse(s.Column)
	}
	// The key starts with a NUL, which no expression's source has.
	return c.memo("\x00"+s.Agg+"\x00"+s.Column, func() (*expr, error) { return aggExprOf(s.Agg, s.Column) })
}

// selectList adds the select list to ds. Everything but a plain column
// selected as itself is named, so that headers do not depend on how the
// server prints an expression.
func (c *compiler) selectList(ds *goqu.SelectDataset, d *Dataset) *goqu.SelectDataset {
	sel := make([]any, len(d.Select))
	for i, s := range d.Select {
		e := c.selection(s)
		x := c.exprOf(e)
		if e.kind == exColumn && s.As == "" {
			sel[i] = x
		} else {
			sel[i] = x.(exp.Aliaseable).As(s.outputName())
		}
	}
	return ds.Select(sel...)
}
