package output

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Batches in flight between the query's goroutine and the writers': one
// being filled, the others queued or being written. A batch is sealed at
// batchRows rows or when its bytes would pass batchBytes. asyncBatches
// batches hold more rows than pass in a scheduler's time slice, so the
// reader and the writers ride out each other's turns off a core instead of
// waiting: with 32 instead of 4, csv and xlsx in one run came closer to
// the xlsx-only time, and xlsx alone was a little faster (see BENCHMARKS.md,
// Numbers moved from code comments, output/async.go). Batches are made as
// they are first needed, so a small dataset does not pay for them.
const (
	asyncBatches = 32
	batchRows    = 512
	batchBytes   = 64 << 10
)

// rowBatch holds copied rows as bytes, one cell after another (see
// appendCell). It holds no pointers but locs: the query's goroutine writes
// a batch that the writer's goroutine, on another core, read a moment ago,
// and every cache line it touches has to come back from there. Copying
// each row as Values (64 bytes a cell, a line each) made some runs much
// slower (see BENCHMARKS.md, Numbers moved from code comments,
// output/async.go); as bytes it is a few lines a row.
type rowBatch struct {
	data    []byte
	rows    int
	locs    []*time.Location // of the batch's times; a cell names one by index
	pending atomic.Int32     // writers yet to write it
}

// The flags byte that starts each encoded cell.
const (
	cellNull    = 1 << iota // Value.Null
	cellLiteral             // Value.Literal
	cellRawNil              // Raw is nil: no length and bytes follow
	cellTime                // Value.Time is set: location index, seconds, nanoseconds follow
	cellWall                // Value.Wall
)

// cellMax is the most a cell's encoding adds to its Raw bytes: flags,
// location index, seconds, nanoseconds and length.
const cellMax = 1 + binary.MaxVarintLen64 + 8 + 4 + binary.MaxVarintLen64

// batchKeep is the most room a reused batch keeps after an outsized row
// (a long TEXT value) made it grow.
const batchKeep = 1 << 20

// batchLocs seals a batch that has met this many locations, so that looking
// one up stays short; rows have one or two.
const batchLocs = 16

// asyncWriter hands the rows of one or more RowWriters to a goroutine each,
// so that their encoding overlaps the driver and the normaliser on the
// query's goroutine, and each other. Values alias the driver's buffer only
// until the next row, so each row is copied into a batch, once for all the
// writers; a batch goes back to be refilled when the last of them has
// written it. Batches are reused, so nothing is allocated per row once the
// first few exist (a row larger than batchBytes grows its batch until the
// batch is written; more than batchKeep is then let go).
type asyncWriter struct {
	ws   []RowWriter
	cols int
	cur  *rowBatch
	full []chan *rowBatch // to each writer's goroutine
	free chan *rowBatch   // back from the last of them to write a batch
	done chan struct{}    // from each goroutine as it ends, once full is closed
	err  error            // sticky: a goroutine's error, or a misuse
	// failed is closed by the first goroutine whose WriteRow fails, after
	// setting failErr, so the query's goroutine stops early instead of
	// after the whole result.
	failed     chan struct{}
	failedOnce sync.Once
	failErr    error
	closeErrs  []error // each writer's Close, called by its goroutine
	made       int     // batches made so far, at most asyncBatches
	closed     bool
}

// AsyncAll returns a RowWriter that runs each of ws on a goroutine of its
// own; a row is copied once for all of them. A writer is only used by its
// goroutine until Close returns, and each goroutine closes its writer when
// it has written the last row, so one writer's fsync overlaps another's
// last work. Close waits for them and returns the first error: of the
// WriteRow that failed first, else of the first writer whose Close failed.
// cols is the number of columns. The Values the writers get equal those
// given to WriteRow, but for a Time's monotonic clock reading, which is
// dropped.
func AsyncAll(ws []RowWriter, cols int) RowWriter {
	a := &asyncWriter{
		ws: ws, cols: cols,
		closeErrs: make([]error, len(ws)),
		full:      make([]chan *rowBatch, len(ws)),
		free:      make(chan *rowBatch, asyncBatches),
		done:      make(chan struct{}, len(ws)),
		failed:    make(chan struct{}),
	}
	a.cur, a.made = newRowBatch(), 1
	for k := range ws {
		a.full[k] = make(chan *rowBatch, asyncBatches)
		go a.run(k)
	}
	return a
}

func newRowBatch() *rowBatch {
	return &rowBatch{data: make([]byte, 0, batchBytes)}
}

