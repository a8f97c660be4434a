package jobs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/joinery/joinery/config"
)

// CheckOutputDir makes sure reports can be written: output_dir and the
// state folder in it (<output_dir>/.joinery, see Job.CatchUp) exist or can
// be created, are folders, and a file can be created in each. run and
// schedule call it when they start, so that a folder they cannot write
// stops them at once instead of failing every run, retries and all. The
// error names the folder, where its path came from and the system's
// reason.
func (c *Config) CheckOutputDir() error {
	dir := c.OutputPath()
	if err := checkWritable(dir); err != nil {
		return fmt.Errorf("cannot write reports to %s (%s): %w", dir, c.outputDirFrom, err)
	}
	if err := checkWritable(c.stateDir()); err != nil {
		return fmt.Errorf("cannot write joinery's state folder %s in output_dir (%s): %w", c.stateDir(), c.outputDirFrom, err)
	}
	return nil
}

// checkWritable creates dir if it is missing, then creates a file in it
// and removes it again. The file is named as joinery's temporary files
// are, so that one a crash leaves behind is recognisable.
func checkWritable(dir string) error {
	// 0o777: the umask decides, as for any folder a program creates.
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".joinery-probe-*")
	if err != nil {
		// The probe's random name says nothing; the folder is named already.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("create a file in it: %w", pe.Err)
		}
		return err
	}
	cerr := f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return err
	}
	return cerr
}

// outputDirFrom says where output_dir's path dir came from: spec as
// written in file (empty when file does not set it), and the environment
// variables it read.
func outputDirFrom(spec, file, dir string) string {
	var from string
	switch {
	case spec == "":
		from = fmt.Sprintf("the default output_dir: %s does not set it", file)
	default:
		var set, unset []string
		for _, ref := range config.EnvRefs(spec) {
			switch {
			case os.Getenv(ref.Name) != "":
				set = append(set, "$"+ref.Name)
			case ref.HasDefault:
				unset = append(unset, "$"+ref.Name)
			}
		}
		from = fmt.Sprintf("output_dir %q in %s", spec, file)
		if len(set) > 0 {
			from = "from " + strings.Join(set, ", ") + ", read by " + from
		}
		if len(unset) > 0 {
			from += ", with " + strings.Join(unset, ", ") + " not set"
		}
	}
	if !filepath.IsAbs(dir) {
		from += ", relative to the config file's folder"
	}
	return from
}
