package jobs_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/internal/readback"
	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// setup seeds the canonical users/posts data and returns a runner for the
// config in yamlText (its output_dir is a fresh temporary folder).
func setup(t *testing.T, yamlText string) (*jobs.Runner, *sql.DB) {
	t.Helper()
	return setupFiles(t, yamlText, nil)
}

// setupFiles is setup with files (name to text) written beside the
// configuration before it is read: the sql_file of raw SQL datasets.
func setupFiles(t *testing.T, yamlText string, files map[string]string) (*jobs.Runner, *sql.DB) {
	t.Helper()
	raw := testdb.New(t)
	testdb.SeedUsersPosts(t, raw)
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := jobs.Parse(filepath.Join(dir, "config.yaml"), []byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	db, err := jobs.OpenDB(cfg.Database, testdb.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &jobs.Runner{DB: db, Config: cfg, Logger: logger}, raw
}

func oneJob(dataset, outputs string) string {
	return `
timezone: Europe/Berlin
jobs:
  - name: j
    schedule: "@daily"
    datasets:
` + dataset + `
    outputs:
` + outputs
}

const csvOut = `      - {format: csv, path: "{job}/{dataset}-{date}.csv"}`

// handRows runs hand-written SQL and renders its rows as joinery's CSV would
// for columns that are not dates: the text MySQL returns, NULL as empty.
// args are bound to its ? placeholders.
func handRows(t *testing.T, db *sql.DB, query string, args ...any) [][]string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		rec := make([]string, len(cols))
		for i, b := range raw {
			rec[i] = string(b)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func readCSV(t *testing.T, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(all) == 0 {
		t.Fatalf("%s: empty", path)
	}
	return all[0], all[1:]
}

func sortedRows(rows [][]string) [][]string {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b []string) int { return slices.Compare(a, b) })
	return out
}

var logical = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

// TestJoinsMatchHandWrittenSQL runs each join type through the whole
// pipeline and compares the CSV joinery writes with the rows of the
// equivalent hand-written query on the same server.
func TestJoinsMatchHandWrittenSQL(t *testing.T) {
	const cols = "u.id AS user_id, u.name, u.score, p.id AS post_id, p.title, p.views"
	tests := []struct {
		name, dataset, hand string
		wantRows            int
	}{
		{"inner", `{table: posts, as: p, type: inner, on: u.id = p.user_id}`,
			"SELECT " + cols + " FROM users u JOIN posts p ON u.id = p.user_id", 16},
		{"left", `{table: posts, as: p, type: left, on: u.id = p.user_id}`,
			"SELECT " + cols + " FROM users u LEFT JOIN posts p ON u.id = p.user_id", 18},
		{"right", `{table: posts, as: p, type: right, on: u.id = p.user_id}`,
			"SELECT " + cols + " FROM users u RIGHT JOIN posts p ON u.id = p.user_id", 20},
		{"full", `{table: posts, as: p, type: full, on: u.id = p.user_id}`,
			"SELECT " + cols + " FROM users u LEFT JOIN posts p ON u.id = p.user_id UNION ALL " +
				"SELECT " + cols + " FROM users u RIGHT JOIN posts p ON u.id = p.user_id WHERE u.id IS NULL", 22},
		{"cross", `{table: posts, as: p, type: cross}`,
			"SELECT " + cols + " FROM users u CROSS JOIN posts p", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := `      rows:
        from: users u
        joins:
          - ` + tt.dataset + `
        select: [u.id AS user_id, u.name, u.score, p.id AS post_id, p.title, p.views]
`
			r, raw := setup(t, oneJob(ds, csvOut))
			res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			want := handRows(t, raw, tt.hand)
			if len(want) != tt.wantRows {
				t.Fatalf("hand-written query returned %d rows, the seed promises %d", len(want), tt.wantRows)
			}
			path := filepath.Join(r.Config.OutputPath(), "j", "rows-2026-11-25.csv")
			if len(res.Files) != 1 || res.Files[0] != path {
				t.Fatalf("files = %v, want [%s]", res.Files, path)
			}
			header, got := readCSV(t, path)
			if want := []string{"user_id", "name", "score", "post_id", "title", "views"}; !slices.Equal(header, want) {
				t.Errorf("header = %q, want %q", header, want)
			}
			if res.Datasets[0].Rows != int64(len(want)) {
				t.Errorf("result rows = %d, want %d", res.Datasets[0].Rows, len(want))
			}
			if g, w := sortedRows(got), sortedRows(want); !slices.EqualFunc(g, w, slices.Equal) {
				t.Errorf("rows differ\n got: %q\nwant: %q", g, w)
			}
		})
	}
}

