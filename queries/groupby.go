package queries

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/doug-martin/goqu/v9"
)

// Grouping: the group_by terms, and the rule that a query that aggregates
// groups every plain select entry, checked and compiled.

// groupBy checks the group_by terms and that every select entry that does
// not aggregate is grouped: listed in group_by, or built only from columns
// that are.
func (v *validator) groupBy() {
	grouped := map[string]bool{}    // canonical forms of the group_by terms
	groupedCol := map[string]bool{} // plain columns among them
	for i, g := range v.d.GroupBy {
		if e, ok := v.expr(fmt.Sprintf("group_by[%d]", i), g, exprCtx{maxPos: anyPos, agg: "aggregates are not allowed in group_by"}); ok {
			grouped[e.String()] = true
			if e.kind == exColumn {
				groupedCol[e.text] = true
			}
		}
	}
	hasAgg := slices.ContainsFunc(v.sel, func(e *expr) bool { return e != nil && e.hasAggregate() })
	if !hasAgg && len(v.d.GroupBy) == 0 || v.full >= 0 {
		return // nothing to group, or grouping is unsupported (fulljoin.go)
	}
	for i, e := range v.sel {
		if e == nil || e.hasAggregate() || grouped[e.String()] {
			continue
		}
		// An expression of grouped columns (and values) is grouped too.
		ok := true
		e.walk(func(x *expr) { ok = ok && (x.kind != exColumn || groupedCol[x.text]) })
		if !ok {
			v.add(fmt.Sprintf("select[%d].column", i), v.d.Select[i].Column, "must be listed in group_by when the query aggregates")
		}
	}
}

// grouped reports whether the dataset aggregates.
func (c *compiler) grouped(d *Dataset) bool {
	return len(d.GroupBy) > 0 || slices.ContainsFunc(d.Select, func(s Selection) bool { return c.selection(s).hasAggregate() })
}

// groupBy adds the group_by terms to ds. An expression that repeats a
// select entry is grouped by its position: repeating it would bind its
// values twice, and MySQL's ONLY_FULL_GROUP_BY does not see two
// placeholders as equal.
func (c *compiler) groupBy(ds *goqu.SelectDataset, d *Dataset) *goqu.SelectDataset {
	if len(d.GroupBy) == 0 {
		return ds
	}
	out := make([]any, len(d.GroupBy))
	for i, g := range d.GroupBy {
		e := c.parse(g)
		out[i] = c.exprOf(e)
		if e.kind == exColumn {
			continue
		}
		for k, s := range d.Select {
			if c.selection(s).String() == e.String() {
				out[i] = goqu.L(strconv.Itoa(k + 1))
				break
			}
		}
	}
	return ds.GroupBy(out...)
}
