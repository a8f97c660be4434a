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
	GroupBy []string    `yaml:"group_by"`
	Having  []Filter    `yaml:"having"`
	OrderBy []Order     `yaml:"order_by"`
	Limit   *uint64     `yaml:"limit"`
}

// Table names a table and the alias the rest of the dataset uses for it.
// In YAML it is either a mapping {table: users, as: u} or the shorthand
// string "users u" / "users AS u" / "users".
type Table struct {
	Table string `yaml:"table"`
	As    string `yaml:"as"`
}

// Join adds one table to the dataset. Its on conditions may use the tables
// before it and itself. A full join is emulated with UNION ALL and supported
// only in the shapes the package documentation lists.
type Join struct {
	Table string      `yaml:"table"`
	As    string      `yaml:"as"`
	Type  string      `yaml:"type"` // inner (default), left, right, full, cross
	On    []Condition `yaml:"on"`   // ANDed; empty only for cross joins
}

// Condition compares two columns in a join's on clause. In YAML it is a
// mapping {left: u.id, op: "=", right: p.user_id} or the string "u.id = p.user_id".
type Condition struct {
	Left  string `yaml:"left"`
	Op    string `yaml:"op"`
	Right string `yaml:"right"`
}

// Selection is one selected column. In YAML: "u.name", "u.name AS user_name",
// "count(p.id) AS posts", or a mapping {column: p.id, agg: count, as: posts}.
type Selection struct {
	Column string `yaml:"column"`
	Agg    string `yaml:"agg"` // count, count_distinct, sum, min, max, avg
	As     string `yaml:"as"`
}

// Filter is one condition of where or having; several are ANDed.
// Op is one of = != <> < <= > >= in, not in, like, not like, is null,
// is not null, between (any case). Value holds the bound value: a scalar
// (string, number, bool), a non-empty list for in/not in, or a list of two
// for between; it is absent for is null / is not null. Agg is only allowed in
// having, where Column may also name a select output column unqualified.
type Filter struct {
	Column string `yaml:"column"`
	Agg    string `yaml:"agg"`
	Op     string `yaml:"op"`
	Value  any    `yaml:"value"`
}

// Order is one order_by term. In YAML: "u.id", "u.id desc", or a mapping
// {column: u.id, dir: desc}. Column is a qualified table column or, unqualified,
// a select output column (e.g. an aggregate's as name).
type Order struct {
	Column string `yaml:"column"`
	Dir    string `yaml:"dir"` // asc (default) or desc
}
