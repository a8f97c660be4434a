package output_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/joinery/joinery/output"
)

// fakeRun writes files with the given contents under dir and a manifest
// for them, as a run for the logical time logical would, in the folder of
// its first file (in name order).
func fakeRun(t *testing.T, dir, job string, logical time.Time, files map[string]string) string {
	t.Helper()
	m := &Manifest{Job: job, Started: logical, Logical: logical}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(files[name]))
		m.Files = append(m.Files, ManifestFile{Path: name, Size: int64(len(files[name])), SHA256: hex.EncodeToString(sum[:])})
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Dir(names[0]), ManifestName(job, logical, nil))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRetain(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	setup := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		var ms []string
		for i := range 4 {
			d := t0.Add(time.Duration(i) * day).Format("2006-01-02")
			ms = append(ms, fakeRun(t, dir, "j", t0.Add(time.Duration(i)*day), map[string]string{
				"j/" + d + "/r.csv": "run " + d, "j/shared.csv": "same every run",
			}))
		}
		// Not joinery's: another job's run, a file of our own beside them.
		fakeRun(t, dir, "j-other", t0, map[string]string{"j/2024-03-01/other.csv": "x"})
		os.WriteFile(filepath.Join(dir, "j/2024-03-01/notes.txt"), []byte("mine"), 0o644)
		return dir, ms
	}
	t.Run("keep 2", func(t *testing.T) {
		dir, ms := setup(t)
		// Someone edited the second run's file: it is no longer joinery's.
		os.WriteFile(filepath.Join(dir, "j/2024-03-02/r.csv"), []byte("edited"), 0o644)
		deleted, warns, err := testDir(t, dir).Retain("j", Retention{Keep: 2}, t0.Add(10*day), t0.Add(3*day))
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range []string{"j/2024-03-01/r.csv"} {
			if exists(filepath.Join(dir, rel)) {
				t.Errorf("%s not deleted", rel)
			}
		}
		for _, p := range []string{ms[0], ms[1]} {
			if exists(p) {
				t.Errorf("manifest %s not deleted", p)
			}
		}
		for _, rel := range []string{"j/2024-03-02/r.csv", "j/2024-03-03/r.csv", "j/2024-03-04/r.csv", "j/shared.csv",
			"j/2024-03-01/notes.txt", "j/2024-03-01/other.csv"} {
			if !exists(filepath.Join(dir, rel)) {
				t.Errorf("%s deleted, want it kept", rel)
			}
		}
		if !exists(ms[2]) || !exists(ms[3]) {
			t.Error("a kept run's manifest was deleted")
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "2024-03-02/r.csv changed since joinery wrote it") {
			t.Errorf("warnings = %q", warns)
		}
		if len(deleted) != 3 {
			t.Errorf("deleted = %q, want one report and two manifests", deleted)
		}
	})
	t.Run("days, and empty folders go", func(t *testing.T) {
		dir, ms := setup(t)
		os.Remove(filepath.Join(dir, "j/2024-03-01/notes.txt"))
		os.Remove(filepath.Join(dir, "j/2024-03-01/other.csv"))
		if _, _, err := testDir(t, dir).Retain("j", Retention{Days: 2}, t0.Add(3*day+time.Hour), t0.Add(3*day)); err != nil {
			t.Fatal(err)
		}
		// Logical times 3d1h, 2d1h, 1d1h and 1h ago: the last two stay.
		for i, want := range []bool{false, false, true, true} {
			if exists(ms[i]) != want {
				t.Errorf("run %d kept = %v, want %v", i, !want, want)
			}
		}
		if exists(filepath.Join(dir, "j/2024-03-02")) {
			t.Error("the emptied folder j/2024-03-02 was left")
		}
	})
	t.Run("the newest run is always kept", func(t *testing.T) {
		dir, ms := setup(t)
		if _, _, err := testDir(t, dir).Retain("j", Retention{Days: 1}, t0.Add(100*day), t0.Add(3*day)); err != nil {
			t.Fatal(err)
		}
		if !exists(ms[3]) || exists(ms[2]) {
			t.Error("want only the newest run kept")
		}
	})
	t.Run("no policy deletes nothing", func(t *testing.T) {
		dir, ms := setup(t)
		if d, _, err := testDir(t, dir).Retain("j", Retention{}, t0.Add(100*day), t0.Add(3*day)); err != nil || len(d) != 0 || !exists(ms[0]) {
			t.Errorf("deleted %q, %v", d, err)
		}
	})
}

