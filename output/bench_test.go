package output_test

import (
	"database/sql"
	"io"
	"os"
	"testing"
	"time"

	. "github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

// benchRow is a typical report row (export_test.go).
func benchRow() ([]Column, []sql.RawBytes) { return BenchRow() }

func BenchmarkNormalize(b *testing.B) {
	cols, rawRow := benchRow()
	n := NewNormalizer(cols, time.UTC, mustLoc(b, "Europe/Berlin"))
	dst := make([]Value, len(cols))
	b.ReportAllocs()
	for b.Loop() {
		if err := n.Normalize(rawRow, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(cols)), "ns/cell")
}

// harnessRow is the row bench/run writes: config.yaml's users_with_posts
// columns, with the harness's kind of values, in a job that keeps UTC.
func harnessRow() ([]Column, []sql.RawBytes) {
	cols := []Column{
		{Name: "user_id", DatabaseType: "INT", Kind: KindInt},
		{Name: "name", DatabaseType: "VARCHAR", Kind: KindText},
		{Name: "email", DatabaseType: "VARCHAR", Kind: KindText},
		{Name: "country", DatabaseType: "CHAR", Kind: KindText},
		{Name: "created_at", DatabaseType: "DATETIME", Kind: KindDateTime},
		{Name: "post_id", DatabaseType: "INT", Kind: KindInt},
		{Name: "title", DatabaseType: "VARCHAR", Kind: KindText},
		{Name: "published_at", DatabaseType: "DATETIME", Kind: KindDateTime},
		{Name: "score", DatabaseType: "DECIMAL", Kind: KindDecimal, Precision: 10, Scale: 2},
		{Name: "views", DatabaseType: "UNSIGNED INT", Kind: KindUint},
	}
	return cols, raw("61234", "User 61234", "user61234@example.com", "DE", "2022-08-27 14:58:00", "561233",
		"Post 561233 about cafés, crème", "2022-01-24 04:39:00", "158.38", "535761")
}

func benchWriter(b *testing.B, format string) {
	cols, rawRow := benchRow()
	benchRows(b, format, cols, rawRow, time.UTC, mustLoc(b, "Europe/Berlin"))
}

// benchRows writes rawRow, read in dbLoc, as format in a job of zone loc;
// more rows are written in turn.
func benchRows(b *testing.B, format string, cols []Column, rawRow []sql.RawBytes, dbLoc, loc *time.Location, more ...[]sql.RawBytes) {
	n := NewNormalizer(cols, dbLoc, loc)
	var rows [][]Value
	for _, r := range append([][]sql.RawBytes{rawRow}, more...) {
		vals := make([]Value, len(cols))
		if err := n.Normalize(r, vals); err != nil {
			b.Fatal(err)
		}
		rows = append(rows, vals)
	}
	r, err := openT(Spec{Format: format, Path: pathFor(format)}, b.TempDir(), Vars{Job: "bench", Logical: time.Now(), Location: loc})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Abort()
	w, err := r.Dataset("rows", cols)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := w.WriteRow(rows[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(rows) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(cols)), "ns/cell")
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCSVWriteRow(b *testing.B) { benchWriter(b, "csv") }

func BenchmarkJSONLWriteRow(b *testing.B) { benchWriter(b, "jsonl") }

// BenchmarkCSVFormat is the CSV writer's own work on a row, without the
// file: its records go to io.Discard instead of the hash and the kernel.
func BenchmarkCSVFormat(b *testing.B) { benchFormat(b, "csv") }

// BenchmarkJSONLFormat is BenchmarkCSVFormat for JSON Lines.
func BenchmarkJSONLFormat(b *testing.B) { benchFormat(b, "jsonl") }

// benchFormat times a csv or jsonl writer on benchRow and harnessRow with
// its output going to io.Discard.
func benchFormat(b *testing.B, format string) {
	for _, c := range []struct {
		name       string
		row        func() ([]Column, []sql.RawBytes)
		dbLoc, loc *time.Location
	}{
		{"typical", benchRow, time.UTC, mustLoc(b, "Europe/Berlin")},
		{"harness", harnessRow, time.UTC, time.UTC},
	} {
		b.Run(c.name, func(b *testing.B) {
			cols, rawRow := c.row()
			vals := make([]Value, len(cols))
			if err := NewNormalizer(cols, c.dbLoc, c.loc).Normalize(rawRow, vals); err != nil {
				b.Fatal(err)
			}
			r, err := openT(Spec{Format: format, Path: "bench"}, b.TempDir(), Vars{Job: "bench", Logical: time.Now(), Location: c.loc})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Abort()
			w, err := r.Dataset("d", cols)
			if err != nil {
				b.Fatal(err)
			}
			StreamOf(w).W.Reset(io.Discard)
			b.ReportAllocs()
			for b.Loop() {
				if err := w.WriteRow(vals); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(cols)), "ns/cell")
		})
	}
}

// BenchmarkCSVHarnessRow is the row of bench/run's CSV run.
func BenchmarkCSVHarnessRow(b *testing.B) {
	cols, rawRow := harnessRow()
	benchRows(b, "csv", cols, rawRow, time.UTC, time.UTC)
}

// BenchmarkXLSXWriteRow continues on new sheets past a sheet's row limit.
// distinct alternates two rows, so that every cell is formatted; repeated
// writes one row, whose cells the writer formats once (a join's side
// repeated for each row of the other).
func BenchmarkXLSXWriteRow(b *testing.B) {
	cols, rawRow := benchRow()
	berlin := mustLoc(b, "Europe/Berlin")
	b.Run("distinct", func(b *testing.B) { benchRows(b, "xlsx", cols, rawRow, time.UTC, berlin, OtherBenchRow()) })
	b.Run("repeated", func(b *testing.B) { benchRows(b, "xlsx", cols, rawRow, time.UTC, berlin) })
}

func pathFor(format string) string {
	if format != "xlsx" {
		return "{job}-{dataset}"
	}
	return "{job}"
}

// BenchmarkAsyncWriteRow is the hand-over of one row to an xlsx writer's
// goroutine: the copy on the caller's side and the reading back on the
// writer's (here a writer that does nothing).
func BenchmarkAsyncWriteRow(b *testing.B) {
	cols, rawRow := benchRow()
	n := NewNormalizer(cols, time.UTC, mustLoc(b, "Europe/Berlin"))
	vals := make([]Value, len(cols))
	if err := n.Normalize(rawRow, vals); err != nil {
		b.Fatal(err)
	}
	a := AsyncAll([]RowWriter{NopWriter{}}, len(cols))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.WriteRow(vals); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(cols)), "ns/cell")
}