// TestOnePassFeedsXLSXAndCSV checks that both outputs of a dataset get the
// same rows, with typed cells in the workbook.
func TestOnePassFeedsXLSXAndCSV(t *testing.T) {
	ds := `      posts:
        from: users u
        joins: [{table: posts, as: p, on: u.id = p.user_id}]
        select: [u.id AS user_id, u.name, u.created_at, u.score, p.title, p.published_at]
        order_by: [p.id]
      per_user:
        from: users u
        joins: [{table: posts, as: p, type: left, on: u.id = p.user_id}]
        select: [u.id AS user_id, count(p.id) AS posts]
        group_by: [u.id]
        order_by: [u.id]
`
	outs := csvOut + "\n" + `      - {format: xlsx, path: "{job}/{job}-{date}.xlsx"}` + "\n" +
		`      - {format: csv, path: "exact/{dataset}.csv", null_as: '\N', escape_formulas: false}` + "\n"
	r, _ := setup(t, oneJob(ds, outs))
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Files) != 5 {
		t.Fatalf("files = %v, want 4 CSV and 1 XLSX", res.Files)
	}
	dir := r.Config.OutputPath()
	_, csvRows := readCSV(t, filepath.Join(dir, "j", "posts-2026-11-25.csv"))
	if len(csvRows) != 16 {
		t.Fatalf("posts CSV has %d rows, want 16", len(csvRows))
	}
	// Post 1 by Alice: created 2024-01-05 10:00 UTC is 11:00 in Berlin.
	if got, want := csvRows[0], []string{"1", "Alice", "2024-01-05T11:00:00+01:00", "12.50", "First post", "2024-01-10T10:00:00+01:00"}; !slices.Equal(got, want) {
		t.Errorf("first CSV row = %q, want %q", got, want)
	}

	f, err := excelize.OpenFile(filepath.Join(dir, "j", "j-2026-11-25.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.GetSheetList(), []string{"posts", "per_user", "About"}; !slices.Equal(got, want) {
		t.Errorf("sheets = %q, want %q", got, want)
	}
	rows, err := f.GetRows("posts")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 17 {
		t.Fatalf("posts sheet has %d rows, want header + 16", len(rows))
	}
	for i, rec := range csvRows {
		if rows[i+1][1] != rec[1] || rows[i+1][4] != rec[4] {
			t.Errorf("row %d: xlsx %q, csv %q", i+1, rows[i+1], rec)
		}
	}
	typ, err := f.GetCellType("posts", "A2")
	if err != nil || typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Errorf("A2 type = %v, %v; want a number", typ, err)
	}
	// The date cell holds a serial number with a date format, not text.
	rawDate, _ := f.GetCellValue("posts", "C2", excelize.Options{RawCellValue: true})
	if _, err := fmt.Sscanf(rawDate, "%f", new(float64)); err != nil {
		t.Errorf("C2 raw value = %q, want an Excel serial date", rawDate)
	}
	perUser, _ := f.GetRows("per_user")
	if len(perUser) != 11 || perUser[8][1] != "0" || perUser[1][1] != "4" {
		t.Errorf("per_user = %q, want 10 users with Alice 4 and Dave 0", perUser)
	}

	// The run's id, as its log records carry it, is in the manifest and
	// on the About sheet.
	if !regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{8}$`).MatchString(res.RunID) {
		t.Errorf("run id %q, want its start in UTC and 8 hex digits", res.RunID)
	}
	if id, _ := f.GetCellValue("About", "B3"); id != res.RunID {
		t.Errorf("About!B3 = %q, want the run id %s", id, res.RunID)
	}
	if label, _ := f.GetCellValue("About", "A3"); label != "Run ID" {
		t.Errorf("About!A3 = %q, want Run ID", label)
	}
	data, err := os.ReadFile(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var m output.Manifest
	if err := json.Unmarshal(data, &m); err != nil || m.RunID != res.RunID {
		t.Errorf("manifest run_id = %q, %v; want %s", m.RunID, err, res.RunID)
	}
	// And as other spreadsheet apps show it.
	col := func(name string, kind readback.Kind) readback.Column { return readback.Column{Name: name, Kind: kind} }
	readback.Readers(t, filepath.Join(dir, "j", "j-2026-11-25.xlsx"), []readback.Dataset{
		{Name: "posts", CSV: readback.CSVFile(t, filepath.Join(dir, "exact", "posts.csv")), Columns: []readback.Column{
			col("user_id", readback.Integer), col("name", readback.Text), col("created_at", readback.DateTime),
			col("score", readback.Number), col("title", readback.Text), col("published_at", readback.DateTime)}},
		{Name: "per_user", CSV: readback.CSVFile(t, filepath.Join(dir, "exact", "per_user.csv")), Columns: []readback.Column{
			col("user_id", readback.Integer), col("posts", readback.Integer)}},
	})
}

// TestCancelledRunKeepsPreviousReport cancels a run in the middle of its
// rows: no partial file may appear and the last good report must survive.
func TestCancelledRunKeepsPreviousReport(t *testing.T) {
	// 20^4 = 160,000 rows: enough for the runner to report progress.
	ds := bigCrossJoin(4, false)
	outs := csvOut + "\n" + `      - {format: xlsx, path: "{job}/{job}.xlsx"}` + "\n"
	r, _ := setup(t, oneJob(ds, outs))
	dir := filepath.Join(r.Config.OutputPath(), "j")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	previous := filepath.Join(dir, "big-2026-11-25.csv")
	if err := os.WriteFile(previous, []byte("last good report\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	r.Progress = func(job, dataset string, rows int64, done bool) {
		if calls.Add(1) == 1 {
			cancel()
		}
	}
	res := r.Run(ctx, &r.Config.Jobs[0], logical)
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", res.Err)
	}
	if jobs.Retryable(res.Err) {
		t.Errorf("a cancelled run is retryable: %v", res.Err)
	}
	if res.Files != nil {
		t.Errorf("files = %v, want none", res.Files)
	}
	got, err := os.ReadFile(previous)
	if err != nil || string(got) != "last good report\n" {
		t.Errorf("previous report = %q, %v; want it untouched", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %q, want only the previous report", names)
	}
}

func TestTimeoutFailsTheRun(t *testing.T) {
	ds := bigCrossJoin(5, false)
	r, _ := setup(t, strings.Replace(oneJob(ds, csvOut), `schedule: "@daily"`, `schedule: "@daily"`+"\n    timeout: 300ms", 1))
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "job timeout of 300ms reached") {
		t.Fatalf("err = %v, want the job timeout", res.Err)
	}
	if jobs.Retryable(res.Err) {
		t.Errorf("a run that reached its job's timeout is retryable: %v", res.Err)
	}
	if _, err := os.Stat(filepath.Join(r.Config.OutputPath(), "j", "big-2026-11-25.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("report exists after a timeout: %v", err)
	}
}

// TestLockedJobIsSkipped holds the job's lock from another session, as a
// run on another host would.
func TestLockedJobIsSkipped(t *testing.T) {
	ds := `      rows:
        from: users u
        select: [u.id]
