//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
)

// TestImage runs the Docker image without Docker: the binary built as the
// Dockerfile builds it, laid out where its final stage puts it, run with
// that stage's environment, working folder, entrypoint and command, as its
// non-root user (uid 65532 when the test runs as root, as CI does;
// otherwise the current user), with the shipped config.yaml mounted
// read-only at the image's config path.
func TestImage(t *testing.T) {
	img := parseDockerfile(t, "../../Dockerfile")
	bin := goBuild(t, "../..", img.buildEnv, img.buildArgs...)
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dsn := testdb.DSN(t)
	shipped, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("run --all writes the shipped jobs' reports to the image's reports folder", func(t *testing.T) {
		root := img.install(t, bin, shipped)
		r := runCmd(t, img.command(t.Context(), root, dsn, "run", "--all"))
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		reports := root + img.reports
		var wrote []string
		for line := range strings.Lines(r.stdout) {
			if f, ok := strings.CutPrefix(strings.TrimSpace(line), "wrote "); ok {
				wrote = append(wrote, f)
				if !strings.HasPrefix(f, reports+"/") {
					t.Errorf("wrote %s, outside %s", f, reports)
				}
			}
		}
		for _, job := range []string{"users-posts", "monthly-authors", "active-authors"} {
			if !strings.Contains(r.stdout, job+": ok") {
				t.Errorf("stdout lacks %s: ok:\n%s", job, r.stdout)
			}
			if _, err := os.Stat(filepath.Join(reports, ".joinery", job+".json")); err != nil {
				t.Errorf("no state recorded for %s: %v", job, err)
			}
		}
		// The users-posts CSV of users_with_posts: the 16 joined rows of
		// the seed data (testdb.SeedUsersPosts), every column the shipped
		// config selects.
		i := slices.IndexFunc(wrote, func(f string) bool { return strings.HasSuffix(f, ".csv") && strings.Contains(f, "users_with_posts") })
		if i < 0 {
			t.Fatalf("no users_with_posts CSV written:\n%s", r.stdout)
		}
		if recs := readCSV(t, wrote[i]); len(recs) != 17 || len(recs[0]) != 10 {
			t.Errorf("%s: %d records, the first %q; want a header of 10 fields and 16 rows", wrote[i], len(recs), recs[:min(len(recs), 1)])
		}
		if len(wrote) < 8 {
			t.Errorf("wrote %d files, want the shipped jobs' 8 or more:\n%s", len(wrote), r.stdout)
		}
		// Everything under the reports folder belongs to the image's user,
		// and the config's folder holds the config alone.
		filepath.WalkDir(reports, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Error(err)
				return nil
			}
			fi, _ := os.Lstat(path)
			if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != img.uid {
				t.Errorf("%s belongs to uid %d, want %d", path, uid, img.uid)
			}
			if strings.HasPrefix(d.Name(), ".joinery-probe-") || strings.Contains(d.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", path)
			}
			return nil
		})
		if entries, _ := os.ReadDir(filepath.Dir(root + img.configPath)); len(entries) != 1 {
			t.Errorf("the config's folder holds %d entries, want the config alone", len(entries))
		}
	})

	t.Run("schedule, the image's command, starts and stops on SIGTERM", func(t *testing.T) {
		root := img.install(t, bin, shipped)
		d := startCmd(t, img.command(t.Context(), root, dsn, img.cmd...))
		d.waitForLog(t, `"msg":"scheduler started"`)
		log := d.stop(t)
		if strings.Contains(log, `"level":"ERROR"`) || !strings.Contains(log, `"msg":"scheduler stopped"`) {
			t.Errorf("log:\n%s", log)
		}
	})

	t.Run("the former output_dir, beside the mounted config, stops run and schedule at once with exit 2", func(t *testing.T) {
		const line = "output_dir: ${JOINERY_OUTPUT_DIR:-reports}\n"
		if !strings.Contains(string(shipped), line) {
			t.Fatalf("the shipped config.yaml has no line %q", line)
		}
		root := img.install(t, bin, []byte(strings.Replace(string(shipped), line, "output_dir: reports\n", 1)))
		dir := filepath.Join(filepath.Dir(root+img.configPath), "reports")
		for _, args := range [][]string{{"run", "--all"}, img.cmd} {
			// A check that let the daemon start would hang the test: a
			// minute is ample for exiting at once.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			r := runCmd(t, img.command(ctx, root, dsn, args...))
			cancel()
			if r.code != exitUsage || r.stdout != "" {
				t.Errorf("%q: exit %d, want %d and nothing on stdout\n%s\n%s", args, r.code, exitUsage, r.stdout, r.stderr)
			}
			want := fmt.Sprintf(`joinery: cannot write reports to %s (output_dir "reports" in %s, relative to the config file's folder): mkdir %s: `, dir, root+img.configPath, dir)
			reason, ok := strings.CutPrefix(r.stderr, want)
			if !ok || !strings.HasPrefix(reason, "permission denied") && !strings.HasPrefix(reason, "read-only file system") {
				t.Errorf("%q: stderr\n%s\nwant\n%spermission denied (or read-only file system)", args, r.stderr, want)
			}
			// Nothing started, so nothing was tried again.
			for _, never := range []string{"run started", "retry", "scheduler started", "connect"} {
				if strings.Contains(r.stderr, never) {
					t.Errorf("%q: stderr has %q:\n%s", args, never, r.stderr)
				}
			}
		}
	})
}

