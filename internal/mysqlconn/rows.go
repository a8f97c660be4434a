package mysqlconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/joinery/joinery/output"
)

// Rows reads a query's rows straight from the driver connection that
// (*sql.Conn).Raw hands out, without database/sql's Rows: no Scan, no
// convertAssign per cell, no locking per row (what that saves: see
// BENCHMARKS.md, numbers moved from code comments). It repeats what
// database/sql does for a query on a connection: arguments are converted by the driver's
// NamedValueChecker (else driver.DefaultParameterConverter) and stay bound
// server-side; the query is prepared, run as a statement (binary protocol)
// and the statement closed with the rows, as database/sql does when the
// driver cannot run a query with arguments directly. Cells come out as the
// text sql.RawBytes would hold.
//
// A Rows belongs to the Raw callback that opened it: the driver
// connection is only valid there. TestRowsDiffersNotFromScan holds its
// cells and columns to what database/sql's Rows.Scan gives, over both
// protocols, on the type matrix.
type Rows struct {
	rows driver.Rows
	stmt driver.Stmt // prepared for the query, closed after rows; or nil
	vals []driver.Value
	raw  []sql.RawBytes // the current row; nil is NULL
	bufs [][]byte       // per column: text of a value the driver did not send as bytes
}

// Query runs query with args on the driver connection ci (what
// (*sql.Conn).Raw hands its callback), always as a prepared statement, so
// that its rows come in the binary protocol even without arguments. The text protocol sends FLOAT rounded to 6
// significant digits (a FLOAT holding 12345.67 comes as "12345.7"); the
// binary protocol sends the float32 itself, which is formatted as its
// shortest text. A dataset's values are the same whether it has bound
// arguments or not. The statement costs one more round trip (prepare
// and close) per query.
func Query(ctx context.Context, ci any, query string, args []any) (*Rows, error) {
	conn, ok := ci.(driver.Conn)
	if !ok {
		return nil, fmt.Errorf("driver connection %T is not a driver.Conn", ci)
	}
	var rows driver.Rows
	var err error
	// As database/sql does with arguments: prepare, run the statement,
	// close it after the rows.
	var stmt driver.Stmt
	if cp, ok := ci.(driver.ConnPrepareContext); ok {
		stmt, err = cp.PrepareContext(ctx, query)
	} else {
		stmt, err = conn.Prepare(query)
		if err == nil && ctx.Err() != nil {
			stmt.Close()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	nv, err := namedArgs(conn, stmt, args)
	if err == nil {
		if sq, ok := stmt.(driver.StmtQueryContext); ok {
			rows, err = sq.QueryContext(ctx, nv)
		} else {
			err = errors.New("driver statement does not implement driver.StmtQueryContext")
		}
	}
	if err != nil {
		stmt.Close()
		return nil, err
	}
	return newRows(rows, stmt), nil
}

func newRows(rows driver.Rows, stmt driver.Stmt) *Rows {
	n := len(rows.Columns())
	r := &Rows{
		rows: rows,
		stmt: stmt,
		vals: make([]driver.Value, n),
		raw:  make([]sql.RawBytes, n),
		bufs: make([][]byte, n),
	}
	// Never nil, so that an empty string is not taken for NULL.
	for i := range r.bufs {
		r.bufs[i] = make([]byte, 0, 24)
	}
	return r
}

// namedArgs converts args for the driver as database/sql's
// driverArgsConnLocked does: the statement's NamedValueChecker, else the
// connection's, falling back to driver.DefaultParameterConverter on
// driver.ErrSkip; driver.ErrRemoveArgument drops an argument. (A
// ColumnConverter is not consulted: go-sql-driver/mysql's statements are
// NamedValueCheckers, which database/sql asks first.)
func namedArgs(ci driver.Conn, si driver.Stmt, args []any) ([]driver.NamedValue, error) {
	want := -1
	if si != nil {
		want = si.NumInput()
	}
	nvc, ok := si.(driver.NamedValueChecker)
	if !ok {
		nvc, _ = ci.(driver.NamedValueChecker)
	}
	nvs := make([]driver.NamedValue, len(args))
	n := 0
	for _, arg := range args {
		nv := &nvs[n]
		*nv = driver.NamedValue{}
		if np, ok := arg.(sql.NamedArg); ok {
			if err := validName(np.Name); err != nil {
				return nil, err
			}
			arg = np.Value
			nv.Name = np.Name
		}
		nv.Ordinal = n + 1
		nv.Value = arg
		err := driver.ErrSkip
		if nvc != nil {
			err = nvc.CheckNamedValue(nv)
		}
		if err == driver.ErrSkip {
			nv.Value, err = driver.DefaultParameterConverter.ConvertValue(nv.Value)
		}
		switch err {
		case nil:
			n++
		case driver.ErrRemoveArgument:
			nvs = nvs[:len(nvs)-1]
		default:
			return nil, fmt.Errorf("sql: converting argument %s type: %w", describeArg(nv), err)
		}
	}
	if want != -1 && len(nvs) != want {
		return nil, fmt.Errorf("sql: expected %d arguments, got %d", want, len(nvs))
	}
	return nvs, nil
}

func validName(name string) error {
	if len(name) == 0 {
		return nil
	}
	r, _ := utf8.DecodeRuneInString(name)
	if unicode.IsLetter(r) {
		return nil
	}
	return fmt.Errorf("name %q does not begin with a letter", name)
}

func describeArg(nv *driver.NamedValue) string {
	if len(nv.Name) == 0 {
		return fmt.Sprintf("$%d", nv.Ordinal)
	}
	return fmt.Sprintf("with name %q", nv.Name)
}

// Columns describes the result's columns as database/sql's ColumnTypes
// do: the driver's database type name, precision and scale.
func (r *Rows) Columns() []output.Column {
	names := r.rows.Columns()
	tn, _ := r.rows.(driver.RowsColumnTypeDatabaseTypeName)
	ps, _ := r.rows.(driver.RowsColumnTypePrecisionScale)
	cols := make([]output.Column, len(names))
	for i, name := range names {
		var typ string
		if tn != nil {
			typ = tn.ColumnTypeDatabaseTypeName(i)
		}
		var precision, scale int64
		if ps != nil {
			if p, s, ok := ps.ColumnTypePrecisionScale(i); ok {
				precision, scale = p, s
			}
		}
		cols[i] = output.ColumnOfSize(name, typ, precision, scale)
	}
	return cols
}

// Next reads the next row, which Row then holds; it returns false at the
// end of the result. Bytes from the driver are used as they are, valid until the next
// call, as with sql.RawBytes; other values are formatted into per-column
// buffers as database/sql's convertAssign formats them for *sql.RawBytes.
func (r *Rows) Next() (bool, error) {
	if err := r.rows.Next(r.vals); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	for i, v := range r.vals {
		if b, ok := v.([]byte); ok { // every cell of the text protocol
			r.raw[i] = b
			continue
		}
		var b []byte
		switch v := v.(type) {
		case nil:
			r.raw[i] = nil
			continue
		case int64:
			b = strconv.AppendInt(r.bufs[i][:0], v, 10)
		case uint64:
			b = strconv.AppendUint(r.bufs[i][:0], v, 10)
		case float64:
			b = strconv.AppendFloat(r.bufs[i][:0], v, 'g', -1, 64)
		case float32:
			b = strconv.AppendFloat(r.bufs[i][:0], float64(v), 'g', -1, 32)
		case string:
			b = append(r.bufs[i][:0], v...)
		case bool:
			b = strconv.AppendBool(r.bufs[i][:0], v)
		case time.Time:
			b = v.AppendFormat(r.bufs[i][:0], time.RFC3339Nano)
		default:
			return false, ScanError{fmt.Errorf("sql: Scan error on column index %d: unsupported Scan, storing driver.Value type %T into type *sql.RawBytes", i, v)}
		}
		r.bufs[i] = b
		r.raw[i] = b
	}
	return true, nil
}

// Row is the current row, one cell per column, nil for NULL: the same
// slice for every row, its cells valid until the next call of Next, as
// with sql.RawBytes.
func (r *Rows) Row() []sql.RawBytes { return r.raw }

// ScanError is the error of a value Next could not turn into text, as
// Rows.Scan would fail on it: the value is wrong, not the connection.
type ScanError struct{ Err error }

func (e ScanError) Error() string { return e.Err.Error() }

func (e ScanError) Unwrap() error { return e.Err }

// Close closes the rows and then the statement, if one was prepared.
func (r *Rows) Close() error {
	err := r.rows.Close()
	if r.stmt != nil {
		err = errors.Join(err, r.stmt.Close())
	}
	return err
}
