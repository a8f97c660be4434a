package queries

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Raw SQL datasets: the escape hatch for what the declarative form cannot
// say. A dataset with sql: (inline) or sql_file: (a file whose text jobs
// reads into Dataset.FileSQL) is one SELECT written in SQL. Its :name
// placeholders, outside string literals, comments and quoted identifiers,
// are the job's parameters and the window's bounds, each replaced by ? (a
// list parameter by ?, ?, ?) and bound like every other value. The checks
// here keep out what is plainly not a read (another statement, INTO,
// locking reads); the real guard is the server: a run reads a raw SQL
// dataset in a READ ONLY session (jobs, mysqlconn.Session.ReadOnly).

// maxRawSQL is the longest raw SQL text accepted, in bytes: the size of
// the largest configuration file.
const maxRawSQL = 1 << 20

// IsRaw reports whether d is a raw SQL dataset (sql or sql_file is set).
func (d *Dataset) IsRaw() bool { return d.SQL != "" || d.SQLFile != "" }

// rawField returns the field a raw SQL dataset's text comes from, and the
// text.
func (d *Dataset) rawField() (string, string) {
	if d.SQLFile != "" {
		return "sql_file", d.FileSQL
	}
	return "sql", d.SQL
}

// rawPart is a piece of scanned raw SQL: text as written, or (name set) a
// :name placeholder at line and column col (counted in characters, from 1).
type rawPart struct {
	text      string
	name      string
	line, col int
}

// rawError is a problem found scanning raw SQL, at a position of its text.
type rawError struct {
	line, col int
	msg       string
}

func (e *rawError) Error() string { return fmt.Sprintf("line %d, column %d: %s", e.line, e.col, e.msg) }

// rawToken is a token of raw SQL that the statement checks look at: a bare
// word (upper-cased), or one character of punctuation.
type rawToken struct {
	text  string
	word  bool
	depth int // parentheses open around it
	off   int
}

// scanRaw splits src into text and :name placeholders and checks that it is
// one SELECT (or WITH ... SELECT) that reads only. The SQL ends at its last
// token: a final ; and the whitespace and comments around it are left out,
// so that the pieces can be prepared as one statement and printed with a ;
// after them. String literals ('...' and "...", with backslash escapes and
// doubled quotes, as in MySQL's default sql_mode), quoted identifiers
// (`...`) and comments (-- , #, /* */) are copied untouched; ::, := and a
// : inside any of them are not placeholders. A ? outside them is an
// error: values are named.
func scanRaw(src string) ([]rawPart, *rawError) {
	parts, _, err := scanSQL(src, false)
	return parts, err
}

