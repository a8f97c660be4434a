package output

import (
	"bufio"
	"errors"
	"fmt"
	"time"
)

// csvWriter writes one dataset as RFC 4180 CSV in UTF-8:
//
//   - a header row of column names, then one record per row;
//   - records end with CRLF, as RFC 4180 specifies; line breaks inside a
//     value are kept as they are (inside quotes);
//   - a field is quoted when it contains a comma, a double quote, CR or LF,
//     and quotes are doubled;
//   - NULL is an empty field and an empty string is "" (so they differ);
//   - integers, decimals, floats, TIME and YEAR exactly as MySQL returned
//     them; DATE as 2006-01-02; DATETIME and TIMESTAMP as ISO 8601 in the
//     report's zone with a numeric offset (2024-03-01T10:00:00+01:00), with
//     as many fractional digits as the column's scale;
//   - binary values (BINARY, VARBINARY, BLOB, BIT) as upper-case hex without
//     prefix, the same text as MySQL's HEX();
//   - zero and invalid dates (Value.Literal) as MySQL's literal text.
//
// It does not allocate per cell.
type csvWriter struct {
	tf      *tempFile
	bw      *bufio.Writer
	cols    []Column
	layouts []string // per column, for KindDateTime
	loc     *time.Location
	scratch []byte
	err     error
	closed  bool
}

func newCSVWriter(tf *tempFile, cols []Column, loc *time.Location, bom bool) (*csvWriter, error) {
	w := &csvWriter{tf: tf, bw: bufio.NewWriterSize(tf.f, 64<<10), cols: cols, loc: loc, scratch: make([]byte, 0, 64)}
	w.layouts = make([]string, len(cols))
	for i, c := range cols {
		if c.Kind == KindDateTime {
			w.layouts[i] = isoLayout(c.Scale)
		}
	}
	if bom {
		_, _ = w.bw.WriteString("\uFEFF")
	}
	for i, c := range cols {
		if i > 0 {
			_ = w.bw.WriteByte(',')
		}
		w.text([]byte(c.Name))
	}
	if _, err := w.bw.WriteString("\r\n"); err != nil {
		w.err = fmt.Errorf("write csv: %w", err)
		return nil, w.err
	}
	return w, nil
}

// isoLayout is the time layout for a DATETIME with scale fractional digits.
func isoLayout(scale int64) string {
	const base, frac = "2006-01-02T15:04:05", ".000000000"
	if scale > 9 {
		scale = 9
	}
	if scale <= 0 {
		return base + "-07:00"
	}
	return base + frac[:1+scale] + "-07:00"
}

func (w *csvWriter) WriteRow(row []Value) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("write csv: writer is closed")
	}
	if len(row) != len(w.cols) {
		w.err = fmt.Errorf("write csv: got %d values for %d columns", len(row), len(w.cols))
		return w.err
	}
	for i := range row {
		if i > 0 {
			_ = w.bw.WriteByte(',')
		}
		v := &row[i]
		if v.Null {
			continue
		}
		if v.Literal {
			w.text(v.Raw)
			continue
		}
		switch w.cols[i].Kind {
		case KindText:
			w.text(v.Raw)
		case KindDate:
			w.scratch = appendDate(w.scratch[:0], v.Time)
			_, _ = w.bw.Write(w.scratch)
		case KindDateTime:
			t := v.Time
			if w.loc != nil {
				t = t.In(w.loc)
			}
			w.scratch = appendISO(w.scratch[:0], t, w.cols[i].Scale, w.layouts[i])
			_, _ = w.bw.Write(w.scratch)
		case KindBinary:
			w.hex(v.Raw)
		default:
			// Numbers, TIME and YEAR never need quotes.
			_, _ = w.bw.Write(v.Raw)
		}
	}
	if _, err := w.bw.WriteString("\r\n"); err != nil {
		w.err = fmt.Errorf("write csv: %w", err)
	}
	return w.err
}

// text writes a field, quoted if it holds a comma, quote, CR or LF, or if
// it is empty (to tell it from NULL).
func (w *csvWriter) text(b []byte) {
	quote := len(b) == 0
	for _, c := range b {
		if c == ',' || c == '"' || c == '\r' || c == '\n' {
			quote = true
			break
		}
	}
	if !quote {
		_, _ = w.bw.Write(b)
		return
	}
	_ = w.bw.WriteByte('"')
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '"' {
			i++
		}
		_, _ = w.bw.Write(b[:i])
		if i < len(b) {
			_, _ = w.bw.WriteString(`""`)
			i++
		}
		b = b[i:]
	}
	_ = w.bw.WriteByte('"')
}

const hexDigits = "0123456789ABCDEF"

// hex writes b as upper-case hex in chunks through scratch.
func (w *csvWriter) hex(b []byte) {
	for len(b) > 0 {
		n := min(len(b), 512)
		w.scratch = w.scratch[:0]
		for _, c := range b[:n] {
			w.scratch = append(w.scratch, hexDigits[c>>4], hexDigits[c&0xf])
		}
		_, _ = w.bw.Write(w.scratch)
		b = b[n:]
	}
}

// appendISO appends t as layout (isoLayout(scale)) formats it, without
// time.Format's layout parsing: a sixth of the CSV writer's time went there.
func appendISO(b []byte, t time.Time, scale int64, layout string) []byte {
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, layout)
	}
	h, mi, s := t.Clock()
	b = append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
	if scale = min(scale, 9); scale > 0 {
		b = append(b, '.')
		ns := t.Nanosecond()
		for div := 100000000; scale > 0; scale, div = scale-1, div/10 {
			b = append(b, byte('0'+ns/div%10))
		}
	}
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	off /= 60
	return append(b, sign, byte('0'+off/600%10), byte('0'+off/60%10), ':', byte('0'+off%60/10), byte('0'+off%10))
}

// appendDate appends t's date as 2006-01-02 (years 0 to 9999).
func appendDate(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	return append(b,
		byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(m)/10), byte('0'+int(m)%10), '-',
		byte('0'+d/10), byte('0'+d%10))
}

func (w *csvWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		_ = w.tf.remove()
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("write csv: %w", err)
		_ = w.tf.remove()
		return w.err
	}
	if err := w.tf.finish(); err != nil {
		w.err = fmt.Errorf("write csv: %w", err)
		_ = w.tf.remove()
	}
	return w.err
}

func (w *csvWriter) done() bool    { return w.closed }
func (w *csvWriter) failed() error { return w.err }
