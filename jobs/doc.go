// Package jobs knows what a joinery job is and how to run it: it loads and
// validates config.yaml (strictly, reporting every problem with its file,
// line, field path and value), runs a job's datasets against MySQL once per
// logical time and feeds each row to every output, and tells when a job's
// cron expression runs next (package jobs/schedule runs jobs on it). Every
// run, by hand (Runner.RunWithRetries) or scheduled (Runner.RunScheduled),
// goes through the same attempts and Hooks, where work after the commit
// (delivery, notifications, metrics) plugs in; see
// docs/ARCHITECTURE-run.md.
package jobs
