package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/output"
)

// cmdHistory is joinery history: a job's committed runs, newest first,
// with the state of their delivery to each destination.
func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("history", "history JOB [--last N]", stdout, stderr)
	last := fs.Int("last", 10, "how many runs to show, newest first")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("history takes one job (joinery history JOB)")
	}
	if *last < 1 {
		return usageErr("--last %d: want at least 1", *last)
	}
	cfg, job, err := c.loadJob(pos[0])
	if err != nil {
		return err
	}
	dir, err := output.OpenDir(cfg.OutputPath())
	if err != nil {
		return err
	}
	defer dir.Close()
	runs, _, err := dir.Runs(job.Name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGICAL TIME\tRUN\tFILES\tROWS\tDELIVERY")
	for i, rm := range runs {
		if i == *last {
			break
		}
		m := rm.Manifest
		var rows int64
		for _, d := range m.Datasets {
			rows += d.Rows
		}
		state := "-"
		if m.RunID != "" {
			if l, err := delivery.ReadLedger(dir, job.Name, m.RunID); err == nil {
				state = ledgerState(l)
			} else if len(job.Deliver) > 0 {
				state = "not delivered"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", m.Logical.Format(time.RFC3339), m.RunID, len(m.Files), delivery.GroupDigits(rows), state)
	}
	return tw.Flush()
}

// ledgerState says where each destination of a run's ledger stands, in
// one line: "mail sent, s3 failed (3 attempts: ...)".
func ledgerState(l *delivery.Ledger) string {
	var parts []string
	for _, e := range l.Destinations {
		s := e.Name + " " + string(e.State)
		if e.State != delivery.Sent || e.Attempts > 1 {
			s += fmt.Sprintf(" (%d attempts", e.Attempts)
			if e.LastError != "" && e.State != delivery.Sent {
				s += ": " + e.LastError
			}
			s += ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
