package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// Runs are the recorded runs of the jobs, as the status page shows them.
type Runs interface {
	// Recent returns up to n runs of job, the newest first.
	Recent(job string, n int) ([]RunView, error)
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
	RunID            string
	Outcome          string // Succeeded, Failed, Skipped or Cancelled
	Error            string // why it failed, was skipped or cancelled
	Logical, Started time.Time
	// WindowFrom and WindowTo are the run's data window; zero when the
	// job has none.
	WindowFrom, WindowTo time.Time
	Duration             time.Duration
	Attempts             int // 0 when unknown (a run of another process, from its manifest)
	Partial              bool
	Datasets             []DatasetView
	Files                []FileView
	Warnings             []string
	Deliveries           []DeliveryView
}

// DatasetView is one dataset of a run.
type DatasetView struct {
	Name     string
	Rows     int64
	Duration time.Duration
	Joins    []JoinView // known for the runs of this process only
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
	Destination, State string
	Attempts           int
	LastError          string
}

// Memory keeps the results of the last runs of each job made by this
// process, failures included (manifests record successes only): its
// Result is a jobs.Hooks.Result.
type Memory struct {
	limit int
	mu    sync.Mutex
	runs  map[string][]RunView // by job, oldest first
}

// NewMemory returns a Memory of the last limit runs of each job.
func NewMemory(limit int) *Memory {
	return &Memory{limit: max(limit, 1), runs: make(map[string][]RunView)}
}

// Result records run's result; see jobs.Hooks.Result.
func (m *Memory) Result(_ context.Context, run jobs.Run) {
	v := resultView(run.Result)
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := append(m.runs[run.Job.Name], v)
	if len(rs) > m.limit {
		rs = slices.Delete(rs, 0, len(rs)-m.limit)
	}
	m.runs[run.Job.Name] = rs
}

// recent returns the runs of job it keeps, the newest first.
func (m *Memory) recent(job string) []RunView {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.runs[job])
	slices.Reverse(out)
	return out
}

// resultView is res as a RunView.
func resultView(res *jobs.Result) RunView {
	v := RunView{
		RunID: res.RunID, Logical: res.Logical, Started: res.Started, Duration: res.Duration,
		Attempts: res.Attempts, Partial: res.Partial, Warnings: slices.Clone(res.Warnings),
	}
	if res.Window != nil {
		v.WindowFrom, v.WindowTo = res.Window.Start, res.Window.End
	}
	switch {
	case res.Err == nil:
		v.Outcome = Succeeded
	case errors.Is(res.Err, jobs.ErrAlreadyRunning):
		v.Outcome = Skipped
	case errors.Is(res.Err, context.Canceled):
		v.Outcome = Cancelled
	default:
		v.Outcome = Failed
	}
	if res.Err != nil {
		v.Error = res.Err.Error()
	}
	for _, e := range res.PostCommit {
		v.Warnings = append(v.Warnings, "after the commit: "+e.Error())
	}
	for _, d := range res.Datasets {
		dv := DatasetView{Name: d.Name, Rows: d.Rows, Duration: d.Duration, Warnings: slices.Clone(d.Warnings)}
		for _, j := range d.Joins {
			dv.Joins = append(dv.Joins, JoinView{Alias: j.Alias, Type: j.Type, Matched: j.Matched, LeftUnmatched: j.LeftUnmatched, RightUnmatched: j.RightUnmatched})
		}
		v.Datasets = append(v.Datasets, dv)
	}
	if res.Commit != nil && res.Commit.Manifest != nil {
		v.Files = manifestFiles(res.Commit.Manifest)
	}
	return v
}

// manifestView is the run m records, a success.
func manifestView(m *output.Manifest) RunView {
	v := RunView{
		RunID: m.RunID, Outcome: Succeeded, Logical: m.Logical, Started: m.Started,
		Duration: seconds(m.Duration), Partial: m.Partial, Warnings: slices.Clone(m.Warnings),
		Files: manifestFiles(m),
	}
	if m.Window != nil {
		v.WindowFrom, v.WindowTo = m.Window.From, m.Window.To
	}
	for _, d := range m.Datasets {
		v.Datasets = append(v.Datasets, DatasetView{Name: d.Name, Rows: d.Rows, Duration: seconds(d.Duration)})
	}
	return v
}

func manifestFiles(m *output.Manifest) []FileView {
	var out []FileView
	for _, f := range m.Files {
		out = append(out, FileView{Path: f.Path, Format: f.Format, Size: f.Size, Rows: f.Rows})
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// ManifestRuns are the runs the manifests under output_dir record (the
// successes, of any process), with their delivery ledgers, and the runs
// of this process that Memory kept (failures too, and the join
// diagnostics that manifests do not record).
type ManifestRuns struct {
	// Config is the configuration in use, for its output_dir.
	Config func() *jobs.Config
	Memory *Memory
}

// Recent returns up to n runs of job, the newest start first.
func (mr *ManifestRuns) Recent(job string, n int) ([]RunView, error) {
	dir, err := output.OpenDir(mr.Config().OutputPath())
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	recorded, _, err := dir.Runs(job)
	if err != nil {
		return nil, err
	}
	var kept []RunView
	if mr.Memory != nil {
		kept = mr.Memory.recent(job)
	}
	byID := make(map[string]int, len(kept))
	for i, v := range kept {
		if v.RunID != "" {
			byID[v.RunID] = i
		}
	}
	runs := kept
	for _, rm := range recorded {
		mv := manifestView(&rm.Manifest)
		if i, ok := byID[mv.RunID]; ok && mv.RunID != "" {
			runs[i].Files = mv.Files // what the manifest says is there now
			continue
		}
		runs = append(runs, mv)
	}
	slices.SortStableFunc(runs, func(a, b RunView) int { return cmp.Compare(b.Started.UnixNano(), a.Started.UnixNano()) })
	if len(runs) > n {
		runs = runs[:n]
	}
	for i := range runs {
		if runs[i].Outcome != Succeeded || runs[i].RunID == "" {
			continue
		}
		l, err := delivery.ReadLedger(dir, job, runs[i].RunID)
		if err != nil {
			continue // not delivered (no destinations, or not yet)
		}
		for _, e := range l.Destinations {
			runs[i].Deliveries = append(runs[i].Deliveries, DeliveryView{Destination: e.Name, State: string(e.State), Attempts: e.Attempts, LastError: e.LastError})
		}
	}
	return runs, nil
}

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
