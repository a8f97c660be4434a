package output

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"
)

// errClosed is returned by a Report used after Commit or Abort.
var errClosed = errors.New("report already committed or aborted")

// Open starts the files of one output for one job run in dir, output_dir,
// in the output's format from the registry; destination folders are
// created as needed (they stay if the run fails). A PerJob format (xlsx)
// creates its temporary file now, so an unwritable folder fails early;
// the others create one per dataset in Report.Dataset.
func (reg *Registry) Open(spec Spec, dir *Dir, vars Vars) (Report, error) {
	format, err := reg.Lookup(spec.Format)
	if err != nil {
		return nil, err
	}
	ext, err := checkTemplate(format, spec, 0)
	if err != nil {
		return nil, err
	}
	if errs := reg.Validate(spec, 0); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	spec = spec.resolved()
	loc := vars.Location
	if loc == nil {
		loc = vars.Logical.Location()
	}
	r := &report{spec: spec, format: format, dir: dir, vars: vars, loc: loc, ext: ext, seen: make(map[string]bool)}
	if spec.Latest != "" {
		l := spec
		l.Path = spec.Latest
		if r.latestExt, err = checkTemplate(format, l, 0); err != nil {
			return nil, fmt.Errorf("latest: %w", err)
		}
	}
	env := Env{Vars: vars, Location: loc}
	if format.PerJob() {
		file, err := r.newPart("", vars)
		if err != nil {
			return nil, err
		}
		// Work in progress (a workbook's compressed rows) waits beside the
		// file, like its temporary file: on the same file system, not in
		// a /tmp that may be small, in memory or read-only.
		env.Scratch = func() (*os.File, func() error, error) { return dir.scratch(file.tf.dest) }
	}
	if r.w, err = format.New(spec, env); err != nil {
		_ = r.Abort()
		return nil, err
	}
	return r, nil
}

// report implements Report for every format: a format with a file per
// dataset has one part (a temporary file) per dataset, a PerJob format
// one file in one part, written by its Writer's Save.
type report struct {
	spec      Spec // resolved
	format    Format
	w         Writer
	dir       *Dir
	vars      Vars
	loc       *time.Location
	ext       string
	latestExt string
	parts     []*part
	seen      map[string]bool // destinations and dataset names already used
	open      DatasetWriter   // the latest dataset's writer
	all       []DatasetWriter // every dataset's writer, in order
	names     []string        // every dataset's name, in order
	warns     []string
	ended     bool // committed or aborted

	prepared bool            // Prepare succeeded: keep and infos are set
	keep     []*part         // the files to rename into place
	infos    [][]DatasetRows // what each of keep holds
}

// part is one file of a report.
type part struct {
	name       string // the dataset of a file per dataset
	tf         *tempFile
	latest     string        // where its stable copy or link goes, relative to the Dir; "" for none
	copyLatest bool          // latest is a copy, not a link
	mode       fs.FileMode   // the output's file_mode, 0 for the umask's
	w          DatasetWriter // a format with a file per dataset: its writer
}

// newPart creates the temporary file of one destination.
func (r *report) newPart(dataset string, vars Vars) (*part, error) {
	dest, err := destination(r.spec.Path, vars, r.ext)
	if err != nil {
		return nil, err
	}
	if r.seen[dest] {
		return nil, fmt.Errorf("%s is already written by another dataset of this job", r.dir.Abs(dest))
	}
	p := &part{name: dataset, copyLatest: r.spec.LatestMode == "copy", mode: fs.FileMode(r.spec.FileMode)}
	if r.spec.Latest != "" {
		if p.latest, err = destination(r.spec.Latest, vars, r.latestExt); err != nil {
			return nil, fmt.Errorf("latest: %w", err)
		}
		if p.latest == dest {
			return nil, fmt.Errorf("latest: %s is the report itself", r.dir.Abs(dest))
		}
	}
	tf, err := r.dir.createTemp(dest, p.mode)
	if err != nil {
		return nil, err
	}
	r.seen[dest] = true
	p.tf = tf
	r.parts = append(r.parts, p)
	return p, nil
}

