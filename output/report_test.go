package output_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

func TestExpand(t *testing.T) {
	tokyo := mustLoc(t, "Asia/Tokyo")
	// Parameter values are made safe for a file name as {job} is (and
	// lose control characters), lists are joined with ",", date-times
	// written as {from} writes them, in the report's zone.
	vars := Vars{Job: "nightly", Dataset: "users", Logical: time.Date(2024, 3, 1, 23, 4, 5, 0, time.UTC), Location: tokyo, Params: []Param{
		{Name: "country", Type: "string", Value: "DE"},
		{Name: "path", Type: "string", Value: "../a/b\\c\n"},
		{Name: "dots", Type: "string", Value: ".."},
		{Name: "empty", Type: "string", Value: ""},
		{Name: "n", Type: "int", Value: int64(-42)},
		{Name: "ok", Type: "bool", Value: true},
		{Name: "amount", Type: "decimal", Value: "12.50"},
		{Name: "day", Type: "date", Value: "2026-11-01"},
		{Name: "midnight", Type: "datetime", Value: time.Date(2026, 11, 1, 0, 0, 0, 0, tokyo)},
		{Name: "at", Type: "datetime", Value: time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)},
		{Name: "list", Type: "list<string>", Value: []any{"DE", "FR", "a/b"}},
		{Name: "days", Type: "list<date>", Value: []any{"2026-11-01", "2026-11-02"}},
	}}
	tests := []struct {
		tmpl, want, wantErr string
	}{
		{tmpl: "{job}/{dataset}-{date}", want: "nightly/users-2024-03-02"},
		{tmpl: "x_{time}_{datetime}.csv", want: "x_080405_20240302T080405.csv"},
		{tmpl: "plain.csv", want: "plain.csv"},
		{tmpl: "{jobs}", wantErr: "unknown field {jobs}"},
		{tmpl: "{job", wantErr: "unclosed {"},
		{tmpl: "job}", wantErr: "unexpected }"},
		{tmpl: "{}", wantErr: "unknown field {}"},
		{tmpl: "{job}/{param.country}/{date}.csv", want: "nightly/DE/2024-03-02.csv"},
		{tmpl: "{param.path}", want: ".._a_b_c_"},
		{tmpl: "{param.dots}/{param.empty}", want: "_../_"},
		{tmpl: "{param.n}-{param.ok}-{param.amount}-{param.day}", want: "-42-true-12.50-2026-11-01"},
		{tmpl: "{param.midnight}_{param.at}", want: "2026-11-01_2026-11-01T153000"},
		{tmpl: "{param.list}_{param.days}", want: "DE,FR,a_b_2026-11-01,2026-11-02"},
		{tmpl: "{param.missing}", wantErr: `path "{param.missing}": {param.missing}: the run has no parameter missing`},
		{tmpl: "{param.}", wantErr: "want {param.NAME}"},
		{tmpl: "{param.a-b}", wantErr: "want {param.NAME}"},
		{tmpl: "{params.a}", wantErr: "unknown field {params.a}"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			got, err := Expand(tt.tmpl, vars)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	got, err := Expand("{job}/{dataset}", Vars{Job: "../etc", Dataset: ".."})
	if err != nil || got != ".._etc/_.." {
		t.Errorf("separators in names: got %q, %v", got, err)
	}
}

// TestParamFields checks what {param.NAME} cannot show in TestExpand's
// table: which names a template uses, and that CheckTemplate accepts it.
func TestParamFields(t *testing.T) {
	if got := ParamFields("{param.b}/{job}-{param.a}-{param.b}"); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("ParamFields = %q", got)
	}
	if err := CheckTemplate(formats.Default(), Spec{Format: "csv", Path: "{job}/{param.country}/{dataset}-{date}"}, 2); err != nil {
		t.Errorf("CheckTemplate: %v", err)
	}
}

// TestExpandRepeatedWallClock names the two copies of Berlin's repeated
// 02:00 apart: the first as any time, the second with its offset, in every
// field that holds a time.
func TestExpandRepeatedWallClock(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	first := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC) // 02:00 CEST
	second := first.Add(time.Hour)                         // 02:00 CET
	tmpl := "{date}_{time}_{datetime}_{from}_{to}_{run}"
	for _, tt := range []struct {
		logical, from, to time.Time
		want              string
	}{
		{first, first.Add(-time.Hour), first, "2026-10-25_020000_20261025T020000_2026-10-25T010000_2026-10-25T020000_20261025T020000"},
		{second, first, second, "2026-10-25_020000+0100_20261025T020000+0100_2026-10-25T020000_2026-10-25T020000+0100_20261025T020000+0100"},
		{second.Add(time.Hour), second, second.Add(time.Hour), "2026-10-25_030000_20261025T030000_2026-10-25T020000+0100_2026-10-25T030000_20261025T030000"},
	} {
		got, err := Expand(tmpl, Vars{Logical: tt.logical, WindowStart: tt.from, WindowEnd: tt.to, RunTime: tt.logical, Location: berlin})
		if err != nil || got != tt.want {
			t.Errorf("logical %s: got %q, %v; want %q", tt.logical, got, err, tt.want)
		}
	}
}

