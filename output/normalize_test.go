package output_test

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	. "github.com/joinery/joinery/output"
)

// raw builds a scanned row: nil is NULL, a string its bytes.
func TestKindOf(t *testing.T) {
	tests := []struct {
		typ  string
		want Kind
	}{
		{"TINYINT", KindInt}, {"SMALLINT", KindInt}, {"MEDIUMINT", KindInt}, {"INT", KindInt}, {"BIGINT", KindInt},
		{"UNSIGNED TINYINT", KindUint}, {"UNSIGNED SMALLINT", KindUint}, {"UNSIGNED MEDIUMINT", KindUint},
		{"UNSIGNED INT", KindUint}, {"UNSIGNED BIGINT", KindUint}, {"bigint unsigned", KindUint},
		{"DECIMAL", KindDecimal}, {"FLOAT", KindFloat}, {"DOUBLE", KindFloat},
		{"DATE", KindDate}, {"DATETIME", KindDateTime}, {"TIMESTAMP", KindDateTime}, {"TIME", KindTime}, {"YEAR", KindYear},
		{"CHAR", KindText}, {"VARCHAR", KindText}, {"TEXT", KindText}, {"TINYTEXT", KindText}, {"MEDIUMTEXT", KindText},
		{"LONGTEXT", KindText}, {"ENUM", KindText}, {"SET", KindText}, {"JSON", KindText}, {"NULL", KindText}, {"", KindText},
		{"BIT", KindBit}, {"BINARY", KindBinary}, {"VARBINARY", KindBinary}, {"TINYBLOB", KindBinary},
		{"BLOB", KindBinary}, {"MEDIUMBLOB", KindBinary}, {"LONGBLOB", KindBinary}, {"GEOMETRY", KindBinary},
	}
	for _, tt := range tests {
		if got := KindOf(tt.typ); got != tt.want {
			t.Errorf("KindOf(%q) = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	newYork := mustLoc(t, "America/New_York")
	kolkata := mustLoc(t, "Asia/Kolkata")
	fixed := time.FixedZone("", 5*3600+30*60)
	tests := []struct {
		name          string
		col           Column
		db, report    *time.Location
		in            any // string or nil
		wantNull      bool
		wantLiteral   bool
		wantWall      bool
		wantTime      time.Time // compared with Equal; zero means no time
		wantTimeLoc   *time.Location
		wantZeroDates int64
	}{
		{name: "null int", col: Column{Kind: KindInt}, in: nil, wantNull: true},
		{name: "null date", col: Column{Kind: KindDate}, in: nil, wantNull: true},
		{name: "int", col: Column{Kind: KindInt}, in: "-42"},
		{name: "uint max", col: Column{Kind: KindUint}, in: "18446744073709551615"},
		{name: "decimal", col: Column{Kind: KindDecimal, Scale: 2}, in: "12345.67"},
		{name: "float", col: Column{Kind: KindFloat}, in: "1e+20"},
		{name: "text utf8", col: Column{Kind: KindText}, in: "Zoë 日本 😀"},
		{name: "empty text is not null", col: Column{Kind: KindText}, in: ""},
		{name: "time", col: Column{Kind: KindTime}, in: "-838:59:59"},
		{name: "year", col: Column{Kind: KindYear}, in: "2024"},
		{name: "binary", col: Column{Kind: KindBinary}, in: "\x00\xff"},
		{name: "date is not shifted", col: Column{Kind: KindDate}, db: kolkata, report: newYork, in: "2024-03-01",
			wantTime: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), wantTimeLoc: time.UTC},
		{name: "date leap day", col: Column{Kind: KindDate}, in: "2024-02-29", wantTime: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), wantTimeLoc: time.UTC},
		{name: "zero date", col: Column{Kind: KindDate}, in: "0000-00-00", wantLiteral: true, wantZeroDates: 1},
		{name: "partial zero month", col: Column{Kind: KindDate}, in: "2024-00-15", wantLiteral: true, wantZeroDates: 1},
		{name: "partial zero day", col: Column{Kind: KindDate}, in: "2024-03-00", wantLiteral: true, wantZeroDates: 1},
		{name: "invalid day", col: Column{Kind: KindDate}, in: "2023-02-29", wantLiteral: true, wantZeroDates: 1},
		{name: "zero datetime", col: Column{Kind: KindDateTime}, in: "0000-00-00 00:00:00", wantLiteral: true, wantZeroDates: 1},
		{name: "zero datetime fraction", col: Column{Kind: KindDateTime, Scale: 6}, in: "0000-00-00 00:00:00.000000", wantLiteral: true, wantZeroDates: 1},
		{name: "partial zero datetime", col: Column{Kind: KindDateTime}, in: "2024-00-01 10:00:00", wantLiteral: true, wantZeroDates: 1},
		{name: "datetime utc to berlin", col: Column{Kind: KindDateTime}, db: time.UTC, report: berlin, in: "2024-03-01 09:00:00",
			wantTime: time.Date(2024, 3, 1, 10, 0, 0, 0, berlin), wantTimeLoc: berlin},
		{name: "datetime berlin to new york across midnight", col: Column{Kind: KindDateTime}, db: berlin, report: newYork, in: "2024-07-01 03:30:00",
			wantTime: time.Date(2024, 6, 30, 21, 30, 0, 0, newYork), wantTimeLoc: newYork},
		{name: "datetime utc to kolkata half hour", col: Column{Kind: KindDateTime}, db: time.UTC, report: kolkata, in: "2024-12-31 20:00:00",
			wantTime: time.Date(2025, 1, 1, 1, 30, 0, 0, kolkata), wantTimeLoc: kolkata},
		{name: "datetime utc to berlin summer time", col: Column{Kind: KindDateTime}, db: time.UTC, report: berlin, in: "2024-03-31 01:30:00",
			wantTime: time.Date(2024, 3, 31, 3, 30, 0, 0, berlin), wantTimeLoc: berlin},
		{name: "datetime micros", col: Column{Kind: KindDateTime, Scale: 6}, in: "2024-03-01 10:00:00.123456",
			wantTime: time.Date(2024, 3, 1, 10, 0, 0, 123456000, time.UTC), wantTimeLoc: time.UTC, wantWall: true},
		{name: "datetime millis", col: Column{Kind: KindDateTime, Scale: 3}, in: "2024-03-01 10:00:00.5",
			wantTime: time.Date(2024, 3, 1, 10, 0, 0, 500000000, time.UTC), wantTimeLoc: time.UTC, wantWall: true},
		{name: "datetime in a fixed zone is its wall clock", col: Column{Kind: KindDateTime}, db: fixed, report: fixed, in: "2024-03-31 02:30:00",
			wantTime: time.Date(2024, 3, 31, 2, 30, 0, 0, fixed), wantTimeLoc: fixed, wantWall: true},
		{name: "datetime in berlin has gaps", col: Column{Kind: KindDateTime}, db: berlin, report: berlin, in: "2024-03-31 02:30:00",
			wantTime: time.Date(2024, 3, 31, 3, 30, 0, 0, berlin), wantTimeLoc: berlin},
		{name: "timestamp is read as utc", col: Column{Kind: KindDateTime, DatabaseType: "TIMESTAMP"}, db: berlin, in: "2024-03-01 09:00:00",
			wantTime: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC), wantTimeLoc: time.UTC, wantWall: true},
		{name: "timestamp in a fixed zone is converted", col: Column{Kind: KindDateTime, DatabaseType: "TIMESTAMP"}, db: fixed, report: fixed, in: "2024-03-01 09:00:00",
			wantTime: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC), wantTimeLoc: fixed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNormalizer([]Column{tt.col}, tt.db, tt.report)
			dst := make([]Value, 1)
			if err := n.Normalize(raw(tt.in), dst); err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			v := dst[0]
			if v.Null != tt.wantNull || v.Literal != tt.wantLiteral || v.Wall != tt.wantWall {
				t.Errorf("got Null=%v Literal=%v Wall=%v, want Null=%v Literal=%v Wall=%v",
					v.Null, v.Literal, v.Wall, tt.wantNull, tt.wantLiteral, tt.wantWall)
			}
			if s, ok := tt.in.(string); ok && string(v.Raw) != s {
				t.Errorf("got Raw %q, want %q", v.Raw, s)
			}
			if !v.Time.Equal(tt.wantTime) {
				t.Errorf("got Time %v, want %v", v.Time, tt.wantTime)
			}
			if tt.wantTimeLoc != nil && v.Time.Location() != tt.wantTimeLoc {
				t.Errorf("got location %v, want %v", v.Time.Location(), tt.wantTimeLoc)
			}
			if got := n.ZeroDates(); got != tt.wantZeroDates {
				t.Errorf("got %d zero dates, want %d", got, tt.wantZeroDates)
			}
			if w := n.Warnings(); (len(w) > 0) != (tt.wantZeroDates > 0) {
				t.Errorf("got warnings %q", w)
			}
		})
	}
}

