package history_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/output"
)

func run(job *jobs.Job, id string, err error) jobs.Run {
	res := &jobs.Result{Job: job.Name, RunID: id, Logical: time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC), Started: time.Now(),
		Duration: 1500 * time.Millisecond, Attempts: 1, Err: err,
		Datasets: []jobs.DatasetResult{{Name: "users", Rows: 42, Duration: time.Second}}}
	return jobs.Run{Job: job, Result: res, Log: slog.New(slog.DiscardHandler)}
}

func path(dir, job string) string {
	return filepath.Join(dir, ".joinery", "history", job+".jsonl")
}

// TestHistoryAcrossProcesses appends from child processes, each a new
// writer, and reads with a new reader each time: what a restart of
// joinery does.
func TestHistoryAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("HISTORY_TEST_DIR"); dir != "" {
		i, _ := strconv.Atoi(os.Getenv("HISTORY_TEST_RUN"))
		job := &jobs.Job{Name: "j", Location: time.UTC, HistoryLimit: 3}
		var err error
		if i%2 == 1 {
			err = errors.New("bad sql")
		}
		rc := &history.Recorder{OutputDir: dir}
		rc.Result(context.Background(), run(job, fmt.Sprintf("run-%d", i), err))
		return
	}
	dir := t.TempDir()
	for i := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHistoryAcrossProcesses$")
		cmd.Env = append(os.Environ(), "HISTORY_TEST_DIR="+dir, "HISTORY_TEST_RUN="+strconv.Itoa(i))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, out)
		}
		recs, err := history.Read(dir, "j", 0)
		if err != nil {
			t.Fatal(err)
		}
		// Limit 3: between 3 and 6 records are kept, the newest first.
		if want := i + 1; len(recs) != want && !(want > 6 && len(recs) >= 3 && len(recs) <= 6) {
			t.Fatalf("after run %d: %d records", i, len(recs))
		}
		if recs[0].RunID != fmt.Sprintf("run-%d", i) {
			t.Errorf("after run %d: newest is %s", i, recs[0].RunID)
		}
		wantOutcome, wantErr := jobs.OutcomeSuccess, ""
		if i%2 == 1 {
			wantOutcome, wantErr = jobs.OutcomeFailure, "bad sql"
		}
		if r := recs[0]; r.Outcome != wantOutcome || r.Error != wantErr || r.Rows() != 42 || r.Duration != 1.5 || r.Attempts != 1 {
			t.Errorf("after run %d: %+v", i, r)
		}
		top, err := history.Read(dir, "j", 2)
		if err != nil || len(top) != min(2, len(recs)) || top[0].RunID != recs[0].RunID || (len(top) > 1 && top[1].RunID != recs[1].RunID) {
			t.Errorf("Read(2) = %+v, %v", top, err)
		}
	}
}

