package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("dataset x: query: %w", &mysql.MySQLError{Number: 1213, Message: "Deadlock found"}), true},
		{fmt.Errorf("query: %w", &mysql.MySQLError{Number: 2013}), true},
		{fmt.Errorf("query: %w", &mysql.MySQLError{Number: 1146, Message: "Table 'x' doesn't exist"}), false},
		{fmt.Errorf("query: %w", &mysql.MySQLError{Number: 1064}), false},
		{fmt.Errorf("connect: %w", mysql.ErrInvalidConn), true},
		{ErrAlreadyRunning, false},
		{fmt.Errorf("x: %w", context.Canceled), false},
		{fmt.Errorf("job timeout: %w", context.DeadlineExceeded), false},
		{errors.New("write report: no space left on device"), true},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestRunWithRetriesGivesUp runs against a port nothing listens on: a
// connection failure is retried, with a growing delay, then reported.
func TestRunWithRetriesGivesUp(t *testing.T) {
	cfg, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(`
database: {connect_timeout: 1s}
jobs:
  - name: j
    schedule: "@daily"
    retries: 2
    retry_delay: 50ms
    datasets:
      d: {from: users u, select: [u.id]}
    outputs: [{format: csv, path: "{job}.csv"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB(cfg.Database, "root@tcp(127.0.0.1:1)/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := &Runner{DB: db, Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	start := time.Now()
	p, err := cfg.Jobs[0].PlanAt(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := r.RunWithRetries(context.Background(), &cfg.Jobs[0], p)
	if res.Err == nil || res.Attempts != 3 {
		t.Fatalf("attempts = %d, err = %v; want 3 failed attempts", res.Attempts, res.Err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("waited %v between attempts, want at least 50ms + 100ms", waited)
	}
}
