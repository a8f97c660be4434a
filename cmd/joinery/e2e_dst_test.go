package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/internal/localtime"
	"github.com/joinery/joinery/internal/testdb"
)

// TestScheduleMeetsRealClockChanges runs the daemon through two clock
// changes that happen while it runs, in zones built with zic whose changes
// come 16 seconds after the test starts (libfaketime cannot move a Go
// binary's clock). The changes are 10 seconds long and placed around a
// whole minute, so that a 5-field cron expression meets them within
// seconds (the test takes about 25 s):
//
//   - Test/Autumn goes back 10 s at T, five seconds after minute X: X comes
//     round twice, at T-5s and T+5s. A job at every minute runs in real
//     time, at both, and the second's files are named with its offset; a
//     job at X runs once, at the first.
//   - Test/Spring goes forward 10 s at T, five seconds before minute X':
//     clocks skip X'. A job at X' runs once, right after the change, as far
//     after it as X' was into the gap: at T+5s, when the clock reads
//     X'+10s.
//
// It also shows that $ZONEINFO wins over the zone database embedded in the
// binary.
func TestScheduleMeetsRealClockChanges(t *testing.T) {
	zic, err := exec.LookPath("zic")
	if err != nil {
		if zic, err = exec.LookPath("/usr/sbin/zic"); err != nil {
			t.Skip("zic not found (Debian's libc-bin has it)")
		}
	}
	t.Parallel()
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	bin := binary(t, "")
	dir := t.TempDir()

	const half = 5 // seconds: each change is 2*half long
	change := time.Now().Truncate(time.Second).Add(16 * time.Second)
	// An offset of about an hour that puts change at second want of its
	// minute on the wall clock.
	offsetFor := func(want int64) int64 {
		return 3600 + ((want-(change.Unix()+3600))%60+60)%60
	}
	autumn, spring := offsetFor(half), offsetFor(60-half)
	until := change.UTC().Format("2006 Jan 2 15:04:05u")
	zoneSrc := "Zone Test/Autumn " + hms(autumn) + " - TAS " + until + "\n                 " + hms(autumn-2*half) + " - TAW\n" +
		"Zone Test/Spring " + hms(spring) + " - TSS " + until + "\n                 " + hms(spring+2*half) + " - TSW\n"
	src := filepath.Join(dir, "zones.zi")
	zoneDir := filepath.Join(dir, "zoneinfo")
	if err := os.WriteFile(src, []byte(zoneSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zic, "-d", zoneDir, src).CombinedOutput(); err != nil {
		t.Fatalf("zic: %v\n%s\n%s", err, out, zoneSrc)
	}
	load := func(name string) *time.Location {
		data, err := os.ReadFile(filepath.Join(zoneDir, name))
		if err != nil {
			t.Fatal(err)
		}
		loc, err := time.LoadLocationFromTZData(name, data)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	autumnLoc, springLoc := load("Test/Autumn"), load("Test/Spring")
	for _, z := range []struct {
		loc           *time.Location
		before, after int64
	}{{autumnLoc, autumn, autumn - 2*half}, {springLoc, spring, spring + 2*half}} {
		_, before := change.Add(-time.Second).In(z.loc).Zone()
		_, after := change.In(z.loc).Zone()
		if int64(before) != z.before || int64(after) != z.after {
			t.Fatalf("%s: offsets %d and %d around the change, want %d and %d\n%s", z.loc, before, after, z.before, z.after, zoneSrc)
		}
	}
	x := change.Add(-half * time.Second).In(autumnLoc)                       // minute X, first copy
	xSpring := localtime.WallAt(change, int(spring)).Add(half * time.Second) // X', a wall clock
	if x.Second() != 0 || xSpring.Second() != 0 {
		t.Fatalf("zones misbuilt: %s, %s\n%s", x, xSpring, zoneSrc)
	}

	job := func(name, schedule, zone string) string {
		return fmt.Sprintf(`  - name: %s
    schedule: "%s"
    timezone: %s
    datasets: {users: {from: users u, select: [u.id]}}
    outputs: [{format: csv, path: "{job}/{datetime}.csv"}]
`, name, schedule, zone)
	}
	cfg := "database:\n  dsn: ${E2E_DSN}\noutput_dir: out\njobs:\n" +
		job("autumn-every-minute", "* * * * *", "Test/Autumn") +
		job("autumn-at-x", fmt.Sprintf("%d %d * * *", x.Minute(), x.Hour()), "Test/Autumn") +
		job("spring-at-x", fmt.Sprintf("%d %d * * *", xSpring.Minute(), xSpring.Hour()), "Test/Spring")
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	d := startDaemon(t, bin, []string{"E2E_DSN=" + testdb.DSN(t), "ZONEINFO=" + zoneDir}, "schedule", "--config", cfgPath, "--grace", "20s")
	out := filepath.Join(dir, "out")
	d.waitForLog(t, `"msg":"scheduler started"`)
	if time.Now().After(x.Add(-time.Second)) {
		t.Skipf("the daemon started %s after the first run was due: the machine is too slow for this test", time.Since(x))
	}
	second := change.Add(half * time.Second).In(autumnLoc)
	time.Sleep(time.Until(second))
	d.waitForFile(t, filepath.Join(out, "autumn-every-minute", second.Format("20060102T150405-0700")+".csv"))
	d.waitForFile(t, filepath.Join(out, "spring-at-x", "*.csv"))
	time.Sleep(3 * time.Second) // autumn-at-x's second copy would have started with the one above
	log := d.stop(t)

	names := func(job string) []string {
		m, _ := filepath.Glob(filepath.Join(out, job, "*.csv"))
		for i := range m {
			m[i] = filepath.Base(m[i])
		}
		slices.Sort(m) // "+" sorts before "."
		return m
	}
	first := x.Format("20060102T150405") + ".csv"
	if got, want := names("autumn-every-minute"), []string{second.Format("20060102T150405-0700") + ".csv", first}; !slices.Equal(got, want) {
		t.Errorf("autumn-every-minute wrote %q, want %q: both copies of %s\n%s", got, want, x.Format("15:04"), log)
	}
	if got := names("autumn-at-x"); !slices.Equal(got, []string{first}) {
		t.Errorf("autumn-at-x wrote %q, want only the first copy %q", got, first)
	}
	moved := change.Add(half*time.Second).In(springLoc).Format("20060102T150405") + ".csv"
	if got := names("spring-at-x"); !slices.Equal(got, []string{moved}) {
		t.Errorf("spring-at-x wrote %q, want %q: the skipped %s run %d s after the change", got, moved, xSpring.Format("15:04"), half)
	}
	if strings.Contains(log, `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", log)
	}
}

// hms formats an offset in seconds as zic wants it.
func hms(sec int64) string {
	return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}
