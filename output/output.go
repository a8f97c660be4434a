// Package output turns the rows of a dataset into report files, streamed
// row by row and written atomically (a temporary file beside the
// destination, renamed only after a complete write), with a manifest per
// run and retention of older runs. The formats themselves (csv, xlsx,
// jsonl, ...) are packages of their own below it, behind the Format
// interface, and a Registry lists them (output/formats); this package
// never imports one. See docs/ARCHITECTURE-formats.md.
//
// The flow for one job run is:
//
//	reg := formats.Default()                         // the formats on offer
//	cols := rows.Columns()                           // mysqlconn.Rows, once per query
//	norm := output.NewNormalizer(cols, dbLoc, reportLoc)
//	r, _ := reg.Open(spec, dir, vars)                // one Report per configured output
//	w, _ := r.Dataset(name, cols)                    // for each dataset, in order
//	norm.Normalize(raw, vals); w.WriteRow(vals) ...; w.Close()
//	r.Prepare()                                      // every report of the run, then
//	c, err := dir.Commit(output.Commit{...})         // or r.Abort() on any failure
//
// A row is normalised once and the same []Value is handed to every writer;
// writers never modify it.
//
// How each MySQL type comes out in each format is tabled in
// docs/OUTPUTS.md; the formats' packages give the details.
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
	KindBinary               // BINARY, VARBINARY, BLOB, GEOMETRY; Raw holds the bytes
	KindBit                  // BIT; Raw holds the bits as big-endian bytes
)

var kindNames = [...]string{"text", "int", "uint", "float", "decimal", "date", "datetime", "time", "year", "binary", "bit"}

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
	Precision    int64 // DECIMAL: declared digits in all, as the driver reports them (0 when unknown)
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
	// Wall means Raw is Time's wall clock as MySQL writes a DATETIME
	// ("2006-01-02 15:04:05[.ffffff]"), in Time's location, whose UTC
	// offset never changes (UTC, say): text forms can copy the date and
	// clock from Raw instead of working them out from the instant. The
	// Normalizer sets it when it read the text in the report's own zone.
	Wall bool
}

// Spec is one entry of a job's outputs list in config.yaml. Validate checks
// it; zero values mean the documented defaults.
type Spec struct {
	// Name names the output in a job's deliver entries (outputs: [...])
	// and in manifests; unique within the job. Default: the format's name
	// when no other output of the job has that format, else
	// "<format>-<index>" (index in the job's outputs list, from 0).
	Name   string `yaml:"name,omitempty"`
	Format string `yaml:"format"` // a format's name in the Registry: csv, xlsx, jsonl, ...
	// Path is a template relative to output_dir; see expand (path.go) for its fields.
	// Without an extension, the format's first (Format.Extensions) is
	// appended (and ".gz" with Gzip).
	Path string `yaml:"path"`
	// Latest is an optional template (same fields and rules as Path) of a
	// stable name that always shows the newest report, such as
	// "{job}/latest". LatestMode says how: "link" (a relative symbolic
	// link, the default) or "copy" (for shares that do not follow links).
	Latest     string `yaml:"latest,omitempty"`
	LatestMode string `yaml:"latest_mode,omitempty"`
	// FileMode is the permission bits of the report files (and latest
	// copies), such as 0640. Zero, the default, gives 0666 less the
	// process's umask, as any Unix tool does.
	FileMode FileMode `yaml:"file_mode,omitempty"`

	// Binary is how BINARY, VARBINARY and BLOB values are written: "hex"
	// (upper case, like MySQL's HEX(); the default) or "base64".
	Binary string `yaml:"binary,omitempty"`
	// ZeroDates is how zero and partly zero dates ("0000-00-00",
	// "2024-00-15"), which have no instant, are written: "text" (MySQL's
	// literal text; the default) or "empty" (like NULL). Either way they
	// are counted in a warning and never shifted to a neighbouring day.
	ZeroDates string `yaml:"zero_dates,omitempty"`

	// CSV options.
	// BOM starts CSV files with a UTF-8 byte order mark, which Excel needs
	// to open a double-clicked CSV as UTF-8. Default false (true with
	// the excel-de preset).
	BOM *bool `yaml:"bom,omitempty"`
	// Delimiter is the field separator, one character; default ",". A tab
	// is written "\t" in YAML double quotes.
	Delimiter string `yaml:"delimiter,omitempty"`
	// LineEnding is "crlf" (RFC 4180, the default) or "lf".
	LineEnding string `yaml:"line_ending,omitempty"`
	// QuoteAll quotes every field but NULL.
	QuoteAll bool `yaml:"quote_all,omitempty"`
	// NullAs is the text of a NULL field; default empty. (Quote it in YAML:
	// a bare NULL or ~ is YAML's null, which means empty.)
	NullAs string `yaml:"null_as,omitempty"`
	// EscapeFormulas (default true) neutralises text fields that a
	// spreadsheet would run as a formula: a field starting with =, +, -, @,
	// tab or carriage return gets a leading apostrophe.
	EscapeFormulas *bool `yaml:"escape_formulas,omitempty"`
	// Gzip compresses csv, jsonl and tsv files (".gz" is added to the name).
	Gzip bool `yaml:"gzip,omitempty"`
	// Preset sets the csv options a known reader needs, each unless set
	// here: "excel-de" (PresetExcelDE) is ";", a BOM, DecimalSeparator
	// "," and the layouts dd.MM.yyyy and dd.MM.yyyy HH:mm:ss.
	Preset string `yaml:"preset,omitempty"`
	// DecimalSeparator is the decimal mark of DECIMAL, FLOAT and DOUBLE
	// values in csv: "." (the default) or ",". A "," needs another
	// delimiter.
	DecimalSeparator string `yaml:"decimal_separator,omitempty"`
	// DateFormat and DateTimeFormat are the layouts of DATE and of
	// DATETIME and TIMESTAMP values in csv (see locale.go), such as
	// "dd.MM.yyyy" and "dd.MM.yyyy HH:mm:ss"; default ISO 8601
	// (2024-03-01 and 2024-03-01T10:00:00+01:00).
	DateFormat     string `yaml:"date_format,omitempty"`
	DateTimeFormat string `yaml:"datetime_format,omitempty"`

	// XLSX options.
	// Decimals is how DECIMAL columns are written, each column whole:
	// "auto" (numbers when the declared precision is at most 15 digits,
	// which a double and Excel keep exactly, otherwise text with a
	// warning; the default), "number" (always numbers, the double nearest
	// each value; Excel shows 15 significant digits of it) or "text".
	Decimals string `yaml:"decimals,omitempty"`
	// Strings is how text cells are stored: "inline" (in the sheet, the
	// default) or "shared" (in the workbook's shared-strings table, which
	// Apple Numbers needs; see docs/OUTPUTS.md for which apps read what).
	Strings string `yaml:"strings,omitempty"`
	// About adds an "About" sheet describing the run (default true).
	About *bool `yaml:"about,omitempty"`
	// MaxRowsPerSheet is how many data rows a sheet holds before the
	// dataset continues on a new sheet ("posts", "posts (2)", ...) with the
	// header repeated; default and maximum 1,048,575 (Excel's limit less
	// the header).
	MaxRowsPerSheet int `yaml:"max_rows_per_sheet,omitempty"`
	// Columns sets the presentation of columns by name: header label (all
	// formats), number or date format, width, hidden and decimals (xlsx).
	Columns []ColumnSpec `yaml:"columns,omitempty"`
}

