package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/metrics"
)

// newCollector returns the metrics of cfg's runs, with the last success
// and failure of each job in list restored from its run history (see
// metrics.Collector.Restore); o's Version and OutputDir are set here.
func newCollector(cfg *jobs.Config, list []*jobs.Job, o metrics.Options, log *slog.Logger) *metrics.Collector {
	o.Version, o.OutputDir = version, cfg.OutputPath()
	m := metrics.New(o)
	for _, j := range list {
		recs, err := history.Read(cfg.OutputPath(), j.Name, 0)
		if err != nil {
			log.Warn("run history not read: the last success and failure of the job start unset in the metrics", "job", j.Name, "error", err)
			continue
		}
		var success, failure time.Time
		for _, r := range recs {
			end := r.Started.Add(time.Duration(r.Duration * float64(time.Second)))
			switch r.Outcome {
			case jobs.OutcomeSuccess:
				if success.IsZero() {
					success = end
				}
			case jobs.OutcomeFailure, jobs.OutcomeExpectationFailed:
				if failure.IsZero() {
					failure = end
				}
			}
		}
		m.Restore(j.Name, success, failure)
	}
	return m
}

// pushTimeout bounds the push to a Pushgateway of joinery run.
const pushTimeout = 30 * time.Second

// exportMetrics is CronJob mode, after joinery run's runs: the metrics
// written to file (--metrics-file) and pushed to gateway
// (--pushgateway), each when given. A failure is a warning: it does not
// change the exit status, which says how the runs went.
func exportMetrics(ctx context.Context, m *metrics.Collector, file, gateway string, list []*jobs.Job, log *slog.Logger) {
	if file != "" {
		if err := m.WriteTextfile(file); err != nil {
			log.Warn("metrics not written", "error", err)
		}
	}
	if gateway == "" {
		return
	}
	// Also after a signal: the runs it stopped are what to report.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pushTimeout)
	defer cancel()
	names := make([]string, len(list))
	for i, j := range list {
		names[i] = j.Name
	}
	if err := m.Push(ctx, gateway, names, &http.Client{Timeout: pushTimeout}); err != nil {
		log.Warn("metrics not pushed", "error", err)
	}
}
