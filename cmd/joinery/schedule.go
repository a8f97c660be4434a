package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/schedule"
	"github.com/joinery/joinery/metrics"
	"github.com/joinery/joinery/web"
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
	fs, c := newFlags("schedule", "schedule [--grace 20s] [--listen 127.0.0.1:8080]", stdout, stderr)
	grace := fs.Duration("grace", defaultGrace, "on SIGINT/SIGTERM, how long running jobs may finish before they are cancelled (a second signal cancels them at once)")
	listen := fs.String("listen", "", "serve the status page, /metrics, /healthz and /readyz on this host:port (off by default; an address other than loopback needs "+web.EnvToken+" or "+web.EnvUser+"/"+web.EnvPassword+")")
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
	// The address is taken, or refused, before anything starts.
	var (
		ln   net.Listener
		auth web.Auth
	)
	if *listen != "" {
		if auth, err = web.AuthFromEnv(os.Getenv); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		if ln, err = web.Listen(*listen, auth); err != nil {
			if errors.Is(err, web.ErrNeedsAuth) {
				return &exitError{code: exitUsage, err: err}
			}
			return err
		}
		defer ln.Close()
	}
	// The daemon outlives a database that is down or not started yet
	// (containers start in any order): each run connects when it starts.
	log, db, closeDB, err := c.connect(ctx, cfg, false, true)
	if err != nil {
		return err
	}
	defer closeDB()
	// Deliveries that a crash or a stop left pending resume beside the
	// runs (a run of the same job resumes them too; one delivery of a run
	// at a time).
	d := newDeliverer(cfg, log)
	resumed := make(chan struct{})
	go func() {
		defer close(resumed)
		d.ResumeAll(ctx, cfg)
	}()
	defer func() { <-resumed; d.Wait() }()
	rc := newRecorder(cfg)
	// The configuration in use, after reloads: the jobs whose next run
	// the metrics give.
	var inUse atomic.Pointer[jobs.Config]
	inUse.Store(cfg)
	all := make([]*jobs.Job, len(cfg.Jobs))
	for i := range cfg.Jobs {
		all[i] = &cfg.Jobs[i]
	}
	m := newCollector(cfg, all, metrics.Options{Runtime: true, Schedule: inUse.Load}, log)
	runner := newRunner(cfg, db, c.control, log, d, m)
	s := &schedule.Scheduler{
		Runner: runner,
		OnSkip: func(job *jobs.Job, t time.Time) {
			m.Skipped(job, t)
			if err := rc.Skipped(job, t); err != nil {
				log.Warn("run history not recorded", "job", job.Name, "error", err)
			}
			d.Skipped(ctx, job, t)
		},
		OnMissed: func(job *jobs.Job, newest []time.Time, n int, why string) {
			m.Missed(job, newest, n, why)
			d.Missed(ctx, job, newest, n, why)
		},
		Logger: log,
		Grace:  *grace,
		Abort:  sig.aborts(),
		Reload: reloads,
		Load: func() (*jobs.Config, error) {
			cfg, err := c.load()
			if err == nil {
				inUse.Store(cfg)
			}
			return cfg, err
		},
	}
	if ln == nil {
		return s.Run(ctx)
	}
	srv, err := web.New(web.Options{
		Auth:      auth,
		Scheduler: s,
		Ping:      db.PingContext,
		Gatherer:  m.Gatherer(),
		Runs:      &web.HistoryRuns{OutputDir: rc.OutputDir},
		Logger:    log,
		Version:   version,
	})
	if err != nil {
		return err
	}
	// The server stays up until the scheduler has stopped: /healthz
	// answers during the grace period.
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln) }()
	err = s.Run(ctx)
	stopServing()
	if serr := <-served; serr != nil {
		log.Warn("HTTP server", "error", serr)
	}
	return err
}
