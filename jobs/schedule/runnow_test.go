package schedule

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/jobs"
)

// TestRunNowAndReloadNow: RunNow starts a run of a job for the time now,
// claimed like a scheduled one so that a second one is refused while it
// goes on; ReloadNow swaps the configuration, or says why it cannot; both
// refuse once the scheduler stops.
func TestRunNowAndReloadNow(t *testing.T) {
	r := setup(t, `"0 0 1 1 *"`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Date(2026, 6, 1, 9, 58, 30, 500, time.UTC)
	clock := newFakeClock(now)
	results := make(chan *jobs.Result, 10)
	release := make(chan struct{})
	r.Hooks.Result = func(_ context.Context, run jobs.Run) {
		results <- run.Result
		<-release // the run stays claimed until the test lets it go
	}
	next := r.Config
	s := &Scheduler{Runner: r, Logger: r.Logger, Grace: 10 * time.Second, Clock: clock,
		Load: func() (*jobs.Config, error) {
			if next == nil {
				return nil, errors.New("broken configuration")
			}
			return next, nil
		}}
	if err := s.RunNow("j"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("RunNow before Run = %v, want ErrNotRunning", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	clock.NextWait(t)
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err = s.RunNow("j"); errors.Is(err, ErrNotRunning) && time.Now().Before(deadline); err = s.RunNow("j") {
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("RunNow = %v", err)
	}
	select {
	case res := <-results:
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if want := now.Truncate(time.Second); !res.Logical.Equal(want) {
			t.Errorf("logical time %v, want %v", res.Logical, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no run within 20s")
	}
	if err := s.RunNow("j"); !errors.Is(err, ErrBusy) {
		t.Errorf("RunNow while the run goes on = %v, want ErrBusy", err)
	}
	if err := s.RunNow("nope"); err == nil || !strings.Contains(err.Error(), "no such job") {
		t.Errorf("RunNow of an unknown job = %v", err)
	}
	close(release)

	next = loadConfig(t, strings.Replace(jobYAML(""), "name: j", "name: k", 1))
	next.Database = r.Config.Database
	if err := s.ReloadNow(ctx); err != nil {
		t.Fatalf("ReloadNow = %v", err)
	}
	if got := s.Config().Jobs[0].Name; got != "k" {
		t.Errorf("after the reload the job is %q, want k", got)
	}
	next = nil
	if err := s.ReloadNow(ctx); err == nil || !strings.Contains(err.Error(), "broken configuration") {
		t.Errorf("ReloadNow of a broken configuration = %v", err)
	}
	if got := s.Config().Jobs[0].Name; got != "k" {
		t.Errorf("after a failed reload the job is %q, want k still", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.RunNow("k"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("RunNow after Run = %v, want ErrNotRunning", err)
	}
	if err := s.ReloadNow(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("ReloadNow after Run = %v, want ErrNotRunning", err)
	}
}
