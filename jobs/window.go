package jobs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/joinery/joinery/queries"
)

// Window kinds of WindowSpec.
// maxWindowHours bounds last_hours, well below where a duration overflows.
const maxWindowHours = 10 * 366 * 24

const (
	WindowPreviousDay   = "previous_day"
	WindowPreviousWeek  = "previous_week"
	WindowPreviousMonth = "previous_month"
	WindowLastHours     = "last_hours"
)

// WindowSpec is the window each run of a job covers, relative to the run's
// logical time, in the job's zone. Windows are half-open [start, end):
//
//	previous_day    the calendar day before the logical time's day
//	previous_week   the ISO week (Monday to Monday) before the logical time's
//	previous_month  the calendar month before the logical time's
//	last Nh         the N hours up to the logical time, truncated to the hour
//
// Days, weeks and months start at local midnight, so across a daylight
// saving change a day is 23 or 25 hours long; "last 24h" is always 24 hours.
// In YAML: "previous_day", "last 6h", or {kind: last_hours, hours: 6}.
type WindowSpec struct {
	Kind  string `yaml:"kind"`
	Hours int    `yaml:"hours"` // for last_hours
}

// UnmarshalText parses "previous_day", "previous_week", "previous_month"
// or "last Nh" (also "last N hours").
func (w *WindowSpec) UnmarshalText(text []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(text)))
	switch s {
	case WindowPreviousDay, WindowPreviousWeek, WindowPreviousMonth:
		*w = WindowSpec{Kind: s}
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "last "); ok {
		rest = strings.TrimSpace(rest)
		for _, unit := range []string{" hours", " hour", "h"} {
			if n, ok := strings.CutSuffix(rest, unit); ok {
				if h, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
					*w = WindowSpec{Kind: WindowLastHours, Hours: h}
					return nil
				}
			}
		}
	}
	return fmt.Errorf("window %q: want previous_day, previous_week, previous_month or last Nh (such as last 6h)", text)
}

// IsSet reports whether the job has a window.
func (w WindowSpec) IsSet() bool { return w.Kind != "" }

// String returns the window in its shorthand form.
func (w WindowSpec) String() string {
	if w.Kind == WindowLastHours {
		return fmt.Sprintf("last %dh", w.Hours)
	}
	return w.Kind
}

// check returns what is wrong with a spec read from a mapping.
func (w WindowSpec) check() error {
	switch w.Kind {
	case "", WindowPreviousDay, WindowPreviousWeek, WindowPreviousMonth:
		if w.Hours != 0 {
			return errors.New("hours is only for kind: last_hours")
		}
	case WindowLastHours:
		if w.Hours < 1 || w.Hours > maxWindowHours {
			return fmt.Errorf("last_hours needs hours from 1 to %d (ten years)", maxWindowHours)
		}
	default:
		return fmt.Errorf("kind %q: want previous_day, previous_week, previous_month or last_hours", w.Kind)
	}
	return nil
}

// floor returns the start of the period of the window's kind that contains
// t: its day, ISO week, month or hour, in loc.
func (w WindowSpec) floor(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	y, m, d := t.Date()
	switch w.Kind {
	case WindowPreviousWeek:
		return time.Date(y, m, d-(int(t.Weekday())+6)%7, 0, 0, 0, 0, loc)
	case WindowPreviousMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc)
	case WindowLastHours:
		return time.Date(y, m, d, t.Hour(), 0, 0, 0, loc)
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// step returns the start of the window after the one starting at start.
func (w WindowSpec) step(start time.Time) time.Time {
	y, m, d := start.Date()
	loc := start.Location()
	switch w.Kind {
	case WindowPreviousWeek:
		return time.Date(y, m, d+7, 0, 0, 0, 0, loc)
	case WindowPreviousMonth:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	case WindowLastHours:
		return start.Add(time.Duration(w.Hours) * time.Hour)
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// Bounds returns the window of a run with logical time t, in loc.
func (w WindowSpec) Bounds(t time.Time, loc *time.Location) queries.Window {
	end := w.floor(t, loc)
	var start time.Time
	y, m, d := end.Date()
	switch w.Kind {
	case WindowPreviousWeek:
		start = time.Date(y, m, d-7, 0, 0, 0, 0, loc)
	case WindowPreviousMonth:
		start = time.Date(y, m-1, 1, 0, 0, 0, 0, loc)
	case WindowLastHours:
		start = end.Add(-time.Duration(w.Hours) * time.Hour)
	default:
		start = time.Date(y, m, d-1, 0, 0, 0, 0, loc)
	}
	return queries.Window{Start: start, End: end}
}

// Plan is one run of a job: its logical time, window and parameter values.
type Plan struct {
	Logical time.Time       // in the job's zone
	Window  *queries.Window // nil when the job has no window
	Params  map[string]any  // see queries.ResolveParams
}

// NotOver reports whether the run's window, or its logical time when it
// has no window, is not over at now: such a run reports on data that is
// still coming, and is partial (see Result.Partial).
func (p Plan) NotOver(now time.Time) bool {
	if p.Window != nil {
		return p.Window.End.After(now)
	}
	return p.Logical.After(now)
}

// PlanAt plans the run of job with logical time t (the scheduled time, or
// --at): its window is the job's window for t. params are the --param values.
func (j *Job) PlanAt(t time.Time, params map[string]string) (Plan, error) {
	vals, err := queries.ResolveParams(j.Params, params, j.Location)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Logical: t.In(j.Location), Params: vals}
	if j.Window.IsSet() {
		w := j.Window.Bounds(t, j.Location)
		p.Window = &w
	}
	return p, nil
}

// PlanRange plans the runs for --from/--to. With once, or for a job
// without a window, it is one run whose window is exactly [from, to). Else
// it is a backfill: one run per window of the job's kind, from the one that
// contains from up to the one that contains the instant before to, each run
// with the logical time its scheduled run would have (the window's end), so
// each writes its own files.
func (j *Job) PlanRange(from, to time.Time, params map[string]string, once bool) ([]Plan, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("--to %s must be after --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	vals, err := queries.ResolveParams(j.Params, params, j.Location)
	if err != nil {
		return nil, err
	}
	if once || !j.Window.IsSet() {
		w := queries.Window{Start: from.In(j.Location), End: to.In(j.Location)}
		return []Plan{{Logical: w.End, Window: &w, Params: vals}}, nil
	}
	const maxRuns = 10000
	var plans []Plan
	for s := j.Window.floor(from, j.Location); s.Before(to); s = j.Window.step(s) {
		if len(plans) == maxRuns {
			return nil, fmt.Errorf("--from/--to makes more than %d runs of %s windows", maxRuns, j.Window)
		}
		w := queries.Window{Start: s, End: j.Window.step(s)}
		plans = append(plans, Plan{Logical: w.End, Window: &w, Params: vals})
	}
	return plans, nil
}

// Env returns the compile environment of a run of the job planned by p,
// for a database whose DATETIME values are wall clocks in dbLoc.
func (j *Job) Env(p Plan, dbLoc *time.Location) queries.Env {
	return queries.Env{Window: p.Window, Params: p.Params, Datasets: j.Datasets, Location: dbLoc, Diagnostics: true}
}
