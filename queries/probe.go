package queries

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/doug-martin/goqu/v9"
)

// A DATETIME column holds wall clocks: the window bounds are compared with
// it as wall clocks in the database's zone (Env.Location). A TIMESTAMP
// column holds instants, which the server compares in the session's zone,
// UTC for joinery (see jobs.OpenDB): the same bounds, written in another
// zone, would select instants shifted by its offset. The compiler does not
// know the types of columns; the server does. Probe builds a query that
// reads no row and whose result columns are the expressions asked about,
// so that the types the server reports for them (a TIMESTAMP keeps its
// type through derived tables, UNION ALL, coalesce, min and max) decide
// how each window is bound: Env.TimestampWindows.

// Probe compiles a query over d's tables and joins, its derived datasets
// included, whose result columns are exprs (columns or expressions of d)
// in order, named c0, c1, ..., and which reads no row: every SELECT in it
// has WHERE FALSE. d must be valid in env (Compile's check).
func Probe(d *Dataset, env Env, exprs []string) (Query, error) {
	if len(exprs) == 0 {
		return Query{}, errors.New("probe: nothing to ask about")
	}
	p := Dataset{Name: d.Name, From: d.From, Joins: d.Joins}
	for i, e := range exprs {
		p.Select = append(p.Select, Selection{Column: e, As: "c" + strconv.Itoa(i)})
	}
	if errs := p.Validate(env.scope(d)); len(errs) > 0 {
		return Query{}, fmt.Errorf("probe: %w", errors.Join(errs...))
	}
	env.Diagnostics = false
	return (&compiler{env: env, probe: true}).query(&p)
}

// WindowColumns returns the columns d's window expression refers to, each
// once, in order; nil when d has no window.
func WindowColumns(d *Dataset) []string {
	if d.Window == "" {
		return nil
	}
	e, err := parseExpr(d.Window)
	if err != nil {
		return nil
	}
	return columnsOf(e, nil)
}

// columnsOf appends the columns e refers to that out does not hold yet.
func columnsOf(e *expr, out []string) []string {
	e.walk(func(x *expr) {
		if x.kind == exColumn && !slices.Contains(out, x.text) {
			out = append(out, x.text)
		}
	})
	return out
}

// TimeUse is a comparison, outside the dataset's window, of columns with a
// date-time bound as a wall clock in the database's zone: the window's
// bounds (:window_start, :window_end) or a datetime parameter. Against a
// TIMESTAMP column such a comparison is off by the zone's offset; only the
// window field is bound by the column's type.
type TimeUse struct {
	Path    string   // the field, as in a config.FieldError: "where[0]", "joins[1].on[0]", "select[2].column"
	Param   string   // the parameter's name
	Columns []string // the columns compared with it
}

// TimeUses returns d's comparisons of columns with the window's bounds or
// a datetime parameter of params: filters whose param is one, on
// conditions, and comparisons (inside if and case, in a filter's
// condition, in any of its any groups) with one on one side.
func TimeUses(d *Dataset, params []Param) []TimeUse {
	timeParam := func(name string) bool {
		if name == paramWindowStart || name == paramWindowEnd {
			return true
		}
		i := slices.IndexFunc(params, func(p Param) bool { return p.Name == name })
		return i >= 0 && params[i].elemType() == "datetime"
	}
	// paramIn returns the first time parameter in e, or "".
	paramIn := func(e *expr) string {
		found := ""
		e.walk(func(x *expr) {
			if found == "" && x.kind == exParam && timeParam(x.text) {
				found = x.text
			}
		})
		return found
	}
	var out []TimeUse
	add := func(path, param string, sides ...*expr) {
		var cols []string
		for _, s := range sides {
			cols = columnsOf(s, cols)
		}
		if len(cols) > 0 {
			out = append(out, TimeUse{Path: path, Param: param, Columns: cols})
		}
	}
	// compares adds the comparisons inside e with a time parameter on one
	// side (for between, an operand or a bound) and columns on the other.
	compares := func(path string, e *expr) {
		e.walk(func(x *expr) {
			if x.kind != exCompare || len(x.args) < 2 {
				return
			}
			if p := paramIn(x.args[0]); p != "" {
				add(path, p, x.args[1:]...)
				return
			}
			for _, side := range x.args[1:] {
				if p := paramIn(side); p != "" {
					add(path, p, x.args[0])
					return
				}
			}
		})
	}
	parse := func(src string) *expr {
		e, err := parseExpr(src)
		if err != nil {
			return nil
		}
		return e
	}
	for i, j := range d.Joins {
		for k, c := range j.On {
			path := fmt.Sprintf("joins[%d].on[%d]", i, k)
			l, r := parse(c.Left), parse(c.Right)
			if l == nil || r == nil {
				continue
			}
			if p := paramIn(r); p != "" {
				add(path, p, l)
			} else if p := paramIn(l); p != "" {
				add(path, p, r)
			}
			compares(path, l)
			compares(path, r)
		}
	}
	for i, s := range d.Select {
		if e := parse(s.Column); e != nil {
			compares(fmt.Sprintf("select[%d].column", i), e)
		}
	}
	// filter adds the uses of a filter of any form at path.
	var filter func(path string, flt Filter)
	filter = func(path string, flt Filter) {
		for g, group := range flt.Any {
			for k, sub := range group {
				filter(fmt.Sprintf("%s.any[%d][%d]", path, g, k), sub)
			}
		}
		if e := parse(flt.Cond); e != nil {
			compares(path+".cond", e)
		}
		e := parse(flt.Column)
		if e == nil {
			return
		}
		if timeParam(flt.Param) {
			add(path, flt.Param, e)
		}
		compares(path+".column", e)
	}
	for _, f := range []struct {
		field   string
		filters []Filter
	}{{"where", d.Where}, {"having", d.Having}} {
		for i, flt := range f.filters {
			filter(fmt.Sprintf("%s[%d]", f.field, i), flt)
		}
	}
	return out
}

// readNoRow adds WHERE FALSE to a SELECT of a probe: the query reads no
// row but has the result columns' types.
func (c *compiler) readNoRow(ds *goqu.SelectDataset) *goqu.SelectDataset {
	if !c.probe {
		return ds
	}
	return ds.Where(goqu.L("FALSE"))
}
