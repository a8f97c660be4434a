package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/queries"
)

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
