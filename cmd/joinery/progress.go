package main

import (
	"fmt"
	"io"
	"time"

	"github.com/joinery/joinery/delivery"
)

// progress draws one line on a terminal: rows so far and, once there is
// enough to go by, the rate.
type progress struct {
	w     io.Writer
	now   func() time.Time
	key   string
	start time.Time // of the dataset's first update
	rows0 int64     // rows at its first update
	last  time.Time
}

// rateAfter is how long a dataset's rows are counted before a rate is shown:
// the first update comes after a few thousand rows, and a rate taken from
// those alone would be noise (millions of rows a second for a dataset that
// takes a millisecond).
const rateAfter = 500 * time.Millisecond

func newProgress(w io.Writer) *progress { return &progress{w: w, now: time.Now} }

func (p *progress) update(job, dataset string, rows int64, done bool) {
	now := p.now()
	if key := job + "/" + dataset; key != p.key {
		p.key, p.start, p.rows0 = key, now, rows
	}
	if done {
		fmt.Fprint(p.w, "\r\033[K")
		return
	}
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r\033[K%s: %s rows", p.key, delivery.GroupDigits(rows))
	if d := now.Sub(p.start); d >= rateAfter {
		fmt.Fprintf(p.w, ", %s rows/s", delivery.GroupDigits(int64(float64(rows-p.rows0)/d.Seconds())))
	}
}
