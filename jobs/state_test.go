package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/output"
)

// catchUpJob is retryJob on a schedule with catch_up.
func catchUpJob(schedule, catchUp string) string {
	return strings.Replace(retryJob(`    catch_up: `+catchUp), `schedule: "@daily"`, `schedule: "`+schedule+`"`, 1)
}

// TestCatchUpAfterAnUnwritableState: a run whose state cannot be written
// succeeds with a warning, and the next start does not run it again: its
// manifest says it ran. The state is written through a synced temporary
// file and a rename, then the folder is synced.
func TestCatchUpAfterAnUnwritableState(t *testing.T) {
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	yml := strings.Replace(catchUpJob("0 * * * *", "3h"), `path: "{job}.csv"`, `path: "j/{datetime}.csv"`, 1)
	r, logs := retryRunner(t, testdb.DSN(t), yml)
	cfg, job := r.Config, &r.Config.Jobs[0]
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	state := filepath.Join(output.StateDir, stateName("j"))
	stateTemp := filepath.Join(output.StateDir, "."+stateName("j")+".tmp-")

	var steps []string
	r.dirHook = func(step, path string) error {
		switch {
		case strings.HasPrefix(path, stateTemp):
			steps = append(steps, step+" "+stateTemp+"*")
		case path == state || path == output.StateDir:
			steps = append(steps, step+" "+path)
		}
		return nil
	}
	// The catch-up of 10:30 with nothing recorded: 10:00.
	if res := r.Run(context.Background(), job, now.Truncate(time.Hour)); res.Err != nil {
		t.Fatal(res.Err)
	}
	// The state's own steps, in order (the commit's journal shares the
	// folder, and its syncs come first).
	i := slices.Index(steps, "create "+stateTemp+"*")
	if want := []string{"create " + stateTemp + "*", "lock " + stateTemp + "*", "write " + stateTemp + "*", "sync " + stateTemp + "*", "rename " + state, "syncdir " + output.StateDir}; i < 0 || !slices.Equal(steps[i:i+len(want)], want) {
		t.Errorf("state written with the steps %q, want %q", steps, want)
	}

	// Now the state cannot be written: a run for the next hour succeeds.
	r.dirHook = func(step, path string) error {
		if step == "create" && strings.HasPrefix(path, stateTemp) {
			return errors.New("read-only file system")
		}
		return nil
	}
	// The catch-up of 11:30 after the 10:00 run: 11:00.
	if last, _, err := cfg.LastSuccess("j"); err != nil || !last.Equal(now.Truncate(time.Hour)) {
		t.Fatalf("LastSuccess = %v, %v; want 10:00", last, err)
	}
	res := r.Run(context.Background(), job, time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(logs.Find(t, "WARN", "could not record the run for catch-up")) != 1 ||
		!slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "read-only file system") }) {
		t.Errorf("warnings %q, want the state that could not be written\n%s", res.Warnings, logs)
	}
	data, err := os.ReadFile(filepath.Join(cfg.OutputPath(), state))
	if err != nil || !strings.Contains(string(data), "10:00:00Z") {
		t.Fatalf("state = %s, %v; want the 10:00 run still", data, err)
	}
	// A restart does not run 11:00 again: catch-up reads the last success
	// from the manifest.
	for range 2 {
		if last, warns, err := cfg.LastSuccess("j"); err != nil || !last.Equal(res.Logical) {
			t.Errorf("after the run: LastSuccess = %v, %q, %v; want %v", last, warns, err, res.Logical)
		}
	}
}
