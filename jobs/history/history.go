// Package history keeps the run history of each job: one record per run,
// whatever its outcome (committed, failed, skipped for the job's lock,
// cancelled), in a JSON Lines file per job under output_dir:
//
//	output_dir/.joinery/history/<job>.jsonl
//
// A Recorder's Result method is the jobs.Hooks Result hook that appends
// the records; Read returns them, newest first, for joinery history and
// the status page of schedule --listen.
//
// Writing: each record is one line, written with one write(2) to the
// file opened with O_APPEND, then fsync'd, under a flock of
// .joinery/history/<job>.lock that joinery run and joinery schedule
// share. When the file holds more than twice the job's history_limit
// records, it is rewritten with the newest history_limit ones (a synced
// temporary file renamed over it), so a file holds between limit and
// 2*limit records and a read returns at most the newest ones asked for.
//
// Crashes: a crash during a write can leave a torn last line (no
// newline, or a part of a record). Read ignores every line that is not a
// whole record; the next append starts on a new line, so only the record
// being written is lost. A crash during a trim leaves the old file whole
// (the rename is atomic), and may leave its temporary file beside it,
// which nothing reads (remove it at leisure). A record is written after the
// run's hooks before it (delivery), so a crash between a run's commit and
// its record loses the record, never the run: the manifest stays.
package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/internal/localtime"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// Record is one run of a job as its history keeps it.
type Record struct {
	Job   string `json:"job"`
	RunID string `json:"run_id"`
	// Outcome is how the run ended: success, failure,
	// expectation_failed, skipped (another run held the job's lock; or,
	// with Scheduler set, the previous run in this process was still
	// going) or cancelled (joinery stopped).
	Outcome jobs.Outcome `json:"outcome"`
	// Error is the run's error, as logged; "" for a success.
	Error string `json:"error,omitempty"`
	// NotRetried says why a failed run was not tried again ("the error is
	// permanent", "gave up after 3 attempts").
	NotRetried string    `json:"not_retried,omitempty"`
	Attempts   int       `json:"attempts"`
	Logical    time.Time `json:"logical_time"` // in the job's zone
	// Window is the window the run covered; nil when the job has none.
	Window  *output.ManifestWindow `json:"window,omitempty"`
	Params  []output.ManifestParam `json:"params,omitempty"`
	Partial bool                   `json:"partial,omitempty"`
	Started time.Time              `json:"started"`
	// Duration is the last attempt's, in seconds.
	Duration float64   `json:"duration_seconds"`
	Datasets []Dataset `json:"datasets,omitempty"`
	// Warnings are the run's (values the outputs had to change, files
	// retention left alone); each dataset has its own.
	Warnings []string `json:"warnings,omitempty"`
	// Manifest is the run's manifest, relative to output_dir; "" when it
	// wrote none.
	Manifest string `json:"manifest,omitempty"`
	Files    []File `json:"files,omitempty"`
	// Steps are the steps after the commit that failed (a delivery):
	// the run succeeded, but what they were to do was not done.
	Steps []StepFailure `json:"failed_steps,omitempty"`
	// Deliveries are the run's destinations as its delivery ledger had
	// them when the run ended (joinery history reads the ledger again,
	// for what a later joinery deliver changed).
	Deliveries []Delivery `json:"deliveries,omitempty"`
	// Scheduler is set for a scheduled time the scheduler did not run
	// because the job's previous run was still going: no run, no run id.
	Scheduler bool `json:"scheduler,omitempty"`
}

// Dataset is what one dataset of a run produced.
type Dataset struct {
	Name     string   `json:"name"`
	Rows     int64    `json:"rows"`
	Duration float64  `json:"duration_seconds"`
	Joins    []Join   `json:"joins,omitempty"` // one per diagnosed outer join
	Warnings []string `json:"warnings,omitempty"`
}

// Join is the diagnosis of one outer join (see queries.JoinStats).
type Join struct {
	Alias          string `json:"alias"`
	Type           string `json:"type"`
	Matched        int64  `json:"matched"`
	LeftUnmatched  int64  `json:"left_unmatched"`
	RightUnmatched int64  `json:"right_unmatched"`
	Text           string `json:"text"` // as logs and notifications word it
}

