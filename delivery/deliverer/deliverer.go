// Package deliverer plugs delivery into runs: the "deliver" step after a
// run's commit (jobs.Step), the notifications of runs that failed or
// were skipped (the jobs.Hooks Result hook) and of the scheduler's own
// skips and missed times, and the resumption of pending deliveries. It
// is the one package that knows both jobs and delivery: it turns a
// jobs.Run into a delivery.Report, and leaves the rest to a
// delivery.Engine. See docs/DELIVERY.md.
package deliverer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// Deliverer delivers the runs of a configuration.
type Deliverer struct {
	Engine *delivery.Engine
	// OutputDir is output_dir as joinery started with it: where the
	// ledgers of runs without files go (a run with files is delivered
	// from the folder its files are in).
	OutputDir string

	wg sync.WaitGroup // scheduler events being notified
}

// Step is the step after the commit that delivers a run to its job's
// destinations: its failure (a destination that failed or is still
// pending) is the run's Result.PostCommit, and joinery run's exit
// status 4. It then resumes what earlier runs of the job left pending.
func (d *Deliverer) Step() jobs.Step {
	return jobs.Step{Name: "deliver", Run: d.deliver}
}

func (d *Deliverer) deliver(ctx context.Context, run jobs.Run) error {
	if len(run.Job.Deliver) == 0 {
		return nil
	}
	r := FromRun(run, d.OutputDir)
	dir, err := output.OpenDir(r.Dir)
	if err != nil {
		return err
	}
	defer dir.Close()
	_, err = d.Engine.Deliver(ctx, delivery.Delivery{Dir: dir, Specs: run.Job.Deliver, Report: r})
	if rerr := d.Engine.Resume(ctx, dir, run.Job.Name, run.Job.Deliver); rerr != nil {
		run.Log.Warn("pending deliveries of earlier runs are still pending", "error", rerr)
	}
	return err
}

// Result is the Result hook: it notifies the destinations of a run that
// failed (event failure) or was skipped for its job's lock (skipped). A
// run that succeeded was delivered by Step; a cancelled one (joinery
// stopping) notifies nobody, nor does a scheduled run skipped because its
// time has run already (jobs.ErrAlreadyDone: with several daemons, every
// scheduled time but one ends so).
func (d *Deliverer) Result(ctx context.Context, run jobs.Run) {
	res := run.Result
	ev := delivery.EventFailure
	switch {
	case res.Err == nil, errors.Is(res.Err, context.Canceled), errors.Is(res.Err, jobs.ErrAlreadyDone):
		return
	case errors.Is(res.Err, jobs.ErrAlreadyRunning):
		ev = delivery.EventSkipped
	}
	if !uses(run.Job, ev) {
		return
	}
	r := &delivery.Report{Job: res.Job, RunID: res.RunID, Logical: res.Logical, Params: res.Params, Event: ev,
		Error: res.Err.Error(), Attempts: res.Attempts, Warnings: res.Warnings}
	if res.NotRetried != "" && ev == delivery.EventFailure {
		r.Error += " (" + res.NotRetried + ")"
	}
	if res.Window != nil {
		r.WindowStart, r.WindowEnd = res.Window.Start, res.Window.End
	}
	r.Datasets = datasets(res)
	if _, err := d.Engine.Notify(ctx, run.Job.Deliver, r); err != nil {
		run.Log.Error("notification failed", "event", ev, "error", err)
	}
}

// Skipped notifies job's destinations used for skipped that the
// scheduler did not start its run for t: the previous run was still
// going (schedule.Scheduler.OnSkip). It returns at once; Wait waits for
// the notification.
func (d *Deliverer) Skipped(ctx context.Context, job *jobs.Job, t time.Time) {
	if !uses(job, delivery.EventSkipped) {
		return
	}
	d.notifyLater(ctx, job, &delivery.Report{Job: job.Name, Logical: t, Event: delivery.EventSkipped,
		Error: "the previous run of the job was still running"})
}

