package delivery

import (
	"encoding/json"
	"path/filepath"

	"github.com/joinery/joinery/output"
)

// FromManifest returns the report of the run that the manifest rm, found
// in dir, records: for joinery deliver, which sends a committed run again
// without running its queries. The manifest has no join diagnostics:
// Datasets have none. A file of a manifest written before outputs had
// names has no Output: only destinations that carry every output carry
// it.
func FromManifest(dir *output.Dir, rm output.RunManifest) *Report {
	m := rm.Manifest
	r := &Report{
		Job:      m.Job,
		RunID:    m.RunID,
		Logical:  m.Logical,
		Warnings: m.Warnings,
		Manifest: dir.Abs(filepath.FromSlash(rm.Path)),
		Dir:      dir.Path(),
		Event:    EventSuccess,
	}
	if m.Window != nil {
		r.WindowStart, r.WindowEnd = m.Window.From, m.Window.To
	}
	for _, p := range m.Params {
		var v any // as JSON has it: a date is its text
		_ = json.Unmarshal(p.Value, &v)
		r.Params = append(r.Params, output.Param{Name: p.Name, Type: p.Type, Value: v})
	}
	for _, d := range m.Datasets {
		r.Datasets = append(r.Datasets, Dataset{Name: d.Name, Rows: d.Rows})
	}
	for _, f := range m.Files {
		r.Files = append(r.Files, File{
			File: output.File{Path: dir.Abs(filepath.FromSlash(f.Path)), Format: f.Format, Size: f.Size, SHA256: f.SHA256,
				Rows: f.Rows, Datasets: f.Datasets, Latest: f.Latest, Output: f.Output},
			Rel:    f.Path,
			Output: f.Output,
		})
	}
	return r
}
