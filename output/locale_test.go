package output_test

import (
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

// TestCSVLocale writes numbers, dates and date-times with a decimal comma
// and layouts, by hand and through the excel-de preset (whose settings
// give way to the output's own), in a report zone with daylight saving:
// the layouts write the report zone's wall clock. Other kinds, NULL, zero
// dates and text are as without the options.
func TestCSVLocale(t *testing.T) {
	cols := []Column{
		{Name: "amount", Kind: KindDecimal, Scale: 2}, {Name: "ratio", Kind: KindFloat}, {Name: "n", Kind: KindInt},
		{Name: "day", Kind: KindDate}, {Name: "at", Kind: KindDateTime}, {Name: "at6", Kind: KindDateTime, Scale: 6},
		{Name: "note", Kind: KindText},
	}
	rows := [][]sql.RawBytes{
		raw("-1234.50", "0.125", "7", "2024-02-29", "2024-03-31 00:59:59", "2024-07-01 12:00:00.123456", "1.5"),
		raw("0.00", "1e-07", "-3", "0000-00-00", "2024-10-27 01:30:00", "2024-10-27 00:30:00.000001", "a;b"),
		raw("12", "-2.5E+20", nil, nil, nil, nil, nil),
	}
	for _, tt := range []struct {
		name string
		spec Spec
		want string
	}{
		{"excel-de", Spec{Preset: PresetExcelDE},
			"\uFEFFamount;ratio;n;day;at;at6;note\r\n" +
				"-1234,50;0,125;7;29.02.2024;31.03.2024 01:59:59;01.07.2024 14:00:00;1.5\r\n" +
				"0,00;1e-07;-3;0000-00-00;27.10.2024 02:30:00;27.10.2024 02:30:00;\"a;b\"\r\n" +
				"12;-250000000000000000000;;;;;\r\n"},
		{"excel-de, own settings", Spec{Preset: PresetExcelDE, BOM: new(false), Delimiter: "\t", DateFormat: "yyyy-MM-dd", DateTimeFormat: "dd/MM/yyyy HH:mm:ss.SSS xxx", LineEnding: "lf"},
			"amount\tratio\tn\tday\tat\tat6\tnote\n" +
				"-1234,50\t0,125\t7\t2024-02-29\t31/03/2024 01:59:59.000 +01:00\t01/07/2024 14:00:00.123 +02:00\t1.5\n" +
				"0,00\t1e-07\t-3\t0000-00-00\t27/10/2024 02:30:00.000 +01:00\t27/10/2024 02:30:00.000 +02:00\ta;b\n" +
				"12\t-250000000000000000000\t\t\t\t\t\n"},
		{"decimal comma alone", Spec{Delimiter: ";", DecimalSeparator: ","},
			"amount;ratio;n;day;at;at6;note\r\n" +
				"-1234,50;0,125;7;2024-02-29;2024-03-31T01:59:59+01:00;2024-07-01T14:00:00.123456+02:00;1.5\r\n" +
				"0,00;1e-07;-3;0000-00-00;2024-10-27T02:30:00+01:00;2024-10-27T02:30:00.000001+02:00;\"a;b\"\r\n" +
				"12;-250000000000000000000;;;;;\r\n"},
		{"layouts alone, quoted where the delimiter is a space", Spec{Delimiter: " ", DateFormat: "MM/dd/yyyy", DateTimeFormat: "yyyy-MM-dd HH:mm:ss.SSSSSS"},
			"amount ratio n day at at6 note\r\n" +
				"-1234.50 0.125 7 02/29/2024 \"2024-03-31 01:59:59.000000\" \"2024-07-01 14:00:00.123456\" 1.5\r\n" +
				"0.00 1e-07 -3 0000-00-00 \"2024-10-27 02:30:00.000000\" \"2024-10-27 02:30:00.000001\" a;b\r\n" +
				"12 -250000000000000000000     \r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Format, spec.Path = "csv", "{dataset}"
			if errs := formats.Default().Validate(spec, 1); len(errs) > 0 {
				t.Fatal(errs)
			}
			files := writeReport(t, spec, t.TempDir(), Vars{Job: "j", Logical: time.Now(), Location: mustLoc(t, "Europe/Berlin")},
				[]testDataset{{name: "d", cols: cols, rows: rows}})
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

// TestLocaleValidation: the options are csv's, the decimal mark is "." or
// ",", a decimal comma needs another delimiter, and a layout is refused
// with a hint for the usual slips.
func TestLocaleValidation(t *testing.T) {
	for _, tt := range []struct {
		spec Spec
		want string // the first problem; "" for none
	}{
		{Spec{Format: "csv", Preset: PresetExcelDE}, ""},
		{Spec{Format: "csv", Preset: "excel"}, `preset: "excel": want excel-de`},
		{Spec{Format: "csv", Preset: PresetExcelDE, Delimiter: ","}, `decimal_separator: ",": a decimal comma needs another delimiter, such as ";" (or the preset excel-de)`},
		{Spec{Format: "csv", Preset: PresetExcelDE, Delimiter: ",", DecimalSeparator: "."}, ""},
		{Spec{Format: "csv", DecimalSeparator: ","}, `decimal_separator: ",": a decimal comma needs another delimiter`},
		{Spec{Format: "csv", DecimalSeparator: "·"}, `decimal_separator: "·": want . or ,`},
		{Spec{Format: "jsonl", DecimalSeparator: ","}, "decimal_separator: is a csv option; this output is jsonl"},
		{Spec{Format: "xlsx", Path: "{job}", DateFormat: "dd.MM.yyyy"}, "date_format: is a csv option; this output is xlsx"},
		{Spec{Format: "jsonl", Preset: PresetExcelDE}, "preset: is a csv option; this output is jsonl"},
		{Spec{Format: "csv", DateFormat: "dd.mm.yyyy"}, `date_format: "dd.mm.yyyy": mm: mm is minutes, and a date has none: the month is MM`},
		{Spec{Format: "csv", DateFormat: "DD.MM.YYYY"}, `date_format: "DD.MM.YYYY": DD: the day is dd`},
		{Spec{Format: "csv", DateFormat: "dd.MM.YYYY"}, `date_format: "dd.MM.YYYY": YYYY: the year is yyyy (four digits)`},
		{Spec{Format: "csv", DateFormat: "dd.MM.yy"}, `yy: the year is yyyy (four digits)`},
		{Spec{Format: "csv", DateFormat: "MM.yyyy"}, `date_format: "MM.yyyy": the day (dd) is missing`},
		{Spec{Format: "csv", DateFormat: "dd MMM yyyy"}, `MMM: the month is MM (01 to 12); names of months are not supported`},
		{Spec{Format: "csv", DateFormat: "dd.MM.yyyy HH:mm"}, `HH: a date has no time`},
		{Spec{Format: "csv", DateFormat: "dd,MM,yyyy"}, `,: not a field: use yyyy, MM, dd, and . - / : space or T between them`},
		{Spec{Format: "csv", DateFormat: "yyyy-MM-dd'x'"}, `': not a field`},
		{Spec{Format: "csv", DateTimeFormat: "dd.mm.yyyy HH:mm"}, `datetime_format: "dd.mm.yyyy HH:mm": mm: the minute is given twice (the month is MM)`},
		{Spec{Format: "csv", DateTimeFormat: "dd.mm.yyyy hh:mm"}, `hh: the hour is HH (00 to 23)`},
		{Spec{Format: "csv", DateTimeFormat: "dd.mm.yyyy"}, `the month (MM) is missing; mm is the minute`},
		{Spec{Format: "csv", DateTimeFormat: "dd.MM.yyyy HH"}, `the minute (mm) is missing`},
		{Spec{Format: "csv", DateTimeFormat: "dd.MM.yyyy HH:mm.SSS"}, `a fraction of the second (S) needs the second (ss)`},
		{Spec{Format: "csv", DateTimeFormat: "dd.MM.yyyy HH:mm:ss.SSSSSSSSSS"}, `at most 9 digits`},
		{Spec{Format: "csv", DateTimeFormat: "dd.MM.yyyy HH:mm:ss xx"}, `xx: not a field`},
		{Spec{Format: "csv", DateTimeFormat: "yyyy-MM-ddTHH:mm:ss.SSSxxx"}, ""},
		{Spec{Format: "csv", DateTimeFormat: ""}, ""},
	} {
		spec := tt.spec
		if spec.Path == "" {
			spec.Path = "{dataset}"
		}
		errs := formats.Default().Validate(spec, 1)
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%+v: %q, want %q", tt.spec, got, tt.want)
		}
	}
}
