package output

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"
)

// The commit protocol. A run's files become visible together, and a crash
// at any instant (kill -9, power loss, a full disk) leaves either the
// previous set of a run's files or the new one, each recorded, never a mix
// that nothing describes:
//
//  1. Stage. Every report is written under temporary names beside its
//     destination and synced (Report.Prepare). Then, still under temporary
//     names: the run's manifest, and each "latest" link or copy that moves
//     (only to a newer logical time, see Commit). The folders holding them
//     are synced, so that the names survive a power loss.
//  2. Journal. The list of renames that put the staged files in place,
//     with the size and SHA-256 each file must have, and the files the run
//     supersedes (those of an earlier run for the same logical time that
//     this one does not write again), is written to
//     .joinery/<job>.commit.json through a synced temporary file, a rename
//     and a synced folder. That rename is the commit point: before it, the
//     run has failed and changed nothing; after it, the run has happened.
//  3. Apply. The reports are renamed into place, then the manifest, then
//     the latest names; superseded files are removed; the folders are
//     synced and the journal is removed.
//
// A run that dies after the commit point is finished by the next one
// (Recover, which each run of the job calls first, and so does schedule
// when it starts): every rename whose temporary file is still there is
// made, and one whose file is already in place (same size and SHA-256) is
// skipped. Applying a journal twice changes nothing. A failure after the
// commit point (a rename refused) never fails the run, runs it again or
// rolls it back: it is a warning, and the next Recover completes it.
//
// Staging and applying are serialised per job by an flock on
// .joinery/<job>.lock, which dies with its process; runs of the same job
// in several processes are kept apart by the job's database lock too.

// journal is a commit in progress: .joinery/<job>.commit.json.
type journal struct {
	Job     string          `json:"job"`
	Logical time.Time       `json:"logical_time"`
	Renames []journalRename `json:"renames"` // in order: reports, manifest, latest
	Removes []journalFile   `json:"removes,omitempty"`
}

// journalRename puts one staged file in place. Paths are relative to
// output_dir, with slashes.
type journalRename struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"` // files
	Link   string `json:"link,omitempty"`   // the target of a symbolic link
	// Latest marks a latest name: a convenience, whose rename may fail
	// without holding the rest of the commit back.
	Latest bool `json:"latest,omitempty"`
}

// journalFile is a file the commit removes: only while it still is what
// the journal says (the size and SHA-256 of a file, or the target of a
// link); a manifest, with neither, whatever it holds.
type journalFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"`
}

func journalPath(job string) string { return filepath.Join(StateDir, job+".commit.json") }
func lockPath(job string) string    { return filepath.Join(StateDir, job+".lock") }

// lockJob takes the job's commit lock, waiting for another process's
// commit when wait is set; without wait it reports false if it is held.
func (d *Dir) lockJob(job string, wait bool) (unlock func(), ok bool, err error) {
	return d.lock(lockPath(job), "job lock", wait)
}

// LockState takes an exclusive lock on the file name in the state folder
// (StateDir), creating it and its folder: a flock, which ends with the
// process however it ends, and which two opens in one process contend for
// too. With wait it waits for the holder; without, it reports false when
// the lock is held. Where the file system has no flock it always succeeds.
// Delivery ledgers use it (one delivery of a run at a time).
func (d *Dir) LockState(name string, wait bool) (unlock func(), ok bool, err error) {
	return d.lock(filepath.Join(StateDir, name), "lock", wait)
}

// lock takes the flock of the file name (relative to d); what names the
// lock in errors.
func (d *Dir) lock(name, what string, wait bool) (unlock func(), ok bool, err error) {
	if err := d.mkdirAll(filepath.Dir(name)); err != nil {
		return nil, false, err
	}
	f, err := d.root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, unwrapPath(err))
	}
	if wait {
		err = lockWait(f)
		ok = err == nil
	} else {
		ok, err = tryLock(f)
	}
	if errors.Is(err, errNoLocks) {
		// Runs of the job are still kept apart by its database lock.
		ok, err = true, nil
	}
	if err != nil || !ok {
		_ = f.Close()
		if err != nil {
			err = fmt.Errorf("%s %s: %w", what, d.Abs(name), err)
		}
		return nil, false, err
	}
	return func() { _ = f.Close() }, true, nil
}

