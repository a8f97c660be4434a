package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
)

const windowConfig = `
database:
  dsn: ${E2E_DSN}
timezone: UTC
output_dir: out
jobs:
  - name: daily
    schedule: "0 6 * * *"
    window: previous_day
    params:
      min_views: {type: int, default: 0}
    datasets:
      per_user:
        internal: true
        from: posts p
        select: [p.user_id, "count(*) AS posts"]
        group_by: [p.user_id]
      posts:
        from: posts p
        joins: [{dataset: per_user, as: s, type: left, on: "s.user_id = p.user_id"}]
        window: p.published_at
        select: [p.id, p.title, s.posts]
        where: [{column: p.views, op: ">=", param: min_views}]
        expect: ["rows >= 0"]
    outputs:
      - {format: csv, path: "{job}/{dataset}-{from}.csv"}
`

// TestEndToEndWindows runs sql, explain and a backfill with parameters
// through the binary.
func TestEndToEndWindows(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(windowConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := binary(t, "")
	env := []string{"E2E_DSN=" + testdb.DSN(t), "JOINERY_CONFIG=" + cfgPath}

	t.Run("sql shows the window and parameters beside the SQL", func(t *testing.T) {
		r := runBin(t, bin, env, "sql", "daily", "--at", "2024-03-02T06:00", "--param", "min_views=5")
		for _, want := range []string{
			"-- job daily, dataset posts, logical time 2024-03-02T06:00:00Z, window [2024-03-01T00:00:00Z, 2024-03-02T00:00:00Z)",
			"LEFT JOIN (SELECT `p`.`user_id`, COUNT(*) AS `posts` FROM `posts` AS `p` GROUP BY `p`.`user_id`) AS `s`",
			`--   $1 = 5 (int64)  -- param min_views`,
			`--   $2 = "2024-03-01 00:00:00"  -- window_start`,
			`--   $3 = "2024-03-02 00:00:00"  -- window_end`,
			"the last 3 columns are join diagnostics",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("no %q in:\n%s\n%s", want, r.stdout, r.stderr)
			}
		}
		if strings.Contains(r.stdout, "dataset per_user") {
			t.Errorf("the internal dataset is printed:\n%s", r.stdout)
		}
	})

	t.Run("explain runs EXPLAIN for each dataset", func(t *testing.T) {
		r := runBin(t, bin, env, "explain", "daily", "--at", "2024-03-02")
		if r.code != 0 || !strings.Contains(r.stdout, "select_type") || !strings.Contains(r.stdout, "-- job daily, dataset posts") {
			t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("backfill writes a file per window", func(t *testing.T) {
		r := runBin(t, bin, env, "run", "daily", "--from", "2024-03-01", "--to", "2024-03-03", "--log-format", "text")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{
			"window [2024-03-01T00:00:00Z, 2024-03-02T00:00:00Z)", "window [2024-03-02T00:00:00Z, 2024-03-03T00:00:00Z)",
			"join s (left join): 1 matched, 0 left unmatched, 0 right unmatched",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("no %q in:\n%s", want, r.stdout)
			}
		}
		for day, title := range map[string]string{"2024-03-01": "你好，世界", "2024-03-02": "Emoji 🎉 party"} {
			data, err := os.ReadFile(filepath.Join(dir, "out", "daily", "posts-"+day+".csv"))
			if err != nil {
				t.Fatal(err)
			}
			if lines := strings.Split(strings.TrimSpace(string(data)), "\r\n"); len(lines) != 2 || !strings.Contains(lines[1], title) {
				t.Errorf("%s: %q", day, lines)
			}
		}
	})

	t.Run("bad parameters and flags exit 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"run", "daily", "--param", "nope=1"},
			{"run", "daily", "--param", "min_views=many"},
			{"run", "daily", "--from", "2024-03-01"},
			{"run", "daily", "--at", "2024-03-01", "--from", "2024-03-01", "--to", "2024-03-02"},
			{"sql", "daily", "--from", "2024-03-03", "--to", "2024-03-01"},
		} {
			if r := runBin(t, bin, env, args...); r.code != exitUsage {
				t.Errorf("%q: exit %d, want %d\n%s", args, r.code, exitUsage, r.stderr)
			}
		}
	})
}
