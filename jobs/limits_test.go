package jobs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigSizeLimit(t *testing.T) {
	valid := "jobs:\n" + jobYAML("a", "@daily")
	pad := func(size int) string {
		// A comment fills the file up to size bytes.
		return valid + "#" + strings.Repeat("x", size-len(valid)-2) + "\n"
	}
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		wantErr bool
	}{
		{"at the limit", pad(maxConfigBytes), false},
		{"one byte over", pad(maxConfigBytes + 1), true},
		{"far over", pad(20 << 20), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, load := range []func() (*Config, error){
				func() (*Config, error) { return Load(path) },
				func() (*Config, error) { return Parse(path, []byte(tt.content)) },
			} {
				_, err := load()
				if !tt.wantErr {
					if err != nil {
						t.Fatal(err)
					}
					continue
				}
				var ce *ConfigError
				if !errors.As(err, &ce) || len(ce.Problems) != 1 {
					t.Fatalf("err = %v, want a *ConfigError with one problem", err)
				}
				want := path + ": the file is larger than 1 MiB"
				if got := ce.Problems[0].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("problem = %q, want it to start with %q", got, want)
				}
			}
		})
	}
}

func TestManyProblems(t *testing.T) {
	// Each job has a bad schedule: one problem per job, 150 in all.
	var b strings.Builder
	b.WriteString("jobs:\n")
	for i := range 150 {
		b.WriteString(jobYAML(fmt.Sprintf("j%d", i), "61 * * * *"))
	}
	_, err := Parse("c.yaml", []byte(b.String()))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ConfigError", err)
	}
	if len(ce.Problems) != maxProblems || ce.More != 50 {
		t.Errorf("got %d problems and %d more, want %d and 50", len(ce.Problems), ce.More, maxProblems)
	}
	lines := strings.Split(err.Error(), "\n")
	if got, want := lines[0], "invalid configuration: 150 problems:"; got != want {
		t.Errorf("first line = %q, want %q", got, want)
	}
	if got, want := len(lines), 1+maxProblems+1; got != want {
		t.Errorf("got %d lines, want %d", got, want)
	}
	if got, want := lines[len(lines)-1], "  ... and 50 more problems"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
	// The first hundred in file order: those of jobs[0] to jobs[99].
	if got := lines[maxProblems]; !strings.Contains(got, "jobs[99].schedule") {
		t.Errorf("problem 100 = %q, want jobs[99]'s", got)
	}
}

func TestConfigErrorCount(t *testing.T) {
	problems := func(n int) []*FieldError {
		ps := make([]*FieldError, n)
		for i := range ps {
			ps[i] = &FieldError{File: "c.yaml", Line: i + 1, Msg: "bad"}
		}
		return ps
	}
	tests := []struct {
		name      string
		err       *ConfigError
		wantFirst string
		wantLines int
		wantLast  string
	}{
		{"one", &ConfigError{Problems: problems(1)}, "invalid configuration: c.yaml:1: bad", 1, "invalid configuration: c.yaml:1: bad"},
		{"two", &ConfigError{Problems: problems(2)}, "invalid configuration: 2 problems:", 3, "  c.yaml:2: bad"},
		{"one shown, one more", &ConfigError{Problems: problems(1), More: 1}, "invalid configuration: 2 problems:", 3, "  ... and 1 more problem"},
		{"a hundred", &ConfigError{Problems: problems(100)}, "invalid configuration: 100 problems:", 101, "  c.yaml:100: bad"},
		// A ConfigError made elsewhere, with every problem in it: only
		// the first hundred are shown.
		{"more than a hundred held", &ConfigError{Problems: problems(250), More: 5}, "invalid configuration: 255 problems:", 102, "  ... and 155 more problems"},
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