// Commit is what Dir.Commit needs to know of a run.
type Commit struct {
	// Manifest describes the run. Commit fills in Files, and sets its
	// name from Job and Logical.
	Manifest *Manifest
	// Reports are the run's outputs, each prepared (Report.Prepare).
	Reports []Report
	// Once is set for a scheduled run, which makes its time once: a
	// committed run (not partial) of the same logical time and parameters
	// in the folder, another daemon's, fails the commit with
	// ErrCommitted. A run by hand replaces it.
	Once bool
}

// Committed is the outcome of a commit.
type Committed struct {
	Files    []File // in place (or to be put in place by the next run: see Pending)
	Manifest string // the manifest's path, "" when the run wrote no file
	// Latest reports whether the latest names moved to this run: only a
	// run whose logical time is not older than that of every recorded
	// run that is not partial moves them.
	Latest bool
	// Pending is set when the run passed its commit point but could not
	// put everything in place; Warnings say what. The next run of the job
	// finishes it.
	Pending  bool
	Warnings []string
}

// errNewerReport is returned (wrapped) by Commit, before anything is
// replaced, when a file of the run is where a run with a newer logical time
// wrote its report: a backfill must never destroy a newer report.
var errNewerReport = errors.New("would replace the report of a newer logical time")

// ErrFenced is the error of a commit that would replace the report of the
// same logical time and parameters made by a later holder of the job's
// lease (a higher fencing token, see ManifestLock): the run lost its lease
// without knowing it (stalled past its expiry after its last check), and
// another daemon has run the time since. The later report stands.
var ErrFenced = errors.New("a later holder of the job's lease has committed this run's time")

// ErrCommitted is the error of a commit with Once set when the folder
// holds a committed run of the same time and parameters: another daemon
// sharing the folder made it after this run's own check (see jobs).
var ErrCommitted = errors.New("a run of this time is committed already")

// fencedBy returns the run of the same time and parameters as m that a
// later holder of m's lease committed, if there is one.
func fencedBy(runs []run, m *Manifest) *run {
	if m.Lock == nil || m.Lock.Kind != "lease" {
		return nil
	}
	key := paramsKey(m.Params)
	for i, x := range runs {
		l := x.m.Lock
		if l != nil && l.Kind == "lease" && l.Name == m.Lock.Name && l.Token > m.Lock.Token &&
			x.m.Logical.Equal(m.Logical) && paramsKey(x.m.Params) == key {
			return &runs[i]
		}
	}
	return nil
}

