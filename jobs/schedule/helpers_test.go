package schedule

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

func rfc3339(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// logRecords collects a logger's records, as JSON lines.
type logRecords struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// find returns the records at level whose message starts with msg.
func (l *logRecords) find(t *testing.T, level, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["level"] == level && strings.HasPrefix(rec["msg"].(string), msg) {
			out = append(out, rec)
		}
	}
	return out
}

func (l *logRecords) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