// TestCommitManifest: the manifest is named by the run's logical time, in
// the folder of the run's first file, and lists each file with its size,
// SHA-256 and rows, relative to output_dir.
func TestCommitManifest(t *testing.T) {
	dir := t.TempDir()
	vars := Vars{Job: "j", Logical: time.Date(2024, 3, 1, 6, 0, 0, 0, time.FixedZone("CET", 3600))}
	r, _ := openT(Spec{Format: "csv", Path: "out/{dataset}"}, dir, vars)
	w, _ := r.Dataset("a", []Column{{Name: "n", Kind: KindInt}})
	w.WriteRow([]Value{{Raw: []byte("1")}})
	w.WriteRow([]Value{{Raw: []byte("2")}})
	w.Close()
	files, err := r.Commit()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(files[0])
	sum := sha256.Sum256(body)
	want := ManifestFile{Path: "out/a.csv", Format: "csv", Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), Rows: 2,
		Datasets: []DatasetRows{{Name: "a", Rows: 2}}}
	p := filepath.Join(dir, "out", "j-20240301T050000Z.manifest.json")
	var back Manifest
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	mf := back.Files
	if len(mf) != 1 || mf[0].Path != want.Path || mf[0].SHA256 != want.SHA256 || mf[0].Size != want.Size || mf[0].Rows != 2 || mf[0].Datasets[0].Name != "a" || mf[0].Datasets[0].Rows != 2 {
		t.Errorf("got %+v, want %+v", mf, want)
	}
	if !back.Logical.Equal(vars.Logical) || back.Job != "j" {
		t.Errorf("manifest of %s at %s", back.Job, back.Logical)
	}
}

func TestLatest(t *testing.T) {
	cols := []Column{{Name: "n", Kind: KindInt}}
	for _, mode := range []string{"link", "copy"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			spec := Spec{Format: "csv", Path: "{job}/{date}/{dataset}", Latest: "{job}/latest-{dataset}", LatestMode: mode}
			for i, day := range []int{1, 2} {
				vars := Vars{Job: "j", Logical: time.Date(2024, 3, day, 0, 0, 0, 0, time.UTC)}
				writeReport(t, spec, dir, vars, []testDataset{{name: "d", cols: cols, rows: [][]sql.RawBytes{raw(string(rune('1' + i)))}}})
			}
			latest := filepath.Join(dir, "j", "latest-d.csv")
			got, err := os.ReadFile(latest)
			if err != nil || string(got) != "n\r\n2\r\n" {
				t.Fatalf("latest = %q, %v; want the second run", got, err)
			}
			target, err := os.Readlink(latest)
			switch mode {
			case "link":
				if err != nil || target != filepath.Join("2024-03-02", "d.csv") {
					t.Errorf("link target = %q, %v; want a relative link", target, err)
				}
			case "copy":
				if err == nil {
					t.Errorf("copy mode made a link to %s", target)
				}
			}
		})
	}
}

// TestLastRun: the newest logical time of a job's complete runs, whatever
// the order the manifests were written in; partial runs, other jobs'
// manifests and files that are not manifests do not count.
func TestLastRun(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, _, err := d.LastRun("j"); err != nil || !got.IsZero() {
		t.Fatalf("no manifests: LastRun = %v, %v; want the zero time", got, err)
	}
	fakeRun(t, dir, "j", t0.Add(48*time.Hour), map[string]string{"j/b.csv": "b"})
	fakeRun(t, dir, "j", t0, map[string]string{"j/a.csv": "a"})
	fakeRun(t, dir, "j-other", t0.Add(96*time.Hour), map[string]string{"o/c.csv": "c"})
	partial := fakeRun(t, dir, "j", t0.Add(72*time.Hour), map[string]string{"j/p.csv": "p"})
	var m Manifest
	data, _ := os.ReadFile(partial)
	json.Unmarshal(data, &m)
	m.Partial = true
	data, _ = json.Marshal(m)
	os.WriteFile(partial, data, 0o644)
	os.WriteFile(filepath.Join(dir, "j", "j-broken"+ManifestSuffix), []byte("{"), 0o644)
	got, _, err := d.LastRun("j")
	if err != nil || !got.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("LastRun = %v, %v; want %v", got, err, t0.Add(48*time.Hour))
	}
}

// TestRunsOf: one walk finds the runs of each job asked for, newest
// first, and of no other; "j" and "j-other" are told apart.
func TestRunsOf(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	fakeRun(t, dir, "j", t0, map[string]string{"j/a.csv": "a"})
	fakeRun(t, dir, "j", t0.Add(24*time.Hour), map[string]string{"j/b.csv": "b"})
	fakeRun(t, dir, "j-other", t0, map[string]string{"o/c.csv": "c"})
	fakeRun(t, dir, "k", t0, map[string]string{"k/d.csv": "d"})
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, _, err := d.RunsOf([]string{"j", "j-other", "none"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got["j"]) != 2 || len(got["j-other"]) != 1 || got["j"][0].Manifest.Files[0].Path != "j/b.csv" {
		t.Errorf("RunsOf = %+v", got)
	}
	one, _, err := d.Runs("j")
	if err != nil || len(one) != 2 || one[0].Path != got["j"][0].Path {
		t.Errorf("Runs(j) = %+v, %v", one, err)
	}
}
