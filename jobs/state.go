package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/joinery/joinery/output"
)

// jobState is what joinery remembers of a job between processes, in
// <output_dir>/.joinery/<job>.json.
type jobState struct {
	// LastSuccess is the logical time of the last successful run.
	LastSuccess time.Time `json:"last_success_logical_time"`
	FinishedAt  time.Time `json:"finished_at"`
}

func stateName(job string) string { return job + ".json" }

// stateDir is the folder of the jobs' states.
func (c *Config) stateDir() string {
	return filepath.Join(c.OutputPath(), output.StateDir)
}

// readState returns the job's state; a job that never succeeded has the
// zero state.
func readState(d *output.Dir, job string) (jobState, error) {
	var s jobState
	data, err := d.ReadState(stateName(job))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s: %w", d.Abs(filepath.Join(output.StateDir, stateName(job))), err)
	}
	return s, nil
}

// recordSuccess notes a successful run, atomically. A run that succeeded
// for an older logical time (a backfill) leaves a newer record alone.
func recordSuccess(d *output.Dir, job string, logical time.Time) error {
	prev, err := readState(d, job)
	if err == nil && prev.LastSuccess.After(logical) {
		return nil
	}
	data, err := json.MarshalIndent(jobState{LastSuccess: logical, FinishedAt: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	return d.WriteState(stateName(job), append(data, '\n'))
}

// missed returns the latest scheduled time of job within its catch-up
// window before now that has not run successfully, if any.
func (c *Config) missed(job *Job, now time.Time) (time.Time, bool, error) {
	if job.CatchUp <= 0 {
		return time.Time{}, false, nil
	}
	var prev time.Time
	for t := now.Add(-job.CatchUp); ; {
		n := job.sched.Next(t)
		if n.IsZero() || n.After(now) {
			break
		}
		prev, t = n, n
	}
	if prev.IsZero() {
		return prev, false, nil
	}
	d, err := output.OpenDir(c.OutputPath())
	if err != nil {
		return prev, false, err
	}
	defer d.Close()
	st, err := readState(d, job.Name)
	if err != nil {
		return prev, false, err
	}
	return prev.In(job.Location), st.LastSuccess.Before(prev), nil
}
