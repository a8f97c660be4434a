package jobs

import (
	"context"
	"errors"
)

// Outcome is how a run ended, as run history and metrics tell runs
// apart (see Result.Outcome).
type Outcome string

// The outcomes of a run.
const (
	// OutcomeSuccess: the run committed its reports. Steps after the
	// commit that failed (Result.PostCommit, a delivery) do not change
	// it.
	OutcomeSuccess Outcome = "success"
	// OutcomeFailure: the run failed, after its retries if any.
	OutcomeFailure Outcome = "failure"
	// OutcomeExpectationFailed: the data was not as the job expects (an
	// expect rule with on_fail: fail, or on_empty: fail).
	OutcomeExpectationFailed Outcome = "expectation_failed"
	// OutcomeSkipped: another run of the job held its lock, or the
	// scheduled time had run already (ErrAlreadyDone).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeCancelled: joinery stopped (a signal) before the run ended.
	OutcomeCancelled Outcome = "cancelled"
)

// Outcome returns how the run ended, from its Err.
func (res *Result) Outcome() Outcome {
	switch err := res.Err; {
	case err == nil:
		return OutcomeSuccess
	case errors.Is(err, ErrAlreadyRunning), errors.Is(err, ErrAlreadyDone):
		return OutcomeSkipped
	case errors.Is(err, ErrLeaseLost):
		return OutcomeFailure
	case errors.Is(err, context.Canceled):
		return OutcomeCancelled
	case errors.Is(err, ErrExpectation), errors.Is(err, ErrEmpty):
		return OutcomeExpectationFailed
	}
	return OutcomeFailure
}
