package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testlog"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestWindowBounds(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	at := func(s string) time.Time {
		if tm, err := time.Parse(time.RFC3339, s); err == nil {
			return tm // for wall clocks that occur twice
		}
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		window     string
		logical    string
		start, end string
		hours      float64
	}{
		{"previous_day", "2026-11-25 06:00", "2026-11-24 00:00", "2026-11-25 00:00", 24},
		{"previous_day", "2026-11-25 00:00", "2026-11-24 00:00", "2026-11-25 00:00", 24},
		// Daylight saving: the day the clocks go back has 25 hours, the
		// day they go forward 23.
		{"previous_day", "2026-10-26 06:00", "2026-10-25 00:00", "2026-10-26 00:00", 25},
		{"previous_day", "2026-03-30 06:00", "2026-03-29 00:00", "2026-03-30 00:00", 23},
		// ISO weeks run Monday to Monday; 2026-11-25 is a Wednesday.
		{"previous_week", "2026-11-25 06:00", "2026-11-16 00:00", "2026-11-23 00:00", 168},
		{"previous_week", "2026-11-23 07:30", "2026-11-16 00:00", "2026-11-23 00:00", 168},
		{"previous_week", "2026-11-29 23:59", "2026-11-16 00:00", "2026-11-23 00:00", 168},
		{"previous_week", "2026-10-26 07:30", "2026-10-19 00:00", "2026-10-26 00:00", 169},
		{"previous_month", "2026-11-01 06:00", "2026-10-01 00:00", "2026-11-01 00:00", 31*24 + 1},
		{"previous_month", "2026-03-15 06:00", "2026-02-01 00:00", "2026-03-01 00:00", 28 * 24},
		{"previous_month", "2027-01-01 00:00", "2026-12-01 00:00", "2027-01-01 00:00", 31 * 24},
		{"last 6h", "2026-11-25 06:45", "2026-11-25 00:00", "2026-11-25 06:00", 6},
		// Over the change, 24 hours stay 24 hours: 02:00 to 01:00 local.
		{"last 24 hours", "2026-10-26 01:10", "2026-10-25T02:00:00+02:00", "2026-10-26 01:00", 24},
	}
	for _, tt := range tests {
		t.Run(tt.window+" at "+tt.logical, func(t *testing.T) {
			var w WindowSpec
			if err := w.UnmarshalText([]byte(tt.window)); err != nil {
				t.Fatal(err)
			}
			got := w.Bounds(at(tt.logical), berlin)
			if !got.Start.Equal(at(tt.start)) || !got.End.Equal(at(tt.end)) {
				t.Errorf("got [%s, %s), want [%s, %s)", got.Start, got.End, tt.start, tt.end)
			}
			if h := got.End.Sub(got.Start).Hours(); h != tt.hours {
				t.Errorf("%v hours, want %v", h, tt.hours)
			}
		})
	}
}

