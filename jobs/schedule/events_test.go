package schedule

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/jobs"
)

// TestEvents: the scheduler reports the times catch-up drops (OnMissed,
// once per reason) and the runs it skips itself (OnSkip), which no run,
// and so no hook, sees.
func TestEvents(t *testing.T) {
	cfg := catchUpConfig(t, "0 * * * *", "3h")
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	writeManifest(t, cfg, time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC), false)
	type missedCall struct {
		n      int
		newest time.Time
		why    string
	}
	var (
		missedCalls []missedCall
		skipped     []time.Time
	)
	s := &Scheduler{
		Runner: &jobs.Runner{Config: cfg},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnMissed: func(job *jobs.Job, newest []time.Time, n int, why string) {
			missedCalls = append(missedCalls, missedCall{n, newest[len(newest)-1], why})
		},
		OnSkip: func(job *jobs.Job, t time.Time) { skipped = append(skipped, t) },
	}
	runs := newRunSet()
	if ok, _ := runs.start("j"); !ok { // a run of the job under way
		t.Fatal("runs.start")
	}
	s.catchUp(context.Background(), context.Background(), runs, s.Runner, &cfg.Jobs[0], now)
	// 05:00 to 07:00 are older than catch_up, 08:00 and 09:00 superseded
	// by 10:00, which is skipped: the job's run is still going.
	if len(missedCalls) != 2 || missedCalls[0].n != 3 || !missedCalls[0].newest.Equal(time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)) ||
		!strings.Contains(missedCalls[0].why, "older than catch_up") || missedCalls[1].n != 2 || !strings.Contains(missedCalls[1].why, "only the latest") {
		t.Errorf("OnMissed calls %+v", missedCalls)
	}
	if len(skipped) != 1 || !skipped[0].Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("OnSkip calls %v, want 10:00", skipped)
	}
}
