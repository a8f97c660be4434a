package output_test

import (
	"archive/zip"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	. "github.com/joinery/joinery/output"
)

// TestXLSXText reads text cells written by appendXMLText back with
// excelize: escaping, edge whitespace, Excel's _xHHHH_ escapes and
// characters XML cannot hold.
func TestXLSXText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""}, {"User 12", "User 12"}, {"Zoë, 李雷 😀", "Zoë, 李雷 😀"}, {`say "hi" 'x'`, `say "hi" 'x'`},
		{" lead", " lead"}, {"trail ", "trail "}, {"\ttab", "\ttab"}, {"a&b<c>d]]>", "a&b<c>d]]>"},
		{"line\nbreak", "line\nbreak"}, {"crlf\r\nend\r", "crlf\r\nend\r"},
		{"_x000D_", "_x000D_"}, {"_x005F_x0041_", "_x005F_x0041_"}, {"__x0041_x", "__x0041_x"},
		{"_xD800_ _xabcd_", "_xD800_ _xabcd_"}, {"_x12_ _xGHIJ_", "_x12_ _xGHIJ_"},
		{"bad \xff utf8", "bad \uFFFD utf8"}, {"\uFFFE|\uFFFF", "\uFFFD|\uFFFD"}, {"ctl\x01\x1f", "ctl\uFFFD\uFFFD"},
	}
	cols := []Column{{Name: "s", Kind: KindText}}
	var rows [][]sql.RawBytes
	for _, tc := range tests {
		rows = append(rows, raw(tc.in))
	}
	files, r := writeReportR(t, Spec{Format: "xlsx", Path: "r"}, t.TempDir(), Vars{Job: "j", Logical: time.Now()},
		[]testDataset{{name: "t", cols: cols, rows: rows}})
	f, err := excelize.OpenFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, tc := range tests {
		ref := "A" + strconv.Itoa(i+2)
		if got, _ := f.GetCellValue("t", ref); got != tc.want {
			t.Errorf("%s: %q came back as %q, want %q", ref, tc.in, got, tc.want)
		}
	}
	want := "dataset t: xlsx: 3 text values had 1 byte of invalid UTF-8 and 4 characters xlsx cannot hold (control characters, U+FFFE, U+FFFF), written as U+FFFD (the first in t!A17)"
	if ws := r.Warnings(); len(ws) != 1 || ws[0] != want {
		t.Errorf("warnings %q, want [%q]", ws, want)
	}
}

// TestXLSXTempFiles checks that the rows' temporary files of every sheet,
// overflow sheets included, are made beside the workbook (never in the
// system's temporary folder) and gone after Commit and after Abort.
func TestXLSXTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dest := t.TempDir()
	cols := []Column{{Name: "n", Kind: KindInt}}
	rows := [][]sql.RawBytes{raw("1"), raw("2"), raw("3"), raw("4"), raw("5")}
	spec := Spec{Format: "xlsx", Path: "r", MaxRowsPerSheet: 2}
	writeReport(t, spec, dest, Vars{Job: "j", Logical: time.Now()},
		[]testDataset{{name: "a", cols: cols, rows: rows}, {name: "b", cols: cols, rows: rows}})
	assertEmptyDir(t, tmp, "after Commit")
	assertNoTemps(t, dest)

	spec.MaxRowsPerSheet = 400
	r, err := openT(spec, dest, Vars{Job: "j", Logical: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.Dataset("a", cols)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]Value, 1)
	n := NewNormalizer(cols, nil, nil)
	for range sampleRows + 5 { // past the sample, onto further sheets
		if err := n.Normalize(raw("7"), vals); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRow(vals); err != nil {
			t.Fatal(err)
		}
	}
	// The rows wait beside the workbook, in files whose names are gone
	// already: a killed run leaves nothing of them.
	if names, _ := filepath.Glob(filepath.Join(dest, ".r.xlsx.*")); len(names) != 1 {
		t.Errorf("files beside the workbook while it is written: %q, want only its own temporary file", names)
	}
	if runtime.GOOS == "linux" {
		if n := openDeleted(t, dest); n < 2 {
			t.Errorf("%d removed files open in %s, want a row file per sheet so far", n, dest)
		}
	}
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, tmp, "after Abort")
	assertNoTemps(t, dest)
}

