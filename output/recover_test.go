package output_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/joinery/joinery/output"
	"github.com/joinery/joinery/output/formats"
)

// recoverSpecs are the outputs of the jobs of TestRecoverAllIsRecoverOfEach:
// those of the commit tests, in a folder per job, and a csv file per
// dataset in a folder that every job shares.
var recoverSpecs = append(slices.Clone(commitSpecs), Spec{Format: "csv", Path: "shared/{date}/{job}-{dataset}.csv"})

// recoverJobs are the jobs of TestRecoverAllIsRecoverOfEach. "busy" is
// being committed by another process (its lock is held), "j-eu" starts
// with the name of "j".
var recoverJobs = []string{"j", "j-eu", "k", "busy"}

// TestRecoverAllIsRecoverOfEach: recovering several jobs at once (as
// schedule does when it starts) leaves the output folder as recovering
// each in turn does, and says the same: half-applied journals finished,
// orphans removed; files held by a live writer (in another process, or
// through another open file description), files that a journal of a job
// not recovered still renames, and the files of a job another process
// holds the lock of, kept.
func TestRecoverAllIsRecoverOfEach(t *testing.T) {
	type outcome struct {
		tree  map[string]string
		notes [][]string
	}
	var got [2]outcome
	for i, mode := range []string{"each", "all"} {
		dir := t.TempDir()
		d := testDir(t, dir)
		held := seedRecover(t, dir)
		// Another process commits job late while job j's orphans are
		// removed: its journal comes after the folders are listed and the
		// journals read for j, and stages a file of job k's name that was
		// there, unlocked (the process died since).
		late := false
		d.Hook = func(step, p string) error {
			if step == "remove" && p == filepath.FromSlash("j/2024-03-02/.a.csv.tmp-0aa") && !late {
				late = true
				data, _ := json.Marshal(Journal{Job: "late", Logical: day(2), Renames: []JournalRename{
					{From: "k/2024-03-02/.a.csv.tmp-0dd", To: "k/2024-03-02/x.csv", Size: 6, SHA256: "00"},
				}})
				return os.WriteFile(filepath.Join(dir, JournalPath("late")), data, 0o644)
			}
			return nil
		}
		holdInChild(t, held)
		files := make([]JobFiles, len(recoverJobs))
		for k, job := range recoverJobs {
			files[k] = JobFiles{Job: job, Datasets: commitDatasets, Specs: recoverSpecs, Formats: formats.Default()}
		}
		var notes [][]string
		if mode == "each" {
			for _, f := range files {
				n, err := d.Recover(f)
				if err != nil {
					t.Fatalf("%s: Recover(%s): %v", mode, f.Job, err)
				}
				notes = append(notes, n)
			}
		} else {
			for k, r := range d.RecoverAll(files) {
				if r.Err != nil {
					t.Fatalf("%s: RecoverAll: job %s: %v", mode, files[k].Job, r.Err)
				}
				notes = append(notes, r.Notes)
			}
		}
		for k := range notes {
			for n := range notes[k] {
				notes[k][n] = strings.ReplaceAll(notes[k][n], dir, "<output_dir>")
			}
		}
		got[i] = outcome{tree: readTree(t, dir), notes: notes}

		tree := got[i].tree
		for _, job := range []string{"j", "j-eu", "k"} {
			for _, p := range []string{
				".joinery/" + job + ".commit.json", // finished
				job + "/2024-03-01/a.csv",          // superseded by the journal
				job + "/2024-03-02/.a.csv.tmp-0aa", // orphans
				"shared/2024-03-02/." + job + "-a.csv.tmp-0bb",
				".joinery/." + job + ".json.tmp-0cc",
			} {
				if _, ok := tree[p]; ok {
					t.Errorf("%s: %s is still there", mode, p)
				}
			}
			for p, want := range map[string]string{
				job + "/2024-03-02/a.csv":                      "a of " + job, // renamed before the crash
				job + "/2024-03-02/b.csv":                      "b of " + job, // renamed by the recovery
				job + "/2024-03-02/.b.csv.tmp-111":             "live",
				"shared/2024-03-02/." + job + "-b.csv.tmp-222": "live",
			} {
				if tree[p] != want {
					t.Errorf("%s: %s holds %q, want %q", mode, p, tree[p], want)
				}
			}
		}
		for _, p := range []string{
			".joinery/busy.commit.json", "busy/2024-03-01/a.csv", "busy/2024-03-02/.a.csv.tmp-0aa",
			"busy/2024-03-02/.b.csv.tmp-555", "shared/2024-03-02/.busy-a.csv.tmp-0bb",
			"j/2024-03-02/.a.csv.tmp-0badf00d", // another job's journal renames it
			"k/2024-03-02/.a.csv.tmp-0dd",      // and one written meanwhile
			".joinery/.joinery-probe-2",        // a check in progress
		} {
			if _, ok := tree[p]; !ok {
				t.Errorf("%s: %s was removed, want it kept", mode, p)
			}
		}
		if _, ok := tree[".joinery-probe-1"]; ok {
			t.Errorf("%s: the stale probe file is still there", mode)
		}
	}
	if !maps.Equal(got[0].tree, got[1].tree) {
		for _, p := range slices.Sorted(maps.Keys(got[0].tree)) {
			if v, ok := got[1].tree[p]; !ok || v != got[0].tree[p] {
				t.Errorf("%s: after each Recover %q, after RecoverAll %q (present: %v)", p, got[0].tree[p], v, ok)
			}
		}
		for p := range got[1].tree {
			if _, ok := got[0].tree[p]; !ok {
				t.Errorf("%s: left by RecoverAll, not by each Recover", p)
			}
		}
	}
	for k, job := range recoverJobs {
		if !slices.Equal(got[0].notes[k], got[1].notes[k]) {
			t.Errorf("job %s: notes of Recover %q, of RecoverAll %q", job, got[0].notes[k], got[1].notes[k])
		}
	}
	if len(got[1].notes[0]) == 0 {
		t.Error("no notes: nothing was recovered")
	}
}

