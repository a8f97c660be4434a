// Package readback opens workbooks with the spreadsheet readers people
// use, other than the excelize joinery writes with, and compares what each
// shows cell by cell with joinery's CSV of the same rows, for tests:
// LibreOffice (headless, each sheet converted to CSV as shown), openpyxl
// in read-only mode and exceljs.
//
// The CSV is exact text, so each cell is compared by its column's type:
// numbers as the double each reader holds (LibreOffice's shown text at the
// 15 significant digits it shows), date-times as wall clocks in the
// report's zone to the second, and to the reader's precision below it
// (LibreOffice and exceljs milliseconds, openpyxl 3.0 milliseconds), text
// exactly, after what xlsx must change (characters XML cannot hold, text
// cut at Excel's 32,767 characters).
//
// A reader that is missing skips the test, unless JOINERY_REQUIRE_READERS
// is set (bash .ci/run sets it and installs them), then it fails.
package readback

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// EnvRequire makes a missing reader a failure instead of a skip.
const EnvRequire = "JOINERY_REQUIRE_READERS"

// EnvExcelJS is the path of the exceljs module (a folder holding its
// package.json); default $HOME/.cache/joinery-ci/node_modules/exceljs, where
// bash .ci/run installs it.
const EnvExcelJS = "JOINERY_EXCELJS"

// Kind is how a column's CSV text becomes an xlsx cell.
type Kind int

const (
	Text     Kind = iota // text, JSON, ENUM, SET, binary as hex or base64
	Integer              // integers, YEAR and BIT: numbers, text past 15 digits
	Number               // FLOAT, DOUBLE and DECIMAL written as numbers
	Date                 // DATE: a date from 1900-03-01, text before
	DateTime             // DATETIME and TIMESTAMP: a date-time from 1900-03-01 to 9999, text else
	Duration             // TIME: a duration, text when negative
)

// Column is one column of a dataset as the comparison needs it.
type Column struct {
	Name string
	Kind Kind
}

// Sheet is one sheet as a reader returned it.
type Sheet struct {
	Name string
	Rows [][]Cell
}

// Cell is one cell a reader returned.
type Cell struct {
	Type  string // "" empty, "n" number, "s" text, "d" date-time, "t" duration (seconds), "b" bool
	Num   float64
	Text  string // text, or the date-time's ISO 8601 form
	Shown bool   // LibreOffice: Text is what it shows, whatever the type
}

// Null is the text the compared CSV output writes for NULL (its null_as).
const Null = `\N`

// Workbook is a reader's view of a whole workbook, sheet by sheet.
type Workbook struct {
	Reader string
	Sheets []Sheet
}

func need(t testing.TB, what, why string) {
	t.Helper()
	if os.Getenv(EnvRequire) != "" {
		t.Fatalf("%s: %s (bash .ci/run installs it)", what, why)
	}
	t.Skipf("%s: %s; bash .ci/run installs it", what, why)
}

func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// OpenpyxlJSON reads path with Debian's python3-openpyxl, in read-only
// mode or not, and returns what read_openpyxl.py prints.
func OpenpyxlJSON(t testing.TB, path string, readOnly bool) []byte {
	t.Helper()
	py := "python3"
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		py = "/usr/bin/python3"
	}
	if err := exec.Command(py, "-c", "import openpyxl").Run(); err != nil {
		need(t, "openpyxl", py+" cannot import openpyxl (python3-openpyxl)")
	}
	args := []string{filepath.Join(dir(), "read_openpyxl.py"), path}
	if readOnly {
		args = append(args, "--read-only")
	}
	return run(t, "openpyxl", exec.Command(py, args...))
}

// Openpyxl reads path with openpyxl in read-only mode.
func Openpyxl(t testing.TB, path string) Workbook {
	t.Helper()
	return parse(t, "openpyxl", OpenpyxlJSON(t, path, true))
}

