package output

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/joinery/joinery/internal/localtime"
)

// ManifestSuffix ends the name of every manifest joinery writes.
const ManifestSuffix = ".manifest.json"

// Manifest describes one run and the files it wrote. Dir.Commit puts it
// beside the files, named by ManifestName; Dir.Retain reads the manifests
// back to know which files joinery wrote.
type Manifest struct {
	Job string `json:"job"`
	// RunID is the id the run's log records carry: its start in UTC and a
	// random suffix. Manifests of earlier versions have none.
	RunID   string          `json:"run_id,omitempty"`
	Logical time.Time       `json:"logical_time"`
	Window  *ManifestWindow `json:"window,omitempty"`
	// Partial marks a run whose window was not over when it ran (run
	// --allow-partial): it never moves the latest names and never counts
	// as the job's last success.
	Partial  bool      `json:"partial,omitempty"`
	Started  time.Time `json:"started"`
	Duration float64   `json:"duration_seconds"`
	Version  string    `json:"joinery_version"`
	DBHost   string    `json:"database_host,omitempty"`
	// Params are the run's parameters; a run is identified by its job,
	// logical time and parameters (see supersede).
	Params []ManifestParam `json:"params,omitempty"`
	// Snapshot says that every dataset was read from one consistent
	// snapshot of the database, in a transaction of isolation level
	// Isolation; false when each was read as of its own query.
	Snapshot  bool   `json:"snapshot"`
	Isolation string `json:"isolation_level,omitempty"`
	// Attempts is how many attempts the run took (1, or more after
	// retries); 0 in manifests of earlier versions.
	Attempts int `json:"attempts,omitempty"`
	// Engine is the database engine the run read from, and Lock what
	// kept other runs of the job out meanwhile; nil in manifests of
	// earlier versions.
	Engine *ManifestEngine `json:"engine,omitempty"`
	Lock   *ManifestLock   `json:"lock,omitempty"`
	// Freshness is what the job's freshness guard saw before the run read
	// anything; nil when the job has none.
	Freshness *ManifestFreshness `json:"freshness,omitempty"`
	Datasets  []ManifestSet      `json:"datasets"`
	Files     []ManifestFile     `json:"files"`
	Warnings  []string           `json:"warnings,omitempty"`
}

// exact returns m with its times exact (localtime.Exact): in their zone,
// or in UTC when the zone's offset has seconds, which RFC 3339 would cut
// to whole minutes. Two runs of times a few seconds apart in such a zone
// must not read back as one (see supersede). (Not a MarshalJSON method:
// a type that embeds Manifest would lose its own fields to it.)
func (m *Manifest) exact() *Manifest {
	c := *m
	c.Logical, c.Started = localtime.Exact(c.Logical), localtime.Exact(c.Started)
	if c.Window != nil {
		c.Window = &ManifestWindow{From: localtime.Exact(c.Window.From), To: localtime.Exact(c.Window.To)}
	}
	if f := c.Freshness; f != nil && f.Watermark != nil {
		w := *f.Watermark
		w.Want = localtime.Exact(w.Want)
		if w.Value != nil {
			v := localtime.Exact(*w.Value)
			w.Value = &v
		}
		fc := *f
		fc.Watermark = &w
		c.Freshness = &fc
	}
	return &c
}

