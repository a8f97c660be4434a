package main

import (
	"context"
	"fmt"
	"io"

	"github.com/joinery/joinery/jobs"
)

// cmdExplain is joinery explain: the server's plan of each dataset's query.
func cmdExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, rf, cfg, selected, err := jobCommand("explain", "explain JOB... | --all [--at TIME | --from T --to T --once] [--param NAME=VALUE]...", args, stdout, stderr)
	if err != nil {
		return err
	}
	if rf.from != "" && !rf.once {
		return usageErr("explain makes one plan per dataset: give --at, or --from/--to with --once")
	}
	if cfg.Database.Embedded() {
		// go-mysql-server answers EXPLAIN in a shape of its own, with none
		// of MySQL's plan columns.
		return usageErr("explain needs MySQL or MariaDB: the embedded demo database has no query plans to show (joinery sql prints the SQL)")
	}
	_, db, closeDB, err := c.connect(ctx, cfg, true, false)
	if err != nil {
		return err
	}
	defer closeDB()
	return eachQuery(cfg, selected, rf, func(j *jobs.Job, p jobs.Plan, q jobs.Query) error {
		fmt.Fprintln(stdout, describeRun(j, p, q.Dataset))
		if err := jobs.Explain(ctx, db, q.Query, stdout); err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		fmt.Fprintln(stdout)
		return nil
	})
}