// Commit puts a run's prepared reports in place with its manifest, as
// described at the top of this file. An error means the commit point was
// not reached: every temporary file is removed and every earlier report
// is as it was. Once the commit point is passed Commit returns no error;
// what it could not finish is in Committed.Warnings.
func (d *Dir) Commit(c Commit) (*Committed, error) {
	m := c.Manifest
	fail := func(err error) (*Committed, error) {
		for _, rep := range c.Reports {
			_ = rep.Abort()
		}
		return nil, err
	}
	unlock, _, err := d.lockJob(m.Job, true)
	if err != nil {
		return fail(err)
	}
	defer unlock()
	// A commit of this job that died half-way comes first.
	var warns []string
	if w, err := d.recoverLocked(m.Job); err != nil {
		return fail(err)
	} else {
		warns = append(warns, w...)
	}

	var staged []*part
	var files []File
	for _, rep := range c.Reports {
		r, ok := rep.(*report)
		if !ok || !r.prepared {
			return fail(errors.New("commit: a report is not prepared"))
		}
		staged = append(staged, r.keep...)
		files = append(files, r.files()...)
	}
	runs, scanWarns, err := d.scan(m.Job)
	if err != nil {
		return fail(err)
	}
	warns = append(warns, scanWarns...)
	// The fencing token's check, under the job's commit lock: in a shared
	// output folder, a run that lost its lease never replaces what the
	// lease's later holder committed.
	if x := fencedBy(runs, m); x != nil {
		return fail(fmt.Errorf("%w: %s holds token %d, this run %d (recorded in %s)",
			ErrFenced, x.m.Lock.Holder, x.m.Lock.Token, m.Lock.Token, d.Abs(x.path)))
	}
	if c.Once {
		key := paramsKey(m.Params)
		for _, x := range runs {
			if !x.m.Partial && x.m.Logical.Equal(m.Logical) && paramsKey(x.m.Params) == key {
				return fail(fmt.Errorf("%w (recorded in %s)", ErrCommitted, d.Abs(x.path)))
			}
		}
	}

	// A file of this run where a newer run's report is would destroy it.
	dests := make(map[string]bool, len(staged))
	for _, p := range staged {
		dests[filepath.ToSlash(p.tf.dest)] = true
	}
	for _, x := range runs {
		// A partial run holds no promise: a complete one may replace it.
		if !x.m.Logical.After(m.Logical) || x.m.Partial {
			continue
		}
		for _, f := range x.m.Files {
			if dests[f.Path] {
				return fail(fmt.Errorf("%s: %w (%s, recorded in %s): give the path a {date}, {from} or {run} field so that each logical time has its own file",
					d.Abs(filepath.FromSlash(f.Path)), errNewerReport, x.m.Logical.Format(time.RFC3339), d.Abs(x.path)))
			}
		}
	}
	moveLatest := !m.Partial
	for _, x := range runs {
		if !x.m.Partial && x.m.Logical.After(m.Logical) {
			moveLatest = false
		}
	}

	j := &journal{Job: m.Job, Logical: m.Logical}
	mname := ""
	if len(staged) > 0 {
		mname = filepath.Join(filepath.Dir(staged[0].tf.dest), ManifestName(m.Job, m.Logical, m.Params))
	}
	// The latest names this run moves (a folder there is left alone, below).
	moving := make(map[string]bool)
	for _, p := range staged {
		if moveLatest && p.latest != "" && !d.isDir(p.latest) {
			moving[filepath.ToSlash(p.latest)] = true
		}
	}
	j.Removes = supersede(runs, m, mname, dests, moving)
	// Stage the manifest and the latest names.
	var extra []*tempFile // staged here, removed on failure
	var links []string    // staged links, removed on failure
	cleanup := func() {
		for _, t := range extra {
			_ = t.remove()
		}
		for _, l := range links {
			_ = d.root.Remove(l)
		}
	}
	mfiles := make([]ManifestFile, len(files))
	for i, f := range files {
		mfiles[i] = ManifestFile{Path: filepath.ToSlash(f.Path), Output: f.Output, Format: f.Format, Size: f.Size, SHA256: f.SHA256, Rows: f.Rows, Datasets: f.Datasets}
		j.Renames = append(j.Renames, journalRename{From: filepath.ToSlash(staged[i].tf.tmp), To: mfiles[i].Path, Size: f.Size, SHA256: f.SHA256})
	}
	// A folder where a file goes would fail its rename after the commit
	// point: find it now. For a report that fails the run; a latest name
	// is only a convenience, and is left as it is.
	for _, p := range staged {
		if d.isDir(p.tf.dest) {
			cleanup()
			return fail(fmt.Errorf("%s is a folder: the report cannot replace it", d.Abs(p.tf.dest)))
		}
	}
	if mname != "" && d.isDir(mname) {
		cleanup()
		return fail(fmt.Errorf("%s is a folder: the manifest cannot replace it", d.Abs(mname)))
	}
	var latest []journalRename
	if moveLatest {
		for i, p := range staged {
			if p.latest == "" {
				continue
			}
			if !moving[filepath.ToSlash(p.latest)] {
				warns = append(warns, fmt.Sprintf("latest %s not updated: it is a folder", d.Abs(p.latest)))
				continue
			}
			r, err := d.stageLatest(p, &extra, &links)
			if err != nil {
				cleanup()
				return fail(fmt.Errorf("latest %s: %w", d.Abs(p.latest), err))
			}
			latest = append(latest, r)
			mfiles[i].Latest = filepath.ToSlash(p.latest)
			files[i].Latest = p.latest
		}
	}
	if mname != "" {
		m.Files = mfiles
		data, err := json.MarshalIndent(m.exact(), "", "  ")
		if err != nil {
			cleanup()
			return fail(fmt.Errorf("manifest: %w", err))
		}
		tf, err := d.createTemp(mname, 0)
		if err == nil {
			extra = append(extra, tf)
			if _, err = tf.Write(append(data, '\n')); err == nil {
				err = tf.finish()
			}
		}
		if err != nil {
			cleanup()
			return fail(fmt.Errorf("manifest: %w", err))
		}
		j.Renames = append(j.Renames, journalRename{From: filepath.ToSlash(tf.tmp), To: filepath.ToSlash(mname), Size: tf.size, SHA256: tf.sum()})
	}
	j.Renames = append(j.Renames, latest...)
	if len(j.Renames) == 0 && len(j.Removes) == 0 {
		return &Committed{Warnings: warns}, nil
	}
	// The temporary names must survive a power loss as long as the journal
	// does: sync their folders before it.
	for _, dir := range j.dirs() {
		if err := d.syncDir(dir); err != nil {
			cleanup()
			return fail(err)
		}
	}

	if err := d.writeJournal(j); err != nil {
		cleanup()
		return fail(err)
	}

	// The commit point is passed.
	res := &Committed{Files: files, Latest: len(latest) > 0}
	if mname != "" {
		res.Manifest = d.Abs(mname)
	}
	for i := range res.Files {
		res.Files[i].Path = d.Abs(res.Files[i].Path)
		if res.Files[i].Latest != "" {
			res.Files[i].Latest = d.Abs(res.Files[i].Latest)
		}
	}
	// Until the journal's name is on disk, no rename may be: a power loss
	// could keep a rename and lose the journal. If the sync fails, the
	// next run applies the journal, or finds none and the old set whole.
	err = d.syncDir(StateDir)
	if err == nil {
		var applyWarns []string
		_, applyWarns, err = d.apply(j, false)
		warns = append(warns, applyWarns...)
	}
	if err != nil {
		res.Pending = true
		warns = append(warns, fmt.Sprintf("the run is committed, but %v: the next run of %s finishes putting its files in place", err, m.Job))
	}
	for _, p := range staged {
		p.tf.renamed = true
		_ = p.tf.close()
	}
	for _, t := range extra {
		t.renamed = true
		_ = t.close()
	}
	for _, rep := range c.Reports {
		rep.(*report).ended = true
	}
	res.Warnings = warns
	return res, nil
}

