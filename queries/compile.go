package queries

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/dialect/mysql"
	"github.com/doug-martin/goqu/v9/exp"
)

// Query is a compiled dataset: MySQL SQL with "?" placeholders and the
// arguments to bind to them, in order.
type Query struct {
	SQL  string
	Args []any
	// ArgNames says where each argument comes from: "window_start",
	// "window_end", "param NAME" (a list parameter: "param NAME[i]"), or ""
	// for a literal of the configuration (a value, a limit).
	ArgNames []string
	// Columns are the names of the result columns, in order: the output
	// names of the select list (see Selection.OutputName), which are also the
	// names the server reports for them.
	Columns []string
	// Joins are the outer joins diagnosed (Env.Diagnostics). The result has
	// three hidden columns per join after Columns, in this order: matched,
	// left_unmatched, right_unmatched, each 0 or 1 per row (or a count per
	// group when the dataset aggregates); see JoinStats.
	Joins []JoinDiag
}

// JoinDiag describes one diagnosed outer join: its alias and type, and Key,
// the column whose NULL-ness tells a matched row from a NULL-extended one:
// a column of the joined table for left and full joins, of a table before
// it for right joins. Key is compared, as a whole operand, by an on
// condition; every on operator is null-rejecting, so Key is never NULL in a
// matched row, whether or not the column is nullable.
type JoinDiag struct {
	Alias string
	Type  string
	Key   string
}

// Window is the half-open interval [Start, End) of a run.
type Window struct {
	Start, End time.Time
}

// Env is the context a dataset is compiled in: the run's window and
// parameter values, the job's datasets for derived tables, and the zone
// DATETIME values are stored in.
type Env struct {
	// Window is the run's window; nil when the job has none.
	Window *Window
	// Params holds the value of every declared parameter by name, as
	// ResolveParams returns them; nil binds NULL.
	Params map[string]any
	// Datasets are the job's datasets in order; a dataset may use those
	// before it as derived tables.
	Datasets []Dataset
	// Location is the zone of DATETIME columns (database.timezone): window
	// bounds and datetime parameters are bound as wall clocks in it. nil
	// means UTC.
	Location *time.Location
	// TimestampWindows names the datasets whose window the server
	// compares as TIMESTAMP (see Probe): their window's bounds are bound
	// as wall clocks in UTC, the session's zone, whatever Location is.
	TimestampWindows map[string]bool
	// Diagnostics adds the hidden join diagnostic columns (see Query.Joins).
	Diagnostics bool
}

