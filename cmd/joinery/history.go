package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/output"
)

// cmdHistory is joinery history: the runs of a job (of every job without
// one), newest first, from the run history (jobs/history), with the state
// of their delivery to each destination. A job without history (runs of a
// joinery before it) shows its committed runs, from their manifests.
func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("history", "history [JOB] [--json] [--last N]", stdout, stderr)
	last := fs.Int("last", 10, "how many runs to show per job, newest first")
	asJSON := fs.Bool("json", false, "print the records as JSON Lines, newest first")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageErr("history takes at most one job (joinery history [JOB])")
	}
	if *last < 1 {
		return usageErr("--last %d: want at least 1", *last)
	}
	var (
		cfg  *jobs.Config
		list []*jobs.Job
	)
	if len(pos) == 1 {
		var job *jobs.Job
		if cfg, job, err = c.loadJob(pos[0]); err != nil {
			return err
		}
		list = []*jobs.Job{job}
	} else {
		if cfg, err = c.load(); err != nil {
			return err
		}
		for i := range cfg.Jobs {
			list = append(list, &cfg.Jobs[i])
		}
	}
	dir, err := output.OpenDir(cfg.OutputPath())
	if err != nil {
		return err
	}
	defer dir.Close()
	enc := json.NewEncoder(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if !*asJSON {
		head := "LOGICAL TIME\tRUN\tOUTCOME\tATTEMPTS\tDURATION\tFILES\tROWS\tDELIVERY\tERROR"
		if len(list) > 1 {
			head = "JOB\t" + head
		}
		fmt.Fprintln(tw, head)
	}
	names := make([]string, len(list))
	for i, job := range list {
		names[i] = job.Name
	}
	for i, runs := range history.Recent(dir, names, *last) {
		if runs.Err != nil {
			return runs.Err
		}
		job := list[i]
		for j := range runs.Records {
			r := &runs.Records[j]
			if *asJSON {
				if err := enc.Encode(r); err != nil {
					return err
				}
				continue
			}
			line := fmt.Sprintf("%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s", r.Logical.Format(time.RFC3339), orDash(r.RunID), r.Outcome, r.Attempts,
				time.Duration(r.Duration*float64(time.Second)).Round(time.Millisecond), len(r.Files), delivery.GroupDigits(r.Rows()),
				deliveryState(job, r), orDash(oneLine(r.Error)))
			if len(list) > 1 {
				line = job.Name + "\t" + line
			}
			fmt.Fprintln(tw, line)
		}
	}
	if *asJSON {
		return nil
	}
	return tw.Flush()
}

// deliveryState is the DELIVERY column of a run.
func deliveryState(job *jobs.Job, r *history.Record) string {
	switch {
	case len(r.Deliveries) > 0:
		return deliveriesState(r.Deliveries)
	case r.Outcome == jobs.OutcomeSuccess && len(job.Deliver) > 0 && r.RunID != "":
		return "not delivered"
	}
	return "-"
}

// deliveriesState says where each destination of a run stands, in one
// line: "mail sent, s3 failed (3 attempts: ...)".
func deliveriesState(ds []history.Delivery) string {
	var parts []string
	for _, e := range ds {
		s := e.Name + " " + string(e.State)
		if e.State != delivery.Sent || e.Attempts > 1 {
			s += fmt.Sprintf(" (%d attempts", e.Attempts)
			if e.Error != "" && e.State != delivery.Sent {
				s += ": " + e.Error
			}
			s += ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine is s on one line of at most 160 characters, for a table
// (--json has the whole of it).
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:159]) + "…"
	}
	return s
}
