package metrics_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/metrics"
	"github.com/joinery/joinery/output"
)

// benchRun is a successful run of three datasets and two files, as the
// hooks see it.
func benchRun() jobs.Run {
	j := &jobs.Job{Name: "nightly", Location: time.UTC}
	res := &jobs.Result{Job: j.Name, RunID: "20261104T060000Z-3fa2b9c1", Started: time.Now(), Duration: 3 * time.Second, Attempts: 1,
		Datasets: []jobs.DatasetResult{{Name: "users", Rows: 1_000_000}, {Name: "posts", Rows: 20}, {Name: "totals", Rows: 3}},
		Commit:   &jobs.Commit{Files: []output.File{{Path: "/r/a.csv", Output: "csv", Size: 80 << 20}, {Path: "/r/a.xlsx", Output: "xlsx", Size: 40 << 20}}}}
	return jobs.Run{Job: j, Result: res, Log: slog.New(slog.DiscardHandler)}
}

// BenchmarkCollectorHooks is what the metrics add to a run: one Attempt
// and one Result call (see docs/OPERATIONS.md, Overhead).
func BenchmarkCollectorHooks(b *testing.B) {
	m := metrics.New(metrics.Options{Version: "bench"})
	run := benchRun()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m.Attempt(ctx, run)
		m.Result(ctx, run)
	}
}

// BenchmarkHistoryRecord is what run history adds to a run: one record
// appended and fsync'd, under its lock.
func BenchmarkHistoryRecord(b *testing.B) {
	rc := &history.Recorder{OutputDir: b.TempDir()}
	run := benchRun()
	run.Job.HistoryLimit = 100
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rc.Result(ctx, run)
	}
}