// scope returns what d may refer to in env.
func (env Env) scope(d *Dataset) Scope {
	s := Scope{Window: env.Window != nil, Datasets: env.Datasets}
	if i := slices.IndexFunc(env.Datasets, func(x Dataset) bool { return x.Name == d.Name }); i >= 0 {
		s.Datasets = env.Datasets[:i]
	}
	for name, v := range env.Params {
		typ := "string"
		if _, ok := v.([]any); ok {
			typ = "list<string>"
		}
		s.Params = append(s.Params, Param{Name: name, Type: typ})
	}
	return s
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

// Compile validates the dataset in env and compiles it into a prepared
// MySQL query. When the dataset is invalid the error joins every
// *FieldError Validate reports; callers that want the individual errors call
// Validate first.
func Compile(d *Dataset, env Env) (Query, error) {
	if errs := d.Validate(env.scope(d)); len(errs) > 0 {
		return Query{}, errors.Join(errs...)
	}
	q, err := (&compiler{env: env}).query(d)
	if err != nil {
		return Query{}, err
	}
	// The same query once more with every bound value replaced by a label:
	// the arguments come out in the same order and name themselves.
	labelled, err := (&compiler{env: env, label: true}).query(d)
	if err != nil {
		return Query{}, err
	}
	q.ArgNames = make([]string, len(q.Args))
	for i, a := range labelled.Args {
		if s, ok := a.(string); ok && i < len(q.ArgNames) {
			q.ArgNames[i], _ = strings.CutPrefix(s, labelMark)
			if q.ArgNames[i] == s {
				q.ArgNames[i] = ""
			}
		}
	}
	return q, nil
}

// labelMark starts the stand-in values of a labelling compile.
const labelMark = "\x00joinery:"

type compiler struct {
	env   Env
	label bool
	// probe adds WHERE FALSE to every SELECT: the query reads no row but
	// has the result columns' types (see Probe).
	probe bool
}

func (c *compiler) query(d *Dataset) (Query, error) {
	ds, diags := c.dataset(d, c.env.Diagnostics)
	sql, args, err := ds.Prepared(true).ToSQL()
	if err != nil {
		return Query{}, fmt.Errorf("build sql: %w", err)
	}
	q := Query{SQL: sql, Args: args, Columns: make([]string, len(d.Select)), Joins: diags}
	for i, s := range d.Select {
		q.Columns[i] = s.OutputName()
	}
	return q, nil
}

// dataset builds the whole SELECT of d; with diag, the hidden diagnostic
// columns are added.
func (c *compiler) dataset(d *Dataset, diag bool) (*goqu.SelectDataset, []JoinDiag) {
	var diags []JoinDiag
	if diag {
		for _, i := range diagnosed(d) {
			l, r := joinKeys(d, i)
			j := JoinDiag{Alias: d.Joins[i].alias(), Type: d.Joins[i].normType(), Key: r}
			if j.Type == joinRight {
				j.Key = l
			}
			diags = append(diags, j)
		}
	}
	full := slices.IndexFunc(d.Joins, func(j Join) bool { return j.normType() == joinFull })
	var ds *goqu.SelectDataset
	if full < 0 {
		ds = c.selectCore(d, branch{diags: diags, full: -1})
		if len(d.GroupBy) > 0 {
			ds = ds.GroupBy(c.groupBy(d)...)
		}
		for _, f := range d.Having {
			ds = ds.Having(c.filter(f, c.havingOperand(d.Select, f)))
		}
		ds = ds.Order(c.orderExprs(d, false)...)
	} else {
		ds = c.fullJoin(d, diags, full)
	}
	if d.Limit != nil {
		ds = ds.Limit(uint(*d.Limit))
	}
	return ds, diags
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
	return goqu.Dialect(dialectName).From(union.As(fullRowsAlias)).Order(c.orderExprs(d, true)...)
}

// diagnosed returns the indexes of the joins that get diagnostics: left
// and full joins whose on conditions compare a column of the joined table
// (or that use using), right joins whose on conditions compare a column of
// a table before them; in each case only when no right or full join
// follows, since that could NULL-extend the rows they made.
func diagnosed(d *Dataset) []int {
	var out []int
	for i, j := range d.Joins {
		later := slices.ContainsFunc(d.Joins[i+1:], func(j Join) bool { t := j.normType(); return t == joinRight || t == joinFull })
		l, r := joinKeys(d, i)
		switch t := j.normType(); {
		case later:
		case (t == joinLeft || t == joinFull) && r != "", t == joinRight && l != "":
			out = append(out, i)
		}
	}
	return out
}

// hiddenColumns returns the diagnostic select expressions: per join,
// matched, left_unmatched and right_unmatched, summed when grouped. In the
// second branch of an emulated full join (rightBranch), every row is a
// right row that matched nothing.
func hiddenColumns(diags []JoinDiag, grouped, rightBranch bool) []any {
	var out []any
	zero, one := goqu.L("0"), goqu.L("1")
	for i, j := range diags {
		k := goqu.I(j.Key)
		var conds []exp.Expression
		switch {
		case j.Type == joinFull && rightBranch:
			conds = []exp.Expression{zero, zero, one}
		case j.Type == joinRight:
			conds = []exp.Expression{k.IsNotNull(), zero, k.IsNull()}
		default: // left, or the first branch of full
			conds = []exp.Expression{k.IsNotNull(), k.IsNull(), zero}
		}
		for k, cond := range conds {
			var col exp.Aliaseable = goqu.L("?", cond)
			if grouped {
				col = goqu.SUM(goqu.L("?", cond))
			}
			out = append(out, col.As(HiddenColumn(i, k)))
		}
	}
	return out
}

// HiddenColumn names the k-th diagnostic column (0 matched, 1
// left_unmatched, 2 right_unmatched) of the i-th diagnosed join.
func HiddenColumn(i, k int) string {
	return hiddenPrefix + strconv.Itoa(i) + "_" + [...]string{statMatched, statLeftUnmatched, statRightUnmatched}[k]
}

// grouped reports whether the dataset aggregates.
func grouped(d *Dataset) bool {
	if len(d.GroupBy) > 0 {
		return true
	}
	for _, s := range d.Select {
		if e, err := selectionExpr(s); err == nil && e.hasAggregate() {
			return true
		}
	}
	return false
}

// branch says how selectCore builds a SELECT: with the hidden diagnostic
// columns of diags and, in a branch of an emulated full join, with
// joins[full] built as a join of type fullAs and extra ANDed after the
// where filters.
type branch struct {
	diags  []JoinDiag
	full   int    // the full join's index; -1 outside an emulated full join
	fullAs string // joinLeft or joinRight
	extra  exp.Expression
}

// selectCore builds SELECT ... FROM ... JOIN ... WHERE ... of the dataset.
func (c *compiler) selectCore(d *Dataset, b branch) *goqu.SelectDataset {
	sel := make([]any, len(d.Select))
	for i, s := range d.Select {
		sel[i] = c.selectExpr(s)
	}
	sel = append(sel, hiddenColumns(b.diags, grouped(d), b.fullAs == joinRight)...)
	ds := goqu.Dialect(dialectName).From(c.tableExpr(d.From)).Select(sel...)
	ds = c.joins(ds, d, b)
	var where []exp.Expression
	for _, f := range d.Where {
		where = append(where, c.filter(f, operandOf(c.exprOf(mustParse(f.Column)))))
	}
	if d.Window != "" {
		w := operandOf(c.exprOf(mustParse(d.Window)))
		where = append(where, w.Gte(c.windowBound(d, ParamWindowStart)), w.Lt(c.windowBound(d, ParamWindowEnd)))
	}
	if b.extra != nil {
		where = append(where, b.extra)
	}
	if c.probe {
		where = append(where, goqu.L("FALSE"))
	}
	if len(where) > 0 {
		ds = ds.Where(where...)
	}
	return ds
}

func (c *compiler) groupBy(d *Dataset) []any {
	out := make([]any, len(d.GroupBy))
	for i, g := range d.GroupBy {
		e := mustParse(g)
		out[i] = c.exprOf(e)
		if e.kind == exColumn {
			continue
		}
		// An expression that repeats a select entry is grouped by its
		// position: repeating it would bind its values twice, and MySQL's
		// ONLY_FULL_GROUP_BY does not see two placeholders as equal.
		for k, s := range d.Select {
			if se, err := selectionExpr(s); err == nil && se.String() == e.String() {
				out[i] = goqu.L(strconv.Itoa(k + 1))
				break
			}
		}
	}
	return out
}

// param returns the bound value of a run parameter: the window bounds and
// datetime values as DATETIME text in the database's zone, booleans as 1/0.
func (c *compiler) param(name string) any {
	var v any
	switch name {
	case ParamWindowStart:
		v = c.env.Window.Start
	case ParamWindowEnd:
		v = c.env.Window.End
	default:
		v = c.env.Params[name]
	}
	if c.label {
		if name == ParamWindowStart || name == ParamWindowEnd {
			return labelMark + name
		}
		return labelMark + "param " + name
	}
	return c.bound(v)
}

// windowBound is param for a bound of d's own window: a wall clock in UTC
// when the server compares the window as TIMESTAMP (Env.TimestampWindows).
func (c *compiler) windowBound(d *Dataset, name string) any {
	if !c.env.TimestampWindows[d.Name] {
		return c.param(name)
	}
	if c.label {
		return labelMark + name + " (UTC: the window is a TIMESTAMP)"
	}
	t := c.env.Window.Start
	if name == ParamWindowEnd {
		t = c.env.Window.End
	}
	return FormatDateTime(t.UTC())
}

// paramList returns the bound values of a list parameter, never empty.
func (c *compiler) paramList(name string) []any {
	list, _ := c.env.Params[name].([]any)
	if len(list) == 0 {
		list = []any{nil} // IN (NULL) matches nothing, like NOT IN (NULL)
	}
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = c.bound(v)
		if c.label {
			out[i] = fmt.Sprintf("%sparam %s[%d]", labelMark, name, i)
		}
	}
	return out
}

