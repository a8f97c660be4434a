package jobs

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
	r := newRawRows(&fakeRows{row: row, n: 1000}, nil)
	ok, err := r.next()
	if !ok || err != nil {
		t.Fatalf("next = %v, %v", ok, err)
	}
	for i, w := range want {
		if got := string(r.raw[i]); got != w {
			t.Errorf("cell %d = %q, want %q", i, got, w)
		}
		if (r.raw[i] == nil) != (i == 1) {
			t.Errorf("cell %d: NULL = %v", i, r.raw[i] == nil)
		}
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = r.next() }); a != 0 {
		t.Errorf("%v allocations per row, want 0", a)
	}
	r = newRawRows(&fakeRows{row: []driver.Value{int32(1)}, n: 1}, nil)
	if _, err := r.next(); err == nil {
		t.Error("int32 cell: no error")
	}
	r = newRawRows(&fakeRows{}, nil)
	if ok, err := r.next(); ok || err != nil {
		t.Errorf("end: next = %v, %v", ok, err)
	}
}
