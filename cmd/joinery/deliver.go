package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// namesFlag is a flag that may be given more than once.
type namesFlag []string

func (n *namesFlag) String() string     { return strings.Join(*n, ",") }
func (n *namesFlag) Set(s string) error { *n = append(*n, s); return nil }

// cmdDeliver is joinery deliver: a committed run of a job sent to its
// destinations again, from its manifest, without running its queries.
// Destinations that have it already are skipped, unless --to names them.
func cmdDeliver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("deliver", "deliver JOB [--run ID] [--to NAME]...", stdout, stderr)
	runID := fs.String("run", "", "the `ID` of the run to deliver, as its manifest and joinery history show it (default: the job's newest run)")
	var to namesFlag
	fs.Var(&to, "to", "deliver to the destination `NAME` only, again even when it has the run already (repeatable)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("deliver takes one job (joinery deliver JOB [--run ID] [--to NAME])")
	}
	cfg, job, err := c.loadJob(pos[0])
	if err != nil {
		return err
	}
	if len(job.Deliver) == 0 {
		return usageErr("job %s has no destinations (deliver: in %s)", job.Name, cfg.File)
	}
	for _, name := range to {
		if !slices.ContainsFunc(job.Deliver, func(s delivery.Spec) bool { return s.Name == name }) {
			return usageErr("--to %s: job %s has no destination of that name (it has: %s)", name, job.Name, strings.Join(destNames(job), ", "))
		}
	}
	log, err := c.logger(true)
	if err != nil {
		return err
	}
	dir, err := output.OpenDir(cfg.OutputPath())
	if err != nil {
		return err
	}
	defer dir.Close()
	rm, err := findRun(dir, job, *runID)
	if err != nil {
		return err
	}
	r := delivery.FromManifest(dir, rm, job.Location)
	fmt.Fprintf(stdout, "%s: run %s (logical time %s), %d files\n", job.Name, r.RunID, r.Logical.Format("2006-01-02T15:04:05Z07:00"), len(r.Files))
	d := newDeliverer(cfg, log)
	out, err := d.Engine.Deliver(ctx, delivery.Delivery{Dir: dir, Specs: job.Deliver, Report: r, Only: to, Again: to})
	for _, o := range out {
		switch {
		case o.Skipped != "":
			fmt.Fprintf(stdout, "  %s: skipped, %s\n", o.Name, o.Skipped)
		case o.State == delivery.Sent:
			fmt.Fprintf(stdout, "  %s: sent (%s)\n", o.Name, o.Receipt.ID)
		default:
			fmt.Fprintf(stdout, "  %s: %s: %v\n", o.Name, strings.ToUpper(string(o.State)), o.Err)
		}
	}
	if err != nil {
		return fmt.Errorf("job %s: run %s: not delivered: %w", job.Name, r.RunID, err)
	}
	return nil
}

// findRun returns the manifest of job's run id, or of its newest run
// when id is "".
func findRun(dir *output.Dir, job *jobs.Job, id string) (output.RunManifest, error) {
	runs, _, err := dir.Runs(job.Name)
	if err != nil {
		return output.RunManifest{}, err
	}
	if len(runs) == 0 {
		return output.RunManifest{}, fmt.Errorf("job %s has no committed run in %s", job.Name, dir.Path())
	}
	if id == "" {
		if runs[0].Manifest.RunID == "" {
			return output.RunManifest{}, fmt.Errorf("job %s: the newest run's manifest %s has no run id (written by an earlier version): run the job again", job.Name, dir.Abs(runs[0].Path))
		}
		return runs[0], nil
	}
	var ids []string
	for _, rm := range runs {
		if rm.Manifest.RunID == id {
			return rm, nil
		}
		if len(ids) < 5 && rm.Manifest.RunID != "" {
			ids = append(ids, rm.Manifest.RunID)
		}
	}
	return output.RunManifest{}, &exitError{code: exitUsage, err: errors.New("job " + job.Name + " has no run " + id + " (its newest: " + strings.Join(ids, ", ") + "; joinery history " + job.Name + " lists them)")}
}

// loadJob loads the configuration and returns it with its job name.
func (c *common) loadJob(name string) (*jobs.Config, *jobs.Job, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	job, err := cfg.Job(name)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	return cfg, job, nil
}

// destNames returns the names of job's destinations.
func destNames(job *jobs.Job) []string {
	var out []string
	for _, s := range job.Deliver {
		out = append(out, s.Name)
	}
	return out
}
