package queries

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"

	"github.com/joinery/joinery/config"
)

// A dataset, its scope and environment, and the two passes over it:
// Validate runs each construct's check in turn, Compile each construct's
// clause. What a construct is, how it is checked and how it is compiled
// live together in its own file (joins.go, select.go, filters.go, ...);
// this file only calls them in order.

// Dataset is the declarative description of one join query, as written under
// jobs[].datasets in config.yaml. It is compiled into MySQL SQL with bound
// arguments by Compile; nothing in it is ever spliced into SQL unvalidated.
type Dataset struct {
	// Name is the dataset's key in the job's datasets mapping. It names the
	// sheet of the workbook and the {dataset} of file name templates.
	Name string `yaml:",key"`

	From    Table       `yaml:"from"`
	Joins   []Join      `yaml:"joins"`
	Select  []Selection `yaml:"select"`
	Where   []Filter    `yaml:"where"`
	GroupBy []string    `yaml:"group_by"` // columns or expressions
	Having  []Filter    `yaml:"having"`
	OrderBy []Order     `yaml:"order_by"`
	Limit   *uint64     `yaml:"limit"`

	// Window, when set, is a column or expression the run's window filters
	// on: Window >= window start AND Window < window end (half-open).
	Window string `yaml:"window"`
	// Expect are checks on the row count and the join diagnostics, made
	// after the dataset has been read.
	Expect []Expect `yaml:"expect"`
	// Internal datasets are not written to any output: they only serve as
	// derived tables of later datasets of the job.
	Internal bool `yaml:"internal"`

	// SQL, for a raw SQL dataset (rawsql.go), is its query: one SELECT
	// with :name placeholders, instead of the declarative fields above.
	SQL string `yaml:"sql"`
	// SQLFile names a file holding a raw SQL dataset's query instead:
	// relative to the configuration file's folder, which the loader
	// (jobs) checks and reads into FileSQL.
	SQLFile string `yaml:"sql_file"`
	// FileSQL is the text of SQLFile, set by the loader before Validate.
	FileSQL string `yaml:"-"`
}

// Scope is what a dataset may refer to besides its own tables: the job's
// declared parameters, the datasets defined before it in the same job (as
// derived tables), and whether runs of the job have a window.
type Scope struct {
	Params   []Param
	Datasets []Dataset
	Window   bool
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
	// names of the select list (as, else the column's name, or <agg>_<column>
	// for an aggregate of a column), which are also the names the server
	// reports for them. nil for a raw SQL dataset: only the server knows
	// them.
	Columns []string
	// Joins are the outer joins diagnosed (Env.Diagnostics). The result has
	// three hidden columns per join after Columns, in this order: matched,
	// left_unmatched, right_unmatched, each 0 or 1 per row (or a count per
	// group when the dataset aggregates); see JoinStats.
	Joins []JoinDiag
}

// validator is one Validate of a dataset: what the constructs checked so
// far have found out, for the ones checked after them, and the problems.
type validator struct {
	d     *Dataset
	scope Scope
	errs  []error
	// aliases maps each alias to where it is defined: 0 for from, i+1 for
	// joins[i] (joins.go).
	aliases map[string]int
	// derived maps the alias of each derived table to its dataset's output
	// names, lower-cased (derived.go).
	derived map[string]map[string]bool
	// outputs maps each output column name, lower-cased, to its select
	// index (select.go).
	outputs map[string]int
	// full is the index of the first full join, -1 when there is none
	// (fulljoin.go).
	full int
	// sel and order hold the parsed select and order_by expressions; nil
	// where one is invalid (select.go, orderby.go).
	sel, order []*expr
}

// add reports a problem with the field at path, relative to the dataset;
// value is what was written there, nil when there is nothing to show.
func (v *validator) add(path string, value any, format string, args ...any) {
	v.errs = append(v.errs, config.Problem(path, value, fmt.Sprintf(format, args...)))
}

// missing reports a required field that is missing or empty; msg starts
// with "required".
func (v *validator) missing(path string, format string, args ...any) {
	v.errs = append(v.errs, config.Required(path, fmt.Sprintf(format, args...)))
}

