package jobs

import (
	"testing"
	"time"
)

// scheduledJob returns a job named j running spec in zone.
func scheduledJob(t *testing.T, spec, zone string) *Job {
	t.Helper()
	loc := mustLoc(t, zone)
	sched, err := parseSchedule(spec, loc)
	if err != nil {
		t.Fatal(err)
	}
	return &Job{Name: "j", Schedule: spec, Location: loc, sched: sched}
}

// TestRunsPerDayAcrossClockChanges counts the runs of each day of a change:
// an hourly job follows real time (25 runs when an hour repeats, 23 when one
// is skipped; Lord Howe's half-hour changes leave 24 and 23 whole hours),
// and a job at a time of day runs once whatever the day's length.
func TestRunsPerDayAcrossClockChanges(t *testing.T) {
	days := []struct {
		zone, day              string
		hourly, quarterly, at2 int
	}{
		{"Europe/Berlin", "2026-03-29", 23, 92, 1},
		{"Europe/Berlin", "2026-10-25", 25, 100, 1},
		{"America/New_York", "2026-03-08", 23, 92, 1},
		{"America/New_York", "2026-11-01", 25, 100, 1},
		{"Australia/Sydney", "2026-04-05", 25, 100, 1},
		{"Australia/Sydney", "2026-10-04", 23, 92, 1},
		{"Australia/Lord_Howe", "2026-04-05", 24, 98, 1},
		{"Australia/Lord_Howe", "2026-10-04", 23, 94, 1},
	}
	for _, d := range days {
		for _, c := range []struct {
			spec string
			want int
		}{{"0 * * * *", d.hourly}, {"*/15 * * * *", d.quarterly}, {"0 2 * * *", d.at2}, {"30 2 * * *", d.at2}} {
			t.Run(d.zone+" "+d.day+" "+c.spec, func(t *testing.T) {
				job := scheduledJob(t, c.spec, d.zone)
				day, err := time.ParseInLocation("2006-01-02", d.day, job.Location)
				if err != nil {
					t.Fatal(err)
				}
				y, m, dd := day.Date()
				start := time.Date(y, m, dd, 0, 0, 0, 0, job.Location) // midnight exists in these zones
				end := time.Date(y, m, dd+1, 0, 0, 0, 0, job.Location)
				n := 0
				for at := job.sched.Next(start.Add(-time.Second)); at.Before(end); at = job.sched.Next(at) {
					n++
				}
				if n != c.want {
					t.Errorf("%d runs, want %d", n, c.want)
				}
			})
		}
	}
}
