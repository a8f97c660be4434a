package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/queries"
)

// Freshness is a job's freshness guard: before a run reads anything, it
// checks that the data has arrived (the replica has caught up, a column
// has reached the window's end), waiting for it up to Wait, then fails the
// run or runs it with a warning (OnStale). See README.md, "freshness".
type Freshness struct {
	// MaxReplicaLag is the most the job's database may be behind its
	// primary (Seconds_Behind_Master); 0 does not check. A server that is
	// no replica passes: it is the primary, or one promoted to be.
	MaxReplicaLag time.Duration `yaml:"max_replica_lag"`
	// Watermark, when set, must have reached the window's end (the
	// logical time when the job has no window).
	Watermark *Watermark `yaml:"watermark"`
	// Wait is how long the guard keeps checking (the pauses between
	// checks add up to at most Wait); default 0, one check.
	Wait time.Duration `yaml:"wait"`
	// Interval is the pause between checks; default 30s, at most Wait.
	Interval time.Duration `yaml:"interval"`
	// OnStale is what a run whose data is still not fresh does: "fail"
	// (the default; ErrStale, which retries apply to) or "warn" (it runs,
	// with a warning in its result and manifest).
	OnStale string `yaml:"on_stale"`
}

// Watermark names the column whose latest value (SELECT MAX(column)
// FROM table) says how far a table's data has come: a DATETIME or DATE
// column holds wall clocks in database.timezone, a TIMESTAMP column
// instants.
type Watermark struct {
	Table  string `yaml:"table"`
	Column string `yaml:"column"`
}

// defaultFreshnessInterval is the pause between checks of a guard that
// waits and sets no interval (or a shorter wait, then the wait).
const defaultFreshnessInterval = 30 * time.Second

// ErrStale is wrapped by the error of a run whose freshness guard (with
// on_stale: fail) found the data not fresh: the replica too far behind, or
// the watermark short of the window's end. It passes (see Retryable): a
// replica catches up.
var ErrStale = errors.New("data not fresh")

// freshness checks j's freshness block at path p.
func (v validator) freshness(p string, j *Job) {
	f := j.Freshness
	if f == nil {
		return
	}
	p += ".freshness"
	if f.MaxReplicaLag == 0 && f.Watermark == nil {
		v.fail(p, "set max_replica_lag, watermark or both: the guard has nothing to check")
	}
	if w := f.Watermark; w != nil {
		for _, n := range [][2]string{{"table", w.Table}, {"column", w.Column}} {
			if err := queries.ValidIdent(n[1]); err != nil {
				v.failValue(p+".watermark."+n[0], n[1], "%v", err)
			}
		}
	}
	// The decoder refuses negative durations.
	if j.Timeout > 0 && f.Wait >= j.Timeout {
		v.failValue(p+".wait", f.Wait.String(), "not shorter than the job's timeout (%s): the run would time out waiting", j.Timeout)
	}
	switch {
	case f.Interval > 0 && f.Wait == 0:
		v.failValue(p+".interval", f.Interval.String(), "the guard checks once without wait: set wait too")
	case f.Interval > f.Wait:
		v.failValue(p+".interval", f.Interval.String(), "longer than wait (%s)", f.Wait)
	case f.Interval == 0:
		f.Interval = min(defaultFreshnessInterval, f.Wait)
	}
	switch f.OnStale {
	case "":
		f.OnStale = "fail"
	case "fail", "warn":
	default:
		v.failValue(p+".on_stale", f.OnStale, "want fail (the run fails, and its retries apply) or warn (it runs, with a warning)")
	}
}

