package output

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"
)

// ErrClosed is returned by a Report used after Commit or Abort.
var ErrClosed = errors.New("report already committed or aborted")

// Open starts the files of one output for one job run in dir, output_dir;
// destination folders are created as needed (they stay if the run fails).
// An xlsx output creates its temporary file now, so an unwritable folder
// fails early; csv and jsonl outputs create one per dataset in
// Report.Dataset.
func Open(spec Spec, dir *Dir, vars Vars) (Report, error) {
	ext, err := checkTemplate(spec, 0)
	if err != nil {
		return nil, err
	}
	if errs := spec.Validate(0); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	spec = spec.resolved()
	loc := vars.Location
	if loc == nil {
		loc = vars.Logical.Location()
	}
	r := &report{spec: spec, dir: dir, vars: vars, loc: loc, ext: ext, seen: make(map[string]bool)}
	if spec.Latest != "" {
		l := spec
		l.Path = spec.Latest
		if r.latestExt, err = checkTemplate(l, 0); err != nil {
			return nil, fmt.Errorf("latest: %w", err)
		}
	}
	if spec.Format == "xlsx" {
		wb, err := r.newPart("", vars)
		if err != nil {
			return nil, err
		}
		r.book = newBook(spec, loc)
		// The compressed rows wait beside the workbook, like its temporary
		// file: on the same file system, not in a /tmp that may be small,
		// in memory or read-only.
		r.book.scratch = func() (*os.File, func() error, error) { return dir.scratch(wb.tf.dest) }
		r.book.skipEmpty = vars.SkipEmpty
	}
	return r, nil
}

// report implements Report for every format: csv and jsonl keep one part
// (a temporary file) per dataset, xlsx one workbook in one part.
type report struct {
	spec      Spec // resolved
	dir       *Dir
	vars      Vars
	loc       *time.Location
	ext       string
	latestExt string
	parts     []*part
	seen      map[string]bool // destinations and dataset names already used
	open      datasetWriter   // the latest dataset's writer
	all       []datasetWriter // every dataset's writer, in order
	names     []string        // every dataset's name, in order
	book      *book           // xlsx only
	warns     []string
	ended     bool // committed or aborted

	prepared bool            // Prepare succeeded: keep and infos are set
	keep     []*part         // the files to rename into place
	infos    [][]DatasetRows // what each of keep holds
}

// part is one file of a report.
type part struct {
	name       string // the dataset of a csv or jsonl file
	tf         *tempFile
	latest     string        // where its stable copy or link goes, relative to the Dir; "" for none
	copyLatest bool          // latest is a copy, not a link
	mode       fs.FileMode   // the output's file_mode, 0 for the umask's
	w          datasetWriter // csv and jsonl
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
		return nil, ErrClosed
	}
	if r.open != nil && !r.open.done() {
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
	var w datasetWriter
	if r.book != nil {
		sw, err := r.book.sheet(name, labelled, present)
		if err != nil {
			return nil, err // the caller names the dataset
		}
		w = sw
	} else {
		vars := r.vars
		vars.Dataset = name
		p, err := r.newPart(name, vars)
		if err != nil {
			return nil, err // the caller names the dataset
		}
		if r.spec.Format == "jsonl" {
			w = newJSONLWriter(p.tf, labelled, r.loc, r.spec)
		} else if w, err = newCSVWriter(p.tf, labelled, r.loc, r.spec); err != nil {
			return nil, err // the caller names the dataset
		}
		p.w = w
	}
	r.open = w
	r.all = append(r.all, w)
	r.names = append(r.names, name)
	return w.(RowWriter), nil
}

// datasetWriter is what a Report needs to know about its RowWriters.
type datasetWriter interface {
	done() bool         // Close was called
	failed() error      // the error that stuck, if any
	rowCount() int64    // data rows written
	warnings() []string // values changed on the way
}

func (r *report) Prepare() (err error) {
	if r.ended {
		return ErrClosed
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
		if !w.done() {
			return errors.New("commit: a dataset is not closed")
		}
		if err := w.failed(); err != nil {
			return fmt.Errorf("commit: a dataset failed: %w", err)
		}
	}
	for i, w := range r.all {
		for _, msg := range w.warnings() {
			if r.book == nil {
				msg = "dataset " + r.names[i] + ": " + msg
			}
			r.warns = append(r.warns, msg)
		}
	}
	for _, c := range r.spec.Columns {
		if !r.seen["\x01"+c.Name] {
			r.warns = append(r.warns, fmt.Sprintf("columns.%s: no dataset has this column", c.Name))
		}
	}

	// What each file holds; empty datasets are dropped with SkipEmpty.
	var keep []*part
	var infos [][]DatasetRows
	if r.book != nil {
		var ds []DatasetRows
		for i, w := range r.all {
			sw := w.(*sheetWriter)
			if !sw.skipped {
				ds = append(ds, DatasetRows{Name: r.names[i], Rows: sw.rows, Sheets: sw.sheets})
			}
		}
		if len(ds) > 0 || !r.vars.SkipEmpty {
			keep, infos = r.parts, [][]DatasetRows{ds}
		}
	} else {
		for _, p := range r.parts {
			rows := p.w.rowCount()
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
	if r.book != nil && len(keep) > 0 {
		if *r.spec.About {
			if err := r.book.about(r.vars, r.loc, infos[0]); err != nil {
				return fmt.Errorf("write %s: %w", r.dir.Abs(keep[0].tf.dest), err)
			}
		}
		if err := r.book.save(keep[0].tf, r.vars); err != nil {
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
		f := File{Path: p.tf.dest, Format: r.spec.Format, Size: p.tf.size, SHA256: p.tf.sum(), Datasets: r.infos[i]}
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
	if r.book != nil {
		errs = append(errs, r.book.close())
	}
	for _, p := range r.parts {
		errs = append(errs, p.tf.remove())
	}
	return errors.Join(errs...)
}