func TestNormalizeErrors(t *testing.T) {
	tests := []struct {
		name string
		col  Column
		in   string
		want string
	}{
		{"parseTime=true datetime", Column{Name: "c", DatabaseType: "DATETIME", Kind: KindDateTime}, "2024-03-01T10:00:00Z", "parseTime=false"},
		{"garbage date", Column{Name: "d", DatabaseType: "DATE", Kind: KindDate}, "yesterday", "column d"},
		{"date with clock", Column{Name: "d", DatabaseType: "DATE", Kind: KindDate}, "2024-03-01 10:00:00", "2006-01-02"},
		{"fraction too long", Column{Name: "c", DatabaseType: "DATETIME", Kind: KindDateTime}, "2024-03-01 10:00:00.1234567890", "column c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNormalizer([]Column{tt.col}, nil, nil)
			err := n.Normalize(raw(tt.in), make([]Value, 1))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	n := NewNormalizer([]Column{{Kind: KindInt}}, nil, nil)
	if err := n.Normalize(raw("1", "2"), make([]Value, 1)); err == nil {
		t.Error("got no error for a row with too many values")
	}
}

func TestNormalizeWarningsPerColumn(t *testing.T) {
	cols := []Column{{Name: "a", DatabaseType: "DATE", Kind: KindDate}, {Name: "b", DatabaseType: "DATETIME", Kind: KindDateTime}}
	n := NewNormalizer(cols, nil, nil)
	dst := make([]Value, 2)
	for _, r := range [][]sql.RawBytes{
		raw("0000-00-00", "2024-01-01 00:00:00"),
		raw("2024-00-00", "0000-00-00 00:00:00"),
		raw("2024-01-01", nil),
	} {
		if err := n.Normalize(r, dst); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"column a: 2 zero or invalid DATE values written as text",
		"column b: 1 zero or invalid DATETIME values written as text",
	}
	got := n.Warnings()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got warnings %q, want %q", got, want)
	}
	if n.ZeroDates() != 3 {
		t.Errorf("got %d zero dates, want 3", n.ZeroDates())
	}
}

func TestNormalizeNoAllocs(t *testing.T) {
	cols, rawRow := benchRow()
	n := NewNormalizer(cols, mustLoc(t, "Europe/Berlin"), mustLoc(t, "America/New_York"))
	dst := make([]Value, len(cols))
	allocs := testing.AllocsPerRun(100, func() {
		if err := n.Normalize(rawRow, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Normalize: got %v allocations per row, want 0", allocs)
	}
}
