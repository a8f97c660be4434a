package queries

import (
	"fmt"
	"regexp"
	"strings"
)

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

var conditionRE = regexp.MustCompile(`^\s*([^\s<>=!]+)\s*(<=|>=|<>|!=|=|<|>)\s*([^\s<>=!]+)\s*$`)

// UnmarshalText parses the shorthand "u.id = p.user_id"; the operator is one
// of = != <> < <= > >=.
func (c *Condition) UnmarshalText(text []byte) error {
	m := conditionRE.FindStringSubmatch(string(text))
	if m == nil {
		return fmt.Errorf("condition %q: want \"alias.column OP alias.column\" with OP one of = != <> < <= > >=", text)
	}
	*c = Condition{Left: m[1], Op: m[2], Right: m[3]}
	return nil
}

var selectionRE = regexp.MustCompile(`^\s*(?:([A-Za-z_]+)\s*\(\s*([^\s()]+)\s*\)|([^\s()]+))(?:\s+(?i:as)\s+([^\s()]+))?\s*$`)

// UnmarshalText parses the shorthand "u.name", "u.name AS user_name",
// "count(p.id) AS posts", "count_distinct(p.user_id) as n" or "count(*)".
// The aggregate name is stored in lower case; Validate checks it.
func (s *Selection) UnmarshalText(text []byte) error {
	m := selectionRE.FindStringSubmatch(string(text))
	if m == nil || strings.EqualFold(m[3], "as") || strings.EqualFold(m[4], "as") {
		return fmt.Errorf("selection %q: want \"alias.column\", \"alias.column AS name\" or \"agg(alias.column) AS name\"", text)
	}
	if m[1] != "" {
		*s = Selection{Agg: strings.ToLower(m[1]), Column: m[2], As: m[4]}
	} else {
		*s = Selection{Column: m[3], As: m[4]}
	}
	return nil
}

// UnmarshalText parses the shorthand "u.id", "u.id asc" or "u.id desc"
// (direction in any case, stored in lower case).
func (o *Order) UnmarshalText(text []byte) error {
	f := strings.Fields(string(text))
	switch {
	case len(f) == 1:
		*o = Order{Column: f[0]}
	case len(f) == 2 && (strings.EqualFold(f[1], "asc") || strings.EqualFold(f[1], "desc")):
		*o = Order{Column: f[0], Dir: strings.ToLower(f[1])}
	default:
		return fmt.Errorf("order %q: want \"alias.column\", \"alias.column asc\" or \"alias.column desc\"", text)
	}
	return nil
}
