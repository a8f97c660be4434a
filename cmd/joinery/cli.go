package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/joinery/joinery/internal/localtime"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/queries"
)

// Exit statuses, documented in README.md.
const (
	exitOK          = 0
	exitFailed      = 1   // one or more jobs failed
	exitUsage       = 2   // bad command line or invalid configuration
	exitLocked      = 3   // a job was skipped: another run of it holds its lock
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
  joinery validate [--connect]             check the configuration
  joinery sql JOB... | --all [RUN FLAGS]   print each dataset's SQL and bound values
  joinery explain JOB... | --all [RUN FLAGS]
                                           run EXPLAIN for each dataset (MySQL/MariaDB)
  joinery schedule [--grace 20s]           run every job on its schedule until stopped
  joinery version                          print the version

Run flags:
  --at TIME          logical time of the run (default now); the job's window
                     is computed from it
  --from T --to T    backfill: one run per window of the job in [from, to),
                     each writing its own files
  --once             with --from/--to: one run with exactly that window
  --allow-partial    (run) a window that is not over yet: its report is
                     marked partial and moves no latest name
  --param NAME=VALUE a job parameter (repeatable; with several jobs, for those
                     that declare it)

Every command takes:
  --config FILE      configuration (default $JOINERY_CONFIG, else ./config.yaml)
  --log-level LEVEL  debug, info, warn or error (default $JOINERY_LOG_LEVEL, else info)
  --log-format FMT   text, json or auto: text on a terminal, JSON otherwise (default auto)

Run "joinery COMMAND --help" for a command's own flags.
Exit status: 0 ok, 1 a job failed, 2 usage or configuration error,
3 a job was skipped because another run of it was in progress, 130 interrupted.
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
	var ce *jobs.ConfigError
	if errors.As(err, &ce) || errors.Is(err, jobs.ErrNotSchedulable) {
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
		if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "-help" || rest[0] == "--help") {
			fmt.Fprintln(stdout, "Usage: joinery version\n\nPrints joinery's version.")
			return nil
		}
		fmt.Fprintf(stdout, "joinery %s\n", version)
		return nil
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "list":
		return cmdList(ctx, rest, stdout, stderr)
	case "validate":
		return cmdValidate(ctx, rest, stdout, stderr)
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

// common holds the flags every command takes.
type common struct {
	config    string
	logLevel  string
	logFormat string
	stderr    io.Writer
	name      string // the command
	help      func() // prints the command's usage and flags
}

func newFlags(name, synopsis string, stdout, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print a bad flag's error and then the whole
	// usage; parse returns the error (printed once, by run) and prints the
	// usage for --help only.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	c := &common{stderr: stderr, name: name}
	fs.StringVar(&c.config, "config", "", "configuration file (default $JOINERY_CONFIG, else ./config.yaml)")
	fs.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error (default $JOINERY_LOG_LEVEL, else info)")
	fs.StringVar(&c.logFormat, "log-format", "auto", "text, json, or auto (text on a terminal)")
	// Asked-for help is output, as for the top-level --help: it goes to
	// stdout, so that it can be paged or grepped.
	c.help = func() {
		fmt.Fprintf(stdout, "Usage: joinery %s\n\nFlags:\n", synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs, c
}

// parse parses flags and positional arguments in any order.
func (c *common) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.help()
				return nil, err
			}
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("%w (joinery %s --help lists the flags)", err, c.name)}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *common) load() (*jobs.Config, error) {
	path := c.config
	if path == "" {
		path = os.Getenv("JOINERY_CONFIG")
	}
	if path == "" {
		path = "config.yaml"
	}
	cfg, err := jobs.Load(path)
	var ce *jobs.ConfigError
	if err != nil && !errors.As(err, &ce) {
		// Unreadable or missing: as much a configuration error as a bad one.
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("%w (give --config FILE or set $JOINERY_CONFIG)", err)}
	}
	return cfg, err
}