func TestCheckTemplate(t *testing.T) {
	tests := []struct {
		name     string
		spec     Spec
		datasets int
		wantErr  string
	}{
		{"csv one dataset", Spec{Format: "csv", Path: "{job}/{date}.csv"}, 1, ""},
		{"csv many datasets", Spec{Format: "csv", Path: "{job}/{dataset}_{date}"}, 3, ""},
		{"csv txt", Spec{Format: "csv", Path: "{dataset}.txt"}, 1, ""},
		{"xlsx", Spec{Format: "xlsx", Path: "reports/{job}-{datetime}.xlsx"}, 3, ""},
		{"xlsx no extension", Spec{Format: "xlsx", Path: "reports/{job}"}, 3, ""},
		{"csv many datasets without dataset", Spec{Format: "csv", Path: "{job}.csv"}, 2, "must contain {dataset}"},
		{"xlsx with dataset", Spec{Format: "xlsx", Path: "{dataset}.xlsx"}, 1, "must not contain {dataset}"},
		{"unknown field", Spec{Format: "csv", Path: "{day}.csv"}, 1, "unknown field {day}"},
		{"bad format", Spec{Format: "XLS", Path: "a"}, 1, `format "XLS"`},
		{"empty format", Spec{Path: "a"}, 1, "want csv, xlsx, jsonl or tsv"},
		{"empty path", Spec{Format: "csv"}, 1, "path is empty"},
		{"absolute", Spec{Format: "csv", Path: "/tmp/{job}.csv"}, 1, "inside output_dir"},
		{"dot dot", Spec{Format: "csv", Path: "../{job}.csv"}, 1, "inside output_dir"},
		{"dot dot inside", Spec{Format: "csv", Path: "a/../../{job}.csv"}, 1, "inside output_dir"},
		{"folder only", Spec{Format: "csv", Path: "a/"}, 1, "inside output_dir"},
		{"wrong extension", Spec{Format: "xlsx", Path: "{job}.csv"}, 1, "extension .csv does not match format xlsx"},
		{"extension from field", Spec{Format: "csv", Path: "{job}.{date}"}, 1, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTemplate(formats.Default(), tt.spec, tt.datasets)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

// entries lists every file under dir, relative, with its content.
func entries(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return nil
	})
	return out
}

func TestAtomicity(t *testing.T) {
	cols := []Column{{Name: "n", Kind: KindInt}}
	vars := Vars{Job: "j", Logical: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
	for _, format := range []string{"csv", "xlsx"} {
		spec := Spec{Format: format, Path: "out/" + format + "-{job}"}
		if format == "csv" {
			spec.Path += "-{dataset}"
		}
		tests := []struct {
			name string
			run  func(t *testing.T, r *testReport) // must leave the report failed or aborted
		}{
			{"abort after rows", func(t *testing.T, r *testReport) {
				w, err := r.Dataset("d", cols)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.WriteRow([]Value{{Raw: []byte("2")}}); err != nil {
					t.Fatal(err)
				}
				if err := r.Abort(); err != nil {
					t.Fatal(err)
				}
			}},
			{"abort with the writer open", func(t *testing.T, r *testReport) {
				if _, err := r.Dataset("d", cols); err != nil {
					t.Fatal(err)
				}
				if err := r.Abort(); err != nil {
					t.Fatal(err)
				}
			}},
			{"row writer error then commit", func(t *testing.T, r *testReport) {
				w, err := r.Dataset("d", cols)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.WriteRow([]Value{{}, {}}); err == nil {
					t.Fatal("got no error for a row of the wrong length")
				}
				if err := w.Close(); err == nil {
					t.Fatal("Close: got no error after a failed row")
				}
				if _, err := r.Commit(); err == nil {
					t.Fatal("Commit: got no error after a failed dataset")
				}
			}},
			{"prepared, then another output fails", func(t *testing.T, r *testReport) {
				w, err := r.Dataset("d", cols)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.WriteRow([]Value{{Raw: []byte("2")}}); err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if err := r.Prepare(); err != nil {
					t.Fatal(err)
				}
				// The runner aborts every output when one fails to prepare.
				if err := r.Abort(); err != nil {
					t.Fatal(err)
				}
			}},
			{"commit with an open dataset", func(t *testing.T, r *testReport) {
				if _, err := r.Dataset("d", cols); err != nil {
					t.Fatal(err)
				}
				if _, err := r.Commit(); err == nil {
					t.Fatal("Commit: got no error with a dataset open")
				}
				if err := r.Abort(); err != nil {
					t.Fatal(err)
				}
			}},
		}
		for _, tt := range tests {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				// A previous run's report must survive a failed one.
				first := writeReport(t, spec, dir, vars, []testDataset{{name: "d", cols: cols, rows: [][]sql.RawBytes{raw("1")}}})
				before := entries(t, dir)
				r, err := openT(spec, dir, vars)
				if err != nil {
					t.Fatal(err)
				}
				tt.run(t, r)
				if err := r.Abort(); err != nil {
					t.Errorf("second Abort: %v", err)
				}
				after := entries(t, dir)
				if len(after) != len(before) || after[mustRel(t, dir, first[0])] != before[mustRel(t, dir, first[0])] {
					t.Errorf("files changed: before %d files, after %d: %v", len(before), len(after), keys(after))
				}
				assertNoTemps(t, dir)
			})
		}
	}
}

