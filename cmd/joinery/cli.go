package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/jobs/schedule"
)

// Exit statuses, documented in README.md.
const (
	exitOK          = 0
	exitFailed      = 1   // one or more jobs failed
	exitUsage       = 2   // bad command line or invalid configuration
	exitLocked      = 3   // a job was skipped: another run of it holds its lock
	exitAfterCommit = 4   // a run committed its reports, but a step after its commit failed
	exitInterrupted = 130 // cancelled by SIGINT or SIGTERM
)

// exitError carries an exit status with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

const usage = `joinery runs declarative MySQL join reports into Excel and CSV files.

Usage:
  joinery run JOB... | --all [RUN FLAGS]   run jobs now and write their reports
  joinery list [--next N] [--from TIME]    jobs, schedules, outputs; next runs and their windows
  joinery deliver JOB [--run ID] [--to NAME]
                                           send a committed run to its destinations again,
                                           without running its queries
  joinery history [JOB] [--json] [--last N]
                                           the runs of a job (of all jobs), failed ones too,
                                           with the state of their delivery
  joinery validate [--connect]             check the configuration (--connect: the database
                                           and every destination, sending nothing)
  joinery doctor [--connect]               the configuration's summary (--connect: the database
                                           engine detected and what the lock, statement
                                           timeout, cancellation and streaming use on it)
  joinery sql JOB... | --all [RUN FLAGS]   print each dataset's SQL and bound values
  joinery explain JOB... | --all [RUN FLAGS]
                                           run EXPLAIN for each dataset (MySQL/MariaDB)
  joinery schedule [--grace 20s] [--listen ADDR]
                                           run every job on its schedule until stopped;
                                           --listen serves a status page and /metrics
  joinery version                          print the version

Run flags:
  --at TIME          logical time of the run (default now); the job's window
                     is computed from it
  --from T --to T    backfill: one run per window of the job in [from, to),
                     each writing its own files
  --once             with --from/--to: one run with exactly that window
  --allow-partial    (run) a window that is not over yet: its report is
                     marked partial and moves no latest name
  --no-deliver       (run) write the reports only: no delivery, no notification
  --param NAME=VALUE a job parameter (repeatable; with several jobs, for those
                     that declare it)

Every command takes:
  --config FILE      configuration (default $JOINERY_CONFIG, else ./config.yaml)
  --log-level LEVEL  debug, info, warn or error (default $JOINERY_LOG_LEVEL, else info)
  --log-format FMT   text, json or auto: text on a terminal, JSON otherwise (default auto)

Run "joinery COMMAND --help" for a command's own flags.
Exit status: 0 ok, 1 a job failed, 2 usage or configuration error,
3 a job was skipped because another run of it was in progress, 4 a run
committed its reports but a step after its commit failed (a delivery),
130 interrupted. deliver: 0 every destination has the run, 1 one failed.
`

// run is the whole CLI; main only maps its result to an exit status. ctx
// ends at the first stop signal; sig says what further signals ask for
// (nil: nothing).
func run(ctx context.Context, sig *signals, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, sig, args, stdout, stderr)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ee *exitError
	code := exitFailed
	if errors.As(err, &ee) {
		code = ee.code
	}
	var ce *config.Error
	if errors.As(err, &ce) || errors.Is(err, schedule.ErrNotSchedulable) {
		code = exitUsage
	}
	// A command stopped by the signal (run says so itself, per run).
	if code == exitFailed && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		code = exitInterrupted
	}
	fmt.Fprintf(stderr, "joinery: %v\n", err)
	return code
}

func dispatch(ctx context.Context, sig *signals, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErr("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "-version", "--version", "version":
		return cmdVersion(rest, stdout)
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "list":
		return cmdList(ctx, rest, stdout, stderr)
	case "deliver":
		return cmdDeliver(ctx, rest, stdout, stderr)
	case "history":
		return cmdHistory(ctx, rest, stdout, stderr)
	case "validate":
		return cmdValidate(ctx, rest, stdout, stderr)
	case "doctor":
		return cmdDoctor(ctx, rest, stdout, stderr)
	case "sql":
		return cmdSQL(ctx, rest, stdout, stderr)
	case "explain":
		return cmdExplain(ctx, rest, stdout, stderr)
	case "schedule":
		return cmdSchedule(ctx, sig, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usageErr("unknown command %q", cmd)
}
