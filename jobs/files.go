package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

// ErrEmpty is wrapped by the error of a run in which a dataset of a job
// with on_empty: fail had no rows.
var ErrEmpty = errors.New("no rows (the job's on_empty is fail)")

// vars describes a run to its reports.
func (r *Runner) vars(job *Job, res *Result) output.Vars {
	return output.Vars{
		Job:       job.Name,
		RunID:     res.RunID,
		Logical:   res.Logical,
		RunTime:   res.Started.In(job.Location),
		Location:  job.Location,
		Version:   r.Version,
		DBHost:    r.Config.Database.host(),
		Params:    res.Params,
		SkipEmpty: job.OnEmpty == "skip",
	}
}

// runParams lists the parameter values of a run planned by p, in the
// order job declares them.
func runParams(job *Job, p Plan) []output.Param {
	var out []output.Param
	for _, d := range job.Params {
		if v, ok := p.Params[d.Name]; ok {
			out = append(out, output.Param{Name: d.Name, Type: d.Type, Value: v})
		}
	}
	return out
}

// host names the database server for reports: host and port, or the
// embedded demo database; never user or password.
func (d Database) host() string {
	if d.Embedded() {
		return "embedded demo database"
	}
	dsn, err := config.ExpandEnv(d.DSN)
	if err != nil {
		return ""
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return ""
	}
	return cfg.Addr
}

// jobFiles describes the files job writes, for output.Dir.Recover.
func jobFiles(job *Job) output.JobFiles {
	f := output.JobFiles{Job: job.Name, Specs: job.Outputs, Formats: formats.Default()}
	for _, ds := range job.Datasets {
		if !ds.Internal {
			f.Datasets = append(f.Datasets, ds.Name)
		}
	}
	return f
}

// recover finishes what runs of job that died left undone (see
// output.Dir.Recover). What it cannot do is a warning: the run goes on,
// and its own commit tries again.
func (r *Runner) recover(dir *output.Dir, job *Job, log *slog.Logger) {
	notes, err := dir.Recover(jobFiles(job))
	logRecovered(log, notes, err)
}

// logRecovered logs what a recover of a job did and its error.
func logRecovered(log *slog.Logger, notes []string, err error) {
	for _, n := range notes {
		log.Info(n)
	}
	if err != nil {
		log.Warn("could not clean up after an earlier run", "error", err)
	}
}

// Recover finishes the commits of jobs that a crash interrupted and
// removes the temporary files their dead runs left, without running them;
// the scheduler calls it for every job when it starts. It lists each
// folder once for all the jobs (output.Dir.RecoverAll). What it cannot do
// is logged as a warning of its job.
func (r *Runner) Recover(jobs ...*Job) {
	dir, err := output.OpenDir(r.Config.OutputPath())
	if err != nil {
		for _, job := range jobs {
			r.Logger.With("job", job.Name).Warn("could not clean up after an earlier run", "error", err)
		}
		return
	}
	defer dir.Close()
	files := make([]output.JobFiles, len(jobs))
	for i, job := range jobs {
		files[i] = jobFiles(job)
	}
	for i, rec := range dir.RecoverAll(files) {
		logRecovered(r.Logger.With("job", jobs[i].Name), rec.Notes, rec.Err)
	}
}

// manifest describes the run for its manifest, less the files (which
// output.Dir.Commit adds). It also gathers the run's warnings into res.
func (r *Runner) manifest(job *Job, res *Result, reports []output.Report, log *slog.Logger) *output.Manifest {
	for _, d := range res.Datasets {
		for _, w := range d.Warnings {
			res.Warnings = append(res.Warnings, "dataset "+d.Name+": "+w)
		}
	}
	for _, rep := range reports {
		for _, w := range rep.Warnings() {
			log.Warn("value changed in report", "warning", w)
			res.Warnings = append(res.Warnings, w)
		}
	}
	m := &output.Manifest{
		Job:       job.Name,
		RunID:     res.RunID,
		Logical:   res.Logical,
		Partial:   res.Partial,
		Started:   res.Started.In(job.Location),
		Duration:  time.Since(res.Started).Seconds(),
		Version:   r.Version,
		DBHost:    r.Config.Database.host(),
		Params:    output.ManifestParams(res.Params),
		Attempts:  res.Attempts,
		Warnings:  slices.Clone(res.Warnings),
		Snapshot:  res.Snapshot != "",
		Isolation: res.Snapshot,
		Engine:    res.Engine,
		Lock:      res.Lock,
		Freshness: res.Freshness,
	}
	if res.Window != nil {
		m.Window = &output.ManifestWindow{From: res.Window.Start.In(job.Location), To: res.Window.End.In(job.Location)}
	}
	for _, d := range res.Datasets {
		s := output.ManifestSet{Name: d.Name, Rows: d.Rows, SQLSHA256: d.SQLHash, Duration: d.Duration.Seconds(), Warnings: slices.Clone(d.Warnings)}
		for _, j := range d.Joins {
			s.Joins = append(s.Joins, j.String())
		}
		m.Datasets = append(m.Datasets, s)
	}
	return m
}

// committed finishes a run past its commit point: it records the result
// (m is the manifest the commit wrote, when it wrote one), the job's
// success (unless the run was partial) and applies the job's retention.
// Nothing here fails the run: problems are warnings.
func (r *Runner) committed(dir *output.Dir, job *Job, res *Result, c *output.Committed, m *output.Manifest, log *slog.Logger) {
	for _, f := range c.Files {
		res.Files = append(res.Files, f.Path)
		log.Info("report written", "path", f.Path, "rows", f.Rows, "bytes", f.Size)
	}
	res.Manifest, res.Latest = c.Manifest, c.Latest
	res.Commit = &Commit{Files: c.Files, Pending: c.Pending}
	if c.Manifest != "" {
		res.Commit.Manifest = m
	}
	for _, w := range c.Warnings {
		log.Warn(w)
	}
	res.Warnings = append(res.Warnings, c.Warnings...)
	if !res.Partial {
		if err := recordSuccess(dir, job.Name, res.Logical); err != nil {
			log.Warn("could not record the run for catch-up", "error", err)
			res.Warnings = append(res.Warnings, fmt.Sprintf("the run is not recorded for catch-up: %v", err))
		}
	}
	deleted, warns, err := dir.Retain(job.Name, job.Retention, time.Now(), res.Logical)
	for _, p := range deleted {
		log.Info("retention: deleted", "path", p)
	}
	if err != nil {
		warns = append(warns, err.Error())
	}
	for _, w := range warns {
		log.Warn(w)
	}
	res.Warnings = append(res.Warnings, warns...)
}