func (r *report) Dataset(name string, cols []Column) (RowWriter, error) {
	if r.ended {
		return nil, errClosed
	}
	if r.open != nil && !r.open.Done() {
		return nil, fmt.Errorf("dataset %s: the previous dataset is not closed", name)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("dataset %s: no columns", name)
	}
	if r.seen["\x00"+name] {
		return nil, fmt.Errorf("dataset %s: written twice", name)
	}
	r.seen["\x00"+name] = true
	// Configured labels replace the column names; the rest of the
	// presentation is for xlsx.
	present := make([]ColumnSpec, len(cols))
	labelled := make([]Column, len(cols))
	for i, c := range cols {
		labelled[i] = c
		if p, ok := r.spec.presentation(name, c.Name); ok {
			present[i] = p
			r.seen["\x01"+c.Name], r.seen["\x01"+name+"/"+c.Name] = true, true
			if p.Label != "" {
				labelled[i].Name = p.Label
			}
		}
	}
	d := Dataset{Name: name, Columns: labelled, Present: present}
	var p *part
	if !r.format.PerJob() {
		vars := r.vars
		vars.Dataset = name
		var err error
		if p, err = r.newPart(name, vars); err != nil {
			return nil, err // the caller names the dataset
		}
		d.File = newStream(p.tf, r.spec.Gzip, r.format.Name())
	}
	w, err := r.w.Dataset(d)
	if err != nil {
		return nil, err // the caller names the dataset
	}
	if p != nil {
		p.w = w
	}
	r.open = w
	r.all = append(r.all, w)
	r.names = append(r.names, name)
	return w, nil
}

func (r *report) Prepare() (err error) {
	if r.ended {
		return errClosed
	}
	if r.prepared {
		return nil
	}
	defer func() {
		if err != nil {
			_ = r.Abort()
		}
	}()
	for _, w := range r.all {
		if !w.Done() {
			return errors.New("commit: a dataset is not closed")
		}
		if err := w.Failed(); err != nil {
			return fmt.Errorf("commit: a dataset failed: %w", err)
		}
	}
	for _, w := range r.all {
		r.warns = append(r.warns, w.Warnings()...)
	}
	for _, c := range r.spec.Columns {
		if !r.seen["\x01"+c.Name] {
			r.warns = append(r.warns, fmt.Sprintf("columns.%s: no dataset has this column", c.Name))
		}
	}

	// What each file holds; empty datasets are dropped with SkipEmpty.
	var keep []*part
	var infos [][]DatasetRows
	if r.format.PerJob() {
		var ds []DatasetRows
		for i, w := range r.all {
			if rows := w.RowCount(); rows > 0 || !r.vars.SkipEmpty {
				ds = append(ds, DatasetRows{Name: r.names[i], Rows: rows, Sheets: w.Sheets()})
			}
		}
		if len(ds) > 0 || !r.vars.SkipEmpty {
			keep, infos = r.parts, [][]DatasetRows{ds}
		}
	} else {
		for _, p := range r.parts {
			rows := p.w.RowCount()
			if rows == 0 && r.vars.SkipEmpty {
				continue
			}
			keep = append(keep, p)
			infos = append(infos, []DatasetRows{{Name: p.name, Rows: rows}})
		}
	}
	for _, p := range r.parts {
		if !slices.Contains(keep, p) {
			if err := p.tf.remove(); err != nil {
				return err
			}
		}
	}
	if r.format.PerJob() && len(keep) > 0 {
		if err := r.w.Save(keep[0].tf, infos[0]); err != nil {
			return fmt.Errorf("write %s: %w", r.dir.Abs(keep[0].tf.dest), err)
		}
	}
	for _, p := range keep {
		if err := p.tf.finish(); err != nil {
			return err
		}
	}
	r.keep, r.infos, r.prepared = keep, infos, true
	return nil
}

// files describes the prepared files, with paths relative to the Dir.
func (r *report) files() []File {
	out := make([]File, len(r.keep))
	for i, p := range r.keep {
		f := File{Path: p.tf.dest, Format: r.spec.Format, Output: r.spec.Name, Size: p.tf.size, SHA256: p.tf.sum(), Datasets: r.infos[i]}
		for _, d := range r.infos[i] {
			f.Rows += d.Rows
		}
		out[i] = f
	}
	return out
}

func (r *report) Warnings() []string { return r.warns }

func (r *report) Abort() error {
	if r.ended {
		return nil
	}
	r.ended = true
	var errs []error
	if r.w != nil {
		errs = append(errs, r.w.Close())
	}
	for _, p := range r.parts {
		errs = append(errs, p.tf.remove())
	}
	return errors.Join(errs...)
}
