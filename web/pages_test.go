package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/output"
)

// seedRuns writes a committed run of job j (a file and its manifest)
// under cfg's output_dir, and a file no manifest names, and records in
// j's history, as an earlier process did, that run and a failed one
// after it; it returns the file's path.
func seedRuns(t *testing.T, cfg *jobs.Config) string {
	t.Helper()
	out := cfg.OutputPath()
	if err := os.MkdirAll(filepath.Join(out, "j"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(out, "j"), "2026-06-01 #1.csv", "id\n1\n2\n")
	writeFile(t, filepath.Join(out, "j"), "stray.csv", "not a report\n")
	started := time.Date(2026, 6, 1, 4, 0, 1, 0, time.UTC)
	m := output.Manifest{
		Job: "j", RunID: "20260601T040001Z-abc", Logical: time.Date(2026, 6, 1, 4, 0, 0, 0, time.UTC),
		Started: started, Duration: 1.5,
		Datasets: []output.ManifestSet{{Name: "d", Rows: 2}},
		Files:    []output.ManifestFile{{Path: "j/2026-06-01 #1.csv", Format: "csv", Size: 7, Rows: 2}},
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	manifest := output.ManifestName("j", m.Logical, nil)
	writeFile(t, filepath.Join(out, "j"), manifest, string(data))
	f := m.Files[0]
	writeHistory(t, out, "j",
		history.Record{Job: "j", RunID: m.RunID, Outcome: jobs.OutcomeSuccess, Attempts: 1, Logical: m.Logical, Started: started,
			Duration: m.Duration, Datasets: []history.Dataset{{Name: "d", Rows: 2}}, Manifest: "j/" + manifest,
			Files: []history.File{{Path: f.Path, Format: f.Format, Size: f.Size, Rows: f.Rows}}},
		history.Record{Job: "j", RunID: "20260602T040001Z-def", Outcome: jobs.OutcomeFailure, Logical: m.Logical.AddDate(0, 0, 1),
			Started: started.AddDate(0, 0, 1), Duration: 3, Attempts: 3, Error: "Error 1146: Table 'app.users' doesn't exist",
			NotRetried: "gave up after 3 attempts",
			Datasets:   []history.Dataset{{Name: "d", Joins: []history.Join{{Alias: "p", Type: "left", Matched: 5, LeftUnmatched: 2}}}}},
	)
	return f.Path
}

// writeHistory writes recs, oldest first, as job's history under out, as
// a joinery process records them.
func writeHistory(t testing.TB, out, job string, recs ...history.Record) {
	t.Helper()
	dir := filepath.Join(out, output.StateDir, "history")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	writeFile(t, dir, job+".jsonl", b.String())
}

// TestStatusPages: the index lists the job with its schedule and last
// run; the job's page shows its runs from its history, the failure and
// the success, with a link that downloads the file;
// nothing else under output_dir is served, and no secret shows.
func TestStatusPages(t *testing.T) {
	cfg := testConfig(t)
	file := seedRuns(t, cfg)
	s := newTestServer(t, Options{Scheduler: &fakeScheduler{cfg: cfg}})

	w := get(s, "/")
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("the index: %d %s", w.Code, body)
	}
	for _, want := range []string{`href="/jobs/j"`, "0 6 * * *", "Europe/Berlin", "failed", `name="csrf" value="` + s.csrf + `"`, `name="viewport"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the index lacks %q:\n%s", want, body)
		}
	}
	w = get(s, "/jobs/j")
	body = w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("the job's page: %d %s", w.Code, body)
	}
	link := fileURL("j", file)
	for _, want := range []string{"Table &#39;app.users&#39; doesn&#39;t exist", "in 3 attempts", "gave up after 3 attempts", "left join p: 5 matched, 2 left unmatched", "succeeded", `href="` + link + `"`, "2026-06-01 06:00:00 CEST"} {
		if !strings.Contains(body, want) {
			t.Errorf("the job's page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "secret") {
		t.Error("the page shows the database password")
	}
	if w := get(s, "/jobs/nope"); w.Code != http.StatusNotFound {
		t.Errorf("an unknown job: %d, want 404", w.Code)
	}

	w = get(s, link)
	if w.Code != http.StatusOK || w.Body.String() != "id\n1\n2\n" || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment") {
		t.Errorf("download: %d %q %q", w.Code, w.Header().Get("Content-Disposition"), w.Body.String())
	}
	for _, target := range []string{"/files/j/j/stray.csv", "/files/j/" + url.PathEscape("../config.yaml"), "/files/j/j", fileURL("nope", file)} {
		if w := get(s, target); w.Code == http.StatusOK {
			t.Errorf("%s served: %q", target, w.Body.String())
		}
	}
}

// TestForms: a POST needs the form token and a same-origin request; then
// run now asks the scheduler and redirects to the job's page, and reload
// to the index.
func TestForms(t *testing.T) {
	sched := &fakeScheduler{cfg: testConfig(t)}
	s := newTestServer(t, Options{Scheduler: sched})
	post := func(target, token string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(url.Values{"csrf": {token}}.Encode()))
		r.Host = "127.0.0.1:8080"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	if w := post("/jobs/j/run", ""); w.Code != http.StatusForbidden {
		t.Errorf("no token: %d, want 403", w.Code)
	}
	if w := post("/jobs/j/run", "forged"); w.Code != http.StatusForbidden {
		t.Errorf("a wrong token: %d, want 403", w.Code)
	}
	if w := post("/jobs/j/run", s.csrf, "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusForbidden {
		t.Errorf("from another site: %d, want 403", w.Code)
	}
	if w := post("/jobs/j/run", s.csrf, "Origin", "https://evil.example"); w.Code != http.StatusForbidden {
		t.Errorf("another origin: %d, want 403", w.Code)
	}
	if len(sched.ran) != 0 || sched.reloads != 0 {
		t.Fatalf("refused forms ran %v, reloaded %d", sched.ran, sched.reloads)
	}
	w := post("/jobs/j/run", s.csrf, "Sec-Fetch-Site", "same-origin")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/jobs/j?flash=started" || len(sched.ran) != 1 {
		t.Errorf("run now: %d %q, ran %v", w.Code, w.Header().Get("Location"), sched.ran)
	}
	if w := get(s, "/jobs/j?flash=started"); !strings.Contains(w.Body.String(), "Run of j started") {
		t.Errorf("no flash message:\n%s", w.Body.String())
	}
	w = post("/reload", s.csrf)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/?flash=reloaded" || sched.reloads != 1 {
		t.Errorf("reload: %d %q, reloads %d", w.Code, w.Header().Get("Location"), sched.reloads)
	}
	if w := post("/jobs/nope/run", s.csrf); w.Code != http.StatusNotFound {
		t.Errorf("an unknown job: %d, want 404", w.Code)
	}
}

// TestFailureAfterRestart: a failed run that an earlier process recorded
// in the history shows on the pages of a new server over the same
// output_dir, as after a restart of joinery schedule --listen.
func TestFailureAfterRestart(t *testing.T) {
	cfg := testConfig(t)
	job, err := cfg.Job("j")
	if err != nil {
		t.Fatal(err)
	}
	// The earlier process: its recorder, the Result hook of its runs.
	earlier := &history.Recorder{OutputDir: cfg.OutputPath()}
	logical := time.Date(2026, 6, 3, 6, 0, 0, 0, job.Location)
	earlier.Result(context.Background(), jobs.Run{Job: job, Log: slog.New(slog.DiscardHandler), Result: &jobs.Result{
		Job: "j", RunID: "20260603T040001Z-ghi", Logical: logical, Started: logical.Add(time.Second),
		Duration: 2 * time.Second, Attempts: 2, Err: errors.New("Error 1045: Access denied for user 'report'"),
		NotRetried: "the error is permanent",
	}})

	s := newTestServer(t, Options{Scheduler: &fakeScheduler{cfg: cfg}}) // the new process's
	if body := get(s, "/").Body.String(); !strings.Contains(body, `<span class="badge failed">failed</span>`) {
		t.Errorf("the index does not show the failure:\n%s", body)
	}
	body := get(s, "/jobs/j").Body.String()
	for _, want := range []string{`data-outcome="failed"`, "Access denied for user &#39;report&#39;", "in 2 attempts", "the error is permanent", "20260603T040001Z-ghi", "2026-06-03 06:00:00 CEST"} {
		if !strings.Contains(body, want) {
			t.Errorf("the job's page lacks %q:\n%s", want, body)
		}
	}
}

// BenchmarkIndex1000Jobs serves the index of 1,000 jobs, each with 5
// committed runs under output_dir (10,000 files): 100 have a history of
// 20 runs, the other 900 only their manifests (runs from before history),
// which one walk of output_dir reads for all of them.
func BenchmarkIndex1000Jobs(b *testing.B) {
	const jobsN, withHistory, runsN = 1000, 100, 5
	dir := b.TempDir()
	var cfgText strings.Builder
	cfgText.WriteString("database: {dsn: \"u:p@tcp(db:3306)/app\"}\ntimezone: Europe/Berlin\noutput_dir: out\njobs:\n")
	for i := range jobsN {
		fmt.Fprintf(&cfgText, "  - name: job%04d\n    schedule: \"%d %d * * *\"\n    datasets:\n      d: {from: users u, select: [u.id]}\n    outputs: [{format: csv, path: \"{job}/{date}.csv\"}]\n", i, i%60, i%24)
	}
	cfg := load(b, writeFile(b, dir, "config.yaml", cfgText.String()))
	out := cfg.OutputPath()
	t0 := time.Date(2026, 6, 1, 4, 0, 0, 0, time.UTC)
	for i := range jobsN {
		job := fmt.Sprintf("job%04d", i)
		if err := os.MkdirAll(filepath.Join(out, job), 0o755); err != nil {
			b.Fatal(err)
		}
		var recs []history.Record
		for r := range runsN {
			logical := t0.AddDate(0, 0, r)
			name := job + "/" + logical.Format("2006-01-02") + ".csv"
			writeFile(b, out, name, "id\n1\n")
			m := output.Manifest{Job: job, RunID: fmt.Sprintf("%s-%d", job, r), Logical: logical, Started: logical, Duration: 1,
				Datasets: []output.ManifestSet{{Name: "d", Rows: 1}}, Files: []output.ManifestFile{{Path: name, Format: "csv", Size: 5, Rows: 1}}}
			data, err := json.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			writeFile(b, filepath.Join(out, job), output.ManifestName(job, logical, nil), string(data))
		}
		if i < withHistory {
			for r := range 20 {
				recs = append(recs, history.Record{Job: job, RunID: fmt.Sprintf("%s-h%d", job, r), Outcome: jobs.OutcomeFailure,
					Error: "bad sql", Attempts: 1, Logical: t0.AddDate(0, 0, r), Started: t0.AddDate(0, 0, r), Duration: 1,
					Datasets: []history.Dataset{{Name: "d", Rows: 1}}})
			}
			writeHistory(b, out, job, recs...)
		}
	}
	s := newTestServer(b, Options{Scheduler: &fakeScheduler{cfg: cfg}})
	if w := get(s, "/"); w.Code != http.StatusOK || strings.Count(w.Body.String(), `class="badge failed"`) != withHistory ||
		strings.Count(w.Body.String(), `class="badge succeeded"`) != jobsN-withHistory {
		b.Fatalf("the index: %d, %d failed, %d succeeded", w.Code, strings.Count(w.Body.String(), `class="badge failed"`), strings.Count(w.Body.String(), `class="badge succeeded"`))
	}
	b.ResetTimer()
	for b.Loop() {
		if w := get(s, "/"); w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
