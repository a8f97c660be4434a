package queries

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
)

// FuzzDatasetExpr feeds arbitrary text to one column field of a dataset
// of users u left joined to posts p, the others staying valid: the select
// shorthand ("count(p.id) AS posts"), the on shorthand ("u.id =
// p.user_id"), a where column ("coalesce(u.name, '(no name)')") with an
// operator and a value, a group_by or having expression, the order_by
// shorthand ("posts desc"), or a where or having entry written as a
// condition ("p.views * 2 > 100 or u.name is null"; the having one in an
// any group). Nothing may panic, and text that does not parse as an
// expression is refused with its position in it. Text that does not parse as
// a shorthand is used as the mapping form would take it, whole, as the
// column. The dataset must then validate or give *config.FieldErrors only; one
// that validates must compile, with a ? for each bound value and nothing
// but keywords and quoted identifiers around them; and compiling it again
// with every literal and value changed must give the same SQL, so no value
// is in the SQL text.
func FuzzDatasetExpr(f *testing.F) {
	for _, s := range []struct {
		field fuzzField
		text  string
		op    string
		value string
	}{
		{fuzzSelect, "count(p.id) AS posts", "", ""},
		{fuzzSelect, "coalesce(u.name, '(no name)') AS name", "", ""},
		{fuzzSelect, "date_format(max(p.published_at), '%Y-%m') AS latest", "", ""},
		{fuzzSelect, "case(p.views > 100, 'hot', p.views > 10, 'warm', 'cold') AS heat", "", ""},
		{fuzzSelect, "round(avg(p.views), 2)", "", ""},
		{fuzzOn, "u.id = p.user_id", "", ""},
		{fuzzOn, "p.views >= :min_views", "", ""},
		{fuzzOn, "p.status = 'published'", "", ""},
		{fuzzOn, "p.id = :ids", "", ""},
		{fuzzWhere, "lower(u.email)", "like", "%@example.com"},
		{fuzzWhere, "p.published_at", "between", "2026-01-01,2026-12-31"},
		{fuzzWhere, "concat(u.name, 'it''s')", "!=", "x'y"},
		{fuzzWhere, "u.country", "in", "DE,FR"},
		{fuzzWhere, "p.views", "is null", ""},
		{fuzzGroupBy, "year(p.published_at)", "", ""},
		{fuzzHaving, "count(distinct p.user_id)", ">=", "3"},
		{fuzzHaving, "n", "=", "-1.5"},
		{fuzzOrderBy, "user_id desc", "", ""},
		{fuzzOrderBy, "if(p.views >= 100, 'hot', 'cold') DESC", "", ""},
		{fuzzSelect, "sum(p.views * 1.5 - -2) / count(*) AS rate", "", ""},
		{fuzzSelect, "case when p.title like 'a%' and not p.views between 1 and 10 then 1 else 0 end AS c", "", ""},
		{fuzzSelect, "case (p.views div 10) % 3 when 0 then 'a' end AS c", "", ""},
		{fuzzSelect, "cast(p.views as decimal(10,2)) AS c", "", ""},
		{fuzzSelect, "date_add(p.published_at, interval -7 day) AS c", "", ""},
		{fuzzSelect, "group_concat(distinct u.name order by u.name desc separator '; ') AS names", "", ""},
		{fuzzSelect, "timestampdiff(hour, u.created_at, p.published_at) AS h", "", ""},
		{fuzzSelect, "extract(quarter from p.published_at) AS q", "", ""},
		{fuzzOn, "p.views * 2 >= :min_views + 1", "", ""},
		{fuzzCond, "p.views * 2 > 100.50 or p.id in (:ids) or u.name is null", "", ""},
		{fuzzCond, "not (u.country in ('DE', 'FR') and p.views between 1 and :min_views)", "", ""},
		{fuzzHavingCond, "n > 2 * count(distinct p.id)", "", ""},
	} {
		f.Add(uint8(s.field), s.text, uint8(max(0, slices.Index(filterOps, s.op))), s.value)
	}
	f.Fuzz(func(t *testing.T, field uint8, text string, op uint8, value string) {
		checkPositioned(t, text)
		fd := fuzzField(field % uint8(fuzzFields))
		o := filterOps[int(op)%len(filterOps)]
		q, ok := compileFuzzed(t, fd, text, o, value)
		if !ok {
			return
		}
		checkPrepared(t, q)
		// A changed literal may make the dataset invalid: then there is
		// nothing to compare.
		q2, ok := compileFuzzed(t, fd, relit(text), o, "x"+value)
		if ok && (q2.SQL != q.SQL || len(q2.Args) != len(q.Args)) {
			t.Fatalf("the SQL depends on the values:\n%s\n%s", q.SQL, q2.SQL)
		}
	})
}