func (c *compiler) bound(v any) any {
	if t, ok := v.(time.Time); ok {
		loc := c.env.Location
		if loc == nil {
			loc = time.UTC
		}
		return FormatDateTime(t.In(loc))
	}
	return bindable(v)
}

// FormatDateTime writes t's wall clock as MySQL DATETIME text, with
// microseconds only when there are any.
func FormatDateTime(t time.Time) string {
	if t.Nanosecond() != 0 {
		return t.Format("2006-01-02 15:04:05.999999")
	}
	return t.Format("2006-01-02 15:04:05")
}

func (c *compiler) selectExpr(s Selection) exp.Expression {
	e, _ := selectionExpr(s)
	x := c.exprOf(e)
	if e.kind == exColumn && s.As == "" {
		return x
	}
	// Everything else is named, so that headers do not depend on how the
	// server prints an expression.
	return x.(exp.Aliaseable).As(s.OutputName())
}

// havingOperand returns what a having filter tests. A select output name is
// replaced by the expression it names: MySQL resolves a bare name in HAVING
// against GROUP BY columns before select aliases, so an alias that is also a
// column name could silently mean the column.
func (c *compiler) havingOperand(sel []Selection, f Filter) operand {
	if f.Agg != "" {
		e, _ := aggExprOf(f.Agg, f.Column)
		return operandOf(c.exprOf(e))
	}
	e := mustParse(f.Column)
	if e.kind == exName {
		for _, s := range sel {
			if strings.EqualFold(s.OutputName(), e.text) {
				se, _ := selectionExpr(s)
				return operandOf(c.exprOf(se))
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
	case "is null":
		return col.IsNull()
	case "is not null":
		return col.IsNotNull()
	case "between":
		list := val.([]any)
		return col.Between(goqu.Range(list[0], list[1]))
	}
	return c.compare(col, op, val)
}

// orderExprs builds the order_by terms. An expression that repeats a
// select entry is ordered by its output name. With derived set (the wrapped
// full join), a qualified column is replaced by the output name it is
// selected under too, since only the derived table's columns are visible
// there.
func (c *compiler) orderExprs(d *Dataset, derived bool) []exp.OrderedExpression {
	out := make([]exp.OrderedExpression, len(d.OrderBy))
	for i, o := range d.OrderBy {
		e := mustParse(o.Column)
		x := c.exprOf(e)
		if e.kind != exName && (derived || e.kind != exColumn) {
			if as, ok := selectedAs(d.Select, e); ok {
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
	return out
}