// ExcelJS reads path with exceljs under Node.
func ExcelJS(t testing.TB, path string) Workbook {
	t.Helper()
	mod := os.Getenv(EnvExcelJS)
	if mod == "" {
		home, _ := os.UserHomeDir()
		mod = filepath.Join(home, ".cache", "joinery-ci", "node_modules", "exceljs")
	}
	if _, err := os.Stat(filepath.Join(mod, "package.json")); err != nil {
		need(t, "exceljs", "no module at "+mod)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		need(t, "exceljs", "node is not on PATH")
	}
	cmd := exec.Command(node, filepath.Join(dir(), "read_exceljs.js"), path)
	cmd.Env = append(os.Environ(), EnvExcelJS+"="+mod)
	return parse(t, "exceljs", run(t, "exceljs", cmd))
}

func run(t testing.TB, reader string, cmd *exec.Cmd) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", reader, err, stderr.String())
	}
	return out
}

// parse reads what the scripts print: each cell [type, value, format].
func parse(t testing.TB, reader string, data []byte) Workbook {
	t.Helper()
	var doc struct {
		Sheets []string
		Cells  map[string][][][]any
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", reader, err)
	}
	wb := Workbook{Reader: reader}
	for _, name := range doc.Sheets {
		sheet := Sheet{Name: name}
		for _, r := range doc.Cells[name] {
			var cells []Cell
			for _, c := range r {
				cells = append(cells, jsonCell(t, c))
			}
			sheet.Rows = append(sheet.Rows, cells)
		}
		wb.Sheets = append(wb.Sheets, sheet)
	}
	return wb
}

// jsonCell reads [type, value, format]: a number under type "d" is a
// duration in seconds (openpyxl), a text under "d" a date-time.
func jsonCell(t testing.TB, c []any) Cell {
	if len(c) < 2 {
		return Cell{}
	}
	typ, _ := c[0].(string)
	switch v := c[1].(type) {
	case json.Number:
		f, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			t.Fatal(err)
		}
		if typ == "d" {
			typ = "t"
		}
		return Cell{Type: typ, Num: f, Text: v.String()}
	case string:
		return Cell{Type: typ, Text: v}
	case bool:
		return Cell{Type: "b", Text: strconv.FormatBool(v)}
	}
	return Cell{}
}

// LibreOffice converts every sheet of path to CSV with headless
// LibreOffice (Debian's libreoffice-calc-nogui), as shown: each cell's
// text with its number format applied, what a person sees.
func LibreOffice(t testing.TB, path string) Workbook {
	t.Helper()
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		need(t, "LibreOffice", "soffice is not on PATH (libreoffice-calc-nogui)")
	}
	out := t.TempDir()
	// A profile of its own: a LibreOffice already running with the
	// default one would take the conversion over, or refuse it. As a URL:
	// a "#" of a subtest's name in the path made LibreOffice hang.
	profile := (&url.URL{Scheme: "file", Path: filepath.Join(out, "profile")}).String()
	// Comma, quote, UTF-8 (76), from line 1, ..., cells as shown, all
	// sheets (-1: one file per sheet, named <base>-<sheet>.csv).
	filter := "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, soffice, "-env:UserInstallation="+profile, "--headless", "--convert-to", filter, "--outdir", out, path)
	cmd.WaitDelay = 10 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("LibreOffice: %v\n%s", err, b)
	}
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	names, err := sheetNames(path)
	if err != nil {
		t.Fatal(err)
	}
	wb := Workbook{Reader: "LibreOffice"}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(out, base+"-"+name+".csv"))
		if err != nil {
			t.Fatalf("LibreOffice wrote no CSV for sheet %s: %v", name, err)
		}
		sheet := Sheet{Name: name}
		for _, rec := range ParseCSV(string(data)) {
			var cells []Cell
			for _, f := range rec {
				cells = append(cells, Cell{Type: "s", Text: f, Shown: true})
			}
			sheet.Rows = append(sheet.Rows, cells)
		}
		wb.Sheets = append(wb.Sheets, sheet)
	}
	return wb
}

