package jobs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/joinery/joinery/internal/localtime"
)

// parseSchedule parses a 5-field cron expression or a descriptor, run in
// loc. The cron parser panics on some inputs (a bare CRON_TZ=UTC), so it
// runs under recover.
func parseSchedule(spec string, loc *time.Location) (s cron.Schedule, err error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("set the job's timezone field instead of a TZ= prefix")
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("invalid cron expression: %v", r)
		}
	}()
	s, err = cron.ParseStandard("CRON_TZ=UTC " + spec)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression: %w (want 5 fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly, @every 1h)", err)
	}
	if spec, ok := s.(*cron.SpecSchedule); ok {
		return wallClock{spec: spec, loc: loc, realTime: spec.Hour&allHours == allHours}, nil
	}
	// @every: robfig/cron would round anything under a second up to one.
	if every, ok := strings.CutPrefix(spec, "@every "); ok {
		if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d < time.Second {
			return nil, errors.New("@every needs an interval of at least 1s")
		}
	}
	return s, nil // @every: a fixed interval, whatever the clocks say
}

// allHours is the hour field of a cron expression that matches every hour.
const allHours = 1<<24 - 1

// wallClock runs a cron expression on the wall clock of loc, with the
// daylight saving policy of classic cron (cron(8) on Debian), in every
// zone and for changes of any length:
//
//   - An expression whose hour field matches every hour (*, */1, 0-23)
//     runs in real time: at every instant at which the clock matches it.
//     An hourly job runs in both copies of the hour clocks repeat (25 runs
//     that day) and not in the hour they skip (23 runs).
//   - Any other expression names times of day. One that clocks skip runs
//     once, right after the change, as far after it as it was into the
//     skipped interval: 02:30 runs at 03:30 when clocks go from 02:00 to
//     03:00, and */20 2 * * * at 03:00, 03:20 and 03:40. A time that then
//     falls on one the expression has anyway runs once. A time in the
//     interval clocks repeat runs once, in its first copy.
//
// robfig/cron in loc would skip a time in a skipped interval and run one in
// a repeated interval twice; and time.Date, which a mapping from wall
// clocks could lean on, does not say where a skipped wall clock goes. So
// the expression is parsed in UTC, standing for loc's wall clock, and
// wallClock maps wall clocks to instants with the zone's changes as
// time.Time.ZoneBounds reports them.
type wallClock struct {
	spec     *cron.SpecSchedule // evaluated in UTC, standing for loc's wall clock
	loc      *time.Location
	realTime bool // the hour field matches every hour
}

// Next returns the first run after t. It walks the stretches of constant
// offset of loc from t: in each, the wall clock is the instant plus the
// offset, and the expression's matches are runs. For times of day, two
// things change where a stretch begins with a change: matches in the
// interval it repeats are left out (they ran before it), and matches in
// the interval it skipped are added, at the old offset (just after it).
func (w wallClock) Next(t time.Time) time.Time {
	from := t.Truncate(time.Second).Add(time.Second) // runs are on whole seconds
	for range 500 {
		lt := from.In(w.loc)
		_, off := lt.Zone()
		start, end := lt.ZoneBounds()
		lo := localtime.WallAt(from, off)
		var moved time.Time
		if !w.realTime && !start.IsZero() {
			switch prev := localtime.OffsetBefore(start, w.loc); {
			case prev > off: // clocks went back: the repeated interval ran before
				lo = later(lo, localtime.WallAt(start, prev))
			case prev < off && from.Before(start.Add(time.Duration(off-prev)*time.Second)):
				// Clocks skipped the wall clocks [start+prev, start+off):
				// a time of day among them runs now, at the old offset.
				if m := w.spec.Next(later(localtime.WallAt(from, prev), localtime.WallAt(start, prev)).Add(-time.Second)); !m.IsZero() && m.Before(localtime.WallAt(start, off)) {
					moved = localtime.Instant(m, prev)
				}
			}
		}
		m := w.spec.Next(lo.Add(-time.Second)) // the first match at or after lo
		if at := localtime.Instant(m, off); !m.IsZero() && (end.IsZero() || at.Before(end)) {
			return earliest(moved, at).In(w.loc)
		}
		if !moved.IsZero() || m.IsZero() || end.IsZero() {
			return moved.In(w.loc)
		}
		from = end
	}
	return time.Time{}
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// earliest returns the earlier of a and b, ignoring a zero a.
func earliest(a, b time.Time) time.Time {
	if !a.IsZero() && a.Before(b) {
		return a
	}
	return b
}
