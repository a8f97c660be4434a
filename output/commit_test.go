package output_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/outcheck"

	. "github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

// commitSpecs are the outputs of the runs these tests make: a workbook with
// a latest link, csv files with latest copies, all under the run's date.
var commitSpecs = []Spec{
	{Format: "xlsx", Path: "{job}/{date}/{job}-{date}.xlsx", Latest: "{job}/latest.xlsx"},
	{Format: "csv", Path: "{job}/{date}/{dataset}.csv", Latest: "{job}/latest-{dataset}.csv", LatestMode: "copy"},
}

var commitDatasets = []string{"a", "b"}

func day(n int) time.Time { return time.Date(2024, 3, n, 6, 0, 0, 0, time.UTC) }

// stage opens specs for a run of job j at logical, writes datasets a and b
// (one row each, holding content) and prepares every report.
func stage(t *testing.T, d *Dir, specs []Spec, logical time.Time, content string) []Report {
	t.Helper()
	vars := Vars{Job: "j", Logical: logical, Location: time.UTC}
	cols := []Column{{Name: "v", Kind: KindText}}
	var reps []Report
	for _, spec := range specs {
		r, err := formats.Default().Open(spec, d, vars)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	for _, ds := range commitDatasets {
		for _, r := range reps {
			w, err := r.Dataset(ds, cols)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteRow([]Value{{Raw: []byte(content + " " + ds)}}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range reps {
		if err := r.Prepare(); err != nil {
			t.Fatal(err)
		}
	}
	return reps
}

// commitRun stages and commits a run; it fails the test on an error.
func commitRun(t *testing.T, d *Dir, specs []Spec, logical time.Time, content string) *Committed {
	t.Helper()
	c, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: logical, Started: time.Now()}, Reports: stage(t, d, specs, logical, content)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// snapshot is every entry under dir but the state folder: regular files
// by content, links by target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case e.IsDir() && rel == StateDir:
			return fs.SkipDir
		case e.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		case e.Type().IsRegular():
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRecorded asserts the promise of the commit protocol on dir (see
// outcheck) with nothing pending, and returns the manifests by logical
// time.
func checkRecorded(t *testing.T, dir string) map[time.Time]outcheck.Manifest {
	t.Helper()
	ms, problems := outcheck.Check(dir, "j", outcheck.Options{Latest: func(rel string) bool { return strings.Contains(rel, "latest") }})
	for _, p := range problems {
		t.Error(p)
	}
	return ms
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// steps records the steps of a commit, as the hook sees them.
func steps(t *testing.T, specs []Spec) []string {
	t.Helper()
	dir := t.TempDir()
	d := testDir(t, dir)
	commitRun(t, d, specs, day(1), "old")
	reps := stage(t, d, specs, day(1), "new")
	var out []string
	d.Hook = func(step, path string) error {
		out = append(out, step+" "+filepath.ToSlash(path))
		return nil
	}
	if _, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: day(1)}, Reports: reps}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCommitFailsAtEveryStep injects a full disk (ENOSPC) at each step of a
// commit that replaces the run of the same logical time. Before the commit
// point the run fails and the folder is exactly as it was; after it, the
// run is committed (no error, a warning), and the next Recover finishes it.
// Either way nothing is left that no manifest records.
func TestCommitFailsAtEveryStep(t *testing.T) {
	all := steps(t, commitSpecs)
	point := slices.IndexFunc(all, func(s string) bool { return s == "rename "+filepath.ToSlash(JournalPath("j")) })
	if point < 0 {
		t.Fatalf("no journal rename among the steps: %q", all)
	}
	// The renames after the commit point: 3 reports, the manifest, 3
	// latest names, in that order.
	var after []string
	for _, s := range all[point+1:] {
		if strings.HasPrefix(s, "rename ") {
			after = append(after, strings.TrimPrefix(s, "rename "))
		}
	}
	if len(after) != 7 || !strings.HasSuffix(after[3], ManifestSuffix) || !strings.Contains(after[4], "latest") {
		t.Fatalf("renames after the commit point: %q", after)
	}
	for k, step := range all {
		t.Run(fmt.Sprintf("%02d %s", k, step), func(t *testing.T) {
			dir := t.TempDir()
			d := testDir(t, dir)
			commitRun(t, d, commitSpecs, day(1), "old")
			before := snapshot(t, dir)
			reps := stage(t, d, commitSpecs, day(1), "new")
			n := 0
			d.Hook = func(string, string) error {
				if n++; n-1 == k {
					return syscall.ENOSPC
				}
				return nil
			}
			c, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: day(1)}, Reports: reps})
			d.Hook = nil
			if k <= point {
				if err == nil || !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Commit = %v, want the injected ENOSPC", err)
				}
				if got := snapshot(t, dir); !sameMap(got, before) {
					t.Errorf("the folder changed:\nbefore %q\nafter  %q", before, got)
				}
				checkRecorded(t, dir)
				return
			}
			if err != nil {
				t.Fatalf("Commit = %v past the commit point, want no error", err)
			}
			if len(c.Warnings) == 0 || !strings.Contains(strings.Join(c.Warnings, "\n"), "no space left") {
				t.Errorf("warnings %q: want the failure", c.Warnings)
			}
			_, err = os.Stat(filepath.Join(dir, JournalPath("j")))
			if pending := err == nil; c.Pending != pending {
				t.Errorf("Pending = %v with the journal there = %v", c.Pending, pending)
			}
			if c.Pending && !strings.Contains(strings.Join(c.Warnings, "\n"), "next run") {
				t.Errorf("warnings %q: want the commit left for the next run", c.Warnings)
			}
			notes, err := d.Recover(JobFiles{Job: "j", Datasets: commitDatasets, Specs: commitSpecs, Formats: formats.Default()})
			if err != nil {
				t.Fatal(err)
			}
			if c.Pending && (len(notes) == 0 || !strings.Contains(notes[0], "interrupted")) {
				t.Errorf("Recover notes = %q", notes)
			}
			ms := checkRecorded(t, dir)
			if len(ms) != 1 {
				t.Fatalf("%d manifests, want the one of day 1", len(ms))
			}
			got := snapshot(t, dir)
			for _, f := range ms[day(1)].Files {
				if !strings.Contains(got[f.Path], "new") && strings.HasSuffix(f.Path, ".csv") {
					t.Errorf("%s holds %q, want the new run", f.Path, got[f.Path])
				}
			}
		})
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestBackfillKeepsTheNewestReport: a backfill of older days never moves
// latest back, retention counts logical times (not when runs were made),
// and the run just made is kept until the next one.
func TestBackfillKeepsTheNewestReport(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	for _, n := range []int{10, 11} {
		if c := commitRun(t, d, commitSpecs, day(n), fmt.Sprintf("day %d", n)); !c.Latest {
			t.Errorf("day %d did not move latest", n)
		}
	}
	keep2 := Retention{Keep: 2}
	for n := 1; n <= 3; n++ { // the backfill
		c := commitRun(t, d, commitSpecs, day(n), fmt.Sprintf("day %d", n))
		if c.Latest {
			t.Errorf("the backfill of day %d moved latest", n)
		}
		if _, _, err := d.Retain("j", keep2, day(12), day(n)); err != nil {
			t.Fatal(err)
		}
		ms := checkRecorded(t, dir)
		for _, want := range []time.Time{day(10), day(11), day(n)} {
			if _, ok := ms[want]; !ok {
				t.Errorf("after backfilling day %d: the run of %s is gone", n, want.Format(time.DateOnly))
			}
		}
		if len(ms) != 3 {
			t.Errorf("after backfilling day %d: %d runs, want days 10, 11 and %d", n, len(ms), n)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "j", "latest-a.csv")); !strings.Contains(string(b), "day 11 a") {
		t.Errorf("latest-a.csv = %q, want day 11's", b)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "j", "latest.xlsx")); target != filepath.Join("2024-03-11", "j-2024-03-11.xlsx") {
		t.Errorf("latest.xlsx -> %s, want day 11's", target)
	}
	// The next scheduled run: the backfilled day goes, by logical time.
	commitRun(t, d, commitSpecs, day(12), "day 12")
	if _, _, err := d.Retain("j", keep2, day(12), day(12)); err != nil {
		t.Fatal(err)
	}
	ms := checkRecorded(t, dir)
	if len(ms) != 2 || ms[day(12)].Job == "" || ms[day(11)].Job == "" {
		t.Errorf("runs kept: %v, want days 11 and 12", slices.Collect(mapKeys(ms)))
	}
	// Days: logical times in the last 2 days, whenever they ran.
	commitRun(t, d, commitSpecs, day(5), "day 5")
	if _, _, err := d.Retain("j", Retention{Days: 2}, day(13), day(5)); err != nil {
		t.Fatal(err)
	}
	if ms := checkRecorded(t, dir); len(ms) != 3 {
		t.Errorf("days: 2 kept %d runs, want days 11, 12 and the one just made", len(ms))
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestBackfillOverANewerReport: with a path that has no date, a backfill
// would write over the newest report: it fails before replacing anything.
func TestBackfillOverANewerReport(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	specs := []Spec{{Format: "csv", Path: "{job}/{dataset}.csv"}}
	commitRun(t, d, specs, day(10), "day 10")
	commitRun(t, d, specs, day(10), "day 10 again") // the same logical time replaces
	before := snapshot(t, dir)
	_, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: day(9)}, Reports: stage(t, d, specs, day(9), "day 9")})
	if !errors.Is(err, ErrNewerReport) || !strings.Contains(err.Error(), "{date}") {
		t.Fatalf("err = %v, want ErrNewerReport with a hint", err)
	}
	if got := snapshot(t, dir); !sameMap(got, before) {
		t.Errorf("the folder changed: %q", got)
	}
	checkRecorded(t, dir)
}

// TestRerunReplacesAsOneUnit: a second run for a logical time replaces the
// first one's files and manifest; a file the first wrote and the second
// does not (an empty dataset skipped) goes with it.
func TestRerunReplacesAsOneUnit(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	specs := []Spec{{Format: "csv", Path: "{job}/{date}/{dataset}.csv"}}
	commitRun(t, d, specs, day(1), "first")
	// The second run writes only dataset a.
	vars := Vars{Job: "j", Logical: day(1), Location: time.UTC, SkipEmpty: true}
	r, err := formats.Default().Open(specs[0], d, vars)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range commitDatasets {
		w, _ := r.Dataset(ds, []Column{{Name: "v"}})
		if ds == "a" {
			w.WriteRow([]Value{{Raw: []byte("second")}})
		}
		w.Close()
	}
	if err := r.Prepare(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: day(1)}, Reports: []Report{r}}); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dir)
	if _, ok := got["j/2024-03-01/b.csv"]; ok {
		t.Error("b.csv of the first run is still there")
	}
	if !strings.Contains(got["j/2024-03-01/a.csv"], "second") {
		t.Errorf("a.csv = %q", got["j/2024-03-01/a.csv"])
	}
	if ms := checkRecorded(t, dir); len(ms[day(1)].Files) != 1 {
		t.Errorf("manifest files: %+v", ms[day(1)].Files)
	}
}

