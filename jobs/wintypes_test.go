package jobs_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// eventsJob starts a daily job in Berlin over a database whose zone is
// to be filled in.
const eventsJob = `
timezone: Europe/Berlin
database: {timezone: %s}
jobs:
  - name: events
    schedule: "0 6 * * *"
    window: previous_day
`

// timestampJob filters one table of events on a TIMESTAMP column and on a
// DATETIME column holding the same instants as wall clocks in
// database.timezone; also through an internal dataset, whose column keeps
// the TIMESTAMP type, and on an expression of both kinds of column.
const timestampJob = eventsJob + `    datasets:
      by_ts:
        from: events e
        window: e.ts
        select: [e.id]
      by_dt:
        from: events e
        window: e.dt
        select: [e.id]
      stamped:
        internal: true
        from: events e
        window: e.ts
        select: [e.id, "coalesce(e.ts, e.ts) AS at"]
      by_derived:
        from: {dataset: stamped, as: s}
        window: s.at
        select: [s.id]
      by_both:
        from: events e
        window: coalesce(e.ts, e.dt)
        select: [e.id]
    outputs:
      - {format: csv, path: "{job}/{dataset}-{from}.csv"}
`

// TestTimestampWindows stores an event every 30 minutes around both
// daylight saving changes of 2026 in Berlin, as a TIMESTAMP and as a
// DATETIME wall clock in the database's zone, and runs daily windows of a
// job in Berlin with the database in UTC and in Berlin. Every window on a
// TIMESTAMP or on a DATETIME column selects exactly the events of its
// Berlin day: 48, or 46 and 50 on the days of 23 and 25 hours. The window
// on both kinds of column is warned about where the zones differ.
func TestTimestampWindows(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, zone := range []string{"UTC", "Europe/Berlin"} {
		t.Run(zone, func(t *testing.T) {
			r, raw := setup(t, fmt.Sprintf(timestampJob, zone))
			dbLoc := r.Config.Database.Location
			conn, err := raw.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			stmts := []string{"SET time_zone = '+00:00'", "CREATE TABLE events (id INT NOT NULL PRIMARY KEY, ts TIMESTAMP NULL, dt DATETIME NULL)"}
			var at []time.Time // at[id-1]
			var values []string
			for _, start := range []time.Time{time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC)} {
				for k := range 4 * 48 {
					t := start.Add(time.Duration(k) * 30 * time.Minute)
					at = append(at, t)
					values = append(values, fmt.Sprintf("(%d, '%s', '%s')", len(at), t.Format(time.DateTime), t.In(dbLoc).Format(time.DateTime)))
				}
			}
			stmts = append(stmts, "INSERT INTO events VALUES "+strings.Join(values, ", "))
			for _, s := range stmts {
				if _, err := conn.ExecContext(context.Background(), s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}

			job := &r.Config.Jobs[0]
			for _, day := range []struct {
				date string
				want int
			}{
				{"2026-03-28", 48}, {"2026-03-29", 46}, {"2026-03-30", 48},
				{"2026-10-24", 48}, {"2026-10-25", 50}, {"2026-10-26", 48},
			} {
				start, _ := time.ParseInLocation(time.DateOnly, day.date, berlin)
				end := start.AddDate(0, 0, 1)
				var want []string
				for i, t := range at {
					if !t.Before(start) && t.Before(end) {
						want = append(want, fmt.Sprint(i+1))
					}
				}
				if len(want) != day.want {
					t.Fatalf("%s: %d events, the day has %d half hours", day.date, len(want), day.want)
				}
				res := r.Run(context.Background(), job, end.Add(6*time.Hour))
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				for _, ds := range []string{"by_ts", "by_dt", "by_derived"} {
					_, rows := readCSV(t, filepath.Join(r.Config.OutputPath(), "events", ds+"-"+day.date+".csv"))
					var got []string
					for _, row := range rows {
						got = append(got, row[0])
					}
					slices.SortFunc(got, func(a, b string) int { return len(a)*1000 - len(b)*1000 + strings.Compare(a, b) })
					if !slices.Equal(got, want) {
						t.Errorf("%s: %s: %d events %v, want %d %v", day.date, ds, len(got), got, len(want), want)
					}
				}
				mixed := slices.ContainsFunc(res.Warnings, func(w string) bool {
					return strings.HasPrefix(w, "dataset by_both: window coalesce(e.ts, e.dt) compares TIMESTAMP e.ts, instants compared in UTC, with e.dt (DATETIME)")
				})
				if mixed != (zone != "UTC") {
					t.Errorf("%s: warning about the mixed window: %v, want %v (warnings %q)", day.date, mixed, zone != "UTC", res.Warnings)
				}
				m := readManifest(t, res.Manifest)
				if !slices.Equal(m.Warnings, res.Warnings) {
					t.Errorf("manifest warnings %q, want %q", m.Warnings, res.Warnings)
				}
			}
		})
	}
}

