package output_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	. "github.com/joinery/joinery/output"
)

// TestInvalidUTF8 writes text values holding invalid UTF-8 (a latin1
// byte, a cut sequence, a stray continuation byte) in every format: each
// bad byte comes out as U+FFFD, the files are valid UTF-8, and the warning
// counts exactly the values and bytes that changed and names the first.
func TestInvalidUTF8(t *testing.T) {
	cols := []Column{{Name: "id", Kind: KindInt}, {Name: "name", Kind: KindText}, {Name: "note", Kind: KindText}}
	rows := [][]any{
		{"1", "caf\xe9", "fine"},
		{"2", "ok", "\xe2\x82 x, \x80"}, // quoted in csv
		{"3", "Zoë", "😀"},
		{"4", nil, ""},
	}
	want := [][]string{
		{"1", "caf\uFFFD", "fine"},
		{"2", "ok", "\uFFFD\uFFFD x, \uFFFD"},
		{"3", "Zoë", "😀"},
		{"4", "", ""},
	}
	ds := testDataset{name: "d", cols: cols, dbLoc: time.UTC}
	for _, r := range rows {
		ds.rows = append(ds.rows, raw(r...))
	}
	readCSV := func(comma rune) func(t *testing.T, path string) [][]string {
		return func(t *testing.T, path string) [][]string {
			f, _ := os.Open(path)
			defer f.Close()
			r := csv.NewReader(f)
			r.Comma = comma
			recs, err := r.ReadAll()
			if err != nil || len(recs) == 0 {
				t.Fatalf("%v, %d records", err, len(recs))
			}
			return recs[1:]
		}
	}
	const csvWarning = "dataset d: csv: 2 text values had 4 bytes of invalid UTF-8, written as U+FFFD (the first in row 1, column name)"
	tests := []struct {
		name    string
		spec    Spec
		Warning string
		read    func(t *testing.T, path string) [][]string
	}{
		{"csv", Spec{Format: "csv", Path: "{dataset}"}, csvWarning, readCSV(',')},
		{"csv quote_all", Spec{Format: "csv", Path: "{dataset}", QuoteAll: true}, csvWarning, readCSV(',')},
		{"csv delimiter ¦", Spec{Format: "csv", Path: "{dataset}", Delimiter: "¦"}, csvWarning, readCSV('¦')},
		{"jsonl", Spec{Format: "jsonl", Path: "{dataset}"}, "dataset d: jsonl: 2 text values had 4 bytes of invalid UTF-8, written as U+FFFD (the first in row 1, column name)",
			func(t *testing.T, path string) [][]string {
				f, _ := os.Open(path)
				defer f.Close()
				var out [][]string
				for s := bufio.NewScanner(f); s.Scan(); {
					d := json.NewDecoder(strings.NewReader(s.Text()))
					d.UseNumber()
					var m map[string]any
					if err := d.Decode(&m); err != nil {
						t.Fatalf("%v: %q", err, s.Text())
					}
					var rec []string
					for _, k := range []string{"id", "name", "note"} {
						if m[k] == nil {
							rec = append(rec, "")
						} else {
							rec = append(rec, fmt.Sprint(m[k]))
						}
					}
					out = append(out, rec)
				}
				return out
			}},
		{"xlsx", Spec{Format: "xlsx", Path: "r"}, "dataset d: xlsx: 2 text values had 4 bytes of invalid UTF-8, written as U+FFFD (the first in d!B2)",
			func(t *testing.T, path string) [][]string {
				f, err := excelize.OpenFile(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				rows, _ := f.GetRows("d")
				for i := range rows {
					for len(rows[i]) < 3 {
						rows[i] = append(rows[i], "")
					}
				}
				return rows[1:]
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, r := writeReportR(t, tt.spec, t.TempDir(), Vars{Job: "j", Logical: time.Now()}, []testDataset{ds})
			if tt.spec.Format != "xlsx" {
				b, _ := os.ReadFile(files[0])
				if !utf8.Valid(b) {
					t.Errorf("not valid UTF-8: %q", b)
				}
			}
			if got := tt.read(t, files[0]); !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("got %q, want %q", got, want)
			}
			if got := r.Warnings(); !slices.Equal(got, []string{tt.Warning}) {
				t.Errorf("warnings %q\nwant [%q]", got, tt.Warning)
			}
		})
	}
}

// TestValidUTF8 compares validUTF8 with utf8.Valid on every sequence of up
// to three bytes from a set of interesting ones (ASCII, continuation bytes,
// every kind of lead byte, the edges of the surrogates and of U+10FFFF),
// at every offset around a word of ASCII.
func TestValidUTF8(t *testing.T) {
	interesting := []byte{'a', 0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF}
	var seqs [][]byte
	for _, a := range interesting {
		seqs = append(seqs, []byte{a})
		for _, b := range interesting {
			seqs = append(seqs, []byte{a, b})
			for _, c := range interesting {
				seqs = append(seqs, []byte{a, b, c})
			}
		}
	}
	seqs = append(seqs, []byte("😀"), []byte("\xf4\x8f\xbf\xbf"), []byte("\xf4\x90\x80\x80"), []byte("\xed\x9f\xbf"), []byte("\xed\xa0\x80"))
	for _, seq := range seqs {
		for pre := range 10 {
			for post := range 10 {
				b := slices.Concat([]byte(strings.Repeat("x", pre)), seq, []byte(strings.Repeat("y", post)))
				if got, want := ValidUTF8(b), utf8.Valid(b); got != want {
					t.Fatalf("validUTF8(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}