// TestPartialRunsMoveNoLatest: a partial run is recorded, but latest stays
// with the newest complete one, and retention keeps that one.
func TestPartialRunsMoveNoLatest(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	commitRun(t, d, commitSpecs, day(1), "day 1")
	c, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: day(2), Partial: true}, Reports: stage(t, d, commitSpecs, day(2), "day 2 so far")})
	if err != nil {
		t.Fatal(err)
	}
	if c.Latest {
		t.Error("a partial run moved latest")
	}
	if _, _, err := d.Retain("j", Retention{Keep: 1}, day(2), day(2)); err != nil {
		t.Fatal(err)
	}
	ms := checkRecorded(t, dir)
	if len(ms) != 2 || !ms[day(2)].Partial {
		t.Errorf("runs: %d, want day 1 (latest) and the partial day 2", len(ms))
	}
}

// TestUmaskAndFileMode: reports, manifests and latest copies are created
// 0666 less the umask, whatever the folder's mode; file_mode sets the mode
// of reports and latest copies exactly.
func TestUmaskAndFileMode(t *testing.T) {
	for _, tt := range []struct {
		umask      int
		mode       FileMode
		want, mfst fs.FileMode
	}{
		{0o077, 0, 0o600, 0o600},
		{0o022, 0, 0o644, 0o644},
		{0o002, 0, 0o664, 0o664},
		{0o022, 0o640, 0o640, 0o644},
		{0o077, 0o644, 0o644, 0o600},
	} {
		t.Run(fmt.Sprintf("umask %03o mode %s", tt.umask, tt.mode), func(t *testing.T) {
			old := syscall.Umask(tt.umask)
			defer syscall.Umask(old)
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			specs := slices.Clone(commitSpecs)
			for i := range specs {
				specs[i].FileMode = tt.mode
			}
			d := testDir(t, dir)
			// A file with a mode of its own is private until it has it.
			d.Hook = func(step, p string) error {
				if fi, err := os.Stat(filepath.Join(dir, p)); step == "lock" && tt.mode != 0 && err == nil && fi.Mode().Perm()&0o077 != 0 {
					if !strings.Contains(p, "manifest") && !strings.Contains(p, ".joinery") {
						t.Errorf("%s is %04o before it gets its mode", p, fi.Mode().Perm())
					}
				}
				return nil
			}
			c := commitRun(t, d, specs, day(1), "x")
			check := func(p string, want fs.FileMode) {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), want)
				}
			}
			for _, f := range c.Files {
				check(f.Path, tt.want)
			}
			check(filepath.Join(dir, "j", "latest-a.csv"), tt.want)
			check(c.Manifest, tt.mfst)
		})
	}
}

