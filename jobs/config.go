package jobs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/internal/mysqlconn"
	"github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
	"github.com/joinery/joinery/queries"
)

// Config is a parsed and validated config.yaml.
type Config struct {
	Database  Database `yaml:"database"`
	Timezone  string   `yaml:"timezone"`   // IANA zone for schedules, report values and file names; default UTC
	OutputDir string   `yaml:"output_dir"` // ${VAR} expanded as in the DSN; relative to the config file's folder; default "reports"
	Jobs      []Job    `yaml:"jobs"`
	// HistoryLimit is the default of each job's history_limit; default
	// DefaultHistoryLimit.
	HistoryLimit int `yaml:"history_limit"`
	// Jitter is the default of each job's jitter; default 0, none.
	Jitter time.Duration `yaml:"jitter"`

	File     string         `yaml:"-"` // the file it was read from
	Location *time.Location `yaml:"-"` // Timezone, loaded

	outputDirFrom string // where OutputDir came from, for messages
}

// Database says where the data lives and how to reach it.
type Database struct {
	// DSN is a go-sql-driver/mysql data source name, with ${VAR} replaced
	// from the environment; empty or "embedded" means the embedded demo
	// database. It may hold a password (secret): it is never quoted in a
	// problem, a variable it names that is not set is a problem when the
	// file is read, and it is never logged or printed but through mysqlconn.Redact.
	DSN              string        `yaml:"dsn,secret"`
	MaxOpenConns     int           `yaml:"max_open_conns"`    // default 4
	ConnMaxLifetime  time.Duration `yaml:"conn_max_lifetime"` // default 5m
	ConnectTimeout   time.Duration `yaml:"connect_timeout"`   // default 10s
	ReadTimeout      time.Duration `yaml:"read_timeout"`      // default 1h: must exceed the slowest time to first row
	WriteTimeout     time.Duration `yaml:"write_timeout"`     // default 30s
	StatementTimeout time.Duration `yaml:"statement_timeout"` // server-side limit per query; default none
	// Timezone is the zone DATETIME values are stored in (TIMESTAMP values
	// carry their own); default UTC.
	Timezone string `yaml:"timezone"`
	// Lock is what keeps two runs of a job apart: "named" (GET_LOCK, per
	// server), "lease" (a row of LockTable, shared by a cluster's
	// servers), "none", or "auto" (the default): the engine's choice
	// (mysqlconn.Profile), named on one MySQL or MariaDB server, the
	// lease on clusters and unknown engines.
	Lock string `yaml:"lock"`
	// LockTable is the lease table, "name" or "schema.name"; default
	// joinery_locks.
	LockTable string `yaml:"lock_table"`
	// LeaseTTL is how long a lease lasts without a heartbeat (one every
	// third of it); default 1m, at least 5s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`

	Location *time.Location `yaml:"-"`
}

// Lock settings (Database.Lock).
const (
	LockAuto  = "auto"
	LockNamed = mysqlconn.LockNamed
	LockLease = mysqlconn.LockLease
	LockNone  = mysqlconn.LockNone
)

// DefaultLockTable is the lease table when database.lock_table is not set.
const DefaultLockTable = "joinery_locks"

// minLeaseTTL is the shortest database.lease_ttl: a heartbeat every
// third of it must have time to reach a busy server.
const minLeaseTTL = 5 * time.Second

// LockFor returns the lock a run on engine e uses: the configured one, or
// for auto the engine profile's (the embedded demo database's is named).
func (d Database) LockFor(e mysqlconn.Engine) string {
	if d.Lock != LockAuto && d.Lock != "" {
		return d.Lock
	}
	return e.Profile().Lock
}

// Embedded reports whether the DSN, once expanded, asks for the embedded
// demo database.
func (d Database) Embedded() bool {
	dsn, err := config.ExpandEnv(d.DSN)
	return err == nil && (dsn == "" || dsn == "embedded")
}

