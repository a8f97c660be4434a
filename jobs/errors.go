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

// ConfigError holds every problem found in a configuration file. Load and
// Parse return it; errors.As finds it, and each problem is a *FieldError.
type ConfigError struct {
	Problems []*FieldError
}

func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
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

// ErrJobNotFound is returned by Config.Job for a name no job has.
var ErrJobNotFound = errors.New("no such job")