// dockerImage is what TestImage takes from the Dockerfile.
type dockerImage struct {
	buildEnv   []string          // go build's environment (CGO_ENABLED=0)
	buildArgs  []string          // its flags and package, without -o
	binary     string            // where the final stage puts the binary
	dirs       map[string]string // folders the final stage copies in -> their owner ("" for root)
	env        map[string]string // the final stage's ENV
	envOrder   []string
	configPath string // $JOINERY_CONFIG
	reports    string // the folder the final stage gives its user
	user       string // USER's name
	uid, gid   int    // the user's ids, as the test runs them
	workdir    string
	entrypoint []string
	cmd        []string
}

// distroless is the user table of the distroless base images.
var distroless = map[string]int{"root": 0, "nonroot": 65532}

// parseDockerfile reads the parts of the Dockerfile that TestImage
// emulates. Anything it does not know how to emulate fails the test, so
// that the Dockerfile cannot change under the test unnoticed.
func parseDockerfile(t *testing.T, path string) *dockerImage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: "+format+" (TestImage does not know how to emulate that: update it with the Dockerfile)", append([]any{path}, args...)...)
	}
	// Instructions, with continued lines joined and comments left out.
	var instrs [][2]string
	var cur strings.Builder
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" && cur.Len() == 0 {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		keyword, rest, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		instrs = append(instrs, [2]string{strings.ToUpper(keyword), strings.TrimSpace(rest)})
		cur.Reset()
	}

	img := &dockerImage{dirs: map[string]string{}, env: map[string]string{}}
	var (
		stages   int
		args     = map[string]string{}
		made     = map[string]bool{} // folders the build stage makes
		buildOut string              // go build's -o
	)
	for _, in := range instrs {
		keyword, rest := in[0], in[1]
		if keyword == "FROM" {
			stages++
			if stages > 2 {
				fail("more than two stages")
			}
			if stages == 2 && !strings.HasPrefix(rest, "gcr.io/distroless/") {
				fail("the final stage is FROM %s, not a distroless image", rest)
			}
			continue
		}
		if stages == 1 { // the build stage
			switch keyword {
			case "ARG":
				name, value, _ := strings.Cut(rest, "=")
				args[name] = value
			case "RUN":
				words, err := shellWords(rest)
				if err != nil {
					fail("RUN %s: %v", rest, err)
				}
				for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
					words = words[1:]
				}
				for i := range words {
					words[i] = os.Expand(words[i], func(name string) string {
						v, ok := args[name]
						if !ok {
							fail("RUN uses $%s, which no ARG gives", name)
						}
						return v
					})
				}
				switch {
				case len(words) == 3 && words[0] == "mkdir" && words[1] == "-p":
					made[words[2]] = true
				case slices.Contains(words, "go"):
					goAt := slices.Index(words, "go")
					for _, w := range words[:goAt] {
						if !strings.Contains(w, "=") {
							fail("RUN %s: %q before go is not an environment variable", rest, w)
						}
					}
					img.buildEnv = words[:goAt]
					if len(words) < goAt+2 || words[goAt+1] != "build" {
						fail("RUN %s: not go build", rest)
					}
					for i := goAt + 2; i < len(words); i++ {
						if words[i] == "-o" && i+1 < len(words) {
							buildOut = words[i+1]
							i++
							continue
						}
						img.buildArgs = append(img.buildArgs, words[i])
					}
					if buildOut == "" || img.buildArgs[len(img.buildArgs)-1] != "./cmd/joinery" {
						fail("RUN %s: want go build ... -o FILE ./cmd/joinery", rest)
					}
				default:
					fail("RUN %s in the build stage", rest)
				}
			}
			continue
		}
		switch keyword {
		case "COPY":
			words := strings.Fields(rest)
			owner := ""
			if len(words) == 4 && strings.HasPrefix(words[1], "--chown=") {
				owner, _, _ = strings.Cut(strings.TrimPrefix(words[1], "--chown="), ":")
				words = append(words[:1], words[2:]...)
			}
			if len(words) != 3 || words[0] != "--from=build" {
				fail("COPY %s", rest)
			}
			switch src, dst := words[1], words[2]; {
			case src == buildOut && owner == "":
				img.binary = dst
			case made[src]:
				img.dirs[dst] = owner
			default:
				fail("COPY %s: not the binary nor a folder the build stage makes", rest)
			}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || strings.ContainsAny(v, `$"'`) {
					fail("ENV %s: want NAME=VALUE pairs without quotes or variables", rest)
				}
				img.env[k] = v
				img.envOrder = append(img.envOrder, k)
			}
		case "WORKDIR":
			img.workdir = rest
		case "USER":
			img.user, _, _ = strings.Cut(rest, ":")
		case "ENTRYPOINT", "CMD":
			var list []string
			if err := json.Unmarshal([]byte(rest), &list); err != nil {
				fail("%s %s: want the exec form, a JSON list", keyword, rest)
			}
			if keyword == "CMD" {
				img.cmd = list
			} else {
				img.entrypoint = list
			}
		default:
			fail("%s %s in the final stage", keyword, rest)
		}
	}
	uid, ok := distroless[img.user]
	img.configPath = img.env["JOINERY_CONFIG"]
	for dir, owner := range img.dirs {
		if owner == img.user {
			img.reports = dir
		}
	}
	switch {
	case img.binary == "" || len(img.entrypoint) == 0 || img.entrypoint[0] != img.binary:
		fail("the entrypoint %q is not the binary the final stage copies in (%s)", img.entrypoint, img.binary)
	case !ok:
		fail("USER %q is not a distroless user", img.user)
	case len(img.dirs) != 1 || img.reports == "":
		fail("want one folder copied in for the reports, owned by USER %s: %v", img.user, img.dirs)
	case img.workdir == "" || len(img.cmd) == 0:
		fail("no WORKDIR or CMD in the final stage")
	case !filepath.IsAbs(img.configPath):
		fail("no absolute ENV JOINERY_CONFIG in the final stage")
	}
	// Run as the image's user where the test may (as root); otherwise as
	// the current user, who owns what the test lays out.
	img.uid, img.gid = os.Getuid(), os.Getgid()
	if img.uid == 0 {
		img.uid, img.gid = uid, uid
	}
	return img
}

