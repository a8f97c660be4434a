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

// Check compiles ds, a dataset of job (an internal one too), and has the
// server prepare it without running it: the server resolves every table and
// column then, so a missing one is reported in its own words (Unknown
// column 'p.userid' in 'on clause'). Each parameter has a value of its
// declared type, its default or a zero value (queries.CheckParams), so the
// SQL has the shape of a run's (a list parameter is IN (?), never IN
// (NULL) or a type error); the window is the one of a run now.
func Check(ctx context.Context, db *sql.DB, job *Job, ds *queries.Dataset) error {
	params, err := queries.CheckParams(job.Params, job.Location)
	if err != nil {
		return err
	}
	p := Plan{Params: params}
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
