package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/joinery/joinery/internal/readback"
	"github.com/joinery/joinery/internal/testdb"
)

// matrixColumns is every MySQL type the reports handle, in table order,
// with how the readers' cells compare with the CSV's text.
var matrixColumns = []struct {
	name, typ string
	kind      readback.Kind
}{
	{"id", "INT PRIMARY KEY", num},
	{"ti", "TINYINT", num}, {"tiu", "TINYINT UNSIGNED", num}, {"si", "SMALLINT", num}, {"siu", "SMALLINT UNSIGNED", num},
	{"mi", "MEDIUMINT", num}, {"miu", "MEDIUMINT UNSIGNED", num}, {"i4", "INT", num}, {"iu", "INT UNSIGNED", num},
	{"bi", "BIGINT", num}, {"biu", "BIGINT UNSIGNED", num},
	{"de", "DECIMAL(10,2)", readback.Number}, {"dw", "DECIMAL(24,4)", readback.Text}, {"fl", "FLOAT", readback.Number}, {"db", "DOUBLE", readback.Number},
	{"da", "DATE", readback.Date}, {"dt", "DATETIME", readback.DateTime}, {"dt6", "DATETIME(6)", readback.DateTime},
	{"ts", "TIMESTAMP NULL DEFAULT NULL", readback.DateTime}, {"tm", "TIME", readback.Duration}, {"tm3", "TIME(3)", readback.Duration}, {"yr", "YEAR", num},
	{"ch", "CHAR(3)", txt}, {"vc", "VARCHAR(100)", txt}, {"tx", "TEXT", txt}, {"en", "ENUM('a','b')", txt}, {"st", "SET('x','y')", txt}, {"js", "JSON", txt},
	{"b1", "BIT(1)", num}, {"b64", "BIT(64)", num}, {"bn", "BINARY(3)", txt}, {"vb", "VARBINARY(10)", txt}, {"bl", "BLOB", txt},
	{"zf", "INT(5) ZEROFILL", num}, {"d15", "DECIMAL(15,2)", readback.Number}, {"d65", "DECIMAL(65,30)", readback.Text},
}

const num, txt = readback.Integer, readback.Text

// matrixRow is a row of NULLs but for the given columns.
func matrixRow(values map[string]string) []string {
	var row []string
	for _, c := range matrixColumns[1:] {
		v, ok := values[c.name]
		if !ok {
			v = "NULL"
		}
		row = append(row, v)
	}
	return row
}

// matrixLine is matrixRow's csv line: empty fields but for the given ones.
func matrixLine(id int, values map[string]string) string {
	fields := []string{strconv.Itoa(id)}
	for _, c := range matrixColumns[1:] {
		fields = append(fields, values[c.name])
	}
	return strings.Join(fields, ",") + "\r\n"
}

// d65 is DECIMAL(65,30)'s least value.
var d65 = "-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)

