package output

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// BitValue reads a BIT value, which MySQL sends as big-endian bytes, as an
// unsigned integer; BIT(1) b'1' is 1, BIT(64) fits a uint64.
func BitValue(b []byte) (uint64, bool) {
	if len(b) > 8 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, true
}

// AppendBinary appends b as upper-case hex (like MySQL's HEX()) or as
// standard base64 with padding.
func AppendBinary(dst, b []byte, b64 bool) []byte {
	if b64 {
		return base64.StdEncoding.AppendEncode(dst, b)
	}
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

const hexDigits = "0123456789ABCDEF"

// TextForm renders the non-text kinds as the text csv, jsonl and tsv write:
// see docs/OUTPUTS.md for the table.
type TextForm struct {
	cols []Column
	// kinds are the columns' kinds, or for a column that a csv option
	// writes otherwise, one of the pseudo-kinds below: the default forms
	// cost nothing more.
	kinds   []Kind
	layouts []string // per column, for KindDateTime
	loc     *time.Location
	b64     bool
	// The csv options' layouts of DATE and of DATETIME values.
	date, datetime layout
	// For Values with Wall in loc: the length of a DATETIME's text with
	// the column's fractional digits, per column, and loc's offset as
	// the layouts write it ("+00:00"), or nil when loc's offset changes.
	wallLen []int
	wallOff []byte
}

// Pseudo-kinds of textForm.kinds, for csv options.
const (
	kindDecimalComma   Kind = 64 + iota // DECIMAL with decimal_separator ","
	kindFloatComma                      // FLOAT, DOUBLE with decimal_separator ","
	kindDateLayout                      // DATE with a date_format
	kindDateTimeLayout                  // DATETIME, TIMESTAMP with a datetime_format
)

// NewTextForm prepares the forms of cols' values in the report zone loc,
// with spec's csv options (a valid, resolved Spec).
func NewTextForm(cols []Column, loc *time.Location, spec Spec) TextForm {
	f := TextForm{cols: cols, kinds: make([]Kind, len(cols)), layouts: make([]string, len(cols)), loc: loc, b64: spec.Binary == "base64",
		wallLen: make([]int, len(cols))}
	f.date, _ = parseLayout(spec.DateFormat, false)
	f.datetime, _ = parseLayout(spec.DateTimeFormat, true)
	comma := spec.DecimalSeparator == ","
	for i, c := range cols {
		f.kinds[i] = c.Kind
		switch {
		case c.Kind == KindDecimal && comma:
			f.kinds[i] = kindDecimalComma
		case c.Kind == KindFloat && comma:
			f.kinds[i] = kindFloatComma
		case c.Kind == KindDate && f.date != nil:
			f.kinds[i] = kindDateLayout
		case c.Kind == KindDateTime && f.datetime != nil:
			f.kinds[i] = kindDateTimeLayout
		}
		if c.Kind == KindDateTime {
			f.layouts[i] = ISOLayout(c.Scale)
			f.wallLen[i] = len("2006-01-02 15:04:05")
			if s := min(c.Scale, 9); s > 0 {
				f.wallLen[i] += 1 + int(s)
			}
		}
	}
	if loc != nil && fixedOffset(loc) {
		_, off := time.Unix(0, 0).In(loc).Zone()
		f.wallOff = appendOffset(nil, off)
	}
	return f
}

// ISOLayout is the time layout for a DATETIME with scale fractional digits.
func ISOLayout(scale int64) string {
	const base, frac = "2006-01-02T15:04:05", ".000000000"
	if scale > 9 {
		scale = 9
	}
	if scale <= 0 {
		return base + "-07:00"
	}
	return base + frac[:1+scale] + "-07:00"
}

// AppendISO appends t as layout (isoLayout(scale)) formats it, but with
// the offset's seconds when it has any (see appendOffset), without
// time.Format's layout parsing (a sixth of the CSV writer's time went
// there), with one zone lookup, and with the calendar date worked out once
// from the Unix day instead of by Date and Clock each.
func AppendISO(b []byte, t time.Time, scale int64, layout string) []byte {
	_, off := t.Zone()
	secs := t.Unix() + int64(off)
	days := secs / 86400
	if secs%86400 < 0 {
		days--
	}
	y, mo, d := civilFromDays(days)
	if y < 0 || y > 9999 {
		b = t.AppendFormat(b, strings.TrimSuffix(layout, "-07:00"))
		return appendOffset(b, off)
	}
	sod := uint32(secs - days*86400)
	h, mi, s := sod/3600, sod/60%60, sod%60
	yy := uint32(y)
	b = append(b, twoDigits[2*(yy/100)], twoDigits[2*(yy/100)+1], twoDigits[2*(yy%100)], twoDigits[2*(yy%100)+1], '-',
		twoDigits[2*mo], twoDigits[2*mo+1], '-', twoDigits[2*d], twoDigits[2*d+1], 'T',
		twoDigits[2*h], twoDigits[2*h+1], ':', twoDigits[2*mi], twoDigits[2*mi+1], ':', twoDigits[2*s], twoDigits[2*s+1])
	if scale = min(scale, 9); scale > 0 {
		// In threes, each divided by a constant: faster than a chain of
		// nine divisions by ten (see BENCHMARKS.md, Numbers moved from
		// code comments, output/values.go).
		ns := uint32(t.Nanosecond())
		ms, us, rest := ns/1000000, ns/1000%1000, ns%1000
		frac := [9]byte{
			byte('0' + ms/100), twoDigits[2*(ms%100)], twoDigits[2*(ms%100)+1],
			byte('0' + us/100), twoDigits[2*(us%100)], twoDigits[2*(us%100)+1],
			byte('0' + rest/100), twoDigits[2*(rest%100)], twoDigits[2*(rest%100)+1],
		}
		b = append(b, '.')
		b = append(b, frac[:scale]...)
	}
	return appendOffset(b, off)
}

// appendOffset appends a UTC offset in seconds as "+01:00", or with its
// seconds when it has any: local mean time, as zones have before their
// first standard time, is such an offset (Berlin until 1893 was
// +00:53:28), and one cut to "+00:53" would name an instant 28 seconds
// off.
func appendOffset(b []byte, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	oh, om, os := uint32(off/3600)%100, uint32(off/60%60), uint32(off%60)
	b = append(b, sign, twoDigits[2*oh], twoDigits[2*oh+1], ':', twoDigits[2*om], twoDigits[2*om+1])
	if os != 0 {
		b = append(b, ':', twoDigits[2*os], twoDigits[2*os+1])
	}
	return b
}

// twoDigits holds "00" to "99": two digits of a number with one division.
const twoDigits = "0001020304050607080910111213141516171819" +
	"2021222324252627282930313233343536373839" +
	"4041424344454647484950515253545556575859" +
	"6061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// civilFromDays returns the proleptic Gregorian date of the day that is
// days after 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
func civilFromDays(days int64) (year int, month, day uint32) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	// Within an era the numbers are small and positive: uint32 division
	// by a constant is a multiplication.
	doe := uint32(z - era*146097)                          // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if month > 12 {
		month -= 12
	}
	year = int(int64(yoe) + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}

