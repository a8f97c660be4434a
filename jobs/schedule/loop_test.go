package schedule

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testlog"
	"github.com/joinery/joinery/jobs"
)

// scheduledJob returns a job named j running spec in zone.
func scheduledJob(t *testing.T, spec, zone string) *jobs.Job {
	t.Helper()
	cfg := loadConfig(t, strings.Replace(jobYAML("    timezone: "+zone), `schedule: "@daily"`, fmt.Sprintf("schedule: %q", spec), 1))
	return &cfg.Jobs[0]
}

// loopRun is a run a test's cronLoop started: its logical time and the
// clock's time then.
type loopRun struct{ logical, now time.Time }

// startLoop starts a cronLoop with job at from on a fakeClock; each run
// the loop starts is sent on ran. The caller stops the loop.
func startLoop(job *jobs.Job, from time.Time) (clock *fakeClock, loop *cronLoop, ran <-chan loopRun) {
	clock = newFakeClock(from)
	runs := make(chan loopRun, 1)
	loop = newCronLoop(clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	loop.add(job, func(logical time.Time) { runs <- loopRun{logical, clock.Now()} })
	loop.start(from)
	return clock, loop, runs
}

// driveLoop starts a cronLoop with job at from on a fakeClock and moves the
// clock to each time the loop waits for, n times. It returns the times the
// loop woke at; each must have started one run whose logical time is that
// time, in the job's zone, read from the clock at that time.
func driveLoop(t *testing.T, job *jobs.Job, from time.Time, n int) []time.Time {
	t.Helper()
	clock, loop, ran := startLoop(job, from)
	defer loop.stop()
	var woke []time.Time
	for range n {
		at := clock.NextWait(t)
		clock.Set(at)
		select {
		case r := <-ran:
			if !r.logical.Equal(at) || !r.now.Equal(at) || r.logical.Location() != job.Location {
				t.Fatalf("woke at %s: run with logical time %s (%v) at %s", at.Format(time.RFC3339), r.logical.Format(time.RFC3339), r.logical.Location(), r.now.Format(time.RFC3339))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("woke at %s: no run", at.Format(time.RFC3339))
		}
		waitIdle(t, loop)
		woke = append(woke, at)
	}
	return woke
}

// TestSchedulerAcrossClockChanges drives the scheduler's loop with a fake
// clock over both changes of 2026 in four zones, one of which changes by
// half an hour, and checks the exact instant of each run: a time of day
// that clocks skip runs once after the change, moved by the length of the
// gap; one that they repeat runs once, the first time; a job whose hour
// field is a wildcard runs in real time; @every ignores the clocks.
func TestSchedulerAcrossClockChanges(t *testing.T) {
	tests := []struct {
		zone, spec, from string
		want             []string
	}{
		// Berlin: 02:00 CET becomes 03:00 CEST on 29 March; 03:00 CEST
		// becomes 02:00 CET on 25 October.
		{"Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00+01:00", []string{"2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"Europe/Berlin", "*/20 2 * * *", "2026-03-28T12:00:00+01:00", []string{"2026-03-29T03:00:00+02:00", "2026-03-29T03:20:00+02:00", "2026-03-29T03:40:00+02:00", "2026-03-30T02:00:00+02:00"}},
		{"Europe/Berlin", "0 2 * * *", "2026-03-28T12:00:00+01:00", []string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"}},
		{"Europe/Berlin", "*/20 2,3 * * *", "2026-03-29T00:00:00+01:00", []string{"2026-03-29T03:00:00+02:00", "2026-03-29T03:20:00+02:00", "2026-03-29T03:40:00+02:00", "2026-03-30T02:00:00+02:00"}},
		{"Europe/Berlin", "0 * * * *", "2026-03-29T00:30:00+01:00", []string{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
		{"Europe/Berlin", "*/15 * * * *", "2026-03-29T01:30:00+01:00", []string{"2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"}},
		{"Europe/Berlin", "@daily", "2026-03-28T12:00:00+01:00", []string{"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"}},
		{"Europe/Berlin", "@every 90m", "2026-03-29T00:00:00+01:00", []string{"2026-03-29T01:30:00+01:00", "2026-03-29T04:00:00+02:00", "2026-03-29T05:30:00+02:00"}},
		{"Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00+02:00", []string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"Europe/Berlin", "*/20 2 * * *", "2026-10-24T12:00:00+02:00", []string{"2026-10-25T02:00:00+02:00", "2026-10-25T02:20:00+02:00", "2026-10-25T02:40:00+02:00", "2026-10-26T02:00:00+01:00"}},
		{"Europe/Berlin", "0 2 * * *", "2026-10-24T12:00:00+02:00", []string{"2026-10-25T02:00:00+02:00", "2026-10-26T02:00:00+01:00"}},
		{"Europe/Berlin", "0 * * * *", "2026-10-25T00:30:00+02:00", []string{"2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"}},
		{"Europe/Berlin", "*/15 * * * *", "2026-10-25T02:30:00+02:00", []string{"2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T02:15:00+01:00", "2026-10-25T02:30:00+01:00", "2026-10-25T02:45:00+01:00", "2026-10-25T03:00:00+01:00"}},
		{"Europe/Berlin", "@daily", "2026-10-24T12:00:00+02:00", []string{"2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"}},
		{"Europe/Berlin", "@every 90m", "2026-10-25T01:00:00+02:00", []string{"2026-10-25T02:30:00+02:00", "2026-10-25T03:00:00+01:00", "2026-10-25T04:30:00+01:00"}},

		// New York: 02:00 EST becomes 03:00 EDT on 8 March; 02:00 EDT
		// becomes 01:00 EST on 1 November. time.Date puts the skipped
		// 02:30 at 01:30 EST; the schedule must not.
		{"America/New_York", "30 2 * * *", "2026-03-07T12:00:00-05:00", []string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"America/New_York", "*/20 2 * * *", "2026-03-07T12:00:00-05:00", []string{"2026-03-08T03:00:00-04:00", "2026-03-08T03:20:00-04:00", "2026-03-08T03:40:00-04:00", "2026-03-09T02:00:00-04:00"}},
		{"America/New_York", "0 2 * * *", "2026-03-07T12:00:00-05:00", []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
		{"America/New_York", "0 * * * *", "2026-03-08T00:30:00-05:00", []string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"}},
		{"America/New_York", "*/15 * * * *", "2026-03-08T01:30:00-05:00", []string{"2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"}},
		{"America/New_York", "30 1 * * *", "2026-10-31T12:00:00-04:00", []string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"America/New_York", "*/20 1 * * *", "2026-10-31T12:00:00-04:00", []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:20:00-04:00", "2026-11-01T01:40:00-04:00", "2026-11-02T01:00:00-05:00"}},
		{"America/New_York", "30 2 * * *", "2026-10-31T12:00:00-04:00", []string{"2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"}},
		{"America/New_York", "0 * * * *", "2026-11-01T00:30:00-04:00", []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"America/New_York", "*/15 * * * *", "2026-11-01T01:30:00-04:00", []string{"2026-11-01T01:45:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:15:00-05:00"}},
		{"America/New_York", "@daily", "2026-10-31T12:00:00-04:00", []string{"2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"}},

		// Sydney: 03:00 AEDT becomes 02:00 AEST on 5 April; 02:00 AEST
		// becomes 03:00 AEDT on 4 October.
		{"Australia/Sydney", "30 2 * * *", "2026-04-04T12:00:00+11:00", []string{"2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"}},
		{"Australia/Sydney", "*/20 2 * * *", "2026-04-04T12:00:00+11:00", []string{"2026-04-05T02:00:00+11:00", "2026-04-05T02:20:00+11:00", "2026-04-05T02:40:00+11:00", "2026-04-06T02:00:00+10:00"}},
		{"Australia/Sydney", "0 * * * *", "2026-04-05T01:30:00+11:00", []string{"2026-04-05T02:00:00+11:00", "2026-04-05T02:00:00+10:00", "2026-04-05T03:00:00+10:00"}},
		{"Australia/Sydney", "30 2 * * *", "2026-10-03T12:00:00+10:00", []string{"2026-10-04T03:30:00+11:00", "2026-10-05T02:30:00+11:00"}},
		{"Australia/Sydney", "*/20 2 * * *", "2026-10-03T12:00:00+10:00", []string{"2026-10-04T03:00:00+11:00", "2026-10-04T03:20:00+11:00", "2026-10-04T03:40:00+11:00", "2026-10-05T02:00:00+11:00"}},
		{"Australia/Sydney", "0 * * * *", "2026-10-04T00:30:00+10:00", []string{"2026-10-04T01:00:00+10:00", "2026-10-04T03:00:00+11:00", "2026-10-04T04:00:00+11:00"}},
		{"Australia/Sydney", "@daily", "2026-10-03T12:00:00+10:00", []string{"2026-10-04T00:00:00+10:00", "2026-10-05T00:00:00+11:00"}},

		// Lord Howe: 02:00 +11 becomes 01:30 +10:30 on 5 April; 02:00
		// +10:30 becomes 02:30 +11 on 4 October.
		{"Australia/Lord_Howe", "30 1 * * *", "2026-04-04T12:00:00+11:00", []string{"2026-04-05T01:30:00+11:00", "2026-04-06T01:30:00+10:30"}},
		{"Australia/Lord_Howe", "*/15 1 * * *", "2026-04-04T12:00:00+11:00", []string{"2026-04-05T01:00:00+11:00", "2026-04-05T01:15:00+11:00", "2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-06T01:00:00+10:30"}},
		{"Australia/Lord_Howe", "0 * * * *", "2026-04-05T00:30:00+11:00", []string{"2026-04-05T01:00:00+11:00", "2026-04-05T02:00:00+10:30", "2026-04-05T03:00:00+10:30"}},
		{"Australia/Lord_Howe", "*/15 * * * *", "2026-04-05T01:20:00+11:00", []string{"2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30", "2026-04-05T02:00:00+10:30"}},
		{"Australia/Lord_Howe", "0 2 * * *", "2026-10-03T12:00:00+10:30", []string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:00:00+11:00"}},
		{"Australia/Lord_Howe", "15 2 * * *", "2026-10-03T12:00:00+10:30", []string{"2026-10-04T02:45:00+11:00", "2026-10-05T02:15:00+11:00"}},
		// 02:00 and 02:15 move onto 02:30 and 02:45, which run anyway.
		{"Australia/Lord_Howe", "*/15 2 * * *", "2026-10-03T12:00:00+10:30", []string{"2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00", "2026-10-05T02:00:00+11:00"}},
		{"Australia/Lord_Howe", "0 * * * *", "2026-10-04T00:30:00+10:30", []string{"2026-10-04T01:00:00+10:30", "2026-10-04T03:00:00+11:00", "2026-10-04T04:00:00+11:00"}},
		{"Australia/Lord_Howe", "*/15 * * * *", "2026-10-04T01:30:00+10:30", []string{"2026-10-04T01:45:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00", "2026-10-04T03:00:00+11:00"}},
		{"Australia/Lord_Howe", "@every 90m", "2026-10-04T00:00:00+10:30", []string{"2026-10-04T01:30:00+10:30", "2026-10-04T03:30:00+11:00", "2026-10-04T05:00:00+11:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.spec+" from "+tt.from, func(t *testing.T) {
			job := scheduledJob(t, tt.spec, tt.zone)
			woke := driveLoop(t, job, testlog.RFC3339(t, tt.from), len(tt.want))
			for i, want := range tt.want {
				if got := woke[i].In(job.Location).Format(time.RFC3339); got != want {
					t.Errorf("run %d at %s, want %s", i+1, got, want)
				}
			}
		})
	}
}

// TestLoopSkipsARunWhileThePreviousGoesOn keeps a run going past the next
// scheduled time: that time is skipped with a warning naming the job and
// the time, and the one after runs.
func TestLoopSkipsARunWhileThePreviousGoesOn(t *testing.T) {
	job := scheduledJob(t, "*/10 * * * *", "Europe/Berlin")
	from := testlog.RFC3339(t, "2026-10-25T02:05:00+02:00")
	clock := newFakeClock(from)
	var logs testlog.Buffer
	loop := newCronLoop(clock, slog.New(slog.NewJSONHandler(&logs, nil)))
	started := make(chan time.Time, 3)
	release := make(chan struct{})
	loop.add(job, func(logical time.Time) {
		started <- logical
		if logical.Minute() == 10 {
			<-release
		}
	})
	loop.start(from)
	step := func() time.Time {
		at := clock.NextWait(t)
		clock.Set(at)
		return at
	}
	step() // 02:10 CEST starts and goes on
	if got := <-started; !got.Equal(testlog.RFC3339(t, "2026-10-25T02:10:00+02:00")) {
		t.Fatalf("first run %s", got)
	}
	step() // 02:20 CEST: skipped
	at := step()
	if !at.Equal(testlog.RFC3339(t, "2026-10-25T02:30:00+02:00")) {
		t.Fatalf("third wake at %s", at)
	}
	close(release)
	stopped := loop.stop()
	<-stopped.Done()
	// 02:30 may have started or been skipped, depending on whether the
	// 02:10 run had returned; 02:20 was skipped.
	if recs := logs.Find(t, "WARN", "run skipped: the previous run of this job is still running"); len(recs) == 0 || recs[0]["job"] != "j" || recs[0]["logical_time"] != "2026-10-25T02:20:00+02:00" {
		t.Errorf("log:\n%s", logs.String())
	}
	for len(started) > 0 {
		if got := <-started; got.Minute() == 20 {
			t.Errorf("02:20 ran")
		}
	}
}

// TestLoopRecoversFromAPanic: a run that panics is logged, and the job's
// next run goes on.
func TestLoopRecoversFromAPanic(t *testing.T) {
	job := scheduledJob(t, "@hourly", "UTC")
	from := testlog.RFC3339(t, "2026-01-01T00:30:00Z")
	var logs testlog.Buffer
	ran := make(chan time.Time, 2)
	logical := driveWith(t, job, from, &logs, 2, func(l time.Time) {
		ran <- l
		if l.Hour() == 1 {
			panic("boom")
		}
	})
	if len(logical) != 2 || len(ran) != 2 {
		t.Fatalf("woke %v, ran %d", logical, len(ran))
	}
	if recs := logs.Find(t, "ERROR", "run panicked"); len(recs) != 1 || recs[0]["job"] != "j" || recs[0]["logical_time"] != "2026-01-01T01:00:00Z" || recs[0]["panic"] != "boom" {
		t.Errorf("log:\n%s", logs.String())
	}
}

// waitIdle waits until no run of loop goes on: a run has returned some
// time before the loop sees it has (and would skip a run due before that).
func waitIdle(t *testing.T, loop *cronLoop) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, e := range loop.entries {
		for e.busy.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("%s still running after 10s", e.job.Name)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// driveWith is driveLoop with a run function of the test's own, and
// waits for the runs to return.
func driveWith(t *testing.T, job *jobs.Job, from time.Time, logs io.Writer, n int, run func(time.Time)) []time.Time {
	t.Helper()
	clock := newFakeClock(from)
	loop := newCronLoop(clock, slog.New(slog.NewJSONHandler(logs, nil)))
	returned := make(chan struct{}, n)
	loop.add(job, func(l time.Time) {
		defer func() { returned <- struct{}{} }()
		run(l)
	})
	loop.start(from)
	var woke []time.Time
	for range n {
		at := clock.NextWait(t)
		clock.Set(at)
		<-returned
		waitIdle(t, loop)
		woke = append(woke, at)
	}
	<-loop.stop().Done()
	return woke
}
