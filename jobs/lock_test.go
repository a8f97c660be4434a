package jobs

import (
	"testing"
	"time"
)

// TestStatementTimeoutSources: a run's statements are limited by
// database.statement_timeout or the job's timeout, the shorter, and
// without either by the runner's default (schedule's); the embedded
// database, which dies with joinery, only by the configured one.
func TestStatementTimeoutSources(t *testing.T) {
	tests := []struct {
		name             string
		config, job, def time.Duration
		embedded         bool
		want             time.Duration
		from             string
	}{
		{"none", 0, 0, 0, false, 0, fromConfig},
		{"configured", 5 * time.Minute, 0, time.Hour, false, 5 * time.Minute, fromConfig},
		{"the job's timeout", 0, 10 * time.Minute, time.Hour, false, 10*time.Minute + time.Second, fromJob},
		{"the job's timeout when shorter", time.Hour, 10 * time.Minute, 0, false, 10*time.Minute + time.Second, fromJob},
		{"configured when shorter", 5 * time.Minute, 10 * time.Minute, 0, false, 5 * time.Minute, fromConfig},
		{"schedule's default", 0, 0, time.Hour, false, time.Hour, fromSchedule},
		{"embedded: configured only", 0, 10 * time.Minute, time.Hour, true, 0, fromConfig},
		{"embedded, configured", 5 * time.Minute, 10 * time.Minute, time.Hour, true, 5 * time.Minute, fromConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := "u@tcp(db:3306)/app"
			if tt.embedded {
				dsn = "embedded"
			}
			r := &Runner{Config: &Config{Database: Database{DSN: dsn, StatementTimeout: tt.config}}, DefaultStatementTimeout: tt.def}
			got, from := r.statementTimeout(&Job{Timeout: tt.job})
			if got != tt.want || from != tt.from {
				t.Errorf("statementTimeout = %s from %q, want %s from %q", got, from, tt.want, tt.from)
			}
		})
	}
}
