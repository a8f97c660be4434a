// Package jobs knows what a joinery job is and how to run it: it loads and
// validates config.yaml (strictly, reporting every problem with its file,
// line, field path and value), runs a job's datasets against MySQL once per
// logical time and feeds each row to every output, and schedules jobs on
// their cron expressions. Every run, by hand or scheduled, goes through
// Runner.RunWithRetries and its Hooks, where work after the commit
// (delivery, notifications, metrics) plugs in; see
// docs/ARCHITECTURE-run.md.
package jobs
