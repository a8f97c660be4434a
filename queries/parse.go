package queries

import (
	"fmt"
	"strconv"
	"strings"
)

// UnmarshalText parses the shorthand "u.name", "u.name AS user_name",
// "count(p.id) AS posts", "count(*)", or any expression with a name:
// "lower(u.email) AS email", "count(distinct p.user_id) AS authors". An
// aggregate of one column keeps the agg form (Agg "count", Column "p.id"),
// with its name in lower case; Validate checks it.
func (s *Selection) UnmarshalText(text []byte) error {
	src, as, err := splitAs(string(text))
	if err == nil {
		var e *expr
		if e, err = parseExpr(src); err == nil {
			switch f, known := funcs[e.text]; {
			case e.kind == exCall && (!known || f.agg) && !e.distinct && len(e.args) == 1 &&
				(e.args[0].kind == exColumn || e.args[0].kind == exStar):
				*s = Selection{Agg: e.text, Column: e.args[0].String(), As: as}
			default:
				*s = Selection{Column: strings.TrimSpace(src), As: as}
			}
			return nil
		}
	}
	return fmt.Errorf("selection %q: want \"alias.column\", \"alias.column AS name\", \"agg(alias.column) AS name\" or \"expression AS name\": %v", text, err)
}

// splitAs splits "EXPR AS name" (AS in any case) into EXPR and name; without
// AS, name is empty.
func splitAs(src string) (string, string, error) {
	toks, err := lex(src)
	if err != nil {
		return "", "", err
	}
	n := len(toks) - 1 // without EOF
	for i, t := range toks[:n] {
		if t.kind == tkIdent && strings.EqualFold(t.text, "as") && (i == 0 || toks[i-1].kind != tkPunct || toks[i-1].text == ")") {
			if i != n-2 || toks[i+1].kind != tkIdent || i == 0 {
				return "", "", fmt.Errorf("AS must be followed by one name at the end")
			}
			return src[:t.pos], toks[i+1].text, nil
		}
	}
	return src, "", nil
}

// UnmarshalText parses the shorthand "u.id", "u.id asc", "u.id desc" or
// "EXPRESSION desc" (direction in any case, stored in lower case).
func (o *Order) UnmarshalText(text []byte) error {
	src := strings.TrimSpace(string(text))
	dir := ""
	if i := strings.LastIndexAny(src, " \t"); i >= 0 {
		if w := strings.ToLower(src[i+1:]); w == "asc" || w == "desc" {
			src, dir = strings.TrimSpace(src[:i]), w
		}
	}
	if _, err := parseExpr(src); err != nil || src == "" {
		return fmt.Errorf("order %q: want \"alias.column\", \"alias.column asc\" or \"alias.column desc\" (or an expression before asc/desc)", text)
	}
	*o = Order{Column: src, Dir: dir}
	return nil
}

// UnmarshalText parses the shorthand "CHECK OP N": "rows >= 1",
// "p.right_unmatched = 0"; such a check fails the job when it does not hold.
func (x *Expect) UnmarshalText(text []byte) error {
	f := strings.Fields(string(text))
	if len(f) == 3 {
		if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			*x = Expect{Check: f[0], Op: f[1], Value: n}
			return nil
		}
	}
	return fmt.Errorf("expect %q: want \"rows >= 1\" or \"<join alias>.left_unmatched = 0\" (CHECK OP NUMBER)", text)
}
