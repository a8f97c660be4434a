package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
)

const deliverConfig = `
database:
  dsn: ${E2E_DSN}
timezone: UTC
output_dir: out
jobs:
  - name: nightly
    schedule: "0 6 * * *"
    window: previous_day
    datasets:
      posts: {from: posts p, select: [p.id, p.title]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{from}.csv"}
    deliver:
      - name: chat
        on: [success, failure]
        retries: 0
        webhook: {url: "${E2E_HOOK}", style: json}
  - name: broken
    schedule: "0 6 * * *"
    datasets:
      posts: {from: no_such_table p, select: [p.id]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
    deliver:
      - {name: chat, on: [failure], retries: 0, webhook: {url: "${E2E_HOOK}"}}
`

// TestDeliverCommands drives run, history, deliver and validate --connect
// against a webhook in the test.
func TestDeliverCommands(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	t.Setenv("E2E_DSN", testdb.DSN(t))
	var (
		mu     sync.Mutex
		bodies []string
		status = http.StatusOK
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(body))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	t.Setenv("E2E_HOOK", srv.URL+"/hooks/sekrit-token")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(deliverConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := secretCLI(t, cfg, "error", "sekrit")
	sent := func() int { mu.Lock(); defer mu.Unlock(); return len(bodies) }

	code, out := cli("run", "nightly", "--at", "2026-11-02T06:00:00Z")
	if code != 0 || sent() != 1 {
		t.Fatalf("run: exit %d, %d messages\n%s", code, sent(), out)
	}
	var doc struct {
		Event string
		Job   string
		Files []struct{ Path, Output string }
	}
	if err := json.Unmarshal([]byte(bodies[0]), &doc); err != nil || doc.Event != "success" || len(doc.Files) != 1 || doc.Files[0].Output != "csv" || doc.Files[0].Path != "nightly/posts-2026-11-01.csv" {
		t.Errorf("message %s (%v)", bodies[0], err)
	}
	code, out = cli("history", "nightly")
	if code != 0 || !strings.Contains(out, "2026-11-02T06:00:00Z") || !strings.Contains(out, "chat sent") {
		t.Errorf("history: exit %d\n%s", code, out)
	}
	// Sent already: nothing is sent again, unless asked by name.
	code, out = cli("deliver", "nightly")
	if code != 0 || sent() != 1 || !strings.Contains(out, "chat: skipped, sent already") {
		t.Errorf("deliver: exit %d, %d messages\n%s", code, sent(), out)
	}
	code, out = cli("deliver", "nightly", "--to", "chat")
	if code != 0 || sent() != 2 || !strings.Contains(out, "chat: sent (200 OK)") {
		t.Errorf("deliver --to: exit %d, %d messages\n%s", code, sent(), out)
	}
	code, out = cli("deliver", "nightly", "--to", "mail")
	if code != exitUsage || !strings.Contains(out, "no destination of that name (it has: chat)") {
		t.Errorf("deliver --to mail: exit %d\n%s", code, out)
	}
	code, out = cli("deliver", "nightly", "--run", "nope")
	if code != exitUsage || !strings.Contains(out, "has no run nope") {
		t.Errorf("deliver --run nope: exit %d\n%s", code, out)
	}

	// --no-deliver: reports only; deliver sends them later.
	code, out = cli("run", "nightly", "--at", "2026-11-03T06:00:00Z", "--no-deliver")
	if code != 0 || sent() != 2 {
		t.Fatalf("run --no-deliver: exit %d, %d messages\n%s", code, sent(), out)
	}
	if _, out = cli("history", "nightly"); !strings.Contains(out, "not delivered") {
		t.Errorf("history after --no-deliver:\n%s", out)
	}
	if code, out = cli("deliver", "nightly"); code != 0 || sent() != 3 {
		t.Errorf("deliver after --no-deliver: exit %d, %d messages\n%s", code, sent(), out)
	}

	// A destination that refuses: the run committed (exit 4), the ledger
	// says failed, deliver fails with 1.
	mu.Lock()
	status = http.StatusNotFound
	mu.Unlock()
	code, out = cli("run", "nightly", "--at", "2026-11-04T06:00:00Z")
	if code != exitAfterCommit || !strings.Contains(out, "failed after the commit: deliver: chat:") || !strings.Contains(out, "404") {
		t.Errorf("run with a refusing webhook: exit %d, want %d\n%s", code, exitAfterCommit, out)
	}
	if _, out = cli("history", "nightly"); !strings.Contains(out, "chat failed (1 attempts: ") {
		t.Errorf("history after a failure:\n%s", out)
	}
	if code, out = cli("deliver", "nightly"); code != exitFailed {
		t.Errorf("deliver to a refusing webhook: exit %d\n%s", code, out)
	}

	// A run that fails is notified (Slack style, the built-in text).
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	n := sent()
	code, out = cli("run", "broken")
	if code != exitFailed || sent() != n+1 || !strings.Contains(bodies[n], `"text":"broken: the run for `) || !strings.Contains(bodies[n], "failed after 1 attempt(s)") || !strings.Contains(bodies[n], "no_such_table") {
		t.Errorf("failed run: exit %d, message %q\n%s", code, bodies[n:], out)
	}

	// validate --connect reaches the webhook without posting.
	n = sent()
	// (broken's dataset does not match the database: that is all it says.)
	if code, out = cli("validate", "--connect"); code != exitFailed || sent() != n || strings.Contains(out, "destination") || !strings.Contains(out, "1 dataset does not") {
		t.Errorf("validate --connect: exit %d, %d messages\n%s", code, sent()-n, out)
	}
	srv.Close()
	if code, out = cli("validate", "--connect"); code != exitFailed || !strings.Contains(out, "destination chat: connect to") {
		t.Errorf("validate --connect, server down: exit %d\n%s", code, out)
	}
}

const secretsConfig = `
database:
  dsn: ${E2E_DSN}
timezone: UTC
output_dir: out
jobs:
  - name: secrets
    schedule: "0 6 * * *"
    datasets:
      posts: {from: posts p, select: [p.id, p.title]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
      - {format: xlsx, path: "{job}/{date}.xlsx"}
    deliver:
      - name: mail
        on: [success, failure]
        retries: 0
        email: {host: 127.0.0.1, port: 1, tls: none, username: u, password: "${E2E_SMTP_PASSWORD}", from: a@example.com, to: [b@example.com]}
      - name: mail-file
        retries: 0
        email: {host: 127.0.0.1, port: 1, tls: none, username: u, password_file: "${E2E_SECRETS}/smtp", from: a@example.com, to: [b@example.com]}
      - name: bucket
        retries: 0
        s3: {endpoint: "http://127.0.0.1:1", bucket: reports, access_key_id: "${E2E_S3_KEY}", secret_access_key: "${E2E_S3_SECRET}", session_token: "${E2E_S3_TOKEN}"}
      - name: drop
        retries: 0
        sftp: {host: 127.0.0.1, port: 1, user: u, password: "${E2E_SFTP_PASSWORD}", key_file: "${E2E_SECRETS}/id", passphrase: "${E2E_SFTP_PASSPHRASE}", host_key: "SHA256:uFWlh0bZcdTQZ1rbaHoI0dP0Vd5YRZ3hZ4ynb8S0bWw", dir: /up}
      - name: hook
        on: [success, failure]
        retries: 0
        webhook: {url: "${E2E_HOOK}"}
`

// TestDeliverySecretsNowhere gives every credential field of every kind
// a marker value and runs, lists, re-delivers and validates a job whose
// destinations all fail (nothing listens on their port): no marker in
// any output or log of any command (debug level), nor in any file of
// output_dir (reports, the About sheet, the manifest, the ledger).
func TestDeliverySecretsNowhere(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	t.Setenv("E2E_DSN", testdb.DSN(t))
	const marker = "MARK-s3cr3t"
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "smtp"), []byte(marker+"-smtp-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E2E_SECRETS", secrets)
	for _, v := range []string{"E2E_SMTP_PASSWORD", "E2E_S3_KEY", "E2E_S3_SECRET", "E2E_S3_TOKEN", "E2E_SFTP_PASSWORD", "E2E_SFTP_PASSPHRASE"} {
		t.Setenv(v, marker+"-"+v)
	}
	t.Setenv("E2E_HOOK", "http://127.0.0.1:1/hooks/"+marker+"-hook")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(secretsConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := secretCLI(t, cfg, "debug", marker)
	if code, out := cli("validate"); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	if code, out := cli("run", "secrets", "--at", "2026-11-02T06:00:00Z"); code != exitAfterCommit {
		t.Errorf("run: exit %d, want %d\n%s", code, exitAfterCommit, out)
	}
	if code, out := cli("history", "secrets"); code != 0 || !strings.Contains(out, "mail failed") || !strings.Contains(out, "drop failed") {
		t.Errorf("history: exit %d\n%s", code, out)
	}
	if code, out := cli("deliver", "secrets"); code != exitFailed {
		t.Errorf("deliver: exit %d\n%s", code, out)
	}
	if code, out := cli("validate", "--connect"); code != exitFailed {
		t.Errorf("validate --connect: exit %d\n%s", code, out)
	}
	// A literal secret in the file is refused, and not quoted.
	literal := strings.Replace(secretsConfig, `"${E2E_S3_SECRET}"`, marker+"-literal", 1)
	if err := os.WriteFile(cfg, []byte(literal), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := cli("validate"); code != exitUsage || !strings.Contains(out, "secret_access_key: write the secret access key as a ${VAR}") {
		t.Errorf("validate with a literal secret: exit %d\n%s", code, out)
	}
	files := 0
	err := filepath.WalkDir(filepath.Join(dir, "out"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		texts := []string{string(data)}
		if strings.HasSuffix(path, ".xlsx") {
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				return err
			}
			for _, f := range zr.File {
				rc, err := f.Open()
				if err != nil {
					return err
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				texts = append(texts, string(b))
			}
		}
		for _, text := range texts {
			if strings.Contains(text, marker) {
				t.Errorf("%s holds a secret", path)
			}
		}
		return nil
	})
	if err != nil || files < 4 {
		t.Errorf("output_dir: %d files, %v", files, err)
	}
}

// secretCLI returns a function that runs joinery with args on the
// configuration cfg at the log level, and fails the test when its output
// holds secret.
func secretCLI(t *testing.T, cfg, level, secret string) func(args ...string) (int, string) {
	return func(args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), nil, append(args, "--config", cfg, "--log-level", level), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if strings.Contains(out, secret) {
			t.Errorf("joinery %s shows a secret:\n%s", strings.Join(args, " "), out)
		}
		return code, out
	}
}

// fidelityConfig has a job whose report has everything a template can
// name: a window, parameters of every type in a zone with daylight saving,
// a diagnosed left join, a warning of an expect rule, two outputs.
const fidelityConfig = `
database:
  dsn: ${E2E_DSN}
timezone: Europe/Berlin
output_dir: out
jobs:
  - name: fidelity
    schedule: "0 6 * * *"
    window: previous_day
    params:
      n: {type: int, default: 9007199254740993}
      d: {type: date, default: "2026-10-01"}
      at: {type: datetime, default: "2026-10-25 02:30"}
      ok: {type: bool, default: true}
      amount: {type: decimal, default: "12.50"}
      name: {type: string, default: "x"}
      ids: {type: "list<int>", default: [1, 2]}
      times: {type: "list<datetime>", default: ["2026-03-29 03:00", "2026-07-01 12:00"]}
    datasets:
      users:
        from: users u
        joins: [{table: posts, as: p, type: left, on: u.id = p.user_id}]
        select: [u.id, u.name, p.id AS post_id]
        expect:
          - {check: rows, op: "<=", value: 0, on_fail: warn}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
      - {format: xlsx, path: "{job}/{date}.xlsx"}
    deliver:
      - name: hook
        retries: 0
        webhook:
          url: "${E2E_HOOK}"
          style: json
          templates:
            success: >-
              {{.Job}} {{.RunID}} {{.Logical}} [{{.WindowStart}} {{.WindowEnd}}] {{.Attempts}}
              {{range .Params}}{{.Name}}:{{.Type}}={{.Value}} ({{printf "%T" .Value}}) {{end}}
              {{range .Datasets}}{{.Name}} {{.Rows}} {{.Joins}} {{.Warnings}} {{end}}
              {{.Warnings}} {{range .Files}}{{.Rel}} {{.Output}} {{.Format}} {{.Size}} {{.Rows}} {{.SHA256}} {{.Datasets}} {{end}}
              {{date "2006-01-02 15:04 MST" .Logical}} {{count (rows .)}}
`

// TestDeliverRebuildsTheRunsReport shows that joinery deliver, which
// rebuilds a run's report from its manifest, gives templates what the
// run's own delivery gave them: the webhook's text, which prints every
// field of the report (with the Go type of each parameter's value), and
// its whole JSON document are the same for the run and for the re-send.
func TestDeliverRebuildsTheRunsReport(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	t.Setenv("E2E_DSN", testdb.DSN(t))
	hook := newHook(t)
	t.Setenv("E2E_HOOK", hook.URL+"/hook")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fidelityConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := secretCLI(t, cfg, "error", "no secret here")
	if code, out := cli("run", "fidelity", "--at", "2026-10-26T06:00:00+01:00"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	if code, out := cli("deliver", "fidelity", "--to", "hook"); code != 0 {
		t.Fatalf("deliver: exit %d\n%s", code, out)
	}
	bodies := hook.Bodies()
	if len(bodies) != 2 {
		t.Fatalf("%d messages, want 2", len(bodies))
	}
	for _, want := range []string{"2026-10-26 06:00:00 +0100 CET", "n:int=9007199254740993 (int64)", "at:datetime=2026-10-25 02:30:00 +0200 CEST (time.Time)",
		"d:date=2026-10-01 (string)", "ok:bool=true (bool)", "=[1 2] ([]interface {})", "2026-03-29 03:00:00 +0200 CEST",
		"left unmatched", `expect rows \u003c= 0: got`, `"attempts":1`} {
		if !strings.Contains(bodies[0], want) {
			t.Errorf("the run's message lacks %q:\n%s", want, bodies[0])
		}
	}
	if bodies[0] != bodies[1] {
		t.Errorf("the re-send differs from the run's message:\nrun:     %s\ndeliver: %s", bodies[0], bodies[1])
	}
}

// hook is a webhook endpoint in the test: it keeps each body posted and
// answers status (200 unless set).
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	status int
}

func newHook(t *testing.T) *hook {
	h := &hook{status: http.StatusOK}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.bodies = append(h.bodies, string(body))
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.Close)
	return h
}

