package testdb

import (
	"bufio"
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PrivateGalera is a test's own three-node MariaDB Galera cluster, for a
// test that kills a node: killing one of the shared cluster's
// (JOINERY_GALERA_DSNS) would break the other tests running on it. It is
// run by .ci/galera-cluster.sh, which StartGalera starts and drives
// through its stdin.
type PrivateGalera struct {
	// DSNs are the nodes' server DSNs (no database), node 1 first.
	DSNs []string
	// PIDs are the nodes' mariadbd process ids.
	PIDs []int
	// Took is how long the cluster took to start.
	Took time.Duration

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr lockedBuffer
}

// lockedBuffer is a bytes.Buffer written by exec's copying goroutine and
// read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartGalera starts a private three-node Galera cluster in a temporary
// folder and stops it, and removes the folder, when t ends. It needs
// galera-4 and mariadb-server: the test is skipped without
// JOINERY_GALERA_DSNS (a machine with the shared cluster has them), or
// fails when JOINERY_REQUIRE_CLUSTER is set. Starting it takes 10 to 35 s.
func StartGalera(t testing.TB) *PrivateGalera {
	t.Helper()
	if os.Getenv(EnvGaleraDSNs) == "" {
		if os.Getenv(EnvRequireCluster) != "" {
			t.Fatalf("testdb: %s is not set but %s is; run bash .ci/run", EnvGaleraDSNs, EnvRequireCluster)
		}
		t.Skipf("%s is not set (a machine without galera-4); run bash .ci/run", EnvGaleraDSNs)
	}
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "..", ".ci", "galera-cluster.sh")
	// Not t.TempDir: the nodes run as the mysql user under root, which
	// must go through the folder's parents (the script opens the folder).
	dir, err := os.MkdirTemp("", "joinery-galera-")
	if err != nil {
		t.Fatal(err)
	}
	g := &PrivateGalera{DSNs: make([]string, 3), PIDs: make([]int, 3)}
	g.cmd = exec.Command("bash", script, dir)
	g.cmd.Stderr = &g.stderr
	if g.stdin, err = g.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	g.lines = bufio.NewScanner(out)
	start := time.Now()
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The end of its stdin stops the nodes (30 s, then it kills them).
		g.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- g.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("testdb: the private Galera cluster stopped with %v:\n%s", err, g.stderr.String())
			}
		case <-time.After(60 * time.Second):
			g.cmd.Process.Kill()
			t.Errorf("testdb: the private Galera cluster did not stop within 60 s:\n%s", g.stderr.String())
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	g.read(t, 3)
	g.Took = time.Since(start)
	return g
}

// read reads n "node N DSN PID" lines, then "ready", from the script.
func (g *PrivateGalera) read(t testing.TB, n int) {
	t.Helper()
	for i := 0; i <= n; i++ {
		if !g.lines.Scan() {
			g.cmd.Process.Kill()
			t.Fatalf("testdb: the private Galera cluster's script ended: %v\n%s", g.lines.Err(), g.stderr.String())
		}
		f := strings.Fields(g.lines.Text())
		if i == n {
			if len(f) != 1 || f[0] != "ready" {
				t.Fatalf("testdb: the private Galera cluster's script said %q, want ready", g.lines.Text())
			}
			return
		}
		node, err := strconv.Atoi(f[min(1, len(f)-1)])
		if len(f) != 4 || f[0] != "node" || err != nil || node < 1 || node > 3 {
			t.Fatalf("testdb: the private Galera cluster's script said %q, want node N DSN PID", g.lines.Text())
		}
		pid, err := strconv.Atoi(f[3])
		if err != nil {
			t.Fatalf("testdb: the private Galera cluster's script said %q: %v", g.lines.Text(), err)
		}
		g.DSNs[node-1], g.PIDs[node-1] = f[2], pid
	}
}

// Kill kills node n's mariadbd (from 1) with SIGKILL.
func (g *PrivateGalera) Kill(t testing.TB, n int) {
	t.Helper()
	if err := syscall.Kill(g.PIDs[n-1], syscall.SIGKILL); err != nil {
		t.Fatalf("testdb: kill Galera node %d (pid %d): %v", n, g.PIDs[n-1], err)
	}
}

// Start starts node n again after Kill, on fresh ports (DSNs[n-1]
// changes), and returns once it is Synced with the other running nodes.
func (g *PrivateGalera) Start(t testing.TB, n int) {
	t.Helper()
	if _, err := fmt.Fprintf(g.stdin, "start %d\n", n); err != nil {
		t.Fatalf("testdb: start Galera node %d: %v", n, err)
	}
	g.read(t, 1)
}

// Database creates a database on node 1 and returns its DSN on every
// node, with New's options. It is not dropped: the cluster goes with
// the test.
func (g *PrivateGalera) Database(t testing.TB) []string {
	t.Helper()
	cfg := serverConfig(t, "the private Galera cluster's DSN", g.DSNs[0])
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name, err := newDatabase(admin)
	if err != nil {
		t.Fatal(err)
	}
	dsns := onNodes(t, "the private Galera cluster's DSN", g.DSNs, name)
	waitForDatabase(t, "the private Galera cluster's DSN", g.DSNs, name)
	return dsns
}
