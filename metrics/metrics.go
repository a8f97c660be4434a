// Package metrics counts joinery's runs for Prometheus: a Collector, on a
// registry of its own, whose Attempt and Result methods are jobs.Hooks,
// whose Skipped and Missed methods take the scheduler's own events, and
// whose Gatherer the /metrics endpoint of schedule --listen serves and
// CronJob mode (joinery run --metrics-file, --pushgateway) writes out.
// The metrics and their labels are listed in docs/OPERATIONS.md.
//
// The job of a series is its label job_name, not job: Prometheus gives
// every scraped series the scrape's job label (node_exporter's, for the
// textfile collector), and a Pushgateway refuses pushed series that
// have one.
package metrics

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// jobLabel is the label that names a series' joinery job.
const jobLabel = "job_name"

// Collector holds joinery's metrics. It is safe for concurrent use.
type Collector struct {
	reg       *prometheus.Registry
	outputDir string

	runs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	attempts    *prometheus.CounterVec
	retries     *prometheus.CounterVec
	rows        *prometheus.GaugeVec
	dsDuration  *prometheus.GaugeVec
	bytes       *prometheus.GaugeVec
	lockSkips   *prometheus.CounterVec
	doneSkips   *prometheus.CounterVec
	schedSkips  *prometheus.CounterVec
	missed      *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	lastFailure *prometheus.GaugeVec
	steps       *prometheus.CounterVec
	deliveries  *prometheus.CounterVec
}

// Options configure a Collector.
type Options struct {
	// Version is joinery's version, for joinery_build_info.
	Version string
	// OutputDir is output_dir as joinery started with it: where the
	// delivery ledgers that joinery_deliveries_total counts are.
	OutputDir string
	// Runtime adds the Go runtime's and the process's standard metrics
	// (go_*, process_*): for the daemon, not for the metrics of one-shot
	// runs, which describe a process that has ended.
	Runtime bool
	// Schedule, when set, gives the configuration whose jobs'
	// joinery_next_run_timestamp_seconds are computed at each gathering:
	// the configuration in use, after reloads.
	Schedule func() *jobs.Config
}

// New returns a Collector with its metrics registered on a registry of
// its own.
func New(o Options) *Collector {
	job := []string{jobLabel}
	c := &Collector{
		reg:       prometheus.NewRegistry(),
		outputDir: o.OutputDir,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_runs_total",
			Help: "Runs that ended, by job and outcome (success, failure, expectation_failed, skipped, cancelled)."}, []string{jobLabel, "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "joinery_run_duration_seconds",
			Help: "Duration of the last attempt of runs that were not skipped.",
			// From a second to six hours.
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600}}, job),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_run_attempts_total",
			Help: "Attempts of runs, retries included."}, job),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_run_retries_total",
			Help: "Attempts that failed and were retried."}, job),
		rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "joinery_dataset_rows",
			Help: "Rows of each dataset in the job's last successful run."}, []string{jobLabel, "dataset"}),
		dsDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "joinery_dataset_duration_seconds",
			Help: "Time each dataset took in the job's last successful run."}, []string{jobLabel, "dataset"}),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "joinery_file_bytes",
			Help: "Bytes each output wrote in the job's last successful run."}, []string{jobLabel, "output"}),
		lockSkips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_lock_skips_total",
			Help: "Runs skipped because another run of the job held its lock."}, job),
		doneSkips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_already_done_skips_total",
			Help: "Scheduled runs skipped because their scheduled time had run already (another daemon ran it)."}, job),
		schedSkips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_scheduler_skips_total",
			Help: "Scheduled times not run because the job's previous run in this process was still going."}, job),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_missed_runs_total",
			Help: "Scheduled times missed while joinery was down that catch-up dropped."}, job),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "joinery_last_success_timestamp_seconds",
			Help: "When the job's last successful run ended (Unix time)."}, job),
		lastFailure: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "joinery_last_failure_timestamp_seconds",
			Help: "When the job's last failed run ended (Unix time): failure or expectation_failed."}, job),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_post_commit_failures_total",
			Help: "Steps after the commit (deliver) that failed for a successful run."}, []string{jobLabel, "step"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "joinery_deliveries_total",
			Help: "Deliveries of successful runs to each destination, by state when the run ended (sent, failed, pending)."},
			[]string{jobLabel, "destination", "outcome"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "joinery_build_info", Help: "joinery's version and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": o.Version, "goversion": runtime.Version()}})
	build.Set(1)
	c.reg.MustRegister(build, c.runs, c.duration, c.attempts, c.retries, c.rows, c.dsDuration, c.bytes, c.lockSkips, c.doneSkips,
		c.schedSkips, c.missed, c.lastSuccess, c.lastFailure, c.steps, c.deliveries)
	if o.Schedule != nil {
		c.reg.MustRegister(&nextRuns{cfg: o.Schedule, desc: prometheus.NewDesc("joinery_next_run_timestamp_seconds",
			"When the job's next scheduled run starts: its scheduled time plus its jitter delay (Unix time).", job, nil)})
	}
	if o.Runtime {
		c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return c
}