// seedRecover fills dir with what dead and live runs of recoverJobs left,
// and returns the files a live writer in another process must hold. It
// holds the lock of job busy, and some temporary files, through open
// file descriptions of its own until the test ends.
func seedRecover(t *testing.T, dir string) (held []string) {
	t.Helper()
	write := func(rel, content string) string {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	hold := func(p string) {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if err := LockFile(f); err != nil {
			t.Fatal(err)
		}
	}
	writeJournal := func(j Journal) {
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		write(JournalPath(j.Job), string(data))
	}
	for _, job := range recoverJobs {
		old := "old a of " + job
		write(job+"/2024-03-01/a.csv", old)
		// A commit that died after renaming a.csv into place.
		a, b := "a of "+job, "b of "+job
		write(job+"/2024-03-02/a.csv", a)
		write(job+"/2024-03-02/.b.csv.tmp-555", b)
		writeJournal(Journal{
			Job: job, Logical: day(2),
			Renames: []JournalRename{
				{From: job + "/2024-03-02/.a.csv.tmp-555", To: job + "/2024-03-02/a.csv", Size: int64(len(a)), SHA256: sum(a)},
				{From: job + "/2024-03-02/.b.csv.tmp-555", To: job + "/2024-03-02/b.csv", Size: int64(len(b)), SHA256: sum(b)},
			},
			Removes: []JournalFile{{Path: job + "/2024-03-01/a.csv", Size: int64(len(old)), SHA256: sum(old)}},
		})
		// Orphans, in the job's folder, the shared one and the state folder.
		write(job+"/2024-03-02/.a.csv.tmp-0aa", "orphan")
		write("shared/2024-03-02/."+job+"-a.csv.tmp-0bb", "orphan")
		write(".joinery/."+job+".json.tmp-0cc", "orphan")
		// Live writers: through another file description here, and in
		// another process.
		hold(write(job+"/2024-03-02/.b.csv.tmp-111", "live"))
		held = append(held, write("shared/2024-03-02/."+job+"-b.csv.tmp-222", "live"))
	}
	// A job not recovered here whose journal stages a file with a name of
	// job j.
	write("j/2024-03-02/.a.csv.tmp-0badf00d", "staged")
	writeJournal(Journal{Job: "other", Logical: day(2), Renames: []JournalRename{
		{From: "j/2024-03-02/.a.csv.tmp-0badf00d", To: "j/2024-03-02/x.csv", Size: 6, SHA256: sum("staged")},
	}})
	write("k/2024-03-02/.a.csv.tmp-0dd", "staged")
	// Another process commits job busy.
	hold(write(".joinery/busy.lock", ""))
	// The start-up check's probes: one left by a check that died, one in
	// progress.
	stale := write(".joinery-probe-1", "")
	at := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(stale, at, at); err != nil {
		t.Fatal(err)
	}
	write(".joinery/.joinery-probe-2", "")
	return held
}

// holdInChild starts this test binary, running TestRecoverHoldsLocks, to
// hold the flock of each of files until the test ends.
func holdInChild(t *testing.T, files []string) {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^TestRecoverHoldsLocks$")
	c.Env = append(os.Environ(), "JOINERY_TEST_HOLD="+strings.Join(files, "\n"))
	c.Stderr = os.Stderr
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = c.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("the process holding the locks said %q, %v", line, err)
	}
}

// TestRecoverHoldsLocks is the process of holdInChild when
// JOINERY_TEST_HOLD is set: it locks each file the variable names (one a
// line), says "locked" and holds them until its standard input ends.
func TestRecoverHoldsLocks(t *testing.T) {
	list := os.Getenv("JOINERY_TEST_HOLD")
	if list == "" {
		t.Skip("run by TestRecoverAllIsRecoverOfEach")
	}
	for _, p := range strings.Split(list, "\n") {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := LockFile(f); err != nil {
			t.Fatal(err)
		}
	}
	os.Stdout.WriteString("locked\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString(0)
}

// readTree returns every file and link under dir: content, or "-> target".
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if e.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			tree[rel] = "-> " + target
			return err
		}
		data, err := os.ReadFile(p)
		tree[rel] = string(data)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}
