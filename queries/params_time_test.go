package queries

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tests := []struct{ in, want string }{
		{"2026-11-01", "2026-11-01T00:00:00+01:00"},
		{"2026-11-01T06:00", "2026-11-01T06:00:00+01:00"},
		{"2026-10-25T02:30+01:00", "2026-10-25T02:30:00+01:00"},
		{"2026-10-25T02:30:00Z", "2026-10-25T03:30:00+01:00"},
		// Clocks go back at 03:00: 02:30 comes twice; the first is meant.
		{"2026-10-25T02:30", "2026-10-25T02:30:00+02:00"},
		{"2026-10-25 02:30:00", "2026-10-25T02:30:00+02:00"},
		// Clocks go from 02:00 to 03:00: 02:30 is read as 03:30, as
		// schedules run it.
		{"2026-03-29T02:30", "2026-03-29T03:30:00+02:00"},
	}
	newYork, _ := time.LoadLocation("America/New_York")
	for in, want := range map[string]string{
		"2026-03-08T02:30": "2026-03-08T03:30:00-04:00", // time.Date says 01:30 EST
		"2026-11-01T01:30": "2026-11-01T01:30:00-04:00",
	} {
		if got, err := ParseTime(in, newYork); err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("New York: ParseTime(%q) = %v, %v; want %s", in, got.Format(time.RFC3339), err, want)
		}
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, berlin)
		if err != nil || got.Format(time.RFC3339) != tt.want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", tt.in, got.Format(time.RFC3339), err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "0000-01-01", "0999-12-31", "2026-13-01"} {
		if _, err := ParseTime(bad, berlin); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}
