package mysqlconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/output"
)

// diffType is a column type of the differential test, with its values.
type diffType struct {
	typ    string
	values []string
}

// diffTypes are the MySQL types of the type matrix (jobs' TestTypeMatrix)
// and a few more, each with values at its edges, as SQL expressions. The
// table has one column per type; row n holds each type's n-th value, or
// NULL where the type has fewer, and a last row is NULL everywhere.
var diffTypes = []diffType{
	{"TINYINT", []string{"-128", "127", "0"}},
	{"TINYINT(1)", []string{"0", "1", "-1"}},
	{"TINYINT UNSIGNED", []string{"0", "255"}},
	{"SMALLINT", []string{"-32768", "32767"}},
	{"SMALLINT UNSIGNED", []string{"0", "65535"}},
	{"MEDIUMINT", []string{"-8388608", "8388607"}},
	{"MEDIUMINT UNSIGNED", []string{"0", "16777215"}},
	{"INT", []string{"-2147483648", "2147483647"}},
	{"INT UNSIGNED", []string{"0", "4294967295"}},
	{"BIGINT", []string{"-9223372036854775808", "9223372036854775807", "0"}},
	{"BIGINT UNSIGNED", []string{"0", "9223372036854775807", "9223372036854775808", "18446744073709551615"}},
	{"INT(5) ZEROFILL", []string{"0", "7", "99999", "123456"}},
	{"DECIMAL(10,2)", []string{"-99999999.99", "99999999.99", "0.10", "0"}},
	{"DECIMAL(24,4)", []string{"-99999999999999999999.9999", "1234.5"}},
	{"DECIMAL(15,2)", []string{"-9999999999999.99", "-0.01"}},
	{"DECIMAL(65,30)", []string{"-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30), "0.5", "0.1", "0"}},
	{"DECIMAL(5,0) UNSIGNED", []string{"0", "99999"}},
	{"FLOAT", []string{"-3.5", "3.14159", "12345.67", "0.1", "3.4028235e38", "-1.1754944e-38", "16777217", "-0.5", "1e-7", "0", "123456789", "100"}},
	{"FLOAT(7,3)", []string{"1.5", "-1234.567", "0"}},
	{"DOUBLE", []string{"2e0/3", "0.1e0+0.2e0", "9007199254740993e0", "1e-300", "-0e0", "123456789012345678e0", "1e21",
		"-1.7976931348623157e308", "1.7976931348623157e308", "100", "1e15", "1e16", "0.1"}},
	{"DATE", []string{"'1000-01-01'", "'9999-12-31'", "'0000-00-00'", "'2024-00-15'", "'1899-12-31'"}},
	{"DATETIME", []string{"'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'", "'0000-00-00 00:00:00'", "'2024-00-15 10:00:00'", "'2024-03-31 01:30:00'"}},
	{"DATETIME(3)", []string{"'2024-07-01 12:00:00.5'", "'2024-07-01 12:00:00'"}},
	{"DATETIME(6)", []string{"'1000-01-01 00:00:00.000000'", "'9999-12-31 23:59:59.999999'", "'2024-07-01 12:00:00.5'", "'0000-00-00 00:00:00'", "'1900-03-01 00:00:00.000001'"}},
	{"TIMESTAMP NULL DEFAULT NULL", []string{"'1970-01-01 00:00:01'", "'2038-01-19 03:14:07'", "'0000-00-00 00:00:00'"}},
	{"TIMESTAMP(6) NULL DEFAULT NULL", []string{"'2024-07-01 12:00:00.123456'", "'2024-07-01 12:00:00'"}},
	{"TIME", []string{"'-838:59:59'", "'838:59:59'", "'25:00:00'", "'00:00:00'", "'-00:00:01'"}},
	{"TIME(3)", []string{"'00:00:00.000'", "'12:34:56.789'", "'-25:00:00.5'"}},
	{"YEAR", []string{"1901", "2155", "0"}},
	{"CHAR(3)", []string{"''", "'abc'", "'é'"}},
	{"VARCHAR(100)", []string{"''", "'Zoë 日本 😀𝄞'", "'=1+2'", `'a"b'`}},
	{"VARCHAR(20) CHARACTER SET latin1", []string{"'café €'", "''"}},
	{"TEXT", []string{"REPEAT('abcd', 10000)", "CONCAT('ctl', CHAR(1), CHAR(7), CHAR(11), '|tab', CHAR(9), '|nl', CHAR(10), '|end')", "''"}},
	{"ENUM('a','b')", []string{"'a'", "'b'", "''"}},
	{"SET('x','y')", []string{"''", "'x,y'", "'y'"}},
	{"JSON", []string{"'[]'", `'{"a": [1, 2.5, "x"]}'`, `'"s"'`}},
	{"BIT(1)", []string{"b'0'", "b'1'"}},
	{"BIT(64)", []string{"b'0'", "b'" + strings.Repeat("1", 64) + "'", "b'101'"}},
	{"BINARY(3)", []string{"X'000000'", "X'ABCDEF'", "X'41'"}},
	{"VARBINARY(10)", []string{"X''", "X'00FF'", "X'7F'"}},
	{"BLOB", []string{"X''", "X'DEADBEEF'", "X'00'"}},
}

// cell is one value as read: null, or its bytes.
type cell struct {
	null bool
	text string
}

func (c cell) String() string {
	if c.null {
		return "NULL"
	}
	return fmt.Sprintf("%.60q", c.text)
}

// result is a query's columns and cells, as one side read them.
type result struct {
	cols  []output.Column
	types []string // per column: the database type name, precision and scale, as the driver reports them
	cells [][]cell
}

// typeOf formats a column's type as the driver reports it.
func typeOf(name string, precision, scale int64, ok bool) string {
	return fmt.Sprintf("%s (%d, %d, %v)", name, precision, scale, ok)
}

// diffTable creates the table d of diffTypes in db: id, then c0 for
// diffTypes[0] and so on.
func diffTable(t *testing.T, db *sql.DB) {
	t.Helper()
	defs := []string{"id INT PRIMARY KEY"}
	n := 0
	for i, d := range diffTypes {
		defs = append(defs, fmt.Sprintf("c%d %s", i, d.typ))
		n = max(n, len(d.values))
	}
	stmts := []string{"CREATE TABLE d (" + strings.Join(defs, ", ") + ")"}
	for r := range n + 1 { // the last row: NULL everywhere
		vals := []string{strconv.Itoa(r + 1)}
		for _, d := range diffTypes {
			v := "NULL"
			if r < len(d.values) {
				v = d.values[r]
			}
			vals = append(vals, v)
		}
		// Zero and partly zero dates, and '' in an ENUM, need a permissive sql_mode.
		stmts = append(stmts, "SET STATEMENT sql_mode='' FOR INSERT INTO d VALUES ("+strings.Join(vals, ", ")+")")
	}
	testdb.Exec(t, db, stmts...)
}

// scanned reads rows with database/sql's Rows.Scan into sql.RawBytes.
func scanned(t *testing.T, rows *sql.Rows) result {
	t.Helper()
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	res := result{cols: columnsOf(cts)}
	for _, ct := range cts {
		p, s, ok := ct.DecimalSize()
		res.types = append(res.types, typeOf(ct.DatabaseTypeName(), p, s, ok))
	}
	raw := make([]sql.RawBytes, len(cts))
	dest := make([]any, len(cts))
	for i := range raw {
		dest[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([]cell, len(raw))
		for i, b := range raw {
			row[i] = cell{null: b == nil, text: string(b)}
		}
		res.cells = append(res.cells, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}

// read reads every row of r through Next and Row.
func read(t *testing.T, r *Rows) result {
	t.Helper()
	res := result{cols: r.Columns()}
	tn := r.rows.(driver.RowsColumnTypeDatabaseTypeName)
	ps := r.rows.(driver.RowsColumnTypePrecisionScale)
	for i := range res.cols {
		p, s, ok := ps.ColumnTypePrecisionScale(i)
		res.types = append(res.types, typeOf(tn.ColumnTypeDatabaseTypeName(i), p, s, ok))
	}
	for {
		ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return res
		}
		row := make([]cell, len(r.Row()))
		for i, b := range r.Row() {
			row[i] = cell{null: b == nil, text: string(b)}
		}
		res.cells = append(res.cells, row)
	}
}

// TestRowsDiffersNotFromScan reads the type matrix with Rows and with
// database/sql's Rows.Scan into sql.RawBytes, over both protocols, and
// compares every cell, NULL for NULL, and the columns' metadata:
//
//   - text protocol (a query without arguments, as database/sql sends it):
//     Rows over the driver's text rows, against Scan; identical;
//   - binary protocol (a prepared statement with a bound argument): Query
//     against Scan of the same query and argument; identical;
//   - what joinery reads for a query without arguments: Query prepares it
//     (binary protocol) where database/sql sends it as text; identical but
//     for the differences the binary protocol makes, each asserted in
//     protocolDifference.
func TestRowsDiffersNotFromScan(t *testing.T) {
	db, err := Open(testdb.DSN(t), Options{MaxOpenConns: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	diffTable(t, db)
	const (
		textQuery   = "SELECT d.*, NULL AS n, 1.5 AS lit FROM d WHERE id > 0 ORDER BY id"
		binaryQuery = "SELECT d.*, NULL AS n, 1.5 AS lit FROM d WHERE id > ? ORDER BY id"
	)
	ctx := context.Background()

	scan := func(query string, args ...any) result {
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatal(err)
		}
		return scanned(t, rows)
	}
	// raw runs open on a connection of db, as Runner.dataset does.
	raw := func(open func(dc any) (*Rows, error)) result {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var res result
		err = conn.Raw(func(dc any) error {
			r, err := open(dc)
			if err != nil {
				return err
			}
			defer r.Close()
			res = read(t, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	text := scan(textQuery)
	binary := scan(binaryQuery, 0)
	if len(text.cells) == 0 {
		t.Fatal("no rows")
	}

	t.Run("text protocol", func(t *testing.T) {
		got := raw(func(dc any) (*Rows, error) {
			rows, err := dc.(driver.QueryerContext).QueryContext(ctx, textQuery, nil)
			if err != nil {
				return nil, err
			}
			return newRows(rows, nil), nil
		})
		compare(t, got, text, nil)
	})
	t.Run("binary protocol", func(t *testing.T) {
		got := raw(func(dc any) (*Rows, error) { return Query(ctx, dc, binaryQuery, []any{0}) })
		compare(t, got, binary, nil)
	})
	t.Run("joinery without arguments", func(t *testing.T) {
		got := raw(func(dc any) (*Rows, error) { return Query(ctx, dc, textQuery, nil) })
		compare(t, got, text, protocolDifference)
		// What joinery reads does not depend on bound arguments.
		compare(t, got, binary, nil)
		// The difference is there, as Query's comment says: FLOAT 12345.67.
		c := slices.IndexFunc(diffTypes, func(d diffType) bool { return d.typ == "FLOAT" }) + 1 // after id
		r := slices.Index(diffTypes[c-1].values, "12345.67")
		if g, w := got.cells[r][c], text.cells[r][c]; g.text != "12345.67" || w.text != "12345.7" {
			t.Errorf("FLOAT 12345.67: joinery reads %v, the text protocol sends %v; want 12345.67 and 12345.7", g, w)
		}
	})
}

// compare checks got against want cell by cell: equal, or, when differ is
// not nil and says so, different as the protocols make them.
func compare(t *testing.T, got, want result, differ func(t *testing.T, col output.Column, binary, text string) bool) {
	t.Helper()
	if !reflect.DeepEqual(got.cols, want.cols) {
		t.Errorf("columns:\n got %v\nwant %v", got.cols, want.cols)
	}
	if !reflect.DeepEqual(got.types, want.types) {
		t.Errorf("column types:\n got %q\nwant %q", got.types, want.types)
	}
	if len(got.cells) != len(want.cells) {
		t.Fatalf("%d rows, want %d", len(got.cells), len(want.cells))
	}
	for r, row := range got.cells {
		for c, g := range row {
			w := want.cells[r][c]
			if g == w {
				continue
			}
			col := want.cols[c]
			if differ != nil && !g.null && !w.null && differ(t, col, g.text, w.text) {
				continue
			}
			t.Errorf("row %d, column %s (%s): got %v, want %v", r+1, col.Name, col.DatabaseType, g, w)
		}
	}
}

// protocolDifference reports whether binary, a cell as the binary protocol
// sends it, and text, as the text protocol does, differ only as the
// protocols make them differ, and fails t when a difference it knows of is
// not the one expected.
//
// The one difference on MariaDB: the text protocol sends a FLOAT rounded
// to 6 significant digits (printf's %g), where the binary protocol sends
// the float32, which comes out as its shortest text (strconv's 'g', -1, as
// database/sql formats a float32 into sql.RawBytes). Every other type,
// DOUBLE included, comes out the same.
func protocolDifference(t *testing.T, col output.Column, binary, text string) bool {
	t.Helper()
	if col.DatabaseType != "FLOAT" {
		return false
	}
	f, err := strconv.ParseFloat(binary, 32)
	if err != nil {
		t.Errorf("%s: FLOAT %q: %v", col.Name, binary, err)
		return true
	}
	if short := strconv.FormatFloat(f, 'g', -1, 32); binary != short {
		t.Errorf("%s: FLOAT %q over the binary protocol, want the float32's shortest text %q", col.Name, binary, short)
	}
	if six := strconv.FormatFloat(f, 'g', 6, 32); text != six {
		t.Errorf("%s: FLOAT %q over the text protocol, want %q: the float32 %s to 6 significant digits", col.Name, text, six, binary)
	}
	return true
}