// Validate checks the dataset in its scope and returns every problem found,
// each as a *config.FieldError with a path relative to the dataset; it
// returns nil when the dataset can be compiled. It does not modify the
// dataset.
func (d *Dataset) Validate(scope Scope) []error {
	v := &validator{d: d, scope: scope, aliases: map[string]int{}, derived: map[string]map[string]bool{},
		outputs: map[string]int{}, full: fullJoinIndex(d)}
	if d.IsRaw() {
		v.raw() // rawsql.go
		return v.errs
	}
	v.tables()   // joins.go: from and join targets, their aliases
	v.joins()    // joins.go: types, on and using
	v.selects()  // select.go
	v.where()    // filters.go
	v.groupBy()  // groupby.go
	v.having()   // filters.go
	v.orderBy()  // orderby.go
	v.limit()    // orderby.go
	v.window()   // window.go
	v.fullJoin() // fulljoin.go: the shapes the emulation supports
	v.expects()  // diagnostics.go
	return v.errs
}

// Compile validates the dataset in env and compiles it into a prepared
// MySQL query. When the dataset is invalid the error joins every
// problem Validate reports; callers that want the individual errors call
// Validate first.
func Compile(d *Dataset, env Env) (Query, error) {
	if errs := d.Validate(env.scope(d)); len(errs) > 0 {
		return Query{}, errors.Join(errs...)
	}
	c := &compiler{env: env}
	if d.IsRaw() {
		return c.raw(d) // rawsql.go
	}
	q, err := c.query(d)
	if err != nil {
		return Query{}, err
	}
	// The same query once more with every bound value replaced by a label:
	// the arguments come out in the same order and name themselves.
	labelled, err := (&compiler{env: env, label: true, parsed: c.parsed}).query(d)
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

// compiler is one compile of a dataset (and of the derived datasets it
// uses) in an environment.
type compiler struct {
	env Env
	// label binds a label naming each value's source instead of the value
	// (see Compile).
	label bool
	// probe makes every SELECT read no row (probe.go).
	probe bool
	// parsed holds the expressions parsed so far, by source text (see
	// compiler.parse).
	parsed map[string]*expr
	// names maps the select output names, lower-cased, to their
	// expressions while a having condition is compiled (filters.go).
	names map[string]*expr
}

func (c *compiler) query(d *Dataset) (Query, error) {
	ds, diags := c.dataset(d, c.env.Diagnostics)
	sql, args, err := ds.Prepared(true).ToSQL()
	if err != nil {
		return Query{}, fmt.Errorf("build sql: %w", err)
	}
	return Query{SQL: sql, Args: args, Columns: outputNames(d.Select), Joins: diags}, nil
}

// dataset builds the whole SELECT of d; with diag, the hidden diagnostic
// columns are added.
func (c *compiler) dataset(d *Dataset, diag bool) (*goqu.SelectDataset, []JoinDiag) {
	var diags []JoinDiag
	if diag {
		diags = joinDiags(d) // diagnostics.go
	}
	var ds *goqu.SelectDataset
	if full := fullJoinIndex(d); full >= 0 {
		ds = c.fullJoin(d, diags, full) // fulljoin.go
	} else {
		ds = c.selectCore(d, branch{diags: diags, full: -1})
		ds = c.groupBy(ds, d)        // groupby.go
		ds = c.having(ds, d)         // filters.go
		ds = c.orderBy(ds, d, false) // orderby.go
	}
	return c.limit(ds, d), diags // orderby.go
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
	ds := newSelect(c.tableExpr(d.From)) // dialect.go, joins.go
	ds = c.selectList(ds, d)             // select.go
	ds = c.hiddenColumns(ds, d, b)       // diagnostics.go
	ds = c.joins(ds, d, b)               // joins.go
	ds = c.where(ds, d)                  // filters.go
	ds = c.window(ds, d)                 // window.go
	if b.extra != nil {
		ds = ds.Where(b.extra) // fulljoin.go
	}
	return c.readNoRow(ds) // probe.go
}
