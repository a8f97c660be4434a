package web

import (
	"fmt"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/output"
)

// Runs are the recorded runs of the jobs, as the status page shows them.
type Runs interface {
	// Recent returns up to n runs of each of jobs, the newest first, in
	// the order of jobs.
	Recent(jobs []string, n int) []JobRuns
}

// JobRuns are the runs Runs.Recent returns of one job.
type JobRuns struct {
	Runs []RunView
	Err  error // the job's runs could not be read
}

// The outcomes of a RunView.
const (
	Succeeded = "succeeded"
	Failed    = "failed"
	Skipped   = "skipped" // the job's lock was held: another run of it was under way
	Cancelled = "cancelled"
)

// RunView is one run as the status page shows it.
type RunView struct {
	RunID   string
	Outcome string // Succeeded, Failed, Skipped or Cancelled
	Error   string // why it failed, was skipped or cancelled
	// NotRetried says why a failed run was not tried again.
	NotRetried string
	// Scheduled is set for a scheduled time the scheduler did not run
	// because the job's previous run was still going (a skip without a
	// run id).
	Scheduled        bool
	Logical, Started time.Time
	// WindowFrom and WindowTo are the run's data window; zero when the
	// job has none.
	WindowFrom, WindowTo time.Time
	Duration             time.Duration
	Attempts             int // 0 when unknown (a run from before history, from its manifest)
	Partial              bool
	Params               []ParamView
	Datasets             []DatasetView
	Files                []FileView
	Warnings             []string
	// FailedSteps are the steps after the commit that failed: the run
	// succeeded, but what they were to do was not done.
	FailedSteps []StepView
	Deliveries  []DeliveryView
}

// ParamView is a parameter value of a run.
type ParamView struct {
	Name, Value string // Value as JSON
}

// StepView is a step after the commit that failed.
type StepView struct {
	Step, Error string
}

// DatasetView is one dataset of a run.
type DatasetView struct {
	Name     string
	Rows     int64
	Duration time.Duration
	Joins    []JoinView // not known for runs from before history
	Warnings []string
}

// JoinView is the diagnosis of one outer join of a dataset: how many rows
// matched, and how many of either side matched nothing.
type JoinView struct {
	Alias, Type                            string
	Matched, LeftUnmatched, RightUnmatched int64
}

// FileView is one file a run wrote.
type FileView struct {
	Path   string // relative to output_dir, with / separators
	Format string
	Size   int64
	Rows   int64
}

// DeliveryView is the delivery of a run to one destination.
type DeliveryView struct {
	Destination, Kind, State string
	Attempts                 int
	LastError                string
}

// HistoryRuns are the runs the run history (jobs/history) records, any
// process's, failures, skips and cancellations included; for a job
// without history (its runs were made by a joinery before history), the
// successes its manifests record. A success's deliveries are its delivery
// ledger's as it is now. Each Recent reads each job's history file once
// and, for the jobs without one, walks output_dir once.
type HistoryRuns struct {
	// OutputDir is where the history is: output_dir as joinery started
	// with it, as for its history.Recorder.
	OutputDir string
}

// Recent returns up to n runs of each of jobs, the newest first.
func (h *HistoryRuns) Recent(jobNames []string, n int) []JobRuns {
	out := make([]JobRuns, len(jobNames))
	dir, err := output.OpenDir(h.OutputDir)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	defer dir.Close()
	for i, runs := range history.Recent(dir, jobNames, n) {
		out[i].Err = runs.Err
		for j := range runs.Records {
			out[i].Runs = append(out[i].Runs, recordView(&runs.Records[j]))
		}
	}
	return out
}

// outcomes are the Outcomes of a RunView by the history's outcome.
var outcomes = map[jobs.Outcome]string{
	jobs.OutcomeSuccess:           Succeeded,
	jobs.OutcomeFailure:           Failed,
	jobs.OutcomeExpectationFailed: Failed, // its error says which expectation
	jobs.OutcomeSkipped:           Skipped,
	jobs.OutcomeCancelled:         Cancelled,
}

// recordView is r as a RunView.
func recordView(r *history.Record) RunView {
	v := RunView{
		RunID: r.RunID, Outcome: outcomes[r.Outcome], Error: r.Error, NotRetried: r.NotRetried, Scheduled: r.Scheduler,
		Logical: r.Logical, Started: r.Started, Duration: seconds(r.Duration), Attempts: r.Attempts, Partial: r.Partial,
		Warnings: r.Warnings,
	}
	if v.Outcome == "" {
		v.Outcome = string(r.Outcome) // an outcome of a newer joinery
	}
	if r.Window != nil {
		v.WindowFrom, v.WindowTo = r.Window.From, r.Window.To
	}
	for _, p := range r.Params {
		v.Params = append(v.Params, ParamView{Name: p.Name, Value: string(p.Value)})
	}
	for _, d := range r.Datasets {
		dv := DatasetView{Name: d.Name, Rows: d.Rows, Duration: seconds(d.Duration), Warnings: d.Warnings}
		for _, j := range d.Joins {
			dv.Joins = append(dv.Joins, JoinView{Alias: j.Alias, Type: j.Type, Matched: j.Matched, LeftUnmatched: j.LeftUnmatched, RightUnmatched: j.RightUnmatched})
		}
		v.Datasets = append(v.Datasets, dv)
	}
	for _, f := range r.Files {
		v.Files = append(v.Files, FileView{Path: f.Path, Format: f.Format, Size: f.Size, Rows: f.Rows})
	}
	for _, s := range r.Steps {
		v.FailedSteps = append(v.FailedSteps, StepView{Step: s.Step, Error: s.Error})
	}
	for _, d := range r.Deliveries {
		v.Deliveries = append(v.Deliveries, DeliveryView{Destination: d.Name, Kind: d.Kind, State: string(d.State), Attempts: d.Attempts, LastError: d.Error})
	}
	return v
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// manifestPaths returns the files of job's runs that its manifests name, by
// path: the only files /files serves.
func manifestPaths(dir *output.Dir, job string) (map[string]bool, error) {
	recorded, _, err := dir.Runs(job)
	if err != nil {
		return nil, fmt.Errorf("read the manifests of %s: %w", job, err)
	}
	paths := make(map[string]bool)
	for _, rm := range recorded {
		for _, f := range rm.Manifest.Files {
			paths[f.Path] = true
		}
	}
	return paths, nil
}
