// Package output turns the rows of a dataset into report files: CSV and XLSX
// workbooks, streamed row by row and written atomically (a temporary file
// beside the destination, renamed only after a complete write).
//
// The flow for one job run is:
//
//	cols := output.ColumnsOf(types)                  // once per query
//	norm := output.NewNormalizer(cols, dbLoc, reportLoc)
//	r, _ := output.Open(spec, dir, vars)             // one Report per configured output
//	w, _ := r.Dataset(name, cols)                    // for each dataset, in order
//	norm.Normalize(raw, vals); w.WriteRow(vals) ...; w.Close()
//	files, err := r.Commit()                         // or r.Abort() on any failure
//
// A row is normalised once and the same []Value is handed to every writer;
// writers never modify it.
//
// CSV (one file per dataset): RFC 4180 in UTF-8 (optionally with a BOM, see
// Spec.BOM), a header row, CRLF record ends, quotes only where needed, NULL
// as an empty field and the empty string as "". Numbers, TIME and YEAR are
// written exactly as MySQL returned them, DATE as 2006-01-02, DATETIME and
// TIMESTAMP as ISO 8601 in the report's zone with a numeric offset and as
// many fractional digits as the column's scale, binary values as upper-case
// hex (like MySQL's HEX()), zero and invalid dates as their literal text.
//
// XLSX (one workbook per report, one sheet per dataset, sheet names made
// valid and unique): a bold, frozen header row with filter buttons (an
// Excel table per sheet; duplicate headers get a "_2" suffix), column widths
// from header, type and the first 1000 rows, and typed cells. Integers over
// 15 significant digits and decimals that a float64 cannot hold exactly are
// text, so Excel never rounds them; see book for the details. A dataset
// longer than a sheet fails with ErrSheetFull.
package output

import (
	"strconv"
	"time"
)

// Kind is how a column's values are represented in reports.
type Kind uint8

// Column kinds, derived from the MySQL column type.
const (
	KindText     Kind = iota // CHAR, VARCHAR, TEXT, ENUM, SET, JSON, NULL and unknown types
	KindInt                  // signed integers; Raw holds decimal digits
	KindUint                 // unsigned integers; Raw holds decimal digits
	KindFloat                // FLOAT, DOUBLE; Raw holds the shortest exact text
	KindDecimal              // DECIMAL; Raw holds the exact text MySQL returned
	KindDate                 // DATE; Time holds the date at midnight UTC
	KindDateTime             // DATETIME, TIMESTAMP; Time holds the instant in the report's zone
	KindTime                 // TIME (a duration, may be negative or over 24h); Raw text
	KindYear                 // YEAR; Raw holds digits
	KindBinary               // BINARY, VARBINARY, BLOB, BIT, GEOMETRY; Raw holds the bytes
)

var kindNames = [...]string{"text", "int", "uint", "float", "decimal", "date", "datetime", "time", "year", "binary"}

// String returns the kind's lower-case name, e.g. "datetime".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Column describes one column of a dataset's result.
type Column struct {
	Name         string // header label (the select alias or column name)
	DatabaseType string // MySQL type name as the driver reports it, e.g. "DECIMAL"
	Kind         Kind
	Scale        int64 // digits after the point, for DECIMAL and fractional seconds
}

// Value is one normalised cell. It is only valid until the next row: Raw
// aliases the driver's buffer.
type Value struct {
	Null bool
	Raw  []byte    // text form as MySQL returned it
	Time time.Time // set for KindDate and KindDateTime (zero when Literal)
	// Literal means Raw is written as plain text whatever the column's
	// kind. The Normalizer sets it for zero, partly zero and invalid dates
	// ("0000-00-00", "2024-00-15", "2024-02-30"), which have no instant and
	// must never come out shifted to a neighbouring day.
	Literal bool
}

// Spec is one entry of a job's outputs list in config.yaml.
type Spec struct {
	Format string `yaml:"format"` // csv or xlsx
	// Path is a template relative to output_dir; see Expand for its fields.
	// Without an extension, ".csv" or ".xlsx" is appended.
	Path string `yaml:"path"`
	// BOM starts CSV files with a UTF-8 byte order mark, which Excel needs
	// to open a double-clicked CSV as UTF-8. Ignored for xlsx.
	BOM bool `yaml:"bom,omitempty"`
}

// Vars are the values a Spec's path template is expanded with.
type Vars struct {
	Job      string
	Dataset  string    // empty for per-job files (xlsx); set by Report.Dataset for csv
	Logical  time.Time // the run's logical time, already in the report's zone
	Location *time.Location
	// From and To are the run's window [From, To); zero when it has none.
	From, To time.Time
}

// Report is the set of files one output writes for one job run. A Report
// is not safe for concurrent use.
type Report interface {
	// Dataset starts the rows of one dataset. Datasets are written one after
	// another: the previous RowWriter is closed before the next one starts.
	Dataset(name string, cols []Column) (RowWriter, error)
	// Commit finishes every file and renames it into place, returning the
	// paths written. After a failed Commit nothing partial is left behind:
	// every temporary file is removed, and each destination holds either its
	// previous content or a complete new file.
	Commit() ([]string, error)
	// Abort removes every temporary file; destinations keep their previous
	// content. It is safe to call after Commit (it then does nothing) and
	// more than once.
	Abort() error
}

// RowWriter receives the rows of one dataset.
type RowWriter interface {
	// WriteRow writes one row; len(row) must equal the number of columns.
	// After an error the file is unusable and every later call returns the
	// same error.
	WriteRow(row []Value) error
	// Close finishes the dataset and returns the first error that stuck.
	// Calling it again returns the same result.
	Close() error
}