// run is writer k's goroutine: it writes batches until full[k] is closed
// (after an error it only drains them), then closes the writer. The last
// writer done with a batch hands it back.
func (a *asyncWriter) run(k int) {
	var err error
	w := a.ws[k]
	row := make([]Value, a.cols)
	for b := range a.full[k] {
		data := b.data
		for r := 0; r < b.rows && err == nil; r++ {
			for i := range row {
				data = b.readCell(data, &row[i])
			}
			if err = w.WriteRow(row); err != nil {
				a.failedOnce.Do(func() { a.failErr = err; close(a.failed) })
			}
		}
		if b.pending.Add(-1) > 0 {
			continue
		}
		if cap(b.data) > batchKeep {
			b.data = make([]byte, 0, batchBytes) // it held an outsized row
		}
		a.free <- b
	}
	a.closeErrs[k] = w.Close()
	a.done <- struct{}{}
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
	n := len(row) * cellMax
	for i := range row {
		n += len(row[i].Raw)
	}
	b := a.cur
	if b.rows == batchRows || (len(b.data)+n > cap(b.data) || len(b.locs) >= batchLocs) && b.rows > 0 {
		a.send(b)
		b = a.next()
		b.data, b.rows, b.locs = b.data[:0], 0, b.locs[:0]
		a.cur = b
	}
	b.data = slices.Grow(b.data, n) // room for an outsized row
	for i := range row {
		b.appendCell(&row[i])
	}
	b.rows++
	return nil
}

// appendCell encodes v at the end of b.data, which has room for it: the
// flags; with cellTime the index of the time's location in b.locs as a
// uvarint, its Unix seconds (8 bytes) and nanoseconds (4 bytes),
// little-endian; unless cellRawNil, the length of Raw as a uvarint and its
// bytes.
func (b *rowBatch) appendCell(v *Value) {
	buf := b.data[len(b.data):cap(b.data)]
	var flags byte
	if v.Null {
		flags |= cellNull
	}
	if v.Literal {
		flags |= cellLiteral
	}
	if v.Wall {
		flags |= cellWall
	}
	n := 1
	if v.Time != (time.Time{}) {
		flags |= cellTime
		loc := v.Time.Location()
		k := len(b.locs) - 1
		for k >= 0 && b.locs[k] != loc {
			k--
		}
		if k < 0 {
			k = len(b.locs)
			b.locs = append(b.locs, loc)
		}
		n += binary.PutUvarint(buf[n:], uint64(k))
		binary.LittleEndian.PutUint64(buf[n:], uint64(v.Time.Unix()))
		binary.LittleEndian.PutUint32(buf[n+8:], uint32(v.Time.Nanosecond()))
		n += 12
	}
	if v.Raw == nil {
		flags |= cellRawNil
	} else {
		n += binary.PutUvarint(buf[n:], uint64(len(v.Raw)))
		n += copy(buf[n:], v.Raw)
	}
	buf[0] = flags
	b.data = b.data[:len(b.data)+n]
}

// readCell decodes into v the cell appendCell wrote at the start of data
// and returns the rest of data. v.Raw aliases data.
func (b *rowBatch) readCell(data []byte, v *Value) []byte {
	flags := data[0]
	v.Null, v.Literal, v.Wall = flags&cellNull != 0, flags&cellLiteral != 0, flags&cellWall != 0
	n := 1
	if flags&cellTime != 0 {
		k, m := binary.Uvarint(data[n:])
		n += m
		sec := int64(binary.LittleEndian.Uint64(data[n:]))
		nsec := int64(binary.LittleEndian.Uint32(data[n+8:]))
		v.Time = time.Unix(sec, nsec).In(b.locs[k])
		n += 12
	} else if v.Time != (time.Time{}) {
		v.Time = time.Time{}
	}
	v.Raw = nil
	if flags&cellRawNil == 0 {
		l, k := binary.Uvarint(data[n:])
		n += k
		v.Raw = data[n : n+int(l) : n+int(l)]
		n += int(l)
	}
	return data[n:]
}

// stop hands over the last batch, waits for the goroutines and returns the
// first WriteRow error.
func (a *asyncWriter) stop() error {
	if a.cur != nil {
		if a.cur.rows > 0 {
			a.send(a.cur)
		}
		a.cur = nil
		for _, c := range a.full {
			close(c)
		}
	}
	for range a.ws {
		<-a.done
	}
	return a.failErr
}

// next returns a batch to fill: one given back, else a new one while fewer
// than asyncBatches exist, else the next one given back.
func (a *asyncWriter) next() *rowBatch {
	if a.made < asyncBatches {
		select {
		case b := <-a.free:
			return b
		default:
			a.made++
			return newRowBatch()
		}
	}
	return <-a.free
}

// send hands b to every writer's goroutine.
func (a *asyncWriter) send(b *rowBatch) {
	b.pending.Store(int32(len(a.full)))
	for _, c := range a.full {
		c <- b
	}
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
	// stop has waited for the goroutines, which closed the writers.
	for _, err := range a.closeErrs {
		if a.err == nil {
			a.err = err
		}
	}
	return a.err
}
