package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/joinery/joinery/queries"
)

// DatasetCheck is what Job.Check found of one dataset.
type DatasetCheck struct {
	Dataset  string
	Warnings []string
	Err      error
}

// Check compiles every dataset of the job, internal ones too, and has the
// server prepare each without running it: the server resolves every table
// and column then, so a missing one is reported in its own words (Unknown
// column 'p.userid' in 'on clause'). Each parameter has a value of its
// declared type, its default or a zero value (queries.CheckParams), so the
// SQL has the shape of a run's (a list parameter is IN (?), never IN
// (NULL) or a type error); the window is the one of a run now. It returns
// one DatasetCheck per dataset, in order.
//
// When dbLoc, database.timezone, is not UTC, Check also asks the server
// the types of the columns that date-times are compared with (see
// checkWindow): a window that mixes TIMESTAMP and DATETIME or DATE
// columns is an error, since no bounds select the right instants of both;
// a window on no date or time column, and a TIMESTAMP column compared
// with :window_start, :window_end or a datetime parameter outside the
// window (bound as a wall clock in dbLoc, so off by its offset), are
// warnings naming the column.
func (j *Job) Check(ctx context.Context, db *sql.DB, dbLoc *time.Location) []DatasetCheck {
	out := make([]DatasetCheck, 0, len(j.Datasets))
	params, err := queries.CheckParams(j.Params, j.Location)
	if err != nil {
		for _, ds := range j.Datasets {
			out = append(out, DatasetCheck{Dataset: ds.Name, Err: err})
		}
		return out
	}
	p := Plan{Params: params}
	if j.Window.IsSet() {
		w := j.Window.Bounds(time.Now(), j.Location)
		p.Window = &w
	}
	env := j.env(p, dbLoc)
	for q, err := range j.queries(env, true) {
		c := DatasetCheck{Dataset: q.Dataset.Name}
		if err != nil {
			c.Err = fmt.Errorf("compile: %w", err)
		} else {
			c.Warnings, c.Err = check(ctx, db, j, q, env)
		}
		out = append(out, c)
	}
	return out
}

// check has the server prepare q, compiled in env, and checks the types
// of the columns its date-times are compared with; see Job.Check.
func check(ctx context.Context, db *sql.DB, job *Job, q Query, env queries.Env) (warnings []string, err error) {
	ds, dbLoc := q.Dataset, env.Location
	stmt, err := db.PrepareContext(ctx, q.SQL)
	if err != nil {
		if ds.IsRaw() {
			// The server's line numbers are those of the SQL as written.
			return nil, fmt.Errorf("%s: %w", rawSQLSource(ds), err)
		}
		return nil, err
	}
	if err := stmt.Close(); err != nil {
		return nil, err
	}
	if comparesInUTC(dbLoc) {
		return nil, nil
	}
	if ds.Window != "" && env.Window != nil {
		wc, err := checkWindow(ctx, db, ds, env)
		switch {
		case err != nil:
			return nil, err
		case wc.mixed != "":
			return nil, errors.New(wc.mixed)
		case wc.untyped != "":
			warnings = append(warnings, wc.untyped)
		}
	}
	uses := queries.TimeUses(ds, job.Params)
	var cols []string
	for _, u := range uses {
		for _, c := range u.Columns {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	if len(cols) == 0 {
		return warnings, nil
	}
	types, err := columnTypes(ctx, db, ds, env, cols)
	if err != nil {
		return nil, fmt.Errorf("column types: %w", err)
	}
	for _, u := range uses {
		for _, c := range u.Columns {
			if types[slices.Index(cols, c)] == "TIMESTAMP" {
				warnings = append(warnings, fmt.Sprintf("%s: TIMESTAMP column %s is compared with :%s, which is bound as a wall clock in database.timezone %s: "+
					"the instants it selects are off by the zone's offset (only a window: is bound by its column's type)", u.Path, c, u.Param, dbLoc))
			}
		}
	}
	return warnings, nil
}

// Explain runs EXPLAIN for a compiled query with its bound values and
// writes the server's plan to w as an aligned table, NULL as "NULL".
func Explain(ctx context.Context, db *sql.DB, q queries.Query, w io.Writer) error {
	// In a READ ONLY transaction: the server may evaluate parts of a
	// query, a raw SQL dataset's calls of stored functions among them,
	// while it plans it.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+q.SQL, q.Args...)
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
