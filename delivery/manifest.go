package delivery

import (
	"path/filepath"
	"slices"
	"time"

	"github.com/joinery/joinery/output"
)

// FromManifest returns the report of the run that the manifest rm, found
// in dir, records: for joinery deliver, which sends a committed run again
// without running its queries. loc is the job's zone. The report gives a
// template what the run's own delivery gave it (deliverer.FromRun): its
// times in the job's zone, its parameters with the types the run had,
// rows, join diagnostics and warnings per dataset, the run's warnings and
// attempts; but a manifest written before this version has no join
// diagnostics, dataset warnings or attempts, and a file of a manifest
// written before outputs had names has no Output (only destinations that
// carry every output carry it).
func FromManifest(dir *output.Dir, rm output.RunManifest, loc *time.Location) *Report {
	if loc == nil {
		loc = time.UTC
	}
	m := rm.Manifest
	r := &Report{
		Job:      m.Job,
		RunID:    m.RunID,
		Logical:  m.Logical,
		Zone:     loc.String(),
		Warnings: slices.Clone(m.Warnings),
		Manifest: dir.Abs(filepath.FromSlash(rm.Path)),
		Dir:      dir.Path(),
		Event:    EventSuccess,
		Attempts: m.Attempts,
	}
	if m.Window != nil {
		r.WindowStart, r.WindowEnd = m.Window.From, m.Window.To
	}
	for _, p := range m.Params {
		r.Params = append(r.Params, p.Param(loc))
	}
	for _, d := range m.Datasets {
		r.Datasets = append(r.Datasets, Dataset{Name: d.Name, Rows: d.Rows, Joins: slices.Clone(d.Joins), Warnings: slices.Clone(d.Warnings)})
	}
	for _, f := range m.Files {
		r.Files = append(r.Files, File{
			File: output.File{Path: dir.Abs(filepath.FromSlash(f.Path)), Format: f.Format, Size: f.Size, SHA256: f.SHA256,
				Rows: f.Rows, Datasets: f.Datasets, Latest: f.Latest, Output: f.Output},
			Rel:    f.Path,
			Output: f.Output,
		})
	}
	r.InZone()
	return r
}
