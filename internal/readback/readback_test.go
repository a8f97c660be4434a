package readback

import (
	"slices"
	"strings"
	"testing"
)

func TestParseCSV(t *testing.T) {
	got := ParseCSV("a,\"b,\"\"c\"\"\",\r\n\"x\r\ny\",,\"\"\r\nlast")
	want := [][]string{{"a", `b,"c"`, ""}, {"x\r\ny", "", ""}, {"last"}}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("record %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// TestCompare checks the rules by which a reader's cell matches the CSV:
// each accepted and each refused case.
func TestCompare(t *testing.T) {
	num := func(s string, f float64) Cell { return Cell{Type: "n", Num: f, Text: s} }
	shown := func(s string) Cell { return Cell{Type: "s", Text: s, Shown: true} }
	for _, tc := range []struct {
		kind Kind
		csv  string
		got  Cell
		ok   bool
	}{
		{Number, "0.6666666666666666", num("0.6666666666666666", 2.0/3), true},
		{Number, "0.6666666666666666", num("0.666666666666666", 0.666666666666666), false}, // cut to 15 digits
		{Number, "0.6666666666666666", shown("0.666666666666667"), true},
		{Number, "0.6666666666666666", shown("0.666666666666666"), false},
		{Number, "9999999999999.99", shown("10000000000000.00"), true}, // LibreOffice's rounding near a power of ten
		{Number, "9999999999999.9", shown("10000000000000.0"), false},
		{Number, "1.7976931348623157e+308", shown("1.7976931348623157E+308"), true},
		{Integer, "1234567890123456", Cell{Type: "s", Text: "1234567890123456"}, true},
		{Integer, "1234567890123456", num("1234567890123456", 1234567890123456), false},
		{Integer, Null, Cell{}, true},
		{Integer, Null, shown(""), true},
		{Integer, "0", Cell{}, false},
		{DateTime, "2026-12-01T01:15:00+01:00", shown("2026-12-01 01:15:00"), true},
		{DateTime, "2026-12-01T01:15:00+01:00", shown("2026-12-01 01:14:59"), false}, // a second early
		{DateTime, "2024-07-01T16:00:00.000501+02:00", Cell{Type: "d", Text: "2024-07-01T16:00:00.001000"}, true},
		{DateTime, "2024-07-01T16:00:00.000501+02:00", Cell{Type: "d", Text: "2024-07-01T16:00:00.002"}, false},
		{DateTime, "1890-06-01T12:53:28+00:53:28", Cell{Type: "s", Text: "1890-06-01T12:53:28+00:53:28"}, true},
		{DateTime, "1900-01-01T01:00:00+01:00", Cell{Type: "d", Text: "1900-01-01T01:00:00"}, false}, // text before 1900-03-01
		{Date, "2024-02-29", shown("2024-02-29"), true},
		{Duration, "838:59:59", shown("838:59:59"), true},
		{Duration, "838:59:59", Cell{Type: "d", Text: "1900-02-03T22:59:59"}, true},       // openpyxl read-only
		{Duration, "838:59:59", Cell{Type: "d", Text: "1900-02-03T22:59:59.000Z"}, false}, // exceljs: no Excel leap day
		{Duration, "838:59:59", Cell{Type: "d", Text: "1900-02-02T22:59:59.000Z"}, true},
		{Duration, "-01:00:00", Cell{Type: "s", Text: "-01:00:00"}, true},
		{Text, "ctl\x01" + strings.Repeat("x", 40000), Cell{Type: "s", Text: "ctl\uFFFD" + strings.Repeat("x", 32767-4-len([]rune(" …[truncated]"))) + " …[truncated]"}, true},
		{Text, "", Cell{}, true},
	} {
		msg := compare(Column{Name: "c", Kind: tc.kind}, tc.csv, tc.got)
		if (msg == "") != tc.ok {
			t.Errorf("%v %.40q against %+.60v: %q, want ok = %v", tc.kind, tc.csv, tc.got, msg, tc.ok)
		}
	}
}
