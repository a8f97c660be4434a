package queries

import (
	"fmt"
	"math"
	"strings"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"
)

// Ordering and limit: the order_by terms and the limit, checked and
// compiled.

// Order is one order_by term. In YAML: "u.id", "u.id desc",
// "year(p.published_at) desc", or a mapping {column: u.id, dir: desc}.
// Column is a qualified table column, an expression or, unqualified, a select
// output column (e.g. an aggregate's as name).
type Order struct {
	Column string `yaml:"column"`
	Dir    string `yaml:"dir"` // asc (default) or desc
}

// UnmarshalText parses the shorthand "u.id", "u.id asc", "u.id desc" or
// "EXPRESSION desc" (direction in any case, stored in lower case).
func (o *Order) UnmarshalText(text []byte) error {
	src := strings.TrimSpace(string(text))
	dir := ""
	if i := strings.LastIndexAny(src, " \t"); i >= 0 {
		if w := strings.ToLower(src[i+1:]); w == "asc" || w == "desc" {
			src, dir = strings.TrimSpace(src[:i]), w
		}
	}
	if _, err := parseExpr(src); err != nil || src == "" {
		return fmt.Errorf("order %q: want \"alias.column\", \"alias.column asc\" or \"alias.column desc\" (or an expression before asc/desc)", text)
	}
	*o = Order{Column: src, Dir: dir}
	return nil
}

// orderBy checks the order_by terms and records the parsed ones.
func (v *validator) orderBy() {
	v.order = make([]*expr, len(v.d.OrderBy))
	for i, o := range v.d.OrderBy {
		p := fmt.Sprintf("order_by[%d]", i)
		if dir := normWord(o.Dir); dir != "" && dir != "asc" && dir != "desc" {
			v.add(p+".dir", o.Dir, "want asc or desc")
		}
		if e, ok := v.expr(p+".column", o.Column, exprCtx{maxPos: anyPos, names: true}); ok {
			v.order[i] = e
		}
	}
}

// limit checks the limit: MySQL takes up to the largest signed 64-bit
// number.
func (v *validator) limit() {
	if l := v.d.Limit; l != nil && (*l == 0 || *l > math.MaxInt64) {
		v.add("limit", *l, "must be from 1 to %d", uint64(math.MaxInt64))
	}
}

// orderBy sets ds's ORDER BY to the order_by terms. An expression that
// repeats a select entry is ordered by its output name. With derived set
// (the wrapped full join), a qualified column is replaced by the output
// name it is selected under too, since only the derived table's columns
// are visible there.
func (c *compiler) orderBy(ds *goqu.SelectDataset, d *Dataset, derived bool) *goqu.SelectDataset {
	out := make([]exp.OrderedExpression, len(d.OrderBy))
	for i, o := range d.OrderBy {
		e := c.parse(o.Column)
		x := c.exprOf(e)
		if e.kind != exName && (derived || e.kind != exColumn) {
			if as, ok := selectedAs(d.Select, e, c.selection); ok {
				x = goqu.I(as)
			}
		}
		ox, ok := x.(exp.Orderable)
		if !ok {
			ox = goqu.L("?", x)
		}
		if normWord(o.Dir) == "desc" {
			out[i] = ox.Desc()
		} else {
			out[i] = ox.Asc()
		}
	}
	return ds.Order(out...)
}

// limit adds the limit, a bound value, to ds.
func (c *compiler) limit(ds *goqu.SelectDataset, d *Dataset) *goqu.SelectDataset {
	if d.Limit == nil {
		return ds
	}
	return ds.Limit(uint(*d.Limit))
}
