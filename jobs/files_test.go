package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// twoDatasets has one dataset with rows and one without.
const twoDatasets = `      full:
        from: users u
        select: [u.id, u.name]
        order_by: [u.id]
      none:
        from: users u
        select: [u.id]
        where: [{column: u.id, op: "<", value: 0}]
`

func TestEmptyResultPolicies(t *testing.T) {
	outputs := `
      - {format: xlsx, path: "{job}.xlsx"}
      - {format: csv, path: "{dataset}.csv"}
      - {format: jsonl, path: "{dataset}.jsonl"}`
	at := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	run := func(t *testing.T, policy string) (*jobs.Result, string) {
		yaml := strings.Replace(oneJob(twoDatasets, outputs), "    datasets:", "    on_empty: "+policy+"\n    datasets:", 1)
		r, _ := setup(t, yaml)
		return r.Run(context.Background(), &r.Config.Jobs[0], at), r.Config.OutputPath()
	}
	t.Run("write", func(t *testing.T) {
		res, dir := run(t, "write")
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "none.csv")); string(got) != "id\r\n" {
			t.Errorf("none.csv = %q, want the header only", got)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "none.jsonl")); err != nil || len(got) != 0 {
			t.Errorf("none.jsonl = %q, %v; want an empty file", got, err)
		}
		f, err := excelize.OpenFile(filepath.Join(dir, "j.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := f.GetSheetList(); !slices.Equal(got, []string{"full", "none", "About"}) {
			t.Errorf("sheets = %q", got)
		}
	})
	t.Run("skip", func(t *testing.T) {
		res, dir := run(t, "skip")
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		for _, name := range []string{"none.csv", "none.jsonl"} {
			if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %v, want no file", name, err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "full.csv")); err != nil {
			t.Error(err)
		}
		f, err := excelize.OpenFile(filepath.Join(dir, "j.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := f.GetSheetList(); !slices.Equal(got, []string{"full", "About"}) {
			t.Errorf("sheets = %q, want the empty dataset left out", got)
		}
		if len(res.Files) != 3 {
			t.Errorf("files = %q, want the workbook, full.csv and full.jsonl", res.Files)
		}
	})
	t.Run("fail", func(t *testing.T) {
		res, dir := run(t, "fail")
		if !errors.Is(res.Err, jobs.ErrEmpty) || !strings.Contains(res.Err.Error(), "dataset none") {
			t.Fatalf("err = %v, want ErrEmpty naming dataset none", res.Err)
		}
		// Only joinery's state folder (the job's commit lock).
		if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != output.StateDir {
			t.Errorf("output_dir holds %v, want only %s", entries, output.StateDir)
		}
	})
}