// logger builds the slog logger; quietOnTerminal raises the default level
// to warn where a person watches a progress line and summary instead.
func (c *common) logger(quietOnTerminal bool) (*slog.Logger, error) {
	levelName, source := c.logLevel, "--log-level"
	if levelName == "" {
		levelName, source = os.Getenv("JOINERY_LOG_LEVEL"), "$JOINERY_LOG_LEVEL"
	}
	tty := isTerminal(c.stderr)
	var level slog.Level
	switch {
	case levelName != "":
		if err := level.UnmarshalText([]byte(levelName)); err != nil {
			return nil, usageErr("%s %q: want debug, info, warn or error", source, levelName)
		}
	case quietOnTerminal && tty:
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationSeconds}
	switch c.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(c.stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(c.stderr, opts)), nil
	case "auto", "":
		if tty {
			return slog.New(slog.NewTextHandler(c.stderr, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(c.stderr, opts)), nil
	}
	return nil, usageErr("--log-format %q: want text, json or auto", c.logFormat)
}

// durationSeconds writes every duration in a log record as a number of
// seconds (to the millisecond), under its key with "_seconds" added:
// "duration": 1500ms becomes "duration_seconds": 1.5, in JSON and text
// alike, as the manifests write them. slog would write a time.Duration
// as nanoseconds in JSON, and as "1.5s" in text.
func durationSeconds(groups []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	return slog.Float64(a.Key+"_seconds", math.Round(a.Value.Duration().Seconds()*1000)/1000)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

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
	db, closeDB, err := openDB(ctx, cfg, log, waitForDB)
	return log, db, closeDB, err
}

// openDB connects to the configured database, starting the embedded demo
// database when the configuration asks for it; see connect for waitForDB.
func openDB(ctx context.Context, cfg *jobs.Config, log *slog.Logger, waitForDB bool) (*sql.DB, func(), error) {
	var (
		dsn  string
		stop = func() error { return nil }
		err  error
	)
	if cfg.Database.Embedded() {
		dsn, stop, err = startEmbedded(ctx, log)
		if err != nil {
			return nil, nil, fmt.Errorf("embedded database: %w", err)
		}
		log.Info("using the embedded demo database", "dsn", jobs.Redact(dsn))
	} else if dsn, err = cfg.Database.ResolveDSN(); err != nil {
		return nil, nil, fmt.Errorf("%s: database.dsn: %w", cfg.File, err)
	}
	db, err := jobs.OpenDB(cfg.Database, dsn, log)
	if err != nil {
		_ = stop()
		return nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.Database.ConnectTimeout+5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		err = fmt.Errorf("connect to %s: %w", jobs.Redact(dsn), err)
		if !waitForDB || !jobs.Retryable(err) || ctx.Err() != nil {
			db.Close()
			_ = stop()
			return nil, nil, err
		}
		// A warning: what fails because of it is each run, which says so.
		log.Warn("the database is not reachable yet; runs will try again when they start", "error", err)
	}
	return db, func() {
		db.Close()
		if err := stop(); err != nil {
			log.Warn("stop embedded database", "error", err)
		}
	}, nil
}

// selectJobs resolves job names, or every job with all.
func selectJobs(cfg *jobs.Config, names []string, all bool) ([]*jobs.Job, error) {
	if all {
		if len(names) > 0 {
			return nil, usageErr("give job names or --all, not both")
		}
		out := make([]*jobs.Job, len(cfg.Jobs))
		for i := range cfg.Jobs {
			out[i] = &cfg.Jobs[i]
		}
		return out, nil
	}
	if len(names) == 0 {
		return nil, usageErr("name at least one job, or use --all (jobs: %s)", jobNames(cfg))
	}
	var out []*jobs.Job
	for _, n := range names {
		j, err := cfg.Job(n)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("%w (jobs: %s)", err, jobNames(cfg))}
		}
		if slices.Contains(out, j) {
			// A second run would only replace the first one's reports.
			return nil, usageErr("job %s is named twice", n)
		}
		out = append(out, j)
	}
	return out, nil
}

func jobNames(cfg *jobs.Config) string {
	names := make([]string, len(cfg.Jobs))
	for i, j := range cfg.Jobs {
		names[i] = j.Name
	}
	return strings.Join(names, ", ")
}

// runFlags are the flags that say which runs of a job to make.
type runFlags struct {
	at, from, to string
	once         bool
	params       paramFlag
	allowPartial bool // run only
}