// ParseCSV reads RFC 4180 text exactly: a quoted field keeps its CR LF
// (encoding/csv turns it into LF).
func ParseCSV(s string) [][]string {
	var recs [][]string
	var rec []string
	var f strings.Builder
	quoted, inQuotes, fieldStart := false, false, true
	end := func() {
		rec = append(rec, f.String())
		f.Reset()
		quoted, fieldStart = false, true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(s) && s[i+1] == '"':
			f.WriteByte('"')
			i++
		case inQuotes && c == '"':
			inQuotes = false
		case inQuotes:
			f.WriteByte(c)
		case c == '"' && fieldStart:
			inQuotes, quoted, fieldStart = true, true, false
		case c == ',':
			end()
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n', c == '\n':
			if c == '\r' {
				i++
			}
			end()
			recs = append(recs, rec)
			rec = nil
		default:
			f.WriteByte(c)
			fieldStart = false
		}
	}
	if !fieldStart || quoted || len(rec) > 0 {
		end()
		recs = append(recs, rec)
	}
	return recs
}

// Dataset is one dataset of a workbook with joinery's CSV of it.
type Dataset struct {
	Name    string
	Columns []Column
	CSV     [][]string // a header, then the rows; NULL written as Null
}

// CSVFile reads the records of a CSV file joinery wrote.
func CSVFile(t testing.TB, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ParseCSV(string(data))
}

// Readers opens the workbook at path with every reader, each in a subtest,
// and checks each dataset in it.
func Readers(t *testing.T, path string, datasets []Dataset) {
	for _, r := range []struct {
		name string
		read func(testing.TB, string) Workbook
	}{{"LibreOffice", LibreOffice}, {"openpyxl", Openpyxl}, {"exceljs", ExcelJS}} {
		t.Run(filepath.Base(path)+"/"+r.name, func(t *testing.T) {
			wb := r.read(t, path)
			for _, ds := range datasets {
				Check(t, wb, ds.Name, ds.Columns, ds.CSV)
			}
		})
	}
}

// Check compares wb's sheets of one dataset (name, "name (2)"...: every
// sheet whose name is name or starts with "name (") with the dataset's CSV
// records (a header, then the rows; NULL written as Null), and reports each
// difference, at most 20.
func Check(t testing.TB, wb Workbook, name string, cols []Column, csv [][]string) {
	t.Helper()
	var rows [][]Cell
	var where []string
	sheets := 0
	for _, s := range wb.Sheets {
		if s.Name != name && !strings.HasPrefix(s.Name, name+" (") {
			continue
		}
		sheets++
		if len(s.Rows) == 0 {
			t.Errorf("%s: %s: no rows, not even the header", wb.Reader, s.Name)
			continue
		}
		for i, h := range csv[0] {
			if got := cellAt(s.Rows[0], i); got.Text != h {
				t.Errorf("%s: %s: header %d is %q, want %q", wb.Reader, s.Name, i+1, got.Text, h)
			}
		}
		for r, row := range s.Rows[1:] {
			rows = append(rows, row)
			where = append(where, fmt.Sprintf("%s!row %d", s.Name, r+2))
		}
	}
	if sheets == 0 {
		t.Errorf("%s: no sheet of dataset %s", wb.Reader, name)
		return
	}
	if len(rows) != len(csv)-1 {
		t.Errorf("%s: dataset %s: %d rows over %d sheets, want %d", wb.Reader, name, len(rows), sheets, len(csv)-1)
	}
	bad := 0
	for r := 0; r < len(rows) && r+1 < len(csv); r++ {
		for c, col := range cols {
			if msg := compare(col, csv[r+1][c], cellAt(rows[r], c)); msg != "" {
				if bad++; bad <= 20 {
					t.Errorf("%s: %s column %s: %s", wb.Reader, where[r], col.Name, msg)
				}
			}
		}
	}
	if bad > 20 {
		t.Errorf("%s: dataset %s: %d more differences", wb.Reader, name, bad-20)
	}
}

func cellAt(row []Cell, i int) Cell {
	if i < len(row) {
		return row[i]
	}
	return Cell{}
}

