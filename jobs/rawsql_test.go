package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joinery/joinery/config"
)

// rawJob is a job whose dataset top is written by dataset (indented under
// the dataset's name).
func rawJob(dataset string) string {
	return `
jobs:
  - name: raw
    schedule: "@daily"
    window: previous_day
    params:
      min_views: {type: int, default: 1}
    datasets:
      top:
` + dataset + `
    outputs:
      - {format: csv, path: "{job}-{dataset}.csv"}
`
}

// TestRawSQLConfig reads sql and sql_file from a configuration in a
// folder that holds sql/top.sql, and reports each wrong raw SQL dataset at
// its field, with the file and line.
func TestRawSQLConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sql"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"sql/top.sql":    "-- top posts\nSELECT p.id FROM posts p\nWHERE p.views >= :min_views\n  AND p.published_at >= :window_start;\n",
		"sql/bad.sql":    "SELECT 1\nFROM posts\nWHERE a = :nope",
		"sql/delete.sql": "DELETE FROM posts",
		"sql/empty.sql":  "",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "config.yaml")

	t.Run("valid", func(t *testing.T) {
		for _, ds := range []string{"        sql_file: sql/top.sql", "        sql: SELECT 1 AS one", "        sql: |\n          SELECT p.id\n          FROM posts p WHERE p.views >= :min_views\n        expect: [rows >= 1]"} {
			cfg, err := Parse(file, []byte(rawJob(ds)))
			if err != nil {
				t.Fatalf("%s: %v", ds, err)
			}
			d := cfg.Jobs[0].Datasets[0]
			if strings.Contains(ds, "sql_file") && d.FileSQL != files["sql/top.sql"] {
				t.Errorf("FileSQL = %q, want the file's text", d.FileSQL)
			}
		}
	})

	tests := []struct {
		name, dataset string
		want          []string // substrings of one problem
	}{
		{"absolute path", "        sql_file: " + filepath.Join(dir, "sql/top.sql"), []string{"config.yaml:10:", "jobs[0].datasets.top.sql_file", "relative to the configuration's folder"}},
		{"leaves the folder", "        sql_file: ../x.sql", []string{"config.yaml:10:", "jobs[0].datasets.top.sql_file", `"../x.sql"`, "no .. leaving it"}},
		{"missing file", "        sql_file: sql/none.sql", []string{"jobs[0].datasets.top.sql_file", `"sql/none.sql"`, "open: no such file or directory"}},
		{"a folder", "        sql_file: sql", []string{"jobs[0].datasets.top.sql_file", "is a directory"}},
		{"empty file", "        sql_file: sql/empty.sql", []string{"jobs[0].datasets.top.sql_file", `"sql/empty.sql"`, "no SQL statement"}},
		{"unknown parameter in the file", "        sql_file: sql/bad.sql", []string{"config.yaml:10:", "jobs[0].datasets.top.sql_file", `"sql/bad.sql"`, "line 3, column 11: unknown parameter :nope"}},
		{"delete in the file", "        sql_file: sql/delete.sql", []string{"jobs[0].datasets.top.sql_file", "line 1, column 1: want one SELECT (or WITH ... SELECT), not DELETE"}},
		{"create inline", "        sql: CREATE TABLE t (a INT)", []string{"config.yaml:10:", "jobs[0].datasets.top.sql", "not CREATE: a dataset only reads"}},
		{"drop after a select", "        sql: |\n          SELECT 1;\n          DROP TABLE posts", []string{"jobs[0].datasets.top.sql", "line 2, column 1: more SQL after the ; at line 1"}},
		{"both", "        sql: SELECT 1\n        sql_file: sql/top.sql", []string{"jobs[0].datasets.top.sql_file", "give sql or sql_file, not both"}},
		{"declarative fields", "        sql: SELECT 1\n        from: posts p\n        joins: [{table: users, as: u, on: u.id = p.user_id}]", []string{"config.yaml:11:", "jobs[0].datasets.top.from", "not with sql: a raw SQL dataset is its whole query"}},
		{"join expect", "        sql: SELECT 1\n        expect: [p.left_unmatched = 0]", []string{"jobs[0].datasets.top.expect[0].check", "join diagnostics need the declarative form"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(file, []byte(rawJob(tt.dataset)))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			for _, p := range ce.Problems {
				msg := p.Error()
				ok := true
				for _, w := range tt.want {
					ok = ok && strings.Contains(msg, w)
				}
				if ok {
					return
				}
			}
			t.Errorf("problems:\n%v\nwant one with %q", err, tt.want)
		})
	}
}