func addRunFlags(fs *flag.FlagSet) *runFlags {
	rf := &runFlags{params: paramFlag{}}
	fs.StringVar(&rf.at, "at", "", "logical time of the run, in each job's zone (default now)")
	fs.StringVar(&rf.from, "from", "", "start of a backfill range or explicit window, in each job's zone")
	fs.StringVar(&rf.to, "to", "", "end (excluded) of a backfill range or explicit window")
	fs.BoolVar(&rf.once, "once", false, "with --from/--to: one run whose window is exactly [from, to)")
	fs.Var(rf.params, "param", "job parameter as NAME=VALUE (repeatable; lists as a,b,c)")
	return rf
}

// paramFlag collects --param NAME=VALUE.
type paramFlag map[string]string

func (p paramFlag) String() string { return "" }

func (p paramFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return errors.New("want NAME=VALUE") // the flag package shows the value
	}
	if _, dup := p[name]; dup {
		return fmt.Errorf("parameter %s given twice", name)
	}
	p[name] = value
	return nil
}

// plans returns the runs to make of job: one at --at (or now), or those of
// --from/--to.
func (rf *runFlags) plans(j *jobs.Job, now time.Time, params paramFlag) ([]jobs.Plan, error) {
	wrap := func(err error) error { return usageErr("job %s: %v", j.Name, err) }
	switch {
	case (rf.from == "") != (rf.to == ""):
		return nil, usageErr("give --from and --to together")
	case rf.from != "" && rf.at != "":
		return nil, usageErr("give --at or --from/--to, not both")
	case rf.once && rf.from == "":
		return nil, usageErr("--once goes with --from and --to")
	case rf.from != "":
		from, err := queries.ParseTime(rf.from, j.Location)
		if err != nil {
			return nil, usageErr("--from %v", err)
		}
		to, err := queries.ParseTime(rf.to, j.Location)
		if err != nil {
			return nil, usageErr("--to %v", err)
		}
		plans, err := j.PlanRange(from, to, params, rf.once)
		if err != nil {
			return nil, wrap(err)
		}
		return plans, nil
	}
	t := now.In(j.Location)
	if rf.at != "" {
		var err error
		if t, err = queries.ParseTime(rf.at, j.Location); err != nil {
			return nil, usageErr("--at %v", err)
		}
	}
	p, err := j.PlanAt(t, params)
	if err != nil {
		return nil, wrap(err)
	}
	return []jobs.Plan{p}, nil
}

// allPlans plans the runs of every selected job before any starts, so that a
// bad flag fails before a report is written.
//
// With several jobs, each gets the --param values it declares, so that
// `run --all --param region=EU` sets region where there is one; a
// parameter that none of them declares is still an error.
func (rf *runFlags) allPlans(selected []*jobs.Job) ([][]jobs.Plan, error) {
	// A run made now has the logical time of this second: its manifest is
	// named by it, and nanoseconds would only clutter it.
	now := time.Now().Truncate(time.Second)
	out := make([][]jobs.Plan, len(selected))
	all := rf.params
	used := map[string]bool{}
	for i, j := range selected {
		params := all
		if len(selected) > 1 {
			params = paramFlag{}
			for _, prm := range j.Params {
				if v, ok := all[prm.Name]; ok {
					params[prm.Name], used[prm.Name] = v, true
				}
			}
		}
		var err error
		if out[i], err = rf.plans(j, now, params); err != nil {
			return nil, err
		}
	}
	if len(selected) > 1 {
		for _, name := range slices.Sorted(maps.Keys(all)) {
			if !used[name] {
				return nil, usageErr("--param %s: none of the selected jobs declares it", name)
			}
		}
	}
	return out, nil
}

