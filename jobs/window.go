package jobs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/joinery/joinery/internal/localtime"
	"github.com/joinery/joinery/queries"
)

// maxWindowHours bounds last_hours, well below where a duration overflows.
const maxWindowHours = 10 * 366 * 24

// Window kinds of WindowSpec.
const (
	windowPreviousDay   = "previous_day"
	windowPreviousWeek  = "previous_week"
	windowPreviousMonth = "previous_month"
	windowLastHours     = "last_hours"
)

// WindowSpec is the window each run of a job covers, relative to the run's
// logical time, in the job's zone. Windows are half-open [start, end):
//
//	previous_day    the calendar day before the logical time's day
//	previous_week   the ISO week (Monday to Monday) before the logical time's
//	previous_month  the calendar month before the logical time's
//	last Nh         the N hours of real time up to the start of the logical
//	                time's clock hour
//
// Days, weeks and months start at local midnight (or, where clocks skip
// midnight, at the change), so across a daylight saving change a day is 23
// or 25 hours long. "last 24h" is 24 hours of real time whatever the
// clocks do, and ends at the last instant at or before the logical time at
// which the clock read a whole hour: an hourly job's second 02:00, when
// clocks go back, has the window from the first 02:00 to it. So the
// windows of consecutive periods (days, weeks, months, clock hours) meet
// exactly, and no window ends after its logical time.
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
	case windowPreviousDay, windowPreviousWeek, windowPreviousMonth:
		*w = WindowSpec{Kind: s}
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "last "); ok {
		rest = strings.TrimSpace(rest)
		for _, unit := range []string{" hours", " hour", "h"} {
			if n, ok := strings.CutSuffix(rest, unit); ok {
				if h, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
					*w = WindowSpec{Kind: windowLastHours, Hours: h}
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
	if w.Kind == windowLastHours {
		return fmt.Sprintf("last %dh", w.Hours)
	}
	return w.Kind
}

// check returns what is wrong with a spec read from a mapping.
func (w WindowSpec) check() error {
	switch w.Kind {
	case "", windowPreviousDay, windowPreviousWeek, windowPreviousMonth:
		if w.Hours != 0 {
			return errors.New("hours is only for kind: last_hours")
		}
	case windowLastHours:
		if w.Hours < 1 || w.Hours > maxWindowHours {
			return fmt.Errorf("last_hours needs hours from 1 to %d (ten years)", maxWindowHours)
		}
	default:
		return fmt.Errorf("kind %q: want previous_day, previous_week, previous_month or last_hours", w.Kind)
	}
	return nil
}

// Bounds returns the window of a run with logical time t, in loc. Its end
// is the start of the period (day, ISO week, month, or clock hour) that
// holds t, so it never ends after t, and its start is the end of the
// window of a run in the period before: the windows of consecutive
// periods tile time, whatever the clocks do in between.
func (w WindowSpec) Bounds(t time.Time, loc *time.Location) queries.Window {
	end := w.floor(t, loc)
	return queries.Window{Start: w.back(end, loc), End: end}
}

// floor returns the start of the period of the window's kind that holds t,
// in loc: the first instant of its day, ISO week or month (local midnight,
// or the change that skipped it), or for last Nh the last instant at or
// before t at which the clock read a whole hour.
func (w WindowSpec) floor(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	y, m, d := t.Date()
	switch w.Kind {
	case windowPreviousWeek:
		return localtime.DayStart(y, m, d-(int(t.Weekday())+6)%7, loc)
	case windowPreviousMonth:
		return localtime.DayStart(y, m, 1, loc)
	case windowLastHours:
		return localtime.HourStart(t)
	}
	return localtime.DayStart(y, m, d, loc)
}

// back returns the start of the window that ends at end (a period start).
// last Nh goes N hours back in real time, to the last whole hour of the
// clock at or before that: across a change by half an hour (Lord Howe),
// a window is half an hour longer, and an hourly job's windows still
// meet.
func (w WindowSpec) back(end time.Time, loc *time.Location) time.Time {
	if w.Kind == windowLastHours {
		return localtime.HourStart(end.Add(-time.Duration(w.Hours) * time.Hour).In(loc))
	}
	y, m, d := end.In(loc).Date()
	switch w.Kind {
	case windowPreviousWeek:
		return localtime.DayStart(y, m, d-7, loc)
	case windowPreviousMonth:
		return localtime.DayStart(y, m-1, 1, loc)
	}
	return localtime.DayStart(y, m, d-1, loc)
}

// step returns the end of the window that starts at start (a period
// start): the start of the next period.
func (w WindowSpec) step(start time.Time, loc *time.Location) time.Time {
	if w.Kind == windowLastHours {
		// The first whole hour at or after N hours on, whose window (see
		// back) starts at start.
		next := start.Add(time.Duration(w.Hours) * time.Hour).In(loc)
		if h := localtime.HourStart(next); !h.Equal(next) {
			return localtime.NextHourStart(next)
		}
		return next
	}
	y, m, d := start.In(loc).Date()
	switch w.Kind {
	case windowPreviousWeek:
		return localtime.DayStart(y, m, d+7, loc)
	case windowPreviousMonth:
		return localtime.DayStart(y, m+1, 1, loc)
	}
	return localtime.DayStart(y, m, d+1, loc)
}

// Plan is one run of a job: its logical time, window and parameter values.
type Plan struct {
	Logical time.Time       // in the job's zone
	Window  *queries.Window // nil when the job has no window
	Params  map[string]any  // see queries.ResolveParams
	// Scheduled marks the run of a scheduled time (Runner.RunScheduled):
	// it is skipped with ErrAlreadyDone when that time has run already.
	Scheduled bool
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
		w := j.window(t)
		p.Window = &w
	}
	return p, nil
}

// window returns the window of job's run at t. For last Nh, when the job
// runs every N hours of the wall clock (0 */6 with last 6h, 0 6 * * * with
// last 24h) and t is one of its scheduled times, the window starts where
// the previous scheduled run's window ended: across a change those runs
// are N-1 or N+1 real hours apart, and N hours back would report an hour
// twice in spring and leave one out in autumn.
func (j *Job) window(t time.Time) queries.Window {
	w := j.Window.Bounds(t, j.Location)
	if !j.tilesBySchedule() || !j.sched.Next(t.Add(-time.Nanosecond)).Equal(t) {
		return w
	}
	if prev, ok := j.prevScheduled(t); ok {
		w.Start = j.Window.floor(prev, j.Location)
	}
	return w
}

// tilesBySchedule reports whether the job's window is last Nh and its
// schedule runs every N hours of the wall clock: then its runs' windows
// meet at its scheduled times (see window).
func (j *Job) tilesBySchedule() bool {
	if j.Window.Kind != windowLastHours || j.sched == nil {
		return false
	}
	n := time.Duration(j.Window.Hours) * time.Hour
	// Away from any change (UTC has none), in the schedule's own terms.
	t0 := j.sched.Next(time.Date(2001, 1, 15, 0, 0, 0, 0, j.Location))
	t1 := j.sched.Next(t0)
	t2 := j.sched.Next(t1)
	if t0.IsZero() || t1.IsZero() || t2.IsZero() {
		return false
	}
	return wallDiff(t0, t1, j.Location) == n && wallDiff(t1, t2, j.Location) == n
}

// wallDiff is how far apart a and b are on the wall clock of loc.
func wallDiff(a, b time.Time, loc *time.Location) time.Duration {
	wall := func(t time.Time) time.Time {
		t = t.In(loc)
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	return wall(b).Sub(wall(a))
}

// prevScheduled returns the job's scheduled time before t, looking back
// the window's length and a clock change.
func (j *Job) prevScheduled(t time.Time) (time.Time, bool) {
	var prev time.Time
	from := t.Add(-time.Duration(j.Window.Hours)*time.Hour - 3*time.Hour)
	for n, s := 0, j.sched.Next(from); !s.IsZero() && s.Before(t) && n < 100000; n, s = n+1, j.sched.Next(s) {
		prev = s
	}
	return prev, !prev.IsZero()
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
	if j.tilesBySchedule() {
		// The windows of the scheduled runs that meet [from, to).
		n := time.Duration(j.Window.Hours) * time.Hour
		for t := j.sched.Next(from.Add(-n - 3*time.Hour)); !t.IsZero(); t = j.sched.Next(t) {
			w := j.window(t)
			if !w.Start.Before(to) {
				break
			}
			if !w.End.After(from) {
				continue
			}
			if len(plans) == maxRuns {
				return nil, fmt.Errorf("--from/--to makes more than %d runs of %s windows", maxRuns, j.Window)
			}
			plans = append(plans, Plan{Logical: w.End, Window: &w, Params: vals})
		}
		return plans, nil
	}
	for s := j.Window.floor(from, j.Location); s.Before(to); s = j.Window.step(s, j.Location) {
		if len(plans) == maxRuns {
			return nil, fmt.Errorf("--from/--to makes more than %d runs of %s windows", maxRuns, j.Window)
		}
		w := queries.Window{Start: s, End: j.Window.step(s, j.Location)}
		plans = append(plans, Plan{Logical: w.End, Window: &w, Params: vals})
	}
	return plans, nil
}
