package jobs_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/joinery/joinery/jobs"
)

// paramsPathJob writes a csv file per dataset into a folder per country,
// and a workbook per country beside the other countries' ones.
const paramsPathJob = `
timezone: Europe/Berlin
jobs:
  - name: j
    schedule: "@daily"
    params:
      country: {type: string, default: US}
      min_views: {type: int, default: 0}
      since: {type: datetime, default: "2024-01-01 00:00"}
      countries: {type: "list<string>", default: [DE, GB]}
    datasets:
      posts:
        from: users u
        joins: [{table: posts, as: p, on: u.id = p.user_id}]
        select: [u.country, p.id, p.views]
        where:
          - {column: u.country, op: "=", param: country}
          - {column: p.views, op: ">=", param: min_views}
        order_by: [p.id]
      users:
        from: users u
        select: [u.id]
        where: [{column: u.country, op: "=", param: country}]
    outputs:
      - {format: csv, path: "{job}/{param.country}/{dataset}-{date}.csv"}
      - {format: xlsx, path: "{job}/{job}-{param.country}-{param.countries}-{date}.xlsx"}
`

// TestParamsInPaths runs one job for the same logical time with two
// countries, and once more with the first: each country's files are its
// own, the second run does not replace the first one's, and a run again
// with the same values replaces only its own. The manifests and the About
// sheet record the parameters.
func TestParamsInPaths(t *testing.T) {
	r, _ := setup(t, paramsPathJob)
	job := &r.Config.Jobs[0]
	run := func(params map[string]string) *jobs.Result {
		t.Helper()
		p, err := job.PlanAt(logical, params)
		if err != nil {
			t.Fatal(err)
		}
		res := r.RunPlan(context.Background(), job, p)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res
	}
	de := run(map[string]string{"country": "DE"})
	fr := run(map[string]string{"country": "FR", "min_views": "5", "since": "2024-03-01T06:30", "countries": "FR,IE"})
	dir := r.Config.OutputPath()
	want := map[string]string{
		"j/DE/posts-2026-11-25.csv":          "country,id,views\r\nDE,5,42\r\nDE,6,7\r\nDE,20,9\r\n",
		"j/DE/users-2026-11-25.csv":          "id\r\n3\r\n",
		"j/FR/posts-2026-11-25.csv":          "country,id,views\r\n",
		"j/FR/users-2026-11-25.csv":          "id\r\n6\r\n",
		"j/j-DE-DE,GB-2026-11-25.xlsx":       "",
		"j/j-FR-FR,IE-2026-11-25.xlsx":       "",
		"j/DE/j-20261125T060000Z-*.manifest": "",
		"j/FR/j-20261125T060000Z-*.manifest": "",
	}
	for path, content := range want {
		if strings.Contains(path, "*") {
			matches, _ := filepath.Glob(filepath.Join(dir, path+".json"))
			if len(matches) != 1 {
				t.Errorf("%s: %d manifests", path, len(matches))
			}
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
		} else if content != "" && string(got) != content {
			t.Errorf("%s: %q, want %q", path, got, content)
		}
	}
	// FR's manifest lists its files and its parameters, the first one
	// named as the run's logical time and zone give them.
	m := readManifest(t, fr.Manifest)
	params, _ := json.Marshal(m.Params)
	if want := `[{"name":"country","type":"string","value":"FR"},{"name":"min_views","type":"int","value":5},` +
		`{"name":"since","type":"datetime","value":"2024-03-01T06:30:00+01:00"},{"name":"countries","type":"list\u003cstring\u003e","value":["FR","IE"]}]`; string(params) != want {
		t.Errorf("manifest params\n%s\nwant\n%s", params, want)
	}
	if de.Manifest == fr.Manifest || filepath.Base(de.Manifest) == filepath.Base(fr.Manifest) {
		t.Errorf("manifests %s and %s: want a name of its own for each run's values", de.Manifest, fr.Manifest)
	}
	f, err := excelize.OpenFile(filepath.Join(dir, "j/j-FR-FR,IE-2026-11-25.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	about, _ := f.GetRows("About")
	f.Close()
	var table [][]string
	for i, row := range about {
		if len(row) > 0 && row[0] == "Parameter" {
			table = about[i : i+5]
		}
	}
	wantTable := [][]string{{"Parameter", "Type", "Value"}, {"country", "string", "FR"}, {"min_views", "int", "5"},
		{"since", "datetime", "2024-03-01 06:30:00 +01:00"}, {"countries", "list<string>", "FR, IE"}}
	if !slices.EqualFunc(table, wantTable, slices.Equal) {
		t.Errorf("About sheet's parameters %q, want %q (sheet %q)", table, wantTable, about)
	}

	// DE again: its files are replaced, FR's are left as they are.
	frBefore := entriesUnder(t, filepath.Join(dir, "j", "FR"))
	run(map[string]string{"country": "DE", "min_views": "10"})
	if got, _ := os.ReadFile(filepath.Join(dir, "j/DE/posts-2026-11-25.csv")); string(got) != "country,id,views\r\nDE,5,42\r\n" {
		t.Errorf("DE's posts after the second DE run: %q", got)
	}
	if got := entriesUnder(t, filepath.Join(dir, "j", "FR")); !slices.Equal(got, frBefore) {
		t.Errorf("FR's folder changed: %q, was %q", got, frBefore)
	}
	for _, name := range []string{"j-DE-DE,GB-2026-11-25.xlsx", "j-FR-FR,IE-2026-11-25.xlsx"} {
		if _, err := os.Stat(filepath.Join(dir, "j", name)); err != nil {
			t.Error(err)
		}
	}
	if n := len(globManifests(t, dir)); n != 2 {
		t.Errorf("%d manifests, want one per country", n)
	}
}

// TestParamsWithoutPathField: two runs with other values and a path
// without {param.NAME} write the same files, and the second one's
// manifest replaces the first's, which no longer describes them.
func TestParamsWithoutPathField(t *testing.T) {
	r, _ := setup(t, strings.ReplaceAll(paramsPathJob, "{param.country}", "all"))
	job := &r.Config.Jobs[0]
	for _, c := range []string{"DE", "FR"} {
		p, err := job.PlanAt(logical, map[string]string{"country": c})
		if err != nil {
			t.Fatal(err)
		}
		if res := r.RunPlan(context.Background(), job, p); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	ms := globManifests(t, r.Config.OutputPath())
	if len(ms) != 1 {
		t.Fatalf("manifests %q, want the second run's only", ms)
	}
	m := readManifest(t, ms[0])
	if len(m.Params) == 0 || string(m.Params[0].Value) != `"FR"` {
		t.Errorf("manifest params %+v, want FR's", m.Params)
	}
}

// TestParamFieldMustBeDeclared: a path that names a parameter the job
// does not declare is a configuration error naming the output.
func TestParamFieldMustBeDeclared(t *testing.T) {
	cfg := strings.Replace(paramsPathJob, "{param.country}/{dataset}", "{param.cuntry}/{dataset}", 1)
	_, err := jobs.Parse("config.yaml", []byte(cfg))
	want := `jobs[0].outputs[0].path: "{job}/{param.cuntry}/{dataset}-{date}.csv": {param.cuntry}: the job declares no parameter cuntry (declared: country, min_views, since, countries)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %s", err, want)
	}
	cfg = strings.Replace(oneJob(`      rows:
        from: users u
        select: [u.id]
`, `      - {format: csv, path: "{job}/{param.day}.csv"}`), "", "", 1)
	if _, err := jobs.Parse("config.yaml", []byte(cfg)); err == nil || !strings.Contains(err.Error(), "{param.day}: the job declares no parameters") {
		t.Errorf("error %v", err)
	}
}

// entriesUnder lists the files under dir with their sizes and times.
func entriesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, p+" "+info.ModTime().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// globManifests returns every manifest under dir.
func globManifests(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".manifest.json") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
