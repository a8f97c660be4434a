package splice

import (
	"math"
	"math/bits"
	"strconv"
	"time"
)

// appendNumber appends f as a cell's value: the shortest decimal text
// that reads back as the same double (Go's, Python's and JavaScript's
// shortest form), plain from 1e-6 to 1e21 and with an exponent outside, as
// CSV writes FLOAT and DOUBLE. Excel shows at most 15 significant digits
// but keeps the double it read, and every reader reads this text back as
// f. (excelize cuts the text to 15 digits, which changes the value:
// 2/3 became 0.666666666666666, and date-time serials fell below their
// second, which LibreOffice shows as the second before.)
func appendNumber(b []byte, f float64) []byte {
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(b, f, 'e', -1, 64)
}

// ExcelSerial converts t's wall clock to an Excel serial date (1900 date
// system); ok is false before 1900-03-01 and after 9999. Excel cannot show
// dates before 1900, and it counts a 1900-02-29 that never was, so that
// serials 1 to 59 are January and February 1900 in Excel and openpyxl but a
// day earlier in LibreOffice and exceljs (serial 1 is 1899-12-31 there):
// those dates are text, which every app shows alike.
func ExcelSerial(t time.Time) (float64, bool) {
	y, m, d := t.Date()
	if y < 1900 || y == 1900 && m < 3 || y > 9999 {
		return 0, false
	}
	days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()/86400 + 25569 // 25569 is 1970-01-01
	h, mi, s := t.Clock()
	nanos := int64(h*3600+mi*60+s)*1e9 + int64(t.Nanosecond())
	return serial(uint64(days), uint64(nanos)), true
}

// nanosPerDay is the denominator of a serial's fraction.
const nanosPerDay = 86400e9

// serial returns the double nearest to days + nanos/nanosPerDay (days at
// least 1, nanos less than a day), rounding half to even: the value whose
// shortest text every reader reads back as the same double, and which
// LibreOffice, which cuts a date-time to its second, shows as the right
// one (a second's exact serial is never written a hair below itself). The
// sum of the float64 division and days would round twice. It works on the
// 128-bit numerator days*nanosPerDay + nanos, scaled so that the quotient
// has the 53 bits of a double's mantissa.
func serial(days, nanos uint64) float64 {
	hi, lo := bits.Mul64(days, nanosPerDay)
	var carry uint64
	lo, carry = bits.Add64(lo, nanos, 0)
	hi += carry
	// days <= value < days+1, so the value's binary exponent is days'.
	exp := bits.Len64(days) - 1
	shift := uint(52 - exp) // 31 to 52 for days up to 9999-12-31
	hi, lo = hi<<shift|lo>>(64-shift), lo<<shift
	q, r := bits.Div64(hi, lo, nanosPerDay) // hi < nanosPerDay: q < 2^54
	if r > nanosPerDay/2 || r == nanosPerDay/2 && q&1 == 1 {
		q++
	}
	return math.Ldexp(float64(q), exp-52)
}
