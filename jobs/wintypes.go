package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/joinery/joinery/queries"
)

// queryer runs a query: *sql.DB and *sql.Conn both do.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// windowCheck is what the server's column types say of a dataset's window.
type windowCheck struct {
	// timestamp: the window's date and time columns are all TIMESTAMP, so
	// its bounds are bound in UTC (queries.Env.TimestampWindows).
	timestamp bool
	// mixed says why no bounds can be right for every value of a window
	// that compares TIMESTAMP columns and DATETIME or DATE columns; its
	// bounds stay wall clocks in database.timezone.
	mixed string
	// untyped says that the window refers to no date or time column (a
	// VARCHAR holding dates, say): it is compared with DATETIME text.
	untyped string
}

// comparesInUTC reports whether loc, database.timezone, is UTC: then a
// TIMESTAMP and a DATETIME column take the same bounds, and nothing needs
// to be asked.
func comparesInUTC(loc *time.Location) bool {
	return loc == nil || loc == time.UTC
}

// checkWindow asks the server the types of ds's window expression and of
// each column it refers to (queries.Probe: a query that reads no row) and
// decides how its bounds are bound. env is the run's, and its location is
// database.timezone.
func checkWindow(ctx context.Context, q queryer, ds *queries.Dataset, env queries.Env) (windowCheck, error) {
	cols := queries.WindowColumns(ds)
	types, err := columnTypes(ctx, q, ds, env, append([]string{ds.Window}, cols...))
	if err != nil {
		return windowCheck{}, fmt.Errorf("window %s: column types: %w", ds.Window, err)
	}
	var stamps, walls []string
	for i, c := range cols {
		switch t := types[i+1]; t {
		case "TIMESTAMP":
			stamps = append(stamps, c)
		case "DATETIME", "DATE":
			walls = append(walls, c+" ("+t+")")
		}
	}
	zone := env.Location.String()
	switch {
	case len(stamps) > 0 && len(walls) == 0:
		return windowCheck{timestamp: true}, nil
	case len(stamps) > 0:
		return windowCheck{mixed: fmt.Sprintf("window %s compares TIMESTAMP %s, instants compared in UTC, with %s, wall clocks in database.timezone %s: "+
			"no bounds are right for both, and they are bound as wall clocks in %s; filter each kind of column on its own",
			ds.Window, strings.Join(stamps, ", "), strings.Join(walls, ", "), zone, zone)}, nil
	case len(walls) == 0:
		return windowCheck{untyped: fmt.Sprintf("window %s is %s, not a DATETIME, DATE or TIMESTAMP column: it is compared with bounds written as DATETIME text in database.timezone %s",
			ds.Window, types[0], zone)}, nil
	}
	return windowCheck{}, nil
}

// timestampWindows decides, for a run in env, how the window of each
// dataset of job is bound (see checkWindow). It returns the datasets whose
// window is a TIMESTAMP, for env.TimestampWindows, and a warning for each
// window that mixes TIMESTAMP and DATETIME columns. It asks nothing when
// database.timezone is UTC or the run has no window.
func timestampWindows(ctx context.Context, q queryer, job *Job, env queries.Env) (map[string]bool, []string, error) {
	if env.Window == nil || comparesInUTC(env.Location) {
		return nil, nil, nil
	}
	var out map[string]bool
	var warnings []string
	for i := range job.Datasets {
		ds := &job.Datasets[i]
		if ds.Window == "" {
			continue
		}
		wc, err := checkWindow(ctx, q, ds, env)
		if err != nil {
			return nil, nil, fmt.Errorf("dataset %s: %w", ds.Name, err)
		}
		if wc.timestamp {
			if out == nil {
				out = make(map[string]bool)
			}
			out[ds.Name] = true
		}
		if wc.mixed != "" {
			warnings = append(warnings, "dataset "+ds.Name+": "+wc.mixed)
		}
	}
	return out, warnings, nil
}

// columnTypes returns the type names the server gives exprs, columns or
// expressions of ds, in env: DATETIME, TIMESTAMP, VARCHAR, ...
func columnTypes(ctx context.Context, q queryer, ds *queries.Dataset, env queries.Env, exprs []string) ([]string, error) {
	pq, err := queries.Probe(ds, env, exprs)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, pq.SQL, pq.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	if len(cts) != len(exprs) {
		return nil, fmt.Errorf("%d columns, want %d", len(cts), len(exprs))
	}
	types := make([]string, len(cts))
	for i, ct := range cts {
		types[i] = ct.DatabaseTypeName()
	}
	for rows.Next() { // none: every SELECT of the probe is WHERE FALSE
	}
	return types, rows.Err()
}
