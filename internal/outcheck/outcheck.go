// Package outcheck checks an output folder against the promise of
// joinery's commit protocol (output/commit.go), for tests: every report
// file is complete and recorded, by a manifest or, while a commit is
// pending, by its journal; every manifest's files are as it recorded them;
// every latest name leads to a report a manifest records (or, while a
// commit is pending, its journal: a run for the same logical time replaces
// the file a link leads to); and, once
// nothing is pending, no temporary file or journal is left and the latest
// names lead to the newest logical time.
//
// It reads the files as a stranger would, with its own idea of their
// format, so that it does not share the bugs of the code it checks.
package outcheck

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Manifest is what the checks read of a manifest.
type Manifest struct {
	Path    string    // relative to the folder
	Job     string    `json:"job"`
	Logical time.Time `json:"logical_time"`
	Started time.Time `json:"started"`
	Partial bool      `json:"partial"`
	Files   []struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
		Latest string `json:"latest"`
	} `json:"files"`
}

type journal struct {
	Job     string `json:"job"`
	Removes []struct {
		Path string `json:"path"`
	} `json:"removes"`
	Renames []struct {
		From   string `json:"from"`
		To     string `json:"to"`
		SHA256 string `json:"sha256"`
		Link   string `json:"link"`
	} `json:"renames"`
}

// Options say what else is in the folder.
type Options struct {
	// Pending allows a commit in progress: a journal and temporary files
	// (a run was killed, and the next one will finish or remove them).
	Pending bool
	// Latest reports whether a path (relative, with slashes) is a latest
	// name of the job.
	Latest func(rel string) bool
	// Foreign reports whether a path is not joinery's (left alone).
	Foreign func(rel string) bool
}

var tempName = regexp.MustCompile(`^\..+\.tmp-[0-9a-f]+$`)

// Check checks job's files in dir and returns its manifests by logical
// time (in UTC), and what is wrong.
func Check(dir, job string, o Options) (map[time.Time]Manifest, []string) {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	manifests := make(map[time.Time]Manifest)
	recorded := make(map[string]string) // path -> sha256, by manifests
	pending := make(map[string]string)  // path -> sha256 or "-> target", by the journal
	going := make(map[string]bool)      // paths the journal removes
	var reports, latest []string

	if data, err := os.ReadFile(filepath.Join(dir, ".joinery", job+".commit.json")); err == nil {
		if !o.Pending {
			fail("a commit journal is left")
		}
		var j journal
		if err := json.Unmarshal(data, &j); err != nil || j.Job != job {
			fail("journal: not a journal of %s: %v", job, err)
		}
		for _, r := range j.Removes {
			going[r.Path] = true
		}
		for _, r := range j.Renames {
			if r.Link != "" {
				pending[r.To] = "-> " + r.Link
			} else {
				pending[r.To] = r.SHA256
			}
			// The journal can still be applied: each file is staged, or
			// in place already.
			if !holds(filepath.Join(dir, r.From), r.SHA256, r.Link) && !holds(filepath.Join(dir, r.To), r.SHA256, r.Link) {
				fail("journal: %s is neither staged (%s) nor in place", r.To, r.From)
			}
		}
	}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		name := e.Name()
		switch {
		case e.IsDir() && rel == ".joinery":
			entries, _ := os.ReadDir(p)
			for _, x := range entries {
				if tempName.MatchString(x.Name()) && !o.Pending {
					fail("temporary file left: .joinery/%s", x.Name())
				}
			}
			return fs.SkipDir
		case e.IsDir():
		case o.Foreign != nil && o.Foreign(rel):
		case tempName.MatchString(name):
			if !o.Pending {
				fail("temporary file left: %s", rel)
			}
		case strings.HasSuffix(name, ".manifest.json") && strings.HasPrefix(name, job+"-"):
			var m Manifest
			data, _ := os.ReadFile(p)
			if err := json.Unmarshal(data, &m); err != nil {
				fail("manifest %s: %v", rel, err)
				return nil
			}
			m.Path = rel
			m.Logical = m.Logical.UTC()
			if other, dup := manifests[m.Logical]; dup {
				fail("two manifests for %s: %s and %s", m.Logical, other.Path, rel)
			}
			manifests[m.Logical] = m
			for _, f := range m.Files {
				recorded[f.Path] = f.SHA256
			}
		case o.Latest != nil && o.Latest(rel):
			latest = append(latest, rel)
		default:
			reports = append(reports, rel)
		}
		return nil
	})
	if err != nil {
		fail("walk: %v", err)
	}
	// rewritten reports whether a run later than l wrote path again, with
	// the content sum: a path without a date holds the newest run's file.
	rewritten := func(l time.Time, path, sum string) bool {
		for l2, m := range manifests {
			for _, f := range m.Files {
				if l2.After(l) && f.Path == path && f.SHA256 == sum {
					return true
				}
			}
		}
		return false
	}
	for l, m := range manifests {
		if o.Pending && going[m.Path] {
			continue // a run the pending journal deletes, file by file
		}
		for _, f := range m.Files {
			sum, err := sha(filepath.Join(dir, f.Path))
			if err == nil && (sum == f.SHA256 || rewritten(l, f.Path, sum)) || o.Pending && pending[f.Path] == sum {
				continue
			}
			fail("%s, recorded by %s, is not as recorded (%v)", f.Path, m.Path, err)
		}
	}
	for _, rel := range reports {
		sum, err := sha(filepath.Join(dir, rel))
		if err != nil {
			fail("%s: %v", rel, err)
			continue
		}
		if recorded[rel] != sum && (!o.Pending || pending[rel] != sum) {
			fail("%s is not recorded by a manifest", rel)
		}
	}
	for _, rel := range latest {
		sum, err := sha(filepath.Join(dir, rel))
		if err != nil {
			fail("latest %s: %v", rel, err)
			continue
		}
		// The run that moved the name last, and the file it moved it to.
		var owner time.Time
		want := ""
		for l, m := range manifests {
			for _, f := range m.Files {
				if f.Latest == rel && !m.Partial && (want == "" || l.After(owner)) {
					owner, want = l, f.SHA256
				}
			}
		}
		recordedSum := false
		for _, v := range recorded {
			recordedSum = recordedSum || v == sum
		}
		for _, v := range pending {
			recordedSum = recordedSum || o.Pending && v == sum
		}
		switch {
		case !recordedSum:
			fail("latest %s leads to no recorded report", rel)
		case !o.Pending && want != "" && want != sum:
			fail("latest %s does not lead to the file the run of %s moved it to", rel, owner)
		}
	}
	return manifests, problems
}

// holds reports whether p is a link to link, or a file with the SHA-256 sum.
func holds(p, sum, link string) bool {
	if link != "" {
		target, err := os.Readlink(p)
		return err == nil && filepath.ToSlash(target) == link
	}
	got, err := sha(p)
	return err == nil && got == sum
}

// sha returns the hex SHA-256 of the file p leads to.
func sha(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}
