package config

import (
	"errors"
	"strings"
	"testing"
)

// TestSecretsNeverQuoted: a field tagged secret is never quoted in a
// problem, whatever is wrong with it, nor is a scalar written in place of
// a struct that holds one (at any depth); the fields beside it are.
func TestSecretsNeverQuoted(t *testing.T) {
	type creds struct {
		Token string `yaml:"token,secret"`
		Pin   int    `yaml:"pin,secret"`
		Port  int    `yaml:"port"`
	}
	type target struct {
		Creds creds `yaml:"creds"`
		Outer struct {
			Inner []*creds `yaml:"inner"`
		} `yaml:"outer"`
		Plain struct {
			Port int `yaml:"port"`
		} `yaml:"plain"`
	}
	for _, tt := range []struct {
		name, yaml, want string
		quoted           bool
	}{
		{"bad value", "creds: {pin: hunter2}", "creds.pin: want a whole number", false},
		{"scalar for the struct", "creds: hunter2", "creds: want a mapping", false},
		{"scalar for a struct that holds one deeper", "outer: hunter2", "outer: want a mapping", false},
		{"the field beside it", "creds: {port: hunter2}", `creds.port: "hunter2": want a whole number`, true},
		{"a struct without one", "plain: hunter2", `plain: "hunter2": want a mapping`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder("c.yaml")
			var v target
			if !d.Decode([]byte(tt.yaml), &v) {
				t.Fatalf("Decode stopped: %v", d.Err())
			}
			var ce *Error
			if !errors.As(d.Err(), &ce) || len(ce.Problems) != 1 {
				t.Fatalf("got %v, want 1 problem", d.Err())
			}
			got := ce.Problems[0].Error()
			if !strings.Contains(got, tt.want) || strings.Contains(got, "hunter2") != tt.quoted {
				t.Errorf("got %q, want %q with the value quoted: %v", got, tt.want, tt.quoted)
			}
		})
	}
}

// TestSecretsFromTheEnvironment: the ${VAR} references of a field tagged
// secret are checked when it is decoded, at any depth, and a variable that
// is not set is a problem naming it, never the value; a field without the
// tag is left to the package that reads it.
func TestSecretsFromTheEnvironment(t *testing.T) {
	t.Setenv("JOINERY_TEST_TOKEN", "hunter2")
	type creds struct {
		Token string `yaml:"token,secret"`
		Host  string `yaml:"host"`
	}
	type target struct {
		Creds  creds    `yaml:"creds"`
		Nested []*creds `yaml:"nested"`
		Whole  struct {
			User string `yaml:"user"`
		} `yaml:"whole,secret"`
	}
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"set", "creds: {token: 'x${JOINERY_TEST_TOKEN}'}", ""},
		{"default", "creds: {token: '${JOINERY_TEST_NOPE_T:-x}'}", ""},
		{"unset", "creds: {token: 'u:${JOINERY_TEST_NOPE_T}@h'}", "c.yaml:1: creds.token: environment variable JOINERY_TEST_NOPE_T is not set"},
		{"unset deeper", "nested: [{token: '${JOINERY_TEST_NOPE_T}'}]", "c.yaml:1: nested[0].token: environment variable JOINERY_TEST_NOPE_T is not set"},
		{"inside a secret struct", "whole: {user: '${JOINERY_TEST_NOPE_U}'}", "c.yaml:1: whole.user: environment variable JOINERY_TEST_NOPE_U is not set"},
		{"not a secret", "creds: {host: '${JOINERY_TEST_NOPE_H}'}", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder("c.yaml")
			var v target
			d.Decode([]byte(tt.yaml), &v)
			err := d.Err()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no problem", err)
			case tt.want != "" && (err == nil || err.Error() != "invalid configuration: "+tt.want):
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// TestErrLines: Err gives each problem the file and the line of its field
// (or of the nearest field around it), puts them in file order, and leaves
// out a Missing problem inside a field reported itself.
func TestErrLines(t *testing.T) {
	type item struct {
		Name string `yaml:"name"`
		On   string `yaml:"on"`
	}
	type target struct {
		A     string `yaml:"a"`
		Items []item `yaml:"items"`
	}
	d := NewDecoder("c.yaml")
	var v target
	if !d.Decode([]byte("a: x\nitems:\n  - name: n\n    on: bad\n"), &v) {
		t.Fatal(d.Err())
	}
	d.Add(Prefix("items[0]", []error{
		Problem("on", "bad", "not a condition"),
		Required("on.left", "required"),
		Required("name.first", "required"),
	})...)
	d.Add(Problem("a", "x", "not a"), Problem("b", nil, "nowhere"))
	d.Add(Prefix("a", []error{errors.New("plain")})...)
	var ce *Error
	if !errors.As(d.Err(), &ce) {
		t.Fatalf("got %v", d.Err())
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		`c.yaml:1: a: "x": not a`,
		`c.yaml:1: a: plain`,
		`c.yaml:3: items[0].name.first: required`,
		`c.yaml:4: items[0].on: "bad": not a condition`,
		`c.yaml: b: nowhere`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