// fuzzField says which field of the dataset FuzzDatasetExpr fills with its
// text.
type fuzzField uint8

const (
	fuzzSelect fuzzField = iota
	fuzzOn
	fuzzWhere
	fuzzGroupBy
	fuzzHaving
	fuzzOrderBy
	fuzzCond       // a where entry written as a condition
	fuzzHavingCond // a having entry written as a condition
	fuzzFields     // how many there are
)

// compileFuzzed builds the dataset of FuzzDatasetExpr with text in field
// and compiles it. op and value are the operator and value of where and
// having. It reports false when the dataset does not validate.
func compileFuzzed(t *testing.T, field fuzzField, text, op, value string) (Query, bool) {
	t.Helper()
	d := Dataset{
		Name:   "d",
		From:   Table{Table: "users", As: "u"},
		Joins:  []Join{{Table: "posts", As: "p", Type: "left", On: []Condition{{Left: "u.id", Op: "=", Right: "p.user_id"}}}},
		Select: []Selection{{Column: "u.id", As: "user_id"}},
	}
	var v any = value
	switch op {
	case "is null", "is not null":
		v = nil
	case "in", "not in", "between":
		var list []any
		for s := range strings.SplitSeq(value, ",") {
			list = append(list, s)
		}
		v = list
	}
	switch field {
	case fuzzSelect:
		if err := d.Select[0].UnmarshalText([]byte(text)); err != nil {
			d.Select[0] = Selection{Column: text}
		}
	case fuzzOn:
		if err := d.Joins[0].On[0].UnmarshalText([]byte(text)); err != nil {
			d.Joins[0].On[0] = Condition{Left: text, Op: "=", Right: "p.user_id"}
		}
	case fuzzWhere:
		d.Where = []Filter{{Column: text, Op: op, Value: v}}
	case fuzzGroupBy, fuzzHaving:
		// Grouped by anything, count(*) is still a valid select.
		d.Select[0] = Selection{Column: "*", Agg: "count", As: "n"}
		if field == fuzzGroupBy {
			d.GroupBy = []string{text}
		} else {
			d.Having = []Filter{{Column: text, Op: op, Value: v}}
		}
	case fuzzCond:
		d.Where = []Filter{{Cond: text}}
	case fuzzHavingCond:
		d.Select[0] = Selection{Column: "*", Agg: "count", As: "n"}
		d.Having = []Filter{{Any: [][]Filter{{{Cond: text}}, {{Column: "n", Op: op, Value: v}}}}}
	case fuzzOrderBy:
		d.OrderBy = []Order{{}}
		if err := d.OrderBy[0].UnmarshalText([]byte(text)); err != nil {
			d.OrderBy[0] = Order{Column: text}
		}
	}
	scope := Scope{Params: []Param{{Name: "min_views", Type: "int"}, {Name: "ids", Type: "list<int>"}}, Window: true}
	errs := d.Validate(scope)
	for _, err := range errs {
		var fe *config.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("Validate: %T %v, want a *config.FieldError", err, err)
		}
	}
	if len(errs) > 0 {
		return Query{}, false
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	env := Env{
		Window:      &Window{Start: start, End: start.AddDate(0, 1, 0)},
		Params:      map[string]any{"min_views": int64(10), "ids": []any{int64(1), int64(2)}},
		Datasets:    []Dataset{d},
		Diagnostics: true,
	}
	q, err := Compile(&d, env)
	if err != nil {
		t.Fatalf("dataset %+v validated but does not compile: %v", d, err)
	}
	return q, true
}

