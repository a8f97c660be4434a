package jobs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// withLock is a configuration of one job (oneJob) whose runs take the
// given database.lock. The DSN only names a server: the runner's pool is
// the test database's.
func withLock(lock, dataset string) string {
	return "database: {dsn: 'u@tcp(db:3306)/app', lock: " + lock + "}\n" + oneJob(dataset, csvOut)
}

const postsDataset = "      posts:\n        from: posts p\n        select: [p.id, p.title]\n"

// manifests lists the manifests under the runner's output folder.
func manifests(t *testing.T, r *jobs.Runner) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(r.Config.OutputPath(), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".manifest.json") {
			out = append(out, p)
		}
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// leaseRow reads the job's row of the lease table.
func leaseRow(t *testing.T, raw *sql.DB) (holder string, token uint64, done sql.NullString) {
	t.Helper()
	if err := raw.QueryRow("SELECT holder, token, done_logical FROM joinery_locks WHERE name = CONCAT('joinery/', DATABASE(), '/j')").Scan(&holder, &token, &done); err != nil {
		t.Fatal(err)
	}
	return holder, token, done
}

// TestLeaseRunManifest: a run under lock: lease creates the table, takes
// the lease with a fencing token that goes into the manifest with the
// engine, and frees it at the end; the next run gets the next token.
func TestLeaseRunManifest(t *testing.T) {
	r, raw := setup(t, withLock("lease", postsDataset))
	r.Detector = new(mysqlconn.Detector)
	job := &r.Config.Jobs[0]
	for want := uint64(1); want <= 2; want++ {
		res := r.Run(context.Background(), job, logical.Add(time.Duration(want)*time.Hour))
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		m := readManifest(t, res.Manifest)
		if m.Engine == nil || m.Engine.Name != "mariadb" || !strings.Contains(m.Engine.Version, "MariaDB") {
			t.Errorf("manifest engine = %+v", m.Engine)
		}
		if l := m.Lock; l == nil || l.Kind != "lease" || !strings.HasPrefix(l.Name, "joinery/") || !strings.HasSuffix(l.Name, "/j") ||
			!strings.HasSuffix(l.Holder, "/"+res.RunID) || l.Token != want {
			t.Errorf("manifest lock = %+v, want the lease with token %d held by run %s", m.Lock, want, res.RunID)
		}
		holder, token, _ := leaseRow(t, raw)
		if holder != "" || token != want {
			t.Errorf("after the run: holder %q, token %d; want it free, token %d", holder, token, want)
		}
	}
}

// TestAutoLockOnMariaDB: on one MariaDB server, auto takes the named lock,
// and the manifest says so, without a token and without a lease table.
func TestAutoLockOnMariaDB(t *testing.T) {
	r, raw := setup(t, withLock("auto", postsDataset))
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m := readManifest(t, res.Manifest)
	if l := m.Lock; l == nil || l.Kind != "named" || l.Token != 0 || !strings.HasSuffix(l.Holder, "/"+res.RunID) {
		t.Errorf("manifest lock = %+v, want the named lock", m.Lock)
	}
	var n int
	if err := raw.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'joinery_locks'").Scan(&n); err != nil || n != 0 {
		t.Errorf("lease table present (%d, %v) under the named lock", n, err)
	}
}

