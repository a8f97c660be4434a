package queries

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
)

// joinRaw writes scanned parts back as SQL, each placeholder as {name}.
func joinRaw(parts []rawPart) string {
	var b strings.Builder
	for _, p := range parts {
		if p.name != "" {
			b.WriteString("{" + p.name + "}")
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

func TestScanRaw(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"plain", "SELECT 1", "SELECT 1"},
		{"placeholders", "SELECT * FROM p WHERE p.views >= :min AND p.at < :window_end", "SELECT * FROM p WHERE p.views >= {min} AND p.at < {window_end}"},
		{"placeholder at the end", "SELECT :a", "SELECT {a}"},
		{"adjacent", "SELECT :a+:b,:c", "SELECT {a}+{b},{c}"},
		{"in single quotes", "SELECT ':a', 'it''s :b', 'x\\':c'", "SELECT ':a', 'it''s :b', 'x\\':c'"},
		{"in double quotes", `SELECT ":a \" :b" AS x`, `SELECT ":a \" :b" AS x`},
		{"backslash before the closing quote", `SELECT 'a\\', :b`, `SELECT 'a\\', {b}`},
		{"backquotes", "SELECT `:a`, `x``:b` FROM t", "SELECT `:a`, `x``:b` FROM t"},
		{"dash comment", "SELECT 1 -- :a\n, :b", "SELECT 1 -- :a\n, {b}"},
		{"minus minus is not a comment", "SELECT 1--:a", "SELECT 1--{a}"},
		{"hash comment", "SELECT 1 # :a ?\n, :b", "SELECT 1 # :a ?\n, {b}"},
		{"block comment", "SELECT /* :a ? ; */ :b", "SELECT /* :a ? ; */ {b}"},
		{"optimizer hint", "SELECT /*+ MAX_EXECUTION_TIME(10) */ 1", "SELECT /*+ MAX_EXECUTION_TIME(10) */ 1"},
		{"assignment", "SELECT @n := @n + 1, :a", "SELECT @n := @n + 1, {a}"},
		{"double colon", "SELECT 1::a, :b", "SELECT 1::a, {b}"},
		{"trailing semicolon", "SELECT 1;", "SELECT 1"},
		{"trailing semicolon and comments", "SELECT :a  ;  -- done\n/* end */ \n", "SELECT {a}"},
		{"trailing comment", "SELECT 1 -- last", "SELECT 1"},
		{"leading comment kept", "-- report\nSELECT 1", "-- report\nSELECT 1"},
		{"with", "WITH x AS (SELECT :a AS v) SELECT v FROM x", "WITH x AS (SELECT {a} AS v) SELECT v FROM x"},
		{"parenthesised union", "(SELECT 1) UNION (SELECT 2)", "(SELECT 1) UNION (SELECT 2)"},
		{"reserved words after a dot", "SELECT p.update, p.into, t.delete FROM p", "SELECT p.update, p.into, t.delete FROM p"},
		{"string functions named like statements", "SELECT replace(a, 'x', 'y'), insert(a, 1, 2, 'z')", "SELECT replace(a, 'x', 'y'), insert(a, 1, 2, 'z')"},
		{"question mark in a string", "SELECT '?' AS q", "SELECT '?' AS q"},
		{"non-ASCII", "SELECT 'Zoë' AS ä, :a", "SELECT 'Zoë' AS ä, {a}"},
		{"lower case", "select 1 from dual", "select 1 from dual"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := scanRaw(tt.src)
			if err != nil {
				t.Fatalf("scanRaw(%q): %v", tt.src, err)
			}
			if got := joinRaw(parts); got != tt.want {
				t.Errorf("scanRaw(%q)\n got %q\nwant %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestScanRawPositions(t *testing.T) {
	parts, err := scanRaw("SELECT 'ä', :a,\n  :b")
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]int
	for _, p := range parts {
		if p.name != "" {
			got = append(got, [2]int{p.line, p.col})
		}
	}
	if want := [][2]int{{1, 13}, {2, 3}}; !slices.Equal(got, want) {
		t.Errorf("positions %v, want %v", got, want)
	}
}

func TestScanRawErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"empty", "  -- nothing\n", 2, 1, "no SQL statement"},
		{"insert", "INSERT INTO t VALUES (1)", 1, 1, "want one SELECT (or WITH ... SELECT), not INSERT"},
		{"update", "UPDATE t SET a = 1", 1, 1, "not UPDATE"},
		{"delete", "DELETE FROM t", 1, 1, "not DELETE"},
		{"create", "CREATE TABLE t (a int)", 1, 1, "not CREATE"},
		{"drop", "/* x */ DROP TABLE t", 1, 9, "not DROP"},
		{"call", "CALL p()", 1, 1, "not CALL"},
		{"set", "SET @a = 1", 1, 1, "not SET"},
		{"table statement", "TABLE t", 1, 1, "not TABLE"},
		{"second statement", "SELECT 1;\nDROP TABLE t", 2, 1, "more SQL after the ; at line 1"},
		{"two selects", "SELECT 1; SELECT 2;", 1, 11, "more SQL after the ;"},
		{"with update", "WITH x AS (SELECT 1) UPDATE t SET a = 1", 1, 22, "UPDATE: a dataset only reads"},
		{"with delete", "WITH x AS (SELECT 1)\nDELETE FROM t", 2, 1, "DELETE: a dataset only reads"},
		{"into outfile", "SELECT * FROM t INTO OUTFILE '/tmp/x'", 1, 17, "SELECT ... INTO writes"},
		{"into variable", "SELECT a INTO @a FROM t", 1, 10, "SELECT ... INTO"},
		{"for update", "SELECT * FROM t FOR UPDATE", 1, 17, "a locking read"},
		{"for share", "SELECT * FROM t for share", 1, 17, "a locking read"},
		{"lock in share mode", "SELECT * FROM t LOCK IN SHARE MODE", 1, 17, "a locking read"},
		{"locking subquery", "SELECT * FROM (SELECT * FROM t FOR UPDATE) x", 1, 32, "a locking read"},
		{"positional placeholder", "SELECT * FROM t WHERE a = ?", 1, 27, "a ? placeholder"},
		{"unterminated string", "SELECT 'abc", 1, 8, "unterminated string"},
		{"unterminated escaped", `SELECT 'abc\'`, 1, 8, "unterminated string"},
		{"unterminated backquote", "SELECT `abc", 1, 8, "unterminated quoted identifier"},
		{"unterminated comment", "SELECT 1 /* x", 1, 10, "unterminated comment"},
		{"executable comment", "SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */", 1, 10, "executable comments"},
		{"mariadb executable comment", "SELECT 1 /*M!100000 , 2 */", 1, 10, "executable comments"},
		{"release lock", "SELECT RELEASE_ALL_LOCKS()", 1, 8, "release_all_locks: named locks"},
		{"get lock", "SELECT get_lock('x', 1)", 1, 8, "get_lock"},
		{"not utf-8", "SELECT '\xff'", 1, 9, "not valid UTF-8"},
		{"string first", "'a'", 1, 1, "a statement starts with a keyword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scanRaw(tt.src)
			if err == nil {
				t.Fatalf("scanRaw(%q): no error, want %q", tt.src, tt.msg)
			}
			if err.line != tt.line || err.col != tt.col || !strings.Contains(err.msg, tt.msg) {
				t.Errorf("scanRaw(%q) = %v\nwant line %d, column %d: ...%s...", tt.src, err, tt.line, tt.col, tt.msg)
			}
		})
	}
}

