package main

import (
	"context"
	"errors"
	"syscall"
	"testing"
)

// newTestSignals is signals without the process's own: handle stands for
// a signal received.
func newTestSignals() *signals {
	s := &signals{abort: make(chan struct{})}
	s.stop, s.cancel = context.WithCancelCause(context.Background())
	return s
}

func ready(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestSignals: the first stop signal ends the context, with the signal as
// its cause; the second closes abort; SIGHUP reloads once a command asked
// for reloads, and stops any other.
func TestSignals(t *testing.T) {
	t.Run("SIGTERM, then SIGINT", func(t *testing.T) {
		s := newTestSignals()
		s.handle(syscall.SIGTERM)
		if s.stop.Err() == nil || ready(s.aborts()) {
			t.Fatal("the first signal did not stop, or aborted")
		}
		cause := context.Cause(s.stop)
		if cause.Error() != "terminated signal received" || !errors.Is(cause, context.Canceled) {
			t.Errorf("cause %q, want the signal, a context.Canceled", cause)
		}
		s.handle(syscall.SIGINT)
		if !ready(s.aborts()) {
			t.Error("the second signal did not abort")
		}
		s.handle(syscall.SIGTERM) // a third changes nothing, and does not panic
	})
	t.Run("SIGHUP without reloads stops", func(t *testing.T) {
		s := newTestSignals()
		s.handle(syscall.SIGHUP)
		if s.stop.Err() == nil || context.Cause(s.stop).Error() != "hangup signal received" {
			t.Errorf("SIGHUP: %v, want a stop", context.Cause(s.stop))
		}
	})
	t.Run("SIGHUP with reloads reloads", func(t *testing.T) {
		s := newTestSignals()
		reloads := s.reloads()
		s.handle(syscall.SIGHUP)
		s.handle(syscall.SIGHUP) // pending already: not blocked, not lost
		if s.stop.Err() != nil {
			t.Fatal("SIGHUP stopped a command that reloads")
		}
		<-reloads
		if ready(reloads) {
			t.Error("two SIGHUPs before a reload asked for two reloads")
		}
		s.handle(syscall.SIGHUP)
		<-reloads
	})
	t.Run("nil: no signals", func(t *testing.T) {
		var s *signals
		if s.reloads() != nil || s.aborts() != nil {
			t.Error("a nil signals has channels")
		}
	})
}
