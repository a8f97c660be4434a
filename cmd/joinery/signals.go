package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// signals turns the signals joinery gets into what its commands do:
//
//   - The first SIGINT or SIGTERM ends stop, the commands' context: run
//     cancels its runs at once, schedule starts no new run and gives
//     running ones its grace period.
//   - A second one closes abort: schedule cancels its running jobs without
//     waiting for the rest of the grace period. (run is cancelling already.)
//   - SIGHUP reloads the configuration in a command that asked for it
//     (schedule, see reloads), and is a stop for any other: a terminal
//     that closes stops run cleanly, where SIGHUP's default would kill it
//     half-way and leave its temporary files.
//
// A signal ignored when joinery started (nohup, a shell's background job)
// stays ignored.
type signals struct {
	stop   context.Context
	cancel context.CancelCauseFunc
	abort  chan struct{}

	mu     sync.Mutex
	count  int           // SIGINT and SIGTERM so far, and SIGHUP without reloads
	reload chan struct{} // nil until reloads
}

// notifySignals starts handling the signals; release stops it.
func notifySignals() (s *signals, release func()) {
	s = &signals{abort: make(chan struct{})}
	s.stop, s.cancel = context.WithCancelCause(context.Background())
	var wanted []os.Signal
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP} {
		// Notify would undo a parent's choice to ignore the signal.
		if !signal.Ignored(sig) {
			wanted = append(wanted, sig)
		}
	}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, wanted...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				s.handle(sig)
			case <-done:
				return
			}
		}
	}()
	return s, func() {
		signal.Stop(ch)
		close(done)
		s.cancel(context.Canceled)
	}
}

// handle does what sig asks for.
func (s *signals) handle(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sig == syscall.SIGHUP && s.reload != nil {
		select {
		case s.reload <- struct{}{}:
		default: // a reload is pending already, and will read the file anew
		}
		return
	}
	s.count++
	switch s.count {
	case 1:
		s.cancel(signalError{sig})
	case 2:
		close(s.abort)
	}
}

// reloads makes SIGHUP a request to reload the configuration, sent to the
// channel it returns, from now on. A nil s (tests) never sends.
func (s *signals) reloads() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reload == nil {
		s.reload = make(chan struct{}, 1)
	}
	return s.reload
}

// aborts returns the channel closed by a second stop signal. A nil s
// (tests) never closes it.
func (s *signals) aborts() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.abort
}

// signalError is the cause of the stop: the signal, as os/signal's
// NotifyContext words it. It is a context.Canceled.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return e.sig.String() + " signal received" }

func (e signalError) Is(target error) bool { return target == context.Canceled }
