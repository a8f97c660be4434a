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

// lastSuccess returns the logical time of job's last successful run: the
// newer of what its state records and what its manifests do, so that a
// state that is lost, corrupt or could not be written (a full disk, a
// read-only folder) neither disables catch-up nor has it run again what
// ran. What cannot be read is a warning.
func lastSuccess(d *output.Dir, job string) (time.Time, []string) {
	var warnings []string
	st, err := readState(d, job)
	if err != nil {
		warnings = append(warnings, fmt.Sprintf("the job's state cannot be read, its manifests say which runs were made: %v", err))
	}
	last, scanWarns, err := d.LastRun(job)
	warnings = append(warnings, scanWarns...)
	if err != nil {
		warnings = append(warnings, fmt.Sprintf("the job's manifests cannot be read: %v", err))
	}
	if last.After(st.LastSuccess) {
		return last, warnings
	}
	return st.LastSuccess, warnings
}

// LastSuccess returns the logical time of job's last successful run, as
// lastSuccess reads it from the output folder (the zero time when none is
// known), and what could not be read. The error is the output folder's,
// when it cannot be opened.
func (c *Config) LastSuccess(job string) (time.Time, []string, error) {
	d, err := output.OpenDir(c.OutputPath())
	if err != nil {
		return time.Time{}, nil, err
	}
	defer d.Close()
	last, warnings := lastSuccess(d, job)
	return last, warnings, nil
}