// rawScope is a job's scope with a window and parameters of each kind.
func rawScope() Scope {
	return Scope{Window: true, Params: []Param{
		{Name: "min_views", Type: "int"}, {Name: "ids", Type: "list<int>"}, {Name: "since", Type: "datetime"},
		{Name: "active", Type: "bool"}, {Name: "price", Type: "decimal"},
	}}
}

func TestValidateRaw(t *testing.T) {
	raw := func(sql string) Dataset { return Dataset{Name: "r", SQL: sql} }
	tests := []struct {
		name    string
		d       Dataset
		scope   Scope
		path    string
		value   any
		msg     string
		nothing bool // the dataset is valid
	}{
		{"valid", raw("SELECT :min_views, :ids, :window_start"), rawScope(), "", nil, "", true},
		{"valid file", Dataset{Name: "r", SQLFile: "q/top.sql", FileSQL: "SELECT 1"}, Scope{}, "", nil, "", true},
		{"rows expect", Dataset{Name: "r", SQL: "SELECT 1", Expect: []Expect{{Check: "rows", Op: ">=", Value: 1}}}, Scope{}, "", nil, "", true},
		{"both", Dataset{Name: "r", SQL: "SELECT 1", SQLFile: "a.sql", FileSQL: "SELECT 1"}, Scope{}, "sql_file", "a.sql", "give sql or sql_file, not both", false},
		{"with from", Dataset{Name: "r", SQL: "SELECT 1", From: Table{Table: "users"}}, Scope{}, "from", nil, "not with sql: a raw SQL dataset is its whole query", false},
		{"with joins", Dataset{Name: "r", SQLFile: "a.sql", FileSQL: "SELECT 1", Joins: []Join{{Table: "posts"}}}, Scope{}, "joins", nil, "not with sql_file", false},
		{"with select", Dataset{Name: "r", SQL: "SELECT 1", Select: []Selection{{Column: "u.id"}}}, Scope{}, "select", nil, "not with sql", false},
		{"with where", Dataset{Name: "r", SQL: "SELECT 1", Where: []Filter{{Column: "u.id"}}}, Scope{}, "where", nil, "not with sql", false},
		{"with group_by", Dataset{Name: "r", SQL: "SELECT 1", GroupBy: []string{"u.id"}}, Scope{}, "group_by", nil, "not with sql", false},
		{"with having", Dataset{Name: "r", SQL: "SELECT 1", Having: []Filter{{Column: "n"}}}, Scope{}, "having", nil, "not with sql", false},
		{"with order_by", Dataset{Name: "r", SQL: "SELECT 1", OrderBy: []Order{{Column: "u.id"}}}, Scope{}, "order_by", nil, "not with sql", false},
		{"with limit", Dataset{Name: "r", SQL: "SELECT 1", Limit: ptr(uint64(1))}, Scope{}, "limit", nil, "not with sql", false},
		{"with window", Dataset{Name: "r", SQL: "SELECT 1", Window: "p.at"}, Scope{Window: true}, "window", nil, "not with sql", false},
		{"internal", Dataset{Name: "r", SQL: "SELECT 1", Internal: true}, Scope{}, "internal", true, "cannot be internal", false},
		{"join expect", Dataset{Name: "r", SQL: "SELECT 1", Expect: []Expect{{Check: "p.left_unmatched", Op: "=", Value: 0}}}, Scope{}, "expect[0].check", "p.left_unmatched", "join diagnostics need the declarative form", false},
		{"expect op", Dataset{Name: "r", SQL: "SELECT 1", Expect: []Expect{{Check: "rows", Op: "~", Value: 0}}}, Scope{}, "expect[0].op", "~", "want one of", false},
		{"empty file", Dataset{Name: "r", SQLFile: "a.sql", FileSQL: " \n"}, Scope{}, "sql_file", "a.sql", "no SQL statement", false},
		{"scan error inline", raw("SELECT 1;\nDELETE FROM t"), Scope{}, "sql", nil, "line 2, column 1: more SQL after the ;", false},
		{"scan error in a file", Dataset{Name: "r", SQLFile: "a.sql", FileSQL: "\n\nDROP TABLE t"}, Scope{}, "sql_file", "a.sql", "line 3, column 1: want one SELECT (or WITH ... SELECT), not DROP", false},
		{"unknown parameter", raw("SELECT 1\nWHERE a = :nope"), rawScope(), "sql", nil, "line 2, column 11: unknown parameter :nope (declared: window_start, window_end, min_views, ids, since, active, price)", false},
		{"window without a window", raw("SELECT :window_start"), Scope{}, "sql", nil, "line 1, column 8: :window_start: the job has no window", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.d.Validate(tt.scope)
			if tt.nothing {
				if len(errs) > 0 {
					t.Fatalf("Validate: %v", errors.Join(errs...))
				}
				return
			}
			for _, err := range errs {
				var fe *config.FieldError
				if errors.As(err, &fe) && fe.Path == tt.path && strings.Contains(fe.Msg, tt.msg) && (tt.value == nil) == !fe.HasValue {
					if tt.value != nil && fmt.Sprint(fe.Value) != fmt.Sprint(tt.value) {
						t.Errorf("value %v, want %v", fe.Value, tt.value)
					}
					return
				}
			}
			t.Errorf("Validate = %v\nwant a problem at %s: ...%s... (value %v)", errors.Join(errs...), tt.path, tt.msg, tt.value)
		})
	}
}

