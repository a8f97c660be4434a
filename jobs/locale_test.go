package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
)

// germanCSVJob writes amounts, ratios, dates and date-times as csv twice:
// with the excel-de preset, and with only what "CSV for German Excel" was
// before it (";" and a BOM).
const germanCSVJob = `
timezone: Europe/Berlin
jobs:
  - name: de
    schedule: "@daily"
    datasets:
      money:
        from: money m
        select: [m.id, m.amount, m.ratio, m.day, m.at, m.note]
        order_by: [m.id]
    outputs:
      - {format: csv, path: "preset/{dataset}.csv", preset: excel-de}
      - {format: csv, path: "plain/{dataset}.csv", delimiter: ";", bom: true}
`

// TestGermanCSVInLibreOffice runs a job on MariaDB with a csv output for
// Excel in a German locale and opens the file with LibreOffice in German
// (language 1031, ";" and UTF-8: the filter options of a double-clicked
// CSV there), saved as xlsx and read back with openpyxl: every amount is a
// number of the right value and every date and date-time a date, in the
// report's zone. The same data without the preset's decimal comma and
// layouts comes out as text, or as other numbers.
func TestGermanCSVInLibreOffice(t *testing.T) {
	soffice := libreOffice(t)
	r, raw := setup(t, germanCSVJob)
	testdb.Exec(t, raw,
		"CREATE TABLE money (id INT PRIMARY KEY, amount DECIMAL(12,2), ratio DOUBLE, day DATE, at DATETIME, note VARCHAR(20))",
		"INSERT INTO money VALUES (1, -1234.50, 0.125, '2024-02-29', '2024-03-31 00:59:59', 'Zoë'), "+
			"(2, 1234567.89, 1e-7, '2024-12-31', '2024-10-27 01:30:00', '1.5'), (3, 0.05, -2.5, '1999-01-01', '2024-07-01 12:00:00', NULL)")
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	dir := r.Config.OutputPath()
	got, err := os.ReadFile(filepath.Join(dir, "preset", "money.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "\uFEFFid;amount;ratio;day;at;note\r\n" +
		"1;-1234,50;0,125;29.02.2024;31.03.2024 01:59:59;Zoë\r\n" +
		"2;1234567,89;1e-07;31.12.2024;27.10.2024 02:30:00;1.5\r\n" +
		"3;0,05;-2,5;01.01.1999;01.07.2024 14:00:00;\r\n"; string(got) != want {
		t.Errorf("csv\n%q\nwant\n%q", got, want)
	}

	// Type and value (JSON) as openpyxl reads them, for amount, ratio,
	// day and at.
	want := [][4]string{
		{"n -1234.5", "n 0.125", "d 2024-02-29T00:00:00", "d 2024-03-31T01:59:59"},
		{"n 1234567.89", "n 1e-7", "d 2024-12-31T00:00:00", "d 2024-10-27T02:30:00"},
		{"n 0.05", "n -2.5", "d 1999-01-01T00:00:00", "d 2024-07-01T14:00:00"},
	}
	cells := openInGermanLibreOffice(t, soffice, filepath.Join(dir, "preset", "money.csv"))
	for i, w := range want {
		for k, cell := range w {
			if g := cells[i+1][k+1]; g != cell {
				t.Errorf("preset: row %d, %s: %s, want %s", i+1, cells[0][k+1], g, cell)
			}
		}
	}
	// Without the preset's forms, no number with a fraction has its
	// value (0.125 is 125 to a German reader) and no date-time is a date.
	// (LibreOffice reads ISO dates, 2024-02-29, in any locale.)
	plain := openInGermanLibreOffice(t, soffice, filepath.Join(dir, "plain", "money.csv"))
	for i, w := range want {
		for _, k := range []int{0, 3} {
			if g := plain[i+1][k+1]; g == w[k] {
				t.Errorf("plain: row %d, %s: %s, as with the preset", i+1, plain[0][k+1], g)
			}
		}
	}
	if g := plain[1][2]; g == want[0][1] {
		t.Errorf("plain: row 1, ratio: %s, as with the preset", g)
	}
}

// libreOffice returns the path of soffice, or skips the test without it
// (fails it where JOINERY_REQUIRE_DB is set: CI installs
// libreoffice-calc-nogui).
func libreOffice(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv(testdb.EnvRequire) != "" {
			t.Fatal("soffice not found: install libreoffice-calc-nogui (bash .ci/run does)")
		}
		t.Skip("soffice not found; install libreoffice-calc-nogui")
	}
	return path
}

// openInGermanLibreOffice opens a csv file with ";" as delimiter, in UTF-8,
// as LibreOffice in a German locale does (with "detect special numbers",
// so that dates are dates), saves it as xlsx and returns each cell of its
// first sheet as openpyxl reads it: "<type> <value as JSON, unquoted>".
func openInGermanLibreOffice(t *testing.T, soffice, csvPath string) [][]string {
	t.Helper()
	out := t.TempDir()
	// A profile of its own: LibreOffice instances sharing one wait for
	// each other, or fail.
	profile := "file://" + filepath.Join(out, "profile")
	cmd := exec.Command(soffice, "-env:UserInstallation="+profile, "--headless",
		"--infilter=CSV:59,34,76,1,,1031,false,true", "--convert-to", "xlsx", "--outdir", out, csvPath)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, b)
	}
	book := readWithOpenpyxl(t, filepath.Join(out, strings.TrimSuffix(filepath.Base(csvPath), ".csv")+".xlsx"))
	var rows [][]string
	for _, row := range book.Cells[book.Sheets[0]] {
		var cells []string
		for _, c := range row {
			v, _ := json.Marshal(c[1])
			cells = append(cells, fmt.Sprintf("%v %s", c[0], bytes.Trim(v, `"`)))
		}
		rows = append(rows, cells)
	}
	return rows
}
