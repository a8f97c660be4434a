// Package csvw is the csv format: a file per dataset, RFC 4180 with the
// defaults, with the options of Spec's csv section (delimiter, BOM,
// preset, decimal comma, date layouts, ...).
package csvw

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/joinery/joinery/output"
)

// Format is the csv format.
type Format struct{}

func (Format) Name() string         { return "csv" }
func (Format) Extensions() []string { return []string{".csv", ".txt"} }
func (Format) PerJob() bool         { return false }

// Async is false: a lone csv writer costs less on the query's goroutine
// than the copy of each row that handing it over takes.
func (Format) Async() bool { return false }

func (Format) Options() []string {
	return []string{"bom", "preset", "decimal_separator", "date_format", "datetime_format",
		"delimiter", "line_ending", "quote_all", "null_as", "escape_formulas", "gzip"}
}

// Check checks the values of the csv options.
func (Format) Check(s output.Spec) []error {
	var errs []error
	fail := func(field, value, format string, args ...any) {
		errs = append(errs, output.Problem(field, value, fmt.Sprintf(format, args...)))
	}
	oneOf := func(field, value string, allowed ...string) {
		if value != "" && !slices.Contains(allowed, value) {
			fail(field, value, "want %s", strings.Join(allowed, " or "))
		}
	}
	oneOf("line_ending", s.LineEnding, "crlf", "lf")
	oneOf("preset", s.Preset, output.PresetExcelDE)
	oneOf("decimal_separator", s.DecimalSeparator, ".", ",")
	for _, f := range []struct {
		field, value string
		datetime     bool
	}{{"date_format", s.DateFormat, false}, {"datetime_format", s.DateTimeFormat, true}} {
		if f.value == "" {
			continue
		}
		if err := output.CheckLayout(f.value, f.datetime); err != nil {
			fail(f.field, f.value, "%v", err)
		}
	}
	if p := s.WithPreset(); p.DecimalSeparator == "," && (p.Delimiter == "" || p.Delimiter == ",") {
		fail("decimal_separator", ",", "a decimal comma needs another delimiter, such as \";\" (or the preset excel-de)")
	}
	if d := s.Delimiter; d != "" {
		r, size := utf8.DecodeRuneInString(d)
		switch {
		case size != len(d) || r == utf8.RuneError:
			fail("delimiter", d, "want exactly one character")
		case r == '"' || r == '\r' || r == '\n' || r == '\'':
			fail("delimiter", d, "cannot be a quote, an apostrophe or a line break")
		}
	}
	return errs
}

// New returns the writer of a csv output's datasets.
func (Format) New(s output.Spec, env output.Env) (output.Writer, error) {
	s = resolved(s)
	return output.DatasetFunc(func(d output.Dataset) (output.DatasetWriter, error) {
		return newCSVWriter(d.File, d.Name, d.Columns, env.Location, s)
	}), nil
}

// resolved is s with the csv options' defaults (and its preset's) filled
// in.
func resolved(s output.Spec) output.Spec {
	s = s.WithPreset()
	if s.Delimiter == "" {
		s.Delimiter = ","
	}
	if s.LineEnding == "" {
		s.LineEnding = "crlf"
	}
	if s.EscapeFormulas == nil {
		t := true
		s.EscapeFormulas = &t
	}
	if s.BOM == nil {
		f := false
		s.BOM = &f
	}
	return s
}

// csvWriter writes one dataset as CSV in UTF-8 (RFC 4180 with the
// defaults); Spec's csv options change the details:
//
//   - an optional BOM, a header row of column labels, then one record per
//     row; records end with CRLF (or LF); line breaks inside a value are
//     kept as they are (inside quotes);
//   - a field is quoted when it contains the delimiter, a double quote, CR
//     or LF (every non-NULL field with QuoteAll), and quotes are doubled;
//   - NULL is NullAs (default an empty field) and an empty string is "" so
//     the two differ;
//   - text fields starting with =, +, -, @, tab or CR get a leading
//     apostrophe (EscapeFormulas, on by default), so a spreadsheet shows
//     them instead of running them;
//   - invalid UTF-8 in text becomes U+FFFD, a byte at a time, and is
//     counted in a warning;
//   - other kinds as textForm renders them; see docs/OUTPUTS.md.
//
// Records are appended to buf, which goes to the sink in chunks of about
// csvChunk bytes: one bufio call per chunk instead of two or three per
// field. It does not allocate per cell.
type csvWriter struct {
	*output.Stream
	form     output.TextForm
	cols     []output.Column
	dataset  string // its name, for warnings
	delim    byte   // single-byte delimiter, or 0 when delimRune is wider
	delimStr []byte // the delimiter's bytes
	eol      string
	quoteAll bool
	nullAs   []byte
	escape   bool
	zeroNull bool // zero dates are written as NULL
	// typedPlain: typed values (numbers, dates, hex, base64) never contain
	// the delimiter, so they are written without looking for it.
	typedPlain bool
	// special marks the bytes that make a field quoted: '"', CR, LF and a
	// single-byte delimiter.
	special [256]bool
	// delimWord is the single-byte delimiter in every byte of a word, for
	// plain's eight-bytes-at-a-time look.
	delimWord uint64
	buf       []byte
	scratch   []byte
	fixed     []byte              // a text value with its invalid UTF-8 replaced
	bad       output.Replacements // text values with invalid UTF-8
}

