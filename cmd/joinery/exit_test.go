package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/output"
)

const exitConfig = `
database:
  dsn: ${E2E_DSN}
timezone: UTC
output_dir: out
jobs:
  - name: first
    schedule: "0 6 * * *"
    window: previous_day
    datasets:
      posts: {from: posts p, select: [p.id, p.title]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{from}.csv", latest: "{job}/latest.csv"}
  - name: second
    schedule: "0 6 * * *"
    datasets:
      posts: {from: posts p, select: [p.id, p.title]}
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
  - name: slow
    schedule: "0 6 * * *"
    datasets:
      big:
        from: posts a
        joins: [{table: posts, as: b, type: cross}, {table: posts, as: c, type: cross}, {table: posts, as: d, type: cross}, {table: posts, as: e, type: cross}]
        select: ["concat(a.title, b.title, c.title, d.title, e.title) AS t"]
        order_by: [t]
    outputs:
      - {format: csv, path: "{job}/{dataset}-{date}.csv"}
`

// inProcess runs the CLI in this process against a seeded test database,
// with ctx standing for the signals main turns into a cancellation.
type inProcess struct {
	t   *testing.T
	cfg string
	dir string // output_dir
}

func newInProcess(t *testing.T) *inProcess { return newInProcessWith(t, exitConfig) }

// newInProcessWith is newInProcess with the configuration cfgText.
func newInProcessWith(t *testing.T, cfgText string) *inProcess {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	t.Setenv("E2E_DSN", testdb.DSN(t))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	return &inProcess{t: t, cfg: cfg, dir: filepath.Join(dir, "out")}
}

func (p *inProcess) run(ctx context.Context, stdout io.Writer, args ...string) (int, string) {
	var stderr bytes.Buffer
	code := run(ctx, nil, append(append([]string{}, args...), "--config", p.cfg, "--log-level", "error"), stdout, &stderr)
	return code, stderr.String()
}

// signalOn is a stdout that cancels the run's context (a SIGTERM) when a
// line containing text has been printed.
type signalOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	text   string
	cancel context.CancelFunc
}

func (s *signalOn) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(b)
	if strings.Contains(s.buf.String(), s.text) {
		s.cancel()
	}
	return len(b), nil
}

// TestExitStatusAfterASignal: the exit status says whether runs were
// cancelled, not whether a signal came at all.
func TestExitStatusAfterASignal(t *testing.T) {
	p := newInProcess(t)
	at := "2026-11-02T06:00"

	t.Run("a signal after the commit: 0", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &signalOn{text: "first: ok", cancel: cancel}
		code, stderr := p.run(ctx, out, "run", "first", "--at", at)
		if code != exitOK {
			t.Errorf("exit %d, want 0: the run committed before the signal\n%s\n%s", code, out.buf.String(), stderr)
		}
		if ctx.Err() == nil {
			t.Fatal("the signal never came")
		}
	})

	t.Run("runs left unstarted: 130", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &signalOn{text: "first: ok", cancel: cancel}
		code, stderr := p.run(ctx, out, "run", "first", "second", "--at", at)
		if code != exitInterrupted || !strings.Contains(stderr, "1 of 2 runs not started") {
			t.Errorf("exit %d, want 130 naming the run not started\n%s", code, stderr)
		}
		if strings.Contains(out.buf.String(), "second:") {
			t.Errorf("the second job ran after the signal:\n%s", out.buf.String())
		}
	})

	t.Run("a run cancelled before its commit: 130", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(300*time.Millisecond, cancel) // the server is still sorting
		var out bytes.Buffer
		code, stderr := p.run(ctx, &out, "run", "slow", "--at", at)
		if code != exitInterrupted || !strings.Contains(stderr, "cancelled slow") {
			t.Errorf("exit %d, want 130 naming the cancelled run\n%s\n%s", code, out.String(), stderr)
		}
		if _, err := os.Stat(filepath.Join(p.dir, "slow")); err == nil {
			if entries, _ := os.ReadDir(filepath.Join(p.dir, "slow")); len(entries) > 0 {
				t.Errorf("the cancelled run left %v", entries)
			}
		}
	})

	t.Run("a failure and a later signal: 1", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := &signalOn{text: "second: ok", cancel: cancel}
		// first fails: its folder is a file.
		blocker := filepath.Join(p.dir, "first", "posts-2026-11-02.csv")
		os.RemoveAll(filepath.Dir(blocker))
		if err := os.MkdirAll(blocker, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(blocker, "x"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(filepath.Dir(blocker))
		code, stderr := p.run(ctx, out, "run", "first", "second", "--at", "2026-11-03T06:00")
		if code != exitFailed {
			t.Errorf("exit %d, want 1: a run failed, none was cancelled\n%s\n%s", code, out.buf.String(), stderr)
		}
	})
}

// TestPartialWindows: a window that is not over is refused without
// --allow-partial; with it the run is recorded as partial, moves no latest
// name and is not the job's last success.
func TestPartialWindows(t *testing.T) {
	p := newInProcess(t)
	var out bytes.Buffer
	yesterday := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")
	if code, stderr := p.run(context.Background(), &out, "run", "first", "--at", yesterday); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	latest := func() string {
		target, err := os.Readlink(filepath.Join(p.dir, "first", "latest.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return target
	}
	before := latest()
	state, _ := os.ReadFile(filepath.Join(p.dir, output.StateDir, "first.json"))

	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02")
	for _, args := range [][]string{
		{"run", "first", "--at", tomorrow},
		{"run", "second", "--at", tomorrow},
		{"run", "first", "--from", yesterday[:10], "--to", tomorrow},
		{"run", "first", "--from", yesterday[:10], "--to", tomorrow, "--once"},
	} {
		code, stderr := p.run(context.Background(), io.Discard, args...)
		if code != exitUsage || !strings.Contains(stderr, "--allow-partial") {
			t.Errorf("%q: exit %d, want 2 with a hint\n%s", args, code, stderr)
		}
	}

	out.Reset()
	code, stderr := p.run(context.Background(), &out, "run", "first", "--at", tomorrow, "--allow-partial")
	if code != exitOK || !strings.Contains(out.String(), "partial:") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), stderr)
	}
	if got := latest(); got != before {
		t.Errorf("latest -> %s after a partial run, want %s", got, before)
	}
	if got, _ := os.ReadFile(filepath.Join(p.dir, output.StateDir, "first.json")); !bytes.Equal(got, state) {
		t.Errorf("the job's last success changed: %s, was %s", got, state)
	}
	var m struct {
		Partial bool `json:"partial"`
	}
	day := time.Now().UTC().Format("2006-01-02") // the window [today, tomorrow)
	data, err := os.ReadFile(filepath.Join(p.dir, "first", "first-"+strings.ReplaceAll(tomorrow, "-", "")+"T000000Z.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil || !m.Partial {
		t.Errorf("manifest partial = %v, %v", m.Partial, err)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "first", "posts-"+day+".csv")); errors.Is(err, os.ErrNotExist) {
		t.Errorf("the partial report was not written: %v", err)
	}
}
