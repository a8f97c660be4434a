package many_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/joinery/joinery/bench/many"
	"github.com/joinery/joinery/jobs"
)

// TestConfigLoads: the generated configuration is valid, with every job
// it says, and a seeded state leaves no job a missed time to catch up.
func TestConfigLoads(t *testing.T) {
	path := many.Setup(t, 1000)
	cfg, err := jobs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Jobs) != 1000 {
		t.Fatalf("%d jobs, want 1000", len(cfg.Jobs))
	}
	now := time.Now()
	if err := many.SeedState(cfg.OutputPath(), 1000, now); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 499, 999} {
		last, warnings, err := cfg.LastSuccess(many.JobName(i))
		if err != nil || len(warnings) > 0 || !last.Equal(now) {
			t.Errorf("job %d: last success %v, %v, %v; want %v", i, last, warnings, err, now)
		}
	}
}

// BenchmarkLoad1000Jobs is jobs.Load of the 1,000 jobs: what every
// command does first (issue 16: validate under 1 s).
func BenchmarkLoad1000Jobs(b *testing.B) {
	path := many.Setup(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jobs.Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecover1000Jobs is what schedule does for every job before it
// schedules any (jobs.Runner.Recover), on an output folder with the
// state of each job.
func BenchmarkRecover1000Jobs(b *testing.B) {
	path := many.Setup(b, 1000)
	cfg, err := jobs.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := many.SeedState(cfg.OutputPath(), 1000, time.Now()); err != nil {
		b.Fatal(err)
	}
	r := &jobs.Runner{Config: cfg, Logger: slog.New(slog.DiscardHandler)}
	for b.Loop() {
		for i := range cfg.Jobs {
			r.Recover(&cfg.Jobs[i])
		}
	}
}
