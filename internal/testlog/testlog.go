// Package testlog collects what a logger writes during a test and reads
// it back: a buffer safe for concurrent writers whose JSON lines parse
// into records, and the RFC 3339 times such records and schedules carry.
// It is test support only: no production package imports it.
package testlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer collects a logger's output; it is safe for concurrent use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Records returns every record written so far, one a JSON line; a line
// that is not JSON fails the test.
func (b *Buffer) Records(t testing.TB) []map[string]any {
	t.Helper()
	return Parse(t, b.String())
}

// Parse returns the records of log, one a JSON line (up to 1 MiB); a line
// that is not JSON fails the test.
func Parse(t testing.TB, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, rec)
	}
	return out
}

// Find returns the records at level (slog's name: "INFO", "WARN", ...)
// whose message starts with msg.
func (b *Buffer) Find(t testing.TB, level, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, rec := range b.Records(t) {
		if m, _ := rec["msg"].(string); rec["level"] == level && strings.HasPrefix(m, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// RFC3339 parses s, an RFC 3339 time, or fails the test.
func RFC3339(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
