package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/internal/testnet"
	"github.com/joinery/joinery/output"
)

// recorder is a test double for Hooks: it notes each call as a line, and
// its steps do what the test gives them to do.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (rec *recorder) note(format string, args ...any) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.calls = append(rec.calls, fmt.Sprintf(format, args...))
}

func (rec *recorder) got() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.calls)
}

// hooks returns Hooks that note every call, with a step for each of
// steps: its name, and what it returns (or does) after it is noted.
func (rec *recorder) hooks(steps ...Step) Hooks {
	h := Hooks{
		Attempt: func(_ context.Context, run Run) {
			rec.note("attempt %d: %v, retry in %v", run.Result.Attempts, run.Result.Err != nil, run.RetryIn > 0)
		},
		Result: func(_ context.Context, run Run) {
			rec.note("result: attempts %d, err %v, not retried %q, post-commit %v", run.Result.Attempts, run.Result.Err != nil, run.Result.NotRetried, run.Result.PostCommit)
		},
	}
	for _, s := range steps {
		h.AfterCommit = append(h.AfterCommit, Step{Name: s.Name, Run: func(ctx context.Context, run Run) error {
			rec.note("step %s", s.Name)
			return s.Run(ctx, run)
		}})
	}
	return h
}

// TestAfterCommitSteps: the steps after a run's commit see its committed
// files and manifest; one that fails or panics is recorded in the result
// and logged, and changes nothing else: the run succeeded, is not
// retried, keeps its report and counts as the job's last success, and
// the steps after it still run.
func TestAfterCommitSteps(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	r, logs := retryRunner(t, testdb.DSN(t), retryJob("    retries: 2"))
	rec := &recorder{}
	var commit *Commit
	r.Hooks = rec.hooks(
		Step{Name: "fails", Run: func(context.Context, Run) error { return syscall.ECONNREFUSED }},
		Step{Name: "panics", Run: func(context.Context, Run) error { panic("boom") }},
		Step{Name: "reads", Run: func(_ context.Context, run Run) error {
			commit = run.Result.Commit
			return nil
		}},
	)
	res := runJob(t, r)
	if res.Err != nil || res.Attempts != 1 {
		t.Fatalf("attempts %d, err %v: want one attempt that succeeds", res.Attempts, res.Err)
	}
	want := []string{
		"attempt 1: false, retry in false",
		"step fails",
		"step panics",
		"step reads",
		"result: attempts 1, err false, not retried \"\", post-commit [fails: connection refused panics: panic: boom]",
	}
	if got := rec.got(); !slices.Equal(got, want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
	if len(res.PostCommit) != 2 || !errors.Is(res.PostCommit[0], syscall.ECONNREFUSED) || res.PostCommit[1].Step != "panics" {
		t.Errorf("post-commit failures %v, want fails (connection refused) and panics", res.PostCommit)
	}
	failed := logs.Find(t, "ERROR", "step after the commit failed")
	if len(failed) != 2 || failed[0]["step"] != "fails" || failed[1]["step"] != "panics" {
		t.Errorf("error records %v, want one per failed step", failed)
	}
	if got := logs.Find(t, "ERROR", "run failed"); len(got) != 0 {
		t.Errorf("the run is logged as failed: %v", got)
	}
	logs.sameRun(t, res)

	// What the steps saw: the report in place, as its size and digest say,
	// and the manifest that lists it.
	if commit == nil || len(commit.Files) != 1 || commit.Manifest == nil || commit.Pending {
		t.Fatalf("commit %+v, want one file and the manifest", commit)
	}
	f := commit.Files[0]
	data, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if f.Path != filepath.Join(r.Config.OutputPath(), "j.csv") || f.Format != "csv" || f.Size != int64(len(data)) || f.SHA256 != hex.EncodeToString(sum[:]) || f.Rows == 0 {
		t.Errorf("file %+v: want j.csv with its size, digest and rows", f)
	}
	if m := commit.Manifest; len(m.Files) != 1 || m.Files[0].Path != "j.csv" || m.Files[0].SHA256 != f.SHA256 || m.RunID != res.RunID {
		t.Errorf("manifest %+v, want the run's, listing j.csv", m)
	}
	if _, err := os.Stat(res.Manifest); err != nil {
		t.Errorf("manifest: %v", err)
	}
	d, err := output.OpenDir(r.Config.OutputPath())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if st, err := readState(d, "j"); err != nil || !st.LastSuccess.Equal(res.Logical) {
		t.Errorf("state %+v, %v: want the run recorded as the job's last success", st, err)
	}
}

// TestHooksOfAFailedRun: every attempt is told, with the wait before the
// next; the result once, with why it was not retried; no step runs.
func TestHooksOfAFailedRun(t *testing.T) {
	r, _ := retryRunner(t, "root@tcp("+testnet.FreeAddr(t)+")/x", retryJob("    retries: 2"))
	r.sleep = func(context.Context, time.Duration) error { return nil }
	rec := &recorder{}
	r.Hooks = rec.hooks(Step{Name: "never", Run: func(context.Context, Run) error { return nil }})
	runJob(t, r)
	want := []string{
		"attempt 1: true, retry in true",
		"attempt 2: true, retry in true",
		"attempt 3: true, retry in false",
		`result: attempts 3, err true, not retried "gave up after 3 attempts", post-commit []`,
	}
	if got := rec.got(); !slices.Equal(got, want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

// TestHooksOfAPlanThatFails: a run whose parameters do not plan has no
// attempt, and its result reaches the Result hook all the same.
func TestHooksOfAPlanThatFails(t *testing.T) {
	r, _ := retryRunner(t, "root@tcp("+testnet.FreeAddr(t)+")/x", strings.Replace(retryJob(""), "    datasets:", "    params: {n: {type: int, required: true}}\n    datasets:", 1))
	rec := &recorder{}
	r.Hooks = rec.hooks()
	if res := r.Run(context.Background(), &r.Config.Jobs[0], time.Now()); res.Err == nil {
		t.Fatal("the run planned without its required parameter")
	}
	want := []string{`result: attempts 1, err true, not retried "", post-commit []`}
	if got := rec.got(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}
