package jobs

import (
	"fmt"
	"hash/fnv"
	"time"
)

// Jitter (the job's jitter, or the configuration's) spreads the scheduled
// runs of many jobs, and of many joinery schedule daemons sharing one
// configuration, over time instead of starting them all at :00. Each
// scheduled time t of a job starts at t + Delay(): the same delay for every
// run of the job and on every daemon (it comes from the job's name alone),
// so the daemons still reach for the same run at the same moment and the
// job's run exclusion decides which one runs it. The run's logical time
// stays t: windows, file names and history are those of t.

// Delay returns how long after each scheduled time the scheduler starts
// the job's run: a whole number of seconds in [0, jitter), from an FNV-1a
// hash of the job's name; 0 without jitter.
func (j *Job) Delay() time.Duration {
	if j.jitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(j.Name))
	// ceil(jitter) seconds: the largest delay, n-1 seconds, is still
	// below the jitter.
	n := uint64((j.jitter + time.Second - 1) / time.Second)
	return time.Duration(h.Sum64()%n) * time.Second
}

// NextStart returns the job's first scheduled run that starts after t:
// its scheduled (logical) time, in the job's zone, and the time it starts,
// logical + Delay. Both are zero when the schedule has no more times.
func (j *Job) NextStart(t time.Time) (logical, start time.Time) {
	d := j.Delay()
	logical = j.sched.Next(t.Add(-d))
	if logical.IsZero() {
		return logical, logical
	}
	return logical.In(j.Location), logical.Add(d).In(j.Location)
}

// jitterSamples is how many scheduled times shortestInterval looks at at
// most: more than a year of a daily job (both daylight saving changes of
// its zone), weeks of an hourly one. About 0.6 ms for a daily job.
const jitterSamples = 400

// shortestInterval returns the shortest time between two consecutive
// scheduled times of the job among its first jitterSamples times from
// 2026 on, in its zone, within two years (a fixed start, so that a
// configuration does not become invalid as time passes); 0 when there are
// fewer than two.
func (j *Job) shortestInterval() time.Duration {
	var shortest time.Duration
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, j.Location)
	until := from.AddDate(2, 0, 0)
	prev := j.sched.Next(from)
	for range jitterSamples {
		if prev.IsZero() || prev.After(until) {
			break
		}
		next := j.sched.Next(prev)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(prev); shortest == 0 || gap < shortest {
			shortest = gap
		}
		prev = next
	}
	return shortest
}

// jitter validates the job's jitter (at p.jitter) and sets the one in
// effect: its own, or the configuration's def (at the top level's
// jitter). A jitter is 0 (none) or at least 1s, and shorter than the
// shortest interval between the job's scheduled times, so that a run
// always starts before the next scheduled time does.
func (v validator) jitter(p string, j *Job, def time.Duration) {
	path, jit := "jitter", def
	if j.Jitter != nil {
		path, jit = p+".jitter", *j.Jitter
	}
	if jit == 0 {
		return
	}
	if jit < time.Second {
		v.failValue(path, jit.String(), "want 0 (no jitter) or at least 1s")
		return
	}
	if j.sched == nil || j.Location == nil {
		return // the schedule's or the zone's problem is reported
	}
	if gap := j.shortestInterval(); gap > 0 && jit >= gap {
		msg := fmt.Sprintf("must be shorter than the shortest interval between the scheduled times of job %s (%s, schedule %q)", j.Name, gap, j.Schedule)
		if path == "jitter" {
			msg += ": give that job a jitter of its own"
		}
		v.failValue(path, jit.String(), "%s", msg)
		return
	}
	j.jitter = jit
}
