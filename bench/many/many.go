// Package many generates the configuration of the many-jobs benchmark
// (issue 16: 1,000 jobs in one daemon): n jobs on users and posts, the
// tables of the embedded demo database, as varied as real ones. Schedules
// of every kind in several zones, windows, 2 or 3 datasets each with
// joins, filters and expressions (derived datasets, full joins,
// aggregates, parameters), 1 to 3 outputs, and webhooks on some jobs
// whose URLs stay ${VAR} references. The text depends only on n: the
// benchmarks, bench/many/run and the daemon test read the same file.
package many

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// WebhookVar is the variable the webhooks' URLs name; a configuration
// from Config loads only where it is set (any http URL: nothing is sent
// while the daemon is idle).
const WebhookVar = "JOINERY_BENCH_WEBHOOK_URL"

var (
	zones = []string{"", "", "UTC", "Europe/Berlin", "Europe/London", "America/New_York",
		"America/Los_Angeles", "America/Sao_Paulo", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney"}
	windows   = []string{"", "", "previous_day", "previous_day", "previous_week", "previous_month", "last 6h", "{kind: last_hours, hours: 24}"}
	countries = []string{"DE", "FR", "US", "JP", "GB", "BR", "IN", "AU"}
)

// schedule returns a cron schedule of one of the kinds people write.
func schedule(r *rand.Rand) string {
	m, h := r.IntN(60), r.IntN(24)
	switch r.IntN(10) {
	case 0:
		return fmt.Sprintf("*/%d * * * *", []int{5, 10, 15, 30}[r.IntN(4)])
	case 1:
		return fmt.Sprintf("%d */%d * * *", m, []int{2, 3, 4, 6}[r.IntN(4)])
	case 2:
		return fmt.Sprintf("%d %d * * 1-5", m, h)
	case 3:
		return fmt.Sprintf("%d %d * * %d", m, h, r.IntN(7))
	case 4:
		return fmt.Sprintf("%d %d %d * *", m, h, 1+r.IntN(28))
	case 5:
		return []string{"@daily", "@hourly", "@weekly", "@monthly", "@every 6h", "@every 90m"}[r.IntN(6)]
	case 6:
		return fmt.Sprintf("%d %d,%d * * *", m, h%12, h%12+12)
	default:
		return fmt.Sprintf("%d %d * * *", m, h)
	}
}

// Config returns the text of a configuration of n jobs, its reports under
// outputDir (written into the file as is).
func Config(n int, outputDir string) string {
	r := rand.New(rand.NewPCG(16, uint64(n)))
	var b strings.Builder
	fmt.Fprintf(&b, `# %d generated jobs: bench/many (go run ./bench/many/gen -n %d).
database:
  dsn: ${JOINERY_DSN:-embedded}
  max_open_conns: 8
timezone: Europe/Berlin
output_dir: %s
jobs:
`, n, n, outputDir)
	for i := range n {
		job(&b, r, i)
	}
	return b.String()
}

func job(b *strings.Builder, r *rand.Rand, i int) {
	name := JobName(i)
	sched := schedule(r)
	fmt.Fprintf(b, "  - name: %s\n    schedule: %q\n", name, sched)
	if z := zones[r.IntN(len(zones))]; z != "" {
		fmt.Fprintf(b, "    timezone: %s\n", z)
	}
	window := windows[r.IntN(len(windows))]
	if window != "" {
		fmt.Fprintf(b, "    window: %s\n", window)
	}
	if r.IntN(3) == 0 {
		fmt.Fprintf(b, "    timeout: %dm\n    retries: %d\n    retry_delay: 2m\n", 10+r.IntN(50), 1+r.IntN(3))
	}
	// Not on @every: its times follow from the time asked, so a catch_up
	// that is a multiple of its interval always has one due now.
	if r.IntN(4) == 0 && !strings.HasPrefix(sched, "@every") {
		fmt.Fprintf(b, "    catch_up: %dh\n", 1+r.IntN(12))
	}
	if r.IntN(5) == 0 {
		fmt.Fprintf(b, "    on_empty: %s\n", []string{"write", "skip", "fail"}[r.IntN(3)])
	}
	if r.IntN(4) == 0 {
		fmt.Fprintf(b, "    retention: {keep: %d}\n", 7+r.IntN(30))
	}
	param := r.IntN(3) == 0
	if param {
		fmt.Fprintf(b, "    params:\n      min_views: {type: int, default: %d}\n", r.IntN(100))
	}
	b.WriteString("    datasets:\n")
	datasets(b, r, window != "", param)
	outputs(b, r, window != "")
	if r.IntN(4) == 0 {
		deliver(b, r)
	}
}

// datasets writes 2 or 3 datasets (an internal one and the one that
// joins it count as one).
func datasets(b *strings.Builder, r *rand.Rand, windowed, param bool) {
	win := func(col string) string {
		if windowed {
			return "        window: " + col + "\n"
		}
		return ""
	}
	minViews := fmt.Sprint(r.IntN(50))
	if param {
		minViews = ":min_views"
	}
	cs := countries[r.IntN(4) : 4+r.IntN(4)]
	all := []func(){
		func() { // an aggregate per user with filters and having
			fmt.Fprintf(b, `      per_user:
        from: users u
        joins: [{table: posts, as: p, type: %s, on: ["u.id = p.user_id", "p.views >= %s"]}]
%s        select: [u.id AS user_id, "coalesce(u.name, '(no name)') AS name", u.country, count(p.id) AS posts, sum(p.views) AS total_views]
        where: [{column: u.country, op: in, value: [%s]}]
        group_by: [u.id, u.name, u.country]
        having: [{agg: count, column: p.id, op: ">=", value: %d}]
        order_by: [posts desc, u.id]
        limit: %d
`, []string{"inner", "left"}[r.IntN(2)], minViews, win("p.published_at"), strings.Join(cs, ", "), 1+r.IntN(5), 100*(1+r.IntN(50)))
		},
		func() { // posts with their authors, expressions and an any group
			fmt.Fprintf(b, `      posts:
        from: posts p
        joins: [{table: users, as: u, type: left, on: u.id = p.user_id}]
%s        select: [p.id AS post_id, p.title, "coalesce(u.name, '?') AS author", "date_format(p.published_at, '%%Y-%%m') AS month", p.views]
        where:
          - "p.views >= %s or p.user_id is null"
          - any: [[{column: u.country, op: "=", value: %s}], ["u.id is null"]]
        order_by: [p.id]
`, win("p.published_at"), minViews, cs[0])
		},
		func() { // an internal derived dataset joined back
			fmt.Fprintf(b, `      author_stats:
        internal: true
        from: posts p
        select: [p.user_id, count(*) AS posts, max(p.published_at) AS latest]
        where: [{column: p.views, op: ">", value: %d}]
        group_by: [p.user_id]
      authors:
        from: users u
        joins:
          - {dataset: author_stats, as: s, type: left, on: s.user_id = u.id}
          - {table: posts, as: lp, type: left, on: ["lp.user_id = s.user_id", "lp.published_at = s.latest"]}
        select: [u.id AS user_id, u.name, s.posts, lp.title AS latest_title]
        expect: [{check: s.left_unmatched, op: "<=", value: %d, on_fail: warn}]
`, r.IntN(20), 10+r.IntN(1000))
		},
		func() { // both sides reconciled
			b.WriteString(`      reconciliation:
        from: users u
        joins: [{table: posts, as: p, type: full, on: u.id = p.user_id}]
        select: [u.id AS user_id, u.name, p.id AS post_id, p.title]
`)
		},
		func() { // users who posted, a self-join by country
			fmt.Fprintf(b, `      active:
        from: users u
        joins:
          - {table: posts, as: p, on: u.id = p.user_id}
          - {table: users, as: peer, type: left, on: ["peer.country = u.country", "peer.score > u.score"]}
%s        select: [u.id AS user_id, u.name, count(distinct peer.id) AS better_peers, max(p.published_at) AS last_post]
        where: ["u.score between %d and %d"]
        group_by: [u.id, u.name]
`, win("p.published_at"), r.IntN(50), 50+r.IntN(50))
		},
	}
	k := 2 + r.IntN(2)
	for _, i := range r.Perm(len(all))[:k] {
		all[i]()
	}
}

func outputs(b *strings.Builder, r *rand.Rand, windowed bool) {
	stamp := "{date}"
	if windowed {
		stamp = "{from}"
	}
	b.WriteString("    outputs:\n")
	kinds := []string{"csv", "xlsx", "jsonl"}
	for _, i := range r.Perm(3)[:1+r.IntN(3)] {
		switch kinds[i] {
		case "csv":
			fmt.Fprintf(b, "      - {format: csv, path: \"{job}/{dataset}-%s.csv\"}\n", stamp)
		case "xlsx":
			fmt.Fprintf(b, "      - format: xlsx\n        path: \"{job}/{job}-%s.xlsx\"\n", stamp)
			if r.IntN(2) == 0 {
				b.WriteString("        latest: \"{job}/{job}-latest.xlsx\"\n")
			}
		case "jsonl":
			fmt.Fprintf(b, "      - {format: jsonl, path: \"{job}/{dataset}-%s.jsonl\", gzip: true}\n", stamp)
		}
	}
}

func deliver(b *strings.Builder, r *rand.Rand) {
	b.WriteString("    deliver:\n")
	fmt.Fprintf(b, "      - name: alerts\n        on: [failure, missed]\n        webhook: {url: \"${%s}\", style: slack}\n", WebhookVar)
	if r.IntN(2) == 0 {
		fmt.Fprintf(b, `      - name: ops
        on: [success, failure, skipped]
        retries: %d
        backoff: 10s
        webhook: {url: "${%s}", style: json, templates: {success: "{{.Job}}: {{count (rows .)}} rows"}}
`, 1+r.IntN(5), WebhookVar)
	}
}

// Setup sets the webhooks' variable for tb, writes Config(n, "out") to a
// temporary folder of tb and returns its path: what the tests and
// benchmarks of many jobs start with.
func Setup(tb testing.TB, n int) string {
	tb.Helper()
	tb.Setenv(WebhookVar, "http://127.0.0.1:9/hook")
	path, err := Write(tb.TempDir(), n)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// Write writes Config(n, "out") to dir/many.yaml and returns its path:
// the reports, and the jobs' state, go to dir/out.
func Write(dir string, n int) (string, error) {
	path := filepath.Join(dir, "many.yaml")
	return path, os.WriteFile(path, []byte(Config(n, "out")), 0o644)
}

// SeedState records a successful run at now for each of the n jobs of
// Config(n, ...) in outputDir, as a daemon that ran them leaves it: a
// restarted daemon then has no missed time to catch up, and stays idle
// until the first scheduled time (the state's format is jobs/state.go's).
func SeedState(outputDir string, n int, now time.Time) error {
	dir := filepath.Join(outputDir, ".joinery")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	state := fmt.Sprintf(`{"last_success_logical_time": %q, "finished_at": %q}`, now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, JobName(i)+".json"), []byte(state), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// JobName is the name of job i.
func JobName(i int) string { return fmt.Sprintf("report-%04d", i) }
