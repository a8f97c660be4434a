package output

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/joinery/joinery/config"
)

// Format is one kind of report file. Each format lives in a package of its
// own below output (output/csvw, output/xlsxw, output/jsonlw,
// output/tsvw), which depends on this one and never the other way round;
// a Registry lists the formats a program offers (output/formats).
// docs/ARCHITECTURE-formats.md walks through adding one.
type Format interface {
	// Name is the format's name in config.yaml, such as "csv".
	Name() string
	// Extensions are the extensions a path of this format may end in, in
	// lower case with the dot; the first is appended to a path without
	// one.
	Extensions() []string
	// PerJob reports that the format writes one file per run with a part
	// per dataset (a workbook with a sheet per dataset), whose path must
	// not name {dataset}; otherwise it writes a file per dataset, whose
	// path names {dataset} when the job has several.
	PerJob() bool
	// Async reports that the format's rows are encoded on a goroutine of
	// their own even when it is a run's only output: its encoding costs
	// more than copying the rows to hand them over (AsyncAll).
	Async() bool
	// Options are the config.yaml names of the format-specific options of
	// Spec the format reads, such as "delimiter" or "gzip", and "columns"
	// for column settings beyond a label. Any other format's option set
	// on an output of this format is a configuration error.
	Options() []string
	// Check returns the problems with the values of the format's own
	// options in s, an output of this format, each made by Problem.
	Check(s Spec) []error
	// New starts the format's side of one Report for a valid spec.
	New(s Spec, env Env) (Writer, error)
}

// Env is what a format's Writer gets from its Report.
type Env struct {
	Vars     Vars
	Location *time.Location // the report's zone
	// Scratch creates a file for work in progress beside the report (the
	// compressed rows of a workbook's sheets), already unlinked where the
	// system allows it; release closes it.
	Scratch func() (f *os.File, release func() error, err error)
}

// Writer is a format's side of one Report: it turns datasets into
// DatasetWriters, and for a PerJob format assembles the one file.
type Writer interface {
	// Dataset starts the rows of one dataset.
	Dataset(d Dataset) (DatasetWriter, error)
	// Save writes the file of a PerJob format to file, once every dataset
	// is closed; datasets are those it holds, without the ones left out
	// (Vars.SkipEmpty). Formats with a file per dataset have nothing to
	// do.
	Save(file io.Writer, datasets []DatasetRows) error
	// Close releases whatever the writer holds (temporary files); it is
	// called once, after Save or instead of it.
	Close() error
}

// DatasetFunc is the Writer of a format with a file per dataset: it makes
// each dataset's writer, and has nothing to save or release.
type DatasetFunc func(d Dataset) (DatasetWriter, error)

func (f DatasetFunc) Dataset(d Dataset) (DatasetWriter, error) { return f(d) }
func (DatasetFunc) Save(io.Writer, []DatasetRows) error        { return nil }
func (DatasetFunc) Close() error                               { return nil }

// Dataset is one dataset as a format's Writer gets it.
type Dataset struct {
	Name    string
	Columns []Column     // with their configured labels as names
	Present []ColumnSpec // each column's configured presentation
	// File is the dataset's own file, for a format with a file per
	// dataset; nil for a PerJob format.
	File *Stream
}

// DatasetWriter is the RowWriter of one dataset, with what its Report
// needs to know of it once it is closed.
type DatasetWriter interface {
	RowWriter
	Done() bool         // Close was called
	Failed() error      // the error that stuck, if any
	RowCount() int64    // data rows written
	Sheets() []string   // the parts of a PerJob file the rows are on (xlsx), nil otherwise
	Warnings() []string // values changed on the way, each naming the dataset
}

// Problem returns the configuration problem of an output's field (its
// config.yaml name, such as "delimiter" or "columns.email.width"), with
// the offending value when there is one. Every problem of an output spec,
// in this package and in the formats, is made here.
func Problem(field, value, msg string) error {
	if value == "" {
		return config.Problem(field, nil, msg)
	}
	return config.Problem(field, value, msg)
}

// Registry is the set of formats a program offers, in the order it lists
// them. It is a value: build it with NewRegistry (output/formats has the
// default one).
type Registry struct {
	formats []Format
}

// NewRegistry returns a registry of formats, listed in the given order.
func NewRegistry(formats ...Format) *Registry {
	return &Registry{formats: slices.Clone(formats)}
}

// Lookup returns the format named name.
func (r *Registry) Lookup(name string) (Format, error) {
	for _, f := range r.formats {
		if f.Name() == name {
			return f, nil
		}
	}
	return nil, fmt.Errorf("format %q: want %s", name, r.List("or"))
}

// List names the formats for a message: "csv, xlsx, jsonl or tsv" with
// conj "or".
func (r *Registry) List(conj string) string {
	names := make([]string, len(r.formats))
	for i, f := range r.formats {
		names[i] = f.Name()
	}
	return list(names, conj)
}

// list joins names as "a, b and c".
func list(names []string, conj string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + conj + " " + names[len(names)-1]
}

// owners returns the formats that take option, in the registry's order.
func (r *Registry) owners(option string) []string {
	var out []string
	for _, f := range r.formats {
		if slices.Contains(f.Options(), option) {
			out = append(out, f.Name())
		}
	}
	return out
}

// article is "a" or "an" before a format's name, read as letters (a csv,
// an xlsx).
func article(name string) string {
	if name != "" && strings.ContainsRune("aefhilmnorsx", rune(name[0])) {
		return "an"
	}
	return "a"
}