// hexLiteralRE matches the hexadecimal literal of a separator.
var hexLiteralRE = regexp.MustCompile(`SEPARATOR X'([0-9A-F]{2})*'`)

// checkPositioned checks that an expression that does not parse is
// refused with its position: an *exprError at a byte offset of src, or
// just past its end.
func checkPositioned(t *testing.T, src string) {
	t.Helper()
	_, err := parseExpr(src)
	if err == nil {
		return
	}
	var pe *exprError
	if !errors.As(err, &pe) || pe.pos < 0 || pe.pos > len(src) {
		t.Fatalf("parse %q: %v (%T), want an error with its position", src, err, err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf(" at %d", pe.pos+1)) {
		t.Fatalf("parse %q: %q does not say the position %d", src, err, pe.pos+1)
	}
}

// checkPrepared checks that q's SQL has a ? for each argument and, outside
// its quoted identifiers, only upper-case keywords, numbers (GROUP BY
// positions) and operators: no quote, comment or lower-case word that a
// value or an unvalidated name would bring.
func checkPrepared(t *testing.T, q Query) {
	t.Helper()
	outside := 0 // placeholders
	for i, part := range strings.Split(q.SQL, "`") {
		if i%2 == 1 {
			if !identRE.MatchString(part) {
				t.Fatalf("quoted identifier %q is not a valid name in %s", part, q.SQL)
			}
			continue
		}
		// group_concat's separator is a hexadecimal literal.
		part = hexLiteralRE.ReplaceAllString(part, "X")
		for _, r := range part {
			switch {
			case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(" _(),.*=<>!+-/%", r):
			case r == '?':
				outside++
			default:
				t.Fatalf("%q outside a quoted identifier in %s", r, q.SQL)
			}
		}
	}
	if strings.Count(q.SQL, "`")%2 != 0 {
		t.Fatalf("unbalanced backquotes in %s", q.SQL)
	}
	if outside != len(q.Args) {
		t.Fatalf("%d placeholders for %d args in %s", outside, len(q.Args), q.SQL)
	}
}

// relit returns src with each literal changed into another of its kind: a
// string gets an x in front, a number the lowest bit of its last digit
// flipped, so that it keeps its number of digits and the place of its
// point (the DECIMAL(p,s) a decimal literal is cast to). Equal literals
// stay equal and different ones different, so that an expression that
// repeats another still does. Numbers of 19 digits or more, which may
// cross the int64 range when changed, and the sizes of cast types
// (decimal(10,2)) and group_concat's separator, which are written into
// the SQL, are left as they are. A src that
// does not lex is returned as it is.
func relit(src string) string {
	toks, err := lex(src)
	if err != nil {
		return src
	}
	var b strings.Builder
	last := 0
	inType := false // inside the parentheses of a cast type
	for k, tok := range toks {
		var lit string
		switch tok.kind {
		case tkIdent:
			w := strings.ToLower(tok.text)
			inType = (w == "decimal" || w == "char" || w == "datetime") && k+1 < len(toks) && toks[k+1].text == "("
		case tkPunct:
			if tok.text == ")" {
				inType = false
			}
		case tkString:
			if k > 0 && isWord(toks[k-1], "separator") {
				continue // written into the SQL as a hexadecimal literal
			}
			lit = "'" + strings.ReplaceAll("x"+tok.text, "'", "''") + "'"
		case tkNumber:
			if !inType && len(strings.ReplaceAll(tok.text, ".", "")) < 19 {
				n := len(tok.text)
				lit = tok.text[:n-1] + string(tok.text[n-1]^1)
			}
		}
		if lit == "" {
			continue
		}
		b.WriteString(src[last:tok.pos])
		b.WriteString(lit)
		last = tok.end
	}
	b.WriteString(src[last:])
	return b.String()
}
