package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/destinations"
	"github.com/joinery/joinery/jobs"
)

// cmdValidate is joinery validate: the configuration checked, and with
// --connect every dataset prepared by the server.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("validate", "validate [--connect]", stdout, stderr)
	connect := fs.Bool("connect", false, "also connect and check that every table and column exists, and reach every destination without sending anything")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	datasets, dests := 0, 0
	for _, j := range cfg.Jobs {
		datasets += len(j.Datasets)
		dests += len(j.Deliver)
	}
	if *connect {
		_, db, closeDB, err := c.connect(ctx, cfg, true, false)
		if err != nil {
			return err
		}
		defer closeDB()
		var problems, guards []string
		for i := range cfg.Jobs {
			j := &cfg.Jobs[i]
			if err := j.CheckFreshness(ctx, db, cfg.Database.Location); err != nil {
				guards = append(guards, fmt.Sprintf("job %s: %v", j.Name, err))
			}
			for _, c := range j.Check(ctx, db, cfg.Database.Location) {
				if c.Err != nil {
					problems = append(problems, fmt.Sprintf("job %s: dataset %s: %v", j.Name, c.Dataset, c.Err))
				}
				for _, w := range c.Warnings {
					fmt.Fprintf(stdout, "warning: job %s: dataset %s: %s\n", j.Name, c.Dataset, w)
				}
			}
		}
		var msgs []string
		if len(problems) > 0 {
			what := fmt.Sprintf("%d datasets do not", len(problems))
			if len(problems) == 1 {
				what = "1 dataset does not"
			}
			msgs = append(msgs, fmt.Sprintf("%s match the database:\n  %s", what, strings.Join(problems, "\n  ")))
		}
		if len(guards) > 0 {
			what := fmt.Sprintf("%d freshness guards cannot", len(guards))
			if len(guards) == 1 {
				what = "1 freshness guard cannot"
			}
			msgs = append(msgs, fmt.Sprintf("%s check the database:\n  %s", what, strings.Join(guards, "\n  ")))
		}
		if dp := checkDestinations(ctx, cfg); len(dp) > 0 {
			msgs = append(msgs, fmt.Sprintf("%d destinations cannot be reached:\n  %s", len(dp), strings.Join(dp, "\n  ")))
		}
		if len(msgs) > 0 {
			return &exitError{code: exitFailed, err: errors.New(strings.Join(msgs, "\n"))}
		}
	}
	fmt.Fprintf(stdout, "%s: ok (%d jobs, %d datasets, %d destinations", cfg.File, len(cfg.Jobs), datasets, dests)
	if *connect {
		fmt.Fprint(stdout, "; every table and column exists, every destination answers")
	}
	fmt.Fprintln(stdout, ")")
	return nil
}

// checkDestinations reaches every destination of cfg's jobs without
// delivering anything (delivery.Destination.Check), each within its
// timeout, and returns what failed, secrets redacted.
func checkDestinations(ctx context.Context, cfg *jobs.Config) []string {
	kinds := destinations.Default()
	var problems []string
	for _, j := range cfg.Jobs {
		for _, s := range j.Deliver {
			err := func() error {
				d, err := kinds.New(s, delivery.Env{})
				if err != nil {
					return err
				}
				cctx, cancel := context.WithTimeout(ctx, s.Timeout)
				defer cancel()
				return d.Check(cctx)
			}()
			if err != nil {
				problems = append(problems, fmt.Sprintf("job %s: destination %s: %s", j.Name, s.Name, delivery.Redact(err.Error(), s.Secrets())))
			}
		}
	}
	return problems
}