// Bodies returns the bodies posted so far.
func (h *hook) Bodies() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// Status sets the status of the next answers.
func (h *hook) Status(code int) {
	h.mu.Lock()
	h.status = code
	h.mu.Unlock()
}

const resumeConfig = `
database:
  dsn: ${E2E_DSN}
timezone: Europe/Berlin
output_dir: out
jobs:
  - name: resume
    schedule: "0 6 1 1 *"
    window: previous_day
    datasets:
      posts: {from: posts p, select: [p.id, p.title]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
    deliver:
      - name: hook
        retries: 0
        webhook:
          url: "${E2E_HOOK}"
          style: json
          templates: {success: '{{.Job}} {{.RunID}} {{.Logical}} {{.WindowStart}} {{range .Files}}{{.Rel}} {{.SHA256}}{{end}}'}
`

// TestScheduleResumesPendingDeliveries kills joinery run (SIGKILL) while
// its webhook has the report and has not answered, which leaves the
// ledger pending; joinery schedule, when it starts, delivers it again
// (the same message: the report comes back from the ledger), and the
// ledger records it sent.
func TestScheduleResumesPendingDeliveries(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	bin := binary(t, "")
	var (
		mu     sync.Mutex
		bodies []string
	)
	first := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(body))
		n := len(bodies)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-r.Context().Done() // never answers: the client dies
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(resumeConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"E2E_DSN=" + testdb.DSN(t), "E2E_HOOK=" + srv.URL + "/hook"}
	run := startDaemon(t, bin, env, "run", "resume", "--config", cfg, "--at", "2026-11-02T06:00:00+01:00")
	select {
	case <-first:
	case err := <-run.done:
		t.Fatalf("run ended before its delivery: %v\n%s", err, run.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery within 30 s:\n%s", run.stderr.String())
	}
	run.cmd.Process.Kill()
	<-run.done
	ledger := func() string {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(dir, "out", ".joinery", "deliveries", "resume", "*.json"))
		if len(m) != 1 {
			t.Fatalf("ledgers: %v", m)
		}
		data, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if l := ledger(); !strings.Contains(l, `"state": "pending"`) || !strings.Contains(l, `"attempts": 1`) {
		t.Fatalf("after the kill, the ledger:\n%s", l)
	}

	d := startDaemon(t, bin, env, "schedule", "--config", cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedule did not resume the delivery within 30 s:\n%s", d.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.waitForLog(t, `"delivered"`)
	logs := d.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || bodies[0] != bodies[1] {
		t.Errorf("%d messages; the resumed one differs:\n%s\n%s", len(bodies), bodies[0], bodies[len(bodies)-1])
	}
	if l := ledger(); !strings.Contains(l, `"state": "sent"`) || !strings.Contains(l, `"attempts": 2`) {
		t.Errorf("after schedule, the ledger:\n%s\nlog:\n%s", l, logs)
	}
}

// TestSkippedRunIsNotified: a run that finds its job's lock held (here by
// the test's session, as another joinery's would) is skipped, and the destinations
// used for skipped get a notification saying so; those used for success
// only get nothing.
func TestSkippedRunIsNotified(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	t.Setenv("E2E_DSN", testdb.DSN(t))
	h := newHook(t)
	t.Setenv("E2E_HOOK", h.URL+"/hook")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	conf := strings.Replace(resumeConfig, "      - name: hook\n        retries: 0\n", "      - name: hook\n        on: [skipped]\n        retries: 0\n", 1)
	conf = strings.Replace(conf, "templates: {success:", "templates: {skipped: '{{.Job}} skipped: {{.Error}}', success:", 1)
	conf += "      - {name: other, retries: 0, webhook: {url: \"${E2E_HOOK}\"}}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got int
	if err := conn.QueryRowContext(context.Background(), "SELECT GET_LOCK(CONCAT('joinery/', DATABASE(), '/resume'), 0)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("GET_LOCK = %d, %v", got, err)
	}
	cli := secretCLI(t, cfg, "error", "no secret here")
	code, outText := cli("run", "resume", "--at", "2026-11-02T06:00:00+01:00")
	bodies := h.Bodies()
	if code == 0 || len(bodies) != 1 || !strings.Contains(bodies[0], `"event":"skipped"`) || !strings.Contains(bodies[0], `"text":"resume skipped: `) {
		t.Fatalf("exit %d, messages %q\n%s", code, bodies, outText)
	}
}

// TestMissedRunsAreNotified: joinery schedule, started after a job's
// scheduled times went by without it, drops those older than catch_up and
// tells the destinations used for missed, with the times.
func TestMissedRunsAreNotified(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	bin := binary(t, "")
	h := newHook(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	conf := `
database:
  dsn: ${E2E_DSN}
timezone: UTC
output_dir: out
jobs:
  - name: missed
    schedule: "*/5 * * * *"
    catch_up: 1m
    datasets:
      posts: {from: posts p, select: [p.id]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{datetime}.csv"}
    deliver:
      - name: hook
        on: [missed]
        retries: 0
        webhook: {url: "${E2E_HOOK}", style: json, templates: {missed: '{{.Job}}: {{len .Missed}} missed: {{.Error}}'}}
`
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"E2E_DSN=" + testdb.DSN(t), "E2E_HOOK=" + h.URL + "/hook"}
	// The last success an hour ago: the eleven or twelve times since are
	// missed, and none is within catch_up unless the clock is on one.
	at := time.Now().UTC().Add(-time.Hour).Truncate(5 * time.Minute)
	if r := runBin(t, bin, env, "run", "missed", "--config", cfg, "--at", at.Format(time.RFC3339)); r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d := startDaemon(t, bin, env, "schedule", "--config", cfg)
	deadline := time.Now().Add(30 * time.Second)
	for len(h.Bodies()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no missed notification within 30 s:\n%s", d.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop(t)
	b := h.Bodies()[0]
	if !strings.Contains(b, `"event":"missed"`) || !strings.Contains(b, `"missed":["`) || !strings.Contains(b, `"text":"missed: 1`) {
		t.Errorf("message: %s", b)
	}
}
