package csvw

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/output"
)

// open opens a csv report in a folder of its own; commit commits it as
// its run's only report.
func open(t *testing.T, spec output.Spec) (output.Report, func() []output.File) {
	t.Helper()
	d, err := output.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	r, err := output.NewRegistry(Format{}).Open(spec, d, output.Vars{Job: "j", Logical: time.Now(), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Abort() })
	return r, func() []output.File {
		if err := r.Prepare(); err != nil {
			t.Fatal(err)
		}
		c, err := d.Commit(output.Commit{Manifest: &output.Manifest{Job: "j", Logical: time.Now(), Started: time.Now()}, Reports: []output.Report{r}})
		if err != nil {
			t.Fatal(err)
		}
		return c.Files
	}
}

// TestCSVLongValues: records larger than the writer's chunk come out whole
// among ordinary ones, and the buffer they grew is not kept.
func TestCSVLongValues(t *testing.T) {
	r, commit := open(t, output.Spec{Format: "csv", Path: "x"})
	cols := []output.Column{{Name: "n", Kind: output.KindInt}, {Name: "text", Kind: output.KindText}}
	w, err := r.Dataset("d", cols)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"n", "text"}}
	for i := range 200 {
		text := fmt.Sprintf("row %d, short", i)
		if i%50 == 7 {
			text = strings.Repeat(`long "quoted", `, 3<<20/15+i) // about 3 MB
		}
		want = append(want, []string{strconv.Itoa(i), text})
		if err := w.WriteRow([]output.Value{{Raw: []byte(strconv.Itoa(i))}, {Raw: []byte(text)}}); err != nil {
			t.Fatal(err)
		}
		if c := cap(w.(*csvWriter).buf); c > csvKeep+3<<20+csvChunk {
			t.Fatalf("after row %d the writer keeps %d bytes of buffer", i, c)
		}
	}
	if c := cap(w.(*csvWriter).buf); c > csvKeep {
		t.Errorf("the writer keeps %d bytes of buffer after the long records, want at most %d", c, csvKeep)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(commit()[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i][0] != want[i][0] || got[i][1] != want[i][1] {
			t.Fatalf("record %d: got %.60q, want %.60q", i, got[i], want[i])
		}
	}
}

// TestCSVQuotingEveryPosition: a field is quoted exactly when it holds a
// quote, CR, LF or the delimiter, wherever that byte is (the writer looks
// at words of eight bytes, the last overlapping), and the bytes that only
// look alike to that test (tab, other control bytes, UTF-8) leave it plain;
// a plain field is reported as ASCII exactly when it is.
func TestCSVQuotingEveryPosition(t *testing.T) {
	for _, delim := range []string{",", ";", "\t"} {
		r, _ := open(t, output.Spec{Format: "csv", Path: "q", Delimiter: delim})
		dw, err := r.Dataset("d", []output.Column{{Name: "x", Kind: output.KindText}})
		if err != nil {
			t.Fatal(err)
		}
		w := dw.(*csvWriter)
		for n := 1; n <= 40; n++ {
			for pos := range n {
				for _, c := range []byte{'"', '\r', '\n', ',', ';', '\t', 0x01, 0x0D + 1, 0x7F, 0xC3, 0x80 | '"'} {
					field := bytes.Repeat([]byte{'a'}, n)
					field[pos] = c
					want := bytes.ContainsAny(field, "\"\r\n"+delim)
					got, ascii := w.appendField(nil, field, false)
					if quoted := got[0] == '"'; quoted != want {
						t.Fatalf("delimiter %q, %q: quoted %v, want %v", delim, field, quoted, want)
					}
					if ascii && c >= 0x80 {
						t.Fatalf("delimiter %q, %q: reported as ASCII", delim, field)
					}
					if !ascii && !want && c < 0x80 {
						t.Fatalf("delimiter %q, %q: plain ASCII not reported as such", delim, field)
					}
					if want {
						unq := strings.ReplaceAll(string(got[1:len(got)-1]), `""`, `"`)
						if unq != string(field) {
							t.Fatalf("delimiter %q, %q: got %q", delim, field, got)
						}
					}
				}
			}
		}
		_ = r.Abort()
	}
}
