package tsvw

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/output"
)

// write writes rows of cols as one dataset d of a tsv output with spec
// and returns the file's bytes.
func write(t *testing.T, spec output.Spec, cols []output.Column, rows [][]output.Value) []byte {
	t.Helper()
	d, err := output.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	logical := time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC)
	r, err := output.NewRegistry(Format{}).Open(spec, d, output.Vars{Job: "j", Logical: logical, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Abort()
	w, err := r.Dataset("d", cols)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if err := w.WriteRow(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Prepare(); err != nil {
		t.Fatal(err)
	}
	c, err := d.Commit(output.Commit{Manifest: &output.Manifest{Job: "j", Logical: logical, Started: time.Now()}, Reports: []output.Report{r}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != 1 {
		t.Fatalf("wrote %d files, want 1", len(c.Files))
	}
	b, err := os.ReadFile(c.Files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Gzip {
		if !strings.HasSuffix(c.Files[0].Path, ".tsv.gz") {
			t.Errorf("file %s, want .tsv.gz", c.Files[0].Path)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// TestTSVEscapes: the exact bytes, with every escape, NULL, a formula and
// the typed kinds.
func TestTSVEscapes(t *testing.T) {
	cols := []output.Column{
		{Name: "id", Kind: output.KindInt},
		{Name: "text\tlabel", Kind: output.KindText},
		{Name: "day", Kind: output.KindDate},
		{Name: "bin", Kind: output.KindBinary},
	}
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	rows := [][]output.Value{
		{{Raw: []byte("1")}, {Raw: []byte("a\tb\nc\r\\d")}, {Raw: []byte("2024-02-29"), Time: day}, {Raw: []byte{0xCA, 0xFE}}},
		{{Raw: []byte("2")}, {Null: true}, {Null: true}, {Raw: []byte{}}},
		{{Raw: []byte("-3")}, {Raw: []byte("=1+1")}, {Raw: []byte("0000-00-00"), Literal: true}, {Null: true}},
		{{Raw: []byte("4")}, {Raw: []byte("bad \xff")}, {Raw: []byte("2024-02-29"), Time: day}, {Raw: []byte{0}}},
	}
	got := string(write(t, output.Spec{Format: "tsv", Path: "{dataset}"}, cols, rows))
	want := "id\ttext\\tlabel\tday\tbin\n" +
		"1\ta\\tb\\nc\\r\\\\d\t2024-02-29\tCAFE\n" +
		"2\t\t\t\n" +
		"-3\t'=1+1\t0000-00-00\t\n" +
		"4\tbad \uFFFD\t2024-02-29\t00\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// unescape reads a field back: \\, \t, \n and \r.
func unescape(s string) string {
	return strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(s)
}

// TestTSVRoundTrip: random text with tabs, line breaks and backslashes
// reads back as written, field by field, gzipped too.
func TestTSVRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 6))
	alphabet := []string{"a", "b", "\t", "\n", "\r", "\\", "\\t", "\\n", "ü", "€", " ", `"`, "'"}
	cols := []output.Column{{Name: "a", Kind: output.KindText}, {Name: "b", Kind: output.KindText}}
	var rows [][]output.Value
	var want [][2]string
	for range 500 {
		var f [2]string
		for k := range f {
			var b strings.Builder
			b.WriteString("x") // no formula apostrophe
			for range rng.IntN(12) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			f[k] = b.String()
		}
		want = append(want, f)
		rows = append(rows, []output.Value{{Raw: []byte(f[0])}, {Raw: []byte(f[1])}})
	}
	for _, gz := range []bool{false, true} {
		got := string(write(t, output.Spec{Format: "tsv", Path: "{dataset}", Gzip: gz}, cols, rows))
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if len(lines) != len(want)+1 || lines[0] != "a\tb" {
			t.Fatalf("gzip %v: %d lines, header %q", gz, len(lines), lines[0])
		}
		for i, line := range lines[1:] {
			fields := strings.Split(line, "\t")
			if len(fields) != 2 || unescape(fields[0]) != want[i][0] || unescape(fields[1]) != want[i][1] {
				t.Fatalf("gzip %v, row %d: %q, want %q", gz, i+1, fields, want[i])
			}
		}
	}
}

// TestTSVWriteRowNoAllocs: a row costs no allocation once the buffers
// have grown.
func TestTSVWriteRowNoAllocs(t *testing.T) {
	d, err := output.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, err := output.NewRegistry(Format{}).Open(output.Spec{Format: "tsv", Path: "x"}, d, output.Vars{Job: "j", Logical: time.Now(), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Abort()
	w, err := r.Dataset("d", []output.Column{{Name: "n", Kind: output.KindInt}, {Name: "s", Kind: output.KindText}})
	if err != nil {
		t.Fatal(err)
	}
	row := []output.Value{{Raw: []byte("42")}, {Raw: []byte("tab\there")}}
	if n := testing.AllocsPerRun(1000, func() { _ = w.WriteRow(row) }); n != 0 {
		t.Errorf("%v allocations per row, want 0", n)
	}
}
