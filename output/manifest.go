package output

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ManifestSuffix ends the name of every manifest joinery writes.
const ManifestSuffix = ".manifest.json"

// Manifest describes one run and the files it wrote. WriteManifest puts it
// beside the files; Retain reads the manifests back to know which files
// joinery wrote.
type Manifest struct {
	Job      string         `json:"job"`
	Logical  time.Time      `json:"logical_time"`
	Window   *Window        `json:"window,omitempty"`
	Started  time.Time      `json:"started"`
	Duration float64        `json:"duration_seconds"`
	Version  string         `json:"joinery_version"`
	DBHost   string         `json:"database_host,omitempty"`
	Datasets []ManifestSet  `json:"datasets"`
	Files    []ManifestFile `json:"files"`
	Warnings []string       `json:"warnings,omitempty"`
}

// Window is a run's data window.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ManifestSet is one dataset of a run.
type ManifestSet struct {
	Name      string  `json:"name"`
	Rows      int64   `json:"rows"`
	SQLSHA256 string  `json:"sql_sha256"` // of the SQL text, without its arguments
	Duration  float64 `json:"duration_seconds"`
}

// ManifestFile is one file of a run. Paths are relative to output_dir.
type ManifestFile struct {
	Path     string        `json:"path"`
	Format   string        `json:"format"`
	Size     int64         `json:"size"`
	SHA256   string        `json:"sha256"`
	Rows     int64         `json:"rows"`
	Datasets []DatasetRows `json:"datasets"`
	Latest   string        `json:"latest,omitempty"`
}

// ManifestFiles converts a Report's files for a manifest, with paths
// relative to dir (output_dir).
func ManifestFiles(dir string, files []File) ([]ManifestFile, error) {
	out := make([]ManifestFile, len(files))
	for i, f := range files {
		rel, err := filepath.Rel(dir, f.Path)
		if err != nil {
			return nil, err
		}
		out[i] = ManifestFile{Path: filepath.ToSlash(rel), Format: f.Format, Size: f.Size, SHA256: f.SHA256, Rows: f.Rows, Datasets: f.Datasets}
		if f.Latest != "" {
			if rel, err = filepath.Rel(dir, f.Latest); err == nil {
				out[i].Latest = filepath.ToSlash(rel)
			}
		}
	}
	return out, nil
}

// SQLHash is the hex SHA-256 of a query's text, for manifests.
func SQLHash(sql string) string {
	h := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(h[:])
}

// WriteManifest writes m atomically into the folder of its first file, as
// "<job>-<start time in UTC>.manifest.json", and returns its path. A run
// without files gets no manifest ("" and no error).
func WriteManifest(dir string, m *Manifest) (string, error) {
	if len(m.Files) == 0 {
		return "", nil
	}
	name := m.Job + "-" + m.Started.UTC().Format("20060102T150405.000Z") + ManifestSuffix
	dest := filepath.Join(dir, filepath.FromSlash(filepath.Dir(m.Files[0].Path)), name)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	tf, err := createTemp(dest)
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	if _, err := tf.Write(append(data, '\n')); err != nil {
		_ = tf.remove()
		return "", fmt.Errorf("manifest: %w", err)
	}
	if err := tf.finish(); err != nil {
		_ = tf.remove()
		return "", fmt.Errorf("manifest: %w", err)
	}
	if err := os.Rename(tf.tmp, dest); err != nil {
		_ = tf.remove()
		return "", fmt.Errorf("manifest: %w", err)
	}
	return dest, syncDir(filepath.Dir(dest))
}

// Retention says how many runs of a job keep their files. With both set a
// run is kept when either keeps it; with neither nothing is deleted. The
// newest run is always kept, so a "latest" link never dangles.
type Retention struct {
	Keep int `yaml:"keep"` // the newest N runs
	Days int `yaml:"days"` // runs started in the last D days
}

// Retain deletes the files of job's runs that r no longer keeps. It only
// ever deletes what a manifest under dir lists, only when the file still
// has the size and SHA-256 joinery wrote, and never a file that a kept
// run lists too; then the manifest itself and any folder left empty.
// It returns the paths deleted and warnings about files it left alone.
func Retain(dir, job string, r Retention, now time.Time) (deleted, warnings []string, err error) {
	if r.Keep <= 0 && r.Days <= 0 {
		return nil, nil, nil
	}
	type run struct {
		path string
		m    Manifest
	}
	var runs []run
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // an unreadable folder holds nothing to delete
		}
		name := d.Name()
		if d.IsDir() || !strings.HasPrefix(name, job+"-") || !strings.HasSuffix(name, ManifestSuffix) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("retention: read %s: %v", p, err))
			return nil
		}
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil || m.Job != job {
			return nil // not one of this job's manifests
		}
		runs = append(runs, run{p, m})
		return nil
	})
	if err != nil {
		return nil, warnings, fmt.Errorf("retention: %w", err)
	}
	slices.SortFunc(runs, func(a, b run) int { return b.m.Started.Compare(a.m.Started) })
	keep := func(i int) bool {
		return i == 0 || i < r.Keep || r.Days > 0 && now.Sub(runs[i].m.Started) <= time.Duration(r.Days)*24*time.Hour
	}
	protected := make(map[string]bool)
	for i, x := range runs {
		if keep(i) {
			for _, f := range x.m.Files {
				protected[f.Path] = true
			}
		}
	}
	for i, x := range runs {
		if keep(i) {
			continue
		}
		for _, f := range x.m.Files {
			if protected[f.Path] {
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
				warnings = append(warnings, fmt.Sprintf("retention: %s lists %s, outside output_dir: left alone", x.path, f.Path))
				continue
			}
			same, err := sameFile(p, f.Size, f.SHA256)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				continue
			case err != nil:
				warnings = append(warnings, fmt.Sprintf("retention: %v", err))
				continue
			case !same:
				warnings = append(warnings, fmt.Sprintf("retention: %s changed since joinery wrote it: left alone", p))
				continue
			}
			if err := os.Remove(p); err != nil {
				warnings = append(warnings, fmt.Sprintf("retention: %v", err))
				continue
			}
			deleted = append(deleted, p)
			removeEmptyDirs(dir, filepath.Dir(p))
		}
		if err := os.Remove(x.path); err != nil {
			warnings = append(warnings, fmt.Sprintf("retention: %v", err))
			continue
		}
		deleted = append(deleted, x.path)
		removeEmptyDirs(dir, filepath.Dir(x.path))
	}
	return deleted, warnings, nil
}

// sameFile reports whether the regular file at p has the given size and
// SHA-256.
func sameFile(p string, size int64, sum string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return false, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == sum, nil
}

// removeEmptyDirs removes d and its parents while they are empty, up to
// but not including root.
func removeEmptyDirs(root, d string) {
	for {
		rel, err := filepath.Rel(root, d)
		if err != nil || rel == "." || !filepath.IsLocal(rel) {
			return
		}
		if os.Remove(d) != nil { // fails when not empty
			return
		}
		d = filepath.Dir(d)
	}
}
