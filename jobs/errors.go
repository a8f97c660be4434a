package jobs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem in a configuration file: where it is, which
// field, the offending value and what is wrong with it.
type FieldError struct {
	File     string
	Line     int    // 0 when unknown
	Path     string // e.g. jobs[1].datasets.posts.joins[0].on
	Value    string // the offending value, when it is a scalar
	HasValue bool
	Msg      string
	// missing marks a required field that is missing or empty (see
	// dropFollowUps).
	missing bool
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.HasValue {
		b.WriteString(strconv.Quote(e.Value))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigError holds the problems found in a configuration file. Load and
// Parse return it; errors.As finds it, and each problem is a *FieldError.
type ConfigError struct {
	// Problems are the first problems found, in file order: at most
	// maxProblems of them.
	Problems []*FieldError
	// More is how many problems were found after those.
	More int
}

// maxProblems is how many problems a ConfigError holds and prints. A
// hundred fill a few screens; a broken file (a list of a million numbers
// where jobs go) can make millions, which would only bury the first.
const maxProblems = 100

func (e *ConfigError) Error() string {
	shown, more := e.Problems, e.More
	if len(shown) > maxProblems {
		shown, more = shown[:maxProblems], more+len(shown)-maxProblems
	}
	if len(shown) == 1 && more == 0 {
		return "invalid configuration: " + shown[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration: %d problems:", len(shown)+more)
	for _, p := range shown {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	switch {
	case more == 1:
		b.WriteString("\n  ... and 1 more problem")
	case more > 1:
		fmt.Fprintf(&b, "\n  ... and %d more problems", more)
	}
	return b.String()
}

// Unwrap returns each problem, so errors.As can find a *FieldError.
func (e *ConfigError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// errJobNotFound is returned by Config.Job for a name no job has.
var errJobNotFound = errors.New("no such job")
