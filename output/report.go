package output

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ErrClosed is returned by a Report used after Commit or Abort.
var ErrClosed = errors.New("report already committed or aborted")

// Open starts the files of one output for one job run. dir is output_dir;
// destination folders are created as needed (they stay if the run fails).
// An xlsx output creates its temporary file now, so an unwritable folder
// fails early; csv and jsonl outputs create one per dataset in
// Report.Dataset.
func Open(spec Spec, dir string, vars Vars) (Report, error) {
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
		r.book.tmpDir = filepath.Dir(wb.tf.dest)
		r.book.skipEmpty = vars.SkipEmpty
	}
	return r, nil
}

// report implements Report for every format: csv and jsonl keep one part
// (a temporary file) per dataset, xlsx one workbook in one part.
type report struct {
	spec      Spec // resolved
	dir       string
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
	written   []File
	warns     []string
	ended     bool // committed or aborted

	prepared bool            // Prepare succeeded: keep and infos are set
	keep     []*part         // the files to rename into place
	infos    [][]DatasetRows // what each of keep holds
}

// part is one file of a report.
type part struct {
	name   string // the dataset of a csv or jsonl file
	tf     *tempFile
	latest string        // where its stable copy or link goes, "" for none
	w      datasetWriter // csv and jsonl
}

// newPart creates the temporary file of one destination.
func (r *report) newPart(dataset string, vars Vars) (*part, error) {
	dest, err := destination(r.spec.Path, r.dir, vars, r.ext)
	if err != nil {
		return nil, err
	}
	if r.seen[dest] {
		return nil, fmt.Errorf("%s is already written by another dataset of this job", dest)
	}
	p := &part{name: dataset}
	if r.spec.Latest != "" {
		if p.latest, err = destination(r.spec.Latest, r.dir, vars, r.latestExt); err != nil {
			return nil, fmt.Errorf("latest: %w", err)
		}
		if p.latest == dest {
			return nil, fmt.Errorf("latest: %s is the report itself", dest)
		}
	}
	tf, err := createTemp(dest)
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
				return fmt.Errorf("write %s: %w", keep[0].tf.dest, err)
			}
		}
		if err := r.book.save(keep[0].tf); err != nil {
			return fmt.Errorf("write %s: %w", keep[0].tf.dest, err)
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

func (r *report) Commit() (paths []string, err error) {
	if err := r.Prepare(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = r.Abort()
		}
	}()
	keep, infos := r.keep, r.infos
	// Renames come last and together: each is atomic, and every file is
	// complete and synced before the first one replaces anything.
	dirs := make(map[string]bool)
	for i, p := range keep {
		if err := os.Rename(p.tf.tmp, p.tf.dest); err != nil {
			return paths, fmt.Errorf("rename into place: %w", err)
		}
		p.tf.renamed = true
		paths = append(paths, p.tf.dest)
		dirs[filepath.Dir(p.tf.dest)] = true
		f := File{Path: p.tf.dest, Format: r.spec.Format, Size: p.tf.size, SHA256: hex.EncodeToString(p.tf.hash.Sum(nil)), Datasets: infos[i]}
		for _, d := range infos[i] {
			f.Rows += d.Rows
		}
		r.written = append(r.written, f)
	}
	r.ended = true
	if r.book != nil {
		_ = r.book.close()
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return paths, err
		}
	}
	for i, p := range keep {
		if p.latest == "" {
			continue
		}
		// The report itself is in place: a stale latest is worth a warning,
		// not the failure of a run whose files are written.
		if err := updateLatest(p.tf.dest, p.latest, r.spec.LatestMode == "copy"); err != nil {
			r.warns = append(r.warns, fmt.Sprintf("latest %s not updated: %v", p.latest, err))
			continue
		}
		r.written[i].Latest = p.latest
	}
	return paths, nil
}

func (r *report) Files() []File      { return r.written }
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

// updateLatest points latest at dest: a relative symbolic link, or with
// copy a copy of the file. Either replaces latest atomically, so a reader
// sees the previous report or the new one, never a partial file.
func updateLatest(dest, latest string, copyFile bool) error {
	if copyFile {
		src, err := os.Open(dest)
		if err != nil {
			return err
		}
		defer src.Close()
		tf, err := createTemp(latest)
		if err != nil {
			return err
		}
		if _, err := io.Copy(tf.f, src); err != nil {
			_ = tf.remove()
			return fmt.Errorf("copy %s: %w", dest, err)
		}
		if err := tf.finish(); err != nil {
			_ = tf.remove()
			return err
		}
		if err := os.Rename(tf.tmp, latest); err != nil {
			_ = tf.remove()
			return err
		}
		return syncDir(filepath.Dir(latest))
	}
	if err := os.MkdirAll(filepath.Dir(latest), 0o755); err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	target, err := filepath.Rel(filepath.Dir(latest), dest)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(latest), "."+filepath.Base(latest)+".tmp-"+randomSuffix())
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, latest); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(latest))
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}

// tempFile is a file being written beside its destination. Writes go
// through it so it knows the content's size and SHA-256.
type tempFile struct {
	f       *os.File // nil once closed
	tmp     string
	dest    string
	renamed bool
	size    int64
	flushed int64 // bytes handed to startWriteback
	hash    hash.Hash
}

// writebackEvery is how many written bytes make tempFile start their
// writeback to disk: without it, the fsync of a 140 MB CSV took 60 ms at
// the end of the run, after the last row.
const writebackEvery = 8 << 20

func (t *tempFile) Write(p []byte) (int, error) {
	if t.f == nil {
		return 0, os.ErrClosed
	}
	n, err := t.f.Write(p)
	t.hash.Write(p[:n])
	t.size += int64(n)
	if t.size-t.flushed >= writebackEvery {
		startWriteback(t.f, t.flushed, t.size-t.flushed)
		t.flushed = t.size
	}
	return n, err
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
	return &tempFile{f: f, tmp: f.Name(), dest: dest, hash: sha256.New()}, nil
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