// scanSQL is scanRaw; with questions, a ? is not an error but counted:
// the tests scan compiled SQL again with it.
func scanSQL(src string, questions bool) ([]rawPart, int, *rawError) {
	var parts []rawPart
	nq := 0
	var toks []rawToken
	fail := func(off int, format string, args ...any) ([]rawPart, int, *rawError) {
		line, col := position(src, off)
		return nil, 0, &rawError{line: line, col: col, msg: fmt.Sprintf(format, args...)}
	}
	if len(src) > maxRawSQL {
		return fail(maxRawSQL, "longer than %d MiB", maxRawSQL>>20)
	}
	if !utf8.ValidString(src) {
		for i := 0; i < len(src); {
			r, size := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && size == 1 {
				return fail(i, "not valid UTF-8")
			}
			i += size
		}
	}
	depth, textStart, end, semicolon := 0, 0, 0, -1
	for i := 0; i < len(src); {
		c := src[i]
		start := i
		comment := false
		switch {
		case c == '\'' || c == '"' || c == '`':
			j, ok := skipQuoted(src, i)
			if !ok {
				what := "string"
				if c == '`' {
					what = "quoted identifier"
				}
				return fail(i, "unterminated %s: %c without its closing %c", what, c, c)
			}
			toks = append(toks, rawToken{text: string(c), depth: depth, off: i})
			i = j
		case c == '#', c == '-' && strings.HasPrefix(src[i:], "--") && (i+2 == len(src) || src[i+2] <= ' '):
			comment = true
			if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(src)
			}
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			comment = true
			if strings.HasPrefix(src[i:], "/*!") || strings.HasPrefix(src[i:], "/*M!") {
				return fail(i, "executable comments (/*! ... */) are not allowed: write the SQL they hold without the comment")
			}
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				return fail(i, "unterminated comment: /* without */")
			}
			i += 2 + j + 2
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			comment = true // not a token
			i++
		case c == ':' && i+1 < len(src) && src[i+1] == ':':
			for i < len(src) && src[i] == ':' {
				i++
			}
		case c == ':' && i+1 < len(src) && isNameStart(src[i+1]):
			j := i + 1
			for j < len(src) && isNameByte(src[j]) {
				j++
			}
			// The position is filled in below, in one pass for all.
			parts = append(parts, rawPart{text: src[textStart:i]}, rawPart{name: src[i+1 : j], col: i})
			textStart = j
			toks = append(toks, rawToken{text: "?", depth: depth, off: i})
			i = j
		case c == '?' && questions:
			nq++
			toks = append(toks, rawToken{text: "?", depth: depth, off: i})
			i++
		case c == '?':
			return fail(i, "a ? placeholder: name the value instead, :name for a parameter of the job or :window_start, :window_end")
		case isNameByte(c) || c >= utf8.RuneSelf:
			j := i
			for j < len(src) && (isNameByte(src[j]) || src[j] >= utf8.RuneSelf) {
				j++
			}
			toks = append(toks, rawToken{text: strings.ToUpper(src[i:j]), word: true, depth: depth, off: i})
			i = j
		default:
			switch c {
			case '(':
				depth++
			case ')':
				depth--
			}
			if c != ';' {
				toks = append(toks, rawToken{text: string(c), depth: depth, off: i})
			}
			i++
		}
		if comment {
			continue
		}
		if semicolon >= 0 {
			return fail(start, "more SQL after the ; at line %d: a dataset is one SELECT statement", lineOf(src, semicolon))
		}
		if c == ';' {
			semicolon = start
			continue
		}
		end = i
	}
	if err := checkStatement(src, toks); err != nil {
		return nil, 0, err
	}
	if textStart > end {
		textStart = end // a placeholder is a token: never after the end
	}
	parts = append(parts, rawPart{text: src[textStart:end]})
	// Placeholders' offsets (held in col) become lines and columns, in
	// one pass: position for each would take time quadratic in the text.
	line, lineStart, off := 1, 0, 0
	for k := range parts {
		p := &parts[k]
		if p.name == "" {
			continue
		}
		for ; off < p.col; off++ {
			if src[off] == '\n' {
				line, lineStart = line+1, off+1
			}
		}
		p.line, p.col = line, utf8.RuneCountInString(src[lineStart:p.col])+1
	}
	return parts, nq, nil
}

// checkStatement checks the tokens of raw SQL: one SELECT (or WITH ...
// SELECT, or a SELECT in parentheses) that writes nothing (no INTO), takes
// no locks (no FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE) and leaves the
// job's lock alone.
func checkStatement(src string, toks []rawToken) *rawError {
	fail := func(off int, format string, args ...any) *rawError {
		line, col := position(src, off)
		return &rawError{line: line, col: col, msg: fmt.Sprintf(format, args...)}
	}
	first := slices.IndexFunc(toks, func(t rawToken) bool { return t.text != "(" })
	if first < 0 {
		return fail(len(src), "no SQL statement: want one SELECT")
	}
	switch t := toks[first]; {
	case !t.word:
		return fail(t.off, "want one SELECT (or WITH ... SELECT): a statement starts with a keyword")
	case t.text != "SELECT" && t.text != "WITH":
		return fail(t.off, "want one SELECT (or WITH ... SELECT), not %s: a dataset only reads", t.text)
	}
	next := func(i int) string {
		if i+1 < len(toks) {
			return toks[i+1].text
		}
		return ""
	}
	for i, t := range toks {
		if !t.word || i > 0 && toks[i-1].text == "." {
			continue // after a dot, a reserved word is a name: p.update
		}
		switch {
		case t.text == "INTO":
			return fail(t.off, "SELECT ... INTO writes to a file or to variables: a dataset's rows go to its outputs")
		case t.text == "FOR" && (next(i) == "UPDATE" || next(i) == "SHARE"), t.text == "LOCK" && next(i) == "IN":
			return fail(t.off, "a locking read (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE): a report only reads, and must not hold writers back")
		case t.depth == 0 && next(i) != "(" && slices.Contains([]string{"INSERT", "UPDATE", "DELETE", "REPLACE"}, t.text):
			return fail(t.off, "%s: a dataset only reads", t.text)
		case next(i) == "(" && slices.Contains([]string{"GET_LOCK", "RELEASE_LOCK", "RELEASE_ALL_LOCKS"}, t.text):
			return fail(t.off, "%s: named locks are the runs' own (each run holds its job's)", strings.ToLower(t.text))
		}
	}
	return nil
}

