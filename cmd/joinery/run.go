package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverer"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/metrics"
)

// checkPartial refuses runs whose window (or logical time, for a job
// without a window) is not over at now, unless --allow-partial was given:
// such a report holds part of its data only, and by hand that is more
// often a typo than a wish.
func (rf *runFlags) checkPartial(selected []*jobs.Job, plans [][]jobs.Plan, now time.Time) error {
	if rf.allowPartial {
		return nil
	}
	for i, j := range selected {
		for _, p := range plans[i] {
			if !p.NotOver(now) {
				continue
			}
			what := "logical time " + p.Logical.Format(time.RFC3339) + " is in the future"
			if p.Window != nil {
				what = fmt.Sprintf("window [%s, %s) is not over", p.Window.Start.Format(time.RFC3339), p.Window.End.Format(time.RFC3339))
			}
			return usageErr("job %s: %s (now is %s): its report would hold part of its data only; give --allow-partial to write it anyway (marked partial: it moves no latest name and does not count as the job's last success)",
				j.Name, what, now.In(j.Location).Format(time.RFC3339))
		}
	}
	return nil
}

// cmdRun is joinery run: each planned run of the selected jobs, one after
// another, with a summary of each on stdout.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var prof profiles
	var allowPartial, noDeliver bool
	var metricsFile, pushgateway string
	c, rf, cfg, selected, err := jobCommand("run", "run JOB... | --all [--at TIME | --from T --to T [--once]] [--allow-partial] [--no-deliver] [--param NAME=VALUE]... [--metrics-file PATH] [--pushgateway URL] [--cpuprofile FILE] [--memprofile FILE] [--trace FILE]", args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&noDeliver, "no-deliver", false, "write the reports only: no delivery, no notification (joinery deliver sends them later)")
		fs.StringVar(&metricsFile, "metrics-file", "", "after the runs, write their metrics to `PATH` (*.prom) for node_exporter's textfile collector; a failure is a warning")
		fs.StringVar(&pushgateway, "pushgateway", "", "after the runs, push their metrics to the Pushgateway at `URL` (job joinery, grouped by job_name); a failure is a warning")
		fs.StringVar(&prof.cpu, "cpuprofile", "", "write a CPU profile of the run to `FILE` (for go tool pprof)")
		fs.StringVar(&prof.mem, "memprofile", "", "write an allocation profile of the run to `FILE` when it ends")
		fs.StringVar(&prof.trace, "trace", "", "write an execution trace of the run to `FILE` (for go tool trace)")
		fs.BoolVar(&allowPartial, "allow-partial", false, "run a window that is not over yet (--at or --to in the future): the report is marked partial")
	})
	if err != nil {
		return err
	}
	plans, err := rf.allPlans(selected)
	if err != nil {
		return err
	}
	rf.allowPartial = allowPartial
	if err := rf.checkPartial(selected, plans, time.Now()); err != nil {
		return err
	}
	// Before connecting: a folder the reports cannot go to fails every run.
	if err := cfg.CheckOutputDir(); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	tuneGC()
	stopProfiles, err := prof.start()
	if err != nil {
		return err
	}
	defer func() {
		if perr := stopProfiles(); perr != nil && err == nil {
			err = perr
		}
	}()
	// A database that is not up yet fails the command at once, unless a
	// job would retry: then its runs wait for it as their retries allow.
	retries := false
	for _, j := range selected {
		retries = retries || j.Retries > 0
	}
	log, db, closeDB, err := c.connect(ctx, cfg, true, retries)
	if err != nil {
		return err
	}
	defer closeDB()

	var d *deliverer.Deliverer
	if !noDeliver {
		d = newDeliverer(cfg, log)
	}
	m := newCollector(cfg, selected, metrics.Options{}, log)
	r := newRunner(cfg, db, c.control, log, d, m)
	if isTerminal(stderr) {
		r.Progress = newProgress(stderr).update
	}
	t := tally{jobs: len(selected)}
	for _, ps := range plans {
		t.total += len(ps)
	}
	for i, j := range selected {
		for _, p := range plans[i] {
			if ctx.Err() != nil {
				break
			}
			res := r.RunWithRetries(ctx, j, p)
			printResult(stdout, res)
			t.add(ctx, j, res)
		}
	}
	exportMetrics(ctx, m, metricsFile, pushgateway, selected, log)
	return t.err(ctx)
}

// tally sorts the runs of joinery run by how they ended, for its exit
// status.
type tally struct {
	failed, locked, cancelled []string
	afterCommit               []string // committed, with a step after the commit failed
	runs, total, jobs         int      // runs made, runs planned, jobs selected
}

// add counts res, the result of a run of j made under ctx.
func (t *tally) add(ctx context.Context, j *jobs.Job, res *jobs.Result) {
	t.runs++
	switch {
	case errors.Is(res.Err, jobs.ErrAlreadyRunning):
		t.locked = append(t.locked, j.Name)
	case errors.Is(res.Err, jobs.ErrAlreadyDone):
		// Scheduled runs only: joinery run never skips for it.
	case cancelledBy(ctx, j, res):
		t.cancelled = append(t.cancelled, runName(res))
	case res.Err != nil:
		t.failed = append(t.failed, runName(res))
	case len(res.PostCommit) > 0:
		steps := make([]string, len(res.PostCommit))
		for i, e := range res.PostCommit {
			steps[i] = e.Step
		}
		t.afterCommit = append(t.afterCommit, fmt.Sprintf("%s (%s)", runName(res), strings.Join(steps, ", ")))
	}
}

