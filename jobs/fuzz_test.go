package jobs

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/queries"
)

// FuzzParseConfig feeds arbitrary bytes to Parse. Whatever they are, Parse
// must return quickly, without panicking, either a configuration or a
// *config.Error whose problems name the file; and a configuration it
// accepts must compile, as joinery sql would compile it. The seeds are the
// shipped config.yaml, the snippets below and testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	shipped, err := os.ReadFile("../config.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(shipped)
	for _, s := range []string{
		"",
		"jobs:\n" + jobYAML("a", "@daily"),
		"jobs: &j [*j]\n",
		"x: &a [1, *a]\njobs: *a\n",
		"jobs:\n  - <<: {name: a}\n    schedule: \"@daily\"\n",
		"jobs:\n  - {name: a, name: b}\n",
		"? [a, b]\n: c\n",
		"--- \njobs: []\n--- \njobs: []\n",
		"jobs: !!binary aGVsbG8=\n",
		"database: {dsn: '${X:-', max_open_conns: 0x7fffffffffffffff}\n",
		"timezone: \"\\u0000\"\njobs: [{}]\n",
		"jitter: 30m\ntimezone: Nope\njobs:\n" + jobYAML("a", "@hourly"),
		nest(3, 3, `[1, 2]`, false) + withDataset("", "        where:\n          - {column: u.id, op: in, value: *a2}\n"),
		withDataset("    params:\n      p: {type: list<date>, default: [2026-01-01, .inf, ~]}\n", "        where:\n          - {column: u.id, op: between, param: p}\n"),
		withDataset("    window: last 0h\n", "        window: \"u.created_at\"\n        limit: 0\n"),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		cfg, err := Parse("fuzz.yaml", data)
		// Go's fuzzing has no time limit per input, so a slow input would
		// only stall the run: report it, with an input to reproduce it.
		// The limit is far above the milliseconds a configuration takes.
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Parse took %v for %d bytes", d, len(data))
		}
		if err != nil {
			checkConfigError(t, err)
			return
		}
		if cfg == nil || len(cfg.Jobs) == 0 {
			t.Fatalf("Parse = %v, nil: want a configuration with jobs", cfg)
		}
		at := time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC)
		for i := range cfg.Jobs {
			j := &cfg.Jobs[i]
			j.Next(at, 2)
			p, err := j.PlanAt(at, nil)
			if err != nil {
				continue // a required parameter without a value: run refuses it
			}
			env := j.env(p, cfg.Database.Location)
			for k := range j.Datasets {
				q, err := queries.Compile(&j.Datasets[k], env)
				if err != nil {
					t.Fatalf("job %s: dataset %s validated but does not compile: %v", j.Name, j.Datasets[k].Name, err)
				}
				if n := strings.Count(q.SQL, "?"); n != len(q.Args) {
					t.Fatalf("job %s: dataset %s: %d placeholders for %d args: %s", j.Name, j.Datasets[k].Name, n, len(q.Args), q.SQL)
				}
			}
		}
	})
}

// checkConfigError checks that err, returned by Parse of fuzz.yaml, is a
// *config.Error of at most maxProblems problems, each naming the file and
// saying what is wrong.
func checkConfigError(t *testing.T, err error) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %T %v, want a *config.Error", err, err)
	}
	if len(ce.Problems) == 0 || len(ce.Problems) > maxProblems || ce.More < 0 {
		t.Fatalf("got %d problems and %d more, want 1 to %d", len(ce.Problems), ce.More, maxProblems)
	}
	for _, p := range ce.Problems {
		if p.File != "fuzz.yaml" || p.Msg == "" {
			t.Fatalf("problem %+v: want the file and a message", p)
		}
	}
	if msg := ce.Error(); !strings.HasPrefix(msg, "invalid configuration: ") {
		t.Fatalf("Error() = %q", msg)
	}
}
