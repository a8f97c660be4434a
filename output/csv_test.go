package output_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/joinery/joinery/output"
)

// writeReport writes one dataset per entry of rows through a Report and
// commits it, returning the files written.
func writeReport(t *testing.T, spec Spec, dir string, vars Vars, datasets []testDataset) []string {
	t.Helper()
	files, _ := writeReportR(t, spec, dir, vars, datasets)
	return files
}

// writeReportR is writeReport that also returns the committed Report.
func writeReportR(t *testing.T, spec Spec, dir string, vars Vars, datasets []testDataset) ([]string, Report) {
	t.Helper()
	r, err := openT(spec, dir, vars)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, ds := range datasets {
		n := NewNormalizer(ds.cols, ds.dbLoc, vars.Location)
		w, err := r.Dataset(ds.name, ds.cols)
		if err != nil {
			t.Fatalf("Dataset %s: %v", ds.name, err)
		}
		vals := make([]Value, len(ds.cols))
		for _, row := range ds.rows {
			if err := n.Normalize(row, vals); err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if err := w.WriteRow(vals); err != nil {
				t.Fatalf("WriteRow: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close %s: %v", ds.name, err)
		}
	}
	files, err := r.Commit()
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertNoTemps(t, dir)
	return files, r
}

type testDataset struct {
	name  string
	cols  []Column
	dbLoc *time.Location
	rows  [][]sql.RawBytes
}

// assertNoTemps fails if any temporary file is left under dir.
func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p)[0] == '.' {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestCSV(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	logical := time.Date(2024, 3, 1, 6, 0, 0, 0, berlin)
	allKinds := []Column{
		{Name: "id", Kind: KindInt}, {Name: "big", Kind: KindUint}, {Name: "amount", Kind: KindDecimal, Precision: 10, Scale: 2},
		{Name: "ratio", Kind: KindFloat}, {Name: "day", Kind: KindDate}, {Name: "at", Kind: KindDateTime},
		{Name: "at_ms", Kind: KindDateTime, Scale: 3}, {Name: "dur", Kind: KindTime}, {Name: "yr", Kind: KindYear},
		{Name: "bin", Kind: KindBinary}, {Name: "txt", Kind: KindText},
	}
	tests := []struct {
		name string
		spec Spec
		ds   testDataset
		want string
	}{
		{
			name: "every kind",
			spec: Spec{Format: "csv", Path: "{job}/{dataset}_{date}"},
			ds: testDataset{name: "kinds", cols: allKinds, dbLoc: time.UTC, rows: [][]sql.RawBytes{
				raw("-42", "18446744073709551615", "12345678901234567.89", "1e+20", "2024-02-29", "2024-03-01 09:00:00",
					"2024-07-01 09:00:00.125", "-838:59:59", "2024", "\x00\xab\xff", "plain"),
				raw(nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
				raw("0", "0", "-0.50", "0.1", "0000-00-00", "2024-00-01 00:00:00", "0000-00-00 00:00:00.000", "00:00:00", "0000", "", ""),
			}},
			want: "id,big,amount,ratio,day,at,at_ms,dur,yr,bin,txt\r\n" +
				"-42,18446744073709551615,12345678901234567.89,100000000000000000000,2024-02-29,2024-03-01T10:00:00+01:00," +
				"2024-07-01T11:00:00.125+02:00,-838:59:59,2024,00ABFF,plain\r\n" +
				",,,,,,,,,,\r\n" +
				`0,0,-0.50,0.1,0000-00-00,2024-00-01 00:00:00,0000-00-00 00:00:00.000,00:00:00,0000,"",""` + "\r\n",
		},
		{
			name: "quoting and utf8",
			spec: Spec{Format: "csv", Path: "out/{dataset}.csv"},
			ds: testDataset{name: "text", cols: []Column{{Name: "a,b", Kind: KindText}, {Name: `say "x"`, Kind: KindText}}, rows: [][]sql.RawBytes{
				raw(`he said "hi"`, "a,b"),
				raw("line1\nline2", "cr\r\nlf"),
				raw("Zoë 日本語", "emoji 😀 𝄞"),
				raw(" lead", "trail "),
				raw("", nil),
			}},
			want: `"a,b","say ""x"""` + "\r\n" +
				`"he said ""hi""","a,b"` + "\r\n" +
				"\"line1\nline2\",\"cr\r\nlf\"\r\n" +
				"Zoë 日本語,emoji 😀 𝄞\r\n" +
				" lead,trail \r\n" +
				`"",` + "\r\n",
		},
		{
			name: "bom and header only",
			spec: Spec{Format: "csv", Path: "{dataset}", BOM: new(true)},
			ds:   testDataset{name: "empty", cols: []Column{{Name: "id", Kind: KindInt}, {Name: "name", Kind: KindText}}},
			want: "\uFEFFid,name\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := writeReport(t, tt.spec, dir, Vars{Job: "nightly", Logical: logical, Location: berlin}, []testDataset{tt.ds})
			if len(files) != 1 {
				t.Fatalf("got files %q, want one", files)
			}
			got, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			info, err := os.Stat(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if perm := info.Mode().Perm(); perm != 0o644 {
				t.Errorf("got mode %v, want 0644", perm)
			}
		})
	}
}

func TestCSVFilePerDataset(t *testing.T) {
	dir := t.TempDir()
	loc := mustLoc(t, "Asia/Tokyo")
	vars := Vars{Job: "daily", Logical: time.Date(2024, 3, 1, 23, 30, 15, 0, time.UTC), Location: loc}
	cols := []Column{{Name: "n", Kind: KindInt}}
	files := writeReport(t, Spec{Format: "csv", Path: "{job}/{date}/{dataset}-{time}"}, dir, vars, []testDataset{
		{name: "users", cols: cols, rows: [][]sql.RawBytes{raw("1")}},
		{name: "orders", cols: cols, rows: [][]sql.RawBytes{raw("2")}},
	})
	want := []string{
		filepath.Join(dir, "daily/2024-03-02/users-083015.csv"),
		filepath.Join(dir, "daily/2024-03-02/orders-083015.csv"),
	}
	if len(files) != 2 || files[0] != want[0] || files[1] != want[1] {
		t.Fatalf("got files %q, want %q", files, want)
	}
	for i, body := range []string{"n\r\n1\r\n", "n\r\n2\r\n"} {
		got, err := os.ReadFile(files[i])
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != body {
			t.Errorf("%s: got %q, want %q", files[i], got, body)
		}
	}
}

func TestCSVWriteRowNoAllocs(t *testing.T) {
	cols, rawRow := benchRow()
	loc := mustLoc(t, "Europe/Berlin")
	r, err := openT(Spec{Format: "csv", Path: "x"}, t.TempDir(), Vars{Job: "j", Logical: time.Now(), Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Abort()
	w, err := r.Dataset("d", append(cols, Column{Name: "bin", Kind: KindBinary}))
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]Value, len(cols)+1)
	if err := NewNormalizer(cols, time.UTC, loc).Normalize(rawRow, vals[:len(cols)]); err != nil {
		t.Fatal(err)
	}
	vals[len(cols)] = Value{Raw: []byte("\x01\x02\x03")}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := w.WriteRow(vals); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("CSV WriteRow: got %v allocations per row, want 0", allocs)
	}
}

// TestAppendISOMatchesFormat checks appendISO against time.Format, with
// "-07:00:00" where the offset has seconds (Format's "-07:00" drops them).
func TestAppendISOMatchesFormat(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Skip(err)
	}
	for _, tm := range []time.Time{
		time.Date(2024, 3, 1, 9, 15, 0, 0, time.UTC),
		time.Date(1000, 1, 1, 0, 0, 0, 999999999, time.FixedZone("", -(9*3600+30*60))),
		time.Date(9999, 12, 31, 23, 59, 59, 123456789, kolkata),
		time.Date(1880, 6, 1, 12, 0, 0, 5000, kolkata), // local mean time: +05:53:28
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1850, 1, 1, 0, 53, 28, 0, time.FixedZone("LMT", 53*60+28)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.FixedZone("", -(3600+59))),
	} {
		for scale := int64(0); scale <= 10; scale++ {
			layout := ISOLayout(scale)
			if _, off := tm.Zone(); off%60 != 0 {
				layout = strings.TrimSuffix(layout, "-07:00") + "-07:00:00"
			}
			want := tm.Format(layout)
			if got := string(AppendISO(nil, tm, scale, ISOLayout(scale))); got != want {
				t.Errorf("appendISO(%v, %d) = %s, want %s", tm, scale, got, want)
			}
		}
	}
}

