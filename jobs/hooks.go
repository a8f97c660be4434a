package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/joinery/joinery/output"
)

// Hooks are what a Runner calls around every run it makes, whoever asked
// for the run (joinery run, the scheduler, a catch-up): the one place
// where work after a run plugs in, such as delivery, notifications,
// metrics and run history. A nil field is skipped. (The shape is that of
// net/http/httptrace's ClientTrace.)
//
// For one run, in order: Attempt after each attempt; then, when the run
// succeeded, each of AfterCommit; then Result, once. Hooks run on the
// run's goroutine, after the run has let go of its connection, its job
// lock and its output folder: a slow hook delays the end of its run
// (under schedule, a scheduled time of the job that comes meanwhile is
// skipped, as during the run), and runs of different jobs call hooks at
// the same time, so hooks must be safe for concurrent use. ctx is the run's: it ends when joinery stops (a signal;
// for schedule, the end of its grace period), and has ended already for
// a cancelled run, so a hook that must still say something uses
// context.WithoutCancel with a timeout of its own.
//
// Failure policy: nothing after the commit point re-runs the query or
// rolls back the reports. A step of AfterCommit that fails (returns an
// error or panics) is logged as an error, "step after the commit failed",
// and recorded in Result.PostCommit; the run stays a success: its Err is
// nil, its reports and manifest stay, it counts as the job's last success
// for catch-up, RunWithRetries does not retry it, and the steps after the
// failed one still run. joinery run then exits with status 4. A step that
// wants another try makes it itself, within its call or later from a
// record of its own (a delivery ledger). A panic in Attempt or Result is
// logged and changes nothing.
type Hooks struct {
	// Attempt is called after each attempt of a run with the attempt's
	// result (Result.Attempts is its number), failed attempts that are
	// retried included; Run.RetryIn is then the wait before the next
	// attempt, which a stop may still cut short. It should be quick.
	Attempt func(ctx context.Context, run Run)
	// AfterCommit are the steps that use what a successful run committed
	// (Result.Commit), in order.
	AfterCommit []Step
	// Result is called once per run with its final result, whatever the
	// outcome: committed, failed (also before its first attempt: a
	// parameter that does not plan), skipped for the job's lock, or
	// cancelled.
	Result func(ctx context.Context, run Run)
}

// Step is work done with the reports a run committed, such as delivering
// them; see Hooks for when it runs and what its failure means.
type Step struct {
	// Name names the step in logs and in Result.PostCommit, such as
	// "deliver".
	Name string
	// Run does the step for run, a success: run.Result.Commit says what
	// it committed. It may read the run, never change it.
	Run func(ctx context.Context, run Run) error
}

// Run is a run as hooks see it.
type Run struct {
	// Job is the job as configured when the run started: a reload of the
	// configuration does not change it.
	Job *Job
	// Result is the run's result, or for Attempt the attempt's. Hooks
	// only read it.
	Result *Result
	// Log is the run's logger: every record carries the job, the run id
	// and the logical time.
	Log *slog.Logger
	// RetryIn is, for Attempt, the wait before the next attempt; 0 when
	// none follows.
	RetryIn time.Duration
}

// Commit is what a successful run put in place at its commit point.
type Commit struct {
	// Files are the run's reports, in output order, each with its
	// absolute path, format, size, SHA-256, rows per dataset and the latest
	// name moved to it. None when every dataset was empty and skipped
	// (on_empty: skip). The job's lock is free again when hooks run: a
	// later run may replace these files, or retention remove them, so a
	// step reads each once and checks its size and SHA-256.
	Files []output.File
	// Manifest is the manifest as written, at Result.Manifest; nil when
	// the run wrote no file.
	Manifest *output.Manifest
	// Pending is set when renames were left to the next run of the job
	// (Result.Warnings say why): some Files may not be in place yet.
	Pending bool
}

// StepError is the failure of a step after a run's commit point (see
// Hooks): the run happened and its reports are in place, but what the
// step was to do with them was not done.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// AddAttempt adds fn to the Attempt hook: the functions added are called
// in the order added, each whatever the ones before did (a panic is
// logged, and the next is called).
func (h *Hooks) AddAttempt(fn func(ctx context.Context, run Run)) {
	h.Attempt = chain(h.Attempt, fn, "attempt hook")
}

// AddResult adds fn to the Result hook, as AddAttempt does to Attempt:
// metrics, run history and notifications each add theirs.
func (h *Hooks) AddResult(fn func(ctx context.Context, run Run)) {
	h.Result = chain(h.Result, fn, "result hook")
}

// chain returns a hook that calls first, then then; first alone when then
// is nil, and then alone when first is.
func chain(first, then func(ctx context.Context, run Run), name string) func(ctx context.Context, run Run) {
	switch {
	case then == nil:
		return first
	case first == nil:
		return then
	}
	return func(ctx context.Context, run Run) {
		_ = call(run.Log, name, func() error { first(ctx, run); return nil })
		then(ctx, run)
	}
}

// attempt calls h.Attempt, if set.
func (h *Hooks) attempt(ctx context.Context, run Run) {
	if h.Attempt != nil {
		_ = call(run.Log, "attempt hook", func() error { h.Attempt(ctx, run); return nil })
	}
}

// finish ends a run once its attempts are over: the steps after the
// commit of a run that succeeded, each failure recorded in its result,
// then the Result hook.
func (h *Hooks) finish(ctx context.Context, run Run) {
	res := run.Result
	if res.Err == nil && res.Commit != nil {
		for _, s := range h.AfterCommit {
			start := time.Now()
			err := call(run.Log, s.Name, func() error { return s.Run(ctx, run) })
			if err != nil {
				run.Log.Error("step after the commit failed", "step", s.Name, "error", err, "duration", time.Since(start).Round(time.Millisecond))
				res.PostCommit = append(res.PostCommit, &StepError{Step: s.Name, Err: err})
				continue
			}
			run.Log.Debug("step after the commit done", "step", s.Name, "duration", time.Since(start).Round(time.Millisecond))
		}
	}
	if h.Result != nil {
		_ = call(run.Log, "result hook", func() error { h.Result(ctx, run); return nil })
	}
}

// call calls fn, the hook named name, and turns a panic in it into its
// error, logged with the stack: past the commit point a hook must not take
// the process, or its run, with it.
func call(log *slog.Logger, name string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("hook panicked", "hook", name, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}
