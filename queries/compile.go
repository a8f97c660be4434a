package queries

import (
	"errors"
	"fmt"
	"strings"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/dialect/mysql"
	"github.com/doug-martin/goqu/v9/exp"
)

// Query is a compiled dataset: MySQL SQL with "?" placeholders and the
// arguments to bind to them, in order.
type Query struct {
	SQL  string
	Args []any
	// Columns are the names of the result columns, in order: the output
	// names of the select list (see Selection.OutputName), which are also the
	// names the server reports for them.
	Columns []string
}

// dialectName is the goqu dialect Compile uses: MySQL's without FULL joins.
const dialectName = "joinery_mysql"

// fullRowsAlias names the derived table that wraps an emulated full join
// when it is ordered or limited.
const fullRowsAlias = "full_rows"

func init() {
	// goqu's mysql dialect prints FULL [OUTER] JOIN, which MySQL rejects or,
	// for FULL JOIN, may parse as a table alias plus an inner join. Without
	// these entries goqu fails to build such a query instead.
	opts := mysql.DialectOptions()
	delete(opts.JoinTypeLookup, exp.FullOuterJoinType)
	delete(opts.JoinTypeLookup, exp.FullJoinType)
	delete(opts.JoinTypeLookup, exp.NaturalFullJoinType)
	goqu.RegisterDialect(dialectName, opts)
}

// Compile validates the dataset and compiles it into a prepared MySQL query.
// When the dataset is invalid the error joins every *FieldError Validate
// reports; callers that want the individual errors call Validate first.
func Compile(d *Dataset) (Query, error) {
	if errs := d.Validate(); len(errs) > 0 {
		return Query{}, errors.Join(errs...)
	}
	full := -1
	for i, j := range d.Joins {
		if j.normType() == joinFull {
			full = i
			break
		}
	}
	var ds *goqu.SelectDataset
	if full < 0 {
		ds = selectCore(d, -1, "", nil)
		if len(d.GroupBy) > 0 {
			ds = ds.GroupBy(columns(d.GroupBy)...)
		}
		for _, f := range d.Having {
			ds = ds.Having(filterExpr(f, havingOperand(d.Select, f)))
		}
		ds = ds.Order(orderExprs(d, false)...)
	} else {
		ds = fullJoin(d, full)
	}
	if d.Limit != nil {
		ds = ds.Limit(uint(*d.Limit))
	}
	sql, args, err := ds.Prepared(true).ToSQL()
	if err != nil {
		return Query{}, fmt.Errorf("build sql: %w", err)
	}
	q := Query{SQL: sql, Args: args, Columns: make([]string, len(d.Select))}
	for i, s := range d.Select {
		q.Columns[i] = s.OutputName()
	}
	return q, nil
}

// fullJoin emulates the full join at joins[full] (see the package doc):
//
//	<core with LEFT JOIN> UNION ALL (<core with RIGHT JOIN> AND <key> IS NULL)
//
// The second branch must keep exactly the right-side rows that matched no
// row of the left side (the from table and the joins before the full join);
// the first branch already produced every matched pair. <key> is a left-side
// operand of one of the on conditions. Every on operator (= != <> < <= > >=)
// is null-rejecting: a comparison is TRUE only when both operands are
// non-NULL, and the on conditions are ANDed. So whenever a left row matched,
// <key> is non-NULL in the joined row, and when none matched the left side
// is NULL-extended, so <key> IS NULL. That holds even when the column itself
// is nullable (a left row with a NULL key never matches, so it only appears,
// correctly, in the first branch) and even when its table was NULL-extended
// by an earlier outer join. It would not hold for a column outside the on
// clause (such as the left table's primary key, if it could be NULL), nor for
// null-safe <=>, OR or IS NULL conditions, which the on clause cannot express.
//
// Joins after the full join are repeated in both branches: inner, left and
// cross joins distribute over UNION ALL; right and full ones do not and are
// rejected by Validate. So are aggregates, group_by and having. The where
// filters are repeated in both branches, so their arguments appear twice, in
// branch order.
func fullJoin(d *Dataset, full int) *goqu.SelectDataset {
	key := fullJoinKey(d, full)
	left := selectCore(d, full, joinLeft, nil)
	right := selectCore(d, full, joinRight, goqu.I(key).IsNull())
	union := left.UnionAll(right)
	if len(d.OrderBy) == 0 && d.Limit == nil {
		return union
	}
	// An ORDER BY after a UNION may only name result columns, and LIMIT must
	// apply to the whole union: wrap it as a derived table.
	return goqu.Dialect(dialectName).From(union.As(fullRowsAlias)).Order(orderExprs(d, true)...)
}

// fullJoinKey returns the first on operand of joins[full] that names a
// table before it. Validate guarantees there is one.
func fullJoinKey(d *Dataset, full int) string {
	before := map[string]bool{d.From.alias(): true}
	for _, j := range d.Joins[:full] {
		before[j.alias()] = true
	}
	for _, c := range d.Joins[full].On {
		for _, operand := range []string{c.Left, c.Right} {
			if alias, _, ok := splitColumn(operand); ok && before[alias] {
				return operand
			}
		}
	}
	panic("queries: full join without a left-side on operand passed validation")
}