// matrixRows are the values of the rows after id, as SQL expressions.
var matrixRows = [][]string{
	// 1: minimums
	{"-128", "0", "-32768", "0", "-8388608", "0", "-2147483648", "0", "-9223372036854775808", "0",
		"-99999999.99", "-99999999999999999999.9999", "-3.5", "-1.7976931348623157e308",
		"'1000-01-01'", "'1000-01-01 00:00:00'", "'1000-01-01 00:00:00.000000'", "'1970-01-01 00:00:01'",
		"'-838:59:59'", "'00:00:00.000'", "1901",
		"''", "''", "''", "'a'", "''", "'[]'",
		"b'0'", "b'0'", "X'000000'", "X''", "X''", "0", "-9999999999999.99", d65},
	// 2: maximums, 4-byte UTF-8, 40,000 characters
	{"127", "255", "32767", "65535", "8388607", "16777215", "2147483647", "4294967295", "9223372036854775807", "18446744073709551615",
		"99999999.99", "99999999999999999999.9999", "3.14159", "1.7976931348623157e308",
		"'9999-12-31'", "'9999-12-31 23:59:59'", "'9999-12-31 23:59:59.999999'", "'2038-01-19 03:14:07'",
		"'838:59:59'", "'12:34:56.789'", "2155",
		"'abc'", "'Zoë 日本 😀𝄞'", "REPEAT('abcd', 10000)", "'b'", "'x,y'", `'{"a": [1, 2.5, "x"]}'`,
		"b'1'", "b'" + strings.Repeat("1", 64) + "'", "X'ABCDEF'", "X'00FF'", "X'DEADBEEF'", "99999", "9999999999999.99", "0.5"},
	// 3: NULL everywhere
	slices.Repeat([]string{"NULL"}, 35),
	// 4: zero dates, control characters, digits around Excel's 15
	{"0", "1", "0", "1", "0", "1", "0", "1", "123456789012345", "1234567890123456",
		"0.10", "1234.5", "12345.67", "0.1",
		"'0000-00-00'", "'2024-00-15 10:00:00'", "'2024-07-01 12:00:00.5'", "'0000-00-00 00:00:00'",
		"'00:00:00'", "'25:00:00.5'", "0",
		`'a"b'`, "'=1+2'", "CONCAT('ctl', CHAR(1), CHAR(7), CHAR(11), '|tab', CHAR(9), '|nl', CHAR(10), '|end')", "NULL", "'y'", `'"s"'`,
		"b'1'", "b'101'", "X'414243'", "X'7F'", "X'00'", "42", "0.10", "0.1"},
	// 5: formula-like text, a date-time in summer time
	{"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
		"NULL", "NULL", "NULL", "NULL",
		"NULL", "'2024-03-31 01:30:00'", "NULL", "NULL", "NULL", "NULL", "NULL",
		"'-5'", "'@SUM(A1)'", "' x,y '", "NULL", "NULL", "NULL",
		"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
	// 6-12: DOUBLE and FLOAT edges, date-times whose 15-digit serials read a
	// second or a microsecond early, before 1893 in Berlin
	matrixRow(map[string]string{"db": "2e0/3", "fl": "0.1", "dt": "'2026-12-01 00:15:00'", "dt6": "'2024-07-01 14:00:00.000501'", "da": "'1899-12-31'", "zf": "7", "d65": "0.1"}),
	matrixRow(map[string]string{"db": "0.1e0+0.2e0", "fl": "3.4028235e38", "dt": "'1890-06-01 12:00:00'", "dt6": "'2026-12-01 00:14:59.999999'", "d15": "-0.01"}),
	matrixRow(map[string]string{"db": "9007199254740993e0", "fl": "-1.1754944e-38", "dt": "'2026-12-01 23:59:59'", "tm": "'838:59:58'", "dt6": "'1900-03-01 00:00:00.000001'"}),
	matrixRow(map[string]string{"db": "1e-300", "fl": "16777217", "dt": "'1900-01-01 00:00:00'"}),
	matrixRow(map[string]string{"db": "-0e0", "fl": "-0.5"}),
	matrixRow(map[string]string{"db": "123456789012345678e0", "fl": "12345.67"}),
	matrixRow(map[string]string{"db": "1e21", "fl": "1e-7"}),
}

// matrixCSV is the csv of the matrix, the same over both protocols, in
// Europe/Berlin (Berlin kept local mean time, +00:53:28, until 1893).
var matrixCSV = "id,ti,tiu,si,siu,mi,miu,i4,iu,bi,biu,de,dw,fl,db,da,dt,dt6,ts,tm,tm3,yr,ch,vc,tx,en,st,js,b1,b64,bn,vb,bl,zf,d15,d65\r\n" +
	`1,-128,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0,-99999999.99,-99999999999999999999.9999,-3.5,-1.7976931348623157e+308,` +
	`1000-01-01,1000-01-01T00:53:28+00:53:28,1000-01-01T00:53:28.000000+00:53:28,1970-01-01T01:00:01+01:00,-838:59:59,00:00:00.000,1901,` +
	`"","","",a,"",[],0,0,000000,"","",0,-9999999999999.99,` + d65 + "\r\n" +
	`2,127,255,32767,65535,8388607,16777215,2147483647,4294967295,9223372036854775807,18446744073709551615,99999999.99,99999999999999999999.9999,3.14159,1.7976931348623157e+308,` +
	`9999-12-31,10000-01-01T00:59:59+01:00,10000-01-01T00:59:59.999999+01:00,2038-01-19T04:14:07+01:00,838:59:59,12:34:56.789,2155,` +
	`abc,Zoë 日本 😀𝄞,` + strings.Repeat("abcd", 10000) + `,b,"x,y","{""a"": [1, 2.5, ""x""]}",1,18446744073709551615,ABCDEF,00FF,DEADBEEF,99999,9999999999999.99,0.500000000000000000000000000000` + "\r\n" +
	"3" + strings.Repeat(",", 35) + "\r\n" +
	`4,0,1,0,1,0,1,0,1,123456789012345,1234567890123456,0.10,1234.5000,12345.67,0.1,` +
	`0000-00-00,2024-00-15 10:00:00,2024-07-01T14:00:00.500000+02:00,0000-00-00 00:00:00,00:00:00,25:00:00.500,0000,` +
	`"a""b",'=1+2,"ctl` + "\x01\x07\x0b|tab\t|nl\n|end" + `",,y,"""s""",1,5,414243,7F,00,42,0.10,0.100000000000000000000000000000` + "\r\n" +
	`5,,,,,,,,,,,,,,,,2024-03-31T03:30:00+02:00,,,,,,'-5,'@SUM(A1)," x,y ",,,,,,,,,,,` + "\r\n" +
	matrixLine(6, map[string]string{"db": "0.6666666666666666", "fl": "0.1", "dt": "2026-12-01T01:15:00+01:00", "dt6": "2024-07-01T16:00:00.000501+02:00", "da": "1899-12-31", "zf": "7", "d65": "0.100000000000000000000000000000"}) +
	matrixLine(7, map[string]string{"db": "0.30000000000000004", "fl": "3.4028235e+38", "dt": "1890-06-01T12:53:28+00:53:28", "dt6": "2026-12-01T01:14:59.999999+01:00", "d15": "-0.01"}) +
	matrixLine(8, map[string]string{"db": "9007199254740992", "fl": "-1.1754944e-38", "dt": "2026-12-02T00:59:59+01:00", "tm": "838:59:58", "dt6": "1900-03-01T01:00:00.000001+01:00"}) +
	matrixLine(9, map[string]string{"db": "1e-300", "fl": "16777216", "dt": "1900-01-01T01:00:00+01:00"}) +
	matrixLine(10, map[string]string{"db": "0", "fl": "-0.5"}) + // MariaDB stores -0e0 as 0
	matrixLine(11, map[string]string{"db": "123456789012345680", "fl": "12345.67"}) +
	matrixLine(12, map[string]string{"db": "1e+21", "fl": "1e-07"})

// TestTypeMatrix writes every MySQL type with its edge values through the
// runner into xlsx, csv and jsonl, with and without bound arguments (both
// are prepared and come back in the binary protocol; without arguments
// they once came in the text protocol, which cut FLOAT 12345.67 to
// 12345.7), and reads everything back: csv byte for byte, the workbook
// cell by cell with excelize and with openpyxl, jsonl as JSON.
func TestTypeMatrix(t *testing.T) {
	var create []string
	for _, c := range matrixColumns {
		create = append(create, c.name+" "+c.typ)
	}
	stmts := []string{"CREATE TABLE matrix (" + strings.Join(create, ", ") + ")"}
	for i, r := range matrixRows {
		// Zero and partly zero dates need a permissive sql_mode.
		stmts = append(stmts, "SET STATEMENT sql_mode='' FOR INSERT INTO matrix VALUES ("+strings.Join(append([]string{strconv.Itoa(i + 1)}, r...), ", ")+")")
	}
	var sel []string
	for _, c := range matrixColumns {
		sel = append(sel, "t."+c.name)
	}
	dataset := func(name, where string) string {
		return "      " + name + ":\n        from: matrix t\n        select: [" + strings.Join(sel, ", ") + "]\n" + where + "        order_by: [t.id]\n"
	}
	runner, raw := setup(t, oneJob(
		dataset("matrix", "        where: [{column: t.id, op: \">\", value: 0}]\n")+dataset("matrix_text", ""), `
      - {format: xlsx, path: "{job}.xlsx", max_rows_per_sheet: 3}
      - {format: xlsx, path: "{job}-shared.xlsx", max_rows_per_sheet: 3, strings: shared}
      - {format: csv, path: "{dataset}.csv"}
      - {format: csv, path: "exact/{dataset}.csv", null_as: '\N', escape_formulas: false}
      - {format: jsonl, path: "{dataset}.jsonl"}`))
	testdb.Exec(t, raw, stmts...)
	runner.Version = "v-matrix"
	runner.Config.Database.DSN = testdb.DSN(t) // for the About sheet's host; the runner has its pool

	res := runner.Run(context.Background(), &runner.Config.Jobs[0], time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	dir := runner.Config.OutputPath()

	t.Run("csv", func(t *testing.T) {
		for _, name := range []string{"matrix.csv", "matrix_text.csv"} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != matrixCSV {
				gl, wl := strings.Split(string(got), "\r\n"), strings.Split(matrixCSV, "\r\n")
				for i := range max(len(gl), len(wl)) {
					if i >= len(gl) || i >= len(wl) || gl[i] != wl[i] {
						t.Errorf("%s: line %d differs:\n got %.300q\nwant %.300q", name, i+1, at(gl, i), at(wl, i))
					}
				}
			}
		}
	})

	t.Run("warnings", func(t *testing.T) {
		all := strings.Join(res.Warnings, "\n")
		for _, want := range []string{
			"matrix!Y3 (40000 characters)", // the cut cell, named
			"the first in matrix (2)!Y2",   // control characters replaced
			"dataset matrix: column dt: 1 zero or invalid DATETIME values written as text",
			"dataset matrix_text: column ts: 1 zero or invalid TIMESTAMP values written as text",
			"dataset matrix: xlsx: column dw written as text: DECIMAL(24,4) holds up to 24 significant digits",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("warnings lack %q:\n%s", want, all)
			}
		}
	})

	f, err := excelize.OpenFile(filepath.Join(dir, "j.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantSheets := []string{"matrix", "matrix (2)", "matrix (3)", "matrix (4)", "matrix_text", "matrix_text (2)", "matrix_text (3)", "matrix_text (4)", "About"}
	if got := f.GetSheetList(); !slices.Equal(got, wantSheets) {
		t.Fatalf("sheets = %q, want %q", got, wantSheets)
	}
	long := strings.Repeat("abcd", 10000)[:32767-len([]rune(" …[truncated]"))] + " …[truncated]"
	// Each cell: n a number, s text, "" empty; the raw value and number format.
	type xc struct{ typ, raw, numFmt string }
	want := map[string]xc{
		"B2": {"n", "-128", "0"}, "C2": {"n", "0", "0"}, "J2": {"s", "-9223372036854775808", ""}, "K2": {"n", "0", "0"},
		"L2": {"n", "-99999999.99", "0.00"}, "M2": {"s", "-99999999999999999999.9999", ""}, "N2": {"n", "-3.5", ""},
		"O2": {"n", "-1.7976931348623157e+308", ""}, "P2": {"s", "1000-01-01", ""}, "Q2": {"s", "1000-01-01T00:53:28+00:53:28", ""},
		"S2": {"n", "25569.04167824074", "yyyy-mm-dd hh:mm:ss"}, "T2": {"s", "-838:59:59", ""}, "U2": {"n", "0", "[h]:mm:ss.000"},
		"V2": {"n", "1901", "0"}, "W2": {"s", "", ""}, "AB2": {"s", "[]", ""}, "AC2": {"n", "0", "0"}, "AE2": {"s", "000000", ""},
		"AF2": {"s", "", ""},
		"H3":  {"n", "2147483647", "0"}, "J3": {"s", "9223372036854775807", ""}, "K3": {"s", "18446744073709551615", ""},
		"M3": {"s", "99999999999999999999.9999", ""}, "N3": {"n", "3.14159", ""}, "P3": {"n", "2958465", "yyyy-mm-dd"},
		"Q3": {"s", "10000-01-01T00:59:59+01:00", ""}, "T3": {"n", "34.958321759259256", "[h]:mm:ss"},
		"X3": {"s", "Zoë 日本 😀𝄞", ""}, "Y3": {"s", long, ""}, "AA3": {"s", "x,y", ""}, "AC3": {"n", "1", "0"},
		"AD3": {"s", "18446744073709551615", ""}, "AG3": {"s", "DEADBEEF", ""},
		"B4": {"", "", ""}, "Q4": {"", "", ""}, "X4": {"", "", ""}, "AG4": {"", "", ""},
	}
	want2 := map[string]xc{ // sheet "matrix (2)": rows 4 and 5
		"J2": {"n", "123456789012345", "0"}, "K2": {"s", "1234567890123456", ""}, "L2": {"n", "0.1", "0.00"},
		"M2": {"s", "1234.5000", ""}, "P2": {"s", "0000-00-00", ""}, "Q2": {"s", "2024-00-15 10:00:00", ""},
		"R2": {"n", "45474.58333912037", "yyyy-mm-dd hh:mm:ss.000"}, "S2": {"s", "0000-00-00 00:00:00", ""},
		"U2": {"n", "1.0416724537037036", "[h]:mm:ss.000"}, "V2": {"n", "0", "0"}, "W2": {"s", `a"b`, ""}, "X2": {"s", "=1+2", ""},
		"Y2": {"s", "ctl\uFFFD\uFFFD\uFFFD|tab\t|nl\n|end", ""}, "AD2": {"n", "5", "0"}, "AE2": {"s", "414243", ""},
		"Q3": {"n", "45382.145833333336", "yyyy-mm-dd hh:mm:ss"}, "W3": {"s", "-5", ""}, "X3": {"s", "@SUM(A1)", ""},
	}
	check := func(sheet string, cells map[string]xc) {
		for ref, w := range cells {
			got := xc{}
			got.raw, err = f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			switch typ, _ := f.GetCellType(sheet, ref); typ {
			case excelize.CellTypeInlineString, excelize.CellTypeSharedString:
				got.typ = "s"
			case excelize.CellTypeUnset, excelize.CellTypeNumber:
				if got.raw != "" || typ == excelize.CellTypeNumber {
					got.typ = "n"
				}
			}
			if id, _ := f.GetCellStyle(sheet, ref); id != 0 {
				if st, _ := f.GetStyle(id); st != nil && st.CustomNumFmt != nil && got.typ == "n" {
					got.numFmt = *st.CustomNumFmt
				}
			}
			if got != w {
				t.Errorf("%s!%s: got %.200q, want %.200q", sheet, ref, got, w)
			}
		}
	}
	t.Run("xlsx with excelize", func(t *testing.T) {
		check("matrix", want)
		check("matrix (2)", want2)
		check("matrix_text", want)
		check("matrix_text (2)", want2)
		for _, sheet := range wantSheets[:8] {
			if h, _ := f.GetCellValue(sheet, "AG1"); h != "bl" {
				t.Errorf("%s: header AG1 = %q, want it repeated on every sheet", sheet, h)
			}
		}
		about, _ := f.GetRows("About")
		text := ""
		for _, r := range about {
			text += strings.Join(r, "|") + "\n"
		}
		for _, w := range []string{"Job|j\n", "Joinery version|v-matrix\n", "Database host|127.0.0.1:", "matrix|12|matrix, matrix (2), matrix (3), matrix (4)\n", "Time zone|Europe/Berlin\n"} {
			if !strings.Contains(text, w) {
				t.Errorf("About sheet lacks %q:\n%s", w, text)
			}
		}
		if strings.Contains(text, "root") {
			t.Errorf("About sheet shows the database user:\n%s", text)
		}
	})

	t.Run("xlsx with openpyxl", func(t *testing.T) {
		out := readWithOpenpyxl(t, filepath.Join(dir, "j.xlsx"))
		if !slices.Equal(out.Sheets, wantSheets) {
			t.Fatalf("openpyxl sheets = %q, want %q", out.Sheets, wantSheets)
		}
		// [data_type, value]: openpyxl turns date-formatted numbers into
		// dates and [h]:mm:ss into durations.
		want := map[string][2]any{
			"matrix!B2": {"n", -128.0}, "matrix!J2": {"s", "-9223372036854775808"}, "matrix!L2": {"n", -99999999.99},
			"matrix!S2": {"d", "1970-01-01T01:00:01"}, "matrix!T2": {"s", "-838:59:59"}, "matrix!P3": {"d", "9999-12-31T00:00:00"},
			"matrix!K3": {"s", "18446744073709551615"}, "matrix!X3": {"s", "Zoë 日本 😀𝄞"}, "matrix!T3": {"d", 3020399.0},
			"matrix!AD3": {"s", "18446744073709551615"}, "matrix!B4": {"n", nil},
			"matrix (2)!R2": {"d", "2024-07-01T14:00:00.500000"}, "matrix (2)!P2": {"s", "0000-00-00"},
			"matrix (2)!Y2": {"s", "ctl\uFFFD\uFFFD\uFFFD|tab\t|nl\n|end"}, "matrix (2)!X2": {"s", "=1+2"},
			"matrix (2)!Q3": {"d", "2024-03-31T03:30:00"}, "matrix (2)!M2": {"s", "1234.5000"},
		}
		for key, w := range want {
			sheet, ref, _ := strings.Cut(key, "!")
			col, row, _ := excelize.CellNameToCoordinates(ref)
			var got [2]any
			if rows := out.Cells[sheet]; row <= len(rows) && col <= len(rows[row-1]) {
				c := rows[row-1][col-1]
				got = [2]any{c[0], c[1]}
			}
			if got != w {
				t.Errorf("openpyxl %s: got %v, want %v", key, got, w)
			}
		}
		if got := out.Cells["matrix"][2][24][1].(string); len([]rune(got)) != 32767 || !strings.HasSuffix(got, " …[truncated]") {
			t.Errorf("openpyxl matrix!Y3: %d characters ending %q, want 32767 ending with the marker", len([]rune(got)), got[len(got)-20:])
		}
	})

	t.Run("jsonl", func(t *testing.T) {
		a, _ := os.ReadFile(filepath.Join(dir, "matrix.jsonl"))
		b, _ := os.ReadFile(filepath.Join(dir, "matrix_text.jsonl"))
		if !bytes.Equal(a, b) {
			t.Errorf("jsonl differs between the protocols")
		}
		lines := strings.Split(strings.TrimSuffix(string(a), "\n"), "\n")
		if len(lines) != 12 {
			t.Fatalf("got %d lines, want 12", len(lines))
		}
		var rows []map[string]any
		for _, l := range lines {
			d := json.NewDecoder(strings.NewReader(l))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				t.Fatalf("%v: %.200s", err, l)
			}
			rows = append(rows, m)
		}
		wantJSON := []struct {
			row       int
			key, want string
		}{
			{0, "bi", "-9223372036854775808"}, {0, "dw", "-99999999999999999999.9999"}, {0, "dt", `"1000-01-01T00:53:28+00:53:28"`},
			{0, "yr", "1901"}, {0, "vb", `""`}, {1, "biu", "18446744073709551615"}, {1, "b64", "18446744073709551615"},
			{1, "vc", `"Zoë 日本 😀𝄞"`}, {1, "js", `"{\"a\": [1, 2.5, \"x\"]}"`}, {1, "db", "1.7976931348623157e+308"},
			{2, "tx", "null"}, {3, "da", `"0000-00-00"`}, {3, "yr", "0"}, {3, "tx", `"ctl\u0001\u0007\u000b|tab\t|nl\n|end"`},
			{3, "bl", `"00"`}, {4, "vc", `"@SUM(A1)"`},
		}
		for _, w := range wantJSON {
			got, _ := json.Marshal(rows[w.row][w.key])
			if string(got) != w.want {
				t.Errorf("jsonl row %d %s: got %s, want %s", w.row+1, w.key, got, w.want)
			}
		}
	})

	// The workbooks, inline and with shared strings, opened by the readers
	// people use, cell by cell against the csv of the same run.
	t.Run("readers", func(t *testing.T) {
		var cols []readback.Column
		for _, c := range matrixColumns {
			cols = append(cols, readback.Column{Name: c.name, Kind: c.kind})
		}
		var datasets []readback.Dataset
		for _, ds := range []string{"matrix", "matrix_text"} {
			datasets = append(datasets, readback.Dataset{Name: ds, Columns: cols, CSV: readback.CSVFile(t, filepath.Join(dir, "exact", ds+".csv"))})
		}
		for _, book := range []string{"j.xlsx", "j-shared.xlsx"} {
			readback.Readers(t, filepath.Join(dir, book), datasets)
		}
	})
}

// openpyxlOut is what readback's read_openpyxl.py prints.
type openpyxlOut struct {
	Sheets []string
	Cells  map[string][][][3]any
}

// readWithOpenpyxl reads a workbook with Python's openpyxl (not in
// read-only mode), a reader independent of excelize.
func readWithOpenpyxl(t *testing.T, path string) openpyxlOut {
	t.Helper()
	var out openpyxlOut
	if err := json.Unmarshal(readback.OpenpyxlJSON(t, path, false), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
