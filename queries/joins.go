package queries

import (
	"fmt"
	"slices"
	"strings"

	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/exp"
)

// The from table and the joins: their aliases, join types and on or using
// conditions, checked and compiled. A join target may be another dataset
// (derived.go); a full join is emulated (fulljoin.go); outer joins are
// diagnosed (diagnostics.go).

// Table names a table, or another dataset of the same job used as a derived
// table, and the alias the rest of the dataset uses for it. In YAML it is
// either a mapping {table: users, as: u} / {dataset: post_stats, as: s} or
// the shorthand string "users u" / "users AS u" / "users".
type Table struct {
	Table   string `yaml:"table"`
	Dataset string `yaml:"dataset"`
	As      string `yaml:"as"`
}

// Join adds one table (or derived dataset) to the dataset. Its on conditions
// may use the tables before it and itself; using lists columns both sides
// share instead. A full join is emulated with UNION ALL and supported only in
// the shapes the package documentation lists.
type Join struct {
	Table   string      `yaml:"table"`
	Dataset string      `yaml:"dataset"`
	As      string      `yaml:"as"`
	Type    string      `yaml:"type"`  // inner (default), left, right, full, cross
	On      []Condition `yaml:"on"`    // ANDed
	Using   []string    `yaml:"using"` // unqualified column names; instead of on
}

// Condition compares two operands in a join's on clause. Each operand is a
// column, a literal ('published', 3), a :parameter or a function call. In
// YAML it is a mapping {left: u.id, op: "=", right: p.user_id} or the string
// "u.id = p.user_id" / "p.status = 'published'" / "p.views >= :min_views".
type Condition struct {
	Left  string `yaml:"left"`
	Op    string `yaml:"op"`
	Right string `yaml:"right"`
}

// UnmarshalText parses the shorthand "users", "users u" or "users AS u"
// (AS in any case).
func (t *Table) UnmarshalText(text []byte) error {
	f := strings.Fields(string(text))
	switch {
	case len(f) == 1:
		*t = Table{Table: f[0]}
	case len(f) == 2 && !strings.EqualFold(f[1], "as"):
		*t = Table{Table: f[0], As: f[1]}
	case len(f) == 3 && strings.EqualFold(f[1], "as"):
		*t = Table{Table: f[0], As: f[2]}
	default:
		return fmt.Errorf("table %q: want \"table\", \"table alias\" or \"table AS alias\"", text)
	}
	return nil
}

// UnmarshalText parses the shorthand "LEFT OP RIGHT": "u.id = p.user_id",
// "p.published_at >= u.created_at", "p.status = 'published'",
// "p.views >= :min_views"; the operator is one of = != <> < <= > >=.
func (c *Condition) UnmarshalText(text []byte) error {
	left, op, right, err := splitComparison(string(text))
	if err != nil {
		return fmt.Errorf("condition %q: want \"alias.column OP alias.column\" with OP one of = != <> < <= > >= (either side may be a 'value', a :parameter or a function call): %v", text, err)
	}
	*c = Condition{Left: left, Op: op, Right: right}
	return nil
}

// Join types after normalisation.
const (
	joinInner = "inner"
	joinLeft  = "left"
	joinRight = "right"
	joinFull  = "full"
	joinCross = "cross"
)

var (
	joinTypes = []string{joinInner, joinLeft, joinRight, joinFull, joinCross}
	onOps     = []string{"=", "!=", "<>", "<", "<=", ">", ">="}
)

// normType returns the join's type in lower case, inner when unset.
func (j Join) normType() string {
	if strings.TrimSpace(j.Type) == "" {
		return joinInner
	}
	return strings.ToLower(strings.TrimSpace(j.Type))
}

// alias returns the name the dataset uses for the table: As, or the table
// (or dataset) name.
func (t Table) alias() string {
	switch {
	case t.As != "":
		return t.As
	case t.Table != "":
		return t.Table
	}
	return t.Dataset
}

func (j Join) alias() string { return j.table().alias() }

// table returns the join's target as a Table.
func (j Join) table() Table { return Table{Table: j.Table, Dataset: j.Dataset, As: j.As} }