// writeJournal writes j to .joinery/<job>.commit.json through a synced
// temporary file and a rename: the commit point. It does not sync the
// folder (the caller must, before the first change the journal lists).
func (d *Dir) writeJournal(j *journal) error {
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("commit journal: %w", err)
	}
	jt, err := d.createTemp(journalPath(j.Job), 0)
	if err != nil {
		return fmt.Errorf("commit journal: %w", err)
	}
	if _, err = jt.Write(append(data, '\n')); err == nil {
		if err = jt.finish(); err == nil {
			err = d.rename(jt.tmp, journalPath(j.Job))
		}
	}
	if err != nil {
		_ = jt.remove()
		return fmt.Errorf("commit journal: %w", err)
	}
	jt.renamed = true
	return jt.close()
}

// isDir reports whether name (relative to d) is a folder.
func (d *Dir) isDir(name string) bool {
	fi, err := d.root.Lstat(name)
	return err == nil && fi.IsDir()
}

// stageLatest stages p's latest name: a relative symbolic link to the
// report, or a copy of it with the report's mode.
func (d *Dir) stageLatest(p *part, extra *[]*tempFile, links *[]string) (journalRename, error) {
	if err := d.mkdirAll(filepath.Dir(p.latest)); err != nil {
		return journalRename{}, err
	}
	if !p.copyLatest {
		target, err := filepath.Rel(filepath.Dir(p.latest), p.tf.dest)
		if err != nil {
			return journalRename{}, err
		}
		tmp := tempName(p.latest)
		if err := d.hook("symlink", tmp); err != nil {
			return journalRename{}, err
		}
		if err := d.root.Symlink(target, tmp); err != nil {
			return journalRename{}, unwrapPath(err)
		}
		*links = append(*links, tmp)
		return journalRename{From: filepath.ToSlash(tmp), To: filepath.ToSlash(p.latest), Link: filepath.ToSlash(target), Latest: true}, nil
	}
	tf, err := d.createTemp(p.latest, p.mode)
	if err != nil {
		return journalRename{}, err
	}
	*extra = append(*extra, tf)
	if _, err := io.Copy(tf, io.NewSectionReader(p.tf.f, 0, p.tf.size)); err != nil {
		return journalRename{}, fmt.Errorf("copy %s: %w", d.Abs(p.tf.tmp), err)
	}
	if err := tf.finish(); err != nil {
		return journalRename{}, err
	}
	return journalRename{From: filepath.ToSlash(tf.tmp), To: filepath.ToSlash(p.latest), Size: tf.size, SHA256: tf.sum(), Latest: true}, nil
}

