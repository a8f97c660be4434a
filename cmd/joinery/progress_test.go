package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/joinery/joinery/internal/testdb"
)

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return clock }
	p.update("j", "d", 8192, false)
	first := buf.String()
	if first != "\r\033[Kj/d: 8,192 rows" {
		t.Errorf("first update = %q, want a redrawn line with the rows and no rate yet", first)
	}
	clock = clock.Add(100 * time.Millisecond)
	p.update("j", "d", 16384, false) // within 200 ms of the first: skipped
	if got := buf.String(); got != first {
		t.Errorf("second update within 200ms wrote %q", got[len(first):])
	}
	clock = clock.Add(900 * time.Millisecond)
	p.update("j", "d", 8192+50000, false)
	if got := buf.String()[len(first):]; got != "\r\033[Kj/d: 58,192 rows, 50,000 rows/s" {
		t.Errorf("update after a second = %q, want the rows and the rate since the first update", got)
	}
	n := buf.Len()
	p.update("j", "d", 16384, true)
	if got := buf.String()[n:]; got != "\r\033[K" {
		t.Errorf("done = %q, want the line cleared", got)
	}
}

// progressConfig has a dataset of 20^3 x 10 = 80,000 rows, enough for
// several progress updates (one per 8,192 rows, at most one per 200 ms).
const progressConfig = `
database:
  dsn: ${E2E_DSN}
output_dir: out
jobs:
  - name: big
    schedule: "@daily"
    datasets:
      rows:
        from: posts a
        joins:
          - {table: posts, as: b, type: cross}
          - {table: posts, as: c, type: cross}
          - {table: users, as: d, type: cross}
        select: [a.id, b.id AS b_id, c.id AS c_id, d.id AS d_id]
    outputs:
      - {format: csv, path: "{job}"}
`

// TestProgressOnlyOnTerminal runs the binary with stderr on a pseudo-terminal
// (a progress line appears and is cleared) and on a pipe (no progress line).
func TestProgressOnlyOnTerminal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the pseudo-terminal helper is Linux only")
	}
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(progressConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := binary(t, "")
	vars := []string{"E2E_DSN=" + testdb.DSN(t), "JOINERY_CONFIG=" + cfgPath}
	env := append(os.Environ(), vars...)

	t.Run("terminal", func(t *testing.T) {
		master, slave := openPTY(t)
		cmd := exec.Command(bin, "run", "big")
		cmd.Env = env
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, slave
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		slave.Close()
		var tty bytes.Buffer
		done := make(chan struct{})
		go func() { _, _ = io.Copy(&tty, master); close(done) }() // ends with EIO once the child exits
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run: %v\nstdout:\n%s", err, stdout.String())
		}
		<-done
		got := tty.String()
		// The rate shows after half a second (TestProgressLine); this
		// run may be over sooner.
		if !strings.Contains(got, "\r\033[Kbig/rows: 8,192 rows") {
			t.Errorf("terminal output lacks a progress line:\n%q", got)
		}
		if !strings.HasSuffix(got, "\r\033[K") {
			t.Errorf("the progress line is not cleared at the end:\n%q", got)
		}
		if !strings.Contains(stdout.String(), "80,000 rows") {
			t.Errorf("stdout:\n%s", stdout.String())
		}
	})

	t.Run("pipe", func(t *testing.T) {
		r := runBin(t, bin, vars, "run", "big")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "\r") || strings.Contains(r.stderr, "rows/s") {
			t.Errorf("stderr is not a terminal but got a progress line:\n%q", r.stderr)
		}
	})
}

// openPTY opens a pseudo-terminal pair with the Linux ioctls (no cgo, no
// dependency): unlock the master, then open the slave it names.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatalf("unlock pty: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("pty number: %v", errno)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	return m, s
}
