package output_test

import (
	"compress/gzip"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/joinery/joinery/config"
	. "github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

func TestCSVOptions(t *testing.T) {
	off := false
	cols := []Column{{Name: "=id", Kind: KindInt}, {Name: "txt", Kind: KindText}, {Name: "bin", Kind: KindBinary}, {Name: "day", Kind: KindDate}}
	rows := [][]sql.RawBytes{
		raw("-1", "=HYPERLINK(\"x\")", "\x00\xff", "0000-00-00"),
		raw(nil, "a;b", "", "2024-02-29"),
		raw("2", "+1", nil, nil),
		raw("3", "-2", "A", nil),
		raw("4", "@x", "B", nil),
		raw("5", "\tx", "C", nil),
		raw("6", "\rx", "D", nil),
		raw("7", "", "E", nil),
	}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"defaults", Spec{},
			"'=id,txt,bin,day\r\n-1,\"'=HYPERLINK(\"\"x\"\")\",00FF,0000-00-00\r\n,a;b,\"\",2024-02-29\r\n2,'+1,,\r\n3,'-2,41,\r\n" +
				"4,'@x,42,\r\n5,'\tx,43,\r\n6,\"'\rx\",44,\r\n7,\"\",45,\r\n"},
		{"semicolon, lf, null, base64, no escaping, zero dates empty",
			Spec{Delimiter: ";", LineEnding: "lf", NullAs: `\N`, Binary: "base64", EscapeFormulas: &off, ZeroDates: "empty"},
			"=id;txt;bin;day\n-1;\"=HYPERLINK(\"\"x\"\")\";AP8=;\\N\n\\N;\"a;b\";\"\";2024-02-29\n2;+1;\\N;\\N\n3;-2;QQ==;\\N\n" +
				"4;@x;Qg==;\\N\n5;\tx;Qw==;\\N\n6;\"\rx\";RA==;\\N\n7;\"\";RQ==;\\N\n"},
		{"quote all, bom, tab", Spec{QuoteAll: true, BOM: new(true), Delimiter: "\t"},
			"\uFEFF\"'=id\"\t\"txt\"\t\"bin\"\t\"day\"\r\n\"-1\"\t\"'=HYPERLINK(\"\"x\"\")\"\t\"00FF\"\t\"0000-00-00\"\r\n\t\"a;b\"\t\"\"\t\"2024-02-29\"\r\n" +
				"\"2\"\t\"'+1\"\t\t\r\n\"3\"\t\"'-2\"\t\"41\"\t\r\n\"4\"\t\"'@x\"\t\"42\"\t\r\n\"5\"\t\"'\tx\"\t\"43\"\t\r\n\"6\"\t\"'\rx\"\t\"44\"\t\r\n\"7\"\t\"\"\t\"45\"\t\r\n"},
		{"multi-byte delimiter", Spec{Delimiter: "§"}, "'=id§txt§bin§day\r\n-1§\"'=HYPERLINK(\"\"x\"\")\"§00FF§0000-00-00\r\n§a;b§\"\"§2024-02-29\r\n" +
			"2§'+1§§\r\n3§'-2§41§\r\n4§'@x§42§\r\n5§'\tx§43§\r\n6§\"'\rx\"§44§\r\n7§\"\"§45§\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Format, spec.Path = "csv", "{dataset}"
			files := writeReport(t, spec, t.TempDir(), Vars{Job: "j", Logical: time.Now()}, []testDataset{{name: "d", cols: cols, rows: rows}})
			got, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestGzip(t *testing.T) {
	cols := []Column{{Name: "n", Kind: KindInt}, {Name: "s", Kind: KindText}}
	rows := [][]sql.RawBytes{raw("1", "a"), raw("2", nil)}
	for _, tt := range []struct {
		spec Spec
		file string
		want string
	}{
		{Spec{Format: "csv", Path: "{dataset}", Gzip: true}, "d.csv.gz", "n,s\r\n1,a\r\n2,\r\n"},
		{Spec{Format: "csv", Path: "{dataset}.csv", Gzip: true}, "d.csv.gz", "n,s\r\n1,a\r\n2,\r\n"},
		{Spec{Format: "jsonl", Path: "{dataset}.jsonl.gz", Gzip: true}, "d.jsonl.gz", "{\"n\":1,\"s\":\"a\"}\n{\"n\":2,\"s\":null}\n"},
	} {
		t.Run(tt.spec.Path, func(t *testing.T) {
			dir := t.TempDir()
			files := writeReport(t, tt.spec, dir, Vars{Job: "j", Logical: time.Now()}, []testDataset{{name: "d", cols: cols, rows: rows}})
			if files[0] != filepath.Join(dir, tt.file) {
				t.Fatalf("got %s, want %s", files[0], tt.file)
			}
			f, err := os.Open(files[0])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil || string(got) != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestJSONL(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	cols := []Column{
		{Name: "id", Kind: KindInt}, {Name: "id", Kind: KindUint}, {Name: "amount", Kind: KindDecimal, Precision: 10, Scale: 2},
		{Name: "ratio", Kind: KindFloat}, {Name: "day", Kind: KindDate}, {Name: "at", Kind: KindDateTime},
		{Name: "dur", Kind: KindTime}, {Name: "yr", Kind: KindYear}, {Name: "bin", Kind: KindBinary},
		{Name: "bit", Kind: KindBit}, {Name: "txt", Kind: KindText},
	}
	rows := [][]sql.RawBytes{
		raw("-0042", "18446744073709551615", "-0.50", "1e20", "2024-02-29", "2024-03-01 09:00:00", "-01:00:00", "0", "\x00\xff", "\x01\x00", "q\"\\\n\x01😀\xff"),
		raw(nil, nil, nil, nil, "0000-00-00", nil, nil, nil, nil, nil, nil),
	}
	files, r := writeReportR(t, Spec{Format: "jsonl", Path: "{dataset}"}, t.TempDir(), Vars{Job: "j", Logical: time.Now(), Location: berlin},
		[]testDataset{{name: "d", cols: cols, dbLoc: time.UTC, rows: rows}})
	got, _ := os.ReadFile(files[0])
	want := `{"id":-42,"id_2":18446744073709551615,"amount":-0.50,"ratio":100000000000000000000,"day":"2024-02-29",` +
		`"at":"2024-03-01T10:00:00+01:00","dur":"-01:00:00","yr":0,"bin":"00FF","bit":256,"txt":"q\"\\\n\u0001😀\ufffd"}` + "\n" +
		`{"id":null,"id_2":null,"amount":null,"ratio":null,"day":"0000-00-00","at":null,"dur":null,"yr":null,"bin":null,"bit":null,"txt":null}` + "\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if ws := r.Warnings(); len(ws) != 1 || ws[0] != "dataset d: jsonl: 1 text value had 1 byte of invalid UTF-8, written as U+FFFD (the first in row 1, column txt)" {
		t.Errorf("warnings = %q", ws)
	}
}

func TestColumnPresentation(t *testing.T) {
	cols := []Column{{Name: "id", Kind: KindInt}, {Name: "amount", Kind: KindDecimal, Precision: 10, Scale: 2}, {Name: "secret", Kind: KindText}}
	spec := Spec{Format: "xlsx", Path: "r", Columns: []ColumnSpec{
		{Name: "amount", Label: "Amount (EUR)", Format: "#,##0.00", Width: 30},
		{Name: "b/amount", Label: "Betrag"},
		{Name: "secret", Hidden: true},
		{Name: "nowhere", Label: "x"},
	}}
	row := [][]sql.RawBytes{raw("1", "1234.50", "s")}
	files, r := writeReportR(t, spec, t.TempDir(), Vars{Job: "j", Logical: time.Now()},
		[]testDataset{{name: "a", cols: cols, rows: row}, {name: "b", cols: cols, rows: row}})
	if ws := r.Warnings(); len(ws) != 1 || !strings.Contains(ws[0], "columns.nowhere") {
		t.Errorf("warnings = %q, want one about columns.nowhere", ws)
	}
	f, err := excelize.OpenFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if h, _ := f.GetCellValue("a", "B1"); h != "Amount (EUR)" {
		t.Errorf("a!B1 = %q", h)
	}
	if h, _ := f.GetCellValue("b", "B1"); h != "Betrag" {
		t.Errorf("b!B1 = %q, want the dataset's own label", h)
	}
	// What b/amount does not set comes from amount.
	if c := readCell(t, f, "b", "B2"); c.numFmt != "#,##0.00" || c.shown != "1,234.50" {
		t.Errorf("b!B2 = %+v, want the plain entry's format", c)
	}
	if w, _ := f.GetColWidth("b", "B"); w != 30 {
		t.Errorf("width of b!B = %v, want the plain entry's 30", w)
	}
	if c := readCell(t, f, "a", "B2"); c.numFmt != "#,##0.00" || c.raw != "1234.5" || c.shown != "1,234.50" {
		t.Errorf("a!B2 = %+v", c)
	}
	if w, _ := f.GetColWidth("a", "B"); w != 30 {
		t.Errorf("width of a!B = %v, want 30", w)
	}
	if v, _ := f.GetColVisible("a", "C"); v {
		t.Error("a!C is visible, want hidden")
	}
	if v, _ := f.GetColVisible("a", "A"); !v {
		t.Error("a!A is hidden")
	}
}

func TestSheetOverflow(t *testing.T) {
	cols := []Column{{Name: "n", Kind: KindInt}}
	var rows [][]sql.RawBytes
	for i := range 7 {
		rows = append(rows, raw(string(rune('1'+i))))
	}
	about := false
	files := writeReport(t, Spec{Format: "xlsx", Path: "r", MaxRowsPerSheet: 3, About: &about}, t.TempDir(), Vars{Job: "j", Logical: time.Now()},
		[]testDataset{{name: "posts", cols: cols, rows: rows}, {name: "posts (2)", cols: cols, rows: rows[:1]}})
	f, err := excelize.OpenFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string][]string{"posts": {"n", "1", "2", "3"}, "posts (2)": {"n", "4", "5", "6"}, "posts (3)": {"n", "7"}, "posts (2) (2)": {"n", "1"}}
	if got := f.GetSheetList(); strings.Join(got, "|") != "posts|posts (2)|posts (3)|posts (2) (2)" {
		t.Fatalf("sheets %q", got)
	}
	for sheet, w := range want {
		got, _ := f.GetRows(sheet)
		var flat []string
		for _, r := range got {
			flat = append(flat, r...)
		}
		if strings.Join(flat, ",") != strings.Join(w, ",") {
			t.Errorf("%s: got %q, want %q", sheet, flat, w)
		}
		if tables, _ := f.GetTables(sheet); len(tables) != 1 {
			t.Errorf("%s: %d tables, want 1", sheet, len(tables))
		}
	}
}

func TestValidate(t *testing.T) {
	yes := true
	tests := []struct {
		spec Spec
		want []string // "field: substring"
	}{
		{Spec{Format: "csv", Path: "x", Delimiter: ";", LineEnding: "lf", NullAs: "NULL", QuoteAll: true, Gzip: true, Binary: "base64"}, nil},
		{Spec{Format: "xlsx", Path: "x", Decimals: "text", About: &yes, MaxRowsPerSheet: 10, Columns: []ColumnSpec{{Name: "a", Width: 10, Format: "0", Hidden: true}}}, nil},
		{Spec{Format: "pdf", Path: "x"}, []string{"format: want csv, xlsx, jsonl or tsv"}},
		{Spec{Format: "csv", Path: "x", Delimiter: ";;"}, []string{"delimiter: exactly one character"}},
		{Spec{Format: "csv", Path: "x", Delimiter: `"`}, []string{"delimiter: cannot be a quote"}},
		{Spec{Format: "csv", Path: "x", LineEnding: "cr"}, []string{"line_ending: want crlf or lf"}},
		{Spec{Format: "xlsx", Path: "x", Delimiter: ";", Gzip: true}, []string{"delimiter: is a csv option", "gzip: already compressed"}},
		{Spec{Format: "csv", Path: "x", Decimals: "auto", MaxRowsPerSheet: 5}, []string{"decimals: is an xlsx option", "max_rows_per_sheet: is an xlsx option"}},
		{Spec{Format: "xlsx", Path: "x", MaxRowsPerSheet: 1 << 20}, []string{"max_rows_per_sheet: want 1 to 1048575"}},
		{Spec{Format: "xlsx", Path: "x", Binary: "b32", ZeroDates: "null"}, []string{"binary: want hex or base64", "zero_dates: want text or empty"}},
		{Spec{Format: "xlsx", Path: "x", Columns: []ColumnSpec{{Name: "a", Width: 300}}}, []string{"columns.a.width: want 1 to 255"}},
		{Spec{Format: "csv", Path: "x", Columns: []ColumnSpec{{Name: "a", Width: 3}}}, []string{"columns.a: format, width, hidden and decimals are xlsx settings"}},
		{Spec{Format: "xlsx", Path: "x", Columns: []ColumnSpec{{Name: "a", Decimals: "exact"}}}, []string{"columns.a.decimals: want auto, number or text"}},
		{Spec{Format: "csv", Path: "x", Latest: "x"}, []string{"latest: same as path"}},
		{Spec{Format: "csv", Path: "x", LatestMode: "copy"}, []string{"latest_mode: set latest"}},
		{Spec{Format: "csv", Path: "x", Latest: "../y"}, []string{"latest: path \"../y\": must be a relative"}},
	}
	for _, tt := range tests {
		errs := formats.Default().Validate(tt.spec, 1)
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if len(got) != len(tt.want) {
			t.Errorf("%+v: got %q, want %d problems %q", tt.spec, got, len(tt.want), tt.want)
			continue
		}
		for i, w := range tt.want {
			field, sub, _ := strings.Cut(w, ": ")
			if fe := errs[i].(*config.FieldError); fe.Path != field || !strings.Contains(fe.Msg, sub) {
				t.Errorf("%+v: problem %d = %v, want field %s with %q", tt.spec, i, errs[i], field, sub)
			}
		}
	}
}