func TestRawNotDerived(t *testing.T) {
	raw := Dataset{Name: "raw", SQL: "SELECT 1 AS id"}
	d := Dataset{Name: "d", From: Table{Dataset: "raw", As: "r"}, Select: []Selection{{Column: "r.id"}}}
	errs := d.Validate(Scope{Datasets: []Dataset{raw}})
	if len(errs) != 1 || errs[0].(*config.FieldError).Path != "from.dataset" || !strings.Contains(errs[0].Error(), "a raw SQL dataset cannot be a derived table") {
		t.Errorf("Validate = %v, want one problem at from.dataset", errors.Join(errs...))
	}
}

func TestCompileRaw(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env := Env{
		Window:   &Window{Start: time.Date(2026, 11, 1, 23, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 2, 23, 0, 0, 0, time.UTC)},
		Params:   map[string]any{"min_views": int64(5), "ids": []any{int64(1), int64(2), int64(3)}, "since": since, "active": true, "price": "12.50"},
		Location: berlin,
		// A TIMESTAMP window of a declarative dataset of the same name
		// changes nothing here: raw SQL bounds are always wall clocks in
		// the database's zone.
		TimestampWindows: map[string]bool{"r": true},
		Diagnostics:      true,
	}
	d := Dataset{Name: "r", SQL: "-- top\nSELECT p.id, ':x' AS s FROM posts p\nWHERE p.views >= :min_views AND p.id IN (:ids)\n  AND p.at >= :window_start AND p.at < :window_end AND p.at >= :since\n  AND p.active = :active AND p.price > :price;\n"}
	q, err := Compile(&d, env)
	if err != nil {
		t.Fatal(err)
	}
	wantSQL := "-- top\nSELECT p.id, ':x' AS s FROM posts p\nWHERE p.views >= ? AND p.id IN (?, ?, ?)\n  AND p.at >= ? AND p.at < ? AND p.at >= ?\n  AND p.active = ? AND p.price > ?"
	if q.SQL != wantSQL {
		t.Errorf("SQL\n got %q\nwant %q", q.SQL, wantSQL)
	}
	wantArgs := []any{int64(5), int64(1), int64(2), int64(3), "2026-11-02 00:00:00", "2026-11-03 00:00:00", "2026-03-01 13:00:00", 1, "12.50"}
	if !slices.Equal(q.Args, wantArgs) {
		t.Errorf("args %#v\nwant %#v", q.Args, wantArgs)
	}
	wantNames := []string{"param min_views", "param ids[0]", "param ids[1]", "param ids[2]", "window_start", "window_end", "param since", "param active", "param price"}
	if !slices.Equal(q.ArgNames, wantNames) {
		t.Errorf("arg names %q\nwant %q", q.ArgNames, wantNames)
	}
	if q.Columns != nil || q.Joins != nil {
		t.Errorf("columns %q, joins %v: want none (the server names the columns; no diagnostics)", q.Columns, q.Joins)
	}
}

