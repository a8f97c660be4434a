package schedule

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/joinery/joinery/jobs"
)

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

// missed decides the catch-up of job, of cfg, at now: the latest
// scheduled time in (now - catch_up, now] that is newer than the job's
// last successful run (cfg.LastSuccess, which every run records), if any,
// runs; the missed times before it (since that run) are
// dropped, and listed with the reason.
//
// Without any record of a successful run (a new job, or state and
// manifests lost), only the times within catch_up are considered: there is
// nothing to say which earlier ones were missed.
//
// An @every schedule counts from each daemon's start: its times before
// this start are those of the last successful run's daemon, that run's
// time and every interval after it. Without a record of one there are
// none, and times counted from now - catch_up would be a time missed at
// every restart.
//
// A job with jitter starts each scheduled time its delay later: a time
// whose start is still ahead at now is not missed (the loop starts it; see
// cronLoop.start), and catch_up counts from the start. Both come from
// taking the decision at now - delay.
func missed(cfg *jobs.Config, job *jobs.Job, now time.Time) (catchUp, error) {
	now = now.Add(-job.Delay())
	cu := catchUp{
		Older:      dropped{Why: fmt.Sprintf("older than catch_up (%s)", job.CatchUp)},
		Superseded: dropped{Why: "only the latest missed time within catch_up is caught up"},
	}
	if job.CatchUp <= 0 {
		return cu, nil
	}
	var err error
	cu.Last, cu.Warnings, err = cfg.LastSuccess(job.Name)
	if err != nil {
		return cu, err
	}
	every := job.Every()
	if every && cu.Last.IsZero() {
		return cu, nil
	}
	from := now.Add(-job.CatchUp)
	t := from
	if every {
		t = cu.Last // the times of its daemon
	}
	if !cu.Last.IsZero() && cu.Last.Before(from) {
		// The missed times older than catch_up, counted up to a bound.
		for t = cu.Last; ; {
			n := job.NextRun(t)
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
		if !every {
			t = from
		}
	}
	var latest time.Time
	for {
		n := job.NextRun(t)
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
func (cu *catchUp) log(log *slog.Logger, job *jobs.Job) {
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
