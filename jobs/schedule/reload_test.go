package schedule

import (
	"slices"
	"strings"
	"testing"

	"github.com/joinery/joinery/jobs"
)

// TestReloadable: a configuration replaces the one in use when it can be
// scheduled, its output folder written, and its database settings are the
// same; jobsDiff names what changed.
func TestReloadable(t *testing.T) {
	parse := func(text string) *jobs.Config { return loadConfig(t, text) }
	const base = "database: {dsn: \"u@tcp(db:3306)/app\", timezone: Europe/Berlin}\n"
	old := parse(base + jobYAML(""))
	tests := []struct {
		name, text, want string
	}{
		{"the same", base + jobYAML(""), ""},
		{"another job", base + jobYAML("") + strings.Replace(strings.TrimPrefix(jobYAML(""), "\njobs:\n"), "name: j", "name: k", 1), ""},
		{"another database setting", strings.Replace(base, "}", ", statement_timeout: 5m}", 1) + jobYAML(""), "the database settings changed: restart joinery to apply them"},
		{"another DSN", strings.Replace(base, "/app", "/other", 1) + jobYAML(""), "the database settings changed"},
		{"a required parameter", base + strings.Replace(jobYAML(""), "    datasets:", "    params: {p: {type: int, required: true}}\n    datasets:", 1), "cannot run on its schedule"},
		{"an output folder that cannot be made", base + "output_dir: /proc/joinery\n" + jobYAML(""), "/proc/joinery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := reloadable(old, parse(tt.text))
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("reloadable = %v, want %q", err, tt.want)
			}
		})
	}
	added, removed := jobsDiff(old, parse(base+strings.Replace(jobYAML(""), "name: j", "name: k", 1)))
	if !slices.Equal(added, []string{"k"}) || !slices.Equal(removed, []string{"j"}) {
		t.Errorf("jobsDiff = %v, %v; want [k], [j]", added, removed)
	}
}

// TestRunSet: a job runs once at a time, nothing starts once stopping,
// and the idle channel closes when the last run ends.
func TestRunSet(t *testing.T) {
	rs := newRunSet()
	if ok, busy := rs.start("a"); !ok || busy {
		t.Fatalf("start a = %v, %v", ok, busy)
	}
	if ok, busy := rs.start("a"); ok || !busy {
		t.Errorf("start a again = %v, %v; want busy", ok, busy)
	}
	if ok, _ := rs.start("b"); !ok {
		t.Error("b did not start beside a")
	}
	rs.done("b")
	idle := rs.stop()
	if ok, busy := rs.start("c"); ok || busy {
		t.Errorf("start c when stopping = %v, %v; want neither", ok, busy)
	}
	if got := rs.names(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("names = %v, want [a]", got)
	}
	select {
	case <-idle:
		t.Fatal("idle while a runs")
	default:
	}
	rs.done("a")
	<-idle
	if got := rs.names(); got == nil || len(got) != 0 {
		t.Errorf("names = %#v, want an empty list", got)
	}
	if idle := newRunSet().stop(); idle == nil {
		t.Error("no idle channel")
	} else {
		<-idle // nothing ran: idle at once
	}
}
