package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/queries"
)

// seedRuns writes a committed run of job j (a file and its manifest)
// under cfg's output_dir, and a file no manifest names; it returns a
// Memory holding a failed run of j, and the manifest's file path.
func seedRuns(t *testing.T, cfg *jobs.Config) (*Memory, string) {
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
	writeFile(t, filepath.Join(out, "j"), output.ManifestName("j", m.Logical, nil), string(data))

	mem := NewMemory(5)
	job, _ := cfg.Job("j")
	mem.Result(context.Background(), jobs.Run{Job: job, Result: &jobs.Result{
		Job: "j", RunID: "20260602T040001Z-def", Logical: m.Logical.AddDate(0, 0, 1), Started: started.AddDate(0, 0, 1),
		Duration: 3 * time.Second, Attempts: 3, Err: errors.New("Error 1146: Table 'app.users' doesn't exist"),
		Datasets: []jobs.DatasetResult{{Name: "d", Joins: []queries.JoinStats{{Alias: "p", Type: "left", Matched: 5, LeftUnmatched: 2}}}},
	}})
	return mem, m.Files[0].Path
}

// TestStatusPages: the index lists the job with its schedule and last
// run; the job's page shows its runs, the failure kept in memory and the
// success its manifest records, with a link that downloads the file;
// nothing else under output_dir is served, and no secret shows.
func TestStatusPages(t *testing.T) {
	cfg := testConfig(t)
	mem, file := seedRuns(t, cfg)
	s := newTestServer(t, Options{Scheduler: &fakeScheduler{cfg: cfg}, Runs: &ManifestRuns{Config: func() *jobs.Config { return cfg }, Memory: mem}})

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
	for _, want := range []string{"Table &#39;app.users&#39; doesn&#39;t exist", "in 3 attempts", "left join p: 5 matched, 2 left unmatched", "succeeded", `href="` + link + `"`, "2026-06-01 06:00:00 CEST"} {
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