// freshness runs job's freshness guard for the run planned by p on the
// run's connection, before it reads anything: it checks, pauses Interval
// (with r.wait: a cancelled run or its timeout ends the pause) and checks
// again until the data is fresh or the pauses reach Wait. It records what
// the last check saw in res.Freshness. Stale data fails the run with
// ErrStale, or with on_stale: warn adds a warning to res.
func (r *Runner) freshness(ctx context.Context, q queryer, job *Job, p Plan, res *Result, log *slog.Logger) error {
	f := job.Freshness
	if f == nil {
		return nil
	}
	want := p.Logical
	if p.Window != nil {
		want = p.Window.End
	}
	var waited time.Duration
	for n := 1; ; n++ {
		seen, stale, err := r.checkFreshness(ctx, q, job, want)
		if err != nil {
			return fmt.Errorf("freshness: %w", err)
		}
		seen.Checks, seen.Waited, seen.Fresh = n, waited.Seconds(), stale == ""
		res.Freshness = seen
		log.Info("freshness checked", freshnessAttrs(seen, n)...)
		if stale == "" {
			return nil
		}
		if waited >= f.Wait {
			if n > 1 {
				stale = fmt.Sprintf("%s (after %d checks in %s)", stale, n, waited)
			}
			if f.OnStale == "warn" {
				w := "freshness: " + stale + "; ran anyway (on_stale: warn)"
				log.Warn("data not fresh, running anyway", "warning", w)
				res.Warnings = append(res.Warnings, w)
				return nil
			}
			return fmt.Errorf("freshness: %w: %s", ErrStale, stale)
		}
		d := min(f.Interval, f.Wait-waited)
		log.Info("data not fresh yet, waiting", "reason", stale, "check_in", d)
		if err := r.wait(ctx, ctx, d); err != nil {
			return fmt.Errorf("freshness: waiting for fresh data: %w", err)
		}
		waited += d
	}
}

// freshnessAttrs are the attributes of the log record of check n.
func freshnessAttrs(m *output.ManifestFreshness, n int) []any {
	attrs := []any{"check", n, "fresh", m.Fresh}
	if rep := m.Replica; rep != nil {
		attrs = append(attrs, "replica", rep.IsReplica)
		if rep.LagSeconds != nil {
			attrs = append(attrs, "lag_seconds", *rep.LagSeconds)
		}
	}
	if w := m.Watermark; w != nil {
		if w.Value != nil {
			attrs = append(attrs, "watermark", w.Value.Format(time.RFC3339Nano))
		} else {
			attrs = append(attrs, "watermark", nil)
		}
		attrs = append(attrs, "watermark_want", w.Want.Format(time.RFC3339))
	}
	return attrs
}

// checkFreshness checks job's guard once: it returns what it saw and,
// when the data is not fresh, why not ("" when it is).
func (r *Runner) checkFreshness(ctx context.Context, q queryer, job *Job, want time.Time) (*output.ManifestFreshness, string, error) {
	f := job.Freshness
	seen := &output.ManifestFreshness{}
	var stale []string
	if f.MaxReplicaLag > 0 {
		isReplica, lag, err := replicaLag(ctx, q)
		if err != nil {
			return nil, "", err
		}
		seen.Replica = &output.ManifestReplica{IsReplica: isReplica, LagSeconds: lag, MaxLagSeconds: f.MaxReplicaLag.Seconds()}
		switch {
		case !isReplica:
		case lag == nil:
			stale = append(stale, "replication is stopped (Seconds_Behind_Master is NULL)")
		case time.Duration(*lag)*time.Second > f.MaxReplicaLag:
			stale = append(stale, fmt.Sprintf("the replica is %ds behind, more than max_replica_lag %s", *lag, f.MaxReplicaLag))
		}
	}
	if w := f.Watermark; w != nil {
		loc := r.Config.Database.Location
		v, err := watermark(ctx, q, w, loc, false)
		if err != nil {
			return nil, "", err
		}
		seen.Watermark = &output.ManifestWatermark{Table: w.Table, Column: w.Column, Want: want.In(job.Location)}
		if v != nil {
			t := v.In(job.Location)
			seen.Watermark.Value = &t
		}
		switch {
		case v == nil:
			stale = append(stale, fmt.Sprintf("watermark %s.%s has no value (no rows), want %s", w.Table, w.Column, want.In(job.Location).Format(time.RFC3339)))
		case v.Before(want):
			stale = append(stale, fmt.Sprintf("watermark %s.%s is %s, before %s", w.Table, w.Column,
				v.In(job.Location).Format(time.RFC3339Nano), want.In(job.Location).Format(time.RFC3339)))
		}
	}
	return seen, strings.Join(stale, "; "), nil
}