// csvChunk is how many bytes of records the writer collects before it
// hands them to the sink.
const csvChunk = 64 << 10

// csvKeep is the most buffer the writer keeps after a record larger than a
// chunk (a long TEXT value) has made it grow.
const csvKeep = 1 << 20

// newCSVWriter writes the header to file and returns the writer of the
// rows; spec is resolved.
func newCSVWriter(file *output.Stream, name string, cols []output.Column, loc *time.Location, spec output.Spec) (*csvWriter, error) {
	w := &csvWriter{
		Stream: file, dataset: name, form: output.NewTextForm(cols, loc, spec), cols: cols,
		delimStr: []byte(spec.Delimiter), eol: "\r\n", quoteAll: spec.QuoteAll, nullAs: []byte(spec.NullAs),
		escape: *spec.EscapeFormulas, zeroNull: spec.ZeroDates == "empty",
		buf: make([]byte, 0, csvChunk+4096), scratch: make([]byte, 0, 64),
	}
	if len(w.delimStr) == 1 {
		w.delim = w.delimStr[0]
		w.special[w.delim] = true
		w.delimWord = swarOnes * uint64(w.delim)
	}
	w.special['"'], w.special['\r'], w.special['\n'] = true, true, true
	w.typedPlain = !w.quoteAll && !strings.ContainsAny(spec.Delimiter,
		"0123456789+-.:/= ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	if spec.LineEnding == "lf" {
		w.eol = "\n"
	}
	b := w.buf
	if *spec.BOM {
		b = append(b, "\uFEFF"...)
	}
	for i, c := range cols {
		if i > 0 {
			b = append(b, w.delimStr...)
		}
		b, _ = w.appendField(b, []byte(c.Name), true)
	}
	w.buf = append(b, w.eol...)
	if w.flush(); w.Err != nil {
		return nil, w.Err
	}
	return w, nil
}

func (w *csvWriter) WriteRow(row []output.Value) error {
	if err := w.Check(len(row), len(w.cols)); err != nil {
		return err
	}
	b := w.buf
	for i := range row {
		if i > 0 {
			if w.delim != 0 {
				b = append(b, w.delim)
			} else {
				b = append(b, w.delimStr...)
			}
		}
		v := &row[i]
		switch {
		case v.Null, v.Literal && w.zeroNull:
			b = append(b, w.nullAs...)
		case v.Literal, w.cols[i].Kind == output.KindText:
			start := len(b)
			var ascii bool
			if b, ascii = w.appendField(b, v.Raw, true); !ascii && !output.ValidUTF8(v.Raw) {
				b, _ = w.appendField(b[:start], w.fixUTF8(i, v.Raw), true)
			}
		default:
			start := len(b)
			b = w.form.AppendValue(b, i, v)
			if !w.typedPlain || len(b) == start {
				// Rare: look at the value for quoting like any other field.
				w.scratch = append(w.scratch[:0], b[start:]...)
				b, _ = w.appendField(b[:start], w.scratch, false)
			}
		}
	}
	w.buf = append(b, w.eol...)
	w.Rows++
	if len(w.buf) >= csvChunk {
		w.flush()
	}
	return w.Err
}

// flush hands the collected records to the sink.
func (w *csvWriter) flush() {
	if len(w.buf) == 0 || w.Err != nil {
		return
	}
	if _, err := w.W.Write(w.buf); err != nil {
		w.Err = fmt.Errorf("write csv: %w", err)
	}
	if cap(w.buf) > csvKeep {
		w.buf = make([]byte, 0, csvChunk+4096) // after an outsized record
	} else {
		w.buf = w.buf[:0]
	}
}

func (w *csvWriter) Close() error {
	if !w.Done() {
		w.flush()
	}
	return w.Stream.Close()
}

