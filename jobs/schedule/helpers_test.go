package schedule

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/joinery/joinery/jobs"
)

// loadConfig loads the configuration text from config.yaml in a fresh
// folder, which holds its output_dir unless the text says otherwise.
func loadConfig(t *testing.T, text string) *jobs.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := jobs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// jobYAML is a job j on users, daily, with the settings given.
func jobYAML(settings string) string {
	return `
jobs:
  - name: j
    schedule: "@daily"
` + settings + `
    datasets:
      d: {from: users u, select: [u.id, u.name]}
    outputs: [{format: csv, path: "{job}.csv"}]
`
}