func TestManifestRetentionLatest(t *testing.T) {
	yaml := strings.Replace(oneJob(twoDatasets, `
      - {format: xlsx, path: "{job}/{date}/{job}-{date}.xlsx", latest: "{job}/latest.xlsx"}
      - {format: csv, path: "{job}/{date}/{dataset}.csv", latest: "{job}/{dataset}-latest.csv", latest_mode: copy}`),
		"    datasets:", "    retention: {keep: 2}\n    datasets:", 1)
	r, _ := setup(t, yaml)
	r.Version = "v1.2.3"
	dir := r.Config.OutputPath()
	mine := filepath.Join(dir, "j", "2026-11-01", "notes.txt")
	var results []*jobs.Result
	for day := 1; day <= 4; day++ {
		if day == 2 {
			os.WriteFile(mine, []byte("not joinery's"), 0o644)
		}
		res := r.Run(context.Background(), &r.Config.Jobs[0], time.Date(2026, 11, day, 6, 0, 0, 0, time.UTC))
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		results = append(results, res)
	}

	t.Run("manifest", func(t *testing.T) {
		res := results[3]
		if filepath.Dir(res.Manifest) != filepath.Join(dir, "j", "2026-11-04") || !strings.HasSuffix(res.Manifest, ".manifest.json") {
			t.Fatalf("manifest at %s, want beside the run's files", res.Manifest)
		}
		m := readManifest(t, res.Manifest)
		if m.Job != "j" || m.Version != "v1.2.3" || !m.Logical.Equal(time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC)) || m.Duration <= 0 {
			t.Errorf("manifest header: %+v", m)
		}
		if len(m.Datasets) != 2 || m.Datasets[0].Name != "full" || m.Datasets[0].Rows == 0 || len(m.Datasets[0].SQLSHA256) != 64 ||
			m.Datasets[0].SQLSHA256 == m.Datasets[1].SQLSHA256 {
			t.Errorf("datasets: %+v", m.Datasets)
		}
		wantPaths := []string{"j/2026-11-04/j-2026-11-04.xlsx", "j/2026-11-04/full.csv", "j/2026-11-04/none.csv"}
		if len(m.Files) != len(wantPaths) {
			t.Fatalf("files: %+v", m.Files)
		}
		for i, f := range m.Files {
			body, err := os.ReadFile(filepath.Join(dir, f.Path))
			if err != nil || f.Path != wantPaths[i] || f.Size != int64(len(body)) || f.SHA256 != output.SQLHash(string(body)) {
				t.Errorf("file %d: %+v (read %d bytes, %v)", i, f, len(body), err)
			}
		}
		if m.Files[0].Rows != m.Datasets[0].Rows || m.Files[0].Latest != "j/latest.xlsx" || m.Files[1].Rows != m.Datasets[0].Rows {
			t.Errorf("rows or latest: %+v", m.Files)
		}
	})

	t.Run("latest", func(t *testing.T) {
		target, err := os.Readlink(filepath.Join(dir, "j", "latest.xlsx"))
		if err != nil || target != filepath.Join("2026-11-04", "j-2026-11-04.xlsx") {
			t.Errorf("latest.xlsx -> %q, %v", target, err)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "j", "full-latest.csv"))
		want, _ := os.ReadFile(filepath.Join(dir, "j", "2026-11-04", "full.csv"))
		if len(got) == 0 || string(got) != string(want) {
			t.Errorf("full-latest.csv is not a copy of the newest full.csv")
		}
	})

	t.Run("retention keeps 2 runs and what joinery did not write", func(t *testing.T) {
		for _, d := range []string{"2026-11-02"} {
			if _, err := os.Stat(filepath.Join(dir, "j", d)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("folder of run %s: %v, want it gone", d, err)
			}
		}
		for _, p := range []string{results[2].Manifest, results[3].Manifest, mine, filepath.Join(dir, "j", "latest.xlsx")} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%v, want it kept", err)
			}
		}
		for _, p := range []string{results[0].Manifest, filepath.Join(dir, "j", "2026-11-01", "full.csv")} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %v, want it deleted", p, err)
			}
		}
	})
}

func TestOutputOptionErrorsNameTheField(t *testing.T) {
	yaml := oneJob(twoDatasets, `
      - {format: csv, path: "{dataset}.csv", delimiter: ";;", gzip: true}
      - {format: xlsx, path: "r.xlsx", delimiter: ";", max_rows_per_sheet: 0, columns: {a: {width: 999}}}`)
	yaml = strings.Replace(yaml, "    datasets:", "    on_empty: maybe\n    retention: {keep: -1}\n    datasets:", 1)
	_, err := jobs.Parse("c.yaml", []byte(yaml))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	for _, want := range []string{
		`jobs[0].outputs[0].delimiter: ";;": want exactly one character`,
		`jobs[0].outputs[1].delimiter: is a csv option`,
		`jobs[0].outputs[1].columns.a.width: "999": want 1 to 255`,
		`jobs[0].on_empty: "maybe": want write`,
		`jobs[0].retention.keep: "-1"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

// readManifest reads a run's manifest back.
func readManifest(t *testing.T, path string) output.Manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m output.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTSVOutput: format tsv comes from the registry like the others; csv's
// options on it are errors.
func TestTSVOutput(t *testing.T) {
	yaml := oneJob(twoDatasets, `      - {format: tsv, path: "{job}/{dataset}-{date}.tsv", gzip: true}`)
	if _, err := jobs.Parse("c.yaml", []byte(yaml)); err != nil {
		t.Fatalf("format tsv: %v", err)
	}
	yaml = oneJob(twoDatasets, `      - {format: tsv, path: "{job}/{dataset}.tsv", delimiter: ";"}`)
	_, err := jobs.Parse("c.yaml", []byte(yaml))
	if err == nil || !strings.Contains(err.Error(), "jobs[0].outputs[0].delimiter: is a csv option; this output is tsv") {
		t.Errorf("err = %v, want the delimiter refused", err)
	}
	yaml = oneJob(twoDatasets, `      - {format: parquet, path: "{job}/{dataset}"}`)
	_, err = jobs.Parse("c.yaml", []byte(yaml))
	if err == nil || !strings.Contains(err.Error(), `want csv, xlsx, jsonl or tsv`) {
		t.Errorf("err = %v, want the formats listed", err)
	}
}
