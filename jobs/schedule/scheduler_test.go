package schedule

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
)

// setup seeds the canonical users/posts data and returns a runner for a
// job j in Berlin on schedule (a quoted cron expression, and any settings
// after it) whose one dataset writes {job}/{datetime}.csv under a fresh
// output_dir.
func setup(t *testing.T, schedule string) *jobs.Runner {
	t.Helper()
	raw := testdb.New(t)
	testdb.SeedUsersPosts(t, raw)
	cfg := loadConfig(t, `
timezone: Europe/Berlin
jobs:
  - name: j
    schedule: `+schedule+`
    datasets:
      rows:
        from: users u
        select: [u.id]
    outputs:
      - {format: csv, path: "{job}/{datetime}.csv"}
`)
	db, err := jobs.OpenDB(cfg.Database, testdb.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &jobs.Runner{DB: db, Config: cfg, Logger: logger}
}

// TestSchedulerRunsAndStops runs a job on a clock the test moves, and
// shuts the scheduler down after its first run: the run's logical time is
// its scheduled time.
func TestSchedulerRunsAndStops(t *testing.T) {
	r := setup(t, `"*/5 * * * *"`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := newFakeClock(time.Date(2026, 6, 1, 9, 58, 30, 0, time.UTC))
	results := make(chan *jobs.Result, 10)
	r.Hooks.Result = func(_ context.Context, run jobs.Run) {
		results <- run.Result
		cancel()
	}
	s := &Scheduler{Runner: r, Logger: r.Logger, Grace: time.Second, Clock: clock}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	at := clock.NextWait(t)
	if want := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC); !at.Equal(want) {
		t.Fatalf("first run at %v, want %v", at, want)
	}
	clock.Set(at.Add(3 * time.Second)) // a late wake-up does not move the logical time
	select {
	case res := <-results:
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(res.Files) != 1 || filepath.Base(res.Files[0]) != "20260601T120000.csv" {
			t.Fatalf("files = %v", res.Files)
		}
		if !res.Logical.Equal(at) {
			t.Errorf("logical time %v, want the scheduled %v", res.Logical, at)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no run within 20s")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("scheduler did not stop")
	}
}

// TestSchedulerCatchesUpMissedRun starts the scheduler after a scheduled
// time passed unrun; with catch_up it runs that time at once, and records
// it, so the next start does not run it again. The clock is the test's:
// 02:30 in the second copy of Berlin's repeated hour, so the missed time
// is 02:00 CET, not 02:00 CEST, and its file is named apart from the
// first copy's.
func TestSchedulerCatchesUpMissedRun(t *testing.T) {
	r := setup(t, `"0 * * * *"`+"\n    catch_up: 2h")
	now, err := time.Parse(time.RFC3339, "2026-10-25T02:30:00+01:00")
	if err != nil {
		t.Fatal(err)
	}
	start := func() []*jobs.Result {
		ctx, cancel := context.WithCancel(context.Background())
		clock := newFakeClock(now)
		var mu sync.Mutex
		var got []*jobs.Result
		r.Hooks.Result = func(_ context.Context, run jobs.Run) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, run.Result)
		}
		s := &Scheduler{Runner: r, Logger: r.Logger, Grace: 10 * time.Second, Clock: clock}
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		if next := clock.NextWait(t); !next.Equal(now.Add(30 * time.Minute)) {
			t.Errorf("next run at %v, want 03:00 CET", next)
		}
		cancel() // Run waits for the catch-up run it started
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := start()
	if len(got) != 1 || got[0].Err != nil {
		t.Fatalf("first start: results %v, want one catch-up run", got)
	}
	if want := now.Add(-30 * time.Minute); !got[0].Logical.Equal(want) {
		t.Errorf("caught-up logical time %v, want %v", got[0].Logical, want)
	}
	if len(got[0].Files) != 1 || filepath.Base(got[0].Files[0]) != "20261025T020000+0100.csv" {
		t.Errorf("files %v, want the second 02:00 named with its offset", got[0].Files)
	}
	if again := start(); len(again) != 0 {
		t.Errorf("second start ran %d times, want none: the missed run was recorded", len(again))
	}
}

func TestSchedulerRefusesRequiredParameters(t *testing.T) {
	cfg := loadConfig(t, `
jobs:
  - name: j
    schedule: "@daily"
    params:
      country: {type: string, required: true}
    datasets:
      d:
        from: users u
        select: [u.id]
        where: [{column: u.country, op: "=", param: country}]
    outputs: [{format: csv, path: "{job}.csv"}]
`)
	s := &Scheduler{Runner: &jobs.Runner{Config: cfg}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "job j cannot run on its schedule") || !strings.Contains(err.Error(), "country") {
		t.Fatalf("err = %v, want a refusal naming the job and the parameter", err)
	}
}

// TestScheduledRunsHaveAStatementTimeout: the runs of the scheduler have
// a statement timeout of an hour when nothing else gives them one (see
// jobs.Runner.DefaultStatementTimeout), and the one a caller set otherwise;
// the Scheduler's own runner is left alone.
func TestScheduledRunsHaveAStatementTimeout(t *testing.T) {
	cfg := loadConfig(t, jobYAML(""))
	for _, tt := range []struct{ set, want time.Duration }{{0, time.Hour}, {5 * time.Minute, 5 * time.Minute}} {
		s := &Scheduler{Runner: &jobs.Runner{DefaultStatementTimeout: tt.set}}
		r := s.runner(cfg)
		if r.DefaultStatementTimeout != tt.want || r.Config != cfg || s.Runner.DefaultStatementTimeout != tt.set {
			t.Errorf("set %s: runner's default %s (scheduler's now %s), want %s", tt.set, r.DefaultStatementTimeout, s.Runner.DefaultStatementTimeout, tt.want)
		}
	}
}