// compare says how got differs from the CSV text want of col, or "".
func compare(col Column, want string, got Cell) string {
	if want == Null {
		if got.Type == "" || got.Shown && got.Text == "" {
			return ""
		}
		return fmt.Sprintf("got %s, want an empty cell", show(got))
	}
	switch col.Kind {
	case Integer:
		n, ok := digits(want)
		if !ok || n > 15 {
			return compareText(want, got)
		}
		return compareNumber(want, got)
	case Number:
		return compareNumber(want, got)
	case Date:
		d, err := time.Parse("2006-01-02", want)
		if err != nil || d.Before(firstSerial) {
			return compareText(want, got)
		}
		return compareTime(d, 0, want, got)
	case DateTime:
		wall, scale, ok := wallClock(want)
		if !ok || wall.Before(firstSerial) || wall.Year() > 9999 {
			return compareText(want, got)
		}
		return compareTime(wall, scale, want, got)
	case Duration:
		d, scale, ok := duration(want)
		if !ok {
			return compareText(want, got)
		}
		return compareDuration(d, scale, want, got)
	}
	return compareText(xlsxText(want), got)
}

// firstSerial is the first date joinery writes as a date: before it Excel
// and LibreOffice read serials a day apart.
var firstSerial = time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC)

func show(c Cell) string {
	switch {
	case c.Type == "":
		return "an empty cell"
	case c.Type == "n":
		return "number " + c.Text
	case c.Shown:
		return fmt.Sprintf("%.80q shown", c.Text)
	}
	return fmt.Sprintf("%s %.80q", c.Type, c.Text)
}

func compareText(want string, got Cell) string {
	if want == "" && (got.Type == "" || got.Text == "") {
		return "" // an empty text: some readers make it an empty cell
	}
	if (got.Type == "s" || got.Shown) && got.Text == want {
		return ""
	}
	return fmt.Sprintf("got %s, want text %.80q", show(got), want)
}

// round15 is x as shown with 15 significant digits.
func round15(x float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 15, 64), 64)
	return r
}

func compareNumber(want string, got Cell) string {
	x, err := strconv.ParseFloat(want, 64)
	if err != nil {
		return "bad CSV number " + want
	}
	switch {
	case got.Shown:
		// LibreOffice shows 15 significant digits (more for the largest
		// doubles), and in a format with fixed decimals shows a value
		// within about 3.5e-15 of a power of ten as that power
		// (9999999999999.99 with "0.00" is 10000000000000.00).
		y, err := strconv.ParseFloat(got.Text, 64)
		if err == nil && (y == x || y == round15(x) || powerOfTen(y) && math.Abs(y-x) <= 4e-15*math.Abs(y)) {
			return ""
		}
	case got.Type == "n":
		if got.Num == x {
			return ""
		}
	}
	return fmt.Sprintf("got %s, want the number %s (%s)", show(got), want, strconv.FormatFloat(x, 'g', -1, 64))
}

func powerOfTen(y float64) bool {
	e := math.Round(math.Log10(math.Abs(y)))
	return y != 0 && math.Abs(y) == math.Pow(10, e)
}

// wallClock reads joinery's ISO 8601 date-time with offset into the wall
// clock it names (in UTC's clothes) and its fractional digits.
func wallClock(s string) (time.Time, int, bool) {
	t, err := time.Parse("2006-01-02T15:04:05.999999999Z07:00", s)
	if err != nil {
		// An offset with seconds, before a zone's standard time.
		if t, err = time.Parse("2006-01-02T15:04:05.999999999-07:00:00", s); err != nil {
			return time.Time{}, 0, false
		}
	}
	scale := 0
	if i := strings.IndexByte(s, '.'); i > 0 {
		for _, c := range s[i+1:] {
			if c < '0' || c > '9' {
				break
			}
			scale++
		}
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), scale, true
}

// readTime reads what a reader holds or shows of a date-time, as a wall
// clock, and the unit below which it cannot tell.
func readTime(got Cell) (time.Time, time.Duration, bool) {
	switch {
	case got.Shown:
		for _, layout := range []string{"2006-01-02 15:04:05.000", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, got.Text); err == nil {
				unit := time.Second
				if strings.Contains(layout, ".") {
					unit = time.Millisecond
				}
				return t, unit, true
			}
		}
	case got.Type == "d":
		text := strings.TrimSuffix(got.Text, "Z")
		for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(layout, text); err == nil {
				return t, time.Millisecond, true // exceljs and openpyxl 3.0 keep milliseconds
			}
		}
	}
	return time.Time{}, 0, false
}

