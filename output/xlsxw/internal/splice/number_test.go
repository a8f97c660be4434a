package splice

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestExcelSerial(t *testing.T) {
	tests := []struct {
		t    time.Time
		want float64
		ok   bool
	}{
		{time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC), 0, false},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 0, false}, // serial 1: 1899-12-31 in LibreOffice
		{time.Date(1900, 2, 28, 23, 59, 59, 0, time.UTC), 0, false},
		{time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), 61, true},
		{time.Date(1970, 1, 1, 12, 0, 0, 0, time.UTC), 25569.5, true},
		{time.Date(2024, 3, 1, 18, 0, 0, 0, newYork(t)), 45352.75, true}, // wall clock, not UTC
	}
	for _, tt := range tests {
		got, ok := ExcelSerial(tt.t)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ExcelSerial(%v) = %v, %v; want %v, %v", tt.t, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAppendExcelNumber(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // variables: constants would add exactly
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "-0"}, {1.5, "1.5"}, {-0.125, "-0.125"},
		{45352.38541666667, "45352.38541666667"}, {2.0 / 3, "0.6666666666666666"},
		{tenth + fifth, "0.30000000000000004"}, {123456789012345678, "123456789012345680"},
		{9007199254740993, "9007199254740992"}, {1e-6, "0.000001"}, {1e-7, "1e-07"}, {1e-300, "1e-300"},
		{1e20, "100000000000000000000"}, {1e21, "1e+21"}, {-math.MaxFloat64, "-1.7976931348623157e+308"},
		{5e-324, "5e-324"}, {float64(float32(12345.67)), "12345.669921875"},
	} {
		got := string(appendNumber(nil, tc.f))
		if got != tc.want {
			t.Errorf("appendNumber(%v) = %s, want %s", tc.f, got, tc.want)
		}
		if back, err := strconv.ParseFloat(got, 64); err != nil || back != tc.f || math.Signbit(back) != math.Signbit(tc.f) {
			t.Errorf("appendNumber(%v) = %s reads back as %v, %v", tc.f, got, back, err)
		}
	}
}

// TestSerial checks serial against exact rational arithmetic: it is the
// double nearest to the date-time, for random instants and for every
// second of a day whose 15-digit serials LibreOffice showed a second early.
func TestSerial(t *testing.T) {
	check := func(days, nanos uint64) {
		t.Helper()
		exact := new(big.Rat).SetFrac(new(big.Int).SetUint64(days*86400+nanos/1e9), big.NewInt(86400))
		exact.Add(exact, big.NewRat(int64(nanos%1e9), nanosPerDay))
		want, _ := exact.Float64() // nearest, half to even
		if got := serial(days, nanos); got != want {
			t.Fatalf("serial(%d, %d) = %v, want %v", days, nanos, got, want)
		}
	}
	for s := range uint64(86400) {
		check(46357, s*1e9) // 2026-12-01
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(1+rng.Uint64N(2958465), rng.Uint64N(nanosPerDay))
	}
	for _, d := range []uint64{1, 2, 3, 4, 7, 8, 1023, 1024, 65535, 65536, 2958465} {
		for _, n := range []uint64{0, 1, 500, 999, 1e9 - 1, nanosPerDay / 2, nanosPerDay - 1} {
			check(d, n)
		}
	}
}

func newYork(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