// Missed notifies job's destinations used for missed of scheduled times
// the scheduler dropped (schedule.Scheduler.OnMissed): count of them, the
// newest listed in times, and why. It returns at once; Wait waits for
// the notification.
func (d *Deliverer) Missed(ctx context.Context, job *jobs.Job, times []time.Time, count int, why string) {
	if !uses(job, delivery.EventMissed) || len(times) == 0 {
		return
	}
	d.notifyLater(ctx, job, &delivery.Report{Job: job.Name, Logical: times[len(times)-1], Event: delivery.EventMissed, Missed: times,
		Error: fmt.Sprintf("%d scheduled run(s) dropped: %s", count, why)})
}

func (d *Deliverer) notifyLater(ctx context.Context, job *jobs.Job, r *delivery.Report) {
	d.wg.Go(func() {
		if _, err := d.Engine.Notify(ctx, job.Deliver, r); err != nil {
			d.log().Error("notification failed", "job", job.Name, "event", r.Event, "error", err)
		}
	})
}

func (d *Deliverer) log() *slog.Logger {
	if d.Engine.Log != nil {
		return d.Engine.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Wait waits for the notifications of scheduler events under way.
func (d *Deliverer) Wait() { d.wg.Wait() }

// ResumeAll resumes the pending deliveries of every job of cfg (joinery
// schedule when it starts). What fails is logged.
func (d *Deliverer) ResumeAll(ctx context.Context, cfg *jobs.Config) {
	dir, err := output.OpenDir(cfg.OutputPath())
	if err != nil {
		d.log().Warn("pending deliveries not resumed", "error", err)
		return
	}
	defer dir.Close()
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		if len(j.Deliver) == 0 {
			continue
		}
		if err := d.Engine.Resume(ctx, dir, j.Name, j.Deliver); err != nil {
			d.log().Warn("pending deliveries still pending", "job", j.Name, "error", err)
		}
	}
}

// uses reports whether a destination of job is used for ev.
func uses(job *jobs.Job, ev delivery.Event) bool {
	for i := range job.Deliver {
		if job.Deliver[i].Uses(ev) {
			return true
		}
	}
	return false
}

// FromRun returns the report of run, a success. Its Dir is the folder
// its files were committed under (outputDir when it wrote none).
func FromRun(run jobs.Run, outputDir string) *delivery.Report {
	res := run.Result
	r := &delivery.Report{
		Job: res.Job, RunID: res.RunID, Logical: res.Logical, Params: res.Params,
		Warnings: res.Warnings, Manifest: res.Manifest, Dir: outputDir, Event: delivery.EventSuccess,
		Attempts: res.Attempts, Datasets: datasets(res), Zone: res.Logical.Location().String(),
	}
	if res.Window != nil {
		r.WindowStart, r.WindowEnd = res.Window.Start, res.Window.End
	}
	c := res.Commit
	if c == nil {
		return r
	}
	for i, f := range c.Files {
		rel := ""
		if c.Manifest != nil && i < len(c.Manifest.Files) {
			rel = c.Manifest.Files[i].Path
		}
		if rel == "" {
			rel = filepath.ToSlash(filepath.Base(f.Path))
		}
		// The folder the files are under: output_dir as the run had it,
		// even when a reload changed it since.
		if dir, ok := strings.CutSuffix(filepath.Clean(f.Path), string(filepath.Separator)+filepath.FromSlash(rel)); ok && i == 0 {
			r.Dir = dir
		}
		r.Files = append(r.Files, delivery.File{File: f, Rel: rel, Output: f.Output})
	}
	return r
}

// datasets returns the datasets of res for reports.
func datasets(res *jobs.Result) []delivery.Dataset {
	var out []delivery.Dataset
	for _, ds := range res.Datasets {
		d := delivery.Dataset{Name: ds.Name, Rows: ds.Rows, Warnings: ds.Warnings}
		for _, j := range ds.Joins {
			d.Joins = append(d.Joins, j.String())
		}
		out = append(out, d)
	}
	return out
}
