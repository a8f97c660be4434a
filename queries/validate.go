package queries

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// FieldError is one problem found by Validate. Path is relative to the
// dataset (from.table, joins[0].on[1].left, select[2].as, where[0].value,
// order_by[1].dir, ...); callers prefix it with the dataset's own location,
// e.g. jobs[1].datasets.posts.
type FieldError struct {
	Path  string
	Value any // the offending value; nil when the field is missing or empty
	Msg   string
}

// Error formats the error as `path: "value": message`, leaving the value out
// when it is nil.
func (e *FieldError) Error() string {
	switch v := e.Value.(type) {
	case nil:
		return e.Path + ": " + e.Msg
	case string:
		return fmt.Sprintf("%s: %q: %s", e.Path, v, e.Msg)
	default:
		return fmt.Sprintf("%s: %v: %s", e.Path, v, e.Msg)
	}
}

// maxIdentLen is MySQL's limit for table, column and alias names.
const maxIdentLen = 64

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Join types after normalisation.
const (
	joinInner = "inner"
	joinLeft  = "left"
	joinRight = "right"
	joinFull  = "full"
	joinCross = "cross"
)

var (
	joinTypes  = []string{joinInner, joinLeft, joinRight, joinFull, joinCross}
	aggregates = []string{"count", "count_distinct", "sum", "min", "max", "avg"}
	onOps      = []string{"=", "!=", "<>", "<", "<=", ">", ">="}
	filterOps  = []string{"=", "!=", "<>", "<", "<=", ">", ">=", "in", "not in", "like", "not like", "is null", "is not null", "between"}
)

// normType returns the join's type in lower case, inner when unset.
func (j Join) normType() string {
	if strings.TrimSpace(j.Type) == "" {
		return joinInner
	}
	return strings.ToLower(strings.TrimSpace(j.Type))
}

// alias returns the name the dataset uses for the table: As, or the table name.
func (t Table) alias() string {
	if t.As != "" {
		return t.As
	}
	return t.Table
}

func (j Join) alias() string {
	if j.As != "" {
		return j.As
	}
	return j.Table
}

// normOp lower-cases an operator and collapses inner white space, so that
// "NOT  IN" reads as "not in".
func normOp(op string) string {
	return strings.Join(strings.Fields(strings.ToLower(op)), " ")
}

