package jobs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckOutputDir(t *testing.T) {
	parse := func(t *testing.T, dir, outputDir string) *Config {
		t.Helper()
		cfg, err := Parse(filepath.Join(dir, "config.yaml"), []byte("output_dir: "+outputDir+"\n"+validJob))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	// noProbes fails the test if a probe file is left under dir.
	noProbes := func(t *testing.T, dir string) {
		t.Helper()
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if strings.HasPrefix(d.Name(), ".joinery-probe-") {
				t.Errorf("probe file left: %s", path)
			}
			return nil
		})
	}

	t.Run("a missing folder is created, with the state folder", func(t *testing.T) {
		dir := t.TempDir()
		cfg := parse(t, dir, "a/b")
		if err := cfg.CheckOutputDir(); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{filepath.Join(dir, "a", "b"), filepath.Join(dir, "a", "b", ".joinery")} {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
				t.Errorf("%s: %v, want a folder", d, err)
			}
		}
		noProbes(t, dir)
	})

	t.Run("a file where the folder should be", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "reports"), nil, 0o644)
		err := parse(t, dir, "reports").CheckOutputDir()
		want := []string{"cannot write reports to " + filepath.Join(dir, "reports"),
			`output_dir "reports" in ` + filepath.Join(dir, "config.yaml"), "relative to the config file's folder", "not a directory"}
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("err = %v, want it to say %q", err, w)
			}
		}
	})

	t.Run("a file where the state folder should be", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ".joinery"), nil, 0o644)
		err := parse(t, dir, dir).CheckOutputDir()
		if err == nil || !strings.Contains(err.Error(), "state folder "+filepath.Join(dir, ".joinery")) || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("err = %v, want the state folder named as not a folder", err)
		}
		noProbes(t, dir)
	})

	t.Run("where the path came from", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "file")
		os.WriteFile(file, nil, 0o644)
		t.Setenv("JOINERY_TEST_OUT", file)
		err := parse(t, dir, "${JOINERY_TEST_OUT:-reports}").CheckOutputDir()
		if want := `cannot write reports to ` + file + ` (from $JOINERY_TEST_OUT, read by output_dir "${JOINERY_TEST_OUT:-reports}" in ` + filepath.Join(dir, "config.yaml") + `): mkdir ` + file + `: not a directory`; err == nil || err.Error() != want {
			t.Errorf("err = %v\nwant %s", err, want)
		}
		os.WriteFile(filepath.Join(dir, "reports"), nil, 0o644)
		err = parse(t, dir, "${JOINERY_TEST_OUT_UNSET:-reports}").CheckOutputDir()
		if err == nil || !strings.Contains(err.Error(), "with $JOINERY_TEST_OUT_UNSET not set, relative to the config file's folder") {
			t.Errorf("err = %v, want the unset variable and the config's folder named", err)
		}
	})

	t.Run("a folder that cannot be written", func(t *testing.T) {
		if os.Geteuid() == 0 {
			// Every folder is writable to root; TestImage in cmd/joinery
			// checks this as the image's non-root user.
			t.Skip("runs as root, for whom every folder is writable (cmd/joinery's TestImage covers it)")
		}
		dir := t.TempDir()
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		t.Cleanup(func() { os.Chmod(ro, 0o755) })
		for _, outputDir := range []string{ro, filepath.Join(ro, "reports")} {
			err := parse(t, dir, outputDir).CheckOutputDir()
			if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), outputDir) {
				t.Errorf("%s: err = %v, want permission denied naming the folder", outputDir, err)
			}
		}
	})
}