func TestFileModeParse(t *testing.T) {
	for in, want := range map[string]FileMode{"0640": 0o640, "640": 0o640, "0o600": 0o600, "0600": 0o600} {
		var m FileMode
		if err := m.UnmarshalText([]byte(in)); err != nil || m != want {
			t.Errorf("%q: got %s, %v; want %s", in, m, err, want)
		}
	}
	for _, in := range []string{"0400", "999", "rw-r--r--", "01777", ""} {
		var m FileMode
		if err := m.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: got %s, want an error", in, m)
		}
	}
}

// TestSymlinksOutOfOutputDir: nothing is written, replaced or deleted
// through a link that leads out of output_dir; links inside it work.
func TestSymlinksOutOfOutputDir(t *testing.T) {
	top := t.TempDir()
	dir, outside := filepath.Join(top, "reports"), filepath.Join(top, "outside")
	for _, p := range []string{dir, outside, filepath.Join(dir, "real")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	victim := filepath.Join(outside, "victim.csv")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": outside, "rel": "../outside", "inside": "real"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	d := testDir(t, dir)
	vars := Vars{Job: "j", Logical: day(1), Location: time.UTC}

	t.Run("writing", func(t *testing.T) {
		for _, folder := range []string{"abs", "rel", "rel/deeper"} {
			if _, err := formats.Default().Open(Spec{Format: "xlsx", Path: folder + "/{job}.xlsx"}, d, vars); err == nil {
				t.Errorf("a workbook under %s: got no error", folder)
			}
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 1 {
			t.Errorf("files written outside output_dir: %v", entries)
		}
		// A relative link that stays inside output_dir is followed.
		c := commitRun(t, d, []Spec{{Format: "csv", Path: "inside/{dataset}.csv"}}, day(1), "in")
		if b, err := os.ReadFile(filepath.Join(dir, "real", "a.csv")); err != nil || !strings.Contains(string(b), "in a") || len(c.Files) != 2 {
			t.Errorf("through the inside link: %q, %v", b, err)
		}
	})

	t.Run("latest is replaced, not followed", func(t *testing.T) {
		for _, mode := range []string{"link", "copy"} {
			spec := Spec{Format: "csv", Path: "{job}/{date}/" + mode + "-{dataset}.csv", Latest: "{job}/latest-" + mode + "-{dataset}.csv", LatestMode: mode}
			latest := filepath.Join(dir, "j", "latest-"+mode+"-a.csv")
			os.MkdirAll(filepath.Dir(latest), 0o755)
			if err := os.Symlink(victim, latest); err != nil {
				t.Fatal(err)
			}
			commitRun(t, d, []Spec{spec}, day(2), mode)
			if b, _ := os.ReadFile(victim); string(b) != "precious" {
				t.Fatalf("%s: the file outside was written through the latest link: %q", mode, b)
			}
			fi, err := os.Lstat(latest)
			if err != nil {
				t.Fatal(err)
			}
			if mode == "copy" && !fi.Mode().IsRegular() {
				t.Errorf("copy: latest is still a link (%s)", fi.Mode())
			}
			if b, _ := os.ReadFile(latest); !strings.Contains(string(b), mode+" a") {
				t.Errorf("%s: latest holds %q", mode, b)
			}
		}
	})

	t.Run("retention", func(t *testing.T) {
		// A planted manifest lists the file outside, through each link, with
		// its true size and SHA-256.
		for _, via := range []string{"abs", "rel"} {
			m := Manifest{Job: "j", Logical: day(1).Add(-48 * time.Hour), Files: []ManifestFile{
				{Path: via + "/victim.csv", Size: 8, SHA256: sha([]byte("precious"))},
			}}
			data, _ := json.Marshal(m)
			if err := os.WriteFile(filepath.Join(dir, "real", "j-"+via+ManifestSuffix), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := d.Retain("j", Retention{Keep: 1}, day(3), day(2)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(victim); err != nil || string(b) != "precious" {
			t.Errorf("retention deleted or changed the file outside output_dir: %q, %v", b, err)
		}
	})

	t.Run("a journal that leads out", func(t *testing.T) {
		j := Journal{Job: "j", Renames: []JournalRename{{From: "../outside/victim.csv", To: "stolen.csv"}},
			Removes: []JournalFile{{Path: "abs/victim.csv", Size: 8, SHA256: sha([]byte("precious"))}}}
		data, _ := json.Marshal(j)
		if err := os.WriteFile(filepath.Join(dir, JournalPath("j")), data, 0o644); err != nil {
			t.Fatal(err)
		}
		notes, err := d.Recover(JobFiles{Job: "j", Datasets: commitDatasets, Specs: commitSpecs, Formats: formats.Default()})
		if err != nil || !strings.Contains(strings.Join(notes, "\n"), "not a path inside output_dir") {
			t.Errorf("Recover = %q, %v; want it to skip what leads out, and say so", notes, err)
		}
		if _, err := os.Stat(filepath.Join(dir, JournalPath("j"))); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the journal is still there (%v): it would hold every later commit back", err)
		}
		if b, err := os.ReadFile(victim); err != nil || string(b) != "precious" {
			t.Errorf("the journal reached out of output_dir: %q, %v", b, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "stolen.csv")); err == nil {
			t.Error("the journal moved a file in from outside")
		}
	})
}

// TestRecoverRemovesOrphans: temporary files of dead runs of the job are
// removed at its next run; those of live writers, of other jobs, outside
// the job's folders, and files that only look alike are left.
func TestRecoverRemovesOrphans(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	commitRun(t, d, commitSpecs, day(1), "x")
	mk := func(rel string) string {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("tmp"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := func(p string, age time.Duration) {
		at := time.Now().Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	gone := []string{
		mk("j/2024-03-02/.j-2024-03-02.xlsx.tmp-0a1b2c3d4e5f"),
		mk("j/2024-03-02/.a.csv.tmp-123456789"), // decimal, as earlier versions named them
		mk("j/2024-03-02/.j-20240302T060000Z.manifest.json.tmp-abcdef"),
		mk("j/.latest-b.csv.tmp-abcdef"),
		mk(".joinery/.j.commit.json.tmp-abcdef"),
		mk(".joinery/.j.json.tmp-abcdef"),
		mk("j/2024-03-02/.joinery-rows-12345.deflate"),
	}
	old(gone[len(gone)-1], 2*time.Hour)
	for _, probe := range []string{".joinery-probe-123", ".joinery/.joinery-probe-456"} {
		gone = append(gone, mk(probe))
		old(gone[len(gone)-1], 2*time.Minute)
	}
	link := filepath.Join(dir, "j", ".latest.xlsx.tmp-0123ab")
	if err := os.Symlink("2024-03-01/j-2024-03-01.xlsx", link); err != nil {
		t.Fatal(err)
	}
	gone = append(gone, link)
	kept := []string{
		mk("j/2024-03-02/.c.csv.tmp-abcdef"),       // not a dataset of the job
		mk("other/2024-03-02/.a.csv.tmp-abcdef"),   // not a folder of the job
		mk("j/2024-03-02/.a.csv.tmp-xyz"),          // not the pattern
		mk("j/2024-03-02/.a.csv"),                  // not a temporary file
		mk(".joinery/.k.json.tmp-abcdef"),          // another job's state
		mk("j/2024-03-02/.joinery-rows-1.deflate"), // an old version's, written minutes ago
		mk(".joinery-probe-789"),                   // a start-up check in progress
		// Another job whose name starts with this one's: its staged
		// manifest, and a file its journal will still rename.
		mk("j/2024-03-02/.j-eu-20240302T060000Z.manifest.json.tmp-abcdef"),
		mk("j/2024-03-02/.a.csv.tmp-0badf00d"),
	}
	journal := `{"job": "j-eu", "renames": [{"from": "j/2024-03-02/.a.csv.tmp-0badf00d", "to": "j/2024-03-02/a.csv"}]}`
	if err := os.WriteFile(filepath.Join(dir, ".joinery", "j-eu.commit.json"), []byte(journal), 0o644); err != nil {
		t.Fatal(err)
	}
	live := mk("j/2024-03-02/.b.csv.tmp-feedbeef")
	kept = append(kept, live)
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := LockFile(f); err != nil {
		t.Fatal(err)
	}
	notes, err := d.Recover(JobFiles{Job: "j", Datasets: commitDatasets, Specs: commitSpecs, Formats: formats.Default()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gone {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want it removed", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
	if len(notes) != len(gone) {
		t.Errorf("notes: %q, want one per file removed", notes)
	}
}

// TestCreateTempLosesNoRace: a cleanup in another process that takes a
// just-created file for an orphan (it is not locked yet) makes createTemp
// start again with another name, never write into a file that is gone.
func TestCreateTempLosesNoRace(t *testing.T) {
	for _, cleanup := range []string{"holds the lock", "removed the name"} {
		t.Run(cleanup, func(t *testing.T) {
			dir := t.TempDir()
			d := testDir(t, dir)
			var stolen string
			d.Hook = func(step, p string) error {
				if step != "lock" || stolen != "" {
					return nil
				}
				stolen = p
				if cleanup == "removed the name" {
					return os.Remove(filepath.Join(dir, p))
				}
				f, err := os.Open(filepath.Join(dir, p))
				if err != nil {
					return err
				}
				t.Cleanup(func() { f.Close() })
				return LockFile(f)
			}
			tf, err := d.CreateTemp("x.csv", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer tf.Remove()
			if stolen == "" || tf.Tmp() == stolen {
				t.Errorf("createTemp used %q, which the cleanup took", stolen)
			}
			if _, err := os.Stat(filepath.Join(dir, tf.Tmp())); err != nil {
				t.Errorf("the temporary file has no name: %v", err)
			}
		})
	}
}

// commitSkipping commits a run of job j at logical that writes specs with
// dataset a holding content and dataset b empty and skipped.
func commitSkipping(t *testing.T, d *Dir, specs []Spec, logical time.Time, content string) *Committed {
	t.Helper()
	return commitWith(t, d, specs, logical, content, []string{"a"})
}

// commitWith commits a run of job j at logical that writes specs with the
// datasets in written holding content, and the others empty and skipped.
func commitWith(t *testing.T, d *Dir, specs []Spec, logical time.Time, content string, written []string) *Committed {
	t.Helper()
	vars := Vars{Job: "j", Logical: logical, Location: time.UTC, SkipEmpty: true}
	var reps []Report
	for _, spec := range specs {
		r, err := formats.Default().Open(spec, d, vars)
		if err != nil {
			t.Fatal(err)
		}
		for _, ds := range commitDatasets {
			w, _ := r.Dataset(ds, []Column{{Name: "v"}})
			if slices.Contains(written, ds) {
				w.WriteRow([]Value{{Raw: []byte(content + " " + ds)}})
			}
			w.Close()
		}
		if err := r.Prepare(); err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	c, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: logical}, Reports: reps})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRerunKeepsWhatOthersList: a re-run that no longer writes a file
// leaves it when a run of another logical time lists it too (a path
// without a date, the same bytes), and says nothing false about it.
func TestRerunKeepsWhatOthersList(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	specs := []Spec{{Format: "csv", Path: "{job}/{dataset}.csv"}}
	commitRun(t, d, specs, day(1), "same")
	commitRun(t, d, specs, day(2), "same") // the same bytes, under the same names
	c := commitWith(t, d, specs, day(1), "same", nil)
	if b, err := os.ReadFile(filepath.Join(dir, "j", "b.csv")); err != nil || !strings.Contains(string(b), "same b") {
		t.Errorf("day 2's b.csv: %q, %v; want it kept", b, err)
	}
	for _, w := range c.Warnings {
		t.Errorf("warning: %s", w)
	}
	checkRecorded(t, dir)
}

// TestNoLatestDangles: a latest name never leads to a file that is gone,
// whether a re-run drops the file or retention would delete it.
func TestNoLatestDangles(t *testing.T) {
	for _, mode := range []string{"link", "copy"} {
		specs := []Spec{{Format: "csv", Path: "{job}/{date}/{dataset}.csv", Latest: "{job}/latest-{dataset}.csv", LatestMode: mode}}
		t.Run(mode+": a re-run of the newest day without b", func(t *testing.T) {
			dir := t.TempDir()
			d := testDir(t, dir)
			commitRun(t, d, specs, day(1), "day 1")
			commitRun(t, d, specs, day(2), "day 2")
			commitSkipping(t, d, specs, day(2), "day 2 again")
			checkRecorded(t, dir)
			if _, err := os.Lstat(filepath.Join(dir, "j", "latest-b.csv")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("latest-b.csv: %v; want it gone with the file it showed", err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "j", "latest-a.csv")); !strings.Contains(string(b), "day 2 again") {
				t.Errorf("latest-a.csv = %q", b)
			}
		})
		t.Run(mode+": retention and a dataset skipped since", func(t *testing.T) {
			dir := t.TempDir()
			d := testDir(t, dir)
			commitRun(t, d, specs, day(1), "day 1")
			for n := 2; n <= 3; n++ {
				commitSkipping(t, d, specs, day(n), fmt.Sprintf("day %d", n))
				if _, _, err := d.Retain("j", Retention{Keep: 1}, day(n), day(n)); err != nil {
					t.Fatal(err)
				}
			}
			checkRecorded(t, dir)
			if b, err := os.ReadFile(filepath.Join(dir, "j", "latest-b.csv")); err != nil || !strings.Contains(string(b), "day 1 b") {
				t.Errorf("latest-b.csv: %q, %v; want day 1's, kept by retention", b, err)
			}
		})
	}
}

// TestPartialRunsGiveWay: a complete run is not held back by a partial
// run of a later logical time, and takes the place of one whose files it
// writes again.
func TestPartialRunsGiveWay(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	specs := []Spec{{Format: "csv", Path: "{job}/{dataset}.csv"}}
	noon := day(2).Add(6 * time.Hour)
	if _, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: noon, Partial: true}, Reports: stage(t, d, specs, noon, "so far")}); err != nil {
		t.Fatal(err)
	}
	commitRun(t, d, specs, day(2), "whole day") // an earlier logical time
	ms := checkRecorded(t, dir)
	if len(ms) != 1 || ms[day(2).UTC()].Partial {
		t.Errorf("runs: %v, want only the complete one", slices.Collect(mapKeys(ms)))
	}
}

// TestRetainFinishesAPendingCommit: retention never decides on a commit
// half done: it finishes it first.
func TestRetainFinishesAPendingCommit(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	commitRun(t, d, commitSpecs, day(1), "day 1")
	reps := stage(t, d, commitSpecs, day(2), "day 2")
	d.Hook = func(step, p string) error {
		if step == "rename" && strings.Contains(p, "latest-a") {
			return syscall.ENOSPC
		}
		return nil
	}
	c, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: day(2)}, Reports: reps})
	d.Hook = nil
	if err != nil || !c.Pending {
		t.Fatalf("Commit = %v, pending %v", err, c.Pending)
	}
	if _, _, err := d.Retain("j", Retention{Keep: 1}, day(2), day(2)); err != nil {
		t.Fatal(err)
	}
	if ms := checkRecorded(t, dir); len(ms) != 1 {
		t.Errorf("%d runs kept, want day 2", len(ms))
	}
}

// TestNewFoldersAreSynced: a folder joinery creates is synced into its
// parent before a file in it is created, so that a journal never outlives
// the folder of the files it lists.
func TestNewFoldersAreSynced(t *testing.T) {
	d := testDir(t, t.TempDir())
	var got []string
	d.Hook = func(step, p string) error {
		got = append(got, step+" "+filepath.ToSlash(p))
		return nil
	}
	tf, err := d.CreateTemp("a/b/x.csv", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Remove()
	if len(got) < 3 || got[0] != "syncdir a" || got[1] != "syncdir ." || !strings.HasPrefix(got[2], "create a/b/.x.csv.tmp-") {
		t.Errorf("steps: %q, want the new folders' parents synced before the create", got)
	}
}

// TestOrphansOfUncleanTemplates: a template that is not clean ("./",
// "//") writes where its cleaned path leads, and its orphans are found
// there.
func TestOrphansOfUncleanTemplates(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	orphan := filepath.Join(dir, "j", "2024-03-01", ".a.csv.tmp-abcdef")
	os.MkdirAll(filepath.Dir(orphan), 0o755)
	if err := os.WriteFile(orphan, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	specs := []Spec{{Format: "csv", Path: "./{job}//{date}/{dataset}.csv"}}
	if _, err := d.Recover(JobFiles{Job: "j", Datasets: commitDatasets, Specs: specs, Formats: formats.Default()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the orphan is still there: %v", err)
	}
}

// TestLogicalTimesWithOffsetSeconds: a zone whose offset has seconds
// (local mean time, such as Berlin's +00:53:28 before 1893) writes the
// same wall clock for two instants seconds apart, and RFC 3339 cuts its
// offset to whole minutes. Two runs 10 s apart there are two runs: the
// second must not read the first's manifest back as its own logical time
// and supersede its files.
func TestLogicalTimesWithOffsetSeconds(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	specs := []Spec{{Format: "csv", Path: "{job}/{datetime}-{dataset}.csv"}}
	first := time.Date(2024, 3, 1, 6, 0, 0, 0, time.FixedZone("LMT", 3610))
	second := time.Date(2024, 3, 1, 6, 0, 0, 0, time.FixedZone("LMT", 3600)) // 10 s later
	commitRun(t, d, specs, first, "first")
	commitRun(t, d, specs, second, "second")
	recorded := make(map[int64]bool)
	for m := range checkRecorded(t, dir) {
		recorded[m.Unix()] = true
	}
	for _, want := range []time.Time{first, second} {
		if !recorded[want.Unix()] {
			t.Errorf("the run of %s (%s) is gone: runs %v", want, want.UTC(), recorded)
		}
	}
}

// TestCommitOnce: a scheduled run's commit (Once) finds the same time
// committed by another daemon sharing the folder and replaces nothing;
// a partial run of that time does not count, and a run by hand replaces.
func TestCommitOnce(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	specs := []Spec{{Format: "csv", Path: "{job}/{date}/{dataset}.csv"}}
	commit := func(m *Manifest, once bool, content string) error {
		_, err := d.Commit(Commit{Manifest: m, Reports: stage(t, d, specs, m.Logical, content), Once: once})
		return err
	}
	if err := commit(&Manifest{Job: "j", Logical: day(1), Started: time.Now(), Partial: true}, false, "partial"); err != nil {
		t.Fatal(err)
	}
	if err := commit(&Manifest{Job: "j", Logical: day(1), Started: time.Now()}, true, "first"); err != nil {
		t.Fatalf("a partial run kept a scheduled one out: %v", err)
	}
	before := snapshot(t, dir)
	if err := commit(&Manifest{Job: "j", Logical: day(1), Started: time.Now()}, true, "second"); !errors.Is(err, ErrCommitted) {
		t.Fatalf("err = %v, want ErrCommitted", err)
	}
	if got := snapshot(t, dir); !sameMap(got, before) {
		t.Errorf("a refused commit changed the folder: %q", got)
	}
	if err := commit(&Manifest{Job: "j", Logical: day(1), Started: time.Now()}, false, "by hand"); err != nil {
		t.Errorf("a run by hand: %v", err)
	}
	checkRecorded(t, dir)
}

// TestCommitFencedByALaterLeaseHolder: a run whose lease another daemon
// took over (a higher fencing token) and which committed the same time
// since is refused, leaving that report; a later token replaces as usual,
// and another time, or a named lock, is not fenced.
func TestCommitFencedByALaterLeaseHolder(t *testing.T) {
	dir := t.TempDir()
	d := testDir(t, dir)
	specs := []Spec{{Format: "csv", Path: "{job}/{date}/{dataset}.csv"}}
	lease := func(token uint64) *ManifestLock {
		return &ManifestLock{Kind: "lease", Name: "joinery/app/j", Holder: fmt.Sprintf("host-%d/1/run", token), Token: token}
	}
	commit := func(logical time.Time, lock *ManifestLock, content string) error {
		_, err := d.Commit(Commit{Manifest: &Manifest{Job: "j", Logical: logical, Started: time.Now(), Lock: lock}, Reports: stage(t, d, specs, logical, content)})
		return err
	}
	if err := commit(day(1), lease(8), "token 8"); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	err := commit(day(1), lease(7), "token 7")
	if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "host-8/1/run holds token 8, this run 7") {
		t.Fatalf("err = %v, want ErrFenced naming the later holder", err)
	}
	if got := snapshot(t, dir); !sameMap(got, before) {
		t.Errorf("a fenced commit changed the folder: %q", got)
	}
	for _, c := range []struct {
		logical time.Time
		lock    *ManifestLock
		what    string
	}{
		{day(2), lease(7), "another time"},
		{day(1), &ManifestLock{Kind: "named", Name: "joinery/app/j"}, "a named lock"},
		{day(1), lease(9), "a later token"},
	} {
		if err := commit(c.logical, c.lock, c.what); err != nil {
			t.Errorf("%s: %v", c.what, err)
		}
	}
	checkRecorded(t, dir)
}
