// Package localtime maps between instants and the wall clocks of a time
// zone across its changes (daylight saving, or a new standard offset),
// where the time package leaves the answer open: time.Date does not say
// which instant it returns for a wall clock that clocks skipped or that
// came round twice (it moves Berlin's skipped 02:30 forward and New
// York's back). Every answer here is worked out from the zone's own
// changes, found with time.Time.ZoneBounds.
//
// A wall clock is given as a time.Time in UTC whose reading is the wall
// clock's (WallAt returns one), so that wall clocks can be compared, added
// to and matched by a cron expression without a zone getting in the way.
package localtime

import "time"

// WallAt returns the wall clock at instant t of a zone offset seconds east
// of UTC, as a time in UTC with that reading.
func WallAt(t time.Time, offset int) time.Time {
	return t.UTC().Add(time.Duration(offset) * time.Second)
}

// Instant returns the instant at which a zone offset seconds east of UTC
// reads wall clock w.
func Instant(w time.Time, offset int) time.Time {
	return w.Add(-time.Duration(offset) * time.Second).UTC()
}

// OffsetBefore returns the offset of loc in force just before instant t
// (for a change at t, the offset it changed from).
func OffsetBefore(t time.Time, loc *time.Location) int {
	_, off := t.Add(-time.Nanosecond).In(loc).Zone()
	return off
}

// reading says when loc's clock reads a wall clock.
type reading struct {
	// First is the first instant at which the clock reads the wall clock,
	// and Second the next one when clocks went back over it (zero
	// otherwise). When clocks skipped it, First is the instant as far after
	// the change as the wall clock is after the last one read before it
	// (02:30 when clocks go from 02:00 to 03:00 is 03:30 in the new time),
	// and Skipped is true.
	First, Second time.Time
	Skipped       bool
	// Change is, for a skipped wall clock, the instant of the change that
	// skipped it: the first instant after it.
	Change time.Time
}

// lookup returns when loc's clock reads wall clock w (a time in UTC with
// that reading). Instants are in loc.
func lookup(w time.Time, loc *time.Location) reading {
	var r reading
	// Offsets on Earth are within a day of UTC, so every instant that
	// reads w is within a day of w read as UTC; walk the zone's stretches
	// of constant offset over that span.
	t, until := w.Add(-26*time.Hour), w.Add(26*time.Hour)
	prev, known := 0, false
	for t.Before(until) {
		lt := t.In(loc)
		_, off := lt.Zone()
		start, end := lt.ZoneBounds()
		if at := Instant(w, off); (start.IsZero() || !at.Before(start)) && (end.IsZero() || at.Before(end)) {
			if r.First.IsZero() {
				r.First = at.In(loc)
			} else {
				r.Second = at.In(loc)
			}
		}
		if known && off > prev && r.First.IsZero() && !w.Before(WallAt(start, prev)) && w.Before(WallAt(start, off)) {
			r.Skipped, r.Change, r.First = true, start.In(loc), Instant(w, prev).In(loc)
		}
		if end.IsZero() {
			break
		}
		prev, known, t = off, true, end
	}
	return r
}

// Resolve returns the first instant at which loc's clock reads w, or, for
// a wall clock that clocks skipped, the instant as far after the change as
// w is into the skipped interval (see reading.First).
func Resolve(w time.Time, loc *time.Location) time.Time {
	return lookup(w, loc).First
}

// Repeated reports whether t's wall clock in its location is the second
// copy of one: clocks went back, and the clock read the same earlier.
func Repeated(t time.Time) bool {
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, off := t.Zone()
	prev := OffsetBefore(start, t.Location())
	return prev > off && t.Before(start.Add(time.Duration(prev-off)*time.Second))
}

// DayStart returns the first instant of the date y-m-d in loc (m and d may
// be out of range, as for time.Date): local midnight, or, when clocks
// skipped midnight, the change that skipped it. When clocks went back over
// midnight it is the first midnight.
func DayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	r := lookup(time.Date(y, m, d, 0, 0, 0, 0, time.UTC), loc)
	if r.Skipped {
		return r.Change
	}
	return r.First
}

// HourStart returns the last instant at or before t (in t's location) at
// which the clock read a whole hour (hh:00:00), in t's location. In a zone
// whose offset changes by whole hours this is t truncated to the hour in
// real time; across a change by half an hour (Australia/Lord_Howe) the hour
// that the change cuts short or lengthens can last 30 or 90 minutes.
func HourStart(t time.Time) time.Time {
	for {
		start, _ := t.ZoneBounds()
		h := t.Add(-time.Duration(t.Minute())*time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
		if start.IsZero() || !h.Before(start) {
			return h
		}
		// The clock did not read this hour's hh:00 in this stretch: it
		// changed after the last whole hour it read.
		t = start.Add(-time.Nanosecond).In(t.Location())
	}
}

// NextHourStart returns the first instant after t at which the clock read a
// whole hour, in t's location.
func NextHourStart(t time.Time) time.Time {
	for d := time.Hour; d <= 4*time.Hour; d += time.Hour {
		if h := HourStart(t.Add(d)); h.After(t) {
			return h
		}
	}
	return HourStart(t).Add(time.Hour) // no zone's hour is this long
}

// Exact returns t, or t in UTC when its zone's offset at t has seconds
// (local mean time before a zone's first standard offset, such as
// Berlin's +00:53:28 before 1893): RFC 3339, and so encoding/json, write
// offsets in whole minutes, so such a time would be read back up to 59
// seconds off, and two instants could come back as one.
func Exact(t time.Time) time.Time {
	if _, off := t.Zone(); off%60 != 0 {
		return t.UTC()
	}
	return t
}
