package metrics_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/metrics"
)

const testConfig = `
database:
  dsn: ${METRICS_DSN}
timezone: UTC
output_dir: out
jobs:
  - name: ok
    schedule: "0 6 * * *"
    datasets:
      users: {from: users u, select: [u.id, u.name]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
  - name: bad
    schedule: "0 6 * * *"
    datasets:
      d: {from: no_such_table t, select: [t.id]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
  - name: flaky
    schedule: "0 6 * * *"
    retries: 3
    retry_delay: 300ms
    datasets:
      d: {from: users u, select: [u.id]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
`

// runner returns a Runner of the test configuration on dsn, its hooks the
// collector's and a history recorder's.
func runner(t *testing.T, dir, dsn string, m *metrics.Collector) *jobs.Runner {
	t.Helper()
	t.Setenv("METRICS_DSN", dsn)
	cfg, err := jobs.Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := jobs.OpenDB(cfg.Database, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &jobs.Runner{DB: db, Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.Hooks.AddAttempt(m.Attempt)
	r.Hooks.AddResult(m.Result)
	r.Hooks.AddResult((&history.Recorder{OutputDir: cfg.OutputPath()}).Result)
	return r
}

func runJob(t *testing.T, r *jobs.Runner, name string) *jobs.Result {
	t.Helper()
	j, err := r.Config.Job(name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := j.PlanAt(time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.RunWithRetries(context.Background(), j, p)
}

// scrape serves the collector's metrics over HTTP, as schedule --listen
// does, GETs them and parses them with the Prometheus text parser.
func scrape(t *testing.T, m *metrics.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(m.Gatherer(), promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return parse(t, resp.Body)
}

func parse(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// value returns the value of the series of name with labels (name=value
// pairs), and whether it exists.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func want(t *testing.T, mfs map[string]*dto.MetricFamily, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := value(mfs, name, labels...)
	if !ok || got != v {
		t.Errorf("%s%v = %v (found %v), want %v", name, labels, got, ok, v)
	}
}

// TestMetricsOfRuns runs jobs against the database through Runners with
// the collector's hooks, and scrapes the metrics after a success, a
// failure, a retry and a skip.
func TestMetricsOfRuns(t *testing.T) {
	raw := testdb.New(t)
	testdb.SeedUsersPosts(t, raw)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{Version: "v1.2.3", OutputDir: filepath.Join(dir, "out")})
	r := runner(t, dir, testdb.DSN(t), m)
	const job = "job_name"

	// A success.
	before := time.Now()
	if res := runJob(t, r, "ok"); res.Err != nil {
		t.Fatal(res.Err)
	}
	mfs := scrape(t, m)
	want(t, mfs, 1, "joinery_runs_total", job, "ok", "outcome", "success")
	want(t, mfs, 1, "joinery_run_attempts_total", job, "ok")
	want(t, mfs, 1, "joinery_run_duration_seconds", job, "ok")
	want(t, mfs, 1, "joinery_build_info", "version", "v1.2.3")
	if n, _ := value(mfs, "joinery_dataset_rows", job, "ok", "dataset", "users"); n < 1 {
		t.Errorf("joinery_dataset_rows = %v", n)
	}
	if n, _ := value(mfs, "joinery_file_bytes", job, "ok", "output", "csv"); n < 10 {
		t.Errorf("joinery_file_bytes = %v", n)
	}
	if ts, _ := value(mfs, "joinery_last_success_timestamp_seconds", job, "ok"); ts < float64(before.Unix()) || ts > float64(time.Now().Unix()+1) {
		t.Errorf("last success = %v, want about now", ts)
	}
	if _, ok := value(mfs, "joinery_last_failure_timestamp_seconds", job, "ok"); ok {
		t.Error("a last failure, and none failed")
	}

	// A failure (bad SQL): permanent, not retried.
	if res := runJob(t, r, "bad"); res.Err == nil {
		t.Fatal("bad: no error")
	}
	mfs = scrape(t, m)
	want(t, mfs, 1, "joinery_runs_total", job, "bad", "outcome", "failure")
	want(t, mfs, 1, "joinery_run_attempts_total", job, "bad")
	if _, ok := value(mfs, "joinery_last_failure_timestamp_seconds", job, "bad"); !ok {
		t.Error("no last failure for bad")
	}
	if _, ok := value(mfs, "joinery_last_success_timestamp_seconds", job, "bad"); ok {
		t.Error("a last success for bad")
	}
	if _, ok := value(mfs, "joinery_run_retries_total", job, "bad"); ok {
		t.Error("bad retried")
	}

	// A skip: another session holds the job's lock.
	conn, err := raw.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK(CONCAT('joinery/', DATABASE(), '/ok'), 0)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK = %d, %v", got, err)
	}
	if res := runJob(t, r, "ok"); res.Outcome() != jobs.OutcomeSkipped {
		t.Fatalf("ok with its lock held: %v", res.Err)
	}
	conn.Close()
	mfs = scrape(t, m)
	want(t, mfs, 1, "joinery_runs_total", job, "ok", "outcome", "skipped")
	want(t, mfs, 1, "joinery_runs_total", job, "ok", "outcome", "success")
	want(t, mfs, 1, "joinery_lock_skips_total", job, "ok")
	want(t, mfs, 1, "joinery_run_duration_seconds", job, "ok") // a skip is no duration

	// A retry: the account may hold one connection, another session
	// holds it, and lets go after the first attempt (the Attempt hook).
	limited := testdb.LimitedUser(t, raw, testdb.DSN(t))
	other, err := sql.Open("mysql", limited)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	held, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2 := runner(t, dir, limited, m)
	r2.Hooks.AddAttempt(func(ctx context.Context, run jobs.Run) {
		if run.RetryIn > 0 {
			held.Close()
			other.Close()
		}
	})
	res := runJob(t, r2, "flaky")
	if res.Err != nil || res.Attempts < 2 {
		t.Fatalf("flaky: %d attempts, %v; want a success after a retry", res.Attempts, res.Err)
	}
	mfs = scrape(t, m)
	want(t, mfs, 1, "joinery_runs_total", job, "flaky", "outcome", "success")
	want(t, mfs, float64(res.Attempts), "joinery_run_attempts_total", job, "flaky")
	want(t, mfs, float64(res.Attempts-1), "joinery_run_retries_total", job, "flaky")

	// The same runs are in the histories, read by a new reader.
	recs, err := history.Read(filepath.Join(dir, "out"), "ok", 0)
	if err != nil || len(recs) != 2 || recs[0].Outcome != jobs.OutcomeSkipped || recs[1].Outcome != jobs.OutcomeSuccess ||
		len(recs[1].Files) != 1 || recs[1].Files[0].Path != "ok/users-2026-11-04.csv" || len(recs[1].Datasets) != 1 {
		t.Errorf("history of ok: %+v, %v", recs, err)
	}
	recs, err = history.Read(filepath.Join(dir, "out"), "flaky", 0)
	if err != nil || len(recs) != 1 || recs[0].Attempts != res.Attempts {
		t.Errorf("history of flaky: %+v, %v", recs, err)
	}
	recs, err = history.Read(filepath.Join(dir, "out"), "bad", 0)
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Error, "no_such_table") {
		t.Errorf("history of bad: %+v, %v", recs, err)
	}
}
