package jobs

import (
	"context"
	"time"
)

// The names below exist for the tests of package jobs_test only: they are
// not part of the package's API, which makes every run with
// RunWithRetries.

// Parse is parse: Load without the file system.
func Parse(file string, data []byte) (*Config, error) { return parse(file, data) }

// Run runs job once, without retries, for the logical time t, with its
// window for t and the default parameter values; see RunPlan.
func (r *Runner) Run(ctx context.Context, job *Job, t time.Time) *Result {
	p, err := job.PlanAt(t, nil)
	if err != nil {
		return r.failedToPlan(ctx, job, t, err)
	}
	return r.RunPlan(ctx, job, p)
}

// RunPlan runs job once as planned, without retries: RunWithRetries for a
// job whose retries are 0.
func (r *Runner) RunPlan(ctx context.Context, job *Job, p Plan) *Result {
	once := *job
	once.Retries = 0
	return r.RunWithRetries(ctx, &once, p)
}

// SetDirHook sets the runner's dirHook.
func (r *Runner) SetDirHook(hook func(step, path string) error) { r.dirHook = hook }

// SetSleep sets the runner's sleep.
func (r *Runner) SetSleep(sleep func(ctx context.Context, d time.Duration) error) { r.sleep = sleep }

// SetLeaseHeartbeat sets the interval between renewals of the runner's
// leases.
func (r *Runner) SetLeaseHeartbeat(d time.Duration) { r.leaseHeartbeat = d }
