package schedule

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testlog"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/output"
)

// catchUpConfig is an hourly job with catch_up, writing under a fresh
// output_dir.
func catchUpConfig(t *testing.T, schedule, catchUp string) *jobs.Config {
	t.Helper()
	return loadConfig(t, strings.Replace(jobYAML(`    catch_up: `+catchUp), `schedule: "@daily"`, `schedule: "`+schedule+`"`, 1))
}

// outputDir is the folder of cfg's reports (output_dir, relative to the
// configuration file).
func outputDir(cfg *jobs.Config) string {
	if filepath.IsAbs(cfg.OutputDir) {
		return cfg.OutputDir
	}
	return filepath.Join(filepath.Dir(cfg.File), cfg.OutputDir)
}

// stateFile is the state file of job j, as the runner writes it.
func stateFile(cfg *jobs.Config) string {
	return filepath.Join(outputDir(cfg), output.StateDir, "j.json")
}

// writeManifest records a run of job for logical as its commit would.
func writeManifest(t *testing.T, cfg *jobs.Config, logical time.Time, partial bool) {
	t.Helper()
	data, err := json.Marshal(output.Manifest{Job: cfg.Jobs[0].Name, Logical: logical, Partial: partial, Started: logical})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(outputDir(cfg), "j")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, output.ManifestName("j", logical, nil)), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeState writes the job's state file as is.
