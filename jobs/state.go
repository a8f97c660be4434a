package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// jobState is what joinery remembers of a job between processes, in
// <output_dir>/.joinery/<job>.json.
type jobState struct {
	// LastSuccess is the logical time of the last successful run.
	LastSuccess time.Time `json:"last_success_logical_time"`
	FinishedAt  time.Time `json:"finished_at"`
}

// stateDir is the folder of the jobs' states.
func (c *Config) stateDir() string {
	return filepath.Join(c.OutputPath(), ".joinery")
}

func (c *Config) statePath(job string) string {
	return filepath.Join(c.stateDir(), job+".json")
}

// readState returns the job's state; a job that never succeeded has the
// zero state.
func (c *Config) readState(job string) (jobState, error) {
	var s jobState
	data, err := os.ReadFile(c.statePath(job))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s: %w", c.statePath(job), err)
	}
	return s, nil
}

// recordSuccess notes a successful run, atomically (temp file and rename).
// A run that succeeded for an older logical time (a backfill) leaves a newer
// record alone.
func (c *Config) recordSuccess(job string, logical time.Time) error {
	prev, err := c.readState(job)
	if err == nil && prev.LastSuccess.After(logical) {
		return nil
	}
	path := c.statePath(job)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(jobState{LastSuccess: logical, FinishedAt: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+job+".json.tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
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
	st, err := c.readState(job.Name)
	if err != nil {
		return prev, false, err
	}
	return prev.In(job.Location), st.LastSuccess.Before(prev), nil
}