// selectCore builds SELECT ... FROM ... JOIN ... WHERE ... of the dataset.
// When override >= 0, joins[override] is built with type overrideType, and
// extra (if not nil) is ANDed after the where filters.
func selectCore(d *Dataset, override int, overrideType string, extra exp.Expression) *goqu.SelectDataset {
	sel := make([]any, len(d.Select))
	for i, s := range d.Select {
		sel[i] = selectExpr(s)
	}
	ds := goqu.Dialect(dialectName).From(tableExpr(d.From.Table, d.From.As)).Select(sel...)
	for i, j := range d.Joins {
		typ := j.normType()
		if i == override {
			typ = overrideType
		}
		t := tableExpr(j.Table, j.As)
		on := make([]exp.Expression, len(j.On))
		for k, c := range j.On {
			on[k] = conditionExpr(c)
		}
		switch typ {
		case joinInner:
			ds = ds.InnerJoin(t, goqu.On(on...))
		case joinLeft:
			ds = ds.LeftJoin(t, goqu.On(on...))
		case joinRight:
			ds = ds.RightJoin(t, goqu.On(on...))
		case joinCross:
			ds = ds.CrossJoin(t)
		default:
			// Unreachable after Validate; the dialect refuses to build it.
			ds = ds.FullOuterJoin(t, goqu.On(on...))
		}
	}
	var where []exp.Expression
	for _, f := range d.Where {
		where = append(where, filterExpr(f, goqu.I(f.Column)))
	}
	if extra != nil {
		where = append(where, extra)
	}
	if len(where) > 0 {
		ds = ds.Where(where...)
	}
	return ds
}

func tableExpr(table, as string) exp.Expression {
	if as == "" || as == table {
		return goqu.T(table)
	}
	return goqu.T(table).As(as)
}

func columns(cols []string) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		out[i] = goqu.I(c)
	}
	return out
}

func conditionExpr(c Condition) exp.Expression {
	l, r := goqu.I(c.Left), goqu.I(c.Right)
	switch strings.TrimSpace(c.Op) {
	case "=":
		return l.Eq(r)
	case "!=", "<>":
		return l.Neq(r)
	case "<":
		return l.Lt(r)
	case "<=":
		return l.Lte(r)
	case ">":
		return l.Gt(r)
	default: // ">=", the last one Validate accepts
		return l.Gte(r)
	}
}

// aggExpr returns agg(column); column may be "*" for count.
func aggExpr(agg, column string) exp.SQLFunctionExpression {
	var col any = goqu.I(column)
	if column == "*" {
		col = goqu.Star()
	}
	switch normWord(agg) {
	case "count":
		return goqu.COUNT(col)
	case "count_distinct":
		return goqu.COUNT(goqu.DISTINCT(col))
	case "sum":
		return goqu.SUM(col)
	case "min":
		return goqu.MIN(col)
	case "max":
		return goqu.MAX(col)
	default: // "avg"
		return goqu.AVG(col)
	}
}

func selectExpr(s Selection) exp.Expression {
	if s.Agg != "" {
		// Always named, so that headers do not depend on how the server
		// prints an expression.
		return aggExpr(s.Agg, s.Column).As(s.OutputName())
	}
	if s.As != "" {
		return goqu.I(s.Column).As(s.As)
	}
	return goqu.I(s.Column)
}

// operand is what a filter compares: a column or an aggregate.
type operand interface {
	exp.Comparable
	exp.Inable
	exp.Isable
	exp.Likeable
	exp.Rangeable
}

// havingOperand returns what a having filter tests. A select output name is
// replaced by the expression it names: MySQL resolves a bare name in HAVING
// against GROUP BY columns before select aliases, so an alias that is also a
// column name could silently mean the column.
func havingOperand(sel []Selection, f Filter) operand {
	if f.Agg != "" {
		return aggExpr(f.Agg, f.Column)
	}
	if identRE.MatchString(f.Column) {
		for _, s := range sel {
			if strings.EqualFold(s.OutputName(), f.Column) {
				if s.Agg != "" {
					return aggExpr(s.Agg, s.Column)
				}
				return goqu.I(s.Column)
			}
		}
	}
	return goqu.I(f.Column)
}

// filterExpr applies the filter's operator and value to col.
func filterExpr(f Filter, col operand) exp.Expression {
	list, _ := f.Value.([]any)
	switch normOp(f.Op) {
	case "=":
		return col.Eq(bindable(f.Value))
	case "!=", "<>":
		return col.Neq(bindable(f.Value))
	case "<":
		return col.Lt(bindable(f.Value))
	case "<=":
		return col.Lte(bindable(f.Value))
	case ">":
		return col.Gt(bindable(f.Value))
	case ">=":
		return col.Gte(bindable(f.Value))
	case "in":
		return col.In(bindableList(list))
	case "not in":
		return col.NotIn(bindableList(list))
	case "like":
		// ILike is plain LIKE in goqu's mysql dialect (Like is LIKE BINARY),
		// so matching follows the column's collation.
		return col.ILike(f.Value)
	case "not like":
		return col.NotILike(f.Value)
	case "is null":
		return col.IsNull()
	case "is not null":
		return col.IsNotNull()
	default: // "between"
		return col.Between(goqu.Range(bindable(list[0]), bindable(list[1])))
	}
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

func bindableList(list []any) []any {
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = bindable(v)
	}
	return out
}

// orderExprs builds the order_by terms. With derived set (the wrapped full
// join), a qualified column is replaced by the output name it is selected
// under, since only the derived table's columns are visible there.
func orderExprs(d *Dataset, derived bool) []exp.OrderedExpression {
	out := make([]exp.OrderedExpression, len(d.OrderBy))
	for i, o := range d.OrderBy {
		name := o.Column
		if derived {
			if as, ok := selectedAs(d.Select, o.Column); ok {
				name = as
			}
		}
		col := goqu.I(name)
		if normWord(o.Dir) == "desc" {
			out[i] = col.Desc()
		} else {
			out[i] = col.Asc()
		}
	}
	return out
}
