package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/internal/mysqlconn"
)

const validJob = `
jobs:
  - name: nightly
    schedule: "0 6 * * *"
    datasets:
      posts:
        from: users u
        joins:
          - {table: posts, as: p, type: left, on: u.id = p.user_id}
        select: [u.id, p.title]
    outputs:
      - {format: xlsx, path: "{job}-{date}.xlsx"}
`

func TestParseValid(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("timezone: Europe/Berlin\n"+validJob))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Location.String(); got != "Europe/Berlin" {
		t.Errorf("location = %s, want Europe/Berlin", got)
	}
	j := &cfg.Jobs[0]
	if j.Location != cfg.Location {
		t.Errorf("job location = %v, want the config's", j.Location)
	}
	if got := j.Datasets[0].Name; got != "posts" {
		t.Errorf("dataset name = %q, want posts", got)
	}
	if got := j.Datasets[0].Joins[0].On[0].Right; got != "p.user_id" {
		t.Errorf("on right = %q, want p.user_id", got)
	}
	// Defaults.
	if cfg.Database.MaxOpenConns != 4 || cfg.Database.ReadTimeout != time.Hour || cfg.OutputDir != "reports" {
		t.Errorf("defaults not applied: %+v, output_dir %q", cfg.Database, cfg.OutputDir)
	}
	// file_mode is octal, written bare or quoted.
	for _, v := range []string{"0640", `"0640"`, `"640"`} {
		c, err := Parse("c.yaml", []byte(strings.Replace(validJob, `.xlsx"}`, `.xlsx", file_mode: `+v+`}`, 1)))
		if err != nil {
			t.Fatalf("file_mode: %s: %v", v, err)
		}
		if got := c.Jobs[0].Outputs[0].FileMode; got != 0o640 {
			t.Errorf("file_mode: %s = %s, want 0640", v, got)
		}
	}
	// The schedule runs at 06:00 Berlin time.
	next := j.Next(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), 2)
	want := time.Date(2026, 11, 26, 6, 0, 0, 0, cfg.Location)
	if len(next) != 2 || !next[0].Equal(want) {
		t.Errorf("next = %v, want first %v", next, want)
	}
}