func TestWindowUnmarshalText(t *testing.T) {
	for in, want := range map[string]WindowSpec{
		"previous_day": {Kind: windowPreviousDay}, " Previous_Week ": {Kind: windowPreviousWeek},
		"previous_month": {Kind: windowPreviousMonth}, "last 6h": {Kind: windowLastHours, Hours: 6},
		"last 1 hour": {Kind: windowLastHours, Hours: 1}, "last 48 hours": {Kind: windowLastHours, Hours: 48},
	} {
		var got WindowSpec
		if err := got.UnmarshalText([]byte(in)); err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "last", "last 6", "last six hours", "last 1.5h"} {
		var got WindowSpec
		if err := got.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestPlanRange(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, berlin) }
	job := &Job{Name: "j", Location: berlin, Window: WindowSpec{Kind: windowPreviousDay}}

	plans, err := job.PlanRange(day(1), day(8), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 7 {
		t.Fatalf("%d runs, want 7", len(plans))
	}
	for i, p := range plans {
		if !p.Window.Start.Equal(day(1+i)) || !p.Window.End.Equal(day(2+i)) || !p.Logical.Equal(day(2+i)) {
			t.Errorf("run %d: window [%s, %s) logical %s", i, p.Window.Start, p.Window.End, p.Logical)
		}
		// The run at the window's end has this window: a backfill writes
		// what the scheduled run would have written.
		if w := job.Window.Bounds(p.Logical, berlin); w != *p.Window {
			t.Errorf("run %d: Bounds(logical) = %v, want %v", i, w, *p.Window)
		}
	}

	// A range that does not start on a boundary starts with the window that
	// contains it; weeks tile Monday to Monday.
	week := &Job{Name: "w", Location: berlin, Window: WindowSpec{Kind: windowPreviousWeek}}
	plans, err = week.PlanRange(day(4), day(20), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 3 || !plans[0].Window.Start.Equal(day(2)) || !plans[2].Window.End.Equal(day(23)) {
		t.Errorf("weeks: %d runs from %s", len(plans), plans[0].Window.Start)
	}

	// --once, or a job without a window: one run with exactly [from, to).
	for _, j := range []*Job{job, {Name: "n", Location: berlin}} {
		plans, err = j.PlanRange(day(1), day(3).Add(6*time.Hour), nil, j == job)
		if err != nil || len(plans) != 1 || !plans[0].Window.Start.Equal(day(1)) || !plans[0].Window.End.Equal(day(3).Add(6*time.Hour)) {
			t.Errorf("%s: %v %v", j.Name, plans, err)
		}
	}

	if _, err := job.PlanRange(day(3), day(1), nil, false); err == nil || !strings.Contains(err.Error(), "must be after") {
		t.Errorf("reversed range: %v", err)
	}
}

func TestParseWindowAndParams(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`
timezone: Europe/Berlin
jobs:
  - name: daily
    schedule: "0 6 * * *"
    window: previous_day
    params:
      min_views: {type: int, default: 10}
      countries: {type: "list<string>", default: [DE, FR]}
      day: {type: date, required: true}
    datasets:
      stats:
        internal: true
        from: posts p
        select: [p.user_id, "count(*) AS posts"]
        group_by: [p.user_id]
      report:
        from: users u
        joins: [{dataset: stats, as: s, type: left, on: "s.user_id = u.id"}]
        window: u.created_at
        select: [u.id, s.posts]
        where:
          - {column: u.country, op: in, param: countries}
          - {column: s.posts, op: ">=", param: min_views}
        expect: ["rows >= 1", {check: s.left_unmatched, op: "=", value: 0, on_fail: warn}]
    outputs:
      - {format: csv, path: "{job}-{from}.csv"}
`))
	if err != nil {
		t.Fatal(err)
	}
	j := &cfg.Jobs[0]
	if j.Window != (WindowSpec{Kind: windowPreviousDay}) || len(j.Params) != 3 || j.Params[2].Name != "day" || !j.Params[2].Required {
		t.Errorf("job = %+v", j)
	}
	if _, err := j.PlanAt(time.Now(), nil); err == nil || !strings.Contains(err.Error(), "parameter day (date) is required") {
		t.Errorf("PlanAt without day: %v", err)
	}
	p, err := j.PlanAt(time.Now(), map[string]string{"day": "2026-11-01", "countries": "US"})
	if err != nil || p.Params["min_views"] != int64(10) || len(p.Params["countries"].([]any)) != 1 || p.Window == nil {
		t.Errorf("plan = %+v, %v", p, err)
	}

	for _, tt := range []struct{ name, yaml, want string }{
		{"bad window", "    window: fortnightly\n", `jobs[0].window: "fortnightly": window "fortnightly": want previous_day`},
		{"bad window mapping", "    window: {kind: last_hours}\n", "jobs[0].window: last_hours needs hours from 1 to"},
		{"bad param type", "    params: {n: float}\n", `jobs[0].params.n.type: "float": want one of`},
		{"param without default", "    params: {n: int}\n", "jobs[0].params.n.default: required: give a default, or set required: true"},
		{"window without job window", "", "jobs[0].datasets.posts.window"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y := "jobs:\n" + strings.Replace(jobYAML("a", "@daily"), "    datasets:\n", tt.yaml+"    datasets:\n", 1)
			y = strings.Replace(y, "select: [u.id, p.title]", "select: [u.id, p.title]\n        window: p.published_at", 1)
			_, err := Parse("c.yaml", []byte(y))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestWindowsTileAcrossClockChanges walks the consecutive scheduled runs
// of a job across both changes of 2026 in each zone: each run's window
// starts where the previous one ended (no instant left out or reported
// twice), is not empty, and does not end after the run's logical time; a
// backfill over the same span plans the same windows.
func TestWindowsTileAcrossClockChanges(t *testing.T) {
	zones := []struct {
		zone           string
		spring, autumn string // days of the changes
	}{
		{"Europe/Berlin", "2026-03-29", "2026-10-25"},
		{"America/New_York", "2026-03-08", "2026-11-01"},
		{"Australia/Sydney", "2026-10-04", "2026-04-05"},
		{"Australia/Lord_Howe", "2026-10-04", "2026-04-05"},
	}
	jobs := []struct {
		spec, window string
		days         int // how far on either side of a change to walk
	}{
		{"0 * * * *", "last 1h", 2},
		{"0 * * * *", "last 1 hour", 2},
		{"0 */6 * * *", "last 6h", 3},
		{"30 */6 * * *", "last 6h", 3},
		{"0 6 * * *", "last 24h", 4},
		{"0 2 * * *", "last 24h", 4},
		{"0 6 * * *", "previous_day", 4},
		{"0 2 * * *", "previous_day", 4},
		{"30 2 * * *", "previous_day", 4},
		{"@daily", "previous_day", 4},
		{"0 7 * * 1", "previous_week", 21},
		{"0 3 1 * *", "previous_month", 100},
	}
	for _, z := range zones {
		for _, change := range []string{z.spring, z.autumn} {
			for _, jt := range jobs {
				t.Run(z.zone+" "+change+" "+jt.spec+" "+jt.window, func(t *testing.T) {
					job := scheduledJob(t, jt.spec, z.zone)
					if err := job.Window.UnmarshalText([]byte(jt.window)); err != nil {
						t.Fatal(err)
					}
					day, err := time.ParseInLocation("2006-01-02", change, job.Location)
					if err != nil {
						t.Fatal(err)
					}
					from, to := day.AddDate(0, 0, -jt.days), day.AddDate(0, 0, jt.days)
					var runs []Plan
					for at := job.sched.Next(from); at.Before(to); at = job.sched.Next(at) {
						p, err := job.PlanAt(at, nil)
						if err != nil {
							t.Fatal(err)
						}
						runs = append(runs, p)
					}
					if len(runs) < 3 {
						t.Fatalf("%d runs", len(runs))
					}
					for i, p := range runs {
						w := p.Window
						if !w.Start.Before(w.End) || w.End.After(p.Logical) {
							t.Errorf("run at %s: window [%s, %s)", p.Logical.Format(time.RFC3339), w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
						}
						if i > 0 && !runs[i-1].Window.End.Equal(w.Start) {
							t.Errorf("run at %s: window [%s, %s) does not start where the one before ended, %s",
								p.Logical.Format(time.RFC3339), w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), runs[i-1].Window.End.Format(time.RFC3339))
						}
					}
					backfill, err := job.PlanRange(runs[0].Window.Start, runs[len(runs)-1].Window.End, nil, false)
					if err != nil {
						t.Fatal(err)
					}
					if len(backfill) != len(runs) {
						t.Fatalf("backfill plans %d runs, the schedule %d", len(backfill), len(runs))
					}
					for i, p := range backfill {
						if *p.Window != *runs[i].Window || !p.Logical.Equal(p.Window.End) {
							t.Errorf("backfill run %d: logical %s window %v, scheduled run's window %v", i, p.Logical.Format(time.RFC3339), *p.Window, *runs[i].Window)
						}
					}
				})
			}
		}
	}
}

// TestHourlyWindowsOverTheRepeatedHour spells out the case that lost an
// hour: Berlin's hourly job with last 1h reports each hour of real time
// once, the second 02:00 the hour from the first 02:00.
func TestHourlyWindowsOverTheRepeatedHour(t *testing.T) {
	job := scheduledJob(t, "0 * * * *", "Europe/Berlin")
	job.Window = WindowSpec{Kind: windowLastHours, Hours: 1}
	want := [][3]string{ // logical time, window start, window end (UTC)
		{"2026-10-25T02:00:00+02:00", "2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z"},
		{"2026-10-25T02:00:00+01:00", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"},
		{"2026-10-25T03:00:00+01:00", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"},
	}
	at := testlog.RFC3339(t, "2026-10-25T01:30:00+02:00")
	for _, w := range want {
		at = job.sched.Next(at)
		p, err := job.PlanAt(at, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := [3]string{p.Logical.Format(time.RFC3339), p.Window.Start.UTC().Format(time.RFC3339), p.Window.End.UTC().Format(time.RFC3339)}
		if got != w {
			t.Errorf("got %v, want %v", got, w)
		}
	}
}
