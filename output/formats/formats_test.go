package formats_test

import (
	"strings"
	"testing"

	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

// TestDefault: every format is listed once, by name, with extensions of
// its own, and names itself in the registry's messages.
func TestDefault(t *testing.T) {
	reg := formats.Default()
	if got, want := reg.List("or"), "csv, xlsx, jsonl or tsv"; got != want {
		t.Errorf("List = %q, want %q", got, want)
	}
	exts := make(map[string]string)
	for _, name := range []string{"csv", "xlsx", "jsonl", "tsv"} {
		f, err := reg.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name() != name || len(f.Extensions()) == 0 {
			t.Errorf("%s: name %q, extensions %q", name, f.Name(), f.Extensions())
		}
		for _, e := range f.Extensions() {
			if other, dup := exts[e]; dup {
				t.Errorf("%s: extension %s is %s's too", name, e, other)
			}
			exts[e] = name
		}
	}
	if _, err := reg.Lookup("pdf"); err == nil || err.Error() != `format "pdf": want csv, xlsx, jsonl or tsv` {
		t.Errorf("Lookup(pdf) = %v", err)
	}
	if f, _ := reg.Lookup("xlsx"); !f.Async() || !f.PerJob() {
		t.Error("xlsx: want a file per job, on a goroutine of its own")
	}
}

// TestTSVValidation: tsv takes gzip and labels; csv's and xlsx's options
// are errors naming their format.
func TestTSVValidation(t *testing.T) {
	reg := formats.Default()
	ok := output.Spec{Format: "tsv", Path: "{job}/{dataset}.tsv", Gzip: true, Latest: "{job}/latest-{dataset}", Binary: "base64",
		Columns: []output.ColumnSpec{{Name: "id", Label: "ID"}}}
	if errs := reg.Validate(ok, 2); len(errs) > 0 {
		t.Errorf("%+v: %v", ok, errs)
	}
	if paths, err := reg.SamplePaths(ok, "j", []string{"a", "b"}); err != nil || len(paths) != 2 || paths[0] != "j/a.tsv.gz" {
		t.Errorf("SamplePaths = %q, %v", paths, err)
	}
	bad := output.Spec{Format: "tsv", Path: "{job}.csv", Delimiter: ";", Decimals: "number",
		Columns: []output.ColumnSpec{{Name: "id", Width: 10}}}
	var got []string
	for _, err := range reg.Validate(bad, 1) {
		got = append(got, err.Error())
	}
	want := []string{
		`path: "{job}.csv": path "{job}.csv": extension .csv does not match format tsv (want .tsv)`,
		"delimiter: is a csv option; this output is tsv",
		"decimals: is an xlsx option; this output is tsv",
		"columns.id: format, width, hidden and decimals are xlsx settings; a tsv output takes only label",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
