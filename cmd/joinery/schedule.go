package main

import (
	"context"
	"io"
	"time"

	"github.com/joinery/joinery/jobs/schedule"
)

// defaultGrace is schedule's --grace: with the few seconds a cancelled
// run takes to stop its query on the server and remove its files, it ends
// within the 30 s that Kubernetes gives a pod by default
// (terminationGracePeriodSeconds) before its SIGKILL.
const defaultGrace = 20 * time.Second

// cmdSchedule is joinery schedule: the daemon, running every job on its
// schedule until a signal stops it.
func cmdSchedule(ctx context.Context, sig *signals, args []string, stdout, stderr io.Writer) error {
	// From now on SIGHUP reloads the configuration; one that comes before
	// the scheduler runs waits for it.
	reloads := sig.reloads()
	fs, c := newFlags("schedule", "schedule [--grace 20s]", stdout, stderr)
	grace := fs.Duration("grace", defaultGrace, "on SIGINT/SIGTERM, how long running jobs may finish before they are cancelled (a second signal cancels them at once)")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	// Before connecting: a configuration that cannot be scheduled is
	// refused whether or not the database is there.
	if err := schedule.Check(cfg); err != nil {
		return err
	}
	// Likewise a folder the reports cannot go to: the daemon would start
	// and then fail every run.
	if err := cfg.CheckOutputDir(); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	// The daemon outlives a database that is down or not started yet
	// (containers start in any order): each run connects when it starts.
	log, db, closeDB, err := c.connect(ctx, cfg, false, true)
	if err != nil {
		return err
	}
	defer closeDB()
	s := &schedule.Scheduler{
		Runner: newRunner(cfg, db, log),
		Logger: log,
		Grace:  *grace,
		Abort:  sig.aborts(),
		Reload: reloads,
		Load:   c.load,
	}
	return s.Run(ctx)
}