// Job is one report: when it runs, what it queries and what it writes.
type Job struct {
	Name     string        `yaml:"name"`
	Schedule string        `yaml:"schedule"` // 5-field cron or @daily, @every 1h...
	Timezone string        `yaml:"timezone"` // default: the config's timezone
	Timeout  time.Duration `yaml:"timeout"`  // whole run; default none
	// Retries is how many times a run that failed for a passing reason (see
	// Retryable) is tried again, RetryDelay after the failure and then
	// twice as long each time, at most RetryMaxDelay, each wait jittered
	// down by up to half (see backoff).
	Retries       int           `yaml:"retries"`
	RetryDelay    time.Duration `yaml:"retry_delay"`     // default 1m
	RetryMaxDelay time.Duration `yaml:"retry_max_delay"` // default 15m, or retry_delay when longer
	// CatchUp makes the scheduler, when it starts, run a scheduled time it
	// missed (the process was down) if that time is at most this old and
	// has not run successfully; default 0, off.
	CatchUp time.Duration `yaml:"catch_up"`
	// Jitter delays the start of each scheduled run by the same amount,
	// less than this, taken from the job's name (see Delay); the run's
	// logical time stays its scheduled time. Default the configuration's
	// jitter; 0 is none.
	Jitter   *time.Duration    `yaml:"jitter"`
	Window   WindowSpec        `yaml:"window"` // the window each run covers; default none
	Params   []queries.Param   `yaml:"params"` // named run parameters
	Datasets []queries.Dataset `yaml:"datasets"`
	Outputs  []output.Spec     `yaml:"outputs"`
	// Deliver are the destinations of the job's reports and the
	// notifications about its runs (docs/DELIVERY.md); default none.
	Deliver []delivery.Spec `yaml:"deliver"`
	// OnEmpty is what a dataset without rows does: "write" a header-only
	// report (the default), "skip" it (no file or sheet; a workbook with
	// no data sheet is not written) or "fail" the run.
	OnEmpty string `yaml:"on_empty"`
	// Retention deletes the files of older runs; see output.Retain.
	Retention output.Retention `yaml:"retention"`
	// Snapshot (default true) reads every dataset of a run from one
	// consistent snapshot of the database: a read-only REPEATABLE READ
	// transaction started WITH CONSISTENT SNAPSHOT on the run's connection
	// (see session.begin). false reads each dataset as of its own query,
	// for runs so long that holding one read view would cost the server
	// too much (see docs/QUERIES.md#one-snapshot-per-run).
	Snapshot *bool `yaml:"snapshot"`
	// HistoryLimit is how many runs the job's run history keeps (package
	// jobs/history); default the configuration's history_limit.
	HistoryLimit int `yaml:"history_limit"`
	// Freshness is the job's freshness guard (freshness.go); default
	// none.
	Freshness *Freshness `yaml:"freshness"`

	Location *time.Location `yaml:"-"`
	sched    cron.Schedule
	jitter   time.Duration // Jitter, or the configuration's: the one in effect
}

// Next returns the job's next scheduled times after t, in its zone.
func (j *Job) Next(t time.Time, n int) []time.Time {
	out := make([]time.Time, 0, max(n, 0))
	for range n {
		t = j.sched.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t.In(j.Location))
	}
	return out
}

// NextRun returns the job's first scheduled time after t; the zero time
// when it has none.
func (j *Job) NextRun(t time.Time) time.Time { return j.sched.Next(t) }

// Every reports whether the job's schedule is @every: a fixed interval
// counted from each daemon's start, with no times of its own before it.
func (j *Job) Every() bool {
	_, ok := j.sched.(cron.ConstantDelaySchedule)
	return ok
}

// readsSnapshot reports whether a run of the job reads all its datasets
// from one consistent snapshot (the job's snapshot setting, default true).
func (j *Job) readsSnapshot() bool { return j.Snapshot == nil || *j.Snapshot }

// Job returns the job with the given name, or errJobNotFound.
func (c *Config) Job(name string) (*Job, error) {
	for i := range c.Jobs {
		if c.Jobs[i].Name == name {
			return &c.Jobs[i], nil
		}
	}
	return nil, fmt.Errorf("%w %q in %s", errJobNotFound, name, c.File)
}

// OutputPath is the folder reports are written under: output_dir, with
// a relative one taken from the configuration file's folder.
func (c *Config) OutputPath() string {
	if filepath.IsAbs(c.OutputDir) {
		return c.OutputDir
	}
	return filepath.Join(filepath.Dir(c.File), c.OutputDir)
}

// maxConfigBytes is the largest configuration file read. The 1,000 jobs
// of bench/many (2 or 3 datasets with joins each, outputs, webhooks) are
// 1.5 MB, so it holds well over a thousand jobs; the worst file of this
// size (numbers where jobs go, each one wrong five times) is still
// rejected in seconds (see BENCHMARKS.md, Numbers moved from code
// comments, jobs/config.go, and 1,000 jobs).
const maxConfigBytes = 2 << 20

// Load reads and validates a configuration file. Every problem found is
// reported at once in a *config.Error.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	// One byte past the limit tells a file that is too large apart from
	// one that just fits, without reading all of a huge one (or of
	// /dev/zero).
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, data)
}