// checkPartial refuses runs whose window (or logical time, for a job
// without a window) is not over at now, unless --allow-partial was given:
// such a report holds part of its data only, and by hand that is more
// often a typo than a wish.
func (rf *runFlags) checkPartial(selected []*jobs.Job, plans [][]jobs.Plan, now time.Time) error {
	if rf.allowPartial {
		return nil
	}
	for i, j := range selected {
		for _, p := range plans[i] {
			if !p.NotOver(now) {
				continue
			}
			what := "logical time " + p.Logical.Format(time.RFC3339) + " is in the future"
			if p.Window != nil {
				what = fmt.Sprintf("window [%s, %s) is not over", p.Window.Start.Format(time.RFC3339), p.Window.End.Format(time.RFC3339))
			}
			return usageErr("job %s: %s (now is %s): its report would hold part of its data only; give --allow-partial to write it anyway (marked partial: it moves no latest name and does not count as the job's last success)",
				j.Name, what, now.In(j.Location).Format(time.RFC3339))
		}
	}
	return nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var prof profiles
	var allowPartial bool
	c, rf, cfg, selected, err := jobCommand("run", "run JOB... | --all [--at TIME | --from T --to T [--once]] [--allow-partial] [--param NAME=VALUE]... [--cpuprofile FILE] [--memprofile FILE] [--trace FILE]", args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&prof.cpu, "cpuprofile", "", "write a CPU profile of the run to `FILE` (for go tool pprof)")
		fs.StringVar(&prof.mem, "memprofile", "", "write an allocation profile of the run to `FILE` when it ends")
		fs.StringVar(&prof.trace, "trace", "", "write an execution trace of the run to `FILE` (for go tool trace)")
		fs.BoolVar(&allowPartial, "allow-partial", false, "run a window that is not over yet (--at or --to in the future): the report is marked partial")
	})
	if err != nil {
		return err
	}
	plans, err := rf.allPlans(selected)
	if err != nil {
		return err
	}
	rf.allowPartial = allowPartial
	if err := rf.checkPartial(selected, plans, time.Now()); err != nil {
		return err
	}
	// Before connecting: a folder the reports cannot go to fails every run.
	if err := cfg.CheckOutputDir(); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	tuneGC()
	stopProfiles, err := prof.start()
	if err != nil {
		return err
	}
	defer func() {
		if perr := stopProfiles(); perr != nil && err == nil {
			err = perr
		}
	}()
	// A database that is not up yet fails the command at once, unless a
	// job would retry: then its runs wait for it as their retries allow.
	retries := false
	for _, j := range selected {
		retries = retries || j.Retries > 0
	}
	log, db, closeDB, err := c.connect(ctx, cfg, true, retries)
	if err != nil {
		return err
	}
	defer closeDB()

	r := &jobs.Runner{DB: db, Config: cfg, Logger: log, Version: version}
	if isTerminal(stderr) {
		r.Progress = newProgress(stderr).update
	}
	var failed, locked, cancelled []string
	runs, total := 0, 0
	for _, ps := range plans {
		total += len(ps)
	}
	for i, j := range selected {
		for _, p := range plans[i] {
			if ctx.Err() != nil {
				break
			}
			runs++
			res := r.RunWithRetries(ctx, j, p)
			printResult(stdout, res)
			switch {
			case errors.Is(res.Err, jobs.ErrAlreadyRunning):
				locked = append(locked, j.Name)
			case cancelledBy(ctx, j, res):
				cancelled = append(cancelled, runName(res))
			case res.Err != nil:
				failed = append(failed, runName(res))
			}
		}
	}
	// A signal that came after a run's commit point changes nothing about
	// that run: it happened. Only runs it stopped, or kept from starting,
	// make the exit status 130.
	if len(cancelled) > 0 || runs < total {
		msg := fmt.Sprintf("interrupted (%v)", context.Cause(ctx))
		if len(cancelled) > 0 {
			msg += fmt.Sprintf(": cancelled %s", strings.Join(cancelled, ", "))
		}
		if runs < total {
			msg += fmt.Sprintf("; %d of %d runs not started", total-runs, total)
		}
		if len(failed) > 0 {
			msg += fmt.Sprintf("; failed: %s", strings.Join(failed, ", "))
		}
		return &exitError{code: exitInterrupted, err: errors.New(msg)}
	}
	switch {
	case len(failed) > 0:
		what := "runs"
		if runs == len(selected) {
			what = "jobs"
		}
		return fmt.Errorf("%d of %d %s failed: %s", len(failed), runs, what, strings.Join(failed, ", "))
	case len(locked) > 0:
		return &exitError{code: exitLocked, err: fmt.Errorf("skipped, another run in progress: %s", strings.Join(locked, ", "))}
	}
	return nil
}

// cancelledBy reports whether the signal that ended ctx stopped the run
// res of job j, or kept it from being tried again: not a run that failed
// on its own just before the signal came.
func cancelledBy(ctx context.Context, j *jobs.Job, res *jobs.Result) bool {
	if res.Err == nil || ctx.Err() == nil {
		return false
	}
	if errors.Is(res.Err, context.Cause(ctx)) || errors.Is(res.Err, context.Canceled) {
		return true
	}
	return res.Attempts <= j.Retries && jobs.Retryable(res.Err)
}

