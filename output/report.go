package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrClosed is returned by a Report used after Commit or Abort.
var ErrClosed = errors.New("report already committed or aborted")

// Open starts the files of one output for one job run. dir is output_dir;
// destination folders are created as needed (they stay if the run fails).
// An xlsx output creates its temporary file now, so an unwritable folder
// fails early; a csv output creates one per dataset in Report.Dataset.
func Open(spec Spec, dir string, vars Vars) (Report, error) {
	ext, err := checkTemplate(spec, 0)
	if err != nil {
		return nil, err
	}
	loc := vars.Location
	if loc == nil {
		loc = vars.Logical.Location()
	}
	r := &report{spec: spec, dir: dir, vars: vars, loc: loc, ext: ext, seen: make(map[string]bool)}
	if spec.Format == "xlsx" {
		dest, err := destination(spec, dir, vars, ext)
		if err != nil {
			return nil, err
		}
		tf, err := createTemp(dest)
		if err != nil {
			return nil, err
		}
		r.files = append(r.files, tf)
		r.book = newBook(loc)
	}
	return r, nil
}

// report implements Report for both formats: csv keeps one temporary file
// per dataset, xlsx one workbook in one temporary file.
type report struct {
	spec  Spec
	dir   string
	vars  Vars
	loc   *time.Location
	ext   string
	files []*tempFile
	seen  map[string]bool // destinations and dataset names already used
	open  datasetWriter   // the latest dataset's writer
	all   []datasetWriter // every dataset's writer, checked by Commit
	book  *book           // xlsx only
	ended bool            // committed or aborted
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
	if r.book != nil {
		w, err := r.book.sheet(name, cols)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", name, err)
		}
		r.open = w
		r.all = append(r.all, w)
		return w, nil
	}
	vars := r.vars
	vars.Dataset = name
	dest, err := destination(r.spec, r.dir, vars, r.ext)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	if r.seen[dest] {
		return nil, fmt.Errorf("dataset %s: %s is already written by another dataset of this job", name, dest)
	}
	r.seen[dest] = true
	tf, err := createTemp(dest)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	r.files = append(r.files, tf)
	w, err := newCSVWriter(tf, cols, r.loc, r.spec.BOM)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	r.open = w
	r.all = append(r.all, w)
	return w, nil
}

// datasetWriter is what a Report needs to know about its RowWriters.
type datasetWriter interface {
	done() bool    // Close was called
	failed() error // the error that stuck, if any
}

func (r *report) Commit() (paths []string, err error) {
	if r.ended {
		return nil, ErrClosed
	}
	defer func() {
		if err != nil {
			_ = r.Abort()
		}
	}()
	for _, w := range r.all {
		if !w.done() {
			return nil, errors.New("commit: a dataset is not closed")
		}
		if err := w.failed(); err != nil {
			return nil, fmt.Errorf("commit: a dataset failed: %w", err)
		}
	}
	if r.book != nil {
		if err := r.book.save(r.files[0].f); err != nil {
			return nil, fmt.Errorf("write %s: %w", r.files[0].dest, err)
		}
	}
	for _, tf := range r.files {
		if err := tf.finish(); err != nil {
			return nil, err
		}
	}
	// Renames come last and together: each is atomic, and every file is
	// complete and synced before the first one replaces anything.
	dirs := make(map[string]bool)
	for _, tf := range r.files {
		if err := os.Rename(tf.tmp, tf.dest); err != nil {
			return paths, fmt.Errorf("rename into place: %w", err)
		}
		tf.renamed = true
		paths = append(paths, tf.dest)
		dirs[filepath.Dir(tf.dest)] = true
	}
	r.ended = true
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

func (r *report) Abort() error {
	if r.ended {
		return nil
	}
	r.ended = true
	var errs []error
	if r.book != nil {
		errs = append(errs, r.book.close())
	}
	for _, tf := range r.files {
		errs = append(errs, tf.remove())
	}
	return errors.Join(errs...)
}

// tempFile is a file being written beside its destination.
type tempFile struct {
	f       *os.File // nil once closed
	tmp     string
	dest    string
	renamed bool
}

// createTemp creates dest's folder if needed and a hidden temporary file
// in it, named ".<base>.tmp-<random>", so the final rename stays within
// one file system.
func createTemp(dest string) (*tempFile, error) {
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create folder: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	// Reports are read by others; CreateTemp's 0600 would hide them.
	if err := f.Chmod(0o644); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	return &tempFile{f: f, tmp: f.Name(), dest: dest}, nil
}

// finish syncs and closes the file; it is idempotent.
func (t *tempFile) finish() error {
	if t.f == nil {
		return nil
	}
	f := t.f
	t.f = nil
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", t.tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", t.tmp, err)
	}
	return nil
}

// remove closes and deletes the temporary file unless it was renamed.
func (t *tempFile) remove() error {
	if t.f != nil {
		_ = t.f.Close()
		t.f = nil
	}
	if t.renamed {
		return nil
	}
	if err := os.Remove(t.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