// parse validates the configuration in data, read from the file named file.
// Data larger than maxConfigBytes is one problem, and not parsed.
func parse(file string, data []byte) (*Config, error) {
	if len(data) > maxConfigBytes {
		return nil, &config.Error{Problems: []*config.FieldError{{File: file,
			Msg: fmt.Sprintf("the file is larger than %d MiB, the most a configuration may be", maxConfigBytes>>20)}}}
	}
	cfg := &Config{File: file}
	d := config.NewDecoder(file)
	if !d.Decode(data, cfg) {
		return nil, d.Err()
	}
	v := validator{d: d, files: make(map[string]string), formats: formats.Default(), dir: filepath.Dir(file)}
	v.config(cfg)
	if err := d.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type validator struct {
	d *config.Decoder
	// files maps each file an output writes (at one sample time) to the
	// output that writes it, across jobs.
	files map[string]string
	// formats are the report formats outputs may have.
	formats *output.Registry
	// dir is the configuration file's folder, where sql_file is read.
	dir string
}

func (v validator) failValue(path, value, format string, args ...any) {
	v.d.Add(config.Problem(path, value, fmt.Sprintf(format, args...)))
}

func (v validator) fail(path, format string, args ...any) {
	v.d.Add(config.Problem(path, nil, fmt.Sprintf(format, args...)))
}

func (v validator) location(path, name string) *time.Location {
	if name == "" {
		return nil
	}
	if strings.EqualFold(name, "local") {
		v.failValue(path, name, "name a zone such as Europe/Berlin: Local depends on the machine")
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		v.failValue(path, name, "unknown time zone (want an IANA name such as UTC or Europe/Berlin)")
		return nil
	}
	return loc
}

func (v validator) config(c *Config) {
	if c.Timezone == "" {
		c.Timezone = "UTC"
	}
	c.Location = v.location("timezone", c.Timezone)
	v.outputDir(c)
	v.database(&c.Database)
	switch {
	case c.HistoryLimit < 0:
		v.failValue("history_limit", fmt.Sprint(c.HistoryLimit), "want a number of runs, at least 1")
	case c.HistoryLimit == 0:
		c.HistoryLimit = DefaultHistoryLimit
	}

	if len(c.Jobs) == 0 {
		v.fail("jobs", "define at least one job")
	}
	names := make(map[string]int)
	for i := range c.Jobs {
		j := &c.Jobs[i]
		p := fmt.Sprintf("jobs[%d]", i)
		switch {
		case j.Name == "":
			v.fail(p+".name", "a job needs a name")
		case !namePattern.MatchString(j.Name):
			v.failValue(p+".name", j.Name, "use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit): the name is used in file names")
		default:
			if first, dup := names[j.Name]; dup {
				v.failValue(p+".name", j.Name, "duplicate job name (also jobs[%d])", first)
			}
			names[j.Name] = i
		}
		v.job(p, j, c.Location)
		v.jitter(p, j, c.Jitter)
		switch {
		case j.HistoryLimit < 0:
			v.failValue(p+".history_limit", fmt.Sprint(j.HistoryLimit), "want a number of runs, at least 1")
		case j.HistoryLimit == 0:
			j.HistoryLimit = c.HistoryLimit
		}
	}
}

// DefaultHistoryLimit is how many runs a job's history keeps when neither
// the job nor the configuration says (history_limit).
const DefaultHistoryLimit = 100

// outputDir expands the environment variables in output_dir.
func (v validator) outputDir(c *Config) {
	spec := c.OutputDir
	if spec == "" {
		c.OutputDir = "reports"
		c.outputDirFrom = outputDirFrom(spec, c.File, c.OutputDir)
		return
	}
	dir, err := config.ExpandEnv(spec)
	switch {
	case err != nil:
		v.failValue("output_dir", spec, "%v", err)
	case dir == "":
		v.failValue("output_dir", spec, "empty once the environment is read: set the variable, or give a default as in ${VAR:-reports}")
	default:
		c.OutputDir = dir
		c.outputDirFrom = outputDirFrom(spec, c.File, dir)
	}
}

func (v validator) database(d *Database) {
	if d.MaxOpenConns == 0 {
		d.MaxOpenConns = 4
	}
	if d.MaxOpenConns < 2 {
		// A run holds one connection; stopping its query on cancellation
		// takes another.
		v.failValue("database.max_open_conns", fmt.Sprint(d.MaxOpenConns), "must be at least 2: a run holds one connection, and stopping its query on cancellation needs another")
	}
	if d.ConnMaxLifetime == 0 {
		d.ConnMaxLifetime = 5 * time.Minute
	}
	if d.ConnectTimeout == 0 {
		d.ConnectTimeout = 10 * time.Second
	}
	if d.ReadTimeout == 0 {
		d.ReadTimeout = time.Hour
	}
	if d.WriteTimeout == 0 {
		d.WriteTimeout = 30 * time.Second
	}
	if d.Timezone == "" {
		d.Timezone = "UTC"
	}
	d.Location = v.location("database.timezone", d.Timezone)
	// The variables the DSN names are checked by the decoder (secret).
	v.lock(d)
}

// lockTablePattern is a table name or schema.table, each part an
// identifier joinery quotes without escaping.
var lockTablePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,63}(\.[A-Za-z_][A-Za-z0-9_$]{0,63})?$`)

// lock checks database.lock, lock_table and lease_ttl, and sets their
// defaults.
func (v validator) lock(d *Database) {
	switch d.Lock {
	case "":
		d.Lock = LockAuto
	case LockAuto, LockNamed, LockNone:
	case LockLease:
		if d.Embedded() {
			v.failValue("database.lock", d.Lock, "the embedded demo database has no lease table (its data lives in joinery's process): use auto, named or none")
		}
	default:
		v.failValue("database.lock", d.Lock, "want auto, named, lease or none")
	}
	switch {
	case d.LockTable == "":
		d.LockTable = DefaultLockTable
	case !lockTablePattern.MatchString(d.LockTable):
		v.failValue("database.lock_table", d.LockTable, "want a table name or schema.table: letters, digits, '_' and '$', each part starting with a letter or '_'")
	}
	switch {
	case d.LeaseTTL == 0:
		d.LeaseTTL = time.Minute
	case d.LeaseTTL < minLeaseTTL:
		v.failValue("database.lease_ttl", d.LeaseTTL.String(), "want at least %s: the lease is renewed every third of it", minLeaseTTL)
	}
}

func (v validator) job(p string, j *Job, defaultLoc *time.Location) {
	j.Location = defaultLoc
	if j.Timezone != "" {
		j.Location = v.location(p+".timezone", j.Timezone)
	}
	if j.Schedule == "" {
		v.fail(p+".schedule", "a job needs a schedule (5-field cron such as \"0 6 * * *\" or @daily)")
	} else {
		// With an invalid zone (already reported) the expression is still checked.
		loc := j.Location
		if loc == nil {
			loc = time.UTC
		}
		sched, err := parseSchedule(j.Schedule, loc)
		if err != nil {
			v.failValue(p+".schedule", j.Schedule, "%v", err)
		}
		j.sched = sched
	}

	if j.Retries < 0 || j.Retries > 100 {
		v.failValue(p+".retries", fmt.Sprint(j.Retries), "want 0 to 100")
	}
	if j.RetryDelay == 0 {
		j.RetryDelay = time.Minute
	}
	switch {
	case j.RetryMaxDelay == 0:
		j.RetryMaxDelay = max(defaultRetryMaxDelay, j.RetryDelay)
	case j.RetryMaxDelay < j.RetryDelay:
		v.failValue(p+".retry_max_delay", j.RetryMaxDelay.String(), "shorter than retry_delay (%s)", j.RetryDelay)
	}
	if err := j.Window.check(); err != nil {
		v.fail(p+".window", "%v", err)
	}
	v.freshness(p, j) // freshness.go
	for _, prm := range j.Params {
		v.d.Add(config.Prefix(p+".params."+prm.Name, queries.ValidateParam(prm, j.Location))...)
	}

	if len(j.Datasets) == 0 {
		v.fail(p+".datasets", "a job needs at least one dataset")
	}
	written := 0
	for i := range j.Datasets {
		ds := &j.Datasets[i]
		dp := p + ".datasets." + ds.Name
		if !namePattern.MatchString(ds.Name) {
			v.failValue(dp, ds.Name, "dataset names use letters, digits, '.', '_' and '-' (at most 64): they name sheets and files")
		}
		if !ds.Internal {
			written++
		}
		// A dataset may use the ones before it as derived tables.
		scope := queries.Scope{Params: j.Params, Datasets: j.Datasets[:i], Window: j.Window.IsSet()}
		v.sqlFile(dp, ds) // rawsql.go
		v.d.Add(config.Prefix(dp, ds.Validate(scope))...)
	}
	if len(j.Datasets) > 0 && written == 0 {
		v.fail(p+".datasets", "every dataset is internal: at least one must be written")
	}

	if len(j.Outputs) == 0 {
		v.fail(p+".outputs", "a job needs at least one output (format: %s)", v.formats.List("or"))
	}
	for i, o := range j.Outputs {
		op := fmt.Sprintf("%s.outputs[%d]", p, i)
		if errs := v.formats.Validate(o, written); len(errs) > 0 {
			v.d.Add(config.Prefix(op, errs)...)
			continue
		}
		if !j.Window.IsSet() {
			for _, f := range [][2]string{{"path", o.Path}, {"latest", o.Latest}} {
				if wf := output.WindowFields(f[1]); len(wf) > 0 {
					v.failValue(op+"."+f[0], f[1], "{%s} needs a run window: give the job a window, or use {date}", wf[0])
				}
			}
		}
		for _, f := range [][2]string{{"path", o.Path}, {"latest", o.Latest}} {
			for _, name := range output.ParamFields(f[1]) {
				if !slices.ContainsFunc(j.Params, func(p queries.Param) bool { return p.Name == name }) {
					v.failValue(op+"."+f[0], f[1], "{param.%s}: %s", name, undeclared(name, j.Params))
				}
			}
		}
		v.destinations(op, j, o)
	}
	v.outputNames(p, j)
	v.deliver(p, j)
	switch j.OnEmpty {
	case "":
		j.OnEmpty = "write"
	case "write", "skip", "fail":
	default:
		v.failValue(p+".on_empty", j.OnEmpty, "want write (a header-only report), skip or fail")
	}
	if j.Retention.Keep < 0 {
		v.failValue(p+".retention.keep", fmt.Sprint(j.Retention.Keep), "want a number of runs, at least 1")
	}
	if j.Retention.Days < 0 {
		v.failValue(p+".retention.days", fmt.Sprint(j.Retention.Days), "want a number of days, at least 1")
	}
}

// outputNames gives each output of j without a name its default (the
// format's name when no other output of j has that format, else
// "<format>-<index>") and reports names that are not unique.
func (v validator) outputNames(p string, j *Job) {
	formats := make(map[string]int)
	for _, o := range j.Outputs {
		formats[o.Format]++
	}
	seen := make(map[string]int)
	for i := range j.Outputs {
		o := &j.Outputs[i]
		op := fmt.Sprintf("%s.outputs[%d].name", p, i)
		if o.Name == "" {
			o.Name = o.Format
			if formats[o.Format] > 1 {
				o.Name = fmt.Sprintf("%s-%d", o.Format, i)
			}
		} else if !namePattern.MatchString(o.Name) {
			v.failValue(op, o.Name, "use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)")
		}
		if first, dup := seen[o.Name]; dup {
			v.failValue(op, o.Name, "duplicate output name (also outputs[%d]): give each output a name of its own", first)
			continue
		}
		seen[o.Name] = i
	}
}

// deliver checks j's deliver list (see delivery.Spec.Validate).
func (v validator) deliver(p string, j *Job) {
	names := make([]string, len(j.Outputs))
	for i, o := range j.Outputs {
		names[i] = o.Name
	}
	dups := delivery.Duplicates(j.Deliver)
	for i := range j.Deliver {
		dp := fmt.Sprintf("%s.deliver[%d]", p, i)
		v.d.Add(config.Prefix(dp, j.Deliver[i].Validate(names))...)
		if err, dup := dups[i]; dup {
			v.d.Add(config.Prefix(dp, []error{err})...)
		}
	}
}

// undeclared says that a job with params does not declare name.
func undeclared(name string, params []queries.Param) string {
	if len(params) == 0 {
		return "the job declares no parameters"
	}
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	return fmt.Sprintf("the job declares no parameter %s (declared: %s)", name, strings.Join(names, ", "))
}

// destinations reports an output that would write a file another output
// writes too: one would overwrite the other.
func (v validator) destinations(op string, j *Job, o output.Spec) {
	var names []string
	for _, ds := range j.Datasets {
		if !ds.Internal {
			names = append(names, ds.Name)
		}
	}
	files, err := v.formats.SamplePaths(o, j.Name, names)
	if err != nil {
		return // reported by Validate
	}
	if o.Latest != "" {
		latest, err := v.formats.SamplePaths(output.Spec{Format: o.Format, Path: o.Latest, Gzip: o.Gzip}, j.Name, names)
		if err != nil {
			return
		}
		files = append(files, latest...)
	}
	for _, f := range files {
		if other, dup := v.files[f]; dup && other != op {
			v.failValue(op+".path", o.Path, "writes %s, as %s does: one would overwrite the other", f, other)
			return
		}
		v.files[f] = op
	}
}
