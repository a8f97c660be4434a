package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/joinery/joinery/queries"
)

// Check compiles ds, a dataset of job, and has the server prepare it without
// running it: the server resolves every table and column then, so a missing
// one is reported in its own words (Unknown column 'p.userid' in 'on
// clause'). Parameters are bound as NULL and the window is the one of a run
// now; neither changes what the server checks.
func Check(ctx context.Context, db *sql.DB, job *Job, ds *queries.Dataset) error {
	p := Plan{Params: map[string]any{}}
	for _, prm := range job.Params {
		p.Params[prm.Name] = nil
	}
	if job.Window.IsSet() {
		w := job.Window.Bounds(time.Now(), job.Location)
		p.Window = &w
	}
	q, err := queries.Compile(ds, job.Env(p, time.UTC))
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	stmt, err := db.PrepareContext(ctx, q.SQL)
	if err != nil {
		return err
	}
	return stmt.Close()
}

// Explain runs EXPLAIN for a compiled query with its bound values and
// writes the server's plan to w as an aligned table, NULL as "NULL".
func Explain(ctx context.Context, db *sql.DB, q queries.Query, w io.Writer) error {
	rows, err := db.QueryContext(ctx, "EXPLAIN "+q.SQL, q.Args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	raw := make([]sql.RawBytes, len(cols))
	dest := make([]any, len(cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	cells := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, b := range raw {
			cells[i] = "NULL"
			if b != nil {
				cells[i] = string(b)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}
