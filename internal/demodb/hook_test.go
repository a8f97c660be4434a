package demodb

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestSlogHookOneLevel: an engine warning reaches slog as one JSON record
// with one "level" key (slog's), the engine's level under engine_level.
func TestSlogHookOneLevel(t *testing.T) {
	var buf bytes.Buffer
	h := slogHook{logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	e := logrus.NewEntry(logrus.New()).WithField("query", "SELECT 1")
	e.Level, e.Message = logrus.WarnLevel, "slow query"
	if err := h.Fire(e); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if n := strings.Count(line, `"level"`); n != 1 {
		t.Errorf("%d level keys in %s", n, line)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["engine_level"] != "warning" || rec["query"] != "SELECT 1" || rec["msg"] != "demo database: slow query" {
		t.Errorf("record %v", rec)
	}
}