func assertEmptyDir(t *testing.T, dir, when string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s: %s left in the temporary directory", when, e.Name())
	}
}

// openDeleted counts the files this process holds open in dir whose names
// are removed (Linux).
func openDeleted(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") && strings.HasSuffix(target, " (deleted)") {
			n++
		}
	}
	return n
}

// TestXLSXPackage checks what excelize leaves at its defaults: each
// sheet's <dimension> is its used range (overflow sheets, a header-only
// sheet and the About sheet too), the document properties name joinery,
// its version, the job and the run's time, and every zip entry is dated
// the run's time in the report's zone.
func TestXLSXPackage(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	run := time.Date(2026, 12, 1, 0, 15, 3, 0, time.UTC)
	vars := Vars{Job: "nightly", Logical: run.In(berlin), RunTime: run.In(berlin), Location: berlin, Version: "v1.2.3"}
	cols := []Column{{Name: "n", Kind: KindInt}, {Name: "s", Kind: KindText}, {Name: "x", Kind: KindText}}
	var rows [][]sql.RawBytes
	for i := range 5 {
		rows = append(rows, raw(strconv.Itoa(i), "t", nil))
	}
	spec := Spec{Format: "xlsx", Path: "r", MaxRowsPerSheet: 3, Columns: []ColumnSpec{{Name: "a/x", Hidden: true}}}
	files := writeReport(t, spec, t.TempDir(), vars, []testDataset{
		{name: "a", cols: cols, rows: rows}, {name: "empty", cols: cols[:2]},
	})
	parts := zipParts(t, files[0], func(f *zip.File) {
		if got := f.Modified; !got.Equal(run) || f.ModTime().Hour() != 1 {
			t.Errorf("%s: dated %v (local %v), want %v, 01:15 in Berlin", f.Name, got, f.ModTime(), run)
		}
	})
	dimension := regexp.MustCompile(`<dimension ref="([^"]*)"`)
	for part, want := range map[string]string{
		"xl/worksheets/sheet1.xml": "A1:C4", // a: the header and 3 rows
		"xl/worksheets/sheet2.xml": "A1:C3", // a (2)
		"xl/worksheets/sheet3.xml": "A1:B1", // empty
		"xl/worksheets/sheet4.xml": "",      // About: to its last row
	} {
		if want == "" {
			rowNums := regexp.MustCompile(`<row r="([0-9]+)"`).FindAllStringSubmatch(parts[part], -1)
			want = "A1:C" + rowNums[len(rowNums)-1][1]
		}
		if m := dimension.FindStringSubmatch(parts[part]); m == nil || m[1] != want {
			t.Errorf("%s: dimension %q, want %s", part, m, want)
		}
	}
	// Columns in ascending order, a hidden one too.
	colEl := regexp.MustCompile(`<col min="([0-9]+)"[^>]*>`)
	for _, part := range []string{"xl/worksheets/sheet1.xml", "xl/worksheets/sheet3.xml"} {
		var got []string
		for _, m := range colEl.FindAllStringSubmatch(parts[part], -1) {
			if strings.Contains(m[0], `hidden="1"`) || strings.Contains(m[0], `hidden="true"`) {
				m[1] += " hidden"
			}
			got = append(got, m[1])
		}
		want := []string{"1", "2", "3 hidden"}
		if part == "xl/worksheets/sheet3.xml" {
			want = []string{"1", "2"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: columns %q, want %q", part, got, want)
		}
	}
	for part, want := range map[string][]string{
		"docProps/core.xml": {"<dc:title>nightly</dc:title>", "<dc:creator>joinery v1.2.3</dc:creator>",
			`<dcterms:created xsi:type="dcterms:W3CDTF">2026-12-01T00:15:03Z</dcterms:created>`,
			`<dcterms:modified xsi:type="dcterms:W3CDTF">2026-12-01T00:15:03Z</dcterms:modified>`},
		"docProps/app.xml": {"<Application>joinery v1.2.3</Application>"},
	} {
		for _, w := range want {
			if !strings.Contains(parts[part], w) {
				t.Errorf("%s lacks %s:\n%s", part, w, parts[part])
			}
		}
	}
	if strings.Contains(parts["docProps/core.xml"], "xuri") || strings.Contains(parts["docProps/app.xml"], "AppVersion") {
		t.Errorf("excelize's defaults left:\n%s\n%s", parts["docProps/core.xml"], parts["docProps/app.xml"])
	}
}

// TestXLSXSharedStrings writes the same datasets with inline and with
// shared strings, with and without the About sheet, and reads both back
// with excelize: every sheet has the same cells, and with strings: shared
// no cell is an inline string and the table lists each text cell once.
func TestXLSXSharedStrings(t *testing.T) {
	cols := []Column{{Name: "id", Kind: KindInt}, {Name: "name", Kind: KindText}, {Name: "bin", Kind: KindBinary},
		{Name: "day", Kind: KindDate}, {Name: " spaced ", Kind: KindText}}
	rows := [][]sql.RawBytes{
		raw("1", "Zoë & <co>", "\x01\x02", "1850-01-01", " lead"),
		raw("2", "", nil, "2024-02-29", "trail "),
		raw("3", "dup", "", "0000-00-00", "dup"),
		raw("4", strings.Repeat("x", 40000), "\xff", "2024-03-01", "ctl\x01"),
	}
	datasets := []testDataset{{name: "a", cols: cols, rows: rows}, {name: "b", cols: cols[:2], rows: [][]sql.RawBytes{raw("9", "b only")}}}
	for _, about := range []bool{true, false} {
		t.Run(fmt.Sprintf("about=%v", about), func(t *testing.T) {
			read := func(strs string) (map[string][][]string, map[string]string, []string) {
				spec := Spec{Format: "xlsx", Path: "r", Strings: strs, About: &about, MaxRowsPerSheet: 3}
				files, r := writeReportR(t, spec, t.TempDir(), Vars{Job: "j", Logical: time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC)}, datasets)
				f, err := excelize.OpenFile(files[0])
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				out := map[string][][]string{}
				for _, sheet := range f.GetSheetList() {
					if out[sheet], err = f.GetRows(sheet); err != nil {
						t.Fatal(err)
					}
				}
				parts := zipParts(t, files[0], nil)
				return out, parts, r.Warnings()
			}
			inline, _, iw := read("")
			shared, parts, sw := read("shared")
			if fmt.Sprint(inline) != fmt.Sprint(shared) {
				t.Errorf("cells differ:\ninline %q\nshared %q", inline, shared)
			}
			if fmt.Sprint(iw) != fmt.Sprint(sw) {
				t.Errorf("warnings differ:\ninline %q\nshared %q", iw, sw)
			}
			for name, p := range parts {
				if strings.Contains(p, "inlineStr") {
					t.Errorf("%s has inline strings", name)
				}
			}
			// Headers (5+5+2), texts of a (3 text columns by 4 rows, less
			// the NULL), b (1): 2 sheets of a, 1 of b.
			if n := strings.Count(parts["xl/sharedStrings.xml"], "<si>"); about && n <= 26 || !about && n != 26 {
				t.Errorf("%d shared strings, want 26 and the About sheet's", n)
			}
			for _, p := range []string{"xl/_rels/workbook.xml.rels", "[Content_Types].xml"} {
				if strings.Count(parts[p], `sharedStrings.xml"`) != 1 {
					t.Errorf("%s: want sharedStrings listed once:\n%s", p, parts[p])
				}
			}
		})
	}
}

