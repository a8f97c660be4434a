package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// cmdValidate is joinery validate: the configuration checked, and with
// --connect every dataset prepared by the server.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("validate", "validate [--connect]", stdout, stderr)
	connect := fs.Bool("connect", false, "also connect and check that every table and column exists")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	datasets := 0
	for _, j := range cfg.Jobs {
		datasets += len(j.Datasets)
	}
	if *connect {
		_, db, closeDB, err := c.connect(ctx, cfg, true, false)
		if err != nil {
			return err
		}
		defer closeDB()
		var problems []string
		for i := range cfg.Jobs {
			j := &cfg.Jobs[i]
			for _, c := range j.Check(ctx, db, cfg.Database.Location) {
				if c.Err != nil {
					problems = append(problems, fmt.Sprintf("job %s: dataset %s: %v", j.Name, c.Dataset, c.Err))
				}
				for _, w := range c.Warnings {
					fmt.Fprintf(stdout, "warning: job %s: dataset %s: %s\n", j.Name, c.Dataset, w)
				}
			}
		}
		if len(problems) > 0 {
			what := fmt.Sprintf("%d datasets do not", len(problems))
			if len(problems) == 1 {
				what = "1 dataset does not"
			}
			return &exitError{code: exitFailed, err: fmt.Errorf("%s match the database:\n  %s", what, strings.Join(problems, "\n  "))}
		}
	}
	fmt.Fprintf(stdout, "%s: ok (%d jobs, %d datasets", cfg.File, len(cfg.Jobs), datasets)
	if *connect {
		fmt.Fprint(stdout, "; every table and column exists")
	}
	fmt.Fprintln(stdout, ")")
	return nil
}
