package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/internal/testlog"
)

var (
	buildOnce sync.Map // go build's folder, environment and arguments -> func() (string, error)
	buildDir  string   // holds the built binaries; removed by TestMain
)

func TestMain(m *testing.M) {
	var err error
	if buildDir, err = os.MkdirTemp("", "joinery-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := os.RemoveAll(buildDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// binary builds joinery once per set of build tags and returns its path.
func binary(t *testing.T, tags string) string {
	t.Helper()
	args := []string{"-ldflags", "-X main.version=e2e-test"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	return goBuild(t, ".", nil, append(args, ".")...)
}

// goBuild runs go build with args (without -o) in dir, with env added to
// the environment, once per distinct call, and returns the binary's path.
func goBuild(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	key := strings.Join(append(append([]string{dir}, env...), args...), "\x00")
	f, _ := buildOnce.LoadOrStore(key, sync.OnceValues(func() (string, error) {
		tmp, err := os.MkdirTemp(buildDir, "build-")
		if err != nil {
			return "", err
		}
		bin := filepath.Join(tmp, "joinery")
		cmd := exec.Command("go", append([]string{"build", "-o", bin}, args...)...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", errors.New(string(out))
		}
		return bin, nil
	}))
	bin, err := f.(func() (string, error))()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return bin
}

type result struct {
	stdout, stderr string
	code           int
}

func runBin(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return runCmd(t, cmd)
}

// runCmd runs cmd to its end and returns its output and exit status.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

const e2eConfig = `
database:
  dsn: ${E2E_DSN}
timezone: UTC
output_dir: out
jobs:
  - name: nightly
    schedule: "0 6 * * *"
    datasets:
      users_posts:
        from: users u
        joins:
          - {table: posts, as: p, type: left, on: u.id = p.user_id}
        select: [u.id AS user_id, u.name, p.title]
        where:
          - {column: u.name, op: like, value: "%e%"}
        order_by: [u.id, p.id]
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
      - {format: xlsx, path: "{job}/{job}-{date}.xlsx"}
  - name: broken
    schedule: "@daily"
    datasets:
      missing:
        from: nosuchtable n
        select: [n.id]
    outputs:
      - {format: csv, path: "{job}-{date}.csv"}
`

// TestEndToEnd builds the binary and runs it against a real MariaDB.
func TestEndToEnd(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(e2eConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := binary(t, "")
	env := []string{"E2E_DSN=" + testdb.DSN(t), "JOINERY_CONFIG=" + cfgPath}

	t.Run("run", func(t *testing.T) {
		r := runBin(t, bin, env, "run", "nightly", "--at", "2026-11-01")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"nightly: ok", "users_posts", "rows", "wrote " + filepath.Join(dir, "out", "nightly", "users_posts-2026-11-01.csv")} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
		recs := readCSV(t, filepath.Join(dir, "out", "nightly", "users_posts-2026-11-01.csv"))
		// Names with an "e" (any case, per the collation): Alice(3 posts+1 draft... ) — computed from the DB.
		want := handCount(t, db, "SELECT COUNT(*) FROM users u LEFT JOIN posts p ON u.id = p.user_id WHERE u.name LIKE '%e%'")
		if len(recs)-1 != want {
			t.Errorf("csv has %d rows, want %d", len(recs)-1, want)
		}
		x, err := excelize.OpenFile(filepath.Join(dir, "out", "nightly", "nightly-2026-11-01.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		rows, _ := x.GetRows("users_posts")
		if len(rows) != len(recs) {
			t.Errorf("xlsx has %d rows, csv %d", len(rows), len(recs))
		}
	})

	t.Run("run writes the profiles and the trace it is asked for", func(t *testing.T) {
		cpu, mem, tr := filepath.Join(dir, "run.cpu"), filepath.Join(dir, "run.mem"), filepath.Join(dir, "run.trace")
		r := runBin(t, bin, env, "run", "nightly", "--at", "2026-11-02", "--cpuprofile", cpu, "--memprofile", mem, "--trace", tr)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, c := range []struct{ path, magic string }{
			{cpu, "\x1f\x8b"}, {mem, "\x1f\x8b"}, // gzipped pprof protobufs
			{tr, "go 1."}, // runtime/trace's header: "go 1.NN trace"
		} {
			b, err := os.ReadFile(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), c.magic) || len(b) < 64 {
				t.Errorf("%s: %d bytes starting %q, want a file starting %q", c.path, len(b), b[:min(len(b), 8)], c.magic)
			}
		}
		r = runBin(t, bin, env, "run", "nightly", "--trace", filepath.Join(dir, "no", "such", "folder", "t"))
		if r.code != exitUsage || !strings.Contains(r.stderr, "--trace") {
			t.Errorf("an unwritable --trace: exit %d, want %d\n%s", r.code, exitUsage, r.stderr)
		}
	})

	t.Run("failing job sets the exit status and the others still run", func(t *testing.T) {
		r := runBin(t, bin, env, "run", "broken", "nightly")
		if r.code != exitFailed {
			t.Fatalf("exit %d, want %d\n%s\n%s", r.code, exitFailed, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "broken: FAILED") || !strings.Contains(r.stdout, "nightly: ok") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "1 of 2 jobs failed: broken") || !strings.Contains(r.stdout, "nosuchtable") {
			t.Errorf("stderr:\n%s\nstdout:\n%s", r.stderr, r.stdout)
		}
	})

	t.Run("a job whose lock is held is skipped with exit 3", func(t *testing.T) {
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(context.Background(), "DO GET_LOCK(CONCAT('joinery/', DATABASE(), '/nightly'), 0)"); err != nil {
			t.Fatal(err)
		}
		r := runBin(t, bin, env, "run", "nightly")
		if r.code != exitLocked || !strings.Contains(r.stdout, "nightly: SKIPPED") {
			t.Errorf("exit %d, want %d\n%s\n%s", r.code, exitLocked, r.stdout, r.stderr)
		}
	})

	t.Run("validate --connect names the missing table", func(t *testing.T) {
		r := runBin(t, bin, env, "validate", "--connect")
		if r.code != exitFailed || !strings.Contains(r.stderr, "dataset missing") || !strings.Contains(r.stderr, "nosuchtable") {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("validate --connect binds parameters by their types", func(t *testing.T) {
		// Every type, as a list in in and not in, required or with a default.
		const cfg = `
database: {dsn: "${E2E_DSN}"}
jobs:
  - name: listed
    schedule: "@daily"
    params:
      ids: {type: "list<int>", required: true}
      names: {type: "list<string>", default: [Alice, Zoë]}
      scores: {type: "list<decimal>", required: true}
      days: {type: "list<date>", default: ["2024-01-05"]}
      times: {type: "list<datetime>", required: true}
      flags: {type: "list<bool>", default: [true]}
      since: {type: datetime, required: true}
    datasets:
      users:
        from: users u
        select: [u.id, u.name]
        where:
          - {column: u.id, op: in, param: ids}
          - {column: u.name, op: not in, param: names}
          - {column: u.score, op: in, param: scores}
          - {column: "date(u.created_at)", op: not in, param: days}
          - {column: u.created_at, op: in, param: times}
          - {column: "if(u.score > 0, 1, 0)", op: in, param: flags}
          - {column: u.created_at, op: ">=", param: since}
    outputs:
      - {format: csv, path: "{job}.csv"}
`
		path := filepath.Join(dir, "params.yaml")
		os.WriteFile(path, []byte(cfg), 0o644)
		r := runBin(t, bin, env, "validate", "--connect", "--config", path)
		if r.code != 0 || !strings.Contains(r.stdout, "every table and column exists") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		os.WriteFile(path, []byte(strings.Replace(cfg, "column: u.score, op: in", "column: u.scores, op: in", 1)), 0o644)
		r = runBin(t, bin, env, "validate", "--connect", "--config", path)
		if r.code != exitFailed || !strings.Contains(r.stderr, "1 dataset does not match the database") ||
			!strings.Contains(r.stderr, "job listed: dataset users: Error 1054 (42S22): Unknown column 'u.scores' in 'WHERE'") {
			t.Errorf("exit %d, want %d and the server's message\n%s", r.code, exitFailed, r.stderr)
		}
	})

	t.Run("sql prints bound arguments", func(t *testing.T) {
		r := runBin(t, bin, env, "sql", "nightly")
		if r.code != 0 || !strings.Contains(r.stdout, "LIKE ?") || !strings.Contains(r.stdout, `$1 = "%e%"`) {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("raw SQL: sql, validate --connect, explain and run", func(t *testing.T) {
		const cfg = `
database: {dsn: "${E2E_DSN}"}
output_dir: rawout
jobs:
  - name: raw
    schedule: "@daily"
    params:
      min_views: {type: int, default: 5}
      countries: {type: "list<string>", default: [DE, GB, US]}
    datasets:
      ranked:
        sql_file: sql/ranked.sql
        expect: [rows >= 1]
    outputs:
      - {format: csv, path: "{job}/{dataset}.csv"}
`
		const query = `WITH t AS (
  SELECT u.country, p.title, p.views FROM posts p JOIN users u ON u.id = p.user_id
  WHERE p.views >= :min_views AND u.country IN (:countries)
)
SELECT country, title, views, RANK() OVER (PARTITION BY country ORDER BY views DESC) AS country_rank
FROM t ORDER BY country, country_rank, title;
`
		rawDir := filepath.Join(dir, "rawcfg")
		path := filepath.Join(rawDir, "config.yaml")
		os.MkdirAll(filepath.Join(rawDir, "sql"), 0o755)
		os.WriteFile(path, []byte(cfg), 0o644)
		os.WriteFile(filepath.Join(rawDir, "sql", "ranked.sql"), []byte(query), 0o644)

		r := runBin(t, bin, env, "sql", "raw", "--config", path, "--param", "countries=DE,US")
		for _, want := range []string{"WHERE p.views >= ? AND u.country IN (?, ?)\n", "FROM t ORDER BY country, country_rank, title;\n",
			"$1 = 5 (int64)  -- param min_views", `$2 = "DE"  -- param countries[0]`, `$3 = "US"  -- param countries[1]`} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("sql: exit %d, stdout lacks %q\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		}
		r = runBin(t, bin, env, "validate", "--connect", "--config", path)
		if r.code != 0 || !strings.Contains(r.stdout, "every table and column exists") {
			t.Errorf("validate --connect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = runBin(t, bin, env, "explain", "raw", "--config", path)
		if r.code != 0 || !strings.Contains(r.stdout, "select_type") {
			t.Errorf("explain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = runBin(t, bin, env, "run", "raw", "--config", path)
		if r.code != 0 {
			t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		recs := readCSV(t, filepath.Join(rawDir, "rawout", "raw", "ranked.csv"))
		want := handCount(t, db, "SELECT COUNT(*) FROM posts p JOIN users u ON u.id = p.user_id WHERE p.views >= 5 AND u.country IN ('DE', 'GB', 'US')")
		if want == 0 || len(recs)-1 != want || strings.Join(recs[0], ",") != "country,title,views,country_rank" {
			t.Errorf("csv: header %q and %d rows, want %d rows", recs[0], len(recs)-1, want)
		}

		// The server's error names the file, and its line is the file's.
		os.WriteFile(filepath.Join(rawDir, "sql", "ranked.sql"), []byte(strings.Replace(query, "FROM t ORDER", "FROM t ORDR", 1)), 0o644)
		r = runBin(t, bin, env, "validate", "--connect", "--config", path)
		if r.code != exitFailed || !strings.Contains(r.stderr, "job raw: dataset ranked: sql_file sql/ranked.sql: Error 1064") || !strings.Contains(r.stderr, "at line 6") {
			t.Errorf("validate --connect of bad SQL: exit %d, want %d\n%s", r.code, exitFailed, r.stderr)
		}
	})

	t.Run("list", func(t *testing.T) {
		r := runBin(t, bin, env, "list")
		if r.code != 0 || !strings.Contains(r.stdout, "nightly") || !strings.Contains(r.stdout, "06:00 UTC") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{{"run"}, {"run", "nope"}, {"frobnicate"}, {"run", "nightly", "--at", "yesterday"},
			{"list", "--next", "-1"}, {"list", "--next", "100000"}, {"sql", "nightly", "nightly"}} {
			// A panic exits 2 as well: the message tells them apart.
			if r := runBin(t, bin, env, args...); r.code != exitUsage || !strings.HasPrefix(r.stderr, "joinery: ") && !strings.Contains(r.stderr, "\njoinery: ") {
				t.Errorf("%q: exit %d, want %d and a joinery error\n%s", args, r.code, exitUsage, r.stderr)
			}
		}
	})

	t.Run("a bad flag or log level is named once, with where it came from", func(t *testing.T) {
		r := runBin(t, bin, env, "sql", "nightly", "--param", "nope")
		if r.code != exitUsage || strings.Count(r.stderr, "nope") != 1 || strings.Contains(r.stderr, "Usage:") {
			t.Errorf("exit %d, want %d and the error once, without the usage\n%s", r.code, exitUsage, r.stderr)
		}
		r = runBin(t, bin, append(env, "JOINERY_LOG_LEVEL=loud"), "run", "nightly")
		if r.code != exitUsage || !strings.Contains(r.stderr, `$JOINERY_LOG_LEVEL "loud"`) {
			t.Errorf("exit %d, want %d and the variable named\n%s", r.code, exitUsage, r.stderr)
		}
	})

	t.Run("a configuration that cannot be used exits 2", func(t *testing.T) {
		noDB := filepath.Join(dir, "nodb.yaml")
		os.WriteFile(noDB, []byte(strings.Replace(e2eConfig, "  dsn: ${E2E_DSN}\n", "  dsn: embedded\n", 1)), 0o644)
		required := filepath.Join(dir, "required.yaml")
		os.WriteFile(required, []byte(strings.Replace(e2eConfig, `    schedule: "0 6 * * *"`,
			`    schedule: "0 6 * * *"`+"\n    params: {country: {type: string, required: true}}", 1)), 0o644)
		// Refused before connecting: the database's state does not matter.
		requiredNoDB := filepath.Join(dir, "required-nodb.yaml")
		os.WriteFile(requiredNoDB, []byte(strings.Replace(strings.Replace(e2eConfig, `    schedule: "0 6 * * *"`,
			`    schedule: "0 6 * * *"`+"\n    params: {country: {type: string, required: true}}", 1),
			"  dsn: ${E2E_DSN}\n", "  dsn: nobody:wrong@tcp(127.0.0.1:1)/none\n", 1)), 0o644)
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"list", "--config", filepath.Join(dir, "missing.yaml")}, "read config"},
			{[]string{"validate", "--config", dir}, "read config"}, // a folder
			{[]string{"run", "nightly", "--config", noDB}, "built without the embedded demo database"},
			{[]string{"schedule", "--config", required}, "cannot run on its schedule"},
			{[]string{"schedule", "--config", requiredNoDB}, "cannot run on its schedule"},
		} {
			r := runBin(t, bin, env, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "127.0.0.1:1") {
				t.Errorf("%q: exit %d, want %d and %q, without a connection attempt\n%s", tt.args, r.code, exitUsage, tt.want, r.stderr)
			}
		}
	})

	t.Run("config errors exit 2 and name file, line, path and value", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.yaml")
		os.WriteFile(bad, []byte(strings.Replace(e2eConfig, "0 6 * * *", "0 25 * * *", 1)), 0o644)
		r := runBin(t, bin, env, "validate", "--config", bad)
		if r.code != exitUsage || !strings.Contains(r.stderr, bad+":8: jobs[0].schedule: \"0 25 * * *\"") {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("password never printed", func(t *testing.T) {
		env := append(env, "E2E_DSN=root:topsecret@tcp(127.0.0.1:1)/x")
		r := runBin(t, bin, env, "run", "nightly")
		if r.code == 0 || strings.Contains(r.stdout+r.stderr, "topsecret") {
			t.Errorf("exit %d, output shows the password or succeeded:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("version and help", func(t *testing.T) {
		if r := runBin(t, bin, nil, "--version"); r.code != 0 || r.stdout != "joinery e2e-test\n" {
			t.Errorf("--version: %d %q", r.code, r.stdout)
		}
		for _, cmd := range []string{"run", "list", "validate", "sql", "explain", "schedule", "version"} {
			r := runBin(t, bin, nil, cmd, "--help")
			if r.code != 0 || !strings.Contains(r.stdout, "Usage: joinery "+cmd) || r.stderr != "" {
				t.Errorf("%s --help: exit %d, want the usage on stdout and nothing on stderr\nstdout:\n%s\nstderr:\n%s", cmd, r.code, r.stdout, r.stderr)
			}
		}
	})
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func handCount(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestScheduleStopsOnSIGTERM runs the daemon until its first report, then
// stops it the way a container runtime does.
func TestScheduleStopsOnSIGTERM(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dir := t.TempDir()
	cfg := strings.Replace(e2eConfig, `"0 6 * * *"`, `"@every 1s"`, 1)
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	d := startDaemon(t, binary(t, ""), []string{"E2E_DSN=" + testdb.DSN(t)}, "schedule", "--config", cfgPath, "--grace", "10s")
	d.waitForFile(t, filepath.Join(dir, "out", "nightly", "*.xlsx"))
	log := d.stop(t)
	for _, want := range []string{`"msg":"scheduler started"`, `"msg":"run finished"`, `"msg":"scheduler stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	// No temporary file is left behind, whatever the run was doing.
	checkNoTempFiles(t, dir)
}

// daemon is a joinery schedule process under test.
type daemon struct {
	cmd    *exec.Cmd
	stderr testlog.Buffer // read while it is written
	done   chan error     // Wait's result
}

func startDaemon(t *testing.T, bin string, env []string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd)
}

// startCmd starts cmd as a daemon; it is killed when the test ends.
func startCmd(t *testing.T, cmd *exec.Cmd) *daemon {
	t.Helper()
	d := &daemon{cmd: cmd, done: make(chan error, 1)}
	d.cmd.Stderr = &d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.cmd.Process.Kill() })
	return d
}

// running fails the test if the daemon ends within wait.
func (d *daemon) running(t *testing.T, wait time.Duration, why string) {
	t.Helper()
	select {
	case err := <-d.done:
		t.Fatalf("the daemon exited %s: %v\n%s", why, err, d.stderr.String())
	case <-time.After(wait):
	}
}

// waitForFile waits up to 30 s for a file matching pattern.
func (d *daemon) waitForFile(t *testing.T, pattern string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			<-d.done
			t.Fatalf("no %s within 30 s:\n%s", pattern, d.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForLog waits up to 30 s for the daemon to log text.
func (d *daemon) waitForLog(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(d.stderr.String(), text) {
		select {
		case err := <-d.done:
			t.Fatalf("the daemon exited before it logged %s: %v\n%s", text, err, d.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			<-d.done
			t.Fatalf("no %s logged within 30 s:\n%s", text, d.stderr.String())
		}
	}
}

// stop sends SIGTERM, as a container runtime does, expects a clean exit
// within 30 s and returns the daemon's log.
func (d *daemon) stop(t *testing.T) string {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		t.Fatal("schedule did not stop within 30 s of SIGTERM")
	}
	return d.stderr.String()
}

// TestDemo is the README's first command: the shipped config.yaml on the
// embedded demo database, with no MySQL server.
func TestDemo(t *testing.T) {
	bin := binary(t, "demo")
	dir := t.TempDir()
	data, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, data, 0o644)
	r := runBin(t, bin, []string{"JOINERY_DSN=", "JOINERY_OUTPUT_DIR="}, "run", "--all", "--config", cfgPath, "--at", "2026-11-01T06:00")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	x, err := excelize.OpenFile(filepath.Join(dir, "reports", "users-posts", "users-posts-2026-11-01.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	want := map[string]int{"users_with_posts": 7631, "posts_per_user": 2000, "orphan_posts": 369, "reconciliation": 7631 + 291 + 369}
	for sheet, n := range want {
		rows, err := x.GetRows(sheet)
		if err != nil || len(rows) != n+1 {
			t.Errorf("sheet %s: %d rows, %v; want %d + header", sheet, len(rows), err, n)
		}
	}
	// The embedded engine has no consistent snapshot to offer, and the
	// manifest says the run read none.
	m, err := os.ReadFile(filepath.Join(dir, "reports", "users-posts", "users-posts-20261101T050000Z.manifest.json"))
	if err != nil || !strings.Contains(string(m), `"snapshot": false`) {
		t.Errorf("manifest: %v, want snapshot false:\n%s", err, m)
	}
	// explain has nothing to show on the embedded engine, and says so.
	r = runBin(t, bin, []string{"JOINERY_DSN="}, "explain", "users-posts", "--config", cfgPath)
	if r.code != exitUsage || !strings.Contains(r.stderr, "explain needs MySQL or MariaDB") {
		t.Errorf("explain on the demo database: exit %d\n%s", r.code, r.stderr)
	}
	// The production build refuses the embedded database with a clear message.
	r = runBin(t, binary(t, ""), []string{"JOINERY_DSN="}, "run", "--all", "--config", cfgPath)
	if r.code != exitUsage || !strings.Contains(r.stderr, "-tags demo") {
		t.Errorf("production binary: exit %d\n%s", r.code, r.stderr)
	}
}

// TestProductionBuildLeavesDemoOut keeps the embedded engine (about 230
// modules, 55 MB) out of the binary that ships.
func TestProductionBuildLeavesDemoOut(t *testing.T) {
	deps := func(tags string) string {
		out, err := exec.Command("go", "list", "-deps", "-tags", tags, ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		return string(out)
	}
	if d := deps(""); strings.Contains(d, "dolthub") || strings.Contains(d, "internal/demodb") {
		t.Error("the production build links the embedded demo database")
	}
	if d := deps("demo"); !strings.Contains(d, "github.com/joinery/joinery/internal/demodb") {
		t.Error("-tags demo does not link the embedded demo database")
	}
}
