package output_test

import (
	"database/sql"
	"os"
	"testing"
	"time"

	. "github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

// testReport is a Report opened in a folder given by its path, with the
// commit of a run that has only this report: most tests need no more.
type testReport struct {
	Report
	d     *Dir
	vars  Vars
	files []File
	warns []string
	done  bool
}

// openT opens a Report for spec in the folder dir, as Open does.
func openT(spec Spec, dir string, vars Vars) (*testReport, error) {
	d, err := OpenDir(dir)
	if err != nil {
		return nil, err
	}
	r, err := formats.Default().Open(spec, d, vars)
	if err != nil {
		d.Close()
		return nil, err
	}
	return &testReport{Report: r, d: d, vars: vars}, nil
}

// Commit prepares the report and commits it as its run's only report,
// returning the paths written.
func (r *testReport) Commit() ([]string, error) {
	if r.done {
		return nil, ErrClosed
	}
	r.done = true
	defer r.d.Close()
	if err := r.Report.Prepare(); err != nil {
		return nil, err
	}
	job := r.vars.Job
	if job == "" {
		job = "test"
	}
	logical := r.vars.Logical
	if logical.IsZero() {
		logical = time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC)
	}
	c, err := r.d.Commit(Commit{Manifest: &Manifest{Job: job, Logical: logical, Started: time.Now()}, Reports: []Report{r.Report}})
	if err != nil {
		return nil, err
	}
	r.files = c.Files
	r.warns = c.Warnings
	var paths []string
	for _, f := range c.Files {
		paths = append(paths, f.Path)
	}
	return paths, nil
}

// Abort aborts the report and releases its folder.
func (r *testReport) Abort() error {
	if !r.done {
		r.done = true
		defer r.d.Close()
	}
	return r.Report.Abort()
}

// Files describes the files the commit wrote.
func (r *testReport) Files() []File { return r.files }

// Warnings are the report's and the commit's.
func (r *testReport) Warnings() []string { return append(r.Report.Warnings(), r.warns...) }

// testDir opens path as a Dir for the length of the test.
func testDir(t testing.TB, path string) *Dir {
	t.Helper()
	d, err := OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func raw(vals ...any) []sql.RawBytes                   { return Raw(vals...) }
func mustLoc(t testing.TB, name string) *time.Location { return MustLoc(t, name) }
