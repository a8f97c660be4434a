package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverer"
	"github.com/joinery/joinery/delivery/destinations"
	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/metrics"
)

// connect builds the logger (see logger) and opens the database. When
// the first connection fails for a reason that may pass (see
// jobs.Retryable) and waitForDB says so, it logs the failure and returns
// the database anyway: the runs then meet the error themselves, and retry
// as their jobs allow.
func (c *common) connect(ctx context.Context, cfg *jobs.Config, quietOnTerminal, waitForDB bool) (*slog.Logger, *sql.DB, func(), error) {
	log, err := c.logger(quietOnTerminal)
	if err != nil {
		return nil, nil, nil, err
	}
	db, control, closeDB, err := openDB(ctx, cfg, log, waitForDB)
	c.control = control
	return log, db, closeDB, err
}

// openDB connects to the configured database, starting the embedded demo
// database when the configuration asks for it; see connect for waitForDB.
// control is the database's control pool (jobs.OpenControlDB), nil for
// the embedded demo database, whose runs take no lease.
func openDB(ctx context.Context, cfg *jobs.Config, log *slog.Logger, waitForDB bool) (db, control *sql.DB, closeDB func(), err error) {
	var dsn string
	stop := func() error { return nil }
	if cfg.Database.Embedded() {
		dsn, stop, err = startEmbedded(ctx, log)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("embedded database: %w", err)
		}
		log.Info("using the embedded demo database", "dsn", mysqlconn.Redact(dsn))
	} else if dsn, err = cfg.Database.ResolveDSN(); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: database.dsn: %w", cfg.File, err)
	}
	if db, err = jobs.OpenDB(cfg.Database, dsn, log); err != nil {
		_ = stop()
		return nil, nil, nil, err
	}
	if !cfg.Database.Embedded() {
		if control, err = jobs.OpenControlDB(cfg.Database, dsn, log); err != nil {
			db.Close()
			return nil, nil, nil, err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.Database.ConnectTimeout+5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		err = fmt.Errorf("connect to %s: %w", mysqlconn.Redact(dsn), err)
		if !waitForDB || !jobs.Retryable(err) || ctx.Err() != nil {
			db.Close()
			if control != nil {
				control.Close()
			}
			_ = stop()
			return nil, nil, nil, err
		}
		// A warning: what fails because of it is each run, which says so.
		log.Warn("the database is not reachable yet; runs will try again when they start", "error", err)
	}
	return db, control, func() {
		db.Close()
		if control != nil {
			control.Close()
		}
		if err := stop(); err != nil {
			log.Warn("stop embedded database", "error", err)
		}
	}, nil
}

// newRunner returns the runner that run and schedule make their runs
// with, on db and its control pool (see openDB): what plugs into its Hooks (delivery, run history,
// notifications, metrics) sees every run, by hand or on schedule. d
// delivers the runs (the "deliver" step and the notifications); nil for
// run --no-deliver. m counts the runs (package metrics). Every run is
// counted, then recorded in its job's history (jobs/history), before its
// notifications, which may be slow.
func newRunner(cfg *jobs.Config, db, control *sql.DB, log *slog.Logger, d *deliverer.Deliverer, m *metrics.Collector) *jobs.Runner {
	r := &jobs.Runner{DB: db, Control: control, Config: cfg, Logger: log, Version: version, Detector: new(mysqlconn.Detector)}
	if d != nil {
		r.Hooks.AfterCommit = append(r.Hooks.AfterCommit, d.Step())
	}
	r.Hooks.AddAttempt(m.Attempt)
	r.Hooks.AddResult(m.Result)
	r.Hooks.AddResult(newRecorder(cfg).Result)
	if d != nil {
		r.Hooks.AddResult(d.Result)
	}
	return r
}

// newRecorder returns what records the runs of cfg in their histories.
func newRecorder(cfg *jobs.Config) *history.Recorder {
	return &history.Recorder{OutputDir: cfg.OutputPath()}
}

// newDeliverer returns what delivers the runs of cfg, with every kind of
// destination this build has.
func newDeliverer(cfg *jobs.Config, log *slog.Logger) *deliverer.Deliverer {
	return &deliverer.Deliverer{Engine: &delivery.Engine{Kinds: destinations.Default(), Log: log}, OutputDir: cfg.OutputPath()}
}
