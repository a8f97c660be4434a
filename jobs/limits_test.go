package jobs

import (
	"errors"
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
