package queries

import (
	"slices"
	"strings"

	"github.com/doug-martin/goqu/v9/exp"
)

// Derived datasets: a from table or join target that is another dataset of
// the job, one defined before this one (Table.Dataset). It is checked
// against the datasets in scope, its output names are the columns its
// alias has, and it compiles into a derived table (SELECT ...) AS alias
// with the same window and parameters.

// dataset returns the dataset of the scope with that name, or nil.
func (s Scope) dataset(name string) *Dataset {
	for i := range s.Datasets {
		if s.Datasets[i].Name == name {
			return &s.Datasets[i]
		}
	}
	return nil
}

// derivedTable checks a reference to another dataset of the job.
func (v *validator) derivedTable(path string, t Table) {
	switch {
	case t.Dataset == v.d.Name:
		v.add(path, t.Dataset, "a dataset cannot use itself as a derived table")
	case v.scope.dataset(t.Dataset) != nil && v.scope.dataset(t.Dataset).IsRaw():
		v.add(path, t.Dataset, "a raw SQL dataset cannot be a derived table (only the server knows its columns): write this dataset in SQL too, with that query in a WITH clause")
	case v.scope.dataset(t.Dataset) == nil:
		names := make([]string, len(v.scope.Datasets))
		for i, d := range v.scope.Datasets {
			names[i] = d.Name
		}
		known := "none"
		if len(names) > 0 {
			known = strings.Join(names, ", ")
		}
		v.add(path, t.Dataset, "unknown dataset: a dataset can use the datasets defined before it in the same job (before it: %s)", known)
	}
}

// derivedColumns records the output names of the dataset t names, if it is
// one in scope, as the columns of alias.
func (v *validator) derivedColumns(alias string, t Table) {
	ds := v.scope.dataset(t.Dataset)
	if ds == nil || t.Dataset == v.d.Name || ds.IsRaw() {
		return
	}
	cols := map[string]bool{}
	for _, s := range ds.Select {
		cols[strings.ToLower(s.outputName())] = true
	}
	v.derived[alias] = cols
}

// derivedLacks reports whether alias is a derived dataset without an output
// column col.
func (v *validator) derivedLacks(alias, col string) bool {
	cols, ok := v.derived[alias]
	return ok && !cols[strings.ToLower(col)]
}

// derivedTable compiles the dataset t names as a derived table.
func (c *compiler) derivedTable(t Table) exp.Expression {
	i := slices.IndexFunc(c.env.Datasets, func(d Dataset) bool { return d.Name == t.Dataset })
	sub, _ := c.dataset(&c.env.Datasets[i], false)
	return sub.As(t.alias())
}
