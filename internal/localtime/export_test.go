package localtime

import "time"

// Wall returns t's wall clock in its own location as a time in UTC with the
// same reading. Only the tests need it.
func Wall(t time.Time) time.Time {
	_, off := t.Zone()
	return WallAt(t, off)
}

// Lookup is lookup, for the tests.
func Lookup(w time.Time, loc *time.Location) reading { return lookup(w, loc) }