// compareTime accepts a reader's date-time that is the right second, and
// within the reader's unit of the exact time below it (readers round or
// cut); a whole second must come out whole.
func compareTime(want time.Time, scale int, text string, got Cell) string {
	t, unit, ok := readTime(got)
	if ok {
		diff := t.Sub(want)
		if scale == 0 && diff == 0 || scale > 0 && diff.Abs() < unit {
			return ""
		}
	}
	return fmt.Sprintf("got %s, want the date-time %s", show(got), text)
}

// duration reads a non-negative TIME as MySQL writes it, in nanoseconds.
func duration(s string) (time.Duration, int, bool) {
	if strings.HasPrefix(s, "-") {
		return 0, 0, false
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	scale := 0
	if i := strings.IndexByte(parts[2], '.'); i >= 0 {
		scale = len(parts[2]) - i - 1
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(math.Round(sec*1e9)), scale, true
}

func compareDuration(want time.Duration, scale int, text string, got Cell) string {
	var d time.Duration
	unit := time.Millisecond
	switch {
	case got.Shown: // [h]:mm:ss[.000]
		var ok bool
		if d, _, ok = duration(got.Text); !ok {
			return fmt.Sprintf("got %s, want the duration %s", show(got), text)
		}
		if !strings.Contains(got.Text, ".") {
			unit = time.Second
		}
	case got.Type == "t": // openpyxl: seconds
		d = time.Duration(math.Round(got.Num * 1e9))
	case got.Type == "d" && !strings.Contains(got.Text, "-"): // openpyxl, read-only, under a day: a time
		t, err := time.Parse("15:04:05.999999", got.Text)
		if err != nil {
			return fmt.Sprintf("got %s, want the duration %s", show(got), text)
		}
		d = t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))
	case got.Type == "d" && !strings.HasSuffix(got.Text, "Z"): // openpyxl, read-only: a date-time
		t, err := time.Parse("2006-01-02T15:04:05.999999", got.Text)
		if err != nil {
			return fmt.Sprintf("got %s, want the duration %s", show(got), text)
		}
		d = t.Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC))
		if d > 2*24*time.Hour && d < 61*24*time.Hour {
			d -= 24 * time.Hour // openpyxl adds Excel's 1900-02-29 to serials 1 to 60
		}
	case got.Type == "d": // exceljs: a Date from the serial
		t, err := time.Parse("2006-01-02T15:04:05.999Z", got.Text)
		if err != nil {
			return fmt.Sprintf("got %s, want the duration %s", show(got), text)
		}
		d = t.Sub(time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC))
	case got.Type == "n": // days
		d = time.Duration(math.Round(got.Num * 86400e9))
	default:
		return fmt.Sprintf("got %s, want the duration %s", show(got), text)
	}
	if diff := (d - want).Abs(); scale == 0 && diff < time.Millisecond/2 || scale > 0 && diff < unit {
		if !(got.Shown && scale == 0 && diff != 0) {
			return ""
		}
	}
	return fmt.Sprintf("got %s, want the duration %s", show(got), text)
}

// digits counts the significant digits of an integer's text.
func digits(s string) (int, bool) {
	s = strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	return len(s), true
}

// xlsxText is text as an xlsx cell holds it: characters XML cannot hold
// become U+FFFD, and text over 32,767 UTF-16 units is cut and marked.
func xlsxText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF || r == utf8.RuneError {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	s = b.String()
	const limit, marker = 32767, " …[truncated]"
	if len(utf16.Encode([]rune(s))) <= limit {
		return s
	}
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > limit-len(utf16.Encode([]rune(marker))) {
			return s[:i] + marker
		}
	}
	return s
}

// sheetNames lists a workbook's sheets in order, from its workbook.xml.
func sheetNames(path string) ([]string, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	f, err := zr.Open("xl/workbook.xml")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := xml.NewDecoder(f).Decode(&wb); err != nil {
		return nil, fmt.Errorf("%s: workbook.xml: %w", path, err)
	}
	var names []string
	for _, s := range wb.Sheets {
		names = append(names, s.Name)
	}
	return names, nil
}