// runName names a run in messages: the job, and its window when it has one.
func runName(res *jobs.Result) string {
	if res.Window == nil {
		return res.Job
	}
	return fmt.Sprintf("%s [%s, %s)", res.Job, res.Window.Start.Format(time.RFC3339), res.Window.End.Format(time.RFC3339))
}

func printResult(w io.Writer, res *jobs.Result) {
	status := "ok"
	switch {
	case errors.Is(res.Err, jobs.ErrAlreadyRunning):
		status = "SKIPPED"
	case res.Err != nil:
		status = "FAILED"
	}
	fmt.Fprintf(w, "%s: %s in %s (logical time %s", res.Job, status, res.Duration.Round(time.Millisecond), res.Logical.Format(time.RFC3339))
	if res.Attempts > 1 {
		fmt.Fprintf(w, ", attempt %d", res.Attempts)
	}
	fmt.Fprintln(w, ")")
	if res.Window != nil {
		fmt.Fprintf(w, "  window [%s, %s)\n", res.Window.Start.Format(time.RFC3339), res.Window.End.Format(time.RFC3339))
	}
	nameW, rowsW := 0, 0
	for _, d := range res.Datasets {
		nameW = max(nameW, len(d.Name))
		rowsW = max(rowsW, len(groupDigits(d.Rows)))
	}
	for _, d := range res.Datasets {
		fmt.Fprintf(w, "  %-*s  %*s rows  %s\n", nameW, d.Name, rowsW, groupDigits(d.Rows), d.Duration.Round(time.Millisecond))
		for _, j := range d.Joins {
			fmt.Fprintf(w, "    join %s\n", j)
		}
		for _, warn := range d.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", warn)
		}
	}
	for _, f := range res.Files {
		fmt.Fprintf(w, "  wrote %s\n", f)
	}
	if res.Manifest != "" {
		fmt.Fprintf(w, "  manifest %s\n", res.Manifest)
	}
	if res.Partial && res.Err == nil {
		fmt.Fprintln(w, "  partial: the window is not over; latest names and the job's last success are left as they were")
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	if res.Err != nil {
		fmt.Fprintf(w, "  error: %v\n", res.Err)
	}
}

func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// progress draws one line on a terminal: rows so far and, once there is
// enough to go by, the rate.
type progress struct {
	w     io.Writer
	now   func() time.Time
	key   string
	start time.Time // of the dataset's first update
	rows0 int64     // rows at its first update
	last  time.Time
}

// rateAfter is how long a dataset's rows are counted before a rate is shown:
// the first update comes after a few thousand rows, and a rate taken from
// those alone would be noise (millions of rows a second for a dataset that
// takes a millisecond).
const rateAfter = 500 * time.Millisecond

func newProgress(w io.Writer) *progress { return &progress{w: w, now: time.Now} }

func (p *progress) update(job, dataset string, rows int64, done bool) {
	now := p.now()
	if key := job + "/" + dataset; key != p.key {
		p.key, p.start, p.rows0 = key, now, rows
	}
	if done {
		fmt.Fprint(p.w, "\r\033[K")
		return
	}
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r\033[K%s: %s rows", p.key, groupDigits(rows))
	if d := now.Sub(p.start); d >= rateAfter {
		fmt.Fprintf(p.w, ", %s rows/s", groupDigits(int64(float64(rows-p.rows0)/d.Seconds())))
	}
}

func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("list", "list [--next N] [--from TIME]", stdout, stderr)
	n := fs.Int("next", 3, "how many runs of each job to show, with their windows")
	from := fs.String("from", "", "show the runs at or after this time, read like --at in each job's zone (default now)")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	if *n < 0 || *n > 1000 {
		return usageErr("--next %d: want 0 to 1000", *n)
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSCHEDULE\tTIMEZONE\tWINDOW\tOUTPUTS")
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		var outs []string
		for _, o := range j.Outputs {
			outs = append(outs, o.Format+":"+o.Path)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Name, j.Schedule, j.Location, cmp.Or(j.Window.String(), "-"), strings.Join(outs, " "))
	}
	if err := tw.Flush(); err != nil || *n == 0 {
		return err
	}
	// The runs in a table of their own, one a row: a window's bounds are
	// as long as a run's time, and a row per run keeps each job's
	// consecutive windows under each other, where their meeting shows.
	now := time.Now()
	fmt.Fprintln(stdout)
	fmt.Fprintln(tw, "JOB\tRUN AT\tWINDOW FROM\tWINDOW TO")
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		ref := now
		if *from != "" {
			if ref, err = queries.ParseTime(*from, j.Location); err != nil {
				return usageErr("--from %v", err)
			}
			ref = ref.Add(-time.Nanosecond) // a run at exactly --from is shown
		}
		for _, t := range j.Next(ref, *n) {
			start, end := "-", "-"
			if j.Window.IsSet() {
				w := j.Window.Bounds(t, j.Location)
				start, end = listTime(w.Start), listTime(w.End)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.Name, listTime(t), start, end)
		}
	}
	return tw.Flush()
}