// AppendValue appends the text form of a non-NULL, non-literal value of
// column i. Text columns append Raw unchanged.
func (f *TextForm) AppendValue(dst []byte, i int, v *Value) []byte {
	switch f.kinds[i] {
	case KindDate:
		return AppendDate(dst, v.Time)
	case KindDateTime:
		if v.Wall && f.wallOff != nil && len(v.Raw) == f.wallLen[i] && v.Time.Location() == f.loc {
			// The text is already the wall clock in loc, and loc's offset
			// is one: "2006-01-02 15:04:05.000" becomes
			// "2006-01-02T15:04:05.000+00:00" without the calendar.
			dst = append(dst, v.Raw...)
			dst[len(dst)-len(v.Raw)+10] = 'T'
			return append(dst, f.wallOff...)
		}
		t := v.Time
		if f.loc != nil {
			t = t.In(f.loc)
		}
		return AppendISO(dst, t, f.cols[i].Scale, f.layouts[i])
	case KindBinary:
		return AppendBinary(dst, v.Raw, f.b64)
	case KindBit:
		if n, ok := BitValue(v.Raw); ok {
			return AppendUint(dst, n)
		}
		return AppendBinary(dst, v.Raw, f.b64)
	case KindFloat:
		return AppendFloat(dst, v.Raw)
	case KindYear:
		// The binary protocol sends YEAR as a number: 0 where text has 0000.
		for k := len(v.Raw); k < 4; k++ {
			dst = append(dst, '0')
		}
	case kindDecimalComma:
		return decimalComma(append(dst, v.Raw...), len(dst))
	case kindFloatComma:
		return decimalComma(AppendFloat(dst, v.Raw), len(dst))
	case kindDateLayout:
		return appendLayout(dst, v.Time, f.date)
	case kindDateTimeLayout:
		t := v.Time
		if f.loc != nil {
			t = t.In(f.loc)
		}
		return appendLayout(dst, t, f.datetime)
	}
	return append(dst, v.Raw...)
}

// decimalComma turns the decimal point of the number that starts at
// b[start:] into a comma.
func decimalComma(b []byte, start int) []byte {
	if j := bytes.IndexByte(b[start:], '.'); j >= 0 {
		b[start+j] = ','
	}
	return b
}

// AppendFloat appends a FLOAT or DOUBLE in one form whichever protocol
// carried it (MySQL's text "1e20" and the binary protocol's float64 both
// become 1e+20): the shortest text that reads back as the same number,
// plain between 1e-6 and 1e21 and with an exponent outside, as JavaScript
// prints numbers. Text that is not a number is kept.
func AppendFloat(dst, raw []byte) []byte {
	// Plain text is already in that form: MySQL's text protocol and Go's
	// shortest formatting both print the fewest digits, and only differ
	// in when they use an exponent.
	if !slices.ContainsFunc(raw, func(c byte) bool { return c == 'e' || c == 'E' }) {
		return append(dst, raw...)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, raw...)
	}
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'e', -1, 64)
}