func writeState(t *testing.T, cfg *jobs.Config, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(stateFile(cfg)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateFile(cfg), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCatchUpFromStateAndManifests: catch-up reads the last successful run
// from jobs.Config.LastSuccess, the newer of the state's record and the
// manifests'; a state that is missing,
// corrupt or unreadable is a warning, not the end of catch-up.
func TestCatchUpFromStateAndManifests(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	at := func(h int) time.Time { return time.Date(2026, 11, 25, h, 0, 0, 0, time.UTC) }
	state := func(t time.Time) string {
		return fmt.Sprintf(`{"last_success_logical_time": %q}`, t.Format(time.RFC3339))
	}
	tests := []struct {
		name      string
		state     string    // "" for none, "dir" for a folder in its place
		manifest  time.Time // zero for none
		partial   bool
		wantRun   time.Time
		wantLast  time.Time
		wantWarns []string
	}{
		{name: "nothing recorded: the latest time within catch_up", wantRun: at(10)},
		{name: "state records it", state: state(at(10)), wantLast: at(10)},
		{name: "state records an older run", state: state(at(9)), wantRun: at(10), wantLast: at(9)},
		{name: "no state, a manifest records it", manifest: at(10), wantLast: at(10)},
		{name: "a stale state, a newer manifest", state: state(at(8)), manifest: at(10), wantLast: at(10)},
		{name: "a partial run does not count", manifest: at(10), partial: true, wantRun: at(10)},
		{name: "corrupt state, no manifest", state: `{"last_success_logical_time": `, wantRun: at(10),
			wantWarns: []string{"catch-up: the job's state cannot be read, its manifests say which runs were made: ", "j.json: unexpected end of JSON input"}},
		{name: "corrupt state, a manifest records it", state: "\x00\x01garbage", manifest: at(10), wantLast: at(10),
			wantWarns: []string{"the job's state cannot be read, its manifests say which runs were made", "invalid character"}},
		{name: "unreadable state, a manifest records it", state: "dir", manifest: at(10), wantLast: at(10),
			wantWarns: []string{"the job's state cannot be read, its manifests say which runs were made", "is a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := catchUpConfig(t, "0 * * * *", "3h")
			switch tt.state {
			case "":
			case "dir":
				if err := os.MkdirAll(stateFile(cfg), 0o755); err != nil {
					t.Fatal(err)
				}
			default:
				writeState(t, cfg, tt.state)
			}
			if !tt.manifest.IsZero() {
				writeManifest(t, cfg, tt.manifest, tt.partial)
			}
			cu, err := missed(cfg, &cfg.Jobs[0], now)
			if err != nil {
				t.Fatal(err)
			}
			if !cu.Run.Equal(tt.wantRun) || !cu.Last.Equal(tt.wantLast) {
				t.Errorf("run %v, last %v; want run %v, last %v", cu.Run, cu.Last, tt.wantRun, tt.wantLast)
			}
			logs := &testlog.Buffer{}
			cu.log(slog.New(slog.NewJSONHandler(logs, nil)), &cfg.Jobs[0])
			warns := logs.Find(t, "WARN", "catch-up: the job's state")
			if len(tt.wantWarns) == 0 && len(warns) > 0 || len(tt.wantWarns) > 0 && len(warns) != 1 {
				t.Fatalf("warnings %v, want %q", warns, tt.wantWarns)
			}
			for _, w := range tt.wantWarns {
				if !strings.Contains(warns[0]["msg"].(string), w) {
					t.Errorf("warning %q lacks %q", warns[0]["msg"], w)
				}
			}
			caught := logs.Find(t, "INFO", "catching up a missed run")
			if tt.wantRun.IsZero() != (len(caught) == 0) {
				t.Errorf("catching up records: %v, want one when a time is run", caught)
			}
		})
	}
}

// missedSince is the catch-up at now of a job on schedule, with catch_up
// within, whose state records a success at last (RFC 3339).
func missedSince(t *testing.T, schedule, within, last string, now time.Time) (*jobs.Config, catchUp) {
	t.Helper()
	cfg := catchUpConfig(t, schedule, within)
	writeState(t, cfg, fmt.Sprintf(`{"last_success_logical_time": %q}`, last))
	cu, err := missed(cfg, &cfg.Jobs[0], now)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, cu
}

// TestCatchUpLogsWhatItDrops: every missed time not run is logged with
// its reason, older than catch_up or superseded by a later one; a long
// outage of a frequent job lists the newest and counts the rest.
func TestCatchUpLogsWhatItDrops(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	at := func(h int) string { return time.Date(2026, 11, 25, h, 0, 0, 0, time.UTC).Format(time.RFC3339) }

	t.Run("hourly, down since midnight, catch_up 3h", func(t *testing.T) {
		cfg, cu := missedSince(t, "0 * * * *", "3h", "2026-11-25T00:00:00Z", now)
		logs := &testlog.Buffer{}
		cu.log(slog.New(slog.NewJSONHandler(logs, nil)).With("job", "j"), &cfg.Jobs[0])
		var got []string
		for _, rec := range logs.Find(t, "WARN", "catch-up: missed run dropped") {
			got = append(got, rec["logical_time"].(string)+" "+rec["reason"].(string))
		}
		var want []string
		for h := 1; h <= 7; h++ {
			want = append(want, at(h)+" older than catch_up (3h0m0s)")
		}
		for h := 8; h <= 9; h++ {
			want = append(want, at(h)+" only the latest missed time within catch_up is caught up")
		}
		if !slices.Equal(got, want) {
			t.Errorf("dropped:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		run := logs.Find(t, "INFO", "catching up a missed run")
		if len(run) != 1 || run[0]["logical_time"] != at(10) || run[0]["last_success"] != at(0) || run[0]["job"] != "j" {
			t.Errorf("catch-up records %v, want one for %s after %s", run, at(10), at(0))
		}
	})

	t.Run("minutely, down for a year", func(t *testing.T) {
		cfg, cu := missedSince(t, "* * * * *", "10m", "2025-11-25T10:30:00Z", now)
		if cu.Older.Count != maxMissedWalked || !cu.Older.Capped || len(cu.Older.Newest) != maxDroppedListed || cu.Superseded.Count != 9 {
			t.Fatalf("older %d (capped %v, %d listed), superseded %d; want %d capped, %d listed, 9",
				cu.Older.Count, cu.Older.Capped, len(cu.Older.Newest), cu.Superseded.Count, maxMissedWalked, maxDroppedListed)
		}
		logs := &testlog.Buffer{}
		cu.log(slog.New(slog.NewJSONHandler(logs, nil)), &cfg.Jobs[0])
		sum := logs.Find(t, "WARN", fmt.Sprintf("catch-up: %d older missed runs dropped", maxMissedWalked-maxDroppedListed))
		if len(sum) != 1 || sum[0]["oldest"] != "2025-11-25T10:31:00Z" || sum[0]["count_is_at_least"] != true {
			t.Errorf("summary %v, want one from the first missed minute, a lower bound", sum)
		}
		if n := len(logs.Find(t, "WARN", "catch-up: missed run dropped")); n != maxDroppedListed+9 {
			t.Errorf("%d dropped times listed, want %d", n, maxDroppedListed+9)
		}
		if !cu.Run.Equal(time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)) {
			t.Errorf("run %v, want 10:30", cu.Run)
		}
	})
}

// TestCatchUpEvery: an @every job's missed times are those of the daemon
// that made its last successful run (that run's time, then every
// interval), not times counted from now - catch_up, which would make one
// missed time at every restart; without a record of a run there are none.
func TestCatchUpEvery(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	at := func(h, m, s int) time.Time { return time.Date(2026, 11, 25, h, m, s, 0, time.UTC) }
	tests := []struct {
		name       string
		last       time.Time // zero: no record
		run        time.Time
		older      int
		superseded int
	}{
		{name: "restart within the interval: nothing missed", last: at(10, 0, 0)},
		{name: "the daemon's times fall on odd seconds", last: at(9, 30, 17), run: time.Time{}},
		{name: "one interval missed", last: at(9, 0, 0), run: at(10, 0, 0)},
		{name: "a long outage", last: at(5, 0, 0), run: at(10, 0, 0), older: 2, superseded: 2},
		{name: "no record of a run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := catchUpConfig(t, "@every 1h", "3h")
			if !tt.last.IsZero() {
				writeState(t, cfg, fmt.Sprintf(`{"last_success_logical_time": %q}`, tt.last.Format(time.RFC3339)))
			}
			cu, err := missed(cfg, &cfg.Jobs[0], now)
			if err != nil {
				t.Fatal(err)
			}
			if !cu.Run.Equal(tt.run) || cu.Older.Count != tt.older || cu.Superseded.Count != tt.superseded {
				t.Errorf("run %v, %d older, %d superseded; want run %v, %d older, %d superseded",
					cu.Run, cu.Older.Count, cu.Superseded.Count, tt.run, tt.older, tt.superseded)
			}
		})
	}
}
