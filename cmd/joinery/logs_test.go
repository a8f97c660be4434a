package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/internal/testlog"
	"github.com/joinery/joinery/internal/testnet"
	"github.com/joinery/joinery/output"
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

// TestRunLogRecords parses the JSON log of a run that fails once (the
// database is not up yet) and succeeds at its second attempt: every record
// of the run carries its job, run id and logical time; the retry is one
// warning, the success one record with rows, files, attempts and
// duration; no error; every duration in seconds; the run id is also in
// the manifest and on the About sheet.
func TestRunLogRecords(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	_, target := via(t, testdb.DSN(t), "")
	rl := testnet.NewRelay(t, target)
	dsn, _ := via(t, testdb.DSN(t), rl.Addr)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := strings.Replace(e2eConfig, `    schedule: "0 6 * * *"`, `    schedule: "0 6 * * *"`+"\n    retries: 3\n    retry_delay: 1s", 1)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	bin := binary(t, "")
	// The database answers a little after the first attempt failed.
	time.AfterFunc(500*time.Millisecond, func() { rl.Start(t) })
	r := runBin(t, bin, []string{"E2E_DSN=" + dsn}, "run", "nightly", "--config", cfgPath, "--at", "2026-11-01T06:00", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	recs := testlog.Parse(t, r.stderr)
	var run []map[string]any
	for _, rec := range recs {
		if rec["job"] != nil {
			run = append(run, rec)
		}
		for k := range rec {
			if k == "duration" || k == "retry_in" || k == "grace" {
				t.Errorf("record %v: %s is not in seconds", rec, k)
			}
		}
		if rec["level"] == "ERROR" {
			t.Errorf("error record: %v", rec)
		}
	}
	if len(run) == 0 {
		t.Fatalf("no records of the run:\n%s", r.stderr)
	}
	id, _ := run[0]["run_id"].(string)
	for _, rec := range run {
		if rec["job"] != "nightly" || rec["run_id"] != id || rec["logical_time"] != "2026-11-01T06:00:00Z" {
			t.Errorf("record %v: want job nightly, run_id %s, logical_time 2026-11-01T06:00:00Z", rec, id)
		}
	}
	started := find(run, "run started", "nightly")
	if len(started) != 2 || started[0]["attempt"] != 1.0 || started[1]["attempt"] != 2.0 {
		t.Errorf("run started records %v, want attempts 1 and 2", started)
	}
	retry := find(run, "attempt failed, will retry", "nightly")
	if len(retry) != 1 || retry[0]["level"] != "WARN" || retry[0]["attempt"] != 1.0 || retry[0]["retries"] != 3.0 ||
		!between(retry[0]["retry_in_seconds"], 0.5, 1) || !strings.Contains(retry[0]["error"].(string), "connection refused") {
		t.Errorf("retry records %v, want one warning: attempt 1 of 3 retries, retry_in_seconds in [0.5, 1], the error", retry)
	}
	fin := find(run, "run finished", "nightly")
	want := handCount(t, db, "SELECT COUNT(*) FROM users u LEFT JOIN posts p ON u.id = p.user_id WHERE u.name LIKE '%e%'")
	if len(fin) != 1 || fin[0]["level"] != "INFO" || fin[0]["rows"] != float64(want) || fin[0]["files"] != 2.0 || fin[0]["attempts"] != 2.0 ||
		!between(fin[0]["duration_seconds"], 0, 60) {
		t.Errorf("run finished records %v, want one with rows %d, files 2, attempts 2 and duration_seconds", fin, want)
	}

	data, err := os.ReadFile(filepath.Join(dir, "out", "nightly", output.ManifestName("nightly", time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), nil)))
	if err != nil {
		t.Fatal(err)
	}
	var m output.Manifest
	if err := json.Unmarshal(data, &m); err != nil || m.RunID != id {
		t.Errorf("manifest run_id %q, %v; want %s", m.RunID, err, id)
	}
	x, err := excelize.OpenFile(filepath.Join(dir, "out", "nightly", "nightly-2026-11-01.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if label, _ := x.GetCellValue("About", "A3"); label != "Run ID" {
		t.Errorf("About!A3 = %q, want Run ID", label)
	}
	if v, _ := x.GetCellValue("About", "B3"); v != id {
		t.Errorf("About!B3 = %q, want %s", v, id)
	}
}

// between reports whether v is a JSON number in [lo, hi].
func between(v any, lo, hi float64) bool {
	f, ok := v.(float64)
	return ok && f >= lo && f <= hi
}

// find returns the records with the message msg (and of job, when not "").
func find(recs []map[string]any, msg, job string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["msg"] == msg && (job == "" || r["job"] == job) {
			out = append(out, r)
		}
	}
	return out
}
