package queries

import (
	"fmt"

	"github.com/doug-martin/goqu/v9"
)

// ValidIdent checks a table or column name that configuration gives
// outside a dataset (a freshness guard's watermark, say): letters, digits
// and underscores, not starting with a digit, at most 64 characters. goqu
// quotes identifiers without escaping a backtick, so nothing else may
// reach it.
func ValidIdent(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("required")
	case !identRE.MatchString(s):
		return fmt.Errorf("invalid name: use letters, digits and underscores, not starting with a digit")
	case len(s) > maxIdentLen:
		return fmt.Errorf("longer than %d characters", maxIdentLen)
	}
	return nil
}

// Watermark compiles SELECT MAX(column) FROM table: how far the data of
// table has come, for a freshness guard. Both names must pass ValidIdent.
// A probe adds WHERE FALSE: the server resolves the names and types the
// result without reading a row.
func Watermark(table, column string, probe bool) (Query, error) {
	for _, n := range []string{table, column} {
		if err := ValidIdent(n); err != nil {
			return Query{}, fmt.Errorf("watermark %q: %w", n, err)
		}
	}
	ds := newSelect(goqu.T(table)).Select(goqu.MAX(goqu.C(column)))
	if probe {
		ds = ds.Where(goqu.L("FALSE"))
	}
	sql, args, err := ds.Prepared(true).ToSQL()
	if err != nil {
		return Query{}, err
	}
	return Query{SQL: sql, Args: args}, nil
}
