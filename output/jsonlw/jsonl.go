// Package jsonlw is the jsonl format: JSON Lines, a file per dataset,
// one object per row.
package jsonlw

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/joinery/joinery/output"
)

// Format is the jsonl format.
type Format struct{}

func (Format) Name() string         { return "jsonl" }
func (Format) Extensions() []string { return []string{".jsonl", ".ndjson"} }
func (Format) PerJob() bool         { return false }

// Async is false: a lone jsonl writer costs less on the query's goroutine
// than the copy of each row that handing it over takes.
func (Format) Async() bool               { return false }
func (Format) Options() []string         { return []string{"gzip"} }
func (Format) Check(output.Spec) []error { return nil }

// New returns the writer of a jsonl output's datasets.
func (Format) New(s output.Spec, env output.Env) (output.Writer, error) {
	return output.DatasetFunc(func(d output.Dataset) (output.DatasetWriter, error) {
		return newJSONLWriter(d.File, d.Name, d.Columns, env.Location, s), nil
	}), nil
}

// hexDigits are the digits of a \u escape.
const hexDigits = "0123456789ABCDEF"

// jsonlWriter writes one dataset as JSON Lines: one object per row, keys
// the column labels (made unique like xlsx headers) in column order, LF
// after each object, no header line. Values:
//
//   - NULL is null (and a zero date with ZeroDates "empty");
//   - integers, YEAR, BIT, DECIMAL and FLOAT are JSON numbers with exactly
//     the digits MySQL returned (leading zeros of ZEROFILL dropped), so
//     read DECIMAL and 16+ digit integers with a decimal-aware parser;
//   - everything else is a string: the same text as csv (dates, ISO 8601
//     date-times in the report's zone, TIME, hex or base64 binary, text).
//     Each byte of invalid UTF-8 in text becomes U+FFFD, counted in a
//     warning.
//
// It does not allocate per cell.
type jsonlWriter struct {
	*output.Stream
	dataset  string // its name, for warnings
	form     output.TextForm
	cols     []output.Column
	keys     [][]byte // `"label":` per column, the first with '{', the rest with ','
	names    []string // the keys' labels, for warnings
	zeroNull bool
	scratch  []byte
	bad      output.Replacements // text values with invalid UTF-8
}

func newJSONLWriter(file *output.Stream, name string, cols []output.Column, loc *time.Location, spec output.Spec) *jsonlWriter {
	w := &jsonlWriter{Stream: file, dataset: name, form: output.NewTextForm(cols, loc, spec), cols: cols,
		zeroNull: spec.ZeroDates == "empty", scratch: make([]byte, 0, 64)}
	w.names = output.Headers(cols)
	for i, h := range w.names {
		k := []byte{','}
		if i == 0 {
			k[0] = '{'
		}
		k, _ = appendJSONString(k, []byte(h))
		w.keys = append(w.keys, append(k, ':'))
	}
	return w
}

func (w *jsonlWriter) WriteRow(row []output.Value) error {
	if err := w.Check(len(row), len(w.cols)); err != nil {
		return err
	}
	b := w.scratch[:0]
	for i := range row {
		b = append(b, w.keys[i]...)
		v := &row[i]
		switch k := w.cols[i].Kind; {
		case v.Null, v.Literal && w.zeroNull:
			b = append(b, "null"...)
		case v.Literal, k == output.KindText:
			var bad int
			if b, bad = appendJSONString(b, v.Raw); bad > 0 {
				w.bad.Note(bad, 0, func() string { return output.RowColumn(w.Rows+1, w.names[i]) })
			}
		case k == output.KindInt, k == output.KindUint, k == output.KindYear:
			b = appendJSONInt(b, v.Raw)
		case k == output.KindDecimal:
			b = appendJSONNumber(b, v.Raw)
		case k == output.KindFloat:
			b = output.AppendFloat(b, v.Raw)
		case k == output.KindBit:
			if n, ok := output.BitValue(v.Raw); ok {
				b = output.AppendUint(b, n)
				break
			}
			fallthrough
		default:
			// Dates, times and hex or base64 are plain ASCII: no escapes.
			b = append(b, '"')
			b = w.form.AppendValue(b, i, v)
			b = append(b, '"')
		}
	}
	b = append(b, '}', '\n')
	w.scratch = b
	if _, err := w.W.Write(b); err != nil {
		w.Err = fmt.Errorf("write jsonl: %w", err)
	}
	w.Rows++
	return w.Err
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, each byte of invalid UTF-8 replaced by
// U+FFFD; it returns how many bytes were replaced.
func appendJSONString(b, s []byte) ([]byte, int) {
	bad := 0
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			j := i + 1
			for j < len(s) && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' && s[j] < utf8.RuneSelf {
				j++
			}
			b = append(b, s[i:j]...)
			i = j
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				bad++
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
	}
	return append(b, '"'), bad
}

// appendJSONInt appends an integer's text without leading zeros (ZEROFILL
// columns have them; JSON forbids them).
func appendJSONInt(b, raw []byte) []byte {
	if n, ok := output.ParseInt(raw); ok {
		return strconv.AppendInt(b, n, 10)
	}
	return appendJSONNumber(b, raw)
}

// appendJSONNumber appends a number's text as JSON wants it: no '+', no
// leading zeros before the point. Anything else that is not a number
// (never sent by MySQL) becomes a string.
func appendJSONNumber(b, raw []byte) []byte {
	s := raw
	neg := len(s) > 0 && s[0] == '-'
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	for len(s) > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9' {
		s = s[1:]
	}
	if len(s) == 0 || s[0] < '0' || s[0] > '9' {
		b, _ = appendJSONString(b, raw)
		return b
	}
	if neg {
		b = append(b, '-')
	}
	return append(b, s...)
}

func (w *jsonlWriter) Warnings() []string {
	if msg := w.bad.Warning("jsonl", ""); msg != "" {
		return []string{"dataset " + w.dataset + ": " + msg}
	}
	return nil
}
