package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joinery/joinery/jobs/history"
)

const historyConfig = `
database:
  dsn: ${E2E_DSN}
timezone: UTC
output_dir: out
history_limit: 3
jobs:
  - name: nightly
    schedule: "0 6 * * *"
    window: previous_day
    datasets:
      posts: {from: posts p, select: [p.id, p.title]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{from}.csv"}
  - name: broken
    schedule: "0 6 * * *"
    history_limit: 1
    datasets:
      posts: {from: no_such_table p, select: [p.id]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
`

// TestHistoryCommand runs jobs that succeed and fail, each run a new
// Runner and recorder (a restart), and reads them back with history.
func TestHistoryCommand(t *testing.T) {
	p := newInProcessWith(t, historyConfig)
	cli := func(args ...string) (int, string) {
		t.Helper()
		var stdout bytes.Buffer
		code, stderr := p.run(context.Background(), &stdout, args...)
		return code, stdout.String() + stderr
	}
	// broken keeps 1 run (history_limit), 2 between trims: its third
	// run trims it to 1.
	for _, at := range []string{"2026-11-01T06:00:00Z", "2026-11-02T06:00:00Z", "2026-11-03T06:00:00Z"} {
		if code, out := cli("run", "nightly", "--at", at); code != 0 {
			t.Fatalf("run nightly: exit %d\n%s", code, out)
		}
		if code, out := cli("run", "broken", "--at", at); code == 0 {
			t.Fatalf("run broken: exit 0\n%s", out)
		}
	}
	code, out := cli("history", "nightly")
	if code != 0 || !strings.Contains(out, "OUTCOME") || strings.Count(out, "success") != 3 || strings.Contains(out, "broken") {
		t.Errorf("history nightly: exit %d\n%s", code, out)
	}
	code, out = cli("history")
	if code != 0 || strings.Count(out, "\nbroken ") != 1 || strings.Count(out, "\nnightly ") != 3 || !strings.Contains(out, "failure") ||
		!strings.Contains(out, "no_such_table") {
		t.Errorf("history: exit %d\n%s", code, out)
	}
	code, out = cli("history", "nightly", "--json", "--last", "1")
	var recs []history.Record
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r history.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("history --json: %v\n%s", err, out)
		}
		recs = append(recs, r)
	}
	if code != 0 || len(recs) != 1 || recs[0].Outcome != "success" || recs[0].Logical.Format("2006-01-02") != "2026-11-03" ||
		len(recs[0].Files) != 1 || recs[0].Files[0].Path != "nightly/posts-2026-11-02.csv" || recs[0].Files[0].SHA256 == "" ||
		recs[0].Window == nil || recs[0].Rows() == 0 {
		t.Errorf("history --json: exit %d, %+v\n%s", code, recs, out)
	}
	// CronJob mode: the metrics of the runs, in a file for node_exporter;
	// the last success of broken, which never succeeded, stays unset, its
	// last failure comes from its history.
	prom := filepath.Join(t.TempDir(), "joinery.prom")
	if code, out := cli("run", "nightly", "broken", "--at", "2026-11-05T06:00:00Z", "--metrics-file", prom); code != 1 {
		t.Errorf("run --metrics-file: exit %d\n%s", code, out)
	}
	text, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`joinery_runs_total{job_name="nightly",outcome="success"} 1`, `joinery_runs_total{job_name="broken",outcome="failure"} 1`,
		`joinery_last_failure_timestamp_seconds{job_name="broken"}`, `joinery_last_success_timestamp_seconds{job_name="nightly"}`} {
		if !strings.Contains(string(text), s) {
			t.Errorf("metrics file without %s:\n%s", s, text)
		}
	}
	if strings.Contains(string(text), `joinery_last_success_timestamp_seconds{job_name="broken"}`) {
		t.Errorf("a last success for broken:\n%s", text)
	}
	// A metrics file that cannot be written: a warning, the same exit status.
	var stdout, stderr bytes.Buffer
	code = run(context.Background(), nil, []string{"run", "nightly", "--at", "2026-11-06T06:00:00Z", "--metrics-file", filepath.Join(t.TempDir(), "no", "x.prom"),
		"--config", p.cfg, "--log-level", "warn"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "metrics not written") {
		t.Errorf("run --metrics-file in a missing folder: exit %d\n%s", code, stderr.String())
	}

	// The error of a failed run, whole, in --json.
	_, out = cli("history", "broken", "--json")
	if !strings.Contains(out, `"outcome":"failure"`) || !strings.Contains(out, "no_such_table") {
		t.Errorf("history broken --json:\n%s", out)
	}
}