func TestHistoryLimit(t *testing.T) {
	dir := t.TempDir()
	job := &jobs.Job{Name: "j", Location: time.UTC, HistoryLimit: 5}
	rc := &history.Recorder{OutputDir: dir}
	for i := range 23 {
		rc.Result(context.Background(), run(job, fmt.Sprintf("run-%02d", i), nil))
		recs, err := history.Read(dir, "j", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 10 || (i >= 5 && len(recs) < 5) {
			t.Fatalf("after %d runs: %d records, want 5 to 10", i+1, len(recs))
		}
		for k, r := range recs {
			if want := fmt.Sprintf("run-%02d", i-k); r.RunID != want {
				t.Fatalf("after %d runs: record %d is %s, want %s", i+1, k, r.RunID, want)
			}
		}
	}
	// 23 appends with limit 5: trimmed to 5 at the 11th, 17th and 23rd.
	recs, _ := history.Read(dir, "j", 0)
	if len(recs) != 5 {
		t.Errorf("%d records, want 5", len(recs))
	}
	// Without a limit set (a configuration not read by jobs.Load), the default.
	rc.Result(context.Background(), run(&jobs.Job{Name: "k", Location: time.UTC}, "x", nil))
	if recs, _ := history.Read(dir, "k", 0); len(recs) != 1 {
		t.Errorf("job k: %d records", len(recs))
	}
}

func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	job := &jobs.Job{Name: "j", Location: time.UTC, HistoryLimit: 10}
	rc := &history.Recorder{OutputDir: dir}
	rc.Result(context.Background(), run(job, "a", nil))
	rc.Result(context.Background(), run(job, "b", nil))
	// A crash in the middle of the write of a third record.
	f, err := os.OpenFile(path(dir, "j"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, `{"job":"j","run_id":"c","outc`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	recs, err := history.Read(dir, "j", 0)
	if err != nil || len(recs) != 2 || recs[0].RunID != "b" {
		t.Fatalf("Read = %+v, %v; want b, a", recs, err)
	}
	// The next record starts on a line of its own.
	rc.Result(context.Background(), run(job, "d", nil))
	recs, err = history.Read(dir, "j", 0)
	if err != nil || len(recs) != 3 || recs[0].RunID != "d" || recs[1].RunID != "b" {
		t.Fatalf("Read = %+v, %v; want d, b, a", recs, err)
	}
	// A job without history.
	if recs, err := history.Read(dir, "none", 5); err != nil || len(recs) != 0 {
		t.Errorf("Read(none) = %v, %v", recs, err)
	}
}

func TestRecordOfRun(t *testing.T) {
	dir := t.TempDir()
	job := &jobs.Job{Name: "j", Location: time.UTC}
	r := run(job, "a", nil)
	r.Result.Manifest = filepath.Join(dir, "j", "j.manifest.json")
	r.Result.Commit = &jobs.Commit{Files: []output.File{{Path: filepath.Join(dir, "j", "users.csv"), Format: "csv", Size: 10, SHA256: "ab", Rows: 42, Output: "csv"}}}
	r.Result.PostCommit = []*jobs.StepError{{Step: "deliver", Err: errors.New("s3: denied")}}
	rec := record(t, r, dir)
	if rec.Manifest != "j/j.manifest.json" || len(rec.Files) != 1 || rec.Files[0].Path != "j/users.csv" || rec.Files[0].SHA256 != "ab" ||
		len(rec.Steps) != 1 || rec.Steps[0].Error != "s3: denied" || rec.Outcome != jobs.OutcomeSuccess {
		t.Errorf("record = %+v", rec)
	}
	for _, c := range []struct {
		err  error
		want jobs.Outcome
	}{
		{jobs.ErrAlreadyRunning, jobs.OutcomeSkipped},
		{fmt.Errorf("x: %w", context.Canceled), jobs.OutcomeCancelled},
		{fmt.Errorf("x: %w", jobs.ErrExpectation), jobs.OutcomeExpectationFailed},
		{jobs.ErrEmpty, jobs.OutcomeExpectationFailed},
		{errors.New("boom"), jobs.OutcomeFailure},
	} {
		if got := record(t, run(job, "b", c.err), dir).Outcome; got != c.want {
			t.Errorf("outcome of %v = %s, want %s", c.err, got, c.want)
		}
	}
}

// record records r in the history in dir, and reads it back.
func record(t *testing.T, r jobs.Run, dir string) history.Record {
	t.Helper()
	(&history.Recorder{OutputDir: dir}).Result(context.Background(), r)
	recs, err := history.Read(dir, r.Job.Name, 1)
	if err != nil || len(recs) != 1 {
		t.Fatalf("Read = %v, %v", recs, err)
	}
	return recs[0]
}

// TestRecent: a job with history shows its records, failures included; a
// job without (runs of a joinery before history) its manifests'
// successes; a job with neither, nothing.
func TestRecent(t *testing.T) {
	dir := t.TempDir()
	job := &jobs.Job{Name: "j", Location: time.UTC}
	rc := &history.Recorder{OutputDir: dir}
	rc.Result(context.Background(), run(job, "ok", nil))
	rc.Result(context.Background(), run(job, "bad", errors.New("bad sql")))
	logical := time.Date(2026, 11, 3, 6, 0, 0, 0, time.UTC)
	m := output.Manifest{Job: "old", RunID: "old-1", Logical: logical, Started: logical, Duration: 2,
		Files: []output.ManifestFile{{Path: "old/r.csv", Format: "csv", Rows: 1}}}
	data, _ := json.Marshal(m)
	if err := os.MkdirAll(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old", output.ManifestName("old", logical, nil)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := output.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := history.Recent(d, []string{"j", "old", "none"}, 1)
	if len(got) != 3 || got[0].Err != nil || got[1].Err != nil || got[2].Err != nil {
		t.Fatalf("Recent = %+v", got)
	}
	if r := got[0].Records; len(r) != 1 || r[0].RunID != "bad" || r[0].Outcome != jobs.OutcomeFailure {
		t.Errorf("j: %+v, want its failure, the newest", r)
	}
	if r := got[1].Records; len(r) != 1 || r[0].RunID != "old-1" || r[0].Outcome != jobs.OutcomeSuccess || len(r[0].Files) != 1 {
		t.Errorf("old: %+v, want its manifest's run", r)
	}
	if len(got[2].Records) != 0 {
		t.Errorf("none: %+v", got[2].Records)
	}
}