func mustRel(t *testing.T, dir, p string) string {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestOpenFailures(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := Vars{Job: "j", Logical: time.Now()}
	// A destination folder that cannot be created.
	if _, err := openT(Spec{Format: "xlsx", Path: "file/{job}"}, dir, vars); err == nil {
		t.Error("xlsx under a file: got no error")
	}
	r, err := openT(Spec{Format: "csv", Path: "file/{dataset}"}, dir, vars)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Dataset("d", []Column{{Name: "n"}}); err == nil {
		t.Error("csv under a file: got no error")
	}
	if err := r.Abort(); err != nil {
		t.Error(err)
	}
	if _, err := openT(Spec{Format: "csv", Path: "../x"}, dir, vars); err == nil {
		t.Error("path outside dir: got no error")
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		if _, err := openT(Spec{Format: "xlsx", Path: "r"}, ro, vars); err == nil {
			t.Error("read-only folder: got no error")
		}
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("got files %v, want only the blocker", keys(got))
	}
}

func TestReportMisuse(t *testing.T) {
	dir := t.TempDir()
	cols := []Column{{Name: "n", Kind: KindInt}}
	r, err := openT(Spec{Format: "csv", Path: "{dataset}"}, dir, Vars{Job: "j", Logical: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.Dataset("a", cols)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Dataset("b", cols); err == nil {
		t.Error("second dataset while the first is open: got no error")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.Dataset("a", cols); err == nil {
		t.Error("same dataset twice: got no error")
	}
	if _, err := r.Dataset("c", nil); err == nil {
		t.Error("no columns: got no error")
	}
	files, err := r.Commit()
	if err != nil || len(files) != 1 {
		t.Fatalf("Commit: %q, %v", files, err)
	}
	if _, err := r.Commit(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Commit: got %v, want ErrClosed", err)
	}
	if err := r.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if _, err := os.Stat(files[0]); err != nil {
		t.Errorf("Abort after Commit removed the report: %v", err)
	}
}

// TestLatestFailureIsAWarning: once the report is renamed into place, a
// latest link that cannot be updated must not fail the run.
func TestLatestFailureIsAWarning(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Format: "csv", Path: "{job}-{date}.csv", Latest: "{job}-latest.csv"}
	// A non-empty folder where the latest link should go cannot be replaced.
	if err := os.MkdirAll(filepath.Join(dir, "j-latest.csv", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	vars := Vars{Job: "j", Logical: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
	r, err := openT(spec, dir, vars)
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.Dataset("d", []Column{{Name: "n", Kind: KindInt}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	paths, err := r.Commit()
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if len(paths) != 1 {
		t.Fatalf("paths = %v", paths)
	}
	if _, err := os.Stat(paths[0]); err != nil {
		t.Errorf("report not in place: %v", err)
	}
	warns := strings.Join(r.Warnings(), "\n")
	if !strings.Contains(warns, "latest") || !strings.Contains(warns, "not updated") || !strings.Contains(warns, "folder") {
		t.Errorf("warnings = %q, want one about latest", warns)
	}
}
