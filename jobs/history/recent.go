package history

import (
	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// Runs are the runs Recent returns of one job.
type Runs struct {
	Records []Record // the newest first
	Err     error    // the job's history or manifests could not be read
}

// Recent returns the newest n runs of each of jobs (all of them when
// n < 1), in the order of jobs, as joinery history and the status page
// show them: from each job's history in dir; for a job without history
// (its runs were made by a joinery before history), its committed runs
// from their manifests, in one walk of dir for all such jobs. A success
// gets the deliveries of its ledger as it is now (joinery deliver may have
// changed them since the run was recorded).
func Recent(dir *output.Dir, jobNames []string, n int) []Runs {
	out := make([]Runs, len(jobNames))
	var without []string // the jobs without history
	for i, job := range jobNames {
		out[i].Records, out[i].Err = Read(dir.Path(), job, n)
		if out[i].Err == nil && len(out[i].Records) == 0 {
			without = append(without, job)
		}
	}
	if len(without) > 0 {
		manifests, _, err := dir.RunsOf(without)
		for i, job := range jobNames {
			if out[i].Err != nil || len(out[i].Records) > 0 {
				continue
			}
			if err != nil {
				out[i].Err = err
				continue
			}
			out[i].Records = fromManifests(job, manifests[job], n)
		}
	}
	for i := range out {
		for j := range out[i].Records {
			r := &out[i].Records[j]
			if r.Outcome != jobs.OutcomeSuccess || r.RunID == "" {
				continue
			}
			if l, err := delivery.ReadLedger(dir, r.Job, r.RunID); err == nil {
				r.Deliveries = FromLedger(l)
			}
		}
	}
	return out
}

// fromManifests returns the newest n of the committed runs of job that
// runs records, as history records.
func fromManifests(job string, runs []output.RunManifest, n int) []Record {
	var out []Record
	for i, rm := range runs {
		if i == n {
			break
		}
		m := rm.Manifest
		r := Record{Job: job, RunID: m.RunID, Outcome: jobs.OutcomeSuccess, Logical: m.Logical, Started: m.Started,
			Duration: m.Duration, Window: m.Window, Params: m.Params, Partial: m.Partial, Warnings: m.Warnings,
			Manifest: rm.Path}
		for _, d := range m.Datasets {
			r.Datasets = append(r.Datasets, Dataset{Name: d.Name, Rows: d.Rows, Duration: d.Duration})
		}
		for _, f := range m.Files {
			r.Files = append(r.Files, File{Path: f.Path, Output: f.Output, Format: f.Format, Size: f.Size, SHA256: f.SHA256, Rows: f.Rows})
		}
		out = append(out, r)
	}
	return out
}
