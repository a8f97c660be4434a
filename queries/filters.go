package queries

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"
)

// Filters: the conditions of where and having, each a column or
// expression, an operator and a bound value or parameter, checked and
// compiled.

// Filter is one condition of where or having; several are ANDed. It is
// one of three forms:
//
//   - Column, Op and Value (or Param): Op is one of = != <> < <= > >= in,
//     not in, like, not like, is null, is not null, between (any case).
//     Value holds the bound value: a scalar (string, number, bool), a
//     non-empty list for in/not in, or a list of two for between; it is
//     absent for is null / is not null. Param instead names a run
//     parameter whose value is bound. Agg is only allowed in having, where
//     Column may also name a select output column unqualified.
//   - Cond, a condition of the expression language (expr.go), which may
//     compare two expressions: "i.qty * i.unit_price > o.min_total",
//     "p.title like '%go%' or p.views >= :min_views". In YAML the entry is
//     the string itself. In having, a select output name stands for its
//     expression: "revenue > 2 * refunds".
//   - Any, groups of filters: the entry holds when all the filters of one
//     group hold (an OR of ANDs). A filter of a group may be any of the
//     three forms, another any among them.
type Filter struct {
	Column string     `yaml:"column"` // a column or an expression
	Agg    string     `yaml:"agg"`
	Op     string     `yaml:"op"`
	Value  any        `yaml:"value"`
	Param  string     `yaml:"param"`
	Cond   string     `yaml:"cond"`
	Any    [][]Filter `yaml:"any"`
}

// UnmarshalText makes a filter written as a string its condition:
// "i.qty * i.unit_price > 100". Validate parses and checks it.
func (f *Filter) UnmarshalText(text []byte) error {
	*f = Filter{Cond: string(text)}
	return nil
}

// filterOps are the operators of a filter, after normOp.
var filterOps = []string{"=", "!=", "<>", "<", "<=", ">", ">=", "in", "not in", "like", "not like", "is null", "is not null", "between"}

// noAggInWhere says why a where filter cannot aggregate.
const noAggInWhere = "aggregates are not allowed in where: use having"

// where checks the where filters: no aggregates.
func (v *validator) where() {
	v.filters("where", v.d.Where, exprCtx{maxPos: anyPos, agg: noAggInWhere})
}

// having checks the having filters: aggregates, and select output names
// standing alone.
func (v *validator) having() {
	v.filters("having", v.d.Having, exprCtx{maxPos: anyPos, names: true})
}

func (v *validator) filters(field string, fs []Filter, c exprCtx) {
	for i, f := range fs {
		v.filter(fmt.Sprintf("%s[%d]", field, i), f, c)
	}
}

// filter checks one filter of any form at path p.
func (v *validator) filter(p string, f Filter, c exprCtx) {
	others := f.Column != "" || f.Agg != "" || f.Op != "" || f.Value != nil || f.Param != ""
	switch {
	case f.Any != nil:
		if others || f.Cond != "" {
			v.add(p+".any", nil, "give any alone: its groups hold the filters")
			return
		}
		if len(f.Any) == 0 {
			v.add(p+".any", nil, "needs at least one group of filters: any: [[...], [...]]")
		}
		for g, group := range f.Any {
			gp := fmt.Sprintf("%s.any[%d]", p, g)
			if len(group) == 0 {
				v.add(gp, nil, "an empty group: give it at least one filter")
			}
			for k, sub := range group {
				v.filter(fmt.Sprintf("%s[%d]", gp, k), sub, c)
			}
		}
	case f.Cond != "":
		if others {
			v.add(p+".cond", f.Cond, "give cond alone: the condition holds its operands and operators")
			return
		}
		c.namesIn = c.names // in having, select output names stand for their expressions
		v.cond(p+".cond", f.Cond, c)
	default:
		v.aggregate(p, f.Agg, f.Column, c)
		v.filterValue(p, f)
	}
}

// filterValue checks a filter's operator and the shape of its value.
func (v *validator) filterValue(p string, f Filter) {
	op := normOp(f.Op)
	switch {
	case op == "":
		v.missing(p+".op", "required: want one of %s", strings.Join(filterOps, ", "))
		return
	case !slices.Contains(filterOps, op):
		v.add(p+".op", f.Op, "unknown operator: want one of %s", strings.Join(filterOps, ", "))
		return
	case f.Param != "":
		v.filterParam(p, op, f)
		return
	}
	vp := p + ".value"
	list, isList := f.Value.([]any)
	switch op {
	case "is null", "is not null":
		if f.Value != nil {
			v.add(vp, f.Value, "%s takes no value", op)
		}
	case "in", "not in":
		if !isList || len(list) == 0 {
			v.add(vp, f.Value, "%s needs a non-empty list of values", op)
			return
		}
		for k, e := range list {
			v.scalar(fmt.Sprintf("%s[%d]", vp, k), e)
		}
	case "between":
		if !isList || len(list) != 2 {
			v.add(vp, f.Value, "between needs a list of exactly two values [low, high]")
			return
		}
		for k, e := range list {
			v.scalar(fmt.Sprintf("%s[%d]", vp, k), e)
		}
	case "like", "not like":
		if _, ok := f.Value.(string); !ok {
			if f.Value == nil {
				v.add(vp, nil, "%s needs a string pattern", op)
			} else {
				v.add(vp, f.Value, "%s needs a string pattern", op)
			}
		}
	default:
		if isList {
			v.add(vp, f.Value, "a list needs op in, not in or between")
			return
		}
		v.scalar(vp, f.Value)
	}
}

