package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
)

// TestBackfillAcrossDaylightSaving backfills a daily window in
// Europe/Berlin over both daylight saving changes of 2026. Events are stored
// every 30 minutes as UTC wall clocks; each day's file must hold exactly the
// events of that local day: 48, or 46 and 50 on the days of 23 and 25
// hours, none twice and none missed.
func TestBackfillAcrossDaylightSaving(t *testing.T) {
	r, raw := setup(t, `
timezone: Europe/Berlin
database: {timezone: UTC}
jobs:
  - name: events
    schedule: "0 6 * * *"
    window: previous_day
    datasets:
      events:
        from: events e
        window: e.at
        select: [e.id, e.at]
    outputs:
      - {format: csv, path: "{job}/{dataset}-{from}.csv"}
`)
	testdb.Exec(t, raw, "CREATE TABLE events (id INT NOT NULL PRIMARY KEY, at DATETIME NOT NULL)")
	var values []string
	id := 0
	for _, start := range []time.Time{time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 22, 0, 0, 0, 0, time.UTC)} {
		for k := range 7 * 48 {
			id++
			values = append(values, fmt.Sprintf("(%d, '%s')", id, start.Add(time.Duration(k)*30*time.Minute).Format("2006-01-02 15:04:05")))
		}
	}
	testdb.Exec(t, raw, "INSERT INTO events VALUES "+strings.Join(values, ", "))

	berlin, _ := time.LoadLocation("Europe/Berlin")
	job := &r.Config.Jobs[0]
	for _, tt := range []struct {
		from, to int // days of the month
		month    time.Month
		want     []int
	}{
		{27, 31, time.March, []int{48, 48, 46, 48}},   // 29 March: 23 hours
		{24, 28, time.October, []int{48, 50, 48, 48}}, // 25 October: 25 hours
	} {
		from := time.Date(2026, tt.month, tt.from, 0, 0, 0, 0, berlin)
		to := time.Date(2026, tt.month, tt.to, 0, 0, 0, 0, berlin)
		plans, err := job.PlanRange(from, to, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(plans) != len(tt.want) {
			t.Fatalf("%d runs, want %d", len(plans), len(tt.want))
		}
		seen := map[string]string{}
		total := 0
		for i, p := range plans {
			res := r.RunPlan(context.Background(), job, p)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			day := p.Window.Start.Format("2006-01-02")
			path := filepath.Join(r.Config.OutputPath(), "events", "events-"+day+".csv")
			if len(res.Files) != 1 || res.Files[0] != path {
				t.Fatalf("files %v, want %s", res.Files, path)
			}
			// The manifest names the run's window in the job's zone.
			m := readManifest(t, res.Manifest)
			if m.Window == nil || !m.Window.From.Equal(p.Window.Start) || !m.Window.To.Equal(p.Window.End) ||
				m.Window.From.Format(time.RFC3339) != p.Window.Start.In(berlin).Format(time.RFC3339) {
				t.Errorf("%s: manifest window %+v, want [%s, %s)", day, m.Window, p.Window.Start, p.Window.End)
			}
			_, rows := readCSV(t, path)
			if len(rows) != tt.want[i] {
				t.Errorf("%s: %d events, want %d (window [%s, %s))", day, len(rows), tt.want[i], p.Window.Start, p.Window.End)
			}
			for _, row := range rows {
				if prev, dup := seen[row[0]]; dup {
					t.Errorf("event %s in %s and %s", row[0], prev, day)
				}
				seen[row[0]] = day
				// The report shows the instant in the job's zone; it must
				// fall on the file's local day.
				at, err := time.Parse(time.RFC3339, row[1])
				if err != nil || at.In(berlin).Format("2006-01-02") != day {
					t.Errorf("%s: event at %s (%v)", day, row[1], err)
				}
			}
			total += len(rows)
		}
		hand := handRows(t, raw, fmt.Sprintf("SELECT COUNT(*) FROM events WHERE at >= '%s' AND at < '%s'",
			from.UTC().Format("2006-01-02 15:04:05"), to.UTC().Format("2006-01-02 15:04:05")))
		if hand[0][0] != fmt.Sprint(total) {
			t.Errorf("%s: the files hold %d events, the range %s", tt.month, total, hand[0][0])
		}
	}
}

// TestExpectationsAndInternalDatasets runs a job whose internal dataset is
// only a derived table, checks the join diagnostics of the result, a
// warning and then a failing expectation, which fails the run and writes
// nothing.
func TestExpectationsAndInternalDatasets(t *testing.T) {
	config := func(rule string) string {
		return oneJob(`      stats:
        internal: true
        from: posts p
        select: [p.user_id, "count(*) AS posts"]
        group_by: [p.user_id]
      users:
        from: users u
        joins: [{dataset: stats, as: s, type: left, on: "s.user_id = u.id"}]
        select: [u.id, s.posts]
        expect:
          - rows >= 1
          - `+rule+`
`, csvOut)
	}
	t.Run("warn", func(t *testing.T) {
		r, _ := setup(t, config(`{check: s.left_unmatched, op: "=", value: 0, on_fail: warn}`))
		res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(res.Files) != 1 || !strings.HasSuffix(res.Files[0], "users-2026-11-25.csv") {
			t.Errorf("files %v: the internal dataset must not be written", res.Files)
		}
		d := res.Datasets[0]
		// Users 8 and 9 have no posts.
		if len(d.Joins) != 1 || d.Joins[0].Matched != 8 || d.Joins[0].LeftUnmatched != 2 || d.Joins[0].RightUnmatched != 0 {
			t.Errorf("joins %+v", d.Joins)
		}
		if len(d.Warnings) != 1 || d.Warnings[0] != "expect s.left_unmatched = 0: got 2" {
			t.Errorf("warnings %q", d.Warnings)
		}
	})

	t.Run("fail", func(t *testing.T) {
		r, _ := setup(t, config(`s.left_unmatched = 0`))
		res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
		if !errors.Is(res.Err, jobs.ErrExpectation) || !strings.Contains(res.Err.Error(), "expect s.left_unmatched = 0: got 2") {
			t.Fatalf("err = %v, want a failed expectation", res.Err)
		}
		if len(res.Files) != 0 {
			t.Errorf("files %v after a failed expectation", res.Files)
		}
		if _, err := os.Stat(filepath.Join(r.Config.OutputPath(), "j")); err == nil {
			entries, _ := os.ReadDir(filepath.Join(r.Config.OutputPath(), "j"))
			if len(entries) > 0 {
				t.Errorf("files left behind: %v", entries)
			}
		}
	})
}