// ColumnSpec is the presentation of one column, written in config.yaml as
// a mapping from column name to settings:
//
//	columns:
//	  email: {label: E-mail, width: 30}
//	  posts/views: {format: "#,##0"}   # only in dataset posts
//
// A key "dataset/column" applies to one dataset and wins over a plain
// "column" key, which applies to every dataset with such a column.
type ColumnSpec struct {
	Name   string  `yaml:",key"`
	Label  string  `yaml:"label,omitempty"`  // header text; default the column name
	Format string  `yaml:"format,omitempty"` // Excel number format, such as "#,##0.00" or "dd.mm.yyyy hh:mm"
	Width  float64 `yaml:"width,omitempty"`  // Excel column width (1 to 255); default from the data
	Hidden bool    `yaml:"hidden,omitempty"` // hide the column in Excel (the other formats still carry it)
	// Decimals overrides the output's decimals for a DECIMAL column, such
	// as a SUM, whose declared precision (32 digits and up) makes it text
	// under auto: "number" writes it as numbers.
	Decimals string `yaml:"decimals,omitempty"`
}

// Vars describe the run a Report belongs to: the values a Spec's path
// template is expanded with, and what the About sheet shows.
type Vars struct {
	Job         string
	RunID       string    // the run's id (jobs.Result.RunID), for the About sheet
	Dataset     string    // empty for per-job files (xlsx); set by Report.Dataset for a file per dataset
	Logical     time.Time // the run's logical time, already in the report's zone
	WindowStart time.Time // the run's data window, zero when the job has none
	WindowEnd   time.Time
	RunTime     time.Time // when the run started
	Location    *time.Location
	Version     string // joinery's version, for the About sheet
	DBHost      string // database host and port, never credentials
	// Params are the run's parameters, in declaration order: {param.NAME}
	// in paths, rows of the About sheet.
	Params []Param
	// Snapshot is the isolation level of the consistent snapshot the run
	// reads, "" when it reads none (About sheet).
	Snapshot string
	// SkipEmpty leaves datasets without rows out of the report: no csv or
	// jsonl file, no sheet; a workbook left with no data sheet is not
	// written at all.
	SkipEmpty bool
}

// File is one file a run wrote.
type File struct {
	Path     string        `json:"path"`               // where it was written
	Format   string        `json:"format"`             // the format's name
	Size     int64         `json:"size"`               // bytes
	SHA256   string        `json:"sha256"`             // hex digest of the content
	Rows     int64         `json:"rows"`               // data rows over every dataset in the file
	Datasets []DatasetRows `json:"datasets,omitempty"` // the datasets in the file, in order
	Latest   string        `json:"latest,omitempty"`   // the stable copy or link updated to it, if any
	Output   string        `json:"output,omitempty"`   // the name of the output that wrote it (Spec.Name)
}

// DatasetRows is how many rows of one dataset a file holds.
type DatasetRows struct {
	Name   string   `json:"name"`
	Rows   int64    `json:"rows"`
	Sheets []string `json:"sheets,omitempty"` // xlsx: the sheets the rows are on
}

// Report is the set of files one output writes for one job run. A Report
// is not safe for concurrent use.
type Report interface {
	// Dataset starts the rows of one dataset. Datasets are written one after
	// another: the previous RowWriter is closed before the next one starts.
	Dataset(name string, cols []Column) (RowWriter, error)
	// Prepare finishes every file (the workbook is assembled, everything
	// written and synced) without replacing anything: the files wait
	// under temporary names for Dir.Commit, which puts every report of a
	// run in place together. After a failed Prepare the temporary files
	// are gone.
	Prepare() error
	// Abort removes every temporary file; destinations keep their previous
	// content. It is safe to call after Dir.Commit (it then does nothing)
	// and more than once.
	Abort() error
	// Warnings describes values the output had to change, such as text cut
	// at Excel's cell limit, naming the cell; nil when there are none.
	Warnings() []string
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
