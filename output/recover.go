package output

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Recover finishes a commit of job that a crash interrupted (see the top
// of commit.go), then removes the temporary files that runs of job left
// behind when they died: only names joinery's own pattern gives to the
// files of files (the job's outputs), in the folders those outputs write
// to, and only files no live process holds. It does nothing when another
// process is committing the job. It returns what it did, for the log.
func (d *Dir) Recover(files JobFiles) (notes []string, err error) {
	r := d.RecoverAll([]JobFiles{files})
	return r[0].Notes, r[0].Err
}

// Recovered is what RecoverAll did for one job.
type Recovered struct {
	Notes []string // what it did, for the log
	Err   error
}

// RecoverAll does for each job of jobs, in order, what Recover does for
// one, each under the job's own lock and with the same checks, but lists
// each folder once for all of them: the output folder and the state
// folder are shared by every job, and listing them again for each made a
// daemon's start quadratic in its jobs (docs/BENCHMARKS.md, 1,000 jobs).
// A listing only proposes names: each is looked at again (Lstat, its lock)
// when its job's turn comes, and the journals that could still rename it
// are read after its lock is taken, so that a name listed before another
// process wrote or removed it is handled as Recover would handle it. The
// results are in the order of jobs.
func (d *Dir) RecoverAll(jobs []JobFiles) []Recovered {
	ls := &lister{d: d, all: make(map[string][]string), temps: make(map[string][]tempEntry)}
	out := make([]Recovered, len(jobs))
	for i, files := range jobs {
		out[i].Notes, out[i].Err = d.recoverJob(ls, files)
	}
	return out
}

// recoverJob is Recover of one job, its folders listed by ls.
func (d *Dir) recoverJob(ls *lister, files JobFiles) (notes []string, err error) {
	unlock, ok, err := d.lockJob(files.Job, false)
	if err != nil || !ok {
		return nil, err
	}
	defer unlock()
	if _, err := d.root.Lstat(journalPath(files.Job)); err == nil {
		notes = append(notes, "finishing the commit of a run that was interrupted")
	}
	w, err := d.recoverLocked(files.Job)
	notes = append(notes, w...)
	if err != nil {
		return notes, err
	}
	removed, err := d.removeOrphans(ls, files)
	for _, p := range removed {
		notes = append(notes, "removed the temporary file of a run that died: "+d.Abs(p))
	}
	return notes, err
}

// JobFiles describes the files one job writes, so that Recover knows the
// names of its temporary files and the folders they are in.
type JobFiles struct {
	Job      string
	Datasets []string // the datasets written (not internal ones)
	Specs    []Spec
	Formats  *Registry // the formats of Specs
}

// orphanMinAge is how old a temporary file must be before removeOrphans
// takes it for an orphan where there is no flock to tell (lock_other.go,
// or a file system without locks).
const orphanMinAge = 24 * time.Hour

// removeOrphans removes the temporary files of runs of files.Job that died,
// and, the first time ls is used, the start-up check's stale probe files.
// The caller holds the job's lock.
func (d *Dir) removeOrphans(ls *lister, files JobFiles) (removed []string, err error) {
	var pats []*namePattern
	manifest := manifestPattern(files.Job)
	for _, s := range files.Specs {
		f, err := files.Formats.Lookup(s.Format)
		if err != nil {
			return nil, err
		}
		for _, tmpl := range []string{s.Path, s.Latest} {
			if tmpl == "" {
				continue
			}
			p, err := newNamePattern(f, s, tmpl, files.Job, files.Datasets, manifest)
			if err != nil {
				return nil, err
			}
			pats = append(pats, p)
		}
	}
	// The state folder: the job's state and journal.
	pats = append(pats, &namePattern{
		dirs:     []*lazyRegexp{{prefix: StateDir, exact: true}},
		base:     &lazyRegexp{src: `^` + regexp.QuoteMeta(files.Job) + `(\.commit)?\.json$`, prefix: files.Job},
		manifest: &lazyRegexp{exact: true}, // matches no temporary file's base
	})

	// The start-up check's probe files (jobs.Config.CheckOutputDir), which
	// live a moment: not a job's, so once per lister.
	if !ls.probed {
		ls.probed = true
		for _, dir := range []string{".", StateDir} {
			names, _ := ls.names(dir)
			for _, n := range names {
				if !probePattern.MatchString(n) {
					continue
				}
				name := filepath.Join(dir, n)
				info, err := d.root.Lstat(name)
				if err != nil || !info.Mode().IsRegular() || time.Since(info.ModTime()) < time.Minute {
					continue
				}
				if err := d.remove(name); err != nil {
					return removed, err
				}
				removed = append(removed, name)
			}
		}
	}
	seen := make(map[string]bool)
	for _, p := range pats {
		for _, dir := range ls.matchDirs(".", p.dirs) {
			temps, err := ls.tempNames(dir)
			if err != nil {
				continue
			}
			for _, e := range temps {
				name := path.Join(filepath.ToSlash(dir), e.name)
				if seen[name] {
					continue
				}
				if !e.legacy && !p.base.MatchString(e.base) && !p.manifest.MatchString(e.base) {
					continue
				}
				info, err := d.root.Lstat(filepath.FromSlash(name))
				if err != nil {
					continue // removed since the folder was listed
				}
				seen[name] = true
				release, ok := d.orphan(filepath.FromSlash(name), info, e.legacy)
				if !ok {
					continue
				}
				// What a journal, of this job or another, will still
				// rename is not an orphan, whatever its name says. The
				// journals are read now, with the file's lock held: one
				// written since by a process that died is seen.
				if d.staged(name) {
					release()
					continue
				}
				err = d.remove(filepath.FromSlash(name))
				release()
				if err != nil {
					return removed, err
				}
				removed = append(removed, filepath.FromSlash(name))
			}
		}
	}
	return removed, nil
}

// staged reports whether a commit journal in the state folder, of any
// job, still renames name (relative to d, with slashes).
func (d *Dir) staged(name string) bool {
	f, err := d.root.Open(StateDir)
	if err != nil {
		return false
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		if !strings.HasSuffix(n, ".commit.json") {
			continue
		}
		var j journal
		if data, err := d.root.ReadFile(filepath.Join(StateDir, n)); err == nil && json.Unmarshal(data, &j) == nil {
			for _, r := range j.Renames {
				if r.From == name {
					return true
				}
			}
		}
	}
	return false
}

// probePattern matches the probe files of jobs.Config.CheckOutputDir.
var probePattern = regexp.MustCompile(`^\.joinery-probe-[0-9]+$`)

// legacyRows matches the sheet rows earlier versions of joinery kept in a
// named file while it wrote a workbook.
var legacyRows = regexp.MustCompile(`^\.joinery-rows-[0-9]+\.deflate$`)

// orphan reports whether the temporary file name, whose Lstat is info, is
// left by a dead run. When it is, release must be called after the name
// is removed: until then a lock keeps a writer that has just created the
// file, and not locked it yet, from taking it (createTemp then starts
// again).
func (d *Dir) orphan(name string, info fs.FileInfo, legacy bool) (release func(), ok bool) {
	nothing := func() {}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		// A staged latest link: made and renamed under the job's lock,
		// which the caller holds.
		return nothing, !legacy
	case !info.Mode().IsRegular():
		return nil, false
	case legacy:
		// Older versions did not lock their files, but they wrote them
		// for minutes, not hours.
		return nothing, time.Since(info.ModTime()) >= time.Hour
	case !lockSupported:
		// Nothing tells whether a writer lives: go by age.
		return nothing, time.Since(info.ModTime()) >= orphanMinAge
	}
	// Read and write: where flock is emulated with POSIX locks (NFS), an
	// exclusive lock needs a file open for writing.
	f, err := d.root.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		if f, err = d.root.OpenFile(name, os.O_RDONLY, 0); err != nil {
			return nil, false
		}
	}
	locked, err := tryLock(f)
	if errors.Is(err, errNoLocks) {
		_ = f.Close()
		return nothing, time.Since(info.ModTime()) >= orphanMinAge
	}
	if err != nil || !locked || !d.names(name, f) {
		_ = f.Close()
		return nil, false
	}
	return func() { _ = f.Close() }, true
}