// File is one report a run committed.
type File struct {
	Path   string `json:"path"` // relative to output_dir, with slashes
	Output string `json:"output,omitempty"`
	Format string `json:"format"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows"`
}

// StepFailure is a step after the commit that failed.
type StepFailure struct {
	Step  string `json:"step"`
	Error string `json:"error"`
}

// Delivery is where the delivery of a run to one destination stood.
type Delivery struct {
	Name     string         `json:"name"`
	Kind     string         `json:"kind"`
	State    delivery.State `json:"state"`
	Attempts int            `json:"attempts"`
	Error    string         `json:"error,omitempty"` // secrets redacted, as in the ledger
}

// Rows is the number of rows of the run's datasets.
func (r *Record) Rows() int64 {
	var n int64
	for _, d := range r.Datasets {
		n += d.Rows
	}
	return n
}

func fileName(job string) string { return path.Join("history", job+".jsonl") }
func lockName(job string) string { return path.Join("history", job+".lock") }

// Recorder records the runs of jobs in their histories. Its Result
// method is a jobs.Hooks Result hook; it is safe for concurrent use.
type Recorder struct {
	// OutputDir is output_dir as joinery started with it: where the
	// histories are (a reload that changes output_dir does not move them).
	OutputDir string
}

// Result records run (the jobs.Hooks Result hook). A failure to record
// is logged as a warning: it changes nothing about the run.
func (rc *Recorder) Result(ctx context.Context, run jobs.Run) {
	rec := fromRun(run, rc.OutputDir)
	if err := appendRecord(rc.OutputDir, rec, run.Job.HistoryLimit); err != nil {
		run.Log.Warn("run history not recorded", "error", err)
	}
}

// Skipped records a scheduled time t of job that the scheduler did not
// run because the job's previous run was still going
// (schedule.Scheduler.OnSkip). A failure is returned, for the caller to log.
func (rc *Recorder) Skipped(job *jobs.Job, t time.Time) error {
	now := time.Now()
	rec := &Record{Job: job.Name, Outcome: jobs.OutcomeSkipped, Error: "the previous run of the job was still running",
		Logical: t.In(job.Location), Started: now, Scheduler: true}
	return appendRecord(rc.OutputDir, rec, job.HistoryLimit)
}

// fromRun returns the record of run; outputDir is where its files and
// delivery ledger are.
func fromRun(run jobs.Run, outputDir string) *Record {
	res := run.Result
	rec := &Record{
		Job: res.Job, RunID: res.RunID, Outcome: res.Outcome(), NotRetried: res.NotRetried, Attempts: res.Attempts,
		Logical: res.Logical, Partial: res.Partial, Started: res.Started, Duration: res.Duration.Seconds(),
		Warnings: res.Warnings,
	}
	if res.Err != nil {
		rec.Error = res.Err.Error()
	}
	if res.Window != nil {
		rec.Window = &output.ManifestWindow{From: res.Window.Start.In(run.Job.Location), To: res.Window.End.In(run.Job.Location)}
	}
	if len(res.Params) > 0 {
		rec.Params = output.ManifestParams(res.Params)
	}
	for _, ds := range res.Datasets {
		d := Dataset{Name: ds.Name, Rows: ds.Rows, Duration: ds.Duration.Seconds(), Warnings: ds.Warnings}
		for _, j := range ds.Joins {
			d.Joins = append(d.Joins, Join{Alias: j.Alias, Type: j.Type, Matched: j.Matched,
				LeftUnmatched: j.LeftUnmatched, RightUnmatched: j.RightUnmatched, Text: j.String()})
		}
		rec.Datasets = append(rec.Datasets, d)
	}
	if res.Manifest != "" {
		rec.Manifest = rel(outputDir, res.Manifest)
	}
	if c := res.Commit; c != nil {
		for _, f := range c.Files {
			rec.Files = append(rec.Files, File{Path: rel(outputDir, f.Path), Output: f.Output, Format: f.Format,
				Size: f.Size, SHA256: f.SHA256, Rows: f.Rows})
		}
	}
	for _, s := range res.PostCommit {
		rec.Steps = append(rec.Steps, StepFailure{Step: s.Step, Error: s.Err.Error()})
	}
	if res.Err == nil && len(run.Job.Deliver) > 0 {
		rec.Deliveries = deliveries(outputDir, res.Job, res.RunID)
	}
	return rec
}

