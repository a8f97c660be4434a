package jobs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/queries"
)

// Raw SQL datasets (queries/rawsql.go) as a job runs them: sql_file read
// from the configuration's folder, the columns the server names, and a
// read-only session for every run of a job that has one.

// maxSQLFileBytes is the largest sql_file read: one statement, where the
// configuration holds many jobs.
const maxSQLFileBytes = 1 << 20

// sqlFile reads the file a raw SQL dataset names into ds.FileSQL. The path
// is relative to the configuration file's folder (dir) and stays inside it
// (subfolders are fine; an absolute path or one that leaves the folder with
// .. is refused), so that the folder holds all a configuration reads, as
// the image and the Kubernetes ConfigMap mount it. Symbolic links inside
// the folder are followed (a ConfigMap's files are links).
func (v validator) sqlFile(dp string, ds *queries.Dataset) {
	if ds.SQLFile == "" {
		return
	}
	p := dp + ".sql_file"
	name := filepath.FromSlash(ds.SQLFile)
	if !filepath.IsLocal(name) {
		v.failValue(p, ds.SQLFile, "want a path relative to the configuration's folder, inside it (no absolute path, no .. leaving it)")
		return
	}
	f, err := os.Open(filepath.Join(v.dir, name))
	if err != nil {
		v.failValue(p, ds.SQLFile, "%v", unwrapPath(err))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSQLFileBytes+1))
	switch {
	case err != nil:
		v.failValue(p, ds.SQLFile, "%v", unwrapPath(err))
	case len(data) > maxSQLFileBytes:
		v.failValue(p, ds.SQLFile, "larger than %d MiB", maxSQLFileBytes>>20)
	default:
		ds.FileSQL = string(data)
	}
}

// unwrapPath leaves the path out of err: the problem names the file as
// written.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// hasRawSQL reports whether a dataset of the job is raw SQL: its runs then
// read in a READ ONLY session (see Runner.session).
func (j *Job) hasRawSQL() bool {
	return slices.ContainsFunc(j.Datasets, func(d queries.Dataset) bool { return d.IsRaw() })
}

// rawColumns checks the columns the server gives a raw SQL dataset: each
// name once (case-insensitively, as MySQL compares column names), since
// they head the CSV, the sheet and the keys of JSON lines.
func rawColumns(cols []output.Column) error {
	seen := make(map[string]int, len(cols))
	for i, c := range cols {
		if prev, dup := seen[strings.ToLower(c.Name)]; dup {
			return fmt.Errorf("result columns %d and %d are both named %q: give them distinct names with AS", prev+1, i+1, c.Name)
		}
		seen[strings.ToLower(c.Name)] = i
	}
	return nil
}

// rawSQLSource says where a raw SQL dataset's SQL is, for the server's
// errors about it: the lines they count are the file's, or those of the
// sql field's text.
func rawSQLSource(ds *queries.Dataset) string {
	if ds.SQLFile != "" {
		return "sql_file " + ds.SQLFile
	}
	return "sql"
}
