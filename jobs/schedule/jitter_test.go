package schedule

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testlog"
	"github.com/joinery/joinery/jobs"
)

// jitteredJob returns job j on schedule in UTC with the settings given
// (jitter among them), and its delay, which must not be 0 for the tests
// to tell a delayed start from one on time.
func jitteredJob(t *testing.T, schedule, settings string) (*jobs.Config, *jobs.Job, time.Duration) {
	t.Helper()
	cfg := loadConfig(t, strings.Replace(jobYAML(settings), `schedule: "@daily"`, `schedule: "`+schedule+`"`, 1))
	job := &cfg.Jobs[0]
	d := job.Delay()
	if d == 0 {
		t.Fatalf("job %s with %q has no delay: the test needs one", job.Name, settings)
	}
	return cfg, job, d
}

// TestLoopStartsAfterTheJitterDelay: each run starts its delay after its
// scheduled time, and its logical time is the scheduled time.
func TestLoopStartsAfterTheJitterDelay(t *testing.T) {
	_, job, d := jitteredJob(t, "0 * * * *", "    jitter: 30m")
	from := testlog.RFC3339(t, "2026-06-01T00:10:00Z")
	clock, loop, ran := startLoop(job, from)
	defer loop.stop()
	for _, scheduled := range []string{"2026-06-01T01:00:00Z", "2026-06-01T02:00:00Z"} {
		want := testlog.RFC3339(t, scheduled)
		at := clock.NextWait(t)
		if !at.Equal(want.Add(d)) {
			t.Fatalf("waits for %s, want %s + %s", at, scheduled, d)
		}
		clock.Set(at)
		select {
		case r := <-ran:
			if !r.logical.Equal(want) || !r.now.Equal(want.Add(d)) {
				t.Errorf("run with logical time %s at %s, want %s at %s", r.logical, r.now, want, want.Add(d))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no run at %s", at)
		}
		waitIdle(t, loop)
	}
}

// TestLoopStartedDuringTheDelay: a loop started (or restarted by a
// reload) after a scheduled time, before its delay is over, still starts
// that time's run at its start.
func TestLoopStartedDuringTheDelay(t *testing.T) {
	_, job, d := jitteredJob(t, "0 * * * *", "    jitter: 30m")
	scheduled := testlog.RFC3339(t, "2026-06-01T01:00:00Z")
	from := scheduled.Add(d / 2)
	var logs testlog.Buffer
	logical := driveWith(t, job, from, &logs, 1, func(time.Time) {})
	if len(logical) != 1 || !logical[0].Equal(scheduled.Add(d)) {
		t.Errorf("woke at %v, want %s", logical, scheduled.Add(d))
	}
}

// TestStopDuringTheDelayDoesNotRun: a loop stopped (shutdown, reload)
// after a scheduled time but before its delay is over does not run it,
// as a stopped loop does not run a time it has not reached.
func TestStopDuringTheDelayDoesNotRun(t *testing.T) {
	_, job, d := jitteredJob(t, "0 * * * *", "    jitter: 30m")
	from := testlog.RFC3339(t, "2026-06-01T00:10:00Z")
	clock := newFakeClock(from)
	ran := make(chan time.Time, 1)
	loop := newCronLoop(clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	loop.add(job, func(logical time.Time) { ran <- logical })
	loop.start(from)
	scheduled := testlog.RFC3339(t, "2026-06-01T01:00:00Z")
	if at := clock.NextWait(t); !at.Equal(scheduled.Add(d)) {
		t.Fatalf("waits for %s, want %s", at, scheduled.Add(d))
	}
	clock.Set(scheduled.Add(d - time.Second))
	<-loop.stop().Done() // returns once runs already started have returned
	clock.Set(scheduled.Add(time.Hour))
	if len(ran) != 0 {
		t.Errorf("ran %s after a stop during its delay", <-ran)
	}
}

// TestCatchUpWithJitter: a scheduled time whose start has passed is
// caught up as without jitter, with its scheduled time as logical time;
// one still waiting for its delay is left to the loop, which starts it:
// at every moment each time is either caught up or scheduled, never both
// or neither.
func TestCatchUpWithJitter(t *testing.T) {
	cfg, job, d := jitteredJob(t, "0 * * * *", "    catch_up: 3h\n    jitter: 30m")
	plain := catchUpConfig(t, "0 * * * *", "3h")
	ten := testlog.RFC3339(t, "2026-11-25T10:00:00Z")
	for _, tt := range []struct {
		name      string
		now       time.Time
		caught    time.Time // the catch-up run
		scheduled time.Time // the loop's first
	}{
		{"before 10:00", ten.Add(-time.Second), ten.Add(-time.Hour), ten},
		{"at 10:00", ten, ten.Add(-time.Hour), ten},
		{"during 10:00's delay", ten.Add(d - time.Second), ten.Add(-time.Hour), ten},
		{"at 10:00's start", ten.Add(d), ten, ten.Add(time.Hour)},
		{"after 10:00's start", ten.Add(d + time.Minute), ten, ten.Add(time.Hour)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cu, err := missed(cfg, job, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := job.NextStart(tt.now)
			if !cu.Run.Equal(tt.caught) || !first.Equal(tt.scheduled) {
				t.Errorf("catch-up runs %s, the loop starts with %s; want %s, %s", cu.Run, first, tt.caught, tt.scheduled)
			}
			if !cu.Run.Before(first) {
				t.Errorf("caught up %s is not before the loop's first %s", cu.Run, first)
			}
			// Once its start has passed, a time is caught up exactly as
			// without jitter once its scheduled time has.
			if tt.now.Sub(ten) >= d {
				want, err := missed(plain, &plain.Jobs[0], tt.now.Add(-d))
				if err != nil {
					t.Fatal(err)
				}
				if !cu.Run.Equal(want.Run) || cu.Superseded.Count != want.Superseded.Count || cu.Older.Count != want.Older.Count {
					t.Errorf("with jitter: run %s, %d superseded; without, %d earlier: run %s, %d superseded", cu.Run, cu.Superseded.Count, d, want.Run, want.Superseded.Count)
				}
			}
		})
	}
}

// TestSchedulerRunsAfterTheJitterDelay runs a job whose start is delayed
// through the scheduler and the runner: a reload during the delay keeps
// the run, which starts at its scheduled time plus its delay, and its
// logical time, and so its file name, are the scheduled time's. Then a
// shutdown during the next delay runs nothing.
func TestSchedulerRunsAfterTheJitterDelay(t *testing.T) {
	r := setup(t, `"*/5 * * * *"`+"\n    jitter: 4m")
	d := r.Config.Jobs[0].Delay()
	if d == 0 {
		t.Fatal("the job has no delay: the test needs one")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// After 09:55's start (at most 09:58:59), before 10:00.
	clock := newFakeClock(time.Date(2026, 6, 1, 9, 59, 30, 0, time.UTC))
	results := make(chan *jobs.Result, 10)
	r.Hooks.Result = func(_ context.Context, run jobs.Run) { results <- run.Result }
	var logs testlog.Buffer
	s := &Scheduler{Runner: r, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Grace: time.Second, Clock: clock}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	scheduled := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	at := clock.NextWait(t)
	if !at.Equal(scheduled.Add(d)) {
		t.Fatalf("first run at %v, want %v + %s", at, scheduled, d)
	}
	berlin := r.Config.Jobs[0].Location
	if recs := logs.Find(t, "INFO", "job scheduled"); len(recs) != 1 ||
		recs[0]["next_run"] != at.In(berlin).Format(time.RFC3339) || recs[0]["next_logical_time"] != scheduled.In(berlin).Format(time.RFC3339) {
		t.Errorf("job scheduled records %v, want next_run %s (the start), next_logical_time %s", recs, at.In(berlin).Format(time.RFC3339), scheduled.In(berlin).Format(time.RFC3339))
	}
	clock.Set(at.Add(-time.Second)) // 10:00 is past, its start is not
	// Run shares what ReloadNow needs a moment after its loop waits.
	for deadline := time.Now().Add(10 * time.Second); s.getLive() == nil && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if err := s.ReloadNow(ctx); err != nil {
		t.Fatal(err)
	}
	if again := clock.NextWait(t); !again.Equal(at) {
		t.Fatalf("after a reload during the delay, the next start is %v, want %v", again, at)
	}
	clock.Set(at)
	select {
	case res := <-results:
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if !res.Logical.Equal(scheduled) {
			t.Errorf("logical time %v, want the scheduled %v", res.Logical, scheduled)
		}
		if len(res.Files) != 1 || filepath.Base(res.Files[0]) != "20260601T120000.csv" {
			t.Errorf("files = %v, want the scheduled time's name", res.Files)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no run within 20s")
	}
	next := scheduled.Add(5 * time.Minute)
	if at := clock.NextWait(t); !at.Equal(next.Add(d)) {
		t.Fatalf("second run at %v, want %v", at, next.Add(d))
	}
	clock.Set(next.Add(d - time.Second)) // 10:05 is past, its start is not
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("scheduler did not stop")
	}
	if len(results) != 0 {
		t.Errorf("a run during the delay of a shutdown: %+v", <-results)
	}
}