// shellWords splits a command line as sh does, for the quoting a
// Dockerfile's RUN uses: double and single quotes, no escapes inside them.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\'':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c", c)
			}
			w.WriteString(s[i+1 : i+1+end])
			i += 1 + end
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\\' || c == ';' || c == '&' || c == '|' || c == '`':
			return nil, fmt.Errorf("%c: more shell than TestImage reads", c)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// install lays the image out under a new root folder and returns it: the
// binary, the final stage's folders with their owners, the working folder,
// and config as the mounted config file, read-only in a read-only folder.
// Every folder on the way is 0755, so that the image's user can reach it.
func (img *dockerImage) install(t *testing.T, bin string, config []byte) string {
	t.Helper()
	root := t.TempDir()
	// t.TempDir makes 0700 folders: uid 65532 could not enter them.
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkdirs := func(path string) {
		t.Helper()
		if err := os.MkdirAll(root+path, 0o755); err != nil {
			t.Fatal(err)
		}
		// The umask may have taken bits that the image's user needs.
		for d := root + path; d != root; d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	mkdirs(filepath.Dir(img.binary))
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+img.binary, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, owner := range img.dirs {
		mkdirs(dir)
		if owner != "" && os.Getuid() == 0 {
			uid := distroless[owner]
			if err := os.Chown(root+dir, uid, uid); err != nil {
				t.Fatal(err)
			}
		}
	}
	mkdirs(img.workdir)
	configDir := filepath.Dir(img.configPath)
	mkdirs(configDir)
	if err := os.WriteFile(root+img.configPath, config, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root+configDir, 0o555); err != nil {
		t.Fatal(err)
	}
	// Runs before t.TempDir's removal, which a read-only folder would stop
	// for anyone but root.
	t.Cleanup(func() { os.Chmod(root+configDir, 0o755) })
	return root
}

// command is the image's entrypoint with args, as the image runs it: with
// its environment (absolute paths under root) and JOINERY_DSN, in its
// working folder, as its user. It is killed when ctx is done.
func (img *dockerImage) command(ctx context.Context, root, dsn string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, root+img.entrypoint[0], append(img.entrypoint[1:], args...)...)
	cmd.Env = []string{"JOINERY_DSN=" + dsn}
	for _, k := range img.envOrder {
		v := img.env[k]
		if filepath.IsAbs(v) {
			v = root + v
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = root + img.workdir
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(img.uid), Gid: uint32(img.gid), Groups: []uint32{}}}
	}
	return cmd
}
