package queries

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
}

// Selection is one selected column or expression. In YAML: "u.name",
// "u.name AS user_name", "count(p.id) AS posts", "lower(u.email) AS email",
// or a mapping {column: p.id, agg: count, as: posts}.
type Selection struct {
	Column string `yaml:"column"` // a column or an expression
	Agg    string `yaml:"agg"`    // count, count_distinct, sum, min, max, avg
	As     string `yaml:"as"`
}

// Filter is one condition of where or having; several are ANDed.
// Op is one of = != <> < <= > >= in, not in, like, not like, is null,
// is not null, between (any case). Value holds the bound value: a scalar
// (string, number, bool), a non-empty list for in/not in, or a list of two
// for between; it is absent for is null / is not null. Param instead names a
// run parameter whose value is bound. Agg is only allowed in having, where
// Column may also name a select output column unqualified.
type Filter struct {
	Column string `yaml:"column"` // a column or an expression
	Agg    string `yaml:"agg"`
	Op     string `yaml:"op"`
	Value  any    `yaml:"value"`
	Param  string `yaml:"param"`
}

// Order is one order_by term. In YAML: "u.id", "u.id desc",
// "year(p.published_at) desc", or a mapping {column: u.id, dir: desc}.
// Column is a qualified table column, an expression or, unqualified, a select
// output column (e.g. an aggregate's as name).
type Order struct {
	Column string `yaml:"column"`
	Dir    string `yaml:"dir"` // asc (default) or desc
}

// Expect is a check made after a dataset has been read. Check is "rows" or
// "<alias>.<count>" for an outer join with that alias, count being matched,
// left_unmatched or right_unmatched (see JoinStats). In YAML: a mapping
// {check: rows, op: ">=", value: 1, on_fail: warn} or the string
// "rows >= 1" / "p.right_unmatched = 0" (on_fail: fail).
type Expect struct {
	Check  string `yaml:"check"`
	Op     string `yaml:"op"` // = != <> < <= > >=
	Value  int64  `yaml:"value"`
	OnFail string `yaml:"on_fail"` // fail (default) or warn
}
