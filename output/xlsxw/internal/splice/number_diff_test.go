package splice

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// Differential tests of the numbers the splice writes in cells, against
// strconv and against what excelize writes for the same value.

// numberCases are edge values and, seeded, random doubles of every
// magnitude and random short decimals.
func numberCases() []float64 {
	fs := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.2, 0.3, 2.0 / 3, 1e-6, 1e-6 * (1 - 1e-16), 9.999999999999999e-7,
		1e21, math.Nextafter(1e21, 0), 1e20, 123456789012345678, 1 << 53, 1<<53 + 2, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, 2.2250738585072014e-308, 45352.75, 2958465.999988426, 1e15, 1e16 - 1, 0.1 + 0.2}
	rng := rand.New(rand.NewPCG(20, 24))
	for range 20000 {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		fs = append(fs, f)
	}
	for range 20000 {
		// A value as a DECIMAL column holds it: at most 15 digits.
		digits := rng.Int64N(1e15)
		fs = append(fs, float64(digits)/math.Pow10(rng.IntN(16)))
	}
	return fs
}

// checkNumber is the property of appendNumber: the text reads back as f
// exactly, has the fewest digits that do (those of strconv's shortest
// form), and is plain between 1e-6 and 1e21, with an exponent outside.
func checkNumber(t *testing.T, f float64) {
	t.Helper()
	got := string(appendNumber(nil, f))
	back, err := strconv.ParseFloat(got, 64)
	if err != nil || back != f || math.Signbit(back) != math.Signbit(f) {
		t.Fatalf("%v (%x): %q reads back as %v (%v)", f, math.Float64bits(f), got, back, err)
	}
	short := strconv.FormatFloat(f, 'e', -1, 64)
	mant, _, _ := strings.Cut(short, "e")
	if want := strings.Count(strings.TrimLeft(mant, "-"), "") - 1 - strings.Count(mant, "."); sigDigitsOf(got) != want {
		t.Fatalf("%v: %q has %d significant digits, strconv's shortest %q %d", f, got, sigDigitsOf(got), short, want)
	}
	a := math.Abs(f)
	if plain := !strings.ContainsAny(got, "e"); plain != (a == 0 || a >= 1e-6 && a < 1e21) {
		t.Fatalf("%v: %q plain %v", f, got, plain)
	}
}

// sigDigitsOf counts the significant digits of a number's text.
func sigDigitsOf(s string) int {
	s, _, _ = strings.Cut(s, "e")
	s = strings.TrimLeft(strings.ReplaceAll(strings.TrimLeft(s, "-"), ".", ""), "0")
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
	}
	if s == "" {
		return 1
	}
	if len(s) > 1 {
		s = strings.TrimRight(s, "0")
	}
	return max(len(s), 1)
}

func TestAppendNumberAgainstStrconv(t *testing.T) {
	for _, f := range numberCases() {
		checkNumber(t, f)
	}
}

// TestAppendNumberAgainstExcelize: where excelize's own text of a number
// (cut to 15 significant digits) names the same double, so does ours; and
// where it does not, ours still reads back exactly: the reason the splice
// writes numbers itself.
func TestAppendNumberAgainstExcelize(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	lost := 0
	for i, x := range numberCases() {
		if i%4 != 0 { // excelize's cells are slow; a quarter is plenty
			continue
		}
		if err := f.SetCellFloat("Sheet1", "A1", x, -1, 64); err != nil {
			t.Fatal(err)
		}
		theirs, err := f.GetCellValue("Sheet1", "A1", excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		tv, err := strconv.ParseFloat(theirs, 64)
		if err != nil {
			t.Fatalf("%v: excelize wrote %q", x, theirs)
		}
		ours, _ := strconv.ParseFloat(string(appendNumber(nil, x)), 64)
		if ours != x {
			t.Fatalf("%v: ours reads back as %v", x, ours)
		}
		if tv != x {
			lost++
			if sigDigitsOf(strconv.FormatFloat(x, 'e', -1, 64)) <= 15 {
				t.Fatalf("%v: excelize's %q loses a value of 15 digits or fewer", x, theirs)
			}
		}
	}
	t.Logf("excelize's text named another double for %d values, ours for none", lost)
}

// TestExcelSerialAgainstExcelize: a date-time's serial is excelize's for
// the same wall clock, to excelize's 15 digits, from 1900-03-01 to 9999.
func TestExcelSerialAgainstExcelize(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	lo := time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	times := []time.Time{time.Unix(lo, 0).UTC(), time.Unix(hi, 0).UTC(), time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)}
	for range 3000 {
		times = append(times, time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(1e9)).UTC())
	}
	for _, tm := range times {
		ours, ok := ExcelSerial(tm)
		if !ok {
			t.Fatalf("%v: no serial", tm)
		}
		if err := f.SetCellValue("Sheet1", "A1", tm); err != nil {
			t.Fatal(err)
		}
		raw, err := f.GetCellValue("Sheet1", "A1", excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Fatalf("%v: excelize wrote %q", tm, raw)
		}
		// 15 significant digits of a serial up to 2958465 keep 1e-9 days.
		if d := math.Abs(ours - theirs); d > 1e-9 {
			t.Fatalf("%v: serial %v, excelize's %q (%g days apart)", tm, ours, raw, d)
		}
	}
}

// FuzzAppendNumber checks appendNumber's property on any double.
func FuzzAppendNumber(f *testing.F) {
	for _, x := range []float64{0, 1e-6, 1e21, 2.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64, 45352.75} {
		f.Add(math.Float64bits(x))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		x := math.Float64frombits(bits)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		checkNumber(t, x)
	})
}
