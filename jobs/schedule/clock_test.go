package schedule

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when a test sets it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waits   map[*fakeWait]bool
	waiting chan struct{} // has a value while someone waits
}

type fakeWait struct {
	at time.Time
	ch chan struct{}
}

// newFakeClock returns a fakeClock that reads now.
func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waits: map[*fakeWait]bool{}, waiting: make(chan struct{}, 1)}
}

// Now returns the time the clock was last set to.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// WaitUntil implements Clock.
func (c *fakeClock) WaitUntil(t time.Time) (<-chan struct{}, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &fakeWait{at: t, ch: make(chan struct{})}
	if !t.After(c.now) {
		close(w.ch)
		return w.ch, func() {}
	}
	c.waits[w] = true
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	return w.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.waits, w)
	}
}

// NextWait waits until something waits on the clock and returns the
// earliest time waited for.
func (c *fakeClock) NextWait(t testing.TB) time.Time {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		var first time.Time
		for w := range c.waits {
			if first.IsZero() || w.at.Before(first) {
				first = w.at
			}
		}
		c.mu.Unlock()
		if !first.IsZero() {
			return first
		}
		select {
		case <-c.waiting:
		case <-deadline:
			t.Fatal("nothing waits on the clock after 10s")
		}
	}
}

// Set moves the clock to now and ends the waits for times up to it.
func (c *fakeClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	for w := range c.waits {
		if !w.at.After(now) {
			close(w.ch)
			delete(c.waits, w)
		}
	}
}