func TestShippedConfig(t *testing.T) {
	cfg, err := Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Jobs) == 0 {
		t.Fatal("no jobs")
	}
	if !cfg.Database.Embedded() {
		t.Errorf("shipped config should default to the embedded database")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// each wanted problem: substrings of one problem's message
		want [][]string
	}{
		{"syntax", "timezone: UTC\njobs:\n  - name: a\n   bad: [", [][]string{{"c.yaml:2: invalid YAML", "did not find expected"}}},
		{"empty", "", [][]string{{"c.yaml", "empty"}}},
		{"unknown top-level key", "timezon: UTC\n" + validJob, [][]string{{"c.yaml:1:", "timezon", "unknown field"}}},
		{"wrong type", "output_dir: [a]\n" + validJob, [][]string{{"c.yaml:1:", "output_dir", "want a string"}}},
		{"bad timezone", "timezone: Mars/Olympus\n" + validJob, [][]string{{"c.yaml:1:", "timezone", `"Mars/Olympus"`, "unknown time zone"}}},
		{"bad duration", "database: {read_timeout: soon}\n" + validJob, [][]string{{"database.read_timeout", `"soon"`, "duration"}}},
		{"bad int", "database: {max_open_conns: many}\n" + validJob, [][]string{{"database.max_open_conns", `"many"`, "whole number"}}},
		{"missing env var", "database: {dsn: 'u:${JOINERY_TEST_NOPE_PW}@tcp(h)/d'}\n" + validJob, [][]string{{"database.dsn", "JOINERY_TEST_NOPE_PW is not set"}}},
		{"output_dir from an unset variable", "output_dir: ${JOINERY_TEST_NOPE_DIR}/r\n" + validJob, [][]string{{"c.yaml:1:", "output_dir", `"${JOINERY_TEST_NOPE_DIR}/r"`, "JOINERY_TEST_NOPE_DIR is not set"}}},
		{"bad lock", "database: {dsn: 'u@tcp(h)/d', lock: redis}\n" + validJob, [][]string{{"c.yaml:1:", "database.lock", `"redis"`, "auto, named, lease or none"}}},
		{"lease on the embedded database", "database: {lock: lease}\n" + validJob, [][]string{{"database.lock", `"lease"`, "embedded demo database has no lease table"}}},
		{"bad lock_table", "database: {dsn: 'u@tcp(h)/d', lock_table: 'locks`; DROP TABLE x'}\n" + validJob, [][]string{{"database.lock_table", "schema.table"}}},
		{"lock_table with three parts", "database: {dsn: 'u@tcp(h)/d', lock_table: a.b.c}\n" + validJob, [][]string{{"database.lock_table", `"a.b.c"`}}},
		{"short lease_ttl", "database: {dsn: 'u@tcp(h)/d', lease_ttl: 2s}\n" + validJob, [][]string{{"database.lease_ttl", `"2s"`, "at least 5s"}}},
		{"negative lease_ttl", "database: {dsn: 'u@tcp(h)/d', lease_ttl: -1m}\n" + validJob, [][]string{{"database.lease_ttl"}}},
		{"no jobs", "timezone: UTC\n", [][]string{{"jobs", "at least one job"}}},
		{"duplicate job", "jobs:\n" + jobYAML("a", "@daily") + jobYAML("a", "@daily"), [][]string{{"jobs[1].name", `"a"`, "duplicate", "jobs[0]"}}},
		{"bad job name", "jobs:\n" + jobYAML("a/b", "@daily"), [][]string{{"jobs[0].name", `"a/b"`, "file names"}}},
		{"bad cron", "jobs:\n" + jobYAML("a", "61 * * * *"), [][]string{{"c.yaml:3:", "jobs[0].schedule", `"61 * * * *"`, "invalid cron"}}},
		{"six fields", "jobs:\n" + jobYAML("a", "0 0 6 * * *"), [][]string{{"jobs[0].schedule", "5 fields"}}},
		{"same file, extension added", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), `      - {format: xlsx, path: "{job}.xlsx"}`, `      - {format: csv, path: "same.csv"}`+"\n"+`      - {format: csv, path: "same"}`, 1), [][]string{{"jobs[0].outputs[1].path", "writes same.csv, as jobs[0].outputs[0] does"}}},
		{"same file across jobs", "jobs:\n" + jobYAML("a", "@daily") + strings.Replace(jobYAML("b", "@daily"), `path: "{job}.xlsx"`, `path: "a.xlsx"`, 1), [][]string{{"jobs[1].outputs[0].path", "writes a.xlsx, as jobs[0].outputs[0] does"}}},
		{"every zero", "jobs:\n" + jobYAML("a", "@every 0s"), [][]string{{"jobs[0].schedule", "at least 1s"}}},
		{"password never echoed", "database: \"reporter:hunter2@tcp(db:3306)/app\"\n" + validJob, [][]string{{"c.yaml:1:", "database", "want a mapping"}}},
		{"limit out of range", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "select: [u.id, p.title]", "select: [u.id, p.title]\n        limit: 18446744073709551615", 1), [][]string{{"jobs[0].datasets.posts.limit", "must be from 1 to"}}},
		{"negative limit reported once", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "select: [u.id, p.title]", "select: [u.id, p.title]\n        limit: -1", 1), [][]string{{"jobs[0].datasets.posts.limit", "whole number"}}},
		{"huge window", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "schedule:", "window: last 9999999h\n    schedule:", 1), [][]string{{"jobs[0].window", "hours from 1 to"}}},
		{"bare CRON_TZ", "jobs:\n" + jobYAML("a", "CRON_TZ=UTC"), [][]string{{"jobs[0].schedule", "timezone field"}}},
		{"file_mode not octal", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), `path: "{job}.xlsx"}`, `path: "{job}.xlsx", file_mode: "rw-r-----"}`, 1), [][]string{{"jobs[0].outputs[0].file_mode", `"rw-r-----"`, "octal"}}},
		{"file_mode the owner cannot write", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), `path: "{job}.xlsx"}`, `path: "{job}.xlsx", file_mode: 0440}`, 1), [][]string{{"jobs[0].outputs[0].file_mode", `"0440"`, "read and write"}}},
		{"negative retry_delay", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "schedule:", "retry_delay: -1m\n    schedule:", 1), [][]string{{"c.yaml:3:", "jobs[0].retry_delay", "positive duration"}}},
		{"negative retry_max_delay", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "schedule:", "retry_max_delay: -1m\n    schedule:", 1), [][]string{{"c.yaml:3:", "jobs[0].retry_max_delay", "positive duration"}}},
		{"retry_max_delay under retry_delay", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "schedule:", "retry_delay: 10m\n    retry_max_delay: 5m\n    schedule:", 1), [][]string{{"jobs[0].retry_max_delay", "shorter than retry_delay (10m0s)"}}},
		{"job timezone", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "schedule:", "timezone: Nowhere\n    schedule:", 1), [][]string{{"jobs[0].timezone", `"Nowhere"`}}},
		{"unknown job key", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "schedule:", "shedule: x\n    schedule:", 1), [][]string{{"jobs[0].shedule", "unknown field", "schedule"}}},
		{"dataset error", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "u.id = p.user_id", "u.id = x.user_id", 1), [][]string{{"jobs[0].datasets.posts.joins[0].on", "x"}}},
		{"window field without a window reported once", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), `path: "{job}.xlsx"`, `path: "{job}-{from}-{to}.xlsx"`, 1), [][]string{{"c.yaml:", "jobs[0].outputs[0].path", `"{job}-{from}-{to}.xlsx"`, "{from} needs a run window"}}},
		{"window field in latest", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), `path: "{job}.xlsx"`, `path: "{job}.xlsx", latest: "{job}-{to}"`, 1), [][]string{{"jobs[0].outputs[0].latest", "{to} needs a run window"}}},
		{"unparsed shorthand reported once", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "u.id = p.user_id", "u.id == p.user_id", 1), [][]string{{"jobs[0].datasets.posts.joins[0].on[0]", `"u.id == p.user_id"`, "condition"}}},
		{"unparsed selection reported once", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "select: [u.id, p.title]", "select: [u.id, \"u.`name`\"]", 1), [][]string{{"jobs[0].datasets.posts.select[1]", "unexpected character"}}},
		{"no outputs", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), `      - {format: xlsx, path: "{job}.xlsx"}`+"\n", "", 1), [][]string{{"jobs[0].outputs", "at least one output"}}},
		{"bad output format", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "format: xlsx", "format: pdf", 1), [][]string{{"jobs[0].outputs[0]", "pdf"}}},
		{"unknown dataset key", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "select:", "selct: [u.id]\n        select:", 1), [][]string{{"jobs[0].datasets.posts.selct", "unknown field"}}},
		{"alias as a field name", "x: &k jobs\n*k : []\n", [][]string{{"c.yaml:2:", "keys must be plain names"}}},
		{"alias as a dataset name", "timezone: &n UTC\n" + strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "      posts:", "      *n :", 1), [][]string{{"c.yaml:6:", "jobs[0].datasets", "keys must be plain names"}}},
		{"bad parameter name", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "    datasets:", "    params: {1x: {type: int, default: 1}}\n    datasets:", 1), [][]string{{`jobs[0].params.1x: "1x": invalid parameter name`}}},
		{"list as a parameter name", strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "    datasets:", "    params: {[a, b]: int}\n    datasets:", 1), [][]string{{"jobs[0].params", "keys must be plain names"}}},
		{"many at once", "timezone: Nope\njobs:\n" + jobYAML("a", "bad") + jobYAML("a", "@daily"), [][]string{
			{"timezone", "unknown time zone"},
			{"jobs[0].schedule", "invalid cron"},
			{"jobs[1].name", "duplicate"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if len(ce.Problems) < len(tt.want) {
				t.Errorf("got %d problems, want at least %d:\n%v", len(ce.Problems), len(tt.want), err)
			}
			for _, want := range tt.want {
				if !anyProblem(ce.Problems, want) {
					t.Errorf("no problem contains all of %q in:\n%v", want, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password:\n%v", err)
			}
			if strings.HasSuffix(tt.name, "reported once") && len(ce.Problems) != 1 {
				t.Errorf("got %d problems, want exactly 1:\n%v", len(ce.Problems), err)
			}
		})
	}
}

func anyProblem(ps []*config.FieldError, subs []string) bool {
	for _, p := range ps {
		msg := p.Error()
		ok := true
		for _, s := range subs {
			if !strings.Contains(msg, s) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestRetryDefaults(t *testing.T) {
	tests := []struct {
		settings           string
		wantDelay, wantMax time.Duration
	}{
		{"", time.Minute, 15 * time.Minute},
		{"retry_delay: 2m", 2 * time.Minute, 15 * time.Minute},
		{"retry_delay: 30m", 30 * time.Minute, 30 * time.Minute}, // no cap below the first wait
		{"retry_max_delay: 1h", time.Minute, time.Hour},
	}
	for _, tt := range tests {
		cfg, err := Parse("c.yaml", []byte(strings.Replace("jobs:\n"+jobYAML("a", "@daily"), "schedule:", tt.settings+"\n    schedule:", 1)))
		if err != nil {
			t.Fatalf("%q: %v", tt.settings, err)
		}
		if j := cfg.Jobs[0]; j.RetryDelay != tt.wantDelay || j.RetryMaxDelay != tt.wantMax {
			t.Errorf("%q: retry_delay %s, retry_max_delay %s; want %s, %s", tt.settings, j.RetryDelay, j.RetryMaxDelay, tt.wantDelay, tt.wantMax)
		}
	}
}

func jobYAML(name, schedule string) string {
	return `  - name: "` + name + `"
    schedule: "` + schedule + `"
    datasets:
      posts:
        from: users u
        joins:
          - {table: posts, as: p, on: u.id = p.user_id}
        select: [u.id, p.title]
    outputs:
      - {format: xlsx, path: "{job}.xlsx"}
`
}

func TestOutputDirFromEnvironment(t *testing.T) {
	t.Setenv("JOINERY_TEST_DIR", "/srv/reports")
	t.Setenv("JOINERY_TEST_REL", "out")
	t.Setenv("JOINERY_TEST_EMPTY", "")
	tests := []struct{ yaml, want string }{
		{"", "/etc/joinery/reports"},
		{"output_dir: ${JOINERY_TEST_DIR}\n", "/srv/reports"},
		{"output_dir: ${JOINERY_TEST_DIR:-reports}\n", "/srv/reports"},
		{"output_dir: ${JOINERY_TEST_UNSET_DIR:-reports}\n", "/etc/joinery/reports"},
		{"output_dir: ${JOINERY_TEST_EMPTY:-/reports}\n", "/reports"},
		// A relative path is resolved from the config's folder, wherever it came from.
		{"output_dir: ${JOINERY_TEST_REL}/x\n", "/etc/joinery/out/x"},
	}
	for _, tt := range tests {
		cfg, err := Parse("/etc/joinery/config.yaml", []byte(tt.yaml+validJob))
		if err != nil {
			t.Errorf("%q: %v", tt.yaml, err)
			continue
		}
		if got := cfg.OutputPath(); got != tt.want {
			t.Errorf("%q: OutputPath() = %q, want %q", tt.yaml, got, tt.want)
		}
	}
	_, err := Parse("c.yaml", []byte("output_dir: ${JOINERY_TEST_EMPTY}\n"+validJob))
	if err == nil || !strings.Contains(err.Error(), "output_dir") || !strings.Contains(err.Error(), "empty") {
		t.Errorf("a variable set to nothing: err = %v, want output_dir named as empty", err)
	}
}

// TestLockDefaults: database.lock is auto, the lease table joinery_locks
// and its time to live a minute unless set; a schema-qualified table is
// accepted.
func TestLockDefaults(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(validJob))
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Database; d.Lock != LockAuto || d.LockTable != "joinery_locks" || d.LeaseTTL != time.Minute {
		t.Errorf("defaults: lock %q, table %q, ttl %s", d.Lock, d.LockTable, d.LeaseTTL)
	}
	cfg, err = Parse("c.yaml", []byte("database: {dsn: 'u@tcp(h)/d', lock: lease, lock_table: ops.leases, lease_ttl: 30s}\n"+validJob))
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Database; d.Lock != LockLease || d.LockTable != "ops.leases" || d.LeaseTTL != 30*time.Second {
		t.Errorf("set: lock %q, table %q, ttl %s", d.Lock, d.LockTable, d.LeaseTTL)
	}
}

// TestLockFor: auto takes the engine profile's lock (named on one MySQL
// or MariaDB server and the embedded demo, the lease on clusters, TiDB,
// Vitess and unknown engines); any other setting is used as is.
func TestLockFor(t *testing.T) {
	engines := map[mysqlconn.Engine]string{
		{Kind: mysqlconn.MySQL}:                             LockNamed,
		{Kind: mysqlconn.MySQL, GroupReplication: true}:     LockLease,
		{Kind: mysqlconn.MariaDB}:                           LockNamed,
		{Kind: mysqlconn.MariaDBGalera}:                     LockLease,
		{Kind: mysqlconn.TiDB, Release: "v7.5.1"}:           LockLease,
		{Kind: mysqlconn.Vitess}:                            LockLease,
		{Kind: mysqlconn.Embedded}:                          LockNamed,
		{Kind: mysqlconn.Unknown}:                           LockLease,
		mysqlconn.Classify("10.11.6-MariaDB-0+deb12u1", ""): LockNamed,
	}
	for e, want := range engines {
		for _, setting := range []string{"", LockAuto} {
			if got := (Database{Lock: setting}).LockFor(e); got != want {
				t.Errorf("lock %q on %s (group replication %v) = %s, want %s", setting, e.Kind, e.GroupReplication, got, want)
			}
		}
		for _, setting := range []string{LockNamed, LockLease, LockNone} {
			if got := (Database{Lock: setting}).LockFor(e); got != setting {
				t.Errorf("lock %q on %s = %s", setting, e.Kind, got)
			}
		}
	}
}