// err is the error joinery run ends with, and so its exit status: 130
// when a signal stopped a run or kept runs from starting, else 1 when a
// run failed, else 4 when a run committed its reports but a step after
// its commit (see jobs.Hooks) failed, else 3 when a run was skipped for
// its job's lock.
func (t *tally) err(ctx context.Context) error {
	var afterCommit string
	if len(t.afterCommit) > 0 {
		afterCommit = "committed, but a step after the commit failed: " + strings.Join(t.afterCommit, ", ")
	}
	// A signal that came after a run's commit point changes nothing about
	// that run: it happened. Only runs it stopped, or kept from starting,
	// make the exit status 130.
	if len(t.cancelled) > 0 || t.runs < t.total {
		msg := fmt.Sprintf("interrupted (%v)", context.Cause(ctx))
		if len(t.cancelled) > 0 {
			msg += fmt.Sprintf(": cancelled %s", strings.Join(t.cancelled, ", "))
		}
		if t.runs < t.total {
			msg += fmt.Sprintf("; %d of %d runs not started", t.total-t.runs, t.total)
		}
		if len(t.failed) > 0 {
			msg += fmt.Sprintf("; failed: %s", strings.Join(t.failed, ", "))
		}
		if afterCommit != "" {
			msg += "; " + afterCommit
		}
		return &exitError{code: exitInterrupted, err: errors.New(msg)}
	}
	switch {
	case len(t.failed) > 0:
		what := "runs"
		if t.runs == t.jobs {
			what = "jobs"
		}
		msg := fmt.Sprintf("%d of %d %s failed: %s", len(t.failed), t.runs, what, strings.Join(t.failed, ", "))
		if afterCommit != "" {
			msg += "; " + afterCommit
		}
		return errors.New(msg)
	case afterCommit != "":
		return &exitError{code: exitAfterCommit, err: errors.New(afterCommit)}
	case len(t.locked) > 0:
		return &exitError{code: exitLocked, err: fmt.Errorf("skipped, another run in progress: %s", strings.Join(t.locked, ", "))}
	}
	return nil
}

// cancelledBy reports whether the signal that ended ctx stopped the run
// res of job j, or kept it from being tried again: not a run that failed
// on its own just before the signal came.
func cancelledBy(ctx context.Context, j *jobs.Job, res *jobs.Result) bool {
	if res.Err == nil || ctx.Err() == nil {
		return false
	}
	if errors.Is(res.Err, context.Cause(ctx)) || errors.Is(res.Err, context.Canceled) {
		return true
	}
	return res.Attempts <= j.Retries && jobs.Retryable(res.Err)
}

// runName names a run in messages: the job, and its window when it has one.
func runName(res *jobs.Result) string {
	if res.Window == nil {
		return res.Job
	}
	return fmt.Sprintf("%s [%s, %s)", res.Job, res.Window.Start.Format(time.RFC3339), res.Window.End.Format(time.RFC3339))
}

func printResult(w io.Writer, res *jobs.Result) {
	status := "ok"
	switch {
	case errors.Is(res.Err, jobs.ErrAlreadyRunning), errors.Is(res.Err, jobs.ErrAlreadyDone):
		status = "SKIPPED"
	case res.Err != nil:
		status = "FAILED"
	}
	fmt.Fprintf(w, "%s: %s in %s (logical time %s", res.Job, status, res.Duration.Round(time.Millisecond), res.Logical.Format(time.RFC3339))
	if res.Attempts > 1 {
		fmt.Fprintf(w, ", attempt %d", res.Attempts)
	}
	fmt.Fprintln(w, ")")
	if res.Window != nil {
		fmt.Fprintf(w, "  window [%s, %s)\n", res.Window.Start.Format(time.RFC3339), res.Window.End.Format(time.RFC3339))
	}
	nameW, rowsW := 0, 0
	for _, d := range res.Datasets {
		nameW = max(nameW, len(d.Name))
		rowsW = max(rowsW, len(delivery.GroupDigits(d.Rows)))
	}
	for _, d := range res.Datasets {
		fmt.Fprintf(w, "  %-*s  %*s rows  %s\n", nameW, d.Name, rowsW, delivery.GroupDigits(d.Rows), d.Duration.Round(time.Millisecond))
		for _, j := range d.Joins {
			fmt.Fprintf(w, "    join %s\n", j)
		}
		for _, warn := range d.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", warn)
		}
	}
	for _, f := range res.Files {
		fmt.Fprintf(w, "  wrote %s\n", f)
	}
	if res.Manifest != "" {
		fmt.Fprintf(w, "  manifest %s\n", res.Manifest)
	}
	if res.Partial && res.Err == nil {
		fmt.Fprintln(w, "  partial: the window is not over; latest names and the job's last success are left as they were")
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	if res.Err != nil {
		fmt.Fprintf(w, "  error: %v\n", res.Err)
	}
	for _, e := range res.PostCommit {
		fmt.Fprintf(w, "  failed after the commit: %v\n", e)
	}
}
