package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/metrics"
)

// ran feeds m a run of job that took a second, as the hooks would.
func ran(m *metrics.Collector, job string, err error) {
	j := &jobs.Job{Name: job, Location: time.UTC}
	res := &jobs.Result{Job: job, RunID: "r", Started: time.Now().Add(-time.Second), Duration: time.Second, Attempts: 1, Err: err,
		Datasets: []jobs.DatasetResult{{Name: "d", Rows: 7}}}
	run := jobs.Run{Job: j, Result: res, Log: slog.New(slog.DiscardHandler)}
	m.Attempt(context.Background(), run)
	m.Result(context.Background(), run)
}

func TestWriteTextfile(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "v1"})
	ran(m, "a", nil)
	ran(m, "b", errors.New("boom"))
	path := filepath.Join(t.TempDir(), "joinery.prom")
	if err := m.WriteTextfile(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mfs := parse(t, f)
	want(t, mfs, 1, "joinery_runs_total", "job_name", "a", "outcome", "success")
	want(t, mfs, 1, "joinery_runs_total", "job_name", "b", "outcome", "failure")
	want(t, mfs, 7, "joinery_dataset_rows", "job_name", "a", "dataset", "d")
	if _, ok := mfs["go_goroutines"]; ok {
		t.Error("runtime metrics in a one-shot run's file")
	}
	// node_exporter, another user, reads it; no temporary file is left.
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("%d files in the folder", len(ents))
	}
	// A folder that is not there: an error (a warning for joinery run).
	if err := m.WriteTextfile(filepath.Join(t.TempDir(), "no", "x.prom")); err == nil {
		t.Error("no error for a missing folder")
	}
}

// TestPush pushes to a Pushgateway's API served by the test.
func TestPush(t *testing.T) {
	type push struct {
		method, path, user, pass string
		mfs                      []*dto.MetricFamily
	}
	var (
		mu     sync.Mutex
		pushes []push
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := push{method: r.Method, path: r.URL.Path}
		p.user, p.pass, _ = r.BasicAuth()
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err == io.EOF {
				break
			} else if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			p.mfs = append(p.mfs, &mf)
		}
		mu.Lock()
		pushes = append(pushes, p)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	m := metrics.New(metrics.Options{Version: "v1"})
	ran(m, "a", nil)
	ran(m, "b", errors.New("boom"))
	gateway := strings.Replace(srv.URL, "http://", "http://joinery:s3cret@", 1)
	if err := m.Push(context.Background(), gateway, []string{"a", "b"}, srv.Client()); err != nil {
		t.Fatal(err)
	}
	if len(pushes) != 2 {
		t.Fatalf("%d pushes", len(pushes))
	}
	for i, job := range []string{"a", "b"} {
		p := pushes[i]
		if p.method != http.MethodPost || p.path != "/metrics/job/joinery/job_name/"+job || p.user != "joinery" || p.pass != "s3cret" {
			t.Errorf("push %d: %s %s (%s:%s)", i, p.method, p.path, p.user, p.pass)
		}
		mfs := map[string]*dto.MetricFamily{}
		for _, mf := range p.mfs {
			mfs[mf.GetName()] = mf
			for _, s := range mf.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == "job_name" || l.GetName() == "job" {
						t.Errorf("push %d: %s has label %s", i, mf.GetName(), l.GetName())
					}
				}
			}
		}
		outcome := map[string]string{"a": "success", "b": "failure"}[job]
		want(t, mfs, 1, "joinery_runs_total", "outcome", outcome)
		want(t, mfs, 1, "joinery_build_info", "version", "v1")
		if len(mfs["joinery_runs_total"].GetMetric()) != 1 {
			t.Errorf("push %d: another job's runs: %v", i, mfs["joinery_runs_total"])
		}
	}
	// A gateway that refuses: an error, without the password.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	err := m.Push(context.Background(), gateway, []string{"a"}, srv.Client())
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("refused push: %v", err)
	}
}

func TestRestoreAndNextRun(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("METRICS_DSN", "embedded")
	cfg, err := jobs.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{Runtime: true, Schedule: func() *jobs.Config { return cfg }})
	success := time.Date(2026, 11, 4, 6, 0, 3, 0, time.UTC)
	m.Restore("ok", success, time.Time{})
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	want(t, byName, float64(success.Unix()), "joinery_last_success_timestamp_seconds", "job_name", "ok")
	if _, ok := value(byName, "joinery_last_failure_timestamp_seconds", "job_name", "ok"); ok {
		t.Error("a last failure restored from a zero time")
	}
	next := cfg.Jobs[0].NextRun(time.Now())
	want(t, byName, float64(next.Unix()), "joinery_next_run_timestamp_seconds", "job_name", "ok")
	if _, ok := byName["go_goroutines"]; !ok {
		t.Error("no runtime metrics with Runtime")
	}
}