// AppendUint appends n in decimal without allocating.
func AppendUint(dst []byte, n uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// AppendDate appends t's date as 2006-01-02 (years 0 to 9999).
func AppendDate(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	return append(b,
		byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(m)/10), byte('0'+int(m)%10), '-',
		byte('0'+d/10), byte('0'+d%10))
}

// ValidUTF8 is utf8.Valid, faster on short text that is mostly ASCII, such
// as a name with an accent: it passes eight ASCII bytes at a time (the last
// eight overlapping the word before), and from a word that is not all
// ASCII it goes straight to the first byte that is not; two-byte sequences
// are checked in line. utf8.Valid looks at the bytes after a non-ASCII
// one one at a time, and was slower on BenchmarkCSVFormat/harness's title
// (see BENCHMARKS.md, Numbers moved from code comments, output/values.go).
func ValidUTF8(b []byte) bool {
	n := len(b)
	for i := 0; i < n; {
		if i+8 <= n {
			w := binary.LittleEndian.Uint64(b[i:]) & swarHigh
			if w == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(w) >> 3
		} else if n >= 8 && binary.LittleEndian.Uint64(b[n-8:])&swarHigh == 0 {
			return true // the rest is in the last word, which is ASCII
		}
		c := b[i]
		switch {
		case c < utf8.RuneSelf:
			i++
		case c >= 0xC2 && c <= 0xDF:
			if i+1 >= n || b[i+1]&0xC0 != 0x80 {
				return false
			}
			i += 2
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return false
			}
			i += size
		}
	}
	return true
}

// swarHigh is the high bit of every byte of a word, for looking at eight
// bytes at a time.
const swarHigh = 0x8080808080808080

// AppendValidUTF8 appends s with every byte that is not part of valid
// UTF-8 replaced by U+FFFD (one for each byte, as ranging over a string
// decodes them), and returns how many bytes were replaced.
func AppendValidUTF8(dst, s []byte) ([]byte, int) {
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
			n++
		} else {
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
	return dst, n
}

// Replacements counts the text values a writer wrote with characters
// replaced by U+FFFD, for its warning.
type Replacements struct {
	values  int64  // values changed
	invalid int64  // bytes of invalid UTF-8 replaced
	unfit   int64  // valid characters the format cannot hold, replaced (xlsx)
	first   string // where the first changed value is
}

// Values is how many values were changed.
func (r *Replacements) Values() int64 { return r.values }

// Note counts one changed value; at names where it is, and is called for
// the first only.
func (r *Replacements) Note(invalid, unfit int, at func() string) {
	if r.values == 0 {
		r.first = at()
	}
	r.values++
	r.invalid += int64(invalid)
	r.unfit += int64(unfit)
}

// Warning says what was replaced in format's file, and how often, or ""
// when nothing was: "csv: 2 text values had 3 bytes of invalid UTF-8,
// written as U+FFFD (the first in row 4, column name)". unfitWhat names
// the characters counted as unfit.
func (r *Replacements) Warning(format, unfitWhat string) string {
	if r.values == 0 {
		return ""
	}
	var what []string
	if r.invalid > 0 {
		what = append(what, fmt.Sprintf("%d %s of invalid UTF-8", r.invalid, Plural(r.invalid, "byte", "bytes")))
	}
	if r.unfit > 0 {
		what = append(what, fmt.Sprintf("%d %s", r.unfit, unfitWhat))
	}
	return fmt.Sprintf("%s: %d text %s %s, written as U+FFFD (the first in %s)",
		format, r.values, Plural(r.values, "value had", "values had"), strings.Join(what, " and "), r.first)
}

// RowColumn names a value of a file per dataset for a warning: its row,
// counted from 1 after any header, and its column.
func RowColumn(row int64, column string) string {
	return fmt.Sprintf("row %d, column %s", row, column)
}

func Plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Headers returns the header labels, made unique ignoring case (an
// Excel table requires it; joins often repeat names such as id) by adding
// "_2", "_3"...; empty labels become Column1, Column2... and line breaks
// become spaces.
func Headers(cols []Column) []string {
	out := make([]string, len(cols))
	used := make(map[string]bool, len(cols))
	for i, c := range cols {
		h := strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, c.Name)
		if strings.TrimSpace(h) == "" {
			h = "Column" + strconv.Itoa(i+1)
		}
		base := h
		for n := 2; used[strings.ToLower(h)]; n++ {
			h = base + "_" + strconv.Itoa(n)
		}
		used[strings.ToLower(h)] = true
		out[i] = h
	}
	return out
}