// tables checks table names, derived datasets and aliases and records the
// aliases.
func (v *validator) tables() {
	where := map[string]string{} // lower-cased alias -> path of its definition
	define := func(path string, t Table, pos int) {
		tablePath, value := path+".table", t.Table
		switch {
		case t.Table != "" && t.Dataset != "":
			v.add(path, nil, "give table or dataset, not both")
		case t.Dataset != "":
			tablePath, value = path+".dataset", t.Dataset
			v.derivedTable(tablePath, t)
		default:
			v.ident(tablePath, t.Table, true)
		}
		if t.As != "" {
			v.ident(path+".as", t.As, false)
		}
		alias, aliasPath := t.alias(), path+".as"
		if t.As == "" {
			aliasPath = tablePath
			if t.Dataset != "" && !identRE.MatchString(t.Dataset) {
				v.add(aliasPath, t.Dataset, "this dataset name is not a valid alias: set as:")
				return
			}
		}
		if !identRE.MatchString(alias) {
			return // reported above
		}
		if t.As != "" {
			value = t.As
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
		v.derivedColumns(alias, t)
	}
	define("from", v.d.From, 0)
	for i, j := range v.d.Joins {
		define(fmt.Sprintf("joins[%d]", i), j.table(), i+1)
	}
}

// joins checks each join's type and its on conditions or using columns.
// What a full join allows is checked by fullJoin.
func (v *validator) joins() {
	for i, j := range v.d.Joins {
		p := fmt.Sprintf("joins[%d]", i)
		typ := j.normType()
		if !slices.Contains(joinTypes, typ) {
			v.add(p+".type", j.Type, "unknown join type: want one of %s", strings.Join(joinTypes, ", "))
		}
		switch {
		case typ == joinCross && (len(j.On) > 0 || len(j.Using) > 0):
			v.add(p+".on", nil, "a cross join takes no on conditions")
		case len(j.On) > 0 && len(j.Using) > 0:
			v.add(p+".using", nil, "give on or using, not both")
		case typ != joinCross && len(j.On) == 0 && len(j.Using) == 0:
			v.missing(p+".on", "required for %s joins (use type: cross for a cartesian product)", typ)
		}
		for k, col := range j.Using {
			up := fmt.Sprintf("%s.using[%d]", p, k)
			if v.ident(up, col, true) && v.derivedLacks(j.alias(), col) {
				v.add(up, col, "the derived dataset %s has no output column %q", j.alias(), col)
			}
		}
		// An on condition sees the tables before it and its own.
		on := exprCtx{maxPos: i + 1, agg: "aggregates are not allowed in on conditions"}
		for k, c := range j.On {
			cp := fmt.Sprintf("%s.on[%d]", p, k)
			v.expr(cp+".left", c.Left, on)
			if !slices.Contains(onOps, strings.TrimSpace(c.Op)) {
				if c.Op == "" {
					v.missing(cp+".op", "required: want one of %s", strings.Join(onOps, " "))
				} else {
					v.add(cp+".op", c.Op, "unknown operator: want one of %s", strings.Join(onOps, " "))
				}
			}
			v.expr(cp+".right", c.Right, on)
		}
	}
}

// joinKeys returns, for joins[i], the first column of a table before it
// (left) and the first column of the joined table (right) that an on
// condition compares as a whole operand; either is "" when there is none.
// With using, right is the joined table's first using column and left is "".
func joinKeys(d *Dataset, i int) (left, right string) {
	j := d.Joins[i]
	alias := j.alias()
	if len(j.Using) > 0 {
		return "", alias + "." + j.Using[0]
	}
	before := map[string]bool{d.From.alias(): true}
	for _, b := range d.Joins[:i] {
		before[b.alias()] = true
	}
	for _, cond := range j.On {
		for _, operand := range []string{cond.Left, cond.Right} {
			e, err := parseExpr(operand)
			if err != nil || e.kind != exColumn {
				continue
			}
			a, _, _ := splitColumn(e.text)
			switch {
			case left == "" && before[a]:
				left = e.text
			case right == "" && a == alias:
				right = e.text
			}
		}
	}
	return left, right
}

// tableExpr returns a table, or another dataset as a derived table.
func (c *compiler) tableExpr(t Table) exp.Expression {
	if t.Dataset != "" {
		return c.derivedTable(t)
	}
	if t.As == "" || t.As == t.Table {
		return goqu.T(t.Table)
	}
	return goqu.T(t.Table).As(t.As)
}

// joins adds the joins to ds. In a branch of an emulated full join, the
// full join is built with the branch's type.
func (c *compiler) joins(ds *goqu.SelectDataset, d *Dataset, b branch) *goqu.SelectDataset {
	for i, j := range d.Joins {
		typ := j.normType()
		if i == b.full {
			typ = b.fullAs
		}
		t := c.tableExpr(j.table())
		var cond exp.JoinCondition
		if len(j.Using) > 0 {
			cols := make([]any, len(j.Using))
			for k, u := range j.Using {
				cols[k] = u
			}
			cond = goqu.Using(cols...)
		} else {
			on := make([]exp.Expression, len(j.On))
			for k, cd := range j.On {
				on[k] = c.compare(c.exprOf(c.parse(cd.Left)), strings.TrimSpace(cd.Op), c.exprOf(c.parse(cd.Right)))
			}
			cond = goqu.On(on...)
		}
		switch typ {
		case joinInner:
			ds = ds.InnerJoin(t, cond)
		case joinLeft:
			ds = ds.LeftJoin(t, cond)
		case joinRight:
			ds = ds.RightJoin(t, cond)
		case joinCross:
			ds = ds.CrossJoin(t)
		default:
			// Unreachable after Validate; the dialect refuses to build it.
			ds = ds.FullOuterJoin(t, cond)
		}
	}
	return ds
}