// appendField appends one non-NULL field, quoted if it holds the delimiter,
// a quote, CR or LF, if it is empty (to tell it from NULL) or with
// QuoteAll. Text that a spreadsheet would take for a formula gets an
// apostrophe. ascii reports that b is plain ASCII, and so valid UTF-8, as
// seen on the way; false means it may not be.
func (w *csvWriter) appendField(dst, b []byte, text bool) (_ []byte, ascii bool) {
	formula := text && w.escape && len(b) > 0 &&
		(b[0] == '=' || b[0] == '+' || b[0] == '-' || b[0] == '@' || b[0] == '\t' || b[0] == '\r')
	quote := w.quoteAll || len(b) == 0
	if !quote {
		if w.delim != 0 {
			var plain bool
			plain, ascii = w.plain(b)
			quote = !plain
		} else {
			for j, c := range b {
				if w.special[c] || c >= utf8.RuneSelf && hasPrefix(b[j:], w.delimStr) {
					quote = true
					break
				}
			}
		}
	}
	if !quote {
		if formula {
			dst = append(dst, '\'')
		}
		return append(dst, b...), ascii
	}
	dst = append(dst, '"')
	if formula {
		dst = append(dst, '\'')
	}
	for {
		i := bytes.IndexByte(b, '"')
		if i < 0 {
			dst = append(dst, b...)
			break
		}
		dst = append(dst, b[:i+1]...)
		dst = append(dst, '"')
		b = b[i+1:]
	}
	return append(dst, '"'), ascii
}

// Words of eight bytes for plain.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// plain reports whether b, with a single-byte delimiter, holds none of the
// bytes that make a field quoted. It looks at eight bytes at a time (the
// byte-by-byte loop was a large share of the CSV writer's time; see
// BENCHMARKS.md, Numbers moved from code comments, output/csvw/csv.go),
// the last eight overlapping the word before: a word passes when no byte
// is below 0x0E (which takes in CR and LF), a quote or the delimiter. The
// first word that does not, and a field shorter than a word, are looked at
// byte by byte. On the way it collects the bytes' high bits: ascii reports
// that a plain b has no byte of 0x80 or above, so that text needs no UTF-8
// check (it is false for a field that is not plain).
func (w *csvWriter) plain(b []byte) (plain, ascii bool) {
	var high uint64
	if n := len(b); n >= 8 {
		i := 0
		for ; i < n-8; i += 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			if w.mayQuote(x) {
				plain, or := w.plainBytes(b[i:])
				return plain, plain && high&swarHigh == 0 && or < utf8.RuneSelf
			}
			high |= x
		}
		x := binary.LittleEndian.Uint64(b[n-8:])
		if w.mayQuote(x) {
			plain, or := w.plainBytes(b[n-8:])
			return plain, plain && high&swarHigh == 0 && or < utf8.RuneSelf
		}
		return true, (high|x)&swarHigh == 0
	}
	plain, or := w.plainBytes(b)
	return plain, plain && or < utf8.RuneSelf
}

// mayQuote reports whether the word x has a byte below 0x0E, a quote or
// the delimiter: (y - ones) &^ y has a high bit set where y has a zero
// byte, (x - 0x0E ones) &^ x where x has a byte below 0x0E.
func (w *csvWriter) mayQuote(x uint64) bool {
	q, d := x^(swarOnes*'"'), x^w.delimWord
	return ((x-swarOnes*0x0E)&^x|(q-swarOnes)&^q|(d-swarOnes)&^d)&swarHigh != 0
}

// plainBytes is plain's byte-by-byte look; or is every byte ORed together
// when b is plain.
func (w *csvWriter) plainBytes(b []byte) (plain bool, or byte) {
	for _, c := range b {
		if w.special[c] {
			return false, 0
		}
		or |= c
	}
	return true, or
}

func hasPrefix(b, prefix []byte) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == string(prefix)
}

// fixUTF8 returns text with every byte of invalid UTF-8 replaced by
// U+FFFD, in w.fixed, and counts it for the warning: a CSV file is UTF-8
// (the server sends utf8mb4, see jobs.OpenDB, so this is for what slips
// through).
func (w *csvWriter) fixUTF8(i int, text []byte) []byte {
	var n int
	w.fixed, n = output.AppendValidUTF8(w.fixed[:0], text)
	w.bad.Note(n, 0, func() string { return output.RowColumn(w.Rows+1, w.cols[i].Name) })
	return w.fixed
}

func (w *csvWriter) Warnings() []string {
	if msg := w.bad.Warning("csv", ""); msg != "" {
		return []string{"dataset " + w.dataset + ": " + msg}
	}
	return nil
}