// zipParts reads every entry of a zip file, calling each (if not nil) on
// each entry first.
func zipParts(t *testing.T, path string, each func(*zip.File)) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	parts := map[string]string{}
	for _, f := range zr.File {
		if each != nil {
			each(f)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		parts[f.Name] = string(b)
	}
	return parts
}

// TestXLSXRepeatedValues checks that a cell whose value repeats the one
// above it (the xlsx writer then reuses that cell's XML) is written
// exactly as it would be on its own, and that warnings still count every
// cell: the same rows are written once as they are, and once with a row
// of other values after each, and every cell's XML must match.
func TestXLSXRepeatedValues(t *testing.T) {
	cols := []Column{{Name: "n", Kind: KindInt}, {Name: "s", Kind: KindText}, {Name: "d", Kind: KindDecimal, Precision: 10, Scale: 2},
		{Name: "f", Kind: KindFloat}, {Name: "dt", Kind: KindDateTime, Scale: 6}, {Name: "day", Kind: KindDate}, {Name: "z", Kind: KindDate}}
	first := raw("1", "Ann & Co <x>", "12.50", "0.1", "2026-12-01 00:15:00", "2026-12-01", "0000-00-00")
	second := raw("-7", "bad \xff and \x01", "-0.05", "0.30000000000000004", "2026-12-01 14:00:00.000501", "1900-01-01", "2026-02-30")
	// First rows whose ids never repeat (the writer stops looking for
	// repeats in that column), then the cases.
	var rows [][]sql.RawBytes
	for i := range 300 {
		rows = append(rows, raw(strconv.Itoa(i), "Ann & Co <x>", "12.50", "0.1", "2026-12-01 00:15:00", "2026-12-01", "0000-00-00"))
	}
	const cases = 300
	rows = append(rows, first, first, first, second, second, raw(nil, nil, nil, nil, nil, nil, nil), first, second, second)
	breaker := raw("999", "zz", "1.00", "2", "2000-01-01 00:00:00", "2000-01-01", "2000-01-01")
	var broken [][]sql.RawBytes
	for _, r := range rows {
		broken = append(broken, r, breaker)
	}
	vars := Vars{Job: "j", Logical: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	cells := regexp.MustCompile(`<c [^>]*?r="[A-Z]+[0-9]+"[^>]*>.*?</c>|<c [^>]*?r="[A-Z]+[0-9]+"[^>]*/>`)
	ref := regexp.MustCompile(` r="[A-Z]+[0-9]+"`)
	rowEl := regexp.MustCompile(`<row [^>]*>(.*?)</row>`)
	sheetRows := func(data [][]sql.RawBytes) ([][]string, []string) {
		files, r := writeReportR(t, Spec{Format: "xlsx", Path: "r"}, t.TempDir(), vars, []testDataset{{name: "t", cols: cols, rows: data}})
		parts := zipParts(t, files[0], nil)
		var out [][]string
		for _, m := range rowEl.FindAllStringSubmatch(parts["xl/worksheets/sheet1.xml"], -1)[1:] { // after the header
			var cs []string
			for _, c := range cells.FindAllString(m[1], -1) {
				cs = append(cs, ref.ReplaceAllString(c, ""))
			}
			out = append(out, cs)
		}
		return out, r.Warnings()
	}
	got, gotWarns := sheetRows(rows)
	want, wantWarns := sheetRows(broken)
	if len(got) != len(rows) || len(want) != 2*len(rows) {
		t.Fatalf("%d and %d rows, want %d and %d", len(got), len(want), len(rows), 2*len(rows))
	}
	for i := range rows {
		if !slices.Equal(got[i], want[2*i]) {
			t.Errorf("row %d:\n got %q\nwant %q", i+2, got[i], want[2*i])
		}
	}
	if len(got[cases]) != len(cols) || len(got[cases+5]) != 0 {
		t.Errorf("the first case's row has %d cells, the NULLs' %d: want %d and 0", len(got[cases]), len(got[cases+5]), len(cols))
	}
	// Same counts; only the first cell named differs.
	cellName := regexp.MustCompile(`t![A-Z]+[0-9]+`)
	for i := range max(len(gotWarns), len(wantWarns)) {
		if i >= len(gotWarns) || i >= len(wantWarns) || cellName.ReplaceAllString(gotWarns[i], "") != cellName.ReplaceAllString(wantWarns[i], "") {
			t.Fatalf("warnings differ:\n got %q\nwant %q", gotWarns, wantWarns)
		}
	}
	if !strings.Contains(strings.Join(gotWarns, "\n"), "4 text values") {
		t.Errorf("warnings %q, want 4 text values with replaced characters counted", gotWarns)
	}
}
