package mysqlconn_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/internal/testdb"
)

// TestLease acquires, contends for, expires and steals a lease on the
// real server. Expiry and theft are UPDATEs of the row, as the passing of
// time or another daemon would make them: nothing sleeps.
func TestLease(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	table := &mysqlconn.LeaseTable{DB: db, Table: "joinery_locks", TTL: time.Minute, Heartbeat: 10 * time.Millisecond}

	// First use creates the table.
	a, err := table.Acquire(ctx, "joinery/app/j", "host-a/1/run-a", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Token != 1 || !a.DoneLogical.IsZero() {
		t.Errorf("first acquisition: token %d, done %v; want 1, none", a.Token, a.DoneLogical)
	}

	// Held: a second daemon is told who holds it and until when.
	_, err = table.Acquire(ctx, "joinery/app/j", "host-b/2/run-b", time.Time{})
	held, ok := errors.AsType[*mysqlconn.LeaseHeldError](err)
	if !ok || !errors.Is(err, mysqlconn.ErrAlreadyRunning) {
		t.Fatalf("contended Acquire = %v, want a *LeaseHeldError wrapping ErrAlreadyRunning", err)
	}
	if held.Holder != "host-a/1/run-a" || held.Token != 1 || held.ExpiresIn <= 50*time.Second || held.HeartbeatAge < 0 || held.HeartbeatAge > 10*time.Second {
		t.Errorf("held = %+v", held)
	}
	for _, want := range []string{"host-a/1/run-a", "last heartbeat", "expires in"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Another name is another lease.
	other, err := table.Acquire(ctx, "joinery/app/k", "host-b/2/run-b", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	_ = other.Release(ctx)

	// Done is recorded, and only moves forward.
	t1 := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	if err := a.MarkDone(ctx, t1, "run-a"); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkDone(ctx, t1.Add(-time.Hour), "older"); err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(ctx); err != nil {
		t.Fatalf("Verify of a lease held = %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// Released: the next acquisition gets the next token and sees the
	// time done.
	b, err := table.Acquire(ctx, "joinery/app/j", "host-b/2/run-b", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Token != 2 || !b.DoneLogical.Equal(t1) || b.DoneRunID != "run-a" {
		t.Errorf("after release: token %d, done %v by %q; want 2, %v by run-a", b.Token, b.DoneLogical, b.DoneRunID, t1)
	}

	// Expired (b's daemon died): c takes it over, and b's lease is lost.
	testdb.Exec(t, db, "UPDATE joinery_locks SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE name = 'joinery/app/j'")
	c, err := table.Acquire(ctx, "joinery/app/j", "host-c/3/run-c", time.Time{})
	if err != nil {
		t.Fatalf("Acquire of an expired lease = %v", err)
	}
	if c.Token != 3 {
		t.Errorf("token after expiry = %d, want 3", c.Token)
	}
	if err := b.Verify(ctx); !errors.Is(err, mysqlconn.ErrLeaseLost) || !strings.Contains(err.Error(), "host-c/3/run-c") {
		t.Errorf("Verify of a lease taken over = %v, want ErrLeaseLost naming the new holder", err)
	}
	// The stale holder's MarkDone and Release touch nothing: fencing.
	if err := b.MarkDone(ctx, t1.Add(time.Hour), "run-b"); err != nil {
		t.Fatal(err)
	}
	_ = b.Release(ctx)
	var holder, done string
	if err := db.QueryRow("SELECT holder, done_logical FROM joinery_locks WHERE name = 'joinery/app/j'").Scan(&holder, &done); err != nil {
		t.Fatal(err)
	}
	if holder != "host-c/3/run-c" || !strings.HasPrefix(done, "2026-11-25 06:00:00") {
		t.Errorf("after the stale holder's MarkDone and Release: holder %q, done %q", holder, done)
	}

	// The heartbeat renews it.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var before string
	if err := db.QueryRow("SELECT expires_at FROM joinery_locks WHERE name = 'joinery/app/j'").Scan(&before); err != nil {
		t.Fatal(err)
	}
	kept, cancelKept := context.WithCancelCause(ctx)
	stopKeep := c.Keep(kept, log, cancelKept)
	for deadline := time.Now().Add(30 * time.Second); ; {
		var renewed int
		if err := db.QueryRow("SELECT COUNT(*) FROM joinery_locks WHERE name = 'joinery/app/j' AND expires_at > ?", before).Scan(&renewed); err != nil {
			t.Fatal(err)
		}
		if renewed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the heartbeat did not renew the lease")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopKeep()
	if kept.Err() != nil {
		t.Errorf("a lease renewed was reported lost: %v", context.Cause(kept))
	}

	// Stolen (token bumped by hand): the heartbeat notices and cancels.
	testdb.Exec(t, db, "UPDATE joinery_locks SET token = token + 1, holder = 'thief' WHERE name = 'joinery/app/j'")
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := c.Keep(runCtx, log, cancel)
	defer stop()
	select {
	case <-runCtx.Done():
	case <-time.After(time.Minute):
		t.Fatal("the heartbeat did not notice the theft")
	}
	if !errors.Is(context.Cause(runCtx), mysqlconn.ErrLeaseLost) {
		t.Errorf("cause = %v, want ErrLeaseLost", context.Cause(runCtx))
	}
}

// TestLeaseTokenReadBack: the token comes with the UPDATE
// (LAST_INSERT_ID), or, for an engine that refuses that (PlainToken:
// Vitess), from the row read back; either way each acquisition has the
// next one, and Done records the time and frees the lease in one go.
func TestLeaseTokenReadBack(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	for i, plain := range []bool{false, true, false} {
		table := &mysqlconn.LeaseTable{DB: db, Table: "joinery_locks", TTL: time.Minute, PlainToken: plain}
		l, err := table.Acquire(ctx, "joinery/app/t", "host/1/run", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if l.Token != uint64(i+1) {
			t.Errorf("acquisition %d (plain %v): token %d, want %d", i+1, plain, l.Token, i+1)
		}
		at := time.Date(2026, 12, 1, i, 0, 0, 0, time.UTC)
		if err := l.Done(ctx, at, "run"); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil { // nothing left to do
			t.Fatal(err)
		}
		got := table.Read(ctx, "joinery/app/t")
		if got.Holder != "" || got.ExpiresIn > 0 || !got.Done.Equal(at) || !got.Running.IsZero() {
			t.Errorf("after Done: %+v, want free, done at %v", got, at)
		}
	}
}
