package jobs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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
	return filepath.Join(c.outputPath(), output.StateDir)
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

// maxDroppedListed is how many dropped times of each reason catch-up
// logs one by one, the newest; older ones are counted in one record.
const maxDroppedListed = 100

// maxMissedWalked bounds the scheduled times older than catch_up that
// catch-up walks through to count them (a minutely job off for a year has
// half a million): past it, the count is a lower bound.
const maxMissedWalked = 100_000

// catchUp is what the scheduler does, when it starts, about the scheduled
// times a job missed while joinery was not running.
type catchUp struct {
	Run  time.Time // the missed time to run now; zero for none
	Last time.Time // the logical time of the last successful run; zero when none is known
	// Older are the missed times older than catch_up, Superseded those
	// within it but older than Run: neither is run.
	Older, Superseded dropped
	Warnings          []string // what could not be read, and what was used instead
}

// dropped are missed times that catch-up does not run, for one reason.
type dropped struct {
	Why     string
	Count   int         // how many (at least, when Capped)
	Capped  bool        // there were more than maxMissedWalked
	Oldest  time.Time   // the oldest
	Newest  []time.Time // the newest, at most maxDroppedListed, oldest first
	listing []time.Time
}

func (d *dropped) add(t time.Time) {
	if d.Count == 0 {
		d.Oldest = t
	}
	d.Count++
	d.listing = append(d.listing, t)
	if len(d.listing) >= 2*maxDroppedListed {
		d.listing = append(d.listing[:0], d.listing[len(d.listing)-maxDroppedListed:]...)
	}
	d.Newest = d.listing[max(0, len(d.listing)-maxDroppedListed):]
}

// missed decides the catch-up of job at now: the latest scheduled time
// in (now - catch_up, now] that is newer than the job's last successful
// run, if any, runs; the missed times before it (since that run) are
// dropped, and listed with the reason.
//
// Without any record of a successful run (a new job, or state and
// manifests lost), only the times within catch_up are considered: there is
// nothing to say which earlier ones were missed.
func (c *Config) missed(job *Job, now time.Time) (catchUp, error) {
	cu := catchUp{
		Older:      dropped{Why: fmt.Sprintf("older than catch_up (%s)", job.CatchUp)},
		Superseded: dropped{Why: "only the latest missed time within catch_up is caught up"},
	}
	if job.CatchUp <= 0 {
		return cu, nil
	}
	d, err := output.OpenDir(c.outputPath())
	if err != nil {
		return cu, err
	}
	defer d.Close()
	cu.Last, cu.Warnings = lastSuccess(d, job.Name)
	from := now.Add(-job.CatchUp)
	t := from
	if !cu.Last.IsZero() && cu.Last.Before(from) {
		// The missed times older than catch_up, counted up to a bound.
		for t = cu.Last; ; {
			n := job.sched.Next(t)
			if n.IsZero() || n.After(from) {
				break
			}
			if cu.Older.Count == maxMissedWalked {
				cu.Older.Capped = true
				break
			}
			cu.Older.add(n.In(job.Location))
			t = n
		}
		t = from
	}
	var latest time.Time
	for {
		n := job.sched.Next(t)
		if n.IsZero() || n.After(now) {
			break
		}
		if n.After(cu.Last) {
			if !latest.IsZero() {
				cu.Superseded.add(latest)
			}
			latest = n.In(job.Location)
		}
		t = n
	}
	cu.Run = latest
	return cu, nil
}

// log logs the catch-up of job: what could not be read, every missed time
// dropped and why (the newest maxDroppedListed of each reason one by one,
// older ones in one record), and the run it makes.
func (cu *catchUp) log(log *slog.Logger, job *Job) {
	for _, w := range cu.Warnings {
		log.Warn("catch-up: " + w)
	}
	stamp := func(t time.Time) string { return t.In(job.Location).Format(time.RFC3339) }
	for _, d := range []*dropped{&cu.Older, &cu.Superseded} {
		if rest := d.Count - len(d.Newest); rest > 0 {
			attrs := []any{"count", rest, "oldest", stamp(d.Oldest), "reason", d.Why}
			if d.Capped {
				attrs = append(attrs, "count_is_at_least", true)
			}
			log.Warn(fmt.Sprintf("catch-up: %d older missed runs dropped", rest), attrs...)
		}
		for _, t := range d.Newest {
			log.Warn("catch-up: missed run dropped", "logical_time", stamp(t), "reason", d.Why)
		}
	}
	if cu.Run.IsZero() {
		return
	}
	last := "none recorded"
	if !cu.Last.IsZero() {
		last = stamp(cu.Last)
	}
	log.Info("catching up a missed run", "logical_time", stamp(cu.Run), "last_success", last)
}