// TestCheckTimestampComparisons: validate --connect, with database.timezone
// Europe/Berlin, refuses a window on TIMESTAMP and DATETIME columns at once
// and warns about a window on a column that holds no date, and about
// TIMESTAMP columns compared with the window's bounds or a datetime
// parameter outside the window field, naming the column; in UTC it has
// nothing to say.
func TestCheckTimestampComparisons(t *testing.T) {
	const config = eventsJob + `    params:
      since: {type: datetime, default: "2026-01-01 00:00"}
    datasets:
      mixed:
        from: events e
        window: coalesce(e.ts, e.dt)
        select: [e.id]
      text:
        from: events e
        window: e.label
        select: [e.id]
      params:
        from: events e
        joins: [{table: events, as: f, on: ["f.id = e.id", "f.ts >= :since"]}]
        select: [e.id, "if(e.ts < :window_end, 1, 0) AS early"]
        where:
          - {column: e.ts, op: ">=", param: window_start}
          - {column: e.dt, op: ">=", param: since}
      fine:
        from: events e
        window: e.ts
        select: [e.id]
        where: [{column: e.dt, op: "<", param: window_end}]
    outputs:
      - {format: csv, path: "{job}/{dataset}-{from}.csv"}
`
	for _, tt := range []struct {
		zone     string
		errs     map[string]string
		warnings map[string][]string
	}{
		{"UTC", nil, nil},
		{"Europe/Berlin",
			map[string]string{"mixed": "window coalesce(e.ts, e.dt) compares TIMESTAMP e.ts, instants compared in UTC, with e.dt (DATETIME), wall clocks in database.timezone Europe/Berlin: " +
				"no bounds are right for both, and they are bound as wall clocks in Europe/Berlin; filter each kind of column on its own"},
			map[string][]string{
				"text": {"window e.label is VARCHAR, not a DATETIME, DATE or TIMESTAMP column: it is compared with bounds written as DATETIME text in database.timezone Europe/Berlin"},
				"params": {
					"joins[0].on[1]: TIMESTAMP column f.ts is compared with :since, which is bound as a wall clock in database.timezone Europe/Berlin: the instants it selects are off by the zone's offset (only a window: is bound by its column's type)",
					"select[1].column: TIMESTAMP column e.ts is compared with :window_end, which is bound as a wall clock in database.timezone Europe/Berlin: the instants it selects are off by the zone's offset (only a window: is bound by its column's type)",
					"where[0]: TIMESTAMP column e.ts is compared with :window_start, which is bound as a wall clock in database.timezone Europe/Berlin: the instants it selects are off by the zone's offset (only a window: is bound by its column's type)",
				},
			}},
	} {
		t.Run(tt.zone, func(t *testing.T) {
			r, raw := setup(t, fmt.Sprintf(config, tt.zone))
			if _, err := raw.Exec("CREATE TABLE events (id INT NOT NULL PRIMARY KEY, ts TIMESTAMP NULL, dt DATETIME NULL, label VARCHAR(20) NULL)"); err != nil {
				t.Fatal(err)
			}
			job := &r.Config.Jobs[0]
			checks := job.Check(context.Background(), r.DB, r.Config.Database.Location)
			if len(checks) != len(job.Datasets) {
				t.Errorf("%d datasets checked, want %d", len(checks), len(job.Datasets))
			}
			for _, c := range checks {
				got := ""
				if c.Err != nil {
					got = c.Err.Error()
				}
				if got != tt.errs[c.Dataset] {
					t.Errorf("%s: error %q, want %q", c.Dataset, got, tt.errs[c.Dataset])
				}
				if !slices.Equal(c.Warnings, tt.warnings[c.Dataset]) {
					t.Errorf("%s: warnings\n%q\nwant\n%q", c.Dataset, c.Warnings, tt.warnings[c.Dataset])
				}
			}
		})
	}
}