// skipQuoted returns the index after the quoted string or identifier at i,
// and false when it does not end. In strings a backslash escapes the next
// character; in all three a doubled quote stands for itself.
func skipQuoted(src string, i int) (int, bool) {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			if j+1 < len(src) && src[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(src), false
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameByte(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' || c == '$' }

// position returns the line and column (in characters) of byte off of
// src, both from 1.
func position(src string, off int) (line, col int) {
	off = min(off, len(src))
	start := strings.LastIndexByte(src[:off], '\n') + 1
	return lineOf(src, off), utf8.RuneCountInString(src[start:off]) + 1
}

func lineOf(src string, off int) int { return strings.Count(src[:min(off, len(src))], "\n") + 1 }

// raw checks a raw SQL dataset: that no declarative field is set beside
// sql or sql_file, its text (scanRaw), its placeholders and its expect
// rules (only rows: join diagnostics need the declarative form).
func (v *validator) raw() {
	d := v.d
	field, text := d.rawField()
	if d.SQL != "" && d.SQLFile != "" {
		v.add("sql_file", d.SQLFile, "give sql or sql_file, not both")
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"from", d.From != Table{}}, {"joins", len(d.Joins) > 0}, {"select", len(d.Select) > 0},
		{"where", len(d.Where) > 0}, {"group_by", len(d.GroupBy) > 0}, {"having", len(d.Having) > 0},
		{"order_by", len(d.OrderBy) > 0}, {"limit", d.Limit != nil}, {"window", d.Window != ""},
	} {
		if f.set {
			v.add(f.name, nil, "not with %s: a raw SQL dataset is its whole query; write the dataset either in SQL or in the declarative form (join diagnostics need the latter)", field)
		}
	}
	if d.Internal {
		v.add("internal", true, "a raw SQL dataset cannot be internal: internal datasets serve as derived tables of later datasets, and a raw SQL one cannot be a derived table")
	}
	// The file's name is the value shown; inline SQL may be long.
	var value any
	if field == "sql_file" {
		value = d.SQLFile
	}
	if strings.TrimSpace(text) == "" {
		v.add(field, value, "no SQL statement: want one SELECT")
	} else if parts, err := scanRaw(text); err != nil {
		v.add(field, value, "%v", err)
	} else {
		v.rawParams(field, value, parts)
	}
	v.expects() // diagnostics.go: rows only, for a raw SQL dataset
}

// rawParams checks the placeholders of raw SQL: each names a parameter of
// the job, or a bound of the window of a job that has one.
func (v *validator) rawParams(field string, value any, parts []rawPart) {
	for _, p := range parts {
		switch {
		case p.name == "":
		case p.name == paramWindowStart || p.name == paramWindowEnd:
			if !v.scope.Window {
				v.add(field, value, "line %d, column %d: :%s: the job has no window: set the job's window (previous_day, previous_week, previous_month or last Nh) to use it", p.line, p.col, p.name)
			}
		case v.scope.param(p.name) == nil:
			names := []string{paramWindowStart, paramWindowEnd}
			for _, prm := range v.scope.Params {
				names = append(names, prm.Name)
			}
			v.add(field, value, "line %d, column %d: unknown parameter :%s (declared: %s)", p.line, p.col, p.name, strings.Join(names, ", "))
		}
	}
}

// raw compiles a raw SQL dataset: its text with each placeholder replaced
// by ? (a list parameter's by one ? per value) and the values in order,
// bound as params.go binds them anywhere else: window bounds and datetime
// parameters as DATETIME text in the database's zone, booleans as 1 or 0.
// Columns is nil: the server names the result's columns.
func (c *compiler) raw(d *Dataset) (Query, error) {
	_, text := d.rawField()
	parts, err := scanRaw(text)
	if err != nil {
		return Query{}, err // Validate reported it
	}
	var b strings.Builder
	q := Query{}
	for _, p := range parts {
		if p.name == "" {
			b.WriteString(p.text)
			continue
		}
		if _, list := c.env.Params[p.name].([]any); list {
			vals := c.paramList(p.name)
			b.WriteString(strings.Repeat("?, ", len(vals)-1) + "?")
			q.Args = append(q.Args, vals...)
			for i := range vals {
				q.ArgNames = append(q.ArgNames, fmt.Sprintf("param %s[%d]", p.name, i))
			}
			continue
		}
		b.WriteString("?")
		q.Args = append(q.Args, c.param(p.name))
		name := "param " + p.name
		if p.name == paramWindowStart || p.name == paramWindowEnd {
			name = p.name
		}
		q.ArgNames = append(q.ArgNames, name)
	}
	q.SQL = b.String()
	return q, nil
}
