package output

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// CSV for spreadsheets in other locales: a decimal comma, and dates and
// date-times in a layout of the operator's choice. Layouts use the letters
// of Unicode date patterns (Java's, ICU's, .NET's), a small set of them:
//
//	yyyy  year, four digits       MM  month, 01-12     dd  day, 01-31
//	HH    hour, 00-23             mm  minute, 00-59    ss  second, 00-59
//	S…S   fraction of the second, one digit per S (at most 9), cut, not rounded
//	xxx   the report zone's UTC offset, +01:00
//
// and, between them, the characters . - / : and space, and T. A DATE
// layout has yyyy, MM and dd; a date-time layout those and HH and mm. Each
// field at most once; anything else is refused, with a hint for the usual
// slips (dd.mm.yyyy, whose mm are minutes; YYYY; hh).

// Presets of csv options (Spec.Preset).
const (
	// PresetExcelDE is Excel, and LibreOffice, in a German locale (and
	// others that write 1.234,56 and 31.12.2026): it opens a
	// double-clicked file with ";" between fields, reads it as UTF-8 with
	// a BOM, and takes 12,50 for a number and 01.03.2024 for a date.
	PresetExcelDE = "excel-de"
)

// WithPreset returns s with the csv options of its preset filled in where
// s leaves them unset.
func (s Spec) WithPreset() Spec {
	if s.Preset != PresetExcelDE {
		return s
	}
	def(&s.Delimiter, ";")
	def(&s.DecimalSeparator, ",")
	def(&s.DateFormat, "dd.MM.yyyy")
	def(&s.DateTimeFormat, "dd.MM.yyyy HH:mm:ss")
	if s.BOM == nil {
		t := true
		s.BOM = &t
	}
	return s
}

// CheckLayout returns what is wrong with a date_format (datetime false) or
// datetime_format layout, or nil.
func CheckLayout(f string, datetime bool) error {
	_, err := parseLayout(f, datetime)
	return err
}

// layout is a parsed date or date-time layout: fields and literal text.
type layout []layoutPart

type layoutPart struct {
	field byte   // 'y', 'M', 'd', 'H', 'm', 's', 'S' (n digits), 'x'; 0 for lit
	n     int    // digits of a fraction
	lit   string // literal text
}

// layoutFields are the fields of a layout, and their lengths.
var layoutFields = map[byte]int{'y': 4, 'M': 2, 'd': 2, 'H': 2, 'm': 2, 's': 2, 'x': 3}

// parseLayout reads a date (datetime false) or date-time layout.
func parseLayout(f string, datetime bool) (layout, error) {
	if f == "" {
		return nil, errors.New("empty")
	}
	var out layout
	seen := make(map[byte]bool)
	for i := 0; i < len(f); {
		c := f[i]
		j := i
		for j < len(f) && f[j] == c {
			j++
		}
		run := f[i:j]
		switch {
		case strings.IndexByte(".-/: ", c) >= 0 || run == "T":
			out = append(out, layoutPart{lit: run})
			i = j
			continue
		case c == 'S':
			if len(run) > 9 {
				return nil, fmt.Errorf("%s: at most 9 digits of a second (SSSSSSSSS)", run)
			}
			if !datetime {
				return nil, fmt.Errorf("%s: a date has no time", run)
			}
			if seen['S'] {
				return nil, errors.New("S: the fraction of the second is given twice")
			}
			seen['S'] = true
			out = append(out, layoutPart{field: 'S', n: len(run)})
			i = j
			continue
		}
		n, ok := layoutFields[c]
		if !ok || len(run) != n {
			return nil, fmt.Errorf("%s: %s", run, layoutHint(run, datetime))
		}
		if !datetime && strings.IndexByte("Hmsx", c) >= 0 {
			if c == 'm' {
				return nil, errors.New("mm: mm is minutes, and a date has none: the month is MM")
			}
			return nil, fmt.Errorf("%s: a date has no time", run)
		}
		if seen[c] {
			if c == 'm' {
				return nil, errors.New("mm: the minute is given twice (the month is MM)")
			}
			return nil, fmt.Errorf("%s: given twice", run)
		}
		seen[c] = true
		out = append(out, layoutPart{field: c})
		i = j
	}
	want := "yMd"
	if datetime {
		want = "yMdHm"
	}
	for _, c := range []byte(want) {
		if !seen[c] {
			name := map[byte]string{'y': "the year (yyyy)", 'M': "the month (MM)", 'd': "the day (dd)", 'H': "the hour (HH)", 'm': "the minute (mm)"}[c]
			if c == 'M' && seen['m'] {
				return nil, fmt.Errorf("%s is missing; mm is the minute", name)
			}
			return nil, fmt.Errorf("%s is missing", name)
		}
	}
	if seen['S'] && !seen['s'] {
		return nil, errors.New("a fraction of the second (S) needs the second (ss)")
	}
	return out, nil
}

// layoutHint says what a run of letters that is no field may have meant.
func layoutHint(run string, datetime bool) string {
	switch run {
	case "YYYY", "YY", "yy", "Y", "y":
		return "the year is yyyy (four digits)"
	case "DD", "D", "d":
		return "the day is dd"
	case "M", "MMM", "MMMM":
		return "the month is MM (01 to 12); names of months are not supported"
	case "hh", "h", "H":
		return "the hour is HH (00 to 23)"
	case "m":
		return "the minute is mm"
	case "s":
		return "the second is ss"
	}
	fields := "yyyy, MM, dd"
	if datetime {
		fields += ", HH, mm, ss, S (fraction) and xxx (offset)"
	}
	return "not a field: use " + fields + ", and . - / : space or T between them"
}

// appendLayout appends t as l writes it: t's date and clock, as they are
// in t's location.
func appendLayout(b []byte, t time.Time, l layout) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	for _, p := range l {
		switch p.field {
		case 0:
			b = append(b, p.lit...)
		case 'y':
			if y < 0 || y > 9999 {
				b = append(b, t.Format("2006")...)
				continue
			}
			yy := y
			b = append(b, twoDigits[2*(yy/100)], twoDigits[2*(yy/100)+1], twoDigits[2*(yy%100)], twoDigits[2*(yy%100)+1])
		case 'M':
			b = append(b, twoDigits[2*int(mo)], twoDigits[2*int(mo)+1])
		case 'd':
			b = append(b, twoDigits[2*d], twoDigits[2*d+1])
		case 'H':
			b = append(b, twoDigits[2*h], twoDigits[2*h+1])
		case 'm':
			b = append(b, twoDigits[2*mi], twoDigits[2*mi+1])
		case 's':
			b = append(b, twoDigits[2*s], twoDigits[2*s+1])
		case 'S':
			ns := t.Nanosecond()
			var frac [9]byte
			for k := 8; k >= 0; k-- {
				frac[k] = byte('0' + ns%10)
				ns /= 10
			}
			b = append(b, frac[:p.n]...)
		case 'x':
			b = t.AppendFormat(b, "-07:00")
		}
	}
	return b
}
