package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
)

// freshnessJob is jobYAML's job a with settings added before its schedule.
func freshnessJob(settings string) string {
	return "jobs:\n" + strings.Replace(jobYAML("a", "@daily"), "    schedule:", settings+"\n    schedule:", 1)
}

func TestFreshnessConfig(t *testing.T) {
	tests := []struct {
		name, settings string
		want           Freshness
	}{
		{"lag only, checked once", "    freshness: {max_replica_lag: 30s}",
			Freshness{MaxReplicaLag: 30 * time.Second, OnStale: "fail"}},
		{"watermark, default interval", "    freshness:\n      watermark: {table: posts, column: updated_at}\n      wait: 10m\n      on_stale: warn",
			Freshness{Watermark: &Watermark{Table: "posts", Column: "updated_at"}, Wait: 10 * time.Minute, Interval: 30 * time.Second, OnStale: "warn"}},
		{"interval at most a short wait", "    freshness: {max_replica_lag: 1m, wait: 10s}",
			Freshness{MaxReplicaLag: time.Minute, Wait: 10 * time.Second, Interval: 10 * time.Second, OnStale: "fail"}},
		{"interval given", "    freshness: {max_replica_lag: 1m, wait: 5m, interval: 1m}",
			Freshness{MaxReplicaLag: time.Minute, Wait: 5 * time.Minute, Interval: time.Minute, OnStale: "fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(freshnessJob(tt.settings)))
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Jobs[0].Freshness
			if got == nil {
				t.Fatal("no freshness")
			}
			if got.MaxReplicaLag != tt.want.MaxReplicaLag || got.Wait != tt.want.Wait || got.Interval != tt.want.Interval || got.OnStale != tt.want.OnStale ||
				(got.Watermark == nil) != (tt.want.Watermark == nil) || (got.Watermark != nil && *got.Watermark != *tt.want.Watermark) {
				t.Errorf("got %+v (watermark %v), want %+v (watermark %v)", got, got.Watermark, tt.want, tt.want.Watermark)
			}
		})
	}
	cfg, err := Parse("c.yaml", []byte(freshnessJob("")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Jobs[0].Freshness != nil {
		t.Errorf("a job without freshness got %+v", cfg.Jobs[0].Freshness)
	}
}

func TestFreshnessConfigErrors(t *testing.T) {
	tests := []struct {
		name, settings string
		want           []string // substrings of one problem: file, path, value, message
	}{
		{"nothing to check", "    freshness: {wait: 1m}", []string{"c.yaml:3:", "jobs[0].freshness:", "nothing to check"}},
		{"negative lag", "    freshness: {max_replica_lag: -5s}", []string{"c.yaml:3:", "jobs[0].freshness.max_replica_lag", `"-5s"`, "positive"}},
		{"lag not a duration", "    freshness: {max_replica_lag: soon}", []string{"jobs[0].freshness.max_replica_lag", `"soon"`, "duration"}},
		{"table with a backtick", "    freshness:\n      watermark: {table: \"posts`; DROP TABLE x\", column: updated_at}", []string{"c.yaml:", "jobs[0].freshness.watermark.table", "posts`; DROP TABLE x", "invalid name"}},
		{"qualified column", "    freshness:\n      watermark: {table: posts, column: p.updated_at}", []string{"jobs[0].freshness.watermark.column", `"p.updated_at"`, "invalid name"}},
		{"column missing", "    freshness:\n      watermark: {table: posts}", []string{"jobs[0].freshness.watermark.column", "required"}},
		{"unknown watermark key", "    freshness:\n      watermark: {table: posts, column: c, where: x}", []string{"jobs[0].freshness.watermark.where", "unknown field"}},
		{"negative wait", "    freshness: {max_replica_lag: 1s, wait: -1m}", []string{"jobs[0].freshness.wait", `"-1m"`, "positive"}},
		{"wait not under the timeout", "    timeout: 5m\n    freshness: {max_replica_lag: 1s, wait: 5m}", []string{"jobs[0].freshness.wait", `"5m0s"`, "job's timeout (5m0s)"}},
		{"interval without wait", "    freshness: {max_replica_lag: 1s, interval: 10s}", []string{"jobs[0].freshness.interval", `"10s"`, "set wait too"}},
		{"interval over wait", "    freshness: {max_replica_lag: 1s, wait: 1m, interval: 2m}", []string{"jobs[0].freshness.interval", `"2m0s"`, "longer than wait (1m0s)"}},
		{"negative interval", "    freshness: {max_replica_lag: 1s, wait: 1m, interval: -1s}", []string{"jobs[0].freshness.interval", `"-1s"`, "positive"}},
		{"bad on_stale", "    freshness: {max_replica_lag: 1s, on_stale: ignore}", []string{"c.yaml:3:", "jobs[0].freshness.on_stale", `"ignore"`, "want fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(freshnessJob(tt.settings)))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if !anyProblem(ce.Problems, tt.want) {
				t.Errorf("no problem contains all of %q in:\n%v", tt.want, err)
			}
		})
	}
}