// listTime formats a time for list: its wall clock and zone abbreviation
// (the offset where the zone has no letters for it), and the offset after
// a wall clock that is the second copy of one (clocks went back), so that
// each time reads as one instant.
func listTime(t time.Time) string {
	name, _ := t.Zone()
	switch {
	case strings.ContainsAny(name, "+-0123456789"):
		return t.Format("2006-01-02 15:04 -07:00")
	case localtime.Repeated(t):
		return t.Format("2006-01-02 15:04 MST -07:00")
	}
	return t.Format("2006-01-02 15:04 MST")
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("validate", "validate [--connect]", stdout, stderr)
	connect := fs.Bool("connect", false, "also connect and check that every table and column exists")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	datasets := 0
	for _, j := range cfg.Jobs {
		datasets += len(j.Datasets)
	}
	if *connect {
		_, db, closeDB, err := c.connect(ctx, cfg, true, false)
		if err != nil {
			return err
		}
		defer closeDB()
		var problems []string
		for i := range cfg.Jobs {
			j := &cfg.Jobs[i]
			for _, c := range j.Check(ctx, db, cfg.Database.Location) {
				if c.Err != nil {
					problems = append(problems, fmt.Sprintf("job %s: dataset %s: %v", j.Name, c.Dataset, c.Err))
				}
				for _, w := range c.Warnings {
					fmt.Fprintf(stdout, "warning: job %s: dataset %s: %s\n", j.Name, c.Dataset, w)
				}
			}
		}
		if len(problems) > 0 {
			what := fmt.Sprintf("%d datasets do not", len(problems))
			if len(problems) == 1 {
				what = "1 dataset does not"
			}
			return &exitError{code: exitFailed, err: fmt.Errorf("%s match the database:\n  %s", what, strings.Join(problems, "\n  "))}
		}
	}
	fmt.Fprintf(stdout, "%s: ok (%d jobs, %d datasets", cfg.File, len(cfg.Jobs), datasets)
	if *connect {
		fmt.Fprint(stdout, "; every table and column exists")
	}
	fmt.Fprintln(stdout, ")")
	return nil
}

// eachQuery calls fn with each dataset's query (see jobs.Job.Queries) of
// every planned run of the selected jobs.
func eachQuery(cfg *jobs.Config, selected []*jobs.Job, rf *runFlags, fn func(j *jobs.Job, p jobs.Plan, q jobs.Query) error) error {
	plans, err := rf.allPlans(selected)
	if err != nil {
		return err
	}
	for i, j := range selected {
		for _, p := range plans[i] {
			for q, err := range j.Queries(p, cfg.Database.Location) {
				if err == nil {
					err = fn(j, p, q)
				}
				if err != nil {
					return fmt.Errorf("job %s: dataset %s: %w", j.Name, q.Dataset.Name, err)
				}
			}
		}
	}
	return nil
}

// describeRun is the comment line that heads a dataset's SQL or plan.
func describeRun(j *jobs.Job, p jobs.Plan, ds *queries.Dataset) string {
	s := fmt.Sprintf("-- job %s, dataset %s, logical time %s", j.Name, ds.Name, p.Logical.Format(time.RFC3339))
	if p.Window != nil {
		s += fmt.Sprintf(", window [%s, %s)", p.Window.Start.Format(time.RFC3339), p.Window.End.Format(time.RFC3339))
	}
	return s
}

