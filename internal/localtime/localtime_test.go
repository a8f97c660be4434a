package localtime

import (
	"testing"
	"time"
)

func load(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func wall(t *testing.T, s string) time.Time {
	t.Helper()
	w, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func rfc(t *testing.T, s string) time.Time {
	t.Helper()
	if s == "" {
		return time.Time{}
	}
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestLookup checks every kind of wall clock in zones that change by an
// hour in either hemisphere and by half an hour, including the case
// time.Date gets wrong (New York's skipped 02:30 is not 01:30).
func TestLookup(t *testing.T) {
	tests := []struct {
		zone, wall    string
		first, second string
		skipped       bool
		change        string
	}{
		{"Europe/Berlin", "2026-07-01 12:00", "2026-07-01T12:00:00+02:00", "", false, ""},
		{"Europe/Berlin", "2026-03-29 02:30", "2026-03-29T03:30:00+02:00", "", true, "2026-03-29T03:00:00+02:00"},
		{"Europe/Berlin", "2026-03-29 02:00", "2026-03-29T03:00:00+02:00", "", true, "2026-03-29T03:00:00+02:00"},
		{"Europe/Berlin", "2026-03-29 03:00", "2026-03-29T03:00:00+02:00", "", false, ""},
		{"Europe/Berlin", "2026-10-25 02:30", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", false, ""},
		{"Europe/Berlin", "2026-10-25 03:00", "2026-10-25T03:00:00+01:00", "", false, ""},
		{"America/New_York", "2026-03-08 02:30", "2026-03-08T03:30:00-04:00", "", true, "2026-03-08T03:00:00-04:00"},
		{"America/New_York", "2026-11-01 01:30", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", false, ""},
		{"Australia/Sydney", "2026-10-04 02:30", "2026-10-04T03:30:00+11:00", "", true, "2026-10-04T03:00:00+11:00"},
		{"Australia/Sydney", "2026-04-05 02:30", "2026-04-05T02:30:00+11:00", "2026-04-05T02:30:00+10:00", false, ""},
		{"Australia/Lord_Howe", "2026-10-04 02:15", "2026-10-04T02:45:00+11:00", "", true, "2026-10-04T02:30:00+11:00"},
		{"Australia/Lord_Howe", "2026-10-04 02:30", "2026-10-04T02:30:00+11:00", "", false, ""},
		{"Australia/Lord_Howe", "2026-04-05 01:45", "2026-04-05T01:45:00+11:00", "2026-04-05T01:45:00+10:30", false, ""},
		{"Australia/Lord_Howe", "2026-04-05 01:15", "2026-04-05T01:15:00+11:00", "", false, ""},
		{"UTC", "2026-03-29 02:30", "2026-03-29T02:30:00Z", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.wall, func(t *testing.T) {
			loc := load(t, tt.zone)
			r := Lookup(wall(t, tt.wall), loc)
			if !r.First.Equal(rfc(t, tt.first)) || !r.Second.Equal(rfc(t, tt.second)) || r.Skipped != tt.skipped || !r.Change.Equal(rfc(t, tt.change)) {
				t.Errorf("got %+v, want first %s second %q skipped %v change %q", r, tt.first, tt.second, tt.skipped, tt.change)
			}
			if r.First.Location() != loc {
				t.Errorf("first is in %v, want %v", r.First.Location(), loc)
			}
			if !tt.skipped {
				if got := Wall(r.First).Format("2006-01-02 15:04"); got != tt.wall {
					t.Errorf("Wall(first) = %s", got)
				}
			}
			if got := Repeated(r.First); got {
				t.Errorf("Repeated(first) = true")
			}
			if tt.second != "" && !Repeated(r.Second) {
				t.Errorf("Repeated(second) = false")
			}
		})
	}
}

func TestDayStart(t *testing.T) {
	tests := []struct {
		zone string
		y    int
		m    time.Month
		d    int
		want string
	}{
		{"Europe/Berlin", 2026, 3, 29, "2026-03-29T00:00:00+01:00"},
		{"Europe/Berlin", 2026, 3, 30, "2026-03-30T00:00:00+02:00"},
		{"Europe/Berlin", 2026, 10, 26, "2026-10-26T00:00:00+01:00"},
		{"Europe/Berlin", 2026, 12, 32, "2027-01-01T00:00:00+01:00"},
		// Havana's clocks go from 00:00 to 01:00 in March, and from 01:00
		// back to 00:00 in November.
		{"America/Havana", 2026, 3, 8, "2026-03-08T01:00:00-04:00"},
		{"America/Havana", 2026, 11, 1, "2026-11-01T00:00:00-04:00"},
	}
	for _, tt := range tests {
		loc := load(t, tt.zone)
		if got := DayStart(tt.y, tt.m, tt.d, loc); !got.Equal(rfc(t, tt.want)) {
			t.Errorf("%s %d-%d-%d: %s, want %s", tt.zone, tt.y, tt.m, tt.d, got.Format(time.RFC3339), tt.want)
		}
	}
}

// TestHourStart walks both changes of each zone a minute at a time: the
// hour starts are the instants whose clock reads hh:00, each hour start is
// the last one at or before each instant, and NextHourStart steps from one
// to the next.
func TestHourStart(t *testing.T) {
	for _, tt := range []struct {
		zone     string
		from     string
		hours    int // hour starts in 24 hours from from
		longest  time.Duration
		shortest time.Duration
	}{
		{"Europe/Berlin", "2026-03-29T00:00:00+01:00", 24, time.Hour, time.Hour},
		{"Europe/Berlin", "2026-10-25T00:00:00+02:00", 24, time.Hour, time.Hour},
		{"Australia/Lord_Howe", "2026-10-04T00:00:00+10:30", 24, 90 * time.Minute, time.Hour},
		{"Australia/Lord_Howe", "2026-04-05T00:00:00+11:00", 24, 90 * time.Minute, time.Hour},
		{"Asia/Kolkata", "2026-04-05T00:00:00+05:30", 24, time.Hour, time.Hour},
	} {
		t.Run(tt.zone+" "+tt.from, func(t *testing.T) {
			loc := load(t, tt.zone)
			from := rfc(t, tt.from).In(loc)
			var starts []time.Time
			for m := range 24 * 60 {
				at := from.Add(time.Duration(m) * time.Minute)
				if at.Minute() == 0 {
					starts = append(starts, at)
				}
				h := HourStart(at.Add(59 * time.Second))
				if last := starts[len(starts)-1]; !h.Equal(last) {
					t.Fatalf("HourStart(%s) = %s, want %s", at.Format(time.RFC3339), h.Format(time.RFC3339), last.Format(time.RFC3339))
				}
			}
			if len(starts) != tt.hours {
				t.Errorf("%d hour starts, want %d", len(starts), tt.hours)
			}
			longest, shortest := time.Duration(0), 24*time.Hour
			for i := 1; i < len(starts); i++ {
				if n := NextHourStart(starts[i-1]); !n.Equal(starts[i]) {
					t.Errorf("NextHourStart(%s) = %s, want %s", starts[i-1].Format(time.RFC3339), n.Format(time.RFC3339), starts[i].Format(time.RFC3339))
				}
				d := starts[i].Sub(starts[i-1])
				longest, shortest = max(longest, d), min(shortest, d)
			}
			if longest != tt.longest || shortest != tt.shortest {
				t.Errorf("hours last %v to %v, want %v to %v", shortest, longest, tt.shortest, tt.longest)
			}
		})
	}
}