// filterParam checks a filter that binds a run parameter.
func (v *validator) filterParam(p, op string, f Filter) {
	pp := p + ".param"
	if f.Value != nil {
		v.add(pp, f.Param, "give value or param, not both")
		return
	}
	switch op {
	case "is null", "is not null":
		v.add(pp, f.Param, "%s takes no param", op)
		return
	case "between":
		v.add(pp, f.Param, "between takes value: [low, high], not a param (use two filters with >= and <)")
		return
	}
	decl := v.paramRef(pp, f.Param)
	if decl == nil {
		return
	}
	list := op == "in" || op == "not in"
	switch {
	case list && !decl.isList():
		v.add(pp, f.Param, "%s needs a list parameter (type: list<%s>)", op, decl.Type)
	case !list && decl.isList():
		v.add(pp, f.Param, "the list parameter can only be used with op: in or not in")
	case (op == "like" || op == "not like") && decl.Type != "string":
		v.add(pp, f.Param, "%s needs a string parameter", op)
	}
}

// scalar checks that a bound value is a single supported value.
func (v *validator) scalar(path string, x any) {
	switch x := x.(type) {
	case nil:
		v.add(path, nil, "a value is required (use op: is null to match NULL)")
	case string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, time.Time:
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			v.add(path, x, "not a finite number")
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			v.add(path, x, "not a finite number")
		}
	case []any:
		v.add(path, x, "a list is not allowed here")
	default:
		v.add(path, fmt.Sprintf("%v", x), "unsupported value type %T", x)
	}
}

// where adds the where filters to ds.
func (c *compiler) where(ds *goqu.SelectDataset, d *Dataset) *goqu.SelectDataset {
	if len(d.Where) == 0 {
		return ds
	}
	where := make([]exp.Expression, len(d.Where))
	for i, f := range d.Where {
		where[i] = c.anyFilter(f, func(f Filter) operand { return operandOf(c.exprOf(c.parse(f.Column))) })
	}
	return ds.Where(where...)
}

// having adds the having filters to ds.
func (c *compiler) having(ds *goqu.SelectDataset, d *Dataset) *goqu.SelectDataset {
	if len(d.Having) == 0 {
		return ds
	}
	c.names = map[string]*expr{}
	for _, s := range d.Select {
		key := strings.ToLower(s.outputName())
		if _, dup := c.names[key]; !dup {
			c.names[key] = c.selection(s)
		}
	}
	defer func() { c.names = nil }()
	for _, f := range d.Having {
		ds = ds.Having(c.anyFilter(f, func(f Filter) operand { return c.havingOperand(d.Select, f) }))
	}
	return ds
}

// anyFilter compiles a filter of any form; operandOf gives the operand of
// one with a column.
func (c *compiler) anyFilter(f Filter, operandOf func(Filter) operand) exp.Expression {
	switch {
	case f.Any != nil:
		groups := make([]exp.Expression, len(f.Any))
		for g, group := range f.Any {
			and := make([]exp.Expression, len(group))
			for k, sub := range group {
				and[k] = c.anyFilter(sub, operandOf)
			}
			groups[g] = goqu.And(and...)
		}
		return goqu.Or(groups...)
	case f.Cond != "":
		return c.exprOf(c.parse(f.Cond))
	}
	return c.filter(f, operandOf(f))
}

// havingOperand returns what a having filter tests. A select output name is
// replaced by the expression it names: MySQL resolves a bare name in HAVING
// against GROUP BY columns before select aliases, so an alias that is also a
// column name could silently mean the column.
func (c *compiler) havingOperand(sel []Selection, f Filter) operand {
	if f.Agg != "" {
		return operandOf(c.exprOf(c.selection(Selection{Column: f.Column, Agg: f.Agg})))
	}
	e := c.parse(f.Column)
	if e.kind == exName {
		for _, s := range sel {
			if strings.EqualFold(s.outputName(), e.text) {
				return operandOf(c.exprOf(c.selection(s)))
			}
		}
	}
	return operandOf(c.exprOf(e))
}

// filter applies the filter's operator and value (or parameter) to col.
func (c *compiler) filter(f Filter, col operand) exp.Expression {
	op := normOp(f.Op)
	var val any
	switch {
	case f.Param != "" && (op == "in" || op == "not in"):
		val = c.paramList(f.Param)
	case f.Param != "":
		val = c.param(f.Param)
	case op == "in" || op == "not in" || op == "between":
		list, _ := f.Value.([]any)
		vals := make([]any, len(list))
		for i, v := range list {
			vals[i] = c.literal(v)
		}
		val = vals
	default:
		val = c.literal(f.Value)
	}
	switch op {
	case "in":
		return col.In(val)
	case "not in":
		return col.NotIn(val)
	case "like":
		// ILike is plain LIKE in goqu's mysql dialect (Like is LIKE BINARY),
		// so matching follows the column's collation.
		return col.ILike(val)
	case "not like":
		return col.NotILike(val)
	case "between":
		list := val.([]any)
		return col.Between(goqu.Range(list[0], list[1]))
	}
	return c.compare(col, op, val) // the comparisons, is null and is not null
}
