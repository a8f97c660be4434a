// Package testnet holds the TCP pieces tests put between a client and a
// real server: a free loopback address, a server of a test's own, and a
// relay that can be started late, cut and slowed, as a server that is
// still starting, dies or is far away. It is test support only: no
// production package imports it.
package testnet

import (
	"net"
	"sync"
	"testing"
	"time"
)

// FreeAddr returns a loopback address nothing listens on (for now).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Serve listens on a loopback port and hands each connection to handle,
// in a goroutine of its own, until the test ends, when it closes the port
// and every connection and waits for the handlers to return. It returns
// the address.
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { defer c.Close(); handle(c) })
		}
	})
	return ln.Addr().String()
}

// Relay accepts connections on an address of its own and copies bytes
// both ways to the server at Target: the server as seen through a port
// that answers only once Start is called, as a server that is still
// starting (or restarting) does, and that goes away when Cut is called,
// as a server that dies does. Start after Cut opens the same address
// again.
type Relay struct {
	Addr   string // 127.0.0.1:port, refused until Start
	Target string
	// Latency, set before Start, delays every chunk of bytes relayed,
	// both ways: a server farther away.
	Latency time.Duration

	mu    sync.Mutex
	ln    net.Listener // nil while cut or not started
	conns []net.Conn   // both ends of every connection relayed
	// cutAt, when positive, is the count of bytes sent to the target
	// past which the relay cuts itself.
	sent, cutAt int64
	done        bool // the test ended: Start does nothing
}

// NewRelay reserves a loopback address for a relay to target, which the
// test starts when it wants the server to answer; the relay is cut when
// the test ends.
func NewRelay(t testing.TB, target string) *Relay {
	t.Helper()
	r := &Relay{Addr: FreeAddr(t), Target: target}
	t.Cleanup(func() {
		r.mu.Lock()
		r.done = true
		r.mu.Unlock()
		r.Cut()
	})
	return r
}

// Start opens the relay's address. It may be called from any goroutine:
// it reports a failure with t.Errorf, and does nothing once the test
// ended.
func (r *Relay) Start(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	if done {
		return
	}
	var ln net.Listener
	var err error
	// The address may be briefly busy after a Cut.
	for range 50 {
		if ln, err = net.Listen("tcp", r.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("relay: %v", err)
		return
	}
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		ln.Close()
		return
	}
	r.ln = ln
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", r.Target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			if r.ln != ln { // cut since Accept
				c.Close()
				s.Close()
			} else {
				r.conns = append(r.conns, c, s)
			}
			r.mu.Unlock()
			go func() { r.copy(s, c, true); s.Close() }()
			go func() { r.copy(c, s, false); c.Close() }()
		}
	}()
}

// Cut closes the address and every connection through it.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// CutAfter makes the relay cut itself once n more bytes went to the
// target: the server goes away in the middle of a request.
func (r *Relay) CutAfter(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cutAt = r.sent + n
}

// copy copies src to dst, each chunk Latency after it was read; toTarget
// counts the bytes against CutAfter.
func (r *Relay) copy(dst, src net.Conn, toTarget bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if r.Latency > 0 {
				time.Sleep(r.Latency)
			}
			if toTarget && r.count(n) {
				go r.Cut()
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// count adds n bytes sent to the target and tells whether that passed
// the limit CutAfter set, which it then clears.
func (r *Relay) count(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent += int64(n)
	if r.cutAt > 0 && r.sent > r.cutAt {
		r.cutAt = 0
		return true
	}
	return false
}