`
	r, raw := setup(t, oneJob(ds, csvOut))
	conn, err := raw.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK(CONCAT('joinery/', DATABASE(), '/j'), 0)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK = %d, %v", got, err)
	}
	var holder uint64
	if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&holder); err != nil {
		t.Fatal(err)
	}

	// The holder is idle: a session between statements.
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	held, ok := errors.AsType[*mysqlconn.LockHeldError](res.Err)
	if !errors.Is(res.Err, jobs.ErrAlreadyRunning) || !ok {
		t.Fatalf("err = %v, want a LockHeldError, which is ErrAlreadyRunning", res.Err)
	}
	if held.ConnID != holder || !held.Found || !held.Idle() ||
		!strings.Contains(res.Err.Error(), fmt.Sprintf("held by connection %d (root@", holder)) ||
		!strings.Contains(res.Err.Error(), ", idle (between statements) for ") ||
		!strings.Contains(res.Err.Error(), fmt.Sprintf("s: a run writing its files, or a session whose client is gone without the server noticing; if no run of this job is alive, KILL %d on the server frees the lock", holder)) {
		t.Errorf("err = %q (%+v), want connection %d named as idle, with the KILL that would free it", res.Err, held, holder)
	}

	// The holder is running a query.
	sleeping := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(context.Background(), "SELECT SLEEP(3) AS joinery_test_sleep")
		sleeping <- err
	}()
	time.Sleep(1100 * time.Millisecond)
	res = r.Run(context.Background(), &r.Config.Jobs[0], logical)
	held, _ = errors.AsType[*mysqlconn.LockHeldError](res.Err)
	if held == nil || held.Idle() || held.For < time.Second ||
		!strings.Contains(res.Err.Error(), fmt.Sprintf("held by connection %d (root@", holder)) ||
		!strings.Contains(res.Err.Error(), ", running a query for ") || !strings.Contains(res.Err.Error(), "SELECT SLEEP(3) AS joinery_test_sleep") {
		t.Errorf("err = %v (%+v), want connection %d running its query for a second or more", res.Err, held, holder)
	}
	if err := <-sleeping; err != nil {
		t.Fatal(err)
	}

	if _, err := conn.ExecContext(context.Background(), "DO RELEASE_LOCK(CONCAT('joinery/', DATABASE(), '/j'))"); err != nil {
		t.Fatal(err)
	}
	if res := r.Run(context.Background(), &r.Config.Jobs[0], logical); res.Err != nil {
		t.Fatalf("after release: %v", res.Err)
	}
}

func TestStatementTimeoutIsAccepted(t *testing.T) {
	ds := `      rows:
        from: users u
        select: [u.id]
