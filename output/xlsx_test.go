package output_test

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	. "github.com/joinery/joinery/output"
)

// xcell is what a reader of the workbook sees in one cell.
type xcell struct {
	shown  string // GetCellValue with number formats applied
	raw    string // GetCellValue with RawCellValue (excelize shows 15 significant digits, rounded)
	text   bool   // an inline string rather than a number
	numFmt string // the custom number format, "" for General
}

func readCell(t *testing.T, f *excelize.File, sheet, ref string) xcell {
	t.Helper()
	var c xcell
	var err error
	if c.shown, err = f.GetCellValue(sheet, ref); err != nil {
		t.Fatalf("%s!%s: %v", sheet, ref, err)
	}
	if c.raw, err = f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true}); err != nil {
		t.Fatal(err)
	}
	typ, err := f.GetCellType(sheet, ref)
	if err != nil {
		t.Fatal(err)
	}
	c.text = typ == excelize.CellTypeInlineString || typ == excelize.CellTypeSharedString
	id, err := f.GetCellStyle(sheet, ref)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	if st.CustomNumFmt != nil {
		c.numFmt = *st.CustomNumFmt
	}
	return c
}

func TestXLSX(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	vars := Vars{Job: "nightly", Logical: time.Date(2024, 3, 1, 6, 0, 0, 0, berlin), Location: berlin}
	cols := []Column{
		{Name: "id", Kind: KindInt}, {Name: "big", Kind: KindUint}, {Name: "amount", Kind: KindDecimal, Precision: 20, Scale: 2},
		{Name: "ratio", Kind: KindFloat}, {Name: "day", Kind: KindDate}, {Name: "at", Kind: KindDateTime},
		{Name: "at_ms", Kind: KindDateTime, Scale: 3}, {Name: "dur", Kind: KindTime}, {Name: "yr", Kind: KindYear},
		{Name: "bin", Kind: KindBinary}, {Name: "txt", Kind: KindText}, {Name: "ID", Kind: KindText}, {Name: "", Kind: KindText},
	}
	rows := [][]sql.RawBytes{
		raw("-42", "123456789012345", "1999.95", "0.125", "2024-02-29", "2024-03-01 09:00:00",
			"2024-07-01 09:00:00.125", "26:30:15", "2024", "\x00\xab\xff", "Zoë 日本 😀 𝄞", "dup", "noname"),
		raw(nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
		raw("1234567890123456", "18446744073709551615", "12345678901234567.89", "1e+20", "0000-00-00", "2024-00-01 00:00:00",
			"1850-01-01 00:00:00.000", "-01:00:00", "0000", "", "", "=1+1", "line\nbreak"),
		raw("0", "0", "0.10", "-2.5", "1900-01-01", "1900-03-01 00:00:00", "2024-03-01 00:00:00.5", "00:00:00.5", "1901", "A", " x ", "", ""),
		// DECIMAL at Excel's 15 significant digits and past them
		raw(nil, nil, "12345678901234.56", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
		raw(nil, nil, "1234567890123.45", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
		raw(nil, nil, "-123456789012345.60", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
		raw(nil, nil, "100000000000000000.00", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
	}
	files := writeReport(t, Spec{Format: "xlsx", Path: "{job}/{date}/report"}, t.TempDir(), vars, []testDataset{
		{name: "kinds", cols: cols, dbLoc: time.UTC, rows: rows},
		{name: "empty/2024:q1?*[x]", cols: []Column{{Name: "a", Kind: KindInt}, {Name: "a", Kind: KindInt}}},
		{name: "EMPTY_2024_q1___x_", cols: []Column{{Name: "n", Kind: KindInt}}, rows: [][]sql.RawBytes{raw("7")}},
		{name: strings.Repeat("ü", 40), cols: []Column{{Name: "n", Kind: KindInt}}},
	})
	if len(files) != 1 || !strings.HasSuffix(files[0], "nightly/2024-03-01/report.xlsx") {
		t.Fatalf("got files %q", files)
	}
	f, err := excelize.OpenFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	wantSheets := []string{"kinds", "empty_2024_q1___x_", "EMPTY_2024_q1___x_ (2)", strings.Repeat("ü", 31)}
	if got := f.GetSheetList(); strings.Join(got, "|") != strings.Join(append(wantSheets, "About"), "|") {
		t.Fatalf("got sheets %q, want %q", got, wantSheets)
	}

	// excelize renders ".000" as zero milliseconds whatever the value
	// (Excel shows them); the raw serials below carry them.
	const ymd, ymdhms, ymdhmsms = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd hh:mm:ss.000"
	// Dates before 1900 are text; Berlin was at +00:53:28 local mean time then.
	old := time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC).In(berlin).Format("2006-01-02T15:04:05.000-07:00:00")
	want := map[string]xcell{
		// header: bold text, unique names
		"A1": {shown: "id", raw: "id", text: true}, "L1": {shown: "ID_2", raw: "ID_2", text: true},
		"M1": {shown: "Column13", raw: "Column13", text: true},
		// row 2: every kind as a typed cell
		"A2": {shown: "-42", raw: "-42", numFmt: "0"},
		"B2": {shown: "123456789012345", raw: "123456789012345", numFmt: "0"},
		"C2": {shown: "1999.95", raw: "1999.95", text: true}, // DECIMAL(20,2): text as a whole
		"D2": {shown: "0.125", raw: "0.125"},
		"E2": {shown: "2024-02-29", raw: "45351", numFmt: ymd},
		"F2": {shown: "2024-03-01 10:00:00", raw: "45352.4166666667", numFmt: ymdhms},
		"G2": {shown: "2024-07-01 11:00:00.000", raw: "45474.4583347801", numFmt: ymdhmsms},
		"H2": {shown: "26:30:15", raw: "1.10434027777778", numFmt: "[h]:mm:ss"},
		"I2": {shown: "2024", raw: "2024", numFmt: "0"},
		"J2": {shown: "00ABFF", raw: "00ABFF", text: true},
		"K2": {shown: "Zoë 日本 😀 𝄞", raw: "Zoë 日本 😀 𝄞", text: true},
		// row 3: NULL is an empty cell
		"A3": {}, "E3": {}, "F3": {}, "K3": {},
		// row 4: values Excel cannot hold as numbers stay text
		"A4": {shown: "1234567890123456", raw: "1234567890123456", text: true},
		"B4": {shown: "18446744073709551615", raw: "18446744073709551615", text: true},
		"C4": {shown: "12345678901234567.89", raw: "12345678901234567.89", text: true},
		"D4": {shown: "100000000000000000000", raw: "100000000000000000000"},
		"E4": {shown: "0000-00-00", raw: "0000-00-00", text: true},
		"F4": {shown: "2024-00-01 00:00:00", raw: "2024-00-01 00:00:00", text: true},
		"G4": {shown: old, raw: old, text: true},
		"H4": {shown: "-01:00:00", raw: "-01:00:00", text: true},
		"I4": {shown: "0", raw: "0", numFmt: "0"},
		"J4": {shown: "", raw: "", text: true},
		"L4": {shown: "=1+1", raw: "=1+1", text: true},
		"M4": {shown: "line\nbreak", raw: "line\nbreak", text: true},
		// row 5: edges
		"C5": {shown: "0.10", raw: "0.10", text: true},
		"E5": {shown: "1900-01-01", raw: "1900-01-01", text: true}, // serial 1 is a day apart between apps
		"F5": {shown: "1900-03-01 01:00:00", raw: "61.0416666666667", numFmt: ymdhms},
		"G5": {shown: "2024-03-01 01:00:00.000", raw: "45352.0416724537", numFmt: ymdhmsms},
		"K5": {shown: " x ", raw: " x ", text: true},
		// rows 6-9: a DECIMAL(20,2) is text whatever its value
		"C6": {shown: "12345678901234.56", raw: "12345678901234.56", text: true},
		"C7": {shown: "1234567890123.45", raw: "1234567890123.45", text: true},
		"C8": {shown: "-123456789012345.60", raw: "-123456789012345.60", text: true},
		"C9": {shown: "100000000000000000.00", raw: "100000000000000000.00", text: true},
	}
	for ref, w := range want {
		if got := readCell(t, f, "kinds", ref); got != w {
			t.Errorf("kinds!%s: got %+v, want %+v", ref, got, w)
		}
	}
	for _, sheet := range wantSheets {
		panes, err := f.GetPanes(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if !panes.Freeze || panes.YSplit != 1 || panes.XSplit != 0 || panes.TopLeftCell != "A2" {
			t.Errorf("%s: got panes %+v, want the header row frozen", sheet, panes)
		}
		style, _ := f.GetCellStyle(sheet, "A1")
		if st, _ := f.GetStyle(style); st == nil || st.Font == nil || !st.Font.Bold {
			t.Errorf("%s: header is not bold", sheet)
		}
	}
	wantTables := map[string]string{"kinds": "A1:M9", wantSheets[1]: "A1:B2", wantSheets[2]: "A1:A2", wantSheets[3]: "A1:A2"}
	for sheet, ref := range wantTables {
		tables, err := f.GetTables(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) != 1 || tables[0].Range != ref {
			t.Errorf("%s: got tables %+v, want one over %s", sheet, tables, ref)
		}
	}
	if got, _ := f.GetCellValue(wantSheets[1], "B1"); got != "a_2" {
		t.Errorf("duplicate header: got %q, want a_2", got)
	}
	if got := readCell(t, f, wantSheets[2], "A2"); got != (xcell{shown: "7", raw: "7", numFmt: "0"}) {
		t.Errorf("third sheet A2: got %+v", got)
	}

	widths := map[string]float64{"A": 16 + 2, "B": 22, "F": 19 + 2, "G": 23 + 2, "K": 13 + 2}
	for col, w := range widths {
		got, err := f.GetColWidth("kinds", col)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("width of column %s: got %v, want %v", col, got, w)
		}
	}
}

func TestXLSXManyRows(t *testing.T) {
	// More rows than the width sample, so rows are both held back and streamed.
	const n = sampleRows*2 + 17 // sampleRows: see below
	rows := make([][]sql.RawBytes, n)
	for i := range rows {
		rows[i] = raw(strconv.Itoa(i), fmt.Sprintf("name %d", i))
	}
	rows[n-1] = raw(strconv.Itoa(n-1), strings.Repeat("w", 300)) // after the sample: no effect on width
	cols := []Column{{Name: "i", Kind: KindInt}, {Name: "name", Kind: KindText}}
	files := writeReport(t, Spec{Format: "xlsx", Path: "r.xlsx"}, t.TempDir(), Vars{Job: "j", Logical: time.Now()},
		[]testDataset{{name: "big", cols: cols, rows: rows}})
	f, err := excelize.OpenFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := f.GetRows("big")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n+1 {
		t.Fatalf("got %d rows, want %d", len(got), n+1)
	}
	for i := 0; i < n-1; i++ {
		if got[i+1][0] != strconv.Itoa(i) || got[i+1][1] != fmt.Sprintf("name %d", i) {
			t.Fatalf("row %d: got %q", i+2, got[i+1])
		}
	}
	tables, _ := f.GetTables("big")
	if len(tables) != 1 || tables[0].Range != fmt.Sprintf("A1:B%d", n+1) {
		t.Errorf("got tables %+v", tables)
	}
	if w, _ := f.GetColWidth("big", "B"); w != 8+2 {
		t.Errorf("width of B: got %v, want 10 (from the sample)", w)
	}
}

// TestXLSXDecimals checks that a DECIMAL column is numbers or text as a
// whole, from its declared precision, whatever its values.
func TestXLSXDecimals(t *testing.T) {
	cols := []Column{
		{Name: "p15", Kind: KindDecimal, Precision: 15, Scale: 2},
		{Name: "p16", Kind: KindDecimal, Precision: 16, Scale: 2},
		{Name: "wide", Kind: KindDecimal, Precision: 65, Scale: 30},
		{Name: "unknown", Kind: KindDecimal},
	}
	rows := [][]sql.RawBytes{
		raw("-9999999999999.99", "0.50", "0.500000000000000000000000000000", "1"),
		raw("0.10", "99999999999999.99", "0.100000000000000000000000000000", "2.5"),
		raw("99999999999999.99", "1.00", "1.000000000000000000000000000000", "3"), // 16 digits: an UNSIGNED DECIMAL(16,2)
	}
	for _, tc := range []struct {
		decimals string
		columns  []ColumnSpec
		text     [4]bool
		warns    []string
	}{
		{"auto", nil, [4]bool{false, true, true, true}, []string{
			"dataset d: xlsx: column p16 written as text: DECIMAL(16,2) holds up to 16 significant digits, more than the 15 a spreadsheet number keeps (decimals: number, for the output or the column, writes numbers)",
			"dataset d: xlsx: column wide written as text: DECIMAL(65,30) holds up to 65 significant digits, more than the 15 a spreadsheet number keeps (decimals: number, for the output or the column, writes numbers)",
			"dataset d: xlsx: column unknown written as text: its precision is unknown (decimals: number, for the output or the column, writes numbers)",
			"dataset d: xlsx: 1 DECIMAL value had more than 15 significant digits, written as the nearest number (the first in d!A4)",
		}},
		{"number", nil, [4]bool{}, nil},
		{"text", nil, [4]bool{true, true, true, true}, nil},
		{"by column", []ColumnSpec{{Name: "wide", Decimals: "number"}, {Name: "d/p15", Decimals: "text"}, {Name: "p16", Decimals: "auto"}},
			[4]bool{true, true, false, true}, []string{
				"dataset d: xlsx: column p16 written as text: DECIMAL(16,2) holds up to 16 significant digits, more than the 15 a spreadsheet number keeps (decimals: number, for the output or the column, writes numbers)",
				"dataset d: xlsx: column unknown written as text: its precision is unknown (decimals: number, for the output or the column, writes numbers)",
			}},
	} {
		t.Run(tc.decimals, func(t *testing.T) {
			spec := Spec{Format: "xlsx", Path: "r", Decimals: tc.decimals, Columns: tc.columns}
			if tc.columns != nil {
				spec.Decimals = ""
			}
			files, r := writeReportR(t, spec, t.TempDir(), Vars{Job: "j", Logical: time.Now()},
				[]testDataset{{name: "d", cols: cols, rows: rows}})
			f, err := excelize.OpenFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for c := range cols {
				for r := range rows {
					ref, _ := excelize.CoordinatesToCellName(c+1, r+2)
					got := readCell(t, f, "d", ref)
					if got.text != tc.text[c] {
						t.Errorf("%s (%s): text = %v, want %v", ref, rows[r][c], got.text, tc.text[c])
					}
					if got.text && got.raw != string(rows[r][c]) {
						t.Errorf("%s: text %q, want %q", ref, got.raw, rows[r][c])
					}
				}
			}
			if got := r.Warnings(); strings.Join(got, "\n") != strings.Join(tc.warns, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.warns, "\n"))
			}
		})
	}
}

// sampleRows is how many rows xlsxw holds back to size a sheet's columns.
const sampleRows = 1000
