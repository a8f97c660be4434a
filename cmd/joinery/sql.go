package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/queries"
)

// cmdSQL is joinery sql: each dataset's SQL and bound values, for each
// planned run of the selected jobs.
func cmdSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, rf, cfg, selected, err := jobCommand("sql", "sql JOB... | --all [--at TIME | --from T --to T [--once]] [--param NAME=VALUE]...", args, stdout, stderr)
	if err != nil {
		return err
	}
	guarded := make(map[*jobs.Job]bool)
	return eachQuery(cfg, selected, rf, func(j *jobs.Job, p jobs.Plan, q jobs.Query) error {
		if g := j.GuardSQL(); len(g) > 0 && !guarded[j] {
			// Once per job: the guard's statements have no per-run values.
			guarded[j] = true
			fmt.Fprintf(stdout, "-- job %s: the freshness guard runs first, on the run's connection:\n", j.Name)
			for _, s := range g {
				fmt.Fprintf(stdout, "%s;\n", s)
			}
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s\n%s;\n", describeRun(j, p, q.Dataset), q.SQL)
		for n, a := range q.Args {
			from := "literal"
			if q.ArgNames[n] != "" {
				from = q.ArgNames[n]
			}
			fmt.Fprintf(stdout, "--   $%d = %s  -- %s\n", n+1, formatArg(a), from)
		}
		if len(q.Joins) > 0 {
			fmt.Fprintf(stdout, "--   the last %d columns are join diagnostics (%d per outer join: matched, left_unmatched, right_unmatched)\n", 3*len(q.Joins), 3)
		}
		if loc := cfg.Database.Location; loc != time.UTC && windowField(j, q.Dataset) {
			fmt.Fprintf(stdout, "--   window bounds as for DATETIME columns, wall clocks in %s; a run binds those of a window on TIMESTAMP columns in UTC (the server says which: validate --connect)\n", loc)
		}
		fmt.Fprintln(stdout)
		return nil
	})
}

// windowField reports whether ds, or a dataset before it that it may use
// as a derived table, filters on the run's window with window:.
func windowField(j *jobs.Job, ds *queries.Dataset) bool {
	for i := range j.Datasets {
		if j.Datasets[i].Window != "" {
			return true
		}
		if &j.Datasets[i] == ds {
			break
		}
	}
	return false
}

func formatArg(a any) string {
	switch v := a.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case nil:
		return "NULL"
	}
	return fmt.Sprintf("%v (%T)", a, a)
}