// TestCivilFromDays: the calendar date of every day from year 0 to 10000
// is the one time.Time gives.
func TestCivilFromDays(t *testing.T) {
	start := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)
	for day := start.Unix() / 86400; day < end.Unix()/86400; day++ {
		y, m, d := CivilFromDays(day)
		wy, wm, wd := time.Unix(day*86400, 0).UTC().Date()
		if y != wy || m != uint32(wm) || d != uint32(wd) {
			t.Fatalf("CivilFromDays(%d) = %d-%d-%d, want %d-%d-%d", day, y, m, d, wy, wm, wd)
		}
	}
}

// TestCSVWriteError: a write that fails mid-file (the file closed under
// the writer, as a full disk would fail it) stops WriteRow and Close with
// the error, and leaves no file behind, temporary or final.
func TestCSVWriteError(t *testing.T) {
	dir := t.TempDir()
	r, err := openT(Spec{Format: "csv", Path: "x"}, dir, Vars{Job: "j", Logical: time.Now(), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.Dataset("d", []Column{{Name: "text", Kind: KindText}})
	if err != nil {
		t.Fatal(err)
	}
	if err := CloseFile(w); err != nil {
		t.Fatal(err)
	}
	row := []Value{{Raw: []byte(strings.Repeat("x", 1000))}}
	var werr error
	n := 0
	for ; n < 1000 && werr == nil; n++ {
		werr = w.WriteRow(row)
	}
	if werr == nil || !strings.Contains(werr.Error(), "write csv") {
		t.Fatalf("WriteRow after %d rows: %v, want a write error", n, werr)
	}
	if n > 64<<10/1000+2 { // csvw's chunk of 64 KiB
		t.Errorf("the error came after %d rows, want it at the first flush", n)
	}
	if err := w.WriteRow(row); err == nil {
		t.Error("WriteRow after the error succeeded")
	}
	if err := w.Close(); err == nil || err.Error() != werr.Error() {
		t.Errorf("Close: %v, want %v", err, werr)
	}
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind: %s", e.Name())
	}
}

// TestTextFormWall: a DATETIME the Normalizer marks Wall comes out of the
// text form as it would from its instant, in UTC and in zones with a fixed
// offset, for every scale; the marks are only set where that holds.
func TestTextFormWall(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("X", 14*3600)} {
		for scale := int64(0); scale <= 6; scale++ {
			cols := []Column{{Name: "at", DatabaseType: "DATETIME", Kind: KindDateTime, Scale: scale}}
			n := NewNormalizer(cols, loc, loc)
			f := NewTextForm(cols, loc, Spec{})
			v := make([]Value, 1)
			for range 2000 {
				tm := time.Unix(rng.Int64N(253402300800+62135596800)-62135596800, 0).UTC()
				text := tm.Format("2006-01-02 15:04:05")
				if scale > 0 {
					text += "." + fmt.Sprintf("%06d", rng.IntN(1000000))[:scale]
				}
				if err := n.Normalize(raw(text), v); err != nil {
					t.Fatal(err)
				}
				if !v[0].Wall {
					t.Fatalf("%s in %v: Wall not set", text, loc)
				}
				got := string(f.AppendValue(nil, 0, &v[0]))
				slow := v[0]
				slow.Wall = false
				if want := string(f.AppendValue(nil, 0, &slow)); got != want {
					t.Fatalf("%s in %v, scale %d: got %s, want %s", text, loc, scale, got, want)
				}
			}
		}
	}
	// Wall is not set where the text is not the report's wall clock.
	berlin := mustLoc(t, "Europe/Berlin")
	for _, c := range []struct {
		db, report *time.Location
		typ        string
	}{{berlin, berlin, "DATETIME"}, {time.UTC, berlin, "DATETIME"}, {berlin, time.UTC, "DATETIME"}, {time.UTC, berlin, "TIMESTAMP"}} {
		cols := []Column{{Name: "at", DatabaseType: c.typ, Kind: KindDateTime}}
		v := make([]Value, 1)
		if err := NewNormalizer(cols, c.db, c.report).Normalize(raw("2024-07-01 12:00:00"), v); err != nil {
			t.Fatal(err)
		}
		if v[0].Wall {
			t.Errorf("%s read in %v for %v: Wall set", c.typ, c.db, c.report)
		}
	}
}
