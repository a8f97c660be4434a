package output

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// sink is the buffered, optionally gzipped stream of a csv or jsonl file.
type sink struct {
	tf *tempFile
	gz *gzip.Writer
	bw *bufio.Writer
}

func newSink(tf *tempFile, compress bool) *sink {
	s := &sink{tf: tf}
	if compress {
		s.gz = gzip.NewWriter(tf)
		s.bw = bufio.NewWriterSize(s.gz, 64<<10)
	} else {
		s.bw = bufio.NewWriterSize(tf, 64<<10)
	}
	return s
}

// stream is what the csv and jsonl writers share: the file, the row count
// and the error that stuck.
type stream struct {
	out    *sink
	format string
	rows   int64
	err    error
	closed bool
}

// check is called at the start of WriteRow.
func (s *stream) check(values, cols int) error {
	switch {
	case s.err != nil:
		return s.err
	case s.closed:
		return fmt.Errorf("write %s: writer is closed", s.format)
	case values != cols:
		s.err = fmt.Errorf("write %s: got %d values for %d columns", s.format, values, cols)
	}
	return s.err
}

func (s *stream) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	if s.err != nil {
		_ = s.out.tf.remove()
		return s.err
	}
	if err := s.out.close(); err != nil {
		s.err = fmt.Errorf("write %s: %w", s.format, err)
		_ = s.out.tf.remove()
	}
	return s.err
}

func (s *stream) done() bool      { return s.closed }
func (s *stream) failed() error   { return s.err }
func (s *stream) rowCount() int64 { return s.rows }

// close flushes everything into the temporary file and syncs it.
func (s *sink) close() error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.gz != nil {
		if err := s.gz.Close(); err != nil {
			return err
		}
	}
	return s.tf.finish()
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
//   - other kinds as textForm renders them; see docs/OUTPUTS.md.
//
// It does not allocate per cell.
type csvWriter struct {
	stream
	form     textForm
	cols     []Column
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
	scratch    []byte
}

func newCSVWriter(tf *tempFile, cols []Column, loc *time.Location, spec Spec) (*csvWriter, error) {
	w := &csvWriter{
		stream: stream{out: newSink(tf, spec.Gzip), format: "csv"}, form: newTextForm(cols, loc, spec), cols: cols,
		delimStr: []byte(spec.Delimiter), eol: "\r\n", quoteAll: spec.QuoteAll, nullAs: []byte(spec.NullAs),
		escape: *spec.EscapeFormulas, zeroNull: spec.ZeroDates == "empty", scratch: make([]byte, 0, 64),
	}
	if len(w.delimStr) == 1 {
		w.delim = w.delimStr[0]
	}
	w.typedPlain = !w.quoteAll && !strings.ContainsAny(spec.Delimiter,
		"0123456789+-.:/= ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	if spec.LineEnding == "lf" {
		w.eol = "\n"
	}
	if spec.BOM {
		_, _ = w.out.bw.WriteString("\uFEFF")
	}
	for i, c := range cols {
		if i > 0 {
			_, _ = w.out.bw.Write(w.delimStr)
		}
		w.field([]byte(c.Name), true)
	}
	if _, err := w.out.bw.WriteString(w.eol); err != nil {
		w.err = fmt.Errorf("write csv: %w", err)
		return nil, w.err
	}
	return w, nil
}

func (w *csvWriter) WriteRow(row []Value) error {
	if err := w.check(len(row), len(w.cols)); err != nil {
		return err
	}
	bw := w.out.bw
	for i := range row {
		if i > 0 {
			if w.delim != 0 {
				_ = bw.WriteByte(w.delim)
			} else {
				_, _ = bw.Write(w.delimStr)
			}
		}
		v := &row[i]
		switch {
		case v.Null, v.Literal && w.zeroNull:
			_, _ = bw.Write(w.nullAs)
		case v.Literal, w.cols[i].Kind == KindText:
			w.field(v.Raw, true)
		default:
			w.scratch = w.form.appendValue(w.scratch[:0], i, v)
			if w.typedPlain && len(w.scratch) > 0 {
				_, _ = bw.Write(w.scratch)
			} else {
				w.field(w.scratch, false)
			}
		}
	}
	if _, err := bw.WriteString(w.eol); err != nil {
		w.err = fmt.Errorf("write csv: %w", err)
	}
	w.rows++
	return w.err
}

// field writes one non-NULL field, quoted if it holds the delimiter, a
// quote, CR or LF, if it is empty (to tell it from NULL) or with QuoteAll.
// Text that a spreadsheet would take for a formula gets an apostrophe.
func (w *csvWriter) field(b []byte, text bool) {
	bw := w.out.bw
	formula := text && w.escape && len(b) > 0 &&
		(b[0] == '=' || b[0] == '+' || b[0] == '-' || b[0] == '@' || b[0] == '\t' || b[0] == '\r')
	quote := w.quoteAll || len(b) == 0
	for j := 0; !quote && j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"' || c == '\r' || c == '\n':
			quote = true
		case w.delim != 0 && c == w.delim:
			quote = true
		case w.delim == 0 && c >= utf8.RuneSelf && hasPrefix(b[j:], w.delimStr):
			quote = true
		}
	}
	if !quote {
		if formula {
			_ = bw.WriteByte('\'')
		}
		_, _ = bw.Write(b)
		return
	}
	_ = bw.WriteByte('"')
	if formula {
		_ = bw.WriteByte('\'')
	}
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '"' {
			i++
		}
		_, _ = bw.Write(b[:i])
		if i < len(b) {
			_, _ = bw.WriteString(`""`)
			i++
		}
		b = b[i:]
	}
	_ = bw.WriteByte('"')
}

func hasPrefix(b, prefix []byte) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == string(prefix)
}

func (w *csvWriter) warnings() []string { return nil }
