package main

import (
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
	cli := func(args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), nil, append(args, "--config", cfg, "--log-level", "error"), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if strings.Contains(out, "sekrit") {
			t.Errorf("joinery %s shows the webhook's url:\n%s", strings.Join(args, " "), out)
		}
		return code, out
	}
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