// jobCommand parses the flags of a command that takes job names (or --all)
// and run flags, loads the configuration and selects the jobs.
func jobCommand(name, synopsis string, args []string, stdout, stderr io.Writer, extra ...func(*flag.FlagSet)) (*common, *runFlags, *jobs.Config, []*jobs.Job, error) {
	fs, c := newFlags(name, synopsis, stdout, stderr)
	all := fs.Bool("all", false, "every job")
	rf := addRunFlags(fs)
	for _, add := range extra {
		add(fs)
	}
	names, err := c.parse(fs, args)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cfg, err := c.load()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	selected, err := selectJobs(cfg, names, *all)
	return c, rf, cfg, selected, err
}

func cmdSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, rf, cfg, selected, err := jobCommand("sql", "sql JOB... | --all [--at TIME | --from T --to T [--once]] [--param NAME=VALUE]...", args, stdout, stderr)
	if err != nil {
		return err
	}
	return eachQuery(cfg, selected, rf, func(j *jobs.Job, p jobs.Plan, q jobs.Query) error {
		fmt.Fprintf(stdout, "%s\n%s;\n", describeRun(j, p, q.Dataset), q.SQL)
		for n, a := range q.Args {
			from := "literal"
			if q.ArgNames[n] != "" {
				from = q.ArgNames[n]
			}
			fmt.Fprintf(stdout, "--   $%d = %s  -- %s\n", n+1, formatArg(a), from)
		}
		if len(q.Joins) > 0 {
			fmt.Fprintf(stdout, "--   the last %d columns are join diagnostics (%d per outer join: matched, left_unmatched, right_unmatched)\n", 3*len(q.Joins), 3)
		}
		if loc := cfg.Database.Location; loc != time.UTC && windowField(j, q.Dataset) {
			fmt.Fprintf(stdout, "--   window bounds as for DATETIME columns, wall clocks in %s; a run binds those of a window on TIMESTAMP columns in UTC (the server says which: validate --connect)\n", loc)
		}
		fmt.Fprintln(stdout)
		return nil
	})
}

// windowField reports whether ds, or a dataset before it that it may use
// as a derived table, filters on the run's window with window:.
func windowField(j *jobs.Job, ds *queries.Dataset) bool {
	for i := range j.Datasets {
		if j.Datasets[i].Window != "" {
			return true
		}
		if &j.Datasets[i] == ds {
			break
		}
	}
	return false
}

func cmdExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, rf, cfg, selected, err := jobCommand("explain", "explain JOB... | --all [--at TIME | --from T --to T --once] [--param NAME=VALUE]...", args, stdout, stderr)
	if err != nil {
		return err
	}
	if rf.from != "" && !rf.once {
		return usageErr("explain makes one plan per dataset: give --at, or --from/--to with --once")
	}
	if cfg.Database.Embedded() {
		// go-mysql-server answers EXPLAIN in a shape of its own, with none
		// of MySQL's plan columns.
		return usageErr("explain needs MySQL or MariaDB: the embedded demo database has no query plans to show (joinery sql prints the SQL)")
	}
	_, db, closeDB, err := c.connect(ctx, cfg, true, false)
	if err != nil {
		return err
	}
	defer closeDB()
	return eachQuery(cfg, selected, rf, func(j *jobs.Job, p jobs.Plan, q jobs.Query) error {
		fmt.Fprintln(stdout, describeRun(j, p, q.Dataset))
		if err := jobs.Explain(ctx, db, q.Query, stdout); err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		fmt.Fprintln(stdout)
		return nil
	})
}

func formatArg(a any) string {
	switch v := a.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case nil:
		return "NULL"
	}
	return fmt.Sprintf("%v (%T)", a, a)
}

// defaultGrace is schedule's --grace: with the few seconds a cancelled
// run takes to stop its query on the server and remove its files, it ends
// within the 30 s that Kubernetes gives a pod by default
// (terminationGracePeriodSeconds) before its SIGKILL.
const defaultGrace = 20 * time.Second

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
	if err := jobs.Schedulable(cfg); err != nil {
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
	s := &jobs.Scheduler{
		Runner: &jobs.Runner{DB: db, Config: cfg, Logger: log, Version: version},
		Logger: log,
		Grace:  *grace,
		Abort:  sig.aborts(),
		Reload: reloads,
		Load:   c.load,
	}
	return s.Run(ctx)
}