// replicaLag reads the replica status of the server behind q: whether it
// is a replica, and how far behind (Seconds_Behind_Master, or MySQL 8's
// Seconds_Behind_Source; nil when replication is stopped). With several
// replication channels (MySQL) it returns the worst. MariaDB's SHOW
// REPLICA STATUS shows the default connection of a multi-source replica
// only. A server too old for SHOW REPLICA STATUS is asked SHOW SLAVE
// STATUS.
func replicaLag(ctx context.Context, q queryer) (isReplica bool, lag *int64, err error) {
	rows, err := q.QueryContext(ctx, "SHOW REPLICA STATUS")
	if me, ok := errors.AsType[*mysql.MySQLError](err); ok && me.Number == 1064 { // syntax: MySQL before 8.0.22, MariaDB before 10.5.1
		rows, err = q.QueryContext(ctx, "SHOW SLAVE STATUS")
	}
	if err != nil {
		return false, nil, fmt.Errorf("replica status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, nil, fmt.Errorf("replica status: %w", err)
	}
	at := -1
	for i, c := range cols {
		if c == "Seconds_Behind_Master" || c == "Seconds_Behind_Source" {
			at = i
		}
	}
	if at < 0 {
		return false, nil, errors.New("replica status: no Seconds_Behind_Master column")
	}
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	stopped := false
	var worst int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return false, nil, fmt.Errorf("replica status: %w", err)
		}
		isReplica = true
		if !vals[at].Valid {
			stopped = true
			continue
		}
		n, err := strconv.ParseInt(vals[at].String, 10, 64)
		if err != nil {
			return false, nil, fmt.Errorf("replica status: Seconds_Behind_Master %q: %w", vals[at].String, err)
		}
		worst = max(worst, n)
	}
	if err := rows.Err(); err != nil {
		return false, nil, fmt.Errorf("replica status: %w", err)
	}
	if !isReplica || stopped {
		return isReplica, nil, nil
	}
	return true, &worst, nil
}

// watermark returns MAX(w.Column) of w.Table as an instant: a DATETIME or
// DATE value is a wall clock in dbLoc (database.timezone), a TIMESTAMP one
// arrives in UTC, the session's zone (see mysqlconn.Open). It returns nil
// when the table has no value, and an error for a column of another type.
// A probe reads no row (queries.Watermark) and returns nil.
func watermark(ctx context.Context, q queryer, w *Watermark, dbLoc *time.Location, probe bool) (*time.Time, error) {
	wq, err := queries.Watermark(w.Table, w.Column, probe)
	if err != nil {
		return nil, err
	}
	name := w.Table + "." + w.Column
	rows, err := q.QueryContext(ctx, wq.SQL, wq.Args...)
	if err != nil {
		return nil, fmt.Errorf("watermark %s: %w", name, err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("watermark %s: %w", name, err)
	}
	typ := cts[0].DatabaseTypeName()
	loc := dbLoc
	switch typ {
	case "TIMESTAMP":
		loc = time.UTC
	case "DATETIME", "DATE":
	default:
		return nil, fmt.Errorf("watermark %s is %s: want a DATETIME, DATE or TIMESTAMP column", name, typ)
	}
	var v sql.NullString
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("watermark %s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("watermark %s: %w", name, err)
	}
	if !v.Valid {
		return nil, nil
	}
	t, err := queries.ParseTime(v.String, loc)
	if err != nil {
		return nil, fmt.Errorf("watermark %s: %w", name, err)
	}
	return &t, nil
}

// GuardSQL returns the statements the job's freshness guard runs before
// each run reads anything, in order; nil when the job has none.
func (j *Job) GuardSQL() []string {
	f := j.Freshness
	if f == nil {
		return nil
	}
	var out []string
	if f.MaxReplicaLag > 0 {
		out = append(out, "SHOW REPLICA STATUS")
	}
	if w := f.Watermark; w != nil {
		if q, err := queries.Watermark(w.Table, w.Column, false); err == nil { // validated
			out = append(out, q.SQL)
		}
	}
	return out
}

// CheckFreshness checks the job's freshness guard against the server,
// for validate --connect, without waiting and without reading a row: that
// the replica status can be read (a privilege: REPLICATION CLIENT, or
// SLAVE MONITOR on MariaDB), and that the watermark column exists and is
// a DATETIME, DATE or TIMESTAMP column. nil when the job has no guard.
func (j *Job) CheckFreshness(ctx context.Context, db *sql.DB, dbLoc *time.Location) error {
	f := j.Freshness
	if f == nil {
		return nil
	}
	if f.MaxReplicaLag > 0 {
		if _, _, err := replicaLag(ctx, db); err != nil {
			return fmt.Errorf("freshness: %w", err)
		}
	}
	if f.Watermark != nil {
		if _, err := watermark(ctx, db, f.Watermark, dbLoc, true); err != nil {
			return fmt.Errorf("freshness: %w", err)
		}
	}
	return nil
}
