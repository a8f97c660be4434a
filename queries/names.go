package queries

import (
	"regexp"
	"sort"
	"strings"
)

// Names: identifiers and column references, which every construct checks
// the same way. The aliases a column may use are those the from table and
// the joins define (joins.go); the columns of a derived dataset are its
// output names (derived.go).

// maxIdentLen is MySQL's limit for table, column and alias names.
const maxIdentLen = 64

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// splitColumn splits a qualified column "alias.column" into its parts.
func splitColumn(s string) (alias, col string, ok bool) {
	alias, col, found := strings.Cut(s, ".")
	if !found || !identRE.MatchString(alias) || !identRE.MatchString(col) {
		return "", "", false
	}
	return alias, col, true
}

// ident checks a table name or alias.
func (v *validator) ident(path, s string, required bool) bool {
	switch {
	case s == "":
		if required {
			v.missing(path, "required")
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
// an on condition of joins[i] sees positions up to i+1. value is what the
// error shows: the column, or the expression it is part of.
func (v *validator) column(path string, value any, s string, maxPos int) (pos int, ok bool) {
	alias, col, ok := splitColumn(s)
	if !ok {
		v.add(path, value, "invalid column: want alias.column with letters, digits and underscores")
		return 0, false
	}
	if len(alias) > maxIdentLen || len(col) > maxIdentLen {
		v.add(path, value, "name longer than %d characters", maxIdentLen)
		return 0, false
	}
	pos, defined := v.aliases[alias]
	switch {
	case !defined:
		v.add(path, value, "unknown alias %q (%s)", alias, v.knownAliases())
		return 0, false
	case pos > maxPos:
		v.add(path, value, "alias %q is joined later: an on condition can only use the tables joined before it and its own", alias)
		return 0, false
	}
	if v.derivedLacks(alias, col) {
		v.add(path, value, "the derived dataset %s has no output column %q", alias, col)
		return 0, false
	}
	return pos, true
}

// normOp lower-cases an operator and collapses inner white space, so that
// "NOT  IN" reads as "not in".
func normOp(op string) string {
	return strings.Join(strings.Fields(strings.ToLower(op)), " ")
}

// normWord lower-cases a keyword of the configuration (an aggregate, a
// direction, on_fail) and trims it.
func normWord(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
