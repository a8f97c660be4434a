package output

import (
	"database/sql"
	"io/fs"
	"os"
	"testing"
	"time"
)

// Exported for the tests of package output_test, which run reports through
// the default registry of output/formats (which imports this package).

// CheckTemplate checks spec's format and path for a job with the given
// number of datasets, as Registry.Validate does.
func CheckTemplate(reg *Registry, spec Spec, datasets int) error {
	f, err := reg.Lookup(spec.Format)
	if err != nil {
		return err
	}
	_, err = checkTemplate(f, spec, datasets)
	return err
}

// StreamOf returns the Stream of a dataset of a format with a file per
// dataset.
func StreamOf(w RowWriter) *Stream { return w.(interface{ stream() *Stream }).stream() }

// CloseFile closes the descriptor of the file of such a dataset.
func CloseFile(w RowWriter) error { return StreamOf(w).tf.f.Close() }

type (
	Journal       = journal
	JournalRename = journalRename
	JournalFile   = journalFile
	TempFile      = tempFile
)

func JournalPath(job string) string { return journalPath(job) }
func LockFile(f *os.File) error     { return lockFile(f) }

func (d *Dir) CreateTemp(dest string, mode fs.FileMode) (*TempFile, error) {
	return d.createTemp(dest, mode)
}
func (t *tempFile) Tmp() string   { return t.tmp }
func (t *tempFile) Remove() error { return t.remove() }

func CivilFromDays(days int64) (int, uint32, uint32) { return civilFromDays(days) }

// benchRow is a typical report row: ids, money, timestamps and text.
func benchRow() ([]Column, []sql.RawBytes) {
	cols := []Column{
		{Name: "id", DatabaseType: "BIGINT", Kind: KindInt},
		{Name: "user_id", DatabaseType: "UNSIGNED INT", Kind: KindUint},
		{Name: "amount", DatabaseType: "DECIMAL", Kind: KindDecimal, Precision: 10, Scale: 2},
		{Name: "ratio", DatabaseType: "DOUBLE", Kind: KindFloat},
		{Name: "day", DatabaseType: "DATE", Kind: KindDate},
		{Name: "created_at", DatabaseType: "DATETIME", Kind: KindDateTime},
		{Name: "updated_at", DatabaseType: "TIMESTAMP", Kind: KindDateTime, Scale: 3},
		{Name: "name", DatabaseType: "VARCHAR", Kind: KindText},
		{Name: "note", DatabaseType: "TEXT", Kind: KindText},
		{Name: "deleted_at", DatabaseType: "DATETIME", Kind: KindDateTime},
	}
	return cols, raw("1234567", "42", "1999.95", "0.125", "2024-03-01", "2024-03-01 09:15:00",
		"2024-03-01 09:15:00.250", "Zoë Müller", `said "hi", left`, nil)
}

// otherBenchRow is benchRow's columns with another value in each.
func otherBenchRow() []sql.RawBytes {
	return raw("1234568", "43", "2000.05", "0.375", "2024-03-02", "2024-03-02 10:16:01",
		"2024-03-02 10:16:01.750", "Ana Núñez", `wrote "no", stayed`, nil)
}

func raw(vals ...any) []sql.RawBytes {
	out := make([]sql.RawBytes, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = sql.RawBytes(s)
		}
	}
	return out
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load location %s: %v", name, err)
	}
	return loc
}

// BenchRow, Raw and MustLoc are benchRow, raw and mustLoc for output_test.
func BenchRow() ([]Column, []sql.RawBytes)             { return benchRow() }
func OtherBenchRow() []sql.RawBytes                    { return otherBenchRow() }
func Raw(vals ...any) []sql.RawBytes                   { return raw(vals...) }
func MustLoc(t testing.TB, name string) *time.Location { return mustLoc(t, name) }

// KindOf, Expand, ErrClosed and ErrNewerReport are kindOf, expand,
// errClosed and errNewerReport for output_test.
func KindOf(databaseType string) Kind               { return kindOf(databaseType) }
func Expand(tmpl string, vars Vars) (string, error) { return expand(tmpl, vars) }

var (
	ErrClosed      = errClosed
	ErrNewerReport = errNewerReport
)

// ZeroDates returns how many zero, partly zero or invalid dates Normalize
// has passed on as literal text so far, over all columns.
func (n *Normalizer) ZeroDates() int64 {
	var total int64
	for _, z := range n.zero {
		total += z
	}
	return total
}

// stream returns s: a DatasetWriter that embeds a Stream has this method,
// whatever its package, which lets the tests of output reach the file.
func (s *Stream) stream() *Stream { return s }

// NopWriter is a RowWriter that does nothing.
type NopWriter = nopWriter
