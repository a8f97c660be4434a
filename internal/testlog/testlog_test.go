package testlog

import (
	"log/slog"
	"testing"
	"time"
)

// TestFind: records are found by level and message prefix, from a logger
// writing JSON.
func TestFind(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	log.Info("run started", "job", "a")
	log.Warn("run failed, will retry", "job", "a")
	log.Warn("run failed", "job", "b")
	log.Info("run finished", "job", "a")
	if n := len(b.Records(t)); n != 4 {
		t.Errorf("%d records, want 4", n)
	}
	got := b.Find(t, "WARN", "run failed")
	if len(got) != 2 || got[0]["job"] != "a" || got[1]["job"] != "b" {
		t.Errorf("Find(WARN, run failed) = %v, want the two warnings", got)
	}
	if got := b.Find(t, "INFO", "run failed"); len(got) != 0 {
		t.Errorf("Find(INFO, run failed) = %v, want none", got)
	}
}

func TestRFC3339(t *testing.T) {
	got := RFC3339(t, "2026-10-25T02:05:00+02:00")
	if want := time.Date(2026, 10, 25, 0, 5, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
