package config

import (
	"errors"
	"strings"
	"testing"
)

func TestErrorCount(t *testing.T) {
	problems := func(n int) []*FieldError {
		ps := make([]*FieldError, n)
		for i := range ps {
			ps[i] = &FieldError{File: "c.yaml", Line: i + 1, Msg: "bad"}
		}
		return ps
	}
	tests := []struct {
		name      string
		err       *Error
		wantFirst string
		wantLines int
		wantLast  string
	}{
		{"one", &Error{Problems: problems(1)}, "invalid configuration: c.yaml:1: bad", 1, "invalid configuration: c.yaml:1: bad"},
		{"two", &Error{Problems: problems(2)}, "invalid configuration: 2 problems:", 3, "  c.yaml:2: bad"},
		{"one shown, one more", &Error{Problems: problems(1), More: 1}, "invalid configuration: 2 problems:", 3, "  ... and 1 more problem"},
		{"a hundred", &Error{Problems: problems(100)}, "invalid configuration: 100 problems:", 101, "  c.yaml:100: bad"},
		// An Error made elsewhere, with every problem in it: only
		// the first hundred are shown.
		{"more than a hundred held", &Error{Problems: problems(250), More: 5}, "invalid configuration: 255 problems:", 102, "  ... and 155 more problems"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := strings.Split(tt.err.Error(), "\n")
			if lines[0] != tt.wantFirst || len(lines) != tt.wantLines || lines[len(lines)-1] != tt.wantLast {
				t.Errorf("got %d lines, first %q, last %q; want %d, %q, %q",
					len(lines), lines[0], lines[len(lines)-1], tt.wantLines, tt.wantFirst, tt.wantLast)
			}
		})
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		err  *FieldError
		want string
	}{
		{Problem("joins[0].on[1].left", "px.userid", `unknown alias "px"`), `joins[0].on[1].left: "px.userid": unknown alias "px"`},
		{Problem("select", nil, "must not be empty"), "select: must not be empty"},
		// A value is shown as written, quoted, whatever its type.
		{Problem("limit", uint64(0), "must be greater than 0"), `limit: "0": must be greater than 0`},
		{Problem("where[0].value", []any{1}, "x"), `where[0].value: "[1]": x`},
		{Problem("name", "", "empty"), `name: "": empty`},
		{Required("from.table", "required"), "from.table: required"},
		{&FieldError{File: "c.yaml", Line: 3, Path: "jobs", Value: "x", HasValue: true, Msg: "bad"}, `c.yaml:3: jobs: "x": bad`},
		{&FieldError{File: "c.yaml", Msg: "the file is empty"}, "c.yaml: the file is empty"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}

func TestPrefix(t *testing.T) {
	orig := Required("on[0].left", "required")
	got := Prefix("jobs[0].datasets.posts", []error{orig, errors.New("plain"), Problem("", "x", "the part")})
	if len(got) != 3 || got[0].Path != "jobs[0].datasets.posts.on[0].left" || got[0].Kind != Missing ||
		got[1].Path != "jobs[0].datasets.posts" || got[1].Msg != "plain" || got[2].Path != "jobs[0].datasets.posts" {
		t.Errorf("got %v", got)
	}
	if orig.Path != "on[0].left" {
		t.Errorf("Prefix changed the problem it was given: %v", orig)
	}
}
