package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/outcheck"
	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
)

// The crash tests run a job in a child process (this test binary again,
// see TestMain) and kill it with SIGKILL: at each step of the run's file
// operations, through the runner's hook, or after a random time. After
// each kill the output folder must hold only complete, recorded reports
// (outcheck, with a commit allowed to be pending), and the next run must
// finish or undo what the dead one left, leaving nothing else behind.

// Environment of the child process.
const (
	crashEnv     = "JOINERY_CRASH_HELPER" // the config file; set only in the child
	crashAtEnv   = "JOINERY_CRASH_AT"     // the step to die at, from 1; 0 for none
	crashNoteEnv = "JOINERY_CRASH_NOTE"   // where the child notes the step it dies at
	crashTimeEnv = "JOINERY_CRASH_TIME"   // the run's logical time, RFC 3339
	crashDSNEnv  = "JOINERY_CRASH_DSN"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(crashEnv); cfg != "" {
		os.Exit(crashChild(cfg))
	}
	os.Exit(m.Run())
}

// crashChild runs the only job of the config once, and dies by SIGKILL at
// step JOINERY_CRASH_AT (0: never). Before it dies it writes to
// JOINERY_CRASH_NOTE the step, and whether the run had passed its commit
// point (renamed its journal) by then.
func crashChild(cfgPath string) int {
	cfg, err := jobs.Load(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	at, _ := strconv.Atoi(os.Getenv(crashAtEnv))
	logical, err := time.Parse(time.RFC3339, os.Getenv(crashTimeEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	db, err := jobs.OpenDB(cfg.Database, os.Getenv(crashDSNEnv), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	n, committed := 0, false
	r := &jobs.Runner{DB: db, Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.SetDirHook(func(step, path string) error {
		n++
		if n == at {
			note := fmt.Sprintf("%s %s\n%v\n", step, path, committed)
			if err := os.WriteFile(os.Getenv(crashNoteEnv), []byte(note), 0o644); err != nil {
				panic(err)
			}
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		// The hook runs before each step: the journal's rename is
		// done once the next step begins.
		committed = committed || step == "rename" && path == ".joinery/j.commit.json"
		return nil
	})
	res := r.Run(context.Background(), &cfg.Jobs[0], logical)
	if res.Err != nil {
		fmt.Fprintln(os.Stderr, res.Err)
		return 1
	}
	return 0
}

// crashConfig is a job with every kind of file: a workbook with a latest
// link, csv files with latest copies, JSON Lines, retention.
const crashConfig = `
timezone: Europe/Berlin
output_dir: reports
jobs:
  - name: j
    schedule: "@daily"
    retention: %s
    datasets:
      users_posts:
        from: users u
        joins: [{table: posts, as: p, type: left, on: u.id = p.user_id}]
        select: [u.id, u.name, p.id AS post_id, p.title]
        order_by: [u.id, post_id]
%s
    outputs:
      - {format: xlsx, path: "{job}/{date}/{job}-{date}.xlsx", latest: "{job}/latest.xlsx"}
      - {format: csv, path: "{job}/{date}/{dataset}.csv", latest: "{job}/latest-{dataset}.csv", latest_mode: copy}
      - {format: jsonl, path: "{job}/{date}/{dataset}.jsonl"}
`

// crashSetup writes a config (with an extra dataset, if any) and returns
// its path and the runner the parent uses for the runs that do not die.
func crashSetup(t *testing.T, extra, retention string) (string, *jobs.Runner) {
	t.Helper()
	raw := testdb.New(t)
	testdb.SeedUsersPosts(t, raw)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(crashConfig, retention, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := jobs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := jobs.OpenDB(cfg.Database, testdb.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return path, &jobs.Runner{DB: db, Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// child starts the child process for a run at logical, dying at step at.
func child(t *testing.T, cfg string, logical time.Time, at int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+cfg, crashAtEnv+"="+strconv.Itoa(at), crashNoteEnv+"="+cfg+".note",
		crashTimeEnv+"="+logical.Format(time.RFC3339), crashDSNEnv+"="+testdb.DSN(t))
	return cmd
}

// killedBySIGKILL reports whether err is the exit of a process killed by
// SIGKILL.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// waitLockFree waits until the server has seen the killed child's
// connection go, and with it the job's lock.
func waitLockFree(t *testing.T, r *jobs.Runner) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var free int
		if err := r.DB.QueryRow("SELECT IS_FREE_LOCK(CONCAT('joinery/', DATABASE(), '/j'))").Scan(&free); err != nil {
			t.Fatal(err)
		}
		if free == 1 {
			return
		}
	}
	t.Fatal("the job's lock is still held 10 s after the child was killed")
}

func isLatest(rel string) bool { return strings.Contains(filepath.Base(rel), "latest") }

// check runs outcheck on the job's output folder.
func check(t *testing.T, r *jobs.Runner, pending bool, when string) map[time.Time]outcheck.Manifest {
	t.Helper()
	ms, problems := outcheck.Check(r.Config.OutputPath(), "j", outcheck.Options{Pending: pending, Latest: isLatest})
	for _, p := range problems {
		t.Errorf("%s: %s", when, p)
	}
	return ms
}

// TestKillAtEveryStep kills a run at each step of its file operations:
// creating, writing and syncing each temporary file, each rename, each
// removal, the journal, the state and retention, for a run that replaces
// the run of its logical time and for one of a new logical time.
func TestKillAtEveryStep(t *testing.T) {
	day1 := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	for _, sc := range []struct {
		name, retention string
		logical         time.Time
	}{
		{"re-run of the same logical time", "{keep: 3}", day1},
		{"next logical time", "{keep: 3}", day2},
		{"next logical time, retention deletes the previous", "{keep: 1}", day2},
	} {
		t.Run(sc.name, func(t *testing.T) {
			cfg, r := crashSetup(t, "", sc.retention)
			job := &r.Config.Jobs[0]
			if res := r.Run(context.Background(), job, day1); res.Err != nil {
				t.Fatal(res.Err)
			}
			steps := 0
			for k := 1; ; k++ {
				if res := r.Run(context.Background(), job, day1); res.Err != nil { // a known state
					t.Fatal(res.Err)
				}
				before, _ := outcheck.Check(r.Config.OutputPath(), "j", outcheck.Options{Latest: isLatest})
				err := child(t, cfg, sc.logical, k).Run()
				if err == nil {
					break // the run has fewer steps than k: each was a kill
				}
				if !killedBySIGKILL(err) {
					t.Fatalf("step %d: child ended with %v, want SIGKILL", k, err)
				}
				steps++
				note, err := os.ReadFile(cfg + ".note")
				if err != nil {
					t.Fatal(err)
				}
				step, after, _ := strings.Cut(strings.TrimSpace(string(note)), "\n")
				when := fmt.Sprintf("killed at step %d (%s)", k, step)
				check(t, r, true, when)
				// Recovery alone, as schedule does when it starts: the
				// killed run is rolled forward when it had passed its
				// commit point, and leaves no trace when it had not.
				r.Recover(job)
				ms := check(t, r, false, when+", then recovered")
				old, had := before[sc.logical.UTC()]
				m, has := ms[sc.logical.UTC()]
				committed := has && (!had || !m.Started.Equal(old.Started))
				if want := after == "true"; committed != want {
					t.Errorf("%s: the killed run is committed = %v after recovery, want %v", when, committed, want)
				}
				// And the next run goes on from there.
				waitLockFree(t, r)
				res := r.Run(context.Background(), job, sc.logical)
				if res.Err != nil {
					t.Fatalf("%s: the next run failed: %v", when, res.Err)
				}
				ms = check(t, r, false, when+", then run again")
				if _, ok := ms[sc.logical.UTC()]; !ok {
					t.Errorf("%s: no manifest for %s after the next run", when, sc.logical)
				}
				if t.Failed() {
					return
				}
			}
			if steps < 30 {
				t.Errorf("killed at %d steps only", steps)
			}
			t.Logf("killed at each of %d steps", steps)
		})
	}
}

// TestKillAtRandomTimes kills runs of a bigger job (about 160,000 rows in
// four files) after a random time, in the middle of the rows or of the
// commit, and checks the folder after each kill and after the next run.
func TestKillAtRandomTimes(t *testing.T) {
	cfg, r := crashSetup(t, bigCrossJoin(4, false), "{keep: 2}")
	job := &r.Config.Jobs[0]
	day1 := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	start := time.Now()
	if res := r.Run(context.Background(), job, day1); res.Err != nil {
		t.Fatal(res.Err)
	}
	took := time.Since(start)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for i := range 12 {
		logical := day1.AddDate(0, 0, i%3) // re-runs and new days
		delay := time.Duration(rng.Int64N(int64(took + took/4)))
		cmd := child(t, cfg, logical, -1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Kill()
		err := cmd.Wait()
		when := fmt.Sprintf("kill %d after %s (logical %s)", i, delay.Round(time.Millisecond), logical.Format(time.DateOnly))
		if err != nil && !killedBySIGKILL(err) {
			t.Fatalf("%s: child ended with %v", when, err)
		}
		check(t, r, true, when)
		waitLockFree(t, r)
		if res := r.Run(context.Background(), job, logical); res.Err != nil {
			t.Fatalf("%s: the next run failed: %v", when, res.Err)
		}
		check(t, r, false, when+", then run again")
		if t.Failed() {
			return
		}
	}
}

// TestDiskFull fills the disk at the manifest, before the commit point,
// and at a rename after it: the first run fails, is not retried and
// changes nothing; the second succeeds, and the next run finishes it.
func TestDiskFull(t *testing.T) {
	_, r := crashSetup(t, "", "{keep: 3}")
	job := &r.Config.Jobs[0]
	job.Retries = 2
	r.SetSleep(func(context.Context, time.Duration) error { return nil })
	day1 := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	if res := r.Run(context.Background(), job, day1); res.Err != nil {
		t.Fatal(res.Err)
	}
	before := check(t, r, false, "before")
	full := func(step string) func(string, string) error {
		return func(s, p string) error {
			if s == step && strings.HasSuffix(p, ".manifest.json") || s == step && strings.Contains(p, ".manifest.json.tmp-") {
				return syscall.ENOSPC
			}
			return nil
		}
	}
	r.SetDirHook(full("write"))
	res := r.RunWithRetries(context.Background(), job, jobs.Plan{Logical: day1.AddDate(0, 0, 1)})
	if !errors.Is(res.Err, syscall.ENOSPC) || res.Attempts != 1 {
		t.Fatalf("err = %v after %d attempts, want ENOSPC and no retry", res.Err, res.Attempts)
	}
	if after := check(t, r, false, "after a full disk at the manifest"); len(after) != len(before) {
		t.Errorf("%d runs recorded, want %d", len(after), len(before))
	}
	r.SetDirHook(full("rename"))
	res = r.Run(context.Background(), job, day1.AddDate(0, 0, 1))
	if res.Err != nil || !strings.Contains(strings.Join(res.Warnings, "\n"), "next run") {
		t.Fatalf("err = %v, warnings %q: want success with the commit left to finish", res.Err, res.Warnings)
	}
	check(t, r, true, "after a full disk at the manifest's rename")
	r.SetDirHook(nil)
	if res := r.Run(context.Background(), job, day1.AddDate(0, 0, 2)); res.Err != nil {
		t.Fatal(res.Err)
	}
	if ms := check(t, r, false, "after the next run"); len(ms) != 3 {
		t.Errorf("%d runs recorded, want days 1 to 3", len(ms))
	}
}
