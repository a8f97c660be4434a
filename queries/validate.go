package queries

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

var (
	aggregates = []string{"count", "count_distinct", "sum", "min", "max", "avg"}
	filterOps  = []string{"=", "!=", "<>", "<", "<=", ">", ">=", "in", "not in", "like", "not like", "is null", "is not null", "between"}
)

// hiddenPrefix starts the names of the columns Compile adds for join
// diagnostics; output names may not use it.
const hiddenPrefix = "_joinery_"

// normOp lower-cases an operator and collapses inner white space, so that
// "NOT  IN" reads as "not in".
func normOp(op string) string {
	return strings.Join(strings.Fields(strings.ToLower(op)), " ")
}

func normWord(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// OutputName returns the name of the column this selection produces: As when
// set; otherwise the column name for a plain column, or <agg>_<column> for an
// aggregate of a column (just the aggregate's name for count(*)). An
// expression has no name of its own and needs As (Validate says so).
func (s Selection) OutputName() string {
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

// Scope is what a dataset may refer to besides its own tables: the job's
// declared parameters, the datasets defined before it in the same job (as
// derived tables), and whether runs of the job have a window.
type Scope struct {
	Params   []Param
	Datasets []Dataset
	Window   bool
}

// The built-in parameters of a run with a window: its start and end.
const (
	ParamWindowStart = "window_start"
	ParamWindowEnd   = "window_end"
)

func (s Scope) param(name string) *Param {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

type validator struct {
	d     *Dataset
	scope Scope
	errs  []error
	// aliases maps each alias to where it is defined: 0 for from, i+1 for joins[i].
	aliases map[string]int
	// derived maps the alias of each derived table to its dataset's output
	// names, lower-cased.
	derived map[string]map[string]bool
	// outputs maps each output column name, lower-cased, to its select index.
	outputs map[string]int
	full    int // index of the first full join, -1 when there is none
	// sel holds the parsed select expressions; nil where one is invalid.
	sel []*expr
}

func (v *validator) add(path string, value any, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

// missing reports a required field that is missing or empty; msg starts
// with "required".
func (v *validator) missing(path string, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Kind: Missing})
}

// Validate checks the dataset in its scope and returns every problem found,
// each as a *FieldError; it returns nil when the dataset can be compiled. It
// does not modify the dataset.
func (d *Dataset) Validate(scope Scope) []error {
	v := &validator{d: d, scope: scope, aliases: map[string]int{}, derived: map[string]map[string]bool{}, outputs: map[string]int{}, full: -1}
	v.tables()
	v.joins()
	v.selects()
	v.filters("where", d.Where, false)
	v.groupBy()
	v.filters("having", d.Having, true)
	v.orderBy()
	if d.Limit != nil && (*d.Limit == 0 || *d.Limit > math.MaxInt64) {
		v.add("limit", *d.Limit, "must be from 1 to %d", uint64(math.MaxInt64))
	}
	v.window()
	v.expects()
	return v.errs
}

var (
	inSelect = exprCtx{maxPos: anyPos}
	inWhere  = exprCtx{maxPos: anyPos, agg: "aggregates are not allowed in where: use having"}
	inGroup  = exprCtx{maxPos: anyPos, agg: "aggregates are not allowed in group_by"}
	inHaving = exprCtx{maxPos: anyPos, names: true}
	inWindow = exprCtx{maxPos: anyPos, agg: "aggregates are not allowed in window"}
)

// paramRef checks a reference to a run parameter and returns its
// declaration (nil for the built-in window parameters and on errors).
func (v *validator) paramRef(path, name string) *Param {
	if name == ParamWindowStart || name == ParamWindowEnd {
		if !v.scope.Window {
			v.add(path, name, "the job has no window: set the job's window (previous_day, previous_week, previous_month or last Nh) to use it")
		}
		return nil
	}
	p := v.scope.param(name)
	if p == nil {
		names := []string{ParamWindowStart, ParamWindowEnd}
		for _, p := range v.scope.Params {
			names = append(names, p.Name)
		}
		v.add(path, name, "unknown parameter (declared: %s)", strings.Join(names, ", "))
	}
	return p
}

// selects checks the select list and records the output names.
func (v *validator) selects() {
	if len(v.d.Select) == 0 {
		v.add("select", nil, "must not be empty")
		return
	}
	v.sel = make([]*expr, len(v.d.Select))
	for i, s := range v.d.Select {
		p := fmt.Sprintf("select[%d]", i)
		if e, ok := v.aggregate(p, s.Agg, s.Column, inSelect); ok {
			v.sel[i] = e
			if e.kind != exColumn && !isAggOfColumn(e) && s.As == "" {
				v.add(p+".as", nil, "an expression needs as: to name its output column")
			}
			if v.full >= 0 && e.hasAggregate() {
				path, value := p+".column", s.Column
				if s.Agg != "" {
					path, value = p+".agg", s.Agg+"("+s.Column+")"
				}
				v.add(path, value, "aggregates are not supported with a full join (joins[%d])", v.full)
			}
		}
		if s.As != "" && !v.ident(p+".as", s.As, false) {
			continue
		}
		name := s.OutputName()
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

// isAggOfColumn reports whether e is agg(alias.column) or count(*), which
// have a default output name.
func isAggOfColumn(e *expr) bool {
	return e.kind == exCall && funcs[e.text].agg && !e.distinct && len(e.args) == 1 &&
		(e.args[0].kind == exColumn || e.args[0].kind == exStar)
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
		v.expr(p+".column", column, inWhere)
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

// filters checks where (having false) or having (having true).
func (v *validator) filters(field string, fs []Filter, having bool) {
	if having && len(fs) > 0 && v.full >= 0 {
		v.add(field, nil, "not supported with a full join (joins[%d])", v.full)
	}
	c := inWhere
	if having {
		c = inHaving
	}
	for i, f := range fs {
		p := fmt.Sprintf("%s[%d]", field, i)
		v.aggregate(p, f.Agg, f.Column, c)
		v.filterValue(p, f)
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

func (v *validator) groupBy() {
	if len(v.d.GroupBy) > 0 && v.full >= 0 {
		v.add("group_by", nil, "not supported with a full join (joins[%d])", v.full)
	}
	grouped := map[string]bool{}    // canonical forms of the group_by terms
	groupedCol := map[string]bool{} // plain columns among them
	for i, g := range v.d.GroupBy {
		if e, ok := v.expr(fmt.Sprintf("group_by[%d]", i), g, inGroup); ok {
			grouped[e.String()] = true
			if e.kind == exColumn {
				groupedCol[e.text] = true
			}
		}
	}
	hasAgg := slices.ContainsFunc(v.sel, func(e *expr) bool { return e != nil && e.hasAggregate() })
	if !hasAgg && len(v.d.GroupBy) == 0 || v.full >= 0 {
		return // nothing to group, or grouping was reported as unsupported
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

func (v *validator) orderBy() {
	for i, o := range v.d.OrderBy {
		p := fmt.Sprintf("order_by[%d]", i)
		if dir := normWord(o.Dir); dir != "" && dir != "asc" && dir != "desc" {
			v.add(p+".dir", o.Dir, "want asc or desc")
		}
		e, ok := v.expr(p+".column", o.Column, inHaving)
		if !ok || e.kind == exName || v.full < 0 {
			continue
		}
		if _, ok := selectedAs(v.d.Select, e); !ok {
			v.add(p+".column", o.Column, "with a full join, order_by must name a selected column (add it to select)")
		}
	}
}

// window checks the column the run's window filters on.
func (v *validator) window() {
	if v.d.Window == "" {
		return
	}
	if !v.scope.Window {
		v.add("window", v.d.Window, "the job has no window: set the job's window (previous_day, previous_week, previous_month or last Nh)")
		return
	}
	v.expr("window", v.d.Window, inWindow)
}

// Join diagnostic counts, the second part of an Expect check.
const (
	statMatched        = "matched"
	statLeftUnmatched  = "left_unmatched"
	statRightUnmatched = "right_unmatched"
)

func (v *validator) expects() {
	for i, x := range v.d.Expect {
		p := fmt.Sprintf("expect[%d]", i)
		if x.Check != "rows" {
			alias, stat, _ := strings.Cut(x.Check, ".")
			pos, defined := v.aliases[alias]
			switch {
			case stat != statMatched && stat != statLeftUnmatched && stat != statRightUnmatched:
				v.add(p+".check", x.Check, "want rows or <alias>.matched, <alias>.left_unmatched or <alias>.right_unmatched")
			case !defined || pos == 0:
				v.add(p+".check", x.Check, "%q is not the alias of a join (%s)", alias, v.knownAliases())
			case !slices.Contains(diagnosed(v.d), pos-1):
				v.add(p+".check", x.Check, "join %s has no diagnostics: only left, right and full joins have them, when an on condition compares a column of the joined table (a table before it, for right joins) and no right or full join follows", alias)
			}
		}
		if !slices.Contains(onOps, strings.TrimSpace(x.Op)) {
			v.add(p+".op", x.Op, "want one of %s", strings.Join(onOps, " "))
		}
		if x.Value < 0 {
			v.add(p+".value", x.Value, "must be at least 0")
		}
		if f := normWord(x.OnFail); f != "" && f != "fail" && f != "warn" {
			v.add(p+".on_fail", x.OnFail, "want fail or warn")
		}
	}
}

// selectedAs returns the output name of the selection that e repeats: a
// plain column selected as is, or the same expression.
func selectedAs(sel []Selection, e *expr) (string, bool) {
	want := e.String()
	for _, s := range sel {
		if se, err := selectionExpr(s); err == nil && se.String() == want {
			return s.OutputName(), true
		}
	}
	return "", false
}

// selectionExpr parses a selection into its expression.
func selectionExpr(s Selection) (*expr, error) {
	if s.Agg != "" {
		return aggExprOf(s.Agg, s.Column)
	}
	return parseExpr(s.Column)
}
