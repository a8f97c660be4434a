package web

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/joinery/joinery/jobs"
)

// TestJobViewWithJitter: with jitter, the next run shown is when it
// starts, with its scheduled time beside it, which may have passed.
func TestJobViewWithJitter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(`
jobs:
  - name: j
    schedule: "0 * * * *"
    jitter: 30m
    datasets:
      d: {from: users u, select: [u.id]}
    outputs: [{format: csv, path: "{job}.csv"}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := jobs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	job := &cfg.Jobs[0]
	d := job.Delay()
	if d == 0 {
		t.Fatal("the test needs a job with a delay")
	}
	ten := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	now := ten.Add(d - time.Second) // 10:00 is past, its start is not
	v := newJobView(job, now)
	if !v.NextLogical.Equal(ten) || !v.Next.Equal(ten.Add(d)) || v.Delay != d {
		t.Errorf("next %s (scheduled %s, delay %s), want %s (%s, %s)", v.Next, v.NextLogical, v.Delay, ten.Add(d), ten, d)
	}
}
