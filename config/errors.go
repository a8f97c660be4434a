// Package config holds what every part of joinery's configuration shares:
// the one problem type (FieldError: file, line, field path, value,
// message, kind), the list of problems a configuration file has (Error),
// the strict YAML decoder that fills Go values and collects problems with
// their lines (Decoder), and the environment references of values
// (ExpandEnv).
//
// A package that checks a part of the configuration (queries a dataset,
// output an output) reports each problem with Problem or Required, its
// path relative to that part; the package that holds the whole file
// (jobs) puts the part's path before them with Prefix and adds them to its
// Decoder, which gives each its file and line. Nobody reads a message to
// tell one problem from another: Path and Kind say it.
//
// A field tagged `yaml:"name,secret"` holds a credential: the decoder
// never quotes its value in a problem, and checks that the ${VAR}
// references in it are set. The package that uses the value expands them
// with ExpandEnv.
package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem in a configuration: where it is, which field,
// the offending value and what is wrong with it.
type FieldError struct {
	File     string // empty until the problem reaches the file's Decoder
	Line     int    // 0 when unknown
	Path     string // e.g. jobs[1].datasets.posts.joins[0].on
	Value    string // the offending value as written, when HasValue
	HasValue bool
	Msg      string
	// Kind says whether the field is wrong or missing, for callers that
	// treat the two differently: nobody needs to read Msg to tell.
	Kind Kind
}

// Kind is the sort of problem a FieldError reports.
type Kind uint8

const (
	// Invalid is a field whose value is wrong (the zero Kind).
	Invalid Kind = iota
	// Missing is a required field that is missing or empty; it has no
	// value. A shorthand string that did not parse ("u.id == p.user_id")
	// leaves empty the fields it would have filled: the Decoder leaves
	// out the Missing problems inside a field that has a problem of its
	// own.
	Missing
)

// Problem returns an Invalid problem at path. value is what was written
// there, shown as fmt.Sprint formats it; nil when there is nothing to
// show.
func Problem(path string, value any, msg string) *FieldError {
	e := &FieldError{Path: path, Msg: msg}
	if value != nil {
		e.Value, e.HasValue = fmt.Sprint(value), true
	}
	return e
}

// Required returns a Missing problem: the required field at path is
// missing or empty.
func Required(path, msg string) *FieldError {
	return &FieldError{Path: path, Msg: msg, Kind: Missing}
}

// Prefix returns the problems in errs, which a package reported with paths
// relative to a part of the configuration, with the path of that part
// before each path. An error that is not a *FieldError becomes a problem
// at prefix. errs are not modified.
func Prefix(prefix string, errs []error) []*FieldError {
	out := make([]*FieldError, 0, len(errs))
	for _, err := range errs {
		var fe *FieldError
		if !errors.As(err, &fe) {
			out = append(out, Problem(prefix, nil, err.Error()))
			continue
		}
		p := *fe
		p.Path = prefix
		if fe.Path != "" { // a problem with the part itself
			p.Path = join(prefix, fe.Path)
		}
		out = append(out, &p)
	}
	return out
}

// join puts the field key, or a path below it, under path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Error formats the problem as `file:line: path: "value": message`,
// leaving out what it does not know.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" || e.Line > 0 {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
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

// Error holds the problems found in a configuration file; errors.As finds
// it, and each problem is a *FieldError.
type Error struct {
	// Problems are the first problems found, in file order: at most
	// maxProblems of them.
	Problems []*FieldError
	// More is how many problems were found after those.
	More int
}

// maxProblems is how many problems an Error holds and prints. A hundred
// fill a few screens; a broken file (a list of a million numbers where
// jobs go) can make millions, which would only bury the first.
const maxProblems = 100

func (e *Error) Error() string {
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
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}
