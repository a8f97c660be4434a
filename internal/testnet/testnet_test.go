package testnet

import (
	"bufio"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// echo is a server that writes back every line it reads.
func echo(t *testing.T) string {
	return Serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// roundTrip sends a line through c and returns the answer.
func roundTrip(c net.Conn, line string) (string, error) {
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	s, err := bufio.NewReader(c).ReadString('\n')
	return s, err
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wantRefused fails the test unless a connection to addr is refused.
func wantRefused(t *testing.T, addr, when string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if c != nil {
		c.Close()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want ECONNREFUSED", when, err)
	}
}

// TestRelay: refused until Start, relays once started, Cut closes the
// open connections and the port, and Start opens the same address again.
func TestRelay(t *testing.T) {
	rl := NewRelay(t, echo(t))
	wantRefused(t, rl.Addr, "before Start")
	rl.Start(t)
	c := dial(t, rl.Addr)
	if got, err := roundTrip(c, "hello"); got != "hello\n" || err != nil {
		t.Fatalf("through the relay: %q, %v", got, err)
	}
	rl.Cut()
	if got, err := roundTrip(c, "again"); err == nil {
		t.Fatalf("a connection open across Cut answered %q", got)
	}
	wantRefused(t, rl.Addr, "after Cut")
	rl.Start(t)
	if got, err := roundTrip(dial(t, rl.Addr), "back"); got != "back\n" || err != nil {
		t.Fatalf("after Start again: %q, %v", got, err)
	}
}

// TestRelayCutAfter: the relay cuts itself once more than the bytes
// given went to the target, before passing the chunk that crossed it.
func TestRelayCutAfter(t *testing.T) {
	got := make(chan int64, 1)
	target := Serve(t, func(c net.Conn) {
		n, _ := io.Copy(c, c) // an echo that counts
		got <- n
	})
	rl := NewRelay(t, target)
	rl.Start(t)
	rl.CutAfter(10)
	c := dial(t, rl.Addr)
	// Ten bytes, echoed back: all of them reached the target.
	if _, err := io.WriteString(c, "0123456789"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 10)); err != nil {
		t.Fatalf("the first ten bytes: %v", err)
	}
	// One more is past the limit.
	_, _ = io.WriteString(c, "x")
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes past the limit", n)
	}
	select {
	case n := <-got:
		if n != 10 {
			t.Errorf("the target got %d bytes, want 10", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not close the connection to the target")
	}
	// The cut closes the port in a goroutine of its own.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", rl.Addr)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if c != nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial after the cut: %v, want ECONNREFUSED", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRelayLatency: every chunk waits Latency each way.
func TestRelayLatency(t *testing.T) {
	rl := NewRelay(t, echo(t))
	rl.Latency = 100 * time.Millisecond
	rl.Start(t)
	c := dial(t, rl.Addr)
	start := time.Now()
	if got, err := roundTrip(c, "slow"); got != "slow\n" || err != nil {
		t.Fatalf("through the relay: %q, %v", got, err)
	}
	if took := time.Since(start); took < 2*rl.Latency {
		t.Errorf("a round trip took %v, want at least %v", took, 2*rl.Latency)
	}
}
