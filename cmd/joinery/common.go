package main

import (
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/jobs"
)

// common holds the flags every command takes.
type common struct {
	config    string
	logLevel  string
	logFormat string
	stderr    io.Writer
	name      string // the command
	help      func() // prints the command's usage and flags
	// control is the database's control pool (jobs.OpenControlDB), set
	// by connect; nil for the embedded demo database.
	control *sql.DB
}

func newFlags(name, synopsis string, stdout, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print a bad flag's error and then the whole
	// usage; parse returns the error (printed once, by run) and prints the
	// usage for --help only.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	c := &common{stderr: stderr, name: name}
	fs.StringVar(&c.config, "config", "", "configuration file (default $JOINERY_CONFIG, else ./config.yaml)")
	fs.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error (default $JOINERY_LOG_LEVEL, else info)")
	fs.StringVar(&c.logFormat, "log-format", "auto", "text, json, or auto (text on a terminal)")
	// Asked-for help is output, as for the top-level --help: it goes to
	// stdout, so that it can be paged or grepped.
	c.help = func() {
		fmt.Fprintf(stdout, "Usage: joinery %s\n\nFlags:\n", synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs, c
}

// parse parses flags and positional arguments in any order.
func (c *common) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.help()
				return nil, err
			}
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("%w (joinery %s --help lists the flags)", err, c.name)}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *common) load() (*jobs.Config, error) {
	path := c.config
	if path == "" {
		path = os.Getenv("JOINERY_CONFIG")
	}
	if path == "" {
		path = "config.yaml"
	}
	cfg, err := jobs.Load(path)
	var ce *config.Error
	if err != nil && !errors.As(err, &ce) {
		// Unreadable or missing: as much a configuration error as a bad one.
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("%w (give --config FILE or set $JOINERY_CONFIG)", err)}
	}
	return cfg, err
}

// logger builds the slog logger; quietOnTerminal raises the default level
// to warn where a person watches a progress line and summary instead.
func (c *common) logger(quietOnTerminal bool) (*slog.Logger, error) {
	levelName, source := c.logLevel, "--log-level"
	if levelName == "" {
		levelName, source = os.Getenv("JOINERY_LOG_LEVEL"), "$JOINERY_LOG_LEVEL"
	}
	tty := isTerminal(c.stderr)
	var level slog.Level
	switch {
	case levelName != "":
		if err := level.UnmarshalText([]byte(levelName)); err != nil {
			return nil, usageErr("%s %q: want debug, info, warn or error", source, levelName)
		}
	case quietOnTerminal && tty:
		level = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationSeconds}
	switch c.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(c.stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(c.stderr, opts)), nil
	case "auto", "":
		if tty {
			return slog.New(slog.NewTextHandler(c.stderr, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(c.stderr, opts)), nil
	}
	return nil, usageErr("--log-format %q: want text, json or auto", c.logFormat)
}

// durationSeconds writes every duration in a log record as a number of
// seconds (to the millisecond), under its key with "_seconds" added:
// "duration": 1500ms becomes "duration_seconds": 1.5, in JSON and text
// alike, as the manifests write them. slog would write a time.Duration
// as nanoseconds in JSON, and as "1.5s" in text.
func durationSeconds(groups []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	return slog.Float64(a.Key+"_seconds", math.Round(a.Value.Duration().Seconds()*1000)/1000)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
