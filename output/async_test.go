package output

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// recorder is a RowWriter that keeps the text of every row it gets.
type recorder struct {
	rows   []string
	failAt int // fail the row with this index (1-based), 0 for never
	closed int
}

func (r *recorder) WriteRow(row []Value) error {
	if r.failAt > 0 && len(r.rows)+1 == r.failAt {
		return errors.New("disk full")
	}
	var sb strings.Builder
	for _, v := range row {
		switch {
		case v.Null:
			sb.WriteString("NULL|")
		case v.Raw == nil:
			sb.WriteString("nil|")
		default:
			fmt.Fprintf(&sb, "%q %s %v|", v.Raw, v.Time.Format(time.RFC3339), v.Literal)
		}
	}
	r.rows = append(r.rows, sb.String())
	return nil
}

func (r *recorder) Close() error { r.closed++; return nil }

// TestAsyncCopiesRows: rows reach the writer, or each of several, in order
// and intact although the caller reuses its buffer for every row, across
// batch boundaries and past rows larger than a batch: every field of every
// Value, times with their location, nil and empty Raw told apart.
func TestAsyncCopiesRows(t *testing.T) {
	for _, writers := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d writers", writers), func(t *testing.T) { testAsyncCopiesRows(t, writers) })
	}
}

func testAsyncCopiesRows(t *testing.T, writers int) {
	recs := make([]*valueRecorder, writers)
	ws := make([]RowWriter, writers)
	for k := range recs {
		recs[k] = &valueRecorder{}
		ws[k] = recs[k]
	}
	var want [][]Value
	a := AsyncAll(ws, 4)
	buf := make([]byte, 0, 4*batchBytes)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2024, 3, 1, 9, 15, 0, 123456789, time.UTC)
	for i := range 3*batchRows + 7 {
		buf = buf[:0]
		buf = fmt.Appendf(buf, "row %d", i)
		n := len(buf)
		if i%700 == 5 {
			buf = append(buf, strings.Repeat("x", 2*batchKeep+i)...) // outsized
		}
		m := len(buf)
		buf = append(buf, "tail"...)
		tm := day.Add(time.Duration(i) * time.Hour)
		if i%2 == 1 {
			tm = tm.In(berlin)
		}
		row := []Value{
			{Raw: buf[:n:n]},
			{Raw: buf[n:m:m], Time: tm, Literal: i%3 == 0, Wall: i%4 == 1},
			{Null: i%2 == 0, Raw: func() []byte {
				if i%2 == 0 {
					return nil
				}
				return buf[m:]
			}()},
			{Raw: buf[:0:0], Time: time.Date(1000-i, 1, 1, 0, 0, 0, 0, time.UTC)}, // empty, not nil; before 1970
		}
		want = append(want, cloneRow(row))
		if err := a.WriteRow(row); err != nil {
			t.Fatal(err)
		}
		for j := range buf {
			buf[j] = '#' // the caller's next row overwrites this one
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The batches that grew for the outsized rows let the room go once
	// written; after Close all of them are back.
	for range a.(*asyncWriter).made {
		if b := <-a.(*asyncWriter).free; cap(b.data) > batchKeep {
			t.Errorf("a batch keeps %d bytes, want at most %d", cap(b.data), batchKeep)
		}
	}
	for k, rec := range recs {
		if rec.closed != 1 {
			t.Errorf("writer %d closed %d times", k, rec.closed)
		}
		if len(rec.rows) != len(want) {
			t.Fatalf("writer %d got %d rows, want %d", k, len(rec.rows), len(want))
		}
		for i := range want {
			for j := range want[i] {
				got, w := rec.rows[i][j], want[i][j]
				if got.Null != w.Null || got.Literal != w.Literal || got.Wall != w.Wall || got.Time != w.Time ||
					(got.Raw == nil) != (w.Raw == nil) || !bytes.Equal(got.Raw, w.Raw) {
					t.Fatalf("writer %d, row %d, cell %d: got %+.80v, want %+.80v", k, i, j, got, w)
				}
			}
		}
	}
	if err := a.WriteRow(make([]Value, 4)); err == nil {
		t.Error("WriteRow after Close succeeded")
	}
}

// valueRecorder is a RowWriter that keeps a copy of every row it gets.
type valueRecorder struct {
	rows   [][]Value
	closed int
}

func (r *valueRecorder) WriteRow(row []Value) error {
	r.rows = append(r.rows, cloneRow(row))
	return nil
}

func (r *valueRecorder) Close() error { r.closed++; return nil }

func cloneRow(row []Value) []Value {
	out := slices.Clone(row)
	for i := range out {
		if out[i].Raw != nil {
			out[i].Raw = slices.Clone(out[i].Raw)
			if out[i].Raw == nil {
				out[i].Raw = []byte{}
			}
		}
	}
	return out
}

// TestAsyncError: the writer's error comes back from a later WriteRow (the
// caller stops early) and from Close, and the inner writer is closed.
func TestAsyncError(t *testing.T) {
	rec := &recorder{failAt: 10}
	a := AsyncAll([]RowWriter{rec}, 1)
	row := []Value{{Raw: []byte("v")}}
	var err error
	for i := 0; i < 100*batchRows && err == nil; i++ {
		err = a.WriteRow(row)
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("WriteRow: %v", err)
	}
	if cerr := a.Close(); cerr == nil || cerr.Error() != err.Error() {
		t.Errorf("Close: %v, want %v", cerr, err)
	}
	if rec.closed != 1 {
		t.Errorf("inner writer closed %d times", rec.closed)
	}
	if len(rec.rows) != 9 {
		t.Errorf("%d rows written before the error", len(rec.rows))
	}
	if err := AsyncAll([]RowWriter{&recorder{}}, 2).WriteRow(row); err == nil {
		t.Error("a row of the wrong width was accepted")
	}
}

// TestAsyncAllError: when one of several writers fails, its error comes
// back from WriteRow and Close, the others stop getting rows soon after,
// and every writer is closed once. A Close error of one writer comes back
// too.
func TestAsyncAllError(t *testing.T) {
	recs := []*recorder{{}, {failAt: 10}, {}}
	a := AsyncAll([]RowWriter{recs[0], recs[1], recs[2]}, 1)
	row := []Value{{Raw: []byte("v")}}
	var err error
	n := 0
	for ; n < 100*batchRows && err == nil; n++ {
		err = a.WriteRow(row)
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("WriteRow: %v", err)
	}
	if n >= 100*batchRows {
		t.Errorf("the caller was not stopped: %d rows", n)
	}
	if cerr := a.Close(); cerr == nil || cerr.Error() != err.Error() {
		t.Errorf("Close: %v, want %v", cerr, err)
	}
	for k, rec := range recs {
		if rec.closed != 1 {
			t.Errorf("writer %d closed %d times", k, rec.closed)
		}
	}
	if len(recs[1].rows) != 9 {
		t.Errorf("%d rows written before the error", len(recs[1].rows))
	}

	bad := &closeFailer{}
	a = AsyncAll([]RowWriter{&recorder{}, bad}, 1)
	if err := a.WriteRow(row); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err == nil || err.Error() != "close failed" {
		t.Errorf("Close: %v, want the second writer's close error", err)
	}
}

type closeFailer struct{ recorder }

func (c *closeFailer) Close() error { c.closed++; return errors.New("close failed") }

// TestAsyncAllocs: nothing is allocated per row once the batches exist.
func TestAsyncAllocs(t *testing.T) {
	cols, raw := benchRow()
	n := NewNormalizer(cols, time.UTC, time.UTC)
	vals := make([]Value, len(cols))
	if err := n.Normalize(raw, vals); err != nil {
		t.Fatal(err)
	}
	a := AsyncAll([]RowWriter{nopWriter{}}, len(cols))
	defer a.Close()
	for range asyncBatches * batchRows {
		_ = a.WriteRow(vals)
	}
	if allocs := testing.AllocsPerRun(10*batchRows, func() { _ = a.WriteRow(vals) }); allocs != 0 {
		t.Errorf("%v allocations per row", allocs)
	}
}

// TestAsyncBatchesOnDemand: a small dataset makes one batch, a large one
// no more than asyncBatches.
func TestAsyncBatchesOnDemand(t *testing.T) {
	row := []Value{{Raw: []byte("v")}}
	for _, c := range []struct{ rows, most int }{{10, 1}, {100 * batchRows, asyncBatches}} {
		a := AsyncAll([]RowWriter{nopWriter{}, &recorder{}}, 1)
		for range c.rows {
			if err := a.WriteRow(row); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if made := a.(*asyncWriter).made; made < 1 || made > c.most {
			t.Errorf("%d rows: %d batches made, want 1 to %d", c.rows, made, c.most)
		}
	}
}

type nopWriter struct{}

func (nopWriter) WriteRow([]Value) error { return nil }
func (nopWriter) Close() error           { return nil }

// TestAsyncManyZones: a row may hold times in more zones than a byte can
// number, and a wide row with few zones still shares its batch with
// others.
func TestAsyncManyZones(t *testing.T) {
	const cols = 300
	rec := &valueRecorder{}
	a := AsyncAll([]RowWriter{rec}, cols)
	day := time.Date(2024, 3, 1, 9, 15, 0, 0, time.UTC)
	plus1 := time.FixedZone("P1", 3600)
	var want [][]Value
	for r := range 7 {
		row := make([]Value, cols)
		for i := range row {
			zone := time.UTC
			switch {
			case r == 0: // the first row: a zone per column
				zone = time.FixedZone(fmt.Sprintf("Z%d", i), (i%24-12)*3600+i*60)
			case i%2 == 1:
				zone = plus1
			}
			row[i] = Value{Raw: []byte("x"), Time: day.Add(time.Duration(i) * time.Minute).In(zone)}
		}
		want = append(want, cloneRow(row))
		if err := a.WriteRow(row); err != nil {
			t.Fatal(err)
		}
	}
	// The first row opened a batch of its own (300 zones); the other six,
	// in two zones each, share the next one.
	if got := a.(*asyncWriter).cur.rows; got != 6 {
		t.Errorf("the current batch holds %d rows, want 6", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for r := range want {
		for i := range want[r] {
			got, w := rec.rows[r][i].Time, want[r][i].Time
			if got != w || got.Location().String() != w.Location().String() {
				t.Fatalf("row %d, cell %d: got %v, want %v", r, i, got, w)
			}
		}
	}
}

// BenchmarkBatchCells is the two halves of the hand-over on one goroutine,
// without the other core: a row encoded into a batch, and decoded again.
func BenchmarkBatchCells(b *testing.B) {
	cols, rawRow := benchRow()
	vals := make([]Value, len(cols))
	if err := NewNormalizer(cols, time.UTC, mustLoc(b, "Europe/Berlin")).Normalize(rawRow, vals); err != nil {
		b.Fatal(err)
	}
	batch := newRowBatch()
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			batch.data, batch.locs = batch.data[:0], batch.locs[:0]
			for i := range vals {
				batch.appendCell(&vals[i])
			}
		}
	})
	out := make([]Value, len(cols))
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			data := batch.data
			for i := range out {
				data = batch.readCell(data, &out[i])
			}
		}
	})
}
