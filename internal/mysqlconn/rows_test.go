package mysqlconn

import (
	"database/sql/driver"
	"io"
	"math"
	"testing"
	"time"
)

// fakeRows returns the same row n times.
type fakeRows struct {
	row []driver.Value
	n   int
}

func (f *fakeRows) Columns() []string { return make([]string, len(f.row)) }
func (f *fakeRows) Close() error      { return nil }
func (f *fakeRows) Next(dest []driver.Value) error {
	if f.n == 0 {
		return io.EOF
	}
	f.n--
	copy(dest, f.row)
	return nil
}

// TestRawRowsText checks that cells come out as database/sql's
// convertAssign writes them into *sql.RawBytes, without allocating.
func TestRawRowsText(t *testing.T) {
	row := []driver.Value{
		[]byte("abc"), nil, int64(-42), uint64(math.MaxUint64), float32(0.1), 0.1, "", true,
		time.Date(2026, 11, 25, 6, 0, 0, 5, time.UTC), []byte{},
	}
	want := []string{"abc", "", "-42", "18446744073709551615", "0.1", "0.1", "", "true", "2026-11-25T06:00:00.000000005Z", ""}
	r := newRows(&fakeRows{row: row, n: 1000}, nil)
	ok, err := r.Next()
	if !ok || err != nil {
		t.Fatalf("next = %v, %v", ok, err)
	}
	for i, w := range want {
		if got := string(r.Row()[i]); got != w {
			t.Errorf("cell %d = %q, want %q", i, got, w)
		}
		if (r.Row()[i] == nil) != (i == 1) {
			t.Errorf("cell %d: NULL = %v", i, r.Row()[i] == nil)
		}
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = r.Next() }); a != 0 {
		t.Errorf("%v allocations per row, want 0", a)
	}
	r = newRows(&fakeRows{row: []driver.Value{int32(1)}, n: 1}, nil)
	if _, err := r.Next(); err == nil {
		t.Error("int32 cell: no error")
	}
	r = newRows(&fakeRows{}, nil)
	if ok, err := r.Next(); ok || err != nil {
		t.Errorf("end: next = %v, %v", ok, err)
	}
}
