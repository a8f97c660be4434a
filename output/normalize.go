package output

import (
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// columnOf describes a column from its name and MySQL type name (as
// sql.ColumnType.DatabaseTypeName reports it), with Scale left at zero.
func columnOf(name, databaseType string) Column {
	return Column{Name: name, DatabaseType: databaseType, Kind: kindOf(databaseType)}
}

// ColumnOfSize describes a column from its name, its MySQL type name (as
// sql.ColumnType.DatabaseTypeName reports it) and the precision and scale
// the driver reports for it (driver.RowsColumnTypePrecisionScale; zero
// when it reports none). The scale is kept for DECIMAL (digits after the
// point) and for DATETIME, TIMESTAMP and TIME (digits of fractional
// seconds) only, and only from 1 to 30; the precision for DECIMAL only,
// from 1 to 65.
func ColumnOfSize(name, databaseType string, precision, scale int64) Column {
	c := columnOf(name, databaseType)
	if c.Kind == KindDecimal || c.Kind == KindDateTime || c.Kind == KindTime {
		if scale > 0 && scale < 31 {
			c.Scale = scale
		}
	}
	if c.Kind == KindDecimal && precision > 0 && precision < 66 {
		c.Precision = precision
	}
	return c
}

// kindOf maps a MySQL type name such as "UNSIGNED BIGINT", "DECIMAL" or
// "VARBINARY" to a Kind. Unknown names map to KindText.
func kindOf(databaseType string) Kind {
	t := strings.ToUpper(strings.TrimSpace(databaseType))
	unsigned := false
	if rest, ok := strings.CutPrefix(t, "UNSIGNED "); ok {
		t, unsigned = strings.TrimSpace(rest), true
	}
	if rest, ok := strings.CutSuffix(t, " UNSIGNED"); ok {
		t, unsigned = strings.TrimSpace(rest), true
	}
	switch t {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT", "INT24", "LONG", "LONGLONG", "SHORT", "TINY":
		if unsigned {
			return KindUint
		}
		return KindInt
	case "DECIMAL", "NUMERIC", "NEWDECIMAL", "DEC", "FIXED":
		return KindDecimal
	case "FLOAT", "DOUBLE", "REAL", "DOUBLE PRECISION":
		return KindFloat
	case "DATE", "NEWDATE":
		return KindDate
	case "DATETIME", "TIMESTAMP":
		return KindDateTime
	case "TIME":
		return KindTime
	case "YEAR":
		return KindYear
	case "BIT":
		return KindBit
	case "BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB", "GEOMETRY", "VECTOR":
		return KindBinary
	}
	return KindText
}

// Normalizer turns the raw bytes of a scanned row into Values. It expects
// the text forms go-sql-driver/mysql produces with parseTime=false: numbers
// as decimal text, DATE as "2006-01-02", DATETIME and TIMESTAMP as
// "2006-01-02 15:04:05[.ffffff]". A Normalizer is not safe for concurrent
// use; it keeps counters for Warnings.
type Normalizer struct {
	cols      []Column
	locs      []*time.Location // per column: where its wall clocks are read
	reportLoc *time.Location
	wall      []bool  // per column: Value.Wall for its valid DATETIMEs
	zero      []int64 // zero or invalid dates per column
}

// NewNormalizer returns a Normalizer for rows with the given columns.
// DATETIME text is read as a wall clock in dbLoc, the zone the application
// stores it in, and converted to reportLoc; a wall clock that does not exist
// or exists twice in dbLoc (daylight saving changes) resolves as time.Date
// does, so UTC is the unambiguous choice. TIMESTAMP text is read as UTC:
// joinery's sessions set time_zone to +00:00, so the server sends the
// instant in UTC. DATE values are calendar dates and are never shifted.
// A nil location means UTC.
func NewNormalizer(cols []Column, dbLoc, reportLoc *time.Location) *Normalizer {
	if dbLoc == nil {
		dbLoc = time.UTC
	}
	if reportLoc == nil {
		reportLoc = time.UTC
	}
	locs := make([]*time.Location, len(cols))
	wall := make([]bool, len(cols))
	fixed := fixedOffset(reportLoc)
	for i, c := range cols {
		locs[i] = dbLoc
		if c.DatabaseType == "TIMESTAMP" {
			locs[i] = time.UTC
		}
		// In a zone without offset changes every wall clock exists once,
		// so time.Date keeps the text's date and clock as they are.
		wall[i] = c.Kind == KindDateTime && locs[i] == reportLoc && fixed
	}
	return &Normalizer{cols: cols, locs: locs, reportLoc: reportLoc, wall: wall, zero: make([]int64, len(cols))}
}

// Normalize fills dst from one scanned row; a nil RawBytes is NULL. The
// Values alias raw and are valid until raw is reused. It does not allocate
// unless it returns an error.
func (n *Normalizer) Normalize(raw []sql.RawBytes, dst []Value) error {
	if len(raw) != len(n.cols) || len(dst) != len(n.cols) {
		return fmt.Errorf("normalize: got %d values for %d columns into %d slots", len(raw), len(n.cols), len(dst))
	}
	for i, b := range raw {
		if b == nil {
			dst[i] = Value{Null: true}
			continue
		}
		dst[i] = Value{Raw: b}
		switch n.cols[i].Kind {
		case KindDate:
			d, ok := parseDateTime(b, false)
			if !ok {
				return n.badDate(i, b, "2006-01-02")
			}
			if !d.valid() {
				dst[i].Literal = true
				n.zero[i]++
				continue
			}
			dst[i].Time = time.Date(d.year, time.Month(d.month), d.day, 0, 0, 0, 0, time.UTC)
		case KindDateTime:
			d, ok := parseDateTime(b, true)
			if !ok {
				return n.badDate(i, b, "2006-01-02 15:04:05")
			}
			if !d.valid() {
				dst[i].Literal = true
				n.zero[i]++
				continue
			}
			dst[i].Time = time.Date(d.year, time.Month(d.month), d.day, d.hour, d.min, d.sec, d.nsec, n.locs[i]).In(n.reportLoc)
			dst[i].Wall = n.wall[i]
		}
	}
	return nil
}

// fixedOffset reports whether loc has one UTC offset for all time, as UTC
// and time.FixedZone do.
func fixedOffset(loc *time.Location) bool {
	start, end := time.Unix(0, 0).In(loc).ZoneBounds()
	return start.IsZero() && end.IsZero()
}

func (n *Normalizer) badDate(i int, b []byte, layout string) error {
	c := n.cols[i]
	return fmt.Errorf("column %s: %s value %q is not in the form %s (the DSN must use parseTime=false)", c.Name, c.DatabaseType, b, layout)
}

// Warnings describes, one message per column, the values so far that a
// reader of the report should know about: zero, partly zero or invalid
// dates, written as the literal text MySQL returned.
func (n *Normalizer) Warnings() []string {
	var out []string
	for i, z := range n.zero {
		if z > 0 {
			out = append(out, fmt.Sprintf("column %s: %d zero or invalid %s values written as text", n.cols[i].Name, z, n.cols[i].DatabaseType))
		}
	}
	return out
}

// civil is a date and wall clock read from MySQL text.
type civil struct {
	year, month, day, hour, min, sec, nsec int
}

// valid reports whether d is a real calendar date that time.Date keeps as
// is: no zero year, month or day and no day past the month's end.
func (d civil) valid() bool {
	return d.year > 0 && d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= daysIn(d.year, d.month) &&
		d.hour < 24 && d.min < 60 && d.sec < 60
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDateTime reads "YYYY-MM-DD" and, with clock, an optional
// " HH:MM:SS[.fraction]" (a 'T' separator is accepted too). Only the
// syntax is checked; see civil.valid for the calendar.
func parseDateTime(b []byte, clock bool) (d civil, ok bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return d, false
	}
	if d.year, ok = Digits(b[0:4]); !ok {
		return d, false
	}
	if d.month, ok = Digits(b[5:7]); !ok {
		return d, false
	}
	if d.day, ok = Digits(b[8:10]); !ok {
		return d, false
	}
	if len(b) == 10 {
		return d, true
	}
	if !clock || len(b) < 19 || (b[10] != ' ' && b[10] != 'T') || b[13] != ':' || b[16] != ':' {
		return d, false
	}
	if d.hour, ok = Digits(b[11:13]); !ok {
		return d, false
	}
	if d.min, ok = Digits(b[14:16]); !ok {
		return d, false
	}
	if d.sec, ok = Digits(b[17:19]); !ok {
		return d, false
	}
	if len(b) == 19 {
		return d, true
	}
	frac := b[20:]
	if b[19] != '.' || len(frac) == 0 || len(frac) > 9 {
		return d, false
	}
	if d.nsec, ok = Digits(frac); !ok {
		return d, false
	}
	for k := len(frac); k < 9; k++ {
		d.nsec *= 10
	}
	return d, true
}

// Digits parses a short run of ASCII digits.
func Digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// SigDigits counts the significant digits of an integer's decimal text
// (sign and leading zeros excluded); ok is false if b is not an integer.
func SigDigits(b []byte) (n int, ok bool) {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	lead := true
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if lead && c == '0' {
			continue
		}
		lead = false
		n++
	}
	return n, true
}

// ParseInt parses an integer of at most 18 digits without allocating.
func ParseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// DecimalDigits counts the significant digits of a decimal's text: from
// the first non-zero digit to the last, the point left out ("0.0120" has
// two, "1200" has two, "1.05" three).
func DecimalDigits(b []byte) int {
	first, last, n := -1, -1, 0
	for _, c := range b {
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			if first < 0 {
				first = n
			}
			last = n
		}
		n++
	}
	if first < 0 {
		return 0
	}
	return last - first + 1
}
