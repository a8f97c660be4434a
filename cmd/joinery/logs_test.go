package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestDurationsInSeconds: in JSON and in text, a duration is a number of
// seconds under a key ending in _seconds, in groups too.
func TestDurationsInSeconds(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			c := &common{logFormat: format, logLevel: "info", stderr: &buf}
			log, err := c.logger(false)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("x", "duration", 1500*time.Millisecond, "retry_in", 90*time.Second,
				slog.Group("holder", slog.Duration("for", 2*time.Hour+300*time.Microsecond)), "rows", 3)
			out := buf.String()
			if format == "text" {
				for _, want := range []string{" duration_seconds=1.5 ", " retry_in_seconds=90 ", " holder.for_seconds=7200 ", " rows=3"} {
					if !strings.Contains(out, want) {
						t.Errorf("%q lacks %q", out, want)
					}
				}
				return
			}
			var rec struct {
				Duration float64 `json:"duration_seconds"`
				RetryIn  float64 `json:"retry_in_seconds"`
				Holder   struct {
					For float64 `json:"for_seconds"`
				} `json:"holder"`
			}
			if err := json.Unmarshal([]byte(out), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Duration != 1.5 || rec.RetryIn != 90 || rec.Holder.For != 7200 || strings.Contains(out, `"duration":`) {
				t.Errorf("%s: want duration_seconds 1.5, retry_in_seconds 90, holder.for_seconds 7200", out)
			}
		})
	}
}