// supersede returns what a commit of m removes besides putting its own
// files in place: the files of an earlier run for the same logical time
// and parameters that m does not write again (a run's files and manifest
// are replaced as one unit), the latest names that lead to them unless m
// moves those names, that run's manifest when it has another name, and
// the manifest of a partial run, or of a run for the same logical time
// with other parameters, whose every file m writes again. A file that
// another run lists too is never removed.
func supersede(runs []run, m *Manifest, mname string, dests, moving map[string]bool) []journalFile {
	key := paramsKey(m.Params)
	same := func(x run) bool { return x.m.Logical.Equal(m.Logical) && paramsKey(x.m.Params) == key }
	others := make(map[string]bool)
	for _, x := range runs {
		if !same(x) {
			for _, f := range x.m.Files {
				others[f.Path] = true
			}
		}
	}
	var out []journalFile
	for _, x := range runs {
		if !same(x) {
			covered := (x.m.Partial || x.m.Logical.Equal(m.Logical)) && len(x.m.Files) > 0
			for _, f := range x.m.Files {
				covered = covered && dests[f.Path]
			}
			if covered {
				out = append(out, journalFile{Path: filepath.ToSlash(x.path)})
			}
			continue
		}
		for _, f := range x.m.Files {
			if dests[f.Path] || others[f.Path] {
				continue
			}
			out = append(out, journalFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256})
			if f.Latest != "" && !moving[f.Latest] {
				// The name leads to a file that goes: it goes too, be it a
				// link to it or a copy of it.
				link, _ := filepath.Rel(path.Dir(f.Latest), f.Path)
				out = append(out, journalFile{Path: f.Latest, Size: f.Size, SHA256: f.SHA256, Link: filepath.ToSlash(link)})
			}
		}
		if x.path != mname {
			out = append(out, journalFile{Path: filepath.ToSlash(x.path)})
		}
	}
	return out
}

// dirs returns the folders a journal renames in and removes from.
func (j *journal) dirs() []string {
	var out []string
	add := func(p string) {
		if !localPath(filepath.FromSlash(p)) {
			return // apply skips it
		}
		if dir := filepath.Dir(filepath.FromSlash(p)); !slices.Contains(out, dir) {
			out = append(out, dir)
		}
	}
	for _, r := range j.Renames {
		add(r.To)
	}
	for _, r := range j.Removes {
		add(r.Path)
	}
	return out
}

// apply carries out a journal: it is the second half of Commit and of
// Retain, and all of Recover. It is idempotent. It returns the files it
// removed, warnings about files it found in an unexpected state, and an
// error when something is left to do (the journal then stays for the next
// attempt).
func (d *Dir) apply(j *journal, recovering bool) (removed, warnings []string, err error) {
	what := fmt.Sprintf("commit of %s for %s", j.Job, j.Logical.Format(time.RFC3339))
	for _, r := range j.Renames {
		from, to := filepath.FromSlash(r.From), filepath.FromSlash(r.To)
		if !d.inside(from) || !d.inside(to) {
			warnings = append(warnings, fmt.Sprintf("%s: %s -> %s is not a path inside output_dir: skipped", what, r.From, r.To))
			continue
		}
		if _, err := d.root.Lstat(from); err == nil {
			err := d.rename(from, to)
			if err != nil && r.Latest && recovering {
				// A latest name is a convenience: it must not hold the
				// job's commits back for ever (a folder put there, say).
				// It must not lie either: what it showed is gone.
				warnings = append(warnings, d.dropLatest(to, err))
				_ = d.remove(from)
				continue
			}
			if err != nil {
				return removed, warnings, err
			}
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return removed, warnings, fmt.Errorf("commit: %w", unwrapPath(err))
		}
		// Renamed by an earlier attempt, unless what is there differs.
		if ok, err := d.holds(to, r); err != nil || !ok {
			why := "is not what the run wrote"
			switch {
			case errors.Is(err, fs.ErrNotExist):
				why = "is missing"
			case err != nil:
				why = err.Error()
			}
			warnings = append(warnings, fmt.Sprintf("%s: %s %s, and its staged copy is gone: left as it is", what, d.Abs(to), why))
		}
	}
	for _, r := range j.Removes {
		p := filepath.FromSlash(r.Path)
		if !d.inside(p) {
			warnings = append(warnings, fmt.Sprintf("%s: %s is not a path inside output_dir: not removed", what, r.Path))
			continue
		}
		if r.SHA256 != "" || r.Link != "" {
			if _, err := d.root.Lstat(p); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if !d.is(p, r) {
				warnings = append(warnings, fmt.Sprintf("%s changed since joinery wrote it: left alone", d.Abs(p)))
				continue
			}
		}
		if err := d.remove(p); err != nil {
			return removed, warnings, err
		}
		removed = append(removed, d.Abs(p))
		d.removeEmptyDirs(filepath.Dir(p))
	}
	for _, dir := range j.dirs() {
		if !d.inside(filepath.Join(dir, "x")) {
			continue // nothing was done there
		}
		err := d.syncDir(dir)
		switch {
		case err == nil, errors.Is(err, fs.ErrNotExist):
		case recovering:
			// A folder the journal names but cannot reach (a link out
			// of output_dir) must not hold the job back for ever.
			warnings = append(warnings, fmt.Sprintf("%s: %v", what, err))
		default:
			return removed, warnings, err
		}
	}
	if err := d.remove(journalPath(j.Job)); err != nil {
		return removed, warnings, err
	}
	// Done: should the removal not last, the journal is applied again,
	// which changes nothing.
	if err := d.syncDir(StateDir); err != nil {
		warnings = append(warnings, err.Error())
	}
	return removed, warnings, nil
}

