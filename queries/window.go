package queries

import (
	"time"

	"github.com/doug-martin/goqu/v9"
)

// The run's window: a dataset's window field filters on it, half-open, and
// any expression may use its bounds as the built-in parameters
// :window_start and :window_end (params.go binds those). Whether the
// window's column is a TIMESTAMP, whose bounds are bound in UTC, is asked of
// the server (probe.go).

// Window is the half-open interval [Start, End) of a run.
type Window struct {
	Start, End time.Time
}

// The built-in parameters of a run with a window: its start and end.
const (
	paramWindowStart = "window_start"
	paramWindowEnd   = "window_end"
)

// window checks the column the run's window filters on.
func (v *validator) window() {
	if v.d.Window == "" {
		return
	}
	if !v.scope.Window {
		v.add("window", v.d.Window, "the job has no window: set the job's window (previous_day, previous_week, previous_month or last Nh)")
		return
	}
	v.expr("window", v.d.Window, exprCtx{maxPos: anyPos, agg: "aggregates are not allowed in window"})
}

// window adds Window >= start AND Window < end to ds's where filters.
func (c *compiler) window(ds *goqu.SelectDataset, d *Dataset) *goqu.SelectDataset {
	if d.Window == "" {
		return ds
	}
	w := operandOf(c.exprOf(c.parse(d.Window)))
	return ds.Where(w.Gte(c.windowBound(d, paramWindowStart)), w.Lt(c.windowBound(d, paramWindowEnd)))
}

// windowBound is param for a bound of d's own window: a wall clock in UTC
// when the server compares the window as TIMESTAMP (Env.TimestampWindows).
func (c *compiler) windowBound(d *Dataset, name string) any {
	if !c.env.TimestampWindows[d.Name] {
		return c.param(name)
	}
	if c.label {
		return labelMark + name + " (UTC: the window is a TIMESTAMP)"
	}
	t := c.env.Window.Start
	if name == paramWindowEnd {
		t = c.env.Window.End
	}
	return formatDateTime(t.UTC())
}
