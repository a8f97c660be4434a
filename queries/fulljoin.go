package queries

import (
	"fmt"
	"slices"

	"github.com/doug-martin/goqu/v9"
)

// Full outer joins, which MySQL and MariaDB do not have: the shapes of a
// dataset the emulation supports, checked, and the emulation itself (see
// the package documentation).

// fullRowsAlias names the derived table that wraps an emulated full join
// when it is ordered or limited.
const fullRowsAlias = "full_rows"

// fullJoinIndex returns the index of d's first full join, or -1.
func fullJoinIndex(d *Dataset) int {
	return slices.IndexFunc(d.Joins, func(j Join) bool { return j.normType() == joinFull })
}

// fullJoin checks what the other constructs may do in a dataset with a
// full join: one full join, keyed by a whole column of a table before it
// and not by using; no right or full join after it; no aggregates,
// group_by or having; order_by only by selected columns.
func (v *validator) fullJoin() {
	if v.full < 0 {
		return
	}
	for i, j := range v.d.Joins {
		p := fmt.Sprintf("joins[%d]", i)
		switch typ := j.normType(); {
		case i > v.full && typ == joinFull:
			v.add(p+".type", j.Type, "only one full join per dataset is supported (joins[%d] is full)", v.full)
		case i > v.full && typ == joinRight:
			v.add(p+".type", j.Type, "a right join after a full join is not supported: the full join is emulated with UNION ALL, which only inner, left and cross joins after it distribute over")
		}
		if j.normType() != joinFull {
			continue
		}
		if len(j.Using) > 0 && len(j.On) == 0 {
			v.add(p+".using", nil, "a full join needs on conditions: using cannot be emulated (write on: a.col = b.col)")
		}
		if len(j.On) > 0 {
			if left, _ := joinKeys(v.d, i); left == "" {
				v.add(p+".on", nil, "a full join needs an on condition that uses a column of a table before it, as a whole operand (e.g. u.id = %s.id)", j.alias())
			}
		}
	}
	for i, e := range v.sel {
		if e == nil || !e.hasAggregate() {
			continue
		}
		s := v.d.Select[i]
		path, value := fmt.Sprintf("select[%d].column", i), s.Column
		if s.Agg != "" {
			path, value = fmt.Sprintf("select[%d].agg", i), s.Agg+"("+s.Column+")"
		}
		v.add(path, value, "aggregates are not supported with a full join (joins[%d])", v.full)
	}
	if len(v.d.GroupBy) > 0 {
		v.add("group_by", nil, "not supported with a full join (joins[%d])", v.full)
	}
	if len(v.d.Having) > 0 {
		v.add("having", nil, "not supported with a full join (joins[%d])", v.full)
	}
	for i, e := range v.order {
		if e == nil || e.kind == exName {
			continue
		}
		if _, ok := selectedAs(v.d.Select, e, parseSelection); !ok {
			v.add(fmt.Sprintf("order_by[%d].column", i), v.d.OrderBy[i].Column, "with a full join, order_by must name a selected column (add it to select)")
		}
	}
}

// fullJoin emulates the full join at joins[full] (see the package doc):
//
//	<core with LEFT JOIN> UNION ALL (<core with RIGHT JOIN> AND <key> IS NULL)
//
// The second branch must keep exactly the right-side rows that matched no
// row of the left side (the from table and the joins before the full join);
// the first branch already produced every matched pair. <key> is a left-side
// column compared, as a whole operand, by one of the on conditions. Every on
// operator (= != <> < <= > >=) is null-rejecting: a comparison is TRUE only
// when both operands are non-NULL, and the on conditions are ANDed. So
// whenever a left row matched, <key> is non-NULL in the joined row, and when
// none matched the left side is NULL-extended, so <key> IS NULL. That holds
// even when the column itself is nullable (a left row with a NULL key never
// matches, so it only appears, correctly, in the first branch) and even when
// its table was NULL-extended by an earlier outer join. It would not hold
// for a column outside the on clause, or one inside a function such as
// coalesce, which is why only whole column operands are taken.
//
// Joins after the full join are repeated in both branches: inner, left and
// cross joins distribute over UNION ALL; right and full ones do not and are
// rejected by Validate. So are aggregates, group_by and having. The where
// filters are repeated in both branches, so their arguments appear twice, in
// branch order.
func (c *compiler) fullJoin(d *Dataset, diags []JoinDiag, full int) *goqu.SelectDataset {
	key, _ := joinKeys(d, full)
	left := c.selectCore(d, branch{diags: diags, full: full, fullAs: joinLeft})
	right := c.selectCore(d, branch{diags: diags, full: full, fullAs: joinRight, extra: goqu.I(key).IsNull()})
	union := left.UnionAll(right)
	if len(d.OrderBy) == 0 && d.Limit == nil {
		return union
	}
	// An ORDER BY after a UNION may only name result columns, and LIMIT must
	// apply to the whole union: wrap it as a derived table.
	return c.orderBy(newSelect(union.As(fullRowsAlias)), d, true)
}