// rel returns p relative to dir, with slashes; p itself when it is not
// under dir.
func rel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil && filepath.IsLocal(r) {
		return filepath.ToSlash(r)
	}
	return p
}

// deliveries returns the destinations of the run's delivery ledger; none
// when it has none (yet).
func deliveries(outputDir, job, runID string) []Delivery {
	dir, err := output.OpenDir(outputDir)
	if err != nil {
		return nil
	}
	defer dir.Close()
	l, err := delivery.ReadLedger(dir, job, runID)
	if err != nil {
		return nil
	}
	return FromLedger(l)
}

// FromLedger returns the destinations of a delivery ledger.
func FromLedger(l *delivery.Ledger) []Delivery {
	out := make([]Delivery, 0, len(l.Destinations))
	for _, e := range l.Destinations {
		out = append(out, Delivery{Name: e.Name, Kind: e.Kind, State: e.State, Attempts: e.Attempts, Error: e.LastError})
	}
	return out
}

// appendRecord adds rec to its job's history in outputDir, which keeps the
// newest limit records (at most twice as many between trims; see the
// package documentation). A limit below 1 is jobs.DefaultHistoryLimit.
func appendRecord(outputDir string, rec *Record, limit int) error {
	if limit < 1 {
		limit = jobs.DefaultHistoryLimit
	}
	// Times exact, as manifests write them (localtime.Exact).
	c := *rec
	c.Logical, c.Started = localtime.Exact(c.Logical), localtime.Exact(c.Started)
	if c.Window != nil {
		c.Window = &output.ManifestWindow{From: localtime.Exact(c.Window.From), To: localtime.Exact(c.Window.To)}
	}
	line, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	dir, err := output.OpenDir(outputDir)
	if err != nil {
		return err
	}
	defer dir.Close()
	unlock, _, err := dir.LockState(lockName(rec.Job), true)
	if err != nil {
		return err
	}
	defer unlock()
	name := filepath.Join(output.StateDir, fileName(rec.Job))
	f, err := dir.Root().OpenFile(name, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return fmt.Errorf("history of %s: %w", rec.Job, err)
	}
	defer f.Close()
	// After a torn last line, start on a line of its own.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		var last [1]byte
		if _, err := f.ReadAt(last[:], st.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("history of %s: %w", rec.Job, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("history of %s: %w", rec.Job, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("history of %s: %w", rec.Job, err)
	}
	if bytes.Count(data, []byte{'\n'}) <= 2*limit {
		return nil
	}
	lines := records(data)
	if len(lines) > limit {
		lines = lines[len(lines)-limit:]
	}
	var buf bytes.Buffer
	for _, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	return dir.WriteState(fileName(rec.Job), buf.Bytes())
}

// records returns the lines of data that are whole records, oldest
// first: a torn or otherwise unreadable line is left out.
func records(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		line, rest, found := bytes.Cut(data, []byte{'\n'})
		data = rest
		if !found { // torn: the write of the last record did not end
			break
		}
		if json.Valid(line) && len(bytes.TrimSpace(line)) > 0 {
			out = append(out, line)
		}
	}
	return out
}

// Read returns the newest n records of job's history in outputDir
// (output_dir), newest first; all of them when n < 1. A job without
// history has none, and no error. Lines that are not whole records (a
// torn last line after a crash) are skipped.
func Read(outputDir, job string, n int) ([]Record, error) {
	data, err := os.ReadFile(filepath.Join(outputDir, output.StateDir, filepath.FromSlash(fileName(job))))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	lines := records(data)
	var out []Record
	for _, l := range slices.Backward(lines) {
		if n > 0 && len(out) == n {
			break
		}
		var r Record
		if json.Unmarshal(l, &r) != nil {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}