// BenchmarkAppendISO is one DATETIME as CSV and JSON Lines write it, in a
// zone with daylight saving and with milliseconds.
func BenchmarkAppendISO(b *testing.B) {
	tm := time.Date(2024, 3, 1, 9, 15, 0, 250000000, time.UTC).In(mustLoc(b, "Europe/Berlin"))
	buf, layout := make([]byte, 0, 64), ISOLayout(3)
	for b.Loop() {
		buf = AppendISO(buf[:0], tm, 3, layout)
	}
}

// BenchmarkCommit times Dir.Commit alone for a run of two outputs (a
// workbook with a latest link, and two csv files with latest copies) that
// replaces the run of its logical time: staging the manifest and latest
// names, the journal, the renames, the syncs. The reports' own writing and
// syncing (Prepare) is not timed; it was there before the journal. On a
// real disk, since the syncs are most of it.
func BenchmarkCommit(b *testing.B) {
	dir, err := os.MkdirTemp(".", ".bench-commit-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d := testDir(b, dir)
	cols := []Column{{Name: "v", Kind: KindText}}
	stageRun := func() []Report {
		var reps []Report
		for _, spec := range commitSpecs {
			r, err := formats.Default().Open(spec, d, Vars{Job: "j", Logical: day(1), Location: time.UTC})
			if err != nil {
				b.Fatal(err)
			}
			for _, ds := range commitDatasets {
				w, _ := r.Dataset(ds, cols)
				w.WriteRow([]Value{{Raw: []byte("x")}})
				w.Close()
			}
			if err := r.Prepare(); err != nil {
				b.Fatal(err)
			}
			reps = append(reps, r)
		}
		return reps
	}
	for b.Loop() {
		b.StopTimer()
		reps := stageRun()
		b.StartTimer()
		if _, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: day(1)}, Reports: reps}); err != nil {
			b.Fatal(err)
		}
	}
}
