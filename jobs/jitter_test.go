package jobs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
)

// jitterConfig is a configuration with top (top-level keys) and one job
// per schedule, named j0, j1..., each with the settings in jobSettings
// (by index; missing ones have none).
func jitterConfig(top string, schedules []string, jobSettings ...string) string {
	var b strings.Builder
	b.WriteString(top + "jobs:\n")
	for i, s := range schedules {
		y := jobYAML(fmt.Sprintf("j%d", i), s)
		if i < len(jobSettings) && jobSettings[i] != "" {
			y = strings.Replace(y, "    datasets:", "    "+jobSettings[i]+"\n    datasets:", 1)
		}
		b.WriteString(y)
	}
	return b.String()
}

// TestJitterDelay: the delay is a whole number of seconds in [0, jitter),
// the same each time it is asked (and so on every daemon: it depends on
// the name alone), different for different jobs, and 0 without jitter;
// a job's own jitter, 0 included, overrides the configuration's.
func TestJitterDelay(t *testing.T) {
	const n = 40
	schedules := make([]string, n)
	for i := range schedules {
		schedules[i] = "@hourly"
	}
	cfg, err := Parse("c.yaml", []byte(jitterConfig("jitter: 30m\n", schedules, "jitter: 0s", "jitter: 90s")))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Jobs[0].Delay(); got != 0 {
		t.Errorf("j0 (jitter: 0s) delay = %s, want 0", got)
	}
	if got := cfg.Jobs[1].Delay(); got < 0 || got >= 90*time.Second {
		t.Errorf("j1 (jitter: 90s) delay = %s, want in [0, 90s)", got)
	}
	seen := map[time.Duration]bool{}
	for i := 2; i < n; i++ {
		j := &cfg.Jobs[i]
		d := j.Delay()
		if d < 0 || d >= 30*time.Minute || d%time.Second != 0 {
			t.Errorf("%s delay = %s, want whole seconds in [0, 30m)", j.Name, d)
		}
		if again := j.Delay(); again != d {
			t.Errorf("%s delay = %s, then %s", j.Name, d, again)
		}
		seen[d] = true
	}
	// 38 jobs over 1,800 seconds: a hash that spreads them at all gives
	// far more than a handful of distinct delays.
	if len(seen) < 30 {
		t.Errorf("38 jobs got %d distinct delays: %v", len(seen), seen)
	}
	// The same name in another configuration (another daemon) has the same
	// delay; the delay is fixed in advance (a test of the hash, so that a
	// change of it, which moves every job's start, is deliberate).
	other, err := Parse("other.yaml", []byte(jitterConfig("", []string{"0 6 * * *", "0 6 * * *", "0 6 * * *"}, "jitter: 30m", "jitter: 30m", "jitter: 30m")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := other.Jobs[2].Delay(), cfg.Jobs[2].Delay(); got != want {
		t.Errorf("j2: delay %s in one configuration, %s in the other", got, want)
	}
	if got, want := other.Jobs[0].Delay(), fnvDelay("j0", 1800); got != want {
		t.Errorf("j0 delay = %s, want %s", got, want)
	}
}

// fnvDelay is FNV-1a 64 of name modulo seconds, written out.
func fnvDelay(name string, seconds uint64) time.Duration {
	h := uint64(14695981039346656037)
	for _, c := range []byte(name) {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return time.Duration(h%seconds) * time.Second
}

// TestNextStart: the next run to start after t is the scheduled time
// whose start (time + delay) is after t, which may be a scheduled time
// before t still waiting for its delay.
func TestNextStart(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(jitterConfig("timezone: Europe/Berlin\n", []string{"0 6 * * *"}, "jitter: 2h")))
	if err != nil {
		t.Fatal(err)
	}
	j := &cfg.Jobs[0]
	d := j.Delay()
	if d == 0 {
		t.Fatal("the test needs a job whose delay is not 0")
	}
	six := time.Date(2026, 11, 26, 6, 0, 0, 0, cfg.Location)
	for _, tt := range []struct {
		name        string
		at          time.Time
		wantLogical time.Time
	}{
		{"before the scheduled time", six.Add(-time.Minute), six},
		{"during the delay", six.Add(d - time.Second), six},
		{"at the start", six.Add(d), six.AddDate(0, 0, 1)},
	} {
		logical, start := j.NextStart(tt.at)
		if !logical.Equal(tt.wantLogical) || !start.Equal(tt.wantLogical.Add(d)) || logical.Location() != cfg.Location {
			t.Errorf("%s: NextStart(%s) = %s, %s; want %s, %s", tt.name, tt.at, logical, start, tt.wantLogical, tt.wantLogical.Add(d))
		}
	}
}

// TestJitterValidation: a jitter under a second, or as long as the
// shortest interval between the job's scheduled times, is a problem at
// the field that set it; the top-level one names the job.
func TestJitterValidation(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // "" for valid
	}{
		{"hourly, 59m", jitterConfig("", []string{"@hourly"}, "jitter: 59m"), nil},
		{"hourly, 1h", jitterConfig("", []string{"@hourly"}, "jitter: 1h"), []string{"jobs[0].jitter", `"1h0m0s"`, "shortest interval", "1h0m0s"}},
		{"every 20 minutes in one hour", jitterConfig("", []string{"*/20 2 * * *"}, "jitter: 30m"), []string{"jobs[0].jitter", "20m0s"}},
		{"two days a week", jitterConfig("", []string{"0 0 * * 1,2"}, "jitter: 25h"), []string{"jobs[0].jitter", "24h0m0s"}},
		// Berlin's spring change makes a day of 23 hours.
		{"daily across the spring change", jitterConfig("timezone: Europe/Berlin\n", []string{"30 1 * * *"}, "jitter: 23h30m"), []string{"jobs[0].jitter", "23h0m0s"}},
		{"monthly, 27 days", jitterConfig("", []string{"@monthly"}, "jitter: 648h"), nil},
		{"monthly, 28 days", jitterConfig("", []string{"@monthly"}, "jitter: 672h"), []string{"jobs[0].jitter", "672h0m0s"}},
		{"under a second", jitterConfig("", []string{"@hourly"}, "jitter: 500ms"), []string{"jobs[0].jitter", "at least 1s"}},
		{"negative", jitterConfig("", []string{"@hourly"}, "jitter: -1m"), []string{"jobs[0].jitter", "positive duration"}},
		{"top-level too long for one job", jitterConfig("jitter: 2h\n", []string{"@daily", "@hourly"}), []string{"jitter: ", "job j1", "jitter of its own"}},
		{"top-level, the job's own is shorter", jitterConfig("jitter: 2h\n", []string{"@daily", "@hourly"}, "", "jitter: 10m"), nil},
		{"an unknown zone", jitterConfig("", []string{"@hourly"}, "jitter: 10m\n    timezone: Mars/Olympus"), []string{"jobs[0].timezone", "unknown time zone"}},
		{"a bad schedule", jitterConfig("", []string{"61 * * * *"}, "jitter: 10m"), []string{"jobs[0].schedule", "invalid cron"}},
		{"top-level, the job has none", jitterConfig("jitter: 2h\n", []string{"@daily", "@hourly"}, "", "jitter: 0s"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if !anyProblem(ce.Problems, tt.want) {
				t.Errorf("no problem contains all of %q in:\n%v", tt.want, err)
			}
		})
	}
}
