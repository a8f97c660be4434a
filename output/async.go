package output

import (
	"errors"
	"fmt"
)

// Batches in flight between the query's goroutine and an async writer's:
// one being filled, the others queued or being written. A batch is sealed
// at batchRows rows or when its bytes would pass batchBytes.
const (
	asyncBatches = 4
	batchRows    = 512
	batchBytes   = 64 << 10
)

// rowBatch holds copied rows: vals is rows x cols Values whose Raw slices
// point into data.
type rowBatch struct {
	vals []Value
	data []byte
	rows int
}

// asyncWriter hands the rows of a RowWriter to a goroutine of its own, so
// that one writer's encoding overlaps the driver, the normaliser and the
// other writers on the query's goroutine. Values alias the driver's buffer
// only until the next row, so each row is copied into a batch; batches are
// reused, so nothing is allocated per row once the first few batches exist
// (a row larger than batchBytes grows its batch once).
type asyncWriter struct {
	w    RowWriter
	cols int
	cur  *rowBatch
	full chan *rowBatch // to the writer's goroutine
	free chan *rowBatch // back from it
	done chan error     // the goroutine's first error, once full is closed
	err  error          // sticky: the goroutine's error, or a misuse
	// failed is closed by the goroutine when WriteRow fails, so the
	// query's goroutine stops early instead of after the whole result.
	failed chan struct{}
	closed bool
}

// Async returns a RowWriter that runs w on another goroutine. w is only
// used by that goroutine until Close returns; Close closes w and returns
// its error or the first WriteRow error. cols is the number of columns.
func Async(w RowWriter, cols int) RowWriter {
	a := &asyncWriter{
		w: w, cols: cols,
		full:   make(chan *rowBatch, asyncBatches),
		free:   make(chan *rowBatch, asyncBatches),
		done:   make(chan error, 1),
		failed: make(chan struct{}),
	}
	for range asyncBatches - 1 {
		a.free <- newRowBatch(cols)
	}
	a.cur = newRowBatch(cols)
	go a.run()
	return a
}

func newRowBatch(cols int) *rowBatch {
	return &rowBatch{vals: make([]Value, 0, batchRows*cols), data: make([]byte, 0, batchBytes)}
}

// run writes batches until full is closed; after an error it only drains.
func (a *asyncWriter) run() {
	var err error
	for b := range a.full {
		for r := 0; r < b.rows && err == nil; r++ {
			if err = a.w.WriteRow(b.vals[r*a.cols : (r+1)*a.cols]); err != nil {
				close(a.failed)
			}
		}
		a.free <- b
	}
	a.done <- err
}

func (a *asyncWriter) WriteRow(row []Value) error {
	if a.err != nil {
		return a.err
	}
	if a.closed {
		return errors.New("write: writer is closed")
	}
	if len(row) != a.cols {
		a.err = fmt.Errorf("write: got %d values for %d columns", len(row), a.cols)
		return a.err
	}
	select {
	case <-a.failed:
		a.err = a.stop()
		return a.err
	default:
	}
	n := 0
	for i := range row {
		n += len(row[i].Raw)
	}
	b := a.cur
	if b.rows == batchRows || len(b.data)+n > cap(b.data) && b.rows > 0 {
		a.full <- b
		b = <-a.free
		b.vals, b.data, b.rows = b.vals[:0], b.data[:0], 0
		a.cur = b
	}
	if n > cap(b.data) {
		b.data = make([]byte, 0, n) // an outsized row: this batch keeps the room
	}
	for i := range row {
		v := row[i]
		if v.Raw != nil {
			off := len(b.data)
			b.data = append(b.data, v.Raw...)
			v.Raw = b.data[off:len(b.data):len(b.data)]
		}
		b.vals = append(b.vals, v)
	}
	b.rows++
	return nil
}

// stop hands over the last batch, waits for the goroutine and returns its
// error.
func (a *asyncWriter) stop() error {
	if a.cur != nil {
		if a.cur.rows > 0 {
			a.full <- a.cur
		}
		a.cur = nil
		close(a.full)
	}
	return <-a.done
}

func (a *asyncWriter) Close() error {
	if a.closed {
		return a.err
	}
	a.closed = true
	if a.cur != nil {
		if err := a.stop(); a.err == nil {
			a.err = err
		}
	}
	// After stop the goroutine has ended: w is ours again.
	if err := a.w.Close(); a.err == nil {
		a.err = err
	}
	return a.err
}
