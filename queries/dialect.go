package queries

import (
	"github.com/doug-martin/goqu/v9"
	"github.com/doug-martin/goqu/v9/dialect/mysql"
	"github.com/doug-martin/goqu/v9/exp"
)

// dialectName is the goqu dialect every SELECT is built in: MySQL's without
// FULL joins.
const dialectName = "joinery_mysql"

// init registers the dialect, once, when the package is loaded. goqu keeps
// its dialects in a registry of its own (a map behind a lock) and a
// dataset takes its dialect by name only: SQLDialect's methods take a type
// internal to goqu, so no dialect can be made outside the registry. The
// name is this package's own, written here and nowhere else, and read by
// newSelect; nothing changes it afterwards. It is the package's one write
// to state outside itself.
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

// newSelect starts a SELECT from the table expression from.
func newSelect(from any) *goqu.SelectDataset {
	return goqu.Dialect(dialectName).From(from)
}
