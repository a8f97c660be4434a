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
// schedules any (jobs.Runner.Recover of all its jobs), on an output folder
// with the state of each job.
func BenchmarkRecover1000Jobs(b *testing.B) { benchRecover(b, 1000) }

// BenchmarkRecover5000Jobs is BenchmarkRecover1000Jobs with 5,000 jobs:
// the time should grow with the jobs, not with their square. A
// configuration of 5,000 jobs is larger than the 2 MiB a configuration may
// be: the 1,000 jobs are loaded and copied under the names of the others.
func BenchmarkRecover5000Jobs(b *testing.B) { benchRecover(b, 5000) }

// benchRecover recovers n jobs, those of the configuration of 1,000 and
// copies of them, on a folder with the state of each.
func benchRecover(b *testing.B, n int) {
	cfg, err := jobs.Load(many.Setup(b, 1000))
	if err != nil {
		b.Fatal(err)
	}
	for i := 1000; i < n; i++ {
		j := cfg.Jobs[i%1000]
		j.Name = many.JobName(i)
		cfg.Jobs = append(cfg.Jobs, j)
	}
	if err := many.SeedState(cfg.OutputPath(), n, time.Now()); err != nil {
		b.Fatal(err)
	}
	r := &jobs.Runner{Config: cfg, Logger: slog.New(slog.DiscardHandler)}
	all := make([]*jobs.Job, len(cfg.Jobs))
	for i := range cfg.Jobs {
		all[i] = &cfg.Jobs[i]
	}
	for b.Loop() {
		r.Recover(all...)
	}
}