// dropLatest removes the latest name to, which the rename of its new
// version failed with err, unless it is a folder (then not joinery's),
// and says so.
func (d *Dir) dropLatest(to string, err error) string {
	msg := fmt.Sprintf("latest %s not updated: %v", d.Abs(to), errors.Unwrap(err))
	if fi, lerr := d.root.Lstat(to); lerr == nil && !fi.IsDir() {
		if rerr := d.remove(to); rerr == nil {
			msg += "; removed, as what it showed is replaced"
		}
	}
	return msg
}

// is reports whether name (relative to d) is what r describes: a link to
// r.Link, or a file with r's size and SHA-256.
func (d *Dir) is(name string, r journalFile) bool {
	if r.Link != "" {
		if target, err := d.root.Readlink(name); err == nil {
			return filepath.ToSlash(target) == r.Link
		}
	}
	if r.SHA256 == "" {
		return false
	}
	same, err := d.sameFile(name, r.Size, r.SHA256)
	return err == nil && same
}

// holds reports whether name (relative to d) is what r put there.
func (d *Dir) holds(name string, r journalRename) (bool, error) {
	if r.Link != "" {
		target, err := d.root.Readlink(name)
		if err != nil {
			return false, unwrapPath(err)
		}
		return filepath.ToSlash(target) == r.Link, nil
	}
	return d.sameFile(name, r.Size, r.SHA256)
}

// localPath reports whether p, from a journal or manifest, names a file
// inside output_dir, as far as its text tells.
func localPath(p string) bool { return p != "" && filepath.IsLocal(p) }

// inside reports whether p (relative to d), from a journal or manifest,
// names a file under d: its text stays inside, and its folder can be
// reached without a link that leads out (os.Root refuses one; a folder
// that does not exist holds nothing to do). A journal or manifest planted
// or edited by hand must not reach out of output_dir.
func (d *Dir) inside(p string) bool {
	if !localPath(p) {
		return false
	}
	_, err := d.root.Stat(filepath.Dir(p))
	return err == nil || errors.Is(err, fs.ErrNotExist)
}

// recoverLocked applies the job's journal, if there is one; the caller
// holds the job's lock.
func (d *Dir) recoverLocked(job string) ([]string, error) {
	data, err := d.root.ReadFile(journalPath(job))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("commit journal: %w", unwrapPath(err))
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil || j.Job != job {
		// Written through a rename after a sync: it is whole, or it is
		// not joinery's.
		return nil, fmt.Errorf("commit journal %s: not a journal of job %s: move it away to go on", d.Abs(journalPath(job)), job)
	}
	_, w, err := d.apply(&j, true)
	if err != nil {
		return w, fmt.Errorf("finish the interrupted commit of %s: %w", job, err)
	}
	return w, nil
}