func normWord(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// OutputName returns the name of the column this selection produces: As when
// set; otherwise the column name for a plain column, or <agg>_<column> for an
// aggregate (just the aggregate's name for count(*)).
func (s Selection) OutputName() string {
	if s.As != "" {
		return s.As
	}
	col := s.Column
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

// splitColumn splits a qualified column "alias.column" into its parts.
func splitColumn(s string) (alias, col string, ok bool) {
	alias, col, found := strings.Cut(s, ".")
	if !found || !identRE.MatchString(alias) || !identRE.MatchString(col) {
		return "", "", false
	}
	return alias, col, true
}

type validator struct {
	d    *Dataset
	errs []error
	// aliases maps each alias to where it is defined: 0 for from, i+1 for joins[i].
	aliases map[string]int
	// outputs maps each output column name, lower-cased, to its select index.
	outputs map[string]int
	full    int // index of the first full join, -1 when there is none
	// badSelect marks the select entries whose column was reported invalid.
	badSelect map[int]bool
}

func (v *validator) add(path string, value any, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the dataset and returns every problem found, each as a
// *FieldError; it returns nil when the dataset can be compiled. It does not
// modify the dataset.
func (d *Dataset) Validate() []error {
	v := &validator{d: d, aliases: map[string]int{}, outputs: map[string]int{}, full: -1, badSelect: map[int]bool{}}
	v.tables()
	v.joins()
	v.selects()
	v.filters("where", d.Where, false)
	v.groupBy()
	v.filters("having", d.Having, true)
	v.orderBy()
	if d.Limit != nil && *d.Limit == 0 {
		v.add("limit", *d.Limit, "must be greater than 0")
	}
	return v.errs
}

// ident checks a table name or alias.
func (v *validator) ident(path, s string, required bool) bool {
	switch {
	case s == "":
		if required {
			v.add(path, nil, "required")
		}
		return false
	case !identRE.MatchString(s):
		v.add(path, s, "invalid name: use letters, digits and underscores, not starting with a digit")
		return false
	case len(s) > maxIdentLen:
		v.add(path, s, "longer than %d characters", maxIdentLen)
		return false
	}
	return true
}

// tables checks table names and aliases and records the aliases.
func (v *validator) tables() {
	where := map[string]string{} // lower-cased alias -> path of its definition
	define := func(path, tablePath, table, as string, pos int) {
		v.ident(tablePath, table, true)
		if as != "" {
			v.ident(path+".as", as, false)
		}
		alias, aliasPath, value := as, path+".as", any(as)
		if as == "" {
			alias, aliasPath, value = table, tablePath, table
		}
		if !identRE.MatchString(alias) {
			return // reported above
		}
		// The alias is registered even when the table name is wrong, so
		// that its uses do not each report a second error.
		key := strings.ToLower(alias)
		if prev, dup := where[key]; dup {
			v.add(aliasPath, value, "duplicate alias (%s uses it): set as: to a unique alias", prev)
			return
		}
		where[key] = path
		v.aliases[alias] = pos
	}
	define("from", "from.table", v.d.From.Table, v.d.From.As, 0)
	for i, j := range v.d.Joins {
		p := fmt.Sprintf("joins[%d]", i)
		define(p, p+".table", j.Table, j.As, i+1)
	}
}

func (v *validator) knownAliases() string {
	names := make([]string, 0, len(v.aliases))
	for a := range v.aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none defined"
	}
	return "known: " + strings.Join(names, ", ")
}

// column checks a qualified column reference and returns its alias's
// position (see validator.aliases). maxPos limits which aliases are visible:
// an on condition of joins[i] sees positions up to i+1.
func (v *validator) column(path, s string, maxPos int) (pos int, ok bool) {
	if s == "" {
		v.add(path, nil, "required")
		return 0, false
	}
	if s == "*" {
		v.add(path, s, `"*" is only allowed in count(*)`)
		return 0, false
	}
	alias, col, ok := splitColumn(s)
	if !ok {
		if identRE.MatchString(s) {
			v.add(path, s, "must be qualified as alias.column")
		} else {
			v.add(path, s, "invalid column: want alias.column with letters, digits and underscores")
		}
		return 0, false
	}
	if len(alias) > maxIdentLen || len(col) > maxIdentLen {
		v.add(path, s, "name longer than %d characters", maxIdentLen)
		return 0, false
	}
	pos, defined := v.aliases[alias]
	switch {
	case !defined:
		v.add(path, s, "unknown alias %q (%s)", alias, v.knownAliases())
		return 0, false
	case pos > maxPos:
		v.add(path, s, "alias %q is joined later: an on condition can only use the tables joined before it and its own", alias)
		return 0, false
	}
	return pos, true
}

const anyPos = math.MaxInt

func (v *validator) joins() {
	for i, j := range v.d.Joins {
		p := fmt.Sprintf("joins[%d]", i)
		typ := j.normType()
		if !slices.Contains(joinTypes, typ) {
			v.add(p+".type", j.Type, "unknown join type: want one of %s", strings.Join(joinTypes, ", "))
		}
		switch {
		case typ == joinFull && v.full >= 0:
			v.add(p+".type", j.Type, "only one full join per dataset is supported (joins[%d] is full)", v.full)
		case typ == joinFull:
			v.full = i
		case typ == joinRight && v.full >= 0:
			v.add(p+".type", j.Type, "a right join after a full join is not supported: the full join is emulated with UNION ALL, which only inner, left and cross joins after it distribute over")
		}
		switch {
		case typ == joinCross && len(j.On) > 0:
			v.add(p+".on", nil, "a cross join takes no on conditions")
		case typ != joinCross && len(j.On) == 0:
			v.add(p+".on", nil, "required for %s joins (use type: cross for a cartesian product)", typ)
		}
		leftOperand := false
		for k, c := range j.On {
			cp := fmt.Sprintf("%s.on[%d]", p, k)
			if lp, ok := v.column(cp+".left", c.Left, i+1); ok && lp <= i {
				leftOperand = true
			}
			if !slices.Contains(onOps, strings.TrimSpace(c.Op)) {
				if c.Op == "" {
					v.add(cp+".op", nil, "required: want one of %s", strings.Join(onOps, " "))
				} else {
					v.add(cp+".op", c.Op, "unknown operator: want one of %s", strings.Join(onOps, " "))
				}
			}
			if rp, ok := v.column(cp+".right", c.Right, i+1); ok && rp <= i {
				leftOperand = true
			}
		}
		if typ == joinFull && len(j.On) > 0 && !leftOperand {
			v.add(p+".on", nil, "a full join needs an on condition that uses a column of a table before it (e.g. u.id = %s.id)", j.alias())
		}
	}
}

// selects checks the select list and records the output names.
func (v *validator) selects() {
	if len(v.d.Select) == 0 {
		v.add("select", nil, "must not be empty")
		return
	}
	for i, s := range v.d.Select {
		p := fmt.Sprintf("select[%d]", i)
		if !v.aggregate(p, s.Agg, s.Column) {
			v.badSelect[i] = true
		}
		if s.Agg != "" && v.full >= 0 {
			v.add(p+".agg", s.Agg, "aggregates are not supported with a full join (joins[%d])", v.full)
		}
		if s.As != "" && !v.ident(p+".as", s.As, false) {
			continue
		}
		name := s.OutputName()
		if !identRE.MatchString(name) {
			continue // the column error has been reported
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

// aggregate checks an agg name and the column it applies to (or the plain
// column when agg is empty). It reports whether the column is valid.
func (v *validator) aggregate(p, rawAgg, column string) bool {
	agg := normWord(rawAgg)
	if rawAgg != "" && !slices.Contains(aggregates, agg) {
		v.add(p+".agg", rawAgg, "unknown aggregate: want one of %s", strings.Join(aggregates, ", "))
	}
	if column == "*" && agg == "count" {
		return true
	}
	_, ok := v.column(p+".column", column, anyPos)
	return ok
}

// filters checks where (having false) or having (having true).
func (v *validator) filters(field string, fs []Filter, having bool) {
	if having && len(fs) > 0 && v.full >= 0 {
		v.add(field, nil, "not supported with a full join (joins[%d])", v.full)
	}
	for i, f := range fs {
		p := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !having && f.Agg != "":
			v.add(p+".agg", f.Agg, "aggregates are not allowed in where: use having")
			v.column(p+".column", f.Column, anyPos)
		case having && f.Agg != "":
			v.aggregate(p, f.Agg, f.Column)
		case having && identRE.MatchString(f.Column):
			v.outputName(p+".column", f.Column)
		default:
			v.column(p+".column", f.Column, anyPos)
		}
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
		v.add(p+".op", nil, "required: want one of %s", strings.Join(filterOps, ", "))
		return
	case !slices.Contains(filterOps, op):
		v.add(p+".op", f.Op, "unknown operator: want one of %s", strings.Join(filterOps, ", "))
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
	grouped := map[string]bool{}
	for i, g := range v.d.GroupBy {
		v.column(fmt.Sprintf("group_by[%d]", i), g, anyPos)
		grouped[g] = true
	}
	hasAgg := slices.ContainsFunc(v.d.Select, func(s Selection) bool { return s.Agg != "" })
	if !hasAgg && len(v.d.GroupBy) == 0 || v.full >= 0 {
		return // nothing to group, or grouping was reported as unsupported
	}
	for i, s := range v.d.Select {
		if s.Agg == "" && !v.badSelect[i] && !grouped[s.Column] {
			v.add(fmt.Sprintf("select[%d].column", i), s.Column, "must be listed in group_by when the query aggregates")
		}
	}
}

func (v *validator) orderBy() {
	for i, o := range v.d.OrderBy {
		p := fmt.Sprintf("order_by[%d]", i)
		if dir := normWord(o.Dir); dir != "" && dir != "asc" && dir != "desc" {
			v.add(p+".dir", o.Dir, "want asc or desc")
		}
		if identRE.MatchString(o.Column) {
			v.outputName(p+".column", o.Column)
			continue
		}
		if _, ok := v.column(p+".column", o.Column, anyPos); !ok || v.full < 0 {
			continue
		}
		if _, ok := v.selectedAs(o.Column); !ok {
			v.add(p+".column", o.Column, "with a full join, order_by must name a selected column (add it to select)")
		}
	}
}

// selectedAs returns the output name of the plain selection of column, if any.
func (v *validator) selectedAs(column string) (string, bool) {
	return selectedAs(v.d.Select, column)
}

func selectedAs(sel []Selection, column string) (string, bool) {
	for _, s := range sel {
		if s.Agg == "" && s.Column == column {
			return s.OutputName(), true
		}
	}
	return "", false
}