// lister lists the folders of a RecoverAll, each once, and keeps of each
// only the names it will look at again: all of them for a folder whose
// subfolders are matched (the output folder, the state folder), the
// temporary files' for the others, where a job's reports pile up.
type lister struct {
	d      *Dir
	all    map[string][]string    // every name in the folder, sorted
	temps  map[string][]tempEntry // the temporary files' names, sorted
	probed bool                   // the probe files are dealt with
}

// tempEntry is a name that tempPattern or legacyRows matches.
type tempEntry struct {
	name   string
	base   string // the destination's name, for tempPattern
	legacy bool   // legacyRows
}

// list returns the names in dir (relative to d), sorted, without the
// Lstat of each entry that fs.ReadDir on an os.Root makes.
func (ls *lister) list(dir string) ([]string, error) {
	f, err := ls.d.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// names returns every name in dir, sorted.
func (ls *lister) names(dir string) ([]string, error) {
	if names, ok := ls.all[dir]; ok {
		return names, nil
	}
	names, err := ls.list(dir)
	if err != nil {
		return nil, err
	}
	ls.all[dir] = names
	return names, nil
}

// tempNames returns the names in dir that tempPattern or legacyRows match,
// sorted.
func (ls *lister) tempNames(dir string) ([]tempEntry, error) {
	if temps, ok := ls.temps[dir]; ok {
		return temps, nil
	}
	names, ok := ls.all[dir]
	if !ok {
		var err error
		if names, err = ls.list(dir); err != nil {
			return nil, err
		}
	}
	temps := []tempEntry{} // not nil: listed
	for _, n := range names {
		if m := tempPattern.FindStringSubmatch(n); m != nil {
			temps = append(temps, tempEntry{name: n, base: m[1]})
		} else if legacyRows.MatchString(n) {
			temps = append(temps, tempEntry{name: n, legacy: true})
		}
	}
	ls.temps[dir] = temps
	return temps, nil
}

// matchDirs returns the folders under dir (relative to d) whose path
// matches pats, one pattern per level. Only real folders are entered,
// never symbolic links. Only the names that start with a pattern's
// literal prefix (a job's folder: its name) are matched, so that each job
// does not go through every job's folder.
func (ls *lister) matchDirs(dir string, pats []*lazyRegexp) []string {
	if len(pats) == 0 {
		return []string{dir}
	}
	names, err := ls.names(dir)
	if err != nil {
		return nil
	}
	prefix := pats[0].prefix
	i, _ := slices.BinarySearch(names, prefix)
	var out []string
	for ; i < len(names) && strings.HasPrefix(names[i], prefix); i++ {
		if !pats[0].MatchString(names[i]) {
			continue
		}
		sub := filepath.Join(dir, names[i])
		if info, err := ls.d.root.Lstat(sub); err == nil && info.IsDir() {
			out = append(out, ls.matchDirs(sub, pats[1:])...)
		}
	}
	return out
}

// manifestPattern matches the names of job's manifests, and of no other
// job's (job names may hold "-"): named by logical time and parameters, or
// by start time with milliseconds, as earlier versions named them.
func manifestPattern(job string) *lazyRegexp {
	return &lazyRegexp{src: `^` + regexp.QuoteMeta(job) + `-[0-9]{8}T[0-9]{6}(\.[0-9]{3})?Z(-[0-9a-f]{12})?` + regexp.QuoteMeta(ManifestSuffix) + `$`}
}

// namePattern matches the paths, relative to output_dir, that one output
// template gives a job's files: each folder and the file name as a regular
// expression, fields matching what they expand to.
type namePattern struct {
	dirs     []*lazyRegexp
	base     *lazyRegexp // the file name
	manifest *lazyRegexp // the name of the job's manifests
}

// lazyRegexp is a regular expression compiled when it is first matched:
// a daemon's start builds the patterns of every job, and most are never
// matched (most folders hold no temporary file, and a job's folder is
// found by its name). Prefix is the literal text every match begins with,
// and exact says that the expression matches that text and nothing else.
type lazyRegexp struct {
	src    string
	prefix string
	exact  bool
	re     *regexp.Regexp
}

// MatchString reports whether s matches.
func (l *lazyRegexp) MatchString(s string) bool {
	if l.exact {
		return s == l.prefix
	}
	if !strings.HasPrefix(s, l.prefix) {
		return false
	}
	if l.re == nil {
		l.re = regexp.MustCompile(l.src)
	}
	return l.re.MatchString(s)
}

// newNamePattern returns the pattern of the files that template tmpl of
// spec gives job; manifest is the pattern of job's manifests.
func newNamePattern(f Format, spec Spec, tmpl, job string, datasets []string, manifest *lazyRegexp) (*namePattern, error) {
	l := spec
	l.Path = tmpl
	ext, err := checkTemplate(f, l, 0)
	if err != nil {
		return nil, err
	}
	// Files go where the expanded path, cleaned, leads ("./a//b" is "a/b").
	segs := strings.Split(path.Clean(filepath.ToSlash(tmpl+ext)), "/")
	p := &namePattern{manifest: manifest}
	for i, seg := range segs {
		var b strings.Builder
		b.WriteString("^")
		m := &lazyRegexp{exact: true}
		literal := func(s string) {
			b.WriteString(regexp.QuoteMeta(s))
			if m.exact {
				m.prefix += s
			}
		}
		err := walkTemplate(seg, func(lit, field string) {
			literal(lit)
			switch field {
			case "":
				return
			case "job":
				literal(safeSegment(job))
				return
			case "dataset":
				alts := make([]string, len(datasets))
				for k, ds := range datasets {
					alts[k] = regexp.QuoteMeta(safeSegment(ds))
				}
				b.WriteString("(" + strings.Join(alts, "|") + ")")
			case "date":
				b.WriteString(`-?[0-9]{4,}-[0-9]{2}-[0-9]{2}`)
			case "time":
				b.WriteString(`[0-9]{6}`)
			case "datetime", "run":
				b.WriteString(`-?[0-9]{8,}T[0-9]{6}`)
			case "from", "to":
				b.WriteString(`-?[0-9]{4,}-[0-9]{2}-[0-9]{2}(T[0-9]{6})?`)
			default:
				if strings.HasPrefix(field, paramField) {
					b.WriteString(`.+`) // a parameter's value, any text but "/"
				}
			}
			m.exact = false // the literal prefix ends at the field
		})
		if err != nil {
			return nil, err
		}
		b.WriteString("$")
		m.src = b.String()
		if i == len(segs)-1 {
			p.base = m
		} else {
			p.dirs = append(p.dirs, m)
		}
	}
	return p, nil
}