// FuzzRawSQL feeds arbitrary text to the raw SQL scanner, as a raw SQL
// dataset of a job with a window and a list parameter. Nothing may panic;
// an error has a position in the text; SQL that compiles has exactly one
// ? outside strings, comments and quoted identifiers per bound value
// (scanned again, each ? is an error at the position of a placeholder),
// and keeps every character of the text outside its placeholders.
func FuzzRawSQL(f *testing.F) {
	for _, s := range []string{
		"SELECT p.id FROM posts p WHERE p.views >= :n AND p.id IN (:ids)",
		"SELECT ':n', \"it\\\"s :n\", `a``:n` -- :n\n# :n\n/* :n */ FROM t WHERE a = :n;",
		"WITH x AS (SELECT :window_start AS s) SELECT s FROM x",
		"SELECT @a := 1, 1::n, :n",
		"SELECT 1; DROP TABLE t",
		"SELECT * FROM t INTO OUTFILE 'x'",
		"SELECT 'abc\\",
		"select /*! 1 */",
		"(SELECT 1) UNION ALL (SELECT :ids) ORDER BY 1 LIMIT 2 -- end",
	} {
		f.Add(s)
	}
	f.Fuzz(runRawFuzz)
}

func runRawFuzz(t *testing.T, src string) {
	// Only text over maxRawSQL reaches its check, and minimizing an
	// input that long, which the fuzzer makes to cover it, stalls
	// fuzzing for a minute: the text is cut short, without a branch
	// that a long input would newly cover.
	src = src[:min(len(src), 4096)]
	scope := Scope{Window: true, Params: []Param{{Name: "n", Type: "int"}, {Name: "ids", Type: "list<int>"}}}
	env := Env{
		Window: &Window{Start: time.Unix(0, 0), End: time.Unix(86400, 0)},
		Params: map[string]any{"n": int64(1), "ids": []any{int64(1), int64(2)}},
	}
	parts, serr := scanRaw(src)
	if serr != nil {
		if serr.line < 1 || serr.col < 1 || serr.line > strings.Count(src, "\n")+1 {
			t.Fatalf("scanRaw(%q): error at line %d, column %d, outside the text", src, serr.line, serr.col)
		}
		return
	}
	var rebuilt strings.Builder
	for _, p := range parts {
		rebuilt.WriteString(p.text)
		if p.name != "" {
			rebuilt.WriteString(":" + p.name)
		}
	}
	if !strings.HasPrefix(src, rebuilt.String()) {
		t.Fatalf("scanRaw(%q) gave back %q, not a prefix of the text", src, rebuilt.String())
	}
	d := Dataset{Name: "r", SQL: src}
	if errs := d.Validate(scope); len(errs) > 0 {
		for _, err := range errs {
			if _, ok := err.(*config.FieldError); !ok {
				t.Fatalf("Validate(%q): %T %v, want a *config.FieldError", src, err, err)
			}
		}
		return
	}
	q, err := Compile(&d, env)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	if len(q.Args) != len(q.ArgNames) {
		t.Fatalf("Compile(%q): %d args, %d names", src, len(q.Args), len(q.ArgNames))
	}
	// Scanned again, the compiled SQL has a ? token where each value
	// is bound and nowhere else.
	_, n, serr := scanSQL(q.SQL, true)
	if serr != nil {
		t.Fatalf("Compile(%q) = %q, which does not scan: %v", src, q.SQL, serr)
	}
	if n != len(q.Args) {
		t.Fatalf("Compile(%q) = %q: %d placeholders, %d args", src, q.SQL, n, len(q.Args))
	}
}