// TestLeaseHeld: a lease another daemon holds skips the run, naming the
// holder, its heartbeat and its expiry; an expired one is taken over.
func TestLeaseHeld(t *testing.T) {
	r, raw := setup(t, withLock("lease", postsDataset))
	other := &mysqlconn.LeaseTable{DB: raw, Table: "joinery_locks", TTL: time.Minute}
	var name string
	if err := raw.QueryRow("SELECT CONCAT('joinery/', DATABASE(), '/j')").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Acquire(context.Background(), name, "other-host/7/other-run", time.Time{}); err != nil {
		t.Fatal(err)
	}
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if !errors.Is(res.Err, jobs.ErrAlreadyRunning) || res.Outcome() != jobs.OutcomeSkipped {
		t.Fatalf("err = %v (%s), want a skip for the lease", res.Err, res.Outcome())
	}
	for _, want := range []string{"other-host/7/other-run", "last heartbeat", "expires in"} {
		if !strings.Contains(res.Err.Error(), want) {
			t.Errorf("skip %q does not say %q", res.Err, want)
		}
	}
	if len(manifests(t, r)) != 0 {
		t.Error("a skipped run wrote a manifest")
	}
	// The other daemon died: its lease expires.
	testdb.Exec(t, raw, "UPDATE joinery_locks SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
	if res := r.Run(context.Background(), &r.Config.Jobs[0], logical); res.Err != nil {
		t.Fatalf("run after the holder's lease expired: %v", res.Err)
	}
}

// TestLeaseHeldForTheSameTime: a daemon whose scheduled run finds the
// lease held by another daemon's run of that same scheduled time skips
// quietly (ErrAlreadyDone: it is being run); for another time, or by
// hand, the lease held is a lock skip (ErrAlreadyRunning), which says
// that a run of the job was kept from running.
func TestLeaseHeldForTheSameTime(t *testing.T) {
	r, raw := setup(t, withLock("lease", postsDataset))
	other := &mysqlconn.LeaseTable{DB: raw, Table: "joinery_locks", TTL: time.Minute}
	var name string
	if err := raw.QueryRow("SELECT CONCAT('joinery/', DATABASE(), '/j')").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Acquire(context.Background(), name, "other-host/7/other-run", logical); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	job := &r.Config.Jobs[0]
	// It then follows the other daemon's run (TestTakeOverARunThatDied):
	// here the scheduler stops at once.
	r.SetSleep(func(context.Context, time.Duration) error { return context.Canceled })
	res := r.RunScheduled(ctx, ctx, job, logical)
	if !errors.Is(res.Err, jobs.ErrAlreadyDone) || errors.Is(res.Err, jobs.ErrAlreadyRunning) || !strings.Contains(res.Err.Error(), "other-host/7/other-run is running it") {
		t.Errorf("scheduled run of the holder's time: %v, want ErrAlreadyDone naming the holder", res.Err)
	}
	if res := r.RunScheduled(ctx, ctx, job, logical.Add(24*time.Hour)); !errors.Is(res.Err, jobs.ErrAlreadyRunning) {
		t.Errorf("scheduled run of the next time: %v, want ErrAlreadyRunning", res.Err)
	}
	if res := r.Run(ctx, job, logical); !errors.Is(res.Err, jobs.ErrAlreadyRunning) {
		t.Errorf("run by hand of the holder's time: %v, want ErrAlreadyRunning", res.Err)
	}
	if len(manifests(t, r)) != 0 {
		t.Error("a skipped run wrote a manifest")
	}
}

// TestTakeOverARunThatDied: a daemon skipped for the lease held for its
// own scheduled time watches that run: when the holder's lease expires
// without the time committed (the holder died), it runs the time itself;
// when the holder commits, or lets the lease go without committing (a
// failure it reports itself), it leaves the time alone. The waits are
// the runner's injected sleep, in which the other daemon acts.
func TestTakeOverARunThatDied(t *testing.T) {
	for _, c := range []struct {
		name      string
		meanwhile func(t *testing.T, other *mysqlconn.Lease, raw *sql.DB)
		takeOver  bool
	}{
		{"the holder died", func(t *testing.T, _ *mysqlconn.Lease, raw *sql.DB) {
			testdb.Exec(t, raw, "UPDATE joinery_locks SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
		}, true},
		{"the holder committed", func(t *testing.T, other *mysqlconn.Lease, _ *sql.DB) {
			if err := other.MarkDone(context.Background(), logical, "other-run"); err != nil {
				t.Error(err)
			}
			if err := other.Release(context.Background()); err != nil {
				t.Error(err)
			}
		}, false},
		{"the holder failed", func(t *testing.T, other *mysqlconn.Lease, _ *sql.DB) {
			if err := other.Release(context.Background()); err != nil {
				t.Error(err)
			}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, raw := setup(t, withLock("lease", postsDataset))
			var name string
			if err := raw.QueryRow("SELECT CONCAT('joinery/', DATABASE(), '/j')").Scan(&name); err != nil {
				t.Fatal(err)
			}
			table := &mysqlconn.LeaseTable{DB: raw, Table: "joinery_locks", TTL: time.Minute}
			other, err := table.Acquire(context.Background(), name, "other-host/7/other-run", logical)
			if err != nil {
				t.Fatal(err)
			}
			var waits []time.Duration
			r.SetSleep(func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				if len(waits) == 2 { // the holder renewed once, then this
					c.meanwhile(t, other, raw)
				}
				return nil
			})
			ctx := context.Background()
			res := r.RunScheduled(ctx, ctx, &r.Config.Jobs[0], logical)
			if len(waits) != 2 || waits[0] != 20*time.Second {
				t.Errorf("waits %v, want two, of a third of the lease's time to live (20s)", waits)
			}
			got := manifests(t, r)
			if c.takeOver {
				if res.Err != nil || len(got) != 1 || res.Lock == nil || res.Lock.Token != 2 {
					t.Fatalf("err = %v, manifests %v, lock %+v; want the time taken over, with token 2", res.Err, got, res.Lock)
				}
				return
			}
			if !errors.Is(res.Err, jobs.ErrAlreadyDone) || len(got) != 0 {
				t.Errorf("err = %v, manifests %v; want the skip, and no report", res.Err, got)
			}
		})
	}
}

// TestLeaseWithAFullPool: with every connection of the runs' pool taken
// but the run's own (other runs hold them), the run still takes, keeps
// and gives back its lease: the lease's statements go to the control
// pool (jobs.OpenControlDB), not to the pool the runs fill.
func TestLeaseWithAFullPool(t *testing.T) {
	r, _ := setup(t, withLock("lease", postsDataset))
	r.DB.SetMaxOpenConns(2)
	control, err := jobs.OpenControlDB(r.Config.Database, testdb.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	r.Control = control
	r.SetLeaseHeartbeat(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	other, err := r.DB.Conn(ctx) // another run's session
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	res := r.Run(ctx, &r.Config.Jobs[0], logical)
	if res.Err != nil || res.Lock == nil || res.Lock.Token != 1 {
		t.Fatalf("err = %v, lock %+v: want the run made under the lease", res.Err, res.Lock)
	}
}

// TestAbandonedLease: a scheduled run that joinery stops (the scheduler
// shutting down) lets its lease expire at once but keeps its holder and
// time, so that a daemon following it takes the time over at once; a run
// by hand that is stopped frees the lease as usual.
func TestAbandonedLease(t *testing.T) {
	r, raw := setup(t, withLock("lease", "      slow:\n        sql: SELECT SLEEP(20) AS s\n"))
	job := &r.Config.Jobs[0]
	for _, scheduled := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// Stop the run once it is in its query.
			for ctx.Err() == nil {
				var n int
				if raw.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(20)%'").Scan(&n); n > 0 {
					cancel()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		var res *jobs.Result
		if scheduled {
			res = r.RunScheduled(ctx, ctx, job, logical)
		} else {
			res = r.Run(ctx, job, logical)
		}
		cancel()
		if !errors.Is(res.Err, context.Canceled) {
			t.Fatalf("scheduled %v: err = %v, want the run cancelled", scheduled, res.Err)
		}
		var holder string
		var running sql.NullString
		var expired bool
		if err := raw.QueryRow("SELECT holder, running_logical, expires_at < UTC_TIMESTAMP(6) FROM joinery_locks").Scan(&holder, &running, &expired); err != nil {
			t.Fatal(err)
		}
		want := logical.UTC().Format("2006-01-02 15:04:05")
		if scheduled && (!expired || !strings.Contains(holder, res.RunID) || !strings.HasPrefix(running.String, want)) {
			t.Errorf("abandoned: holder %q, running %q, expired %v; want the run's holder and time kept, expired", holder, running.String, expired)
		}
		if !scheduled && (!expired || holder != "" || running.Valid) {
			t.Errorf("released: holder %q, running %v, expired %v; want it free", holder, running, expired)
		}
	}
}

// TestTimedOutLeaseIsReleased: a scheduled run that reaches its job's
// timeout failed: it frees its lease, and no daemon following it takes
// the time over (it would only time out again).
func TestTimedOutLeaseIsReleased(t *testing.T) {
	cfg := strings.Replace(withLock("lease", "      slow:\n        sql: SELECT SLEEP(20) AS s\n"), "    datasets:", "    timeout: 1s\n    datasets:", 1)
	r, raw := setup(t, cfg)
	ctx := context.Background()
	res := r.RunScheduled(ctx, ctx, &r.Config.Jobs[0], logical)
	if res.Err == nil || errors.Is(res.Err, context.Canceled) || !strings.Contains(res.Err.Error(), "timeout") {
		t.Fatalf("err = %v, want the job's timeout", res.Err)
	}
	var holder string
	var running sql.NullString
	if err := raw.QueryRow("SELECT holder, running_logical FROM joinery_locks").Scan(&holder, &running); err != nil {
		t.Fatal(err)
	}
	if holder != "" || running.Valid {
		t.Errorf("holder %q, running %v: want the lease freed, not left to be taken over", holder, running)
	}
}

// TestAlreadyDoneBeforeFreshness: a scheduled time that another daemon
// made is skipped before the freshness guard runs: a late daemon does not
// wait for its own replica, nor fail as stale, for a time already made.
func TestAlreadyDoneBeforeFreshness(t *testing.T) {
	r, raw := setup(t, withLock("lease", postsDataset+"    freshness:\n      watermark: {table: posts, column: published_at}\n      on_stale: fail\n"))
	testdb.Exec(t, raw, "DELETE FROM posts") // never fresh
	var name string
	if err := raw.QueryRow("SELECT CONCAT('joinery/', DATABASE(), '/j')").Scan(&name); err != nil {
		t.Fatal(err)
	}
	other, err := (&mysqlconn.LeaseTable{DB: raw, Table: "joinery_locks", TTL: time.Minute}).Acquire(context.Background(), name, "other/1/x", logical)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.MarkDone(context.Background(), logical, "x"); err != nil {
		t.Fatal(err)
	}
	if err := other.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res := r.RunScheduled(ctx, ctx, &r.Config.Jobs[0], logical); !errors.Is(res.Err, jobs.ErrAlreadyDone) || res.Freshness != nil {
		t.Errorf("err = %v, freshness %+v; want the skip, before the guard", res.Err, res.Freshness)
	}
}

// TestLeaseStolenBeforeCommit: a run whose lease another daemon takes
// over while it writes its files fails with ErrLeaseLost at the check
// before its commit, commits nothing, and leaves the previous report as
// it was.
func TestLeaseStolenBeforeCommit(t *testing.T) {
	r, raw := setup(t, withLock("lease", postsDataset))
	job := &r.Config.Jobs[0]
	first := r.Run(context.Background(), job, logical)
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	before, err := os.ReadFile(first.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	r.SetDirHook(func(step, path string) error {
		if step == "sync" {
			once.Do(func() {
				testdb.Exec(t, raw, "UPDATE joinery_locks SET token = token + 1, holder = 'thief/1/x', expires_at = UTC_TIMESTAMP(6) + INTERVAL 1 MINUTE")
			})
		}
		return nil
	})
	res := r.Run(context.Background(), job, logical)
	if !errors.Is(res.Err, jobs.ErrLeaseLost) || !strings.Contains(res.Err.Error(), "thief/1/x") {
		t.Fatalf("err = %v, want ErrLeaseLost naming the new holder", res.Err)
	}
	if res.Outcome() != jobs.OutcomeFailure || jobs.Retryable(res.Err) {
		t.Errorf("outcome %s, retryable %v: want a failure, not retried", res.Outcome(), jobs.Retryable(res.Err))
	}
	if got := manifests(t, r); len(got) != 1 || got[0] != first.Manifest {
		t.Errorf("manifests %v, want only the first run's", got)
	}
	after, err := os.ReadFile(first.Manifest)
	if err != nil || string(after) != string(before) {
		t.Errorf("the previous report's manifest changed (%v)", err)
	}
	if holder, _, _ := leaseRow(t, raw); holder != "thief/1/x" {
		t.Errorf("the run released the thief's lease: holder %q", holder)
	}
}

// TestLeaseFencedAtCommit: a run that passed its last lease check and
// then stalled past the lease's expiry, while another daemon took the
// lease over and committed the same time into the shared output folder,
// is refused by the commit itself (the fencing token), as ErrLeaseLost:
// the later holder's report stands.
func TestLeaseFencedAtCommit(t *testing.T) {
	r, raw := setup(t, withLock("lease", postsDataset))
	job := &r.Config.Jobs[0]
	var once sync.Once
	var later string
	r.SetDirHook(func(step, path string) error {
		if step == "sync" {
			once.Do(func() {
				// What the other daemon left, had it run meanwhile: its
				// manifest for this time, with the next token.
				var name string
				if err := raw.QueryRow("SELECT name FROM joinery_locks").Scan(&name); err != nil {
					t.Error(err)
					return
				}
				_, token, _ := leaseRow(t, raw)
				m, err := json.Marshal(output.Manifest{Job: "j", Logical: logical, Started: time.Now(),
					Lock: &output.ManifestLock{Kind: "lease", Name: name, Holder: "later/1/x", Token: token + 1}})
				if err != nil {
					t.Error(err)
					return
				}
				later = filepath.Join(r.Config.OutputPath(), output.ManifestName("j", logical, nil))
				if err := os.WriteFile(later, m, 0o644); err != nil {
					t.Error(err)
				}
			})
		}
		return nil
	})
	res := r.Run(context.Background(), job, logical)
	if !errors.Is(res.Err, jobs.ErrLeaseLost) || !errors.Is(res.Err, output.ErrFenced) || jobs.Retryable(res.Err) {
		t.Fatalf("err = %v (retryable %v), want ErrLeaseLost from the fence, not retried", res.Err, jobs.Retryable(res.Err))
	}
	if got := manifests(t, r); len(got) != 1 || got[0] != later {
		t.Errorf("manifests %v, want only the later holder's %s", got, later)
	}
}

// TestLeaseStolenMidQuery: the heartbeat notices a lease taken over while
// the query runs, and the run stops at once (its query killed) with
// ErrLeaseLost, committing nothing.
func TestLeaseStolenMidQuery(t *testing.T) {
	r, raw := setup(t, withLock("lease", "      slow:\n        sql: SELECT SLEEP(20) AS s\n"))
	r.SetLeaseHeartbeat(20 * time.Millisecond)
	go func() {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			var n int
			if raw.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(20)%' AND DB = DATABASE()").Scan(&n) == nil && n > 0 {
				break
			}
		}
		_, _ = raw.Exec("UPDATE joinery_locks SET token = token + 1, holder = 'thief/1/y', expires_at = UTC_TIMESTAMP(6) + INTERVAL 1 MINUTE")
	}()
	start := time.Now()
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if !errors.Is(res.Err, jobs.ErrLeaseLost) {
		t.Fatalf("err = %v, want ErrLeaseLost", res.Err)
	}
	if errors.Is(res.Err, context.Canceled) || res.Outcome() != jobs.OutcomeFailure {
		t.Errorf("err %v is a cancellation (outcome %s): a lost lease is a failure", res.Err, res.Outcome())
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the run took %s: the lost lease did not stop its query", took)
	}
	if got := manifests(t, r); len(got) != 0 {
		t.Errorf("manifests %v after a lost lease", got)
	}
}

// TestHeartbeatKeepsTheLease: a run longer than several heartbeats keeps
// its lease: renewed, never lost, and refused to another daemon meanwhile.
func TestHeartbeatKeepsTheLease(t *testing.T) {
	r, raw := setup(t, withLock("lease", "      slow:\n        sql: SELECT SLEEP(1) AS s\n"))
	r.SetLeaseHeartbeat(20 * time.Millisecond)
	var renewed int
	var contender error
	r.SetDirHook(func(step, path string) error {
		if step == "sync" && contender == nil {
			// After a second of query: several heartbeats have passed.
			if err := raw.QueryRow("SELECT COUNT(*) FROM joinery_locks WHERE heartbeat_at > acquired_at + INTERVAL 500000 MICROSECOND").Scan(&renewed); err != nil {
				t.Error(err)
			}
			var name string
			_ = raw.QueryRow("SELECT name FROM joinery_locks").Scan(&name)
			other := &mysqlconn.LeaseTable{DB: raw, Table: "joinery_locks", TTL: time.Minute}
			_, contender = other.Acquire(context.Background(), name, "other/1/z", time.Time{})
		}
		return nil
	})
	res := r.Run(context.Background(), &r.Config.Jobs[0], logical)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if renewed != 1 {
		t.Error("the lease was not renewed during the run")
	}
	if !errors.Is(contender, jobs.ErrAlreadyRunning) {
		t.Errorf("another daemon's Acquire during the run = %v, want it held", contender)
	}
}

// TestScheduledTimeRunsOnce: two daemons (two Runners on one database and
// one output folder) run the same scheduled time one after the other:
// the second is skipped with ErrAlreadyDone, so there is exactly one
// manifest, under either lock; a manual run of that time is not skipped.
func TestScheduledTimeRunsOnce(t *testing.T) {
	for _, lock := range []string{"lease", "named"} {
		t.Run(lock, func(t *testing.T) {
			a, raw := setup(t, withLock(lock, postsDataset))
			b := &jobs.Runner{DB: a.DB, Config: a.Config, Logger: a.Logger, Detector: new(mysqlconn.Detector)}
			ctx := context.Background()
			first := a.RunScheduled(ctx, ctx, &a.Config.Jobs[0], logical)
			if first.Err != nil {
				t.Fatal(first.Err)
			}
			second := b.RunScheduled(ctx, ctx, &b.Config.Jobs[0], logical)
			if !errors.Is(second.Err, jobs.ErrAlreadyDone) || second.Outcome() != jobs.OutcomeSkipped || jobs.Retryable(second.Err) {
				t.Fatalf("second daemon: err %v (%s), want ErrAlreadyDone, a skip", second.Err, second.Outcome())
			}
			if got := manifests(t, a); len(got) != 1 {
				t.Errorf("manifests %v, want exactly one", got)
			}
			if lock == "lease" {
				if _, _, done := leaseRow(t, raw); !strings.HasPrefix(done.String, "2026-11-25 06:00:00") {
					t.Errorf("done_logical = %v", done)
				}
				// The lease's record alone is enough: another daemon with
				// its own output folder skips too.
				cfg := *a.Config
				cfg.OutputDir = t.TempDir()
				c := &jobs.Runner{DB: a.DB, Config: &cfg, Logger: a.Logger}
				if res := c.RunScheduled(ctx, ctx, &cfg.Jobs[0], logical); !errors.Is(res.Err, jobs.ErrAlreadyDone) {
					t.Errorf("daemon with its own folder: err %v, want ErrAlreadyDone", res.Err)
				}
			}
			// The next scheduled time runs.
			if res := b.RunScheduled(ctx, ctx, &b.Config.Jobs[0], logical.Add(24*time.Hour)); res.Err != nil {
				t.Errorf("next scheduled time: %v", res.Err)
			}
			// By hand, the same time runs again.
			if res := b.Run(ctx, &b.Config.Jobs[0], logical); res.Err != nil {
				t.Errorf("manual run of a time already done: %v", res.Err)
			}
		})
	}
}
