package mysqlconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/joinery/joinery/output"
)

// columnsOf describes a result's columns from the driver's column types.
// Scale is filled for DECIMAL (digits after the point) and for DATETIME,
// TIMESTAMP and TIME (digits of fractional seconds). A name that is not
// valid UTF-8 gets U+FFFD for each bad byte, as text values do: names head
// every format. It is database/sql's view of the columns, which the
// differential test of Rows holds Rows.Columns to.
func columnsOf(types []*sql.ColumnType) []output.Column {
	cols := make([]output.Column, len(types))
	for i, t := range types {
		precision, scale, ok := t.DecimalSize()
		if !ok {
			precision, scale = 0, 0
		}
		name := t.Name()
		if !utf8.ValidString(name) {
			b, _ := output.AppendValidUTF8(nil, []byte(name))
			name = string(b)
		}
		cols[i] = output.ColumnOfSize(name, t.DatabaseTypeName(), precision, scale)
	}
	return cols
}

// typedDriver serves one result with fixed column types, so columnsOf can be
// tested with real *sql.ColumnType values.
type typedDriver struct{}
type typedConn struct{}
type typedRows struct{}

var typedCols = []struct {
	name, typ  string
	prec, scal int64
	hasScale   bool
}{
	{"id", "UNSIGNED BIGINT", 0, 0, false},
	{"amount", "DECIMAL", 12, 2, true},
	{"created", "DATETIME", 3, 3, true},
	{"day", "DATE", 0, 0, false},
	{"ratio", "DOUBLE", math.MaxInt64, math.MaxInt64, true},
	{"name", "VARCHAR", 0, 0, false},
	{"dur", "TIME", 6, 6, true},
	{"x", "NULL", 0, 0, false},
	{"caf\xe9", "VARCHAR", 0, 0, false}, // a latin1 name
}

func (typedDriver) Open(string) (driver.Conn, error)      { return typedConn{}, nil }
func (typedConn) Prepare(string) (driver.Stmt, error)     { return nil, driver.ErrSkip }
func (typedConn) Close() error                            { return nil }
func (typedConn) Begin() (driver.Tx, error)               { return nil, driver.ErrSkip }
func (typedRows) Close() error                            { return nil }
func (typedRows) Next([]driver.Value) error               { return io.EOF }
func (typedRows) ColumnTypeDatabaseTypeName(i int) string { return typedCols[i].typ }
func (typedConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return typedRows{}, nil
}
func (typedRows) Columns() []string {
	out := make([]string, len(typedCols))
	for i, c := range typedCols {
		out[i] = c.name
	}
	return out
}
func (typedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	c := typedCols[i]
	return c.prec, c.scal, c.hasScale
}

func init() { sql.Register("mysqlconn-typed", typedDriver{}) }

func TestColumnsOf(t *testing.T) {
	db, err := sql.Open("mysqlconn-typed", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("select")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	got := columnsOf(types)
	want := []output.Column{
		{Name: "id", DatabaseType: "UNSIGNED BIGINT", Kind: output.KindUint, Scale: 0, Precision: 0},
		{Name: "amount", DatabaseType: "DECIMAL", Kind: output.KindDecimal, Scale: 2, Precision: 12},
		{Name: "created", DatabaseType: "DATETIME", Kind: output.KindDateTime, Scale: 3, Precision: 0},
		{Name: "day", DatabaseType: "DATE", Kind: output.KindDate, Scale: 0, Precision: 0},
		{Name: "ratio", DatabaseType: "DOUBLE", Kind: output.KindFloat, Scale: 0, Precision: 0},
		{Name: "name", DatabaseType: "VARCHAR", Kind: output.KindText, Scale: 0, Precision: 0},
		{Name: "dur", DatabaseType: "TIME", Kind: output.KindTime, Scale: 6, Precision: 0},
		{Name: "x", DatabaseType: "NULL", Kind: output.KindText, Scale: 0, Precision: 0},
		{Name: "caf\uFFFD", DatabaseType: "VARCHAR", Kind: output.KindText, Scale: 0, Precision: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d columns, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