`
	r, _ := setup(t, "database: {statement_timeout: 5s}\n"+oneJob(ds, csvOut))
	if res := r.Run(context.Background(), &r.Config.Jobs[0], logical); res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestStatementTimeoutStopsTheQuery: the server stops a statement at the
// limit, and the error says which limit it was and where it came from.
func TestStatementTimeoutStopsTheQuery(t *testing.T) {
	r, _ := setup(t, "database: {statement_timeout: 1s}\n"+oneJob(bigCrossJoin(6, true), csvOut))
	start := time.Now()
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "max_statement_time exceeded") ||
		!strings.Contains(res.Err.Error(), "(the statement timeout of 1s, from database.statement_timeout)") {
		t.Fatalf("err = %v, want the server's statement timeout, named", res.Err)
	}
	if jobs.Retryable(res.Err) {
		t.Errorf("a statement timeout is retryable: %v", res.Err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v", took)
	}
}

// TestCancelStopsTheServerQuery cancels a run while the server is still
// computing (an ORDER BY over a large cross join sends nothing until it
// is sorted): the statement must stop on the server and the job's lock
// must be free at once, not when the server finishes.
func TestCancelStopsTheServerQuery(t *testing.T) {
	ds := bigCrossJoin(6, true)
	r, raw := setup(t, oneJob(ds, csvOut))
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := r.Run(ctx, &r.Config.Jobs[0], logical)
	if !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", res.Err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v to return after cancellation", took)
	}
	var running int
	if err := raw.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%CROSS JOIN%' AND DB = DATABASE() AND ID <> CONNECTION_ID()").Scan(&running); err != nil {
		t.Fatal(err)
	}
	if running != 0 {
		t.Errorf("%d statements still run on the server after the run returned", running)
	}
	var got int
	if err := raw.QueryRow("SELECT GET_LOCK(CONCAT('joinery/', DATABASE(), '/j'), 0)").Scan(&got); err != nil || got != 1 {
		t.Errorf("job lock after cancellation: GET_LOCK = %d, %v; want it free", got, err)
	}
}

// bigCrossJoin is a dataset of n posts tables cross-joined: 20^n rows. With
// sorted, the server sorts them all before it sends the first row.
func bigCrossJoin(n int, sorted bool) string {
	var b strings.Builder
	b.WriteString("      big:\n        from: posts t0\n        joins:\n")
	cols := []string{"t0.id"}
	titles := []string{"t0.title"}
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "          - {table: posts, as: t%d, type: cross}\n", i)
		cols = append(cols, fmt.Sprintf("t%d.id AS id%d", i, i))
		titles = append(titles, fmt.Sprintf("t%d.title", i))
	}
	if sorted {
		fmt.Fprintf(&b, "        select: [\"concat(%s) AS t\"]\n        order_by: [t]\n", strings.Join(titles, ", "))
	} else {
		fmt.Fprintf(&b, "        select: [%s]\n", strings.Join(cols, ", "))
	}
	return b.String()
}