// Gatherer returns what gathers the metrics, for promhttp.HandlerFor.
func (c *Collector) Gatherer() prometheus.Gatherer { return c.reg }

// Attempt counts an attempt of a run (the jobs.Hooks Attempt hook), and a
// retry when another attempt follows.
func (c *Collector) Attempt(_ context.Context, run jobs.Run) {
	c.attempts.WithLabelValues(run.Job.Name).Inc()
	if run.RetryIn > 0 {
		c.retries.WithLabelValues(run.Job.Name).Inc()
	}
}

// Result counts a run that ended (the jobs.Hooks Result hook).
func (c *Collector) Result(_ context.Context, run jobs.Run) {
	res, name := run.Result, run.Job.Name
	outcome := res.Outcome()
	c.runs.WithLabelValues(name, string(outcome)).Inc()
	end := float64(res.Started.Add(res.Duration).UnixNano()) / 1e9
	switch outcome {
	case jobs.OutcomeSkipped:
		if errors.Is(res.Err, jobs.ErrAlreadyDone) {
			c.doneSkips.WithLabelValues(name).Inc()
		} else {
			c.lockSkips.WithLabelValues(name).Inc()
		}
		return
	case jobs.OutcomeFailure, jobs.OutcomeExpectationFailed:
		c.lastFailure.WithLabelValues(name).Set(end)
	case jobs.OutcomeSuccess:
		c.success(run, end)
	}
	c.duration.WithLabelValues(name).Observe(res.Duration.Seconds())
}

func (c *Collector) success(run jobs.Run, end float64) {
	res, name := run.Result, run.Job.Name
	c.lastSuccess.WithLabelValues(name).Set(end)
	for _, d := range res.Datasets {
		c.rows.WithLabelValues(name, d.Name).Set(float64(d.Rows))
		c.dsDuration.WithLabelValues(name, d.Name).Set(d.Duration.Seconds())
	}
	if res.Commit != nil {
		sizes := make(map[string]int64)
		for _, f := range res.Commit.Files {
			sizes[f.Output] += f.Size
		}
		for o, n := range sizes {
			c.bytes.WithLabelValues(name, o).Set(float64(n))
		}
	}
	for _, s := range res.PostCommit {
		c.steps.WithLabelValues(name, s.Step).Inc()
	}
	if len(run.Job.Deliver) > 0 && res.RunID != "" {
		c.delivered(name, res.RunID)
	}
}

// delivered counts the destinations of a run's delivery ledger.
func (c *Collector) delivered(job, runID string) {
	if c.outputDir == "" {
		return
	}
	dir, err := output.OpenDir(c.outputDir)
	if err != nil {
		return
	}
	defer dir.Close()
	l, err := delivery.ReadLedger(dir, job, runID)
	if err != nil {
		return
	}
	for _, e := range l.Destinations {
		c.deliveries.WithLabelValues(job, e.Name, string(e.State)).Inc()
	}
}

// Restore sets the job's last success and last failure timestamps from
// an earlier process (its run history); call it before the job runs.
// After a restart, and in CronJob mode, where each process makes one
// run, joinery_last_success_timestamp_seconds then still says when the
// job last succeeded. A zero time sets nothing.
func (c *Collector) Restore(job string, lastSuccess, lastFailure time.Time) {
	if !lastSuccess.IsZero() {
		c.lastSuccess.WithLabelValues(job).Set(float64(lastSuccess.UnixNano()) / 1e9)
	}
	if !lastFailure.IsZero() {
		c.lastFailure.WithLabelValues(job).Set(float64(lastFailure.UnixNano()) / 1e9)
	}
}

// Skipped counts a scheduled time of job that the scheduler did not run
// (schedule.Scheduler.OnSkip).
func (c *Collector) Skipped(job *jobs.Job, _ time.Time) { c.schedSkips.WithLabelValues(job.Name).Inc() }

// Missed counts scheduled times of job that catch-up dropped
// (schedule.Scheduler.OnMissed).
func (c *Collector) Missed(job *jobs.Job, _ []time.Time, count int, _ string) {
	c.missed.WithLabelValues(job.Name).Add(float64(count))
}

// nextRuns computes joinery_next_run_timestamp_seconds when gathered.
type nextRuns struct {
	cfg  func() *jobs.Config
	desc *prometheus.Desc
}

func (n *nextRuns) Describe(ch chan<- *prometheus.Desc) { ch <- n.desc }

func (n *nextRuns) Collect(ch chan<- prometheus.Metric) {
	cfg := n.cfg()
	if cfg == nil {
		return
	}
	now := time.Now()
	for i := range cfg.Jobs {
		// When the next run starts: its scheduled time plus the job's
		// jitter delay.
		if _, t := cfg.Jobs[i].NextStart(now); !t.IsZero() {
			ch <- prometheus.MustNewConstMetric(n.desc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, cfg.Jobs[i].Name)
		}
	}
}