// ManifestWindow is the record of a run's data window, [From, To) in the
// job's zone. (The window itself is queries.Window; this is its form in
// the manifest, as ManifestSet is a dataset's.)
type ManifestWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ManifestEngine is the database engine of a run: its kind ("mariadb",
// "mariadb-galera", "tidb"...) and VERSION().
type ManifestEngine struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ManifestLock is the lock a run held: its kind ("named", "lease" or
// "none"), its name, the holder (host/pid/run id) and, for a lease, its
// fencing token.
type ManifestLock struct {
	Kind   string `json:"kind"`
	Name   string `json:"name,omitempty"`
	Holder string `json:"holder,omitempty"`
	Token  uint64 `json:"token,omitempty"`
}

// ManifestFreshness is what a job's freshness guard saw at its last check
// (see jobs.Freshness).
type ManifestFreshness struct {
	// Fresh is false when the run went ahead with stale data (on_stale:
	// warn); the run's warnings say why.
	Fresh bool `json:"fresh"`
	// Checks is how many times the guard looked, and Waited how long it
	// paused between them.
	Checks int     `json:"checks"`
	Waited float64 `json:"waited_seconds"`
	// Replica is set when the guard checked the replica's lag: whether
	// the server is a replica at all, and its lag (Seconds_Behind_Master;
	// nil when replication is stopped or the server is no replica).
	Replica *ManifestReplica `json:"replica,omitempty"`
	// Watermark is set when the guard compared a column's latest value
	// with the end of the run's window.
	Watermark *ManifestWatermark `json:"watermark,omitempty"`
}

// ManifestReplica is the replica lag a freshness guard saw.
type ManifestReplica struct {
	IsReplica     bool    `json:"is_replica"`
	LagSeconds    *int64  `json:"lag_seconds"`
	MaxLagSeconds float64 `json:"max_lag_seconds"`
}

// ManifestWatermark is the watermark a freshness guard saw: the latest
// value of Table.Column (nil when it has none) and the time it had to
// reach, both in the job's zone.
type ManifestWatermark struct {
	Table  string     `json:"table"`
	Column string     `json:"column"`
	Value  *time.Time `json:"value"`
	Want   time.Time  `json:"want"`
}

// ManifestSet is one dataset of a run.
type ManifestSet struct {
	Name      string  `json:"name"`
	Rows      int64   `json:"rows"`
	SQLSHA256 string  `json:"sql_sha256"` // of the SQL text, without its arguments
	Duration  float64 `json:"duration_seconds"`
	// Joins are the join diagnostics, one line per diagnosed outer join,
	// and Warnings the dataset's own warnings (also among the run's): what
	// a delivery's templates show, so that joinery deliver shows them too.
	Joins    []string `json:"joins,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// ManifestFile is one file of a run. Paths are relative to output_dir.
type ManifestFile struct {
	Path string `json:"path"`
	// Output is the name of the output that wrote the file; manifests of
	// earlier versions have none.
	Output   string        `json:"output,omitempty"`
	Format   string        `json:"format"`
	Size     int64         `json:"size"`
	SHA256   string        `json:"sha256"`
	Rows     int64         `json:"rows"`
	Datasets []DatasetRows `json:"datasets"`
	Latest   string        `json:"latest,omitempty"`
}

// SQLHash is the hex SHA-256 of a query's text, for manifests.
func SQLHash(sql string) string {
	h := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(h[:])
}

// ManifestName is the name of the manifest of job's run for a logical
// time and parameters: "<job>-<logical time in UTC>.manifest.json", so
// that a second run for the same logical time replaces the first one's
// manifest. A run with parameters adds twelve hex digits of a hash of
// their values ("<job>-20261104T060000Z-3f2a9c1b7d04.manifest.json"):
// runs with other values keep manifests of their own, even when their
// files share a folder.
func ManifestName(job string, logical time.Time, params []ManifestParam) string {
	name := job + "-" + logical.UTC().Format("20060102T150405Z")
	if len(params) > 0 {
		h := sha256.Sum256([]byte(paramsKey(params)))
		name += "-" + hex.EncodeToString(h[:6])
	}
	return name + ManifestSuffix
}

// Retention says which runs of a job keep their files, by logical time:
// the runs of the newest Keep logical times, and those whose logical time
// is at most Days days old. With both set a run is kept when either keeps
// it; with neither nothing is deleted. Always kept: the run of the newest
// logical time; each run a latest name leads to (the newest that moved
// it), so that no latest name dangles; and the run just committed (a
// backfill of an old day is deleted by the next run, not before anyone
// saw it).
type Retention struct {
	Keep int `yaml:"keep"` // the newest N logical times
	Days int `yaml:"days"` // logical times in the last D days
}

// run is one recorded run: a manifest and where it is.
type run struct {
	path string // relative to the Dir
	m    Manifest
}

// scan reads the manifests of job's runs anywhere under d, newest logical
// time first (and of two for the same logical time, the one that started
// last first). It does not enter symbolic links to folders.
func (d *Dir) scan(job string) (runs []run, warnings []string, err error) {
	byJob, warnings, err := d.scanJobs([]string{job})
	return byJob[job], warnings, err
}

// scanJobs is scan of each of jobs, in one walk of d.
func (d *Dir) scanJobs(jobs []string) (byJob map[string][]run, warnings []string, err error) {
	want := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		want[j] = true
	}
	byJob = make(map[string][]run, len(jobs))
	err = fs.WalkDir(d.root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // an unreadable folder holds nothing to delete
		}
		name := e.Name()
		if e.IsDir() && name == StateDir && path.Dir(p) == "." {
			return fs.SkipDir
		}
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ManifestSuffix) || !wantedPrefix(name, want) {
			return nil
		}
		data, err := d.root.ReadFile(filepath.FromSlash(p))
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("read %s: %v", d.Abs(p), unwrapPath(err)))
			return nil
		}
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil || !want[m.Job] || !strings.HasPrefix(name, m.Job+"-") {
			return nil // not one of these jobs' manifests
		}
		byJob[m.Job] = append(byJob[m.Job], run{filepath.FromSlash(p), m})
		return nil
	})
	if err != nil {
		return nil, warnings, fmt.Errorf("read manifests: %w", err)
	}
	for _, runs := range byJob {
		slices.SortStableFunc(runs, func(a, b run) int {
			if c := b.m.Logical.Compare(a.m.Logical); c != 0 {
				return c
			}
			return b.m.Started.Compare(a.m.Started)
		})
	}
	return byJob, warnings, nil
}

// wantedPrefix reports whether name starts with a job of want and a "-",
// as the manifests of the job are named (see ManifestName).
func wantedPrefix(name string, want map[string]bool) bool {
	for i := range len(name) {
		if name[i] == '-' && want[name[:i]] {
			return true
		}
	}
	return false
}

// RunManifest is one recorded run of a job: its manifest and where it is.
type RunManifest struct {
	Path     string // relative to the Dir, with / separators
	Manifest Manifest
}

// Runs returns the manifests of job's runs anywhere under d, newest
// logical time first (of two for the same logical time, the one that
// started last first), and warnings about manifests it could not read.
func (d *Dir) Runs(job string) ([]RunManifest, []string, error) {
	runs, warnings, err := d.scan(job)
	return runManifests(runs), warnings, err
}

// RunsOf is Runs of each of jobs, by job, in one walk of d: a job
// without runs has none in the map.
func (d *Dir) RunsOf(jobs []string) (map[string][]RunManifest, []string, error) {
	byJob, warnings, err := d.scanJobs(jobs)
	out := make(map[string][]RunManifest, len(byJob))
	for job, runs := range byJob {
		out[job] = runManifests(runs)
	}
	return out, warnings, err
}

func runManifests(runs []run) []RunManifest {
	out := make([]RunManifest, len(runs))
	for i, x := range runs {
		out[i] = RunManifest{Path: filepath.ToSlash(x.path), Manifest: x.m}
	}
	return out
}

// LastRun returns the newest logical time of job's runs that are not
// partial, as its manifests anywhere under d record them (the zero time
// when none does), and warnings about manifests it could not read. It is
// what the job's state records, for a state that is lost, unreadable or
// could not be written.
func (d *Dir) LastRun(job string) (time.Time, []string, error) {
	runs, warnings, err := d.scan(job)
	if err != nil {
		return time.Time{}, warnings, err
	}
	for _, x := range runs {
		if !x.m.Partial {
			return x.m.Logical, warnings, nil
		}
	}
	return time.Time{}, warnings, nil
}

// RunFor returns the run id of a committed run of job that was not
// partial for the logical time and params (see supersede: a run is its
// job, logical time and parameters), and its manifest's path; "" when
// the folder has none. Another daemon sharing the folder may have made it.
func (d *Dir) RunFor(job string, logical time.Time, params []ManifestParam) (runID, manifest string, warnings []string, err error) {
	runs, warnings, err := d.scan(job)
	if err != nil {
		return "", "", warnings, err
	}
	key := paramsKey(params)
	for _, x := range runs {
		if !x.m.Partial && x.m.Logical.Equal(logical) && paramsKey(x.m.Params) == key {
			return x.m.RunID, d.Abs(x.path), warnings, nil
		}
	}
	return "", "", warnings, nil
}

// Retain deletes the files of job's runs that r no longer keeps (see
// Retention), never those of the run for the logical time current. It
// only ever deletes what a manifest of the job lists, only when the file
// still has the size and SHA-256 joinery wrote, and never a file that a
// kept run lists too; then the manifest itself and any folder left empty.
// A file a newer run wrote again over the same name is the newer run's: it
// is left alone without a warning. It returns the paths deleted and
// warnings about files it left alone.
func (d *Dir) Retain(job string, r Retention, now, current time.Time) (deleted, warnings []string, err error) {
	if r.Keep <= 0 && r.Days <= 0 {
		return nil, nil, nil
	}
	unlock, _, err := d.lockJob(job, true)
	if err != nil {
		return nil, nil, fmt.Errorf("retention: %w", err)
	}
	defer unlock()
	// A commit still pending decides what is whose: finish it first, or
	// delete nothing.
	if w, err := d.recoverLocked(job); err != nil {
		return nil, w, fmt.Errorf("retention: skipped, %w", err)
	} else {
		warnings = append(warnings, w...)
	}
	runs, scanWarns, err := d.scan(job)
	if err != nil {
		return nil, warnings, fmt.Errorf("retention: %w", err)
	}
	for _, w := range scanWarns {
		warnings = append(warnings, "retention: "+w)
	}
	// Runs are counted by logical time: two manifests for one logical time
	// (from versions that named them by start time) are one.
	// A run that a latest name leads to is kept: the newest run that
	// moved that name, for each name.
	keep := make([]bool, len(runs))
	times := 0
	latest := make(map[string]bool)
	for i, x := range runs {
		if i == 0 || !x.m.Logical.Equal(runs[i-1].m.Logical) {
			times++
		}
		keep[i] = times == 1 || times <= r.Keep || x.m.Logical.Equal(current) ||
			r.Days > 0 && now.Sub(x.m.Logical) <= time.Duration(r.Days)*24*time.Hour
		for _, f := range x.m.Files {
			if f.Latest != "" && !latest[f.Latest] {
				latest[f.Latest], keep[i] = true, true
			}
		}
	}
	protected := make(map[string]bool)
	for i, x := range runs {
		if keep[i] {
			for _, f := range x.m.Files {
				protected[f.Path] = true
			}
		}
	}
	// The deletions go through a journal, as a commit does: a crash in
	// the middle of them is finished by the next run, and never leaves a
	// manifest that lists files that are gone.
	j := &journal{Job: job, Logical: current}
	for i, x := range runs {
		if keep[i] {
			continue
		}
		for _, f := range x.m.Files {
			p := filepath.FromSlash(f.Path)
			switch {
			case protected[f.Path]:
			case !d.inside(p):
				warnings = append(warnings, fmt.Sprintf("retention: %s lists %s, outside output_dir: left alone", d.Abs(x.path), f.Path))
			case rewritten(runs[:i], f.Path):
				// A newer run wrote the name again: the file is its own.
			default:
				j.Removes = append(j.Removes, journalFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256})
			}
		}
		// The manifest goes last: until then it records what is left.
		j.Removes = append(j.Removes, journalFile{Path: filepath.ToSlash(x.path)})
	}
	if len(j.Removes) == 0 {
		return nil, warnings, nil
	}
	if err := d.writeJournal(j); err != nil {
		return nil, warnings, fmt.Errorf("retention: %w", err)
	}
	if err := d.syncDir(StateDir); err != nil {
		return nil, warnings, fmt.Errorf("retention: %w (the next run deletes what it would have)", err)
	}
	deleted, w, err := d.apply(j, false)
	for _, s := range w {
		warnings = append(warnings, "retention: "+s)
	}
	if err != nil {
		return deleted, warnings, fmt.Errorf("retention: %w (the next run finishes it)", err)
	}
	return deleted, warnings, nil
}

// rewritten reports whether one of newer, runs newer than the one that
// lists path, lists it too: the file was written again.
func rewritten(newer []run, path string) bool {
	for _, x := range newer {
		for _, f := range x.m.Files {
			if f.Path == path {
				return true
			}
		}
	}
	return false
}

// sameFile reports whether the regular file name (relative to d) has the
// given size and SHA-256.
func (d *Dir) sameFile(name string, size int64, sum string) (bool, error) {
	fi, err := d.root.Lstat(name)
	if err != nil {
		return false, unwrapPath(err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return false, nil
	}
	f, err := d.root.Open(name)
	if err != nil {
		return false, unwrapPath(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("read %s: %w", d.Abs(name), err)
	}
	return hex.EncodeToString(h.Sum(nil)) == sum, nil
}

// removeEmptyDirs removes dir (relative to d) and its parents while they
// are empty, up to but not including d itself.
func (d *Dir) removeEmptyDirs(dir string) {
	for dir != "." && dir != "" && localPath(dir) {
		if d.root.Remove(dir) != nil { // fails when not empty
			return
		}
		dir = filepath.Dir(dir)
	}
}
