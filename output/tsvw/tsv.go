// Package tsvw is the tsv format, the example of a format added through
// the registry in one file (docs/ARCHITECTURE-formats.md): tab-separated
// values as IANA's text/tab-separated-values registers them, a file per
// dataset. A header line of the column labels, then a line per row; fields
// are separated by a tab and lines end with LF. TSV has no quoting, so a
// field cannot hold a tab or a line break: as in the text format of
// MySQL's and PostgreSQL's exports, a backslash, tab, LF and CR in a value
// are written \\, \t, \n and \r. NULL is an empty field, as is empty text
// (TSV cannot tell them apart). Text that a spreadsheet would run as a
// formula (starting with =, +, - or @) gets a leading apostrophe, as csv's
// escape_formulas does by default. Invalid UTF-8 becomes U+FFFD, counted
// in a warning. Other kinds are written as csv writes them by default
// (docs/OUTPUTS.md). The one option is gzip.
package tsvw

import (
	"fmt"
	"time"

	"github.com/joinery/joinery/output"
)

// Format is the tsv format.
type Format struct{}

func (Format) Name() string              { return "tsv" }
func (Format) Extensions() []string      { return []string{".tsv"} }
func (Format) PerJob() bool              { return false }
func (Format) Async() bool               { return false }
func (Format) Options() []string         { return []string{"gzip"} }
func (Format) Check(output.Spec) []error { return nil }

// New returns the writer of a tsv output's datasets.
func (Format) New(s output.Spec, env output.Env) (output.Writer, error) {
	return output.DatasetFunc(func(d output.Dataset) (output.DatasetWriter, error) {
		return newTSVWriter(d, env.Location, s)
	}), nil
}

// newTSVWriter writes the header line of a dataset and returns the writer
// of its rows; spec is resolved.
func newTSVWriter(d output.Dataset, loc *time.Location, spec output.Spec) (*tsvWriter, error) {
	t := &tsvWriter{Stream: d.File, dataset: d.Name, cols: d.Columns,
		form: output.NewTextForm(d.Columns, loc, spec), zeroNull: spec.ZeroDates == "empty"}
	b := t.buf
	for i, c := range d.Columns {
		if i > 0 {
			b = append(b, '\t')
		}
		b = appendField(b, []byte(c.Name), true)
	}
	t.buf = append(b, '\n')
	if _, err := t.W.Write(t.buf); err != nil {
		return nil, fmt.Errorf("write tsv: %w", err)
	}
	return t, nil
}

// tsvWriter writes the rows of one dataset; it does not allocate per cell.
type tsvWriter struct {
	*output.Stream
	dataset  string
	cols     []output.Column
	form     output.TextForm
	zeroNull bool   // zero dates are written as NULL
	buf      []byte // the line being written
	fixed    []byte // a text value with its invalid UTF-8 replaced
	bad      output.Replacements
}

func (w *tsvWriter) WriteRow(row []output.Value) error {
	if err := w.Check(len(row), len(w.cols)); err != nil {
		return err
	}
	b := w.buf[:0]
	for i := range row {
		if i > 0 {
			b = append(b, '\t')
		}
		switch v := &row[i]; {
		case v.Null, v.Literal && w.zeroNull:
		case v.Literal, w.cols[i].Kind == output.KindText:
			text := v.Raw
			if !output.ValidUTF8(text) {
				var n int
				w.fixed, n = output.AppendValidUTF8(w.fixed[:0], text)
				w.bad.Note(n, 0, func() string { return output.RowColumn(w.Rows+1, w.cols[i].Name) })
				text = w.fixed
			}
			b = appendField(b, text, true)
		default:
			// Numbers, dates, times, hex and base64: no tab, line break or
			// backslash.
			b = w.form.AppendValue(b, i, v)
		}
	}
	w.buf = append(b, '\n')
	if _, err := w.W.Write(w.buf); err != nil {
		w.Err = fmt.Errorf("write tsv: %w", err)
	}
	w.Rows++
	return w.Err
}

// appendField appends a field with its backslashes, tabs and line breaks
// escaped, and for text that a spreadsheet would run as a formula, an
// apostrophe first.
func appendField(b, s []byte, text bool) []byte {
	if text && len(s) > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		b = append(b, '\'')
	}
	start := 0
	for i, c := range s {
		var esc byte
		switch c {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	return append(b, s[start:]...)
}

func (w *tsvWriter) Warnings() []string {
	if msg := w.bad.Warning("tsv", ""); msg != "" {
		return []string{"dataset " + w.dataset + ": " + msg}
	}
	return nil
}
