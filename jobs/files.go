package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/joinery/joinery/output"
)

// ErrEmpty is returned (wrapped) by Runner.Run when a dataset of a job with
// on_empty: fail has no rows.
var ErrEmpty = errors.New("no rows (the job's on_empty is fail)")

// vars describes a run to its reports.
func (r *Runner) vars(job *Job, res *Result) output.Vars {
	return output.Vars{
		Job:       job.Name,
		Logical:   res.Logical,
		RunTime:   res.Started.In(job.Location),
		Location:  job.Location,
		Version:   r.Version,
		DBHost:    r.Config.Database.Host(),
		SkipEmpty: job.OnEmpty == "skip",
	}
}

// Host names the database server for reports: host and port, or the
// embedded demo database; never user or password.
func (d Database) Host() string {
	if d.Embedded() {
		return "embedded demo database"
	}
	dsn, err := expandEnv(d.DSN)
	if err != nil {
		return ""
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return ""
	}
	return cfg.Addr
}

// record finishes a committed run: it logs the outputs' warnings, writes
// the manifest beside the run's files and applies the job's retention.
func (r *Runner) record(job *Job, res *Result, reports []output.Report, log *slog.Logger) error {
	dir := r.Config.OutputPath()
	var files []output.File
	for _, d := range res.Datasets {
		for _, w := range d.Warnings {
			res.Warnings = append(res.Warnings, "dataset "+d.Name+": "+w)
		}
	}
	for _, rep := range reports {
		files = append(files, rep.Files()...)
		for _, w := range rep.Warnings() {
			log.Warn("value changed in report", "warning", w)
			res.Warnings = append(res.Warnings, w)
		}
	}
	mfiles, err := output.ManifestFiles(dir, files)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	m := &output.Manifest{
		Job:      job.Name,
		Logical:  res.Logical,
		Started:  res.Started.In(job.Location),
		Duration: time.Since(res.Started).Seconds(),
		Version:  r.Version,
		DBHost:   r.Config.Database.Host(),
		Files:    mfiles,
		Warnings: res.Warnings,
	}
	if res.Window != nil {
		m.Window = &output.Window{From: res.Window.Start.In(job.Location), To: res.Window.End.In(job.Location)}
	}
	for _, d := range res.Datasets {
		m.Datasets = append(m.Datasets, output.ManifestSet{Name: d.Name, Rows: d.Rows, SQLSHA256: d.SQLHash, Duration: d.Duration.Seconds()})
	}
	if res.Manifest, err = output.WriteManifest(dir, m); err != nil {
		return err
	}
	deleted, warns, err := output.Retain(dir, job.Name, job.Retention, time.Now())
	for _, p := range deleted {
		log.Info("retention: deleted", "path", p)
	}
	for _, w := range warns {
		log.Warn(w)
	}
	res.Warnings = append(res.Warnings, warns...)
	return err
}
