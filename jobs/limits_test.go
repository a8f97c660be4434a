package jobs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joinery/joinery/config"
)

// nest returns YAML anchors a0 to a<levels-1> under the key x: a0 is leaf
// and each level a list (or, with mapping, a mapping) of width aliases of
// the one before, so a<levels-1> stands for width^(levels-1) leaves.
func nest(levels, width int, leaf string, mapping bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "x:\n  a0: &a0 %s\n", leaf)
	for i := 1; i < levels; i++ {
		items := make([]string, width)
		for j := range items {
			items[j] = fmt.Sprintf("*a%d", i-1)
			if mapping {
				items[j] = fmt.Sprintf("k%d: *a%d", j, i-1)
			}
		}
		open, end := "[", "]"
		if mapping {
			open, end = "{", "}"
		}
		fmt.Fprintf(&b, "  a%d: &a%d %s%s%s\n", i, i, open, strings.Join(items, ", "), end)
	}
	return b.String()
}

// repeat returns a flow list of n copies of item.
func repeat(item string, n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat(item+", ", n), ", ") + "]"
}

// withDataset returns a one-job configuration whose dataset posts has the
// extra YAML lines (indented for the dataset) and whose job has the extra
// job lines.
func withDataset(jobLines, datasetLines string) string {
	return `jobs:
  - name: a
    schedule: "@daily"
` + jobLines + `    datasets:
      posts:
        from: users u
        select: [u.id]
` + datasetLines + `    outputs:
      - {format: csv, path: "{job}.csv"}
`
}

func TestAliasBombs(t *testing.T) {
	tests := []struct {
		name, yaml string
	}{
		{"nested lists in a where value",
			nest(9, 9, `["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]`, false) +
				withDataset("", "        where:\n          - {column: u.id, op: in, value: *a8}\n")},
		{"nested mappings in a param default",
			nest(9, 9, `{k: lol}`, true) +
				withDataset("    params:\n      p: {type: string, default: *a8}\n", "")},
		{"many where values, each under yaml's own limit",
			// yaml's decoder limits the aliases of one value to 99 times
			// its other values; 81 values of 100 numbers and 6,561 more
			// through aliases each get past it, one at a time.
			nest(4, 9, `[1, 2, 3, 4, 5, 6, 7, 8, 9]`, false) +
				"  w: &w {column: u.id, op: in, value: " + numbers(100, "*a3") + "}\n  ws: &ws " + repeat("*w", 81) + "\n" +
				withDataset("", "        where: *ws\n")},
		{"many param defaults, each under yaml's own limit",
			nest(4, 9, `[1, 2, 3, 4, 5, 6, 7, 8, 9]`, false) +
				"  p: &p {type: list<int>, default: " + numbers(100, "*a3") + "}\n" +
				withDataset("    params: {"+aliasList("p", "p", 200)+"}\n", "")},
		{"jobs of datasets of joins of conditions",
			// No value is nested deeper than the configuration's own
			// structure: each level is 30 aliases of the one below.
			"x:\n  c: &c \"u.id = p.user_id\"\n  on: &on " + repeat("*c", 30) +
				"\n  jn: &jn {table: posts, as: p, on: *on}\n  joins: &joins " + repeat("*jn", 30) +
				"\n  ds: &ds {from: users u, joins: *joins, select: [u.id]}\n  dsm: &dsm {" + aliasList("d", "ds", 30) + "}" +
				"\n  job: &job {name: j, schedule: \"@daily\", datasets: *dsm, outputs: [{format: csv, path: \"{dataset}.csv\"}]}" +
				"\njobs: " + repeat("*job", 30) + "\n"},
		{"a long scalar used many times",
			"x:\n  s: &s \"u." + strings.Repeat("a", 500_000) + "\"\n" +
				withDataset("", "        group_by: "+repeat("*s", 40)+"\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.yaml) > maxConfigBytes {
				t.Fatalf("the bomb is %d bytes, over the file limit", len(tt.yaml))
			}
			_, err := Parse("bomb.yaml", []byte(tt.yaml))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if len(ce.Problems) != 1 {
				t.Fatalf("got %d problems, want the one about aliases:\n%v", len(ce.Problems), err)
			}
			p := ce.Problems[0]
			if p.File != "bomb.yaml" || p.Line == 0 || p.Path == "" || !strings.HasPrefix(p.Value, "*") ||
				!strings.Contains(p.Msg, "aliases expand to more than") {
				t.Errorf("problem = %+v, want the file, line, field path and alias of an alias limit", p)
			}
		})
	}
}

// numbers returns a flow list of the numbers 1 to n and then last.
func numbers(n int, last string) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		fmt.Fprintf(&b, "%d, ", i+1)
	}
	return b.String() + last + "]"
}

// aliasList returns n entries prefix0: *anchor, prefix1: *anchor... of a
// flow mapping.
func aliasList(prefix, anchor string, n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf("%s%d: *%s", prefix, i, anchor)
	}
	return strings.Join(items, ", ")
}

func TestAliasesInUse(t *testing.T) {
	// The first job defines the anchors where it uses them; the others
	// share its datasets, its countries and its output.
	first := `jobs:
  - name: j0
    schedule: "@daily"
    params:
      c: {type: list<string>, default: &countries [DE, FR]}
    datasets: &datasets
      posts:
        from: users u
        joins:
          - {table: posts, as: p, type: left, on: u.id = p.user_id}
        select: [u.id, count(p.id) AS posts]
        where:
          - {column: u.country, op: in, value: *countries}
        group_by: [u.id]
    outputs: [&xlsx {format: xlsx, path: "{job}.xlsx"}]
`
	other := "  - {name: j%d, schedule: \"@daily\", params: {c: {type: list<string>, default: *countries}}, datasets: *datasets, outputs: [*xlsx]}\n"
	tests := []struct {
		name string
		jobs int
	}{
		{"a dataset shared by two jobs", 2},
		{"a dataset shared by 500 jobs", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString(first)
			for i := 1; i < tt.jobs; i++ {
				fmt.Fprintf(&b, other, i)
			}
			cfg, err := Parse("c.yaml", []byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Jobs) != tt.jobs {
				t.Fatalf("got %d jobs, want %d", len(cfg.Jobs), tt.jobs)
			}
			for _, j := range cfg.Jobs {
				ds := j.Datasets[0]
				if ds.Name != "posts" || ds.Joins[0].On[0].Right != "p.user_id" || ds.Select[1].Agg != "count" {
					t.Fatalf("job %s: dataset = %+v, want the shared one", j.Name, ds)
				}
				if got := fmt.Sprintf("%v %v %s", ds.Where[0].Value, j.Params[0].Default, j.Outputs[0].Format); got != "[DE FR] [DE FR] xlsx" {
					t.Fatalf("job %s: where value, param default and output format = %s, want [DE FR] [DE FR] xlsx", j.Name, got)
				}
			}
		})
	}
}

func TestConfigSizeLimit(t *testing.T) {
	valid := "jobs:\n" + jobYAML("a", "@daily")
	pad := func(size int) string {
		// A comment fills the file up to size bytes.
		return valid + "#" + strings.Repeat("x", size-len(valid)-2) + "\n"
	}
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		wantErr bool
	}{
		{"at the limit", pad(maxConfigBytes), false},
		{"one byte over", pad(maxConfigBytes + 1), true},
		{"far over", pad(20 << 20), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, load := range []func() (*Config, error){
				func() (*Config, error) { return Load(path) },
				func() (*Config, error) { return Parse(path, []byte(tt.content)) },
			} {
				_, err := load()
				if !tt.wantErr {
					if err != nil {
						t.Fatal(err)
					}
					continue
				}
				var ce *config.Error
				if !errors.As(err, &ce) || len(ce.Problems) != 1 {
					t.Fatalf("err = %v, want a *config.Error with one problem", err)
				}
				want := path + ": the file is larger than 2 MiB"
				if got := ce.Problems[0].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("problem = %q, want it to start with %q", got, want)
				}
			}
		})
	}
}

// maxProblems is how many problems a config.Error holds.
const maxProblems = 100

func TestManyProblems(t *testing.T) {
	// Each job has a bad schedule: one problem per job, 150 in all.
	var b strings.Builder
	b.WriteString("jobs:\n")
	for i := range 150 {
		b.WriteString(jobYAML(fmt.Sprintf("j%d", i), "61 * * * *"))
	}
	_, err := Parse("c.yaml", []byte(b.String()))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	if len(ce.Problems) != maxProblems || ce.More != 50 {
		t.Errorf("got %d problems and %d more, want %d and 50", len(ce.Problems), ce.More, maxProblems)
	}
	lines := strings.Split(err.Error(), "\n")
	if got, want := lines[0], "invalid configuration: 150 problems:"; got != want {
		t.Errorf("first line = %q, want %q", got, want)
	}
	if got, want := len(lines), 1+maxProblems+1; got != want {
		t.Errorf("got %d lines, want %d", got, want)
	}
	if got, want := lines[len(lines)-1], "  ... and 50 more problems"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
	// The first hundred in file order: those of jobs[0] to jobs[99].
	if got := lines[maxProblems]; !strings.Contains(got, "jobs[99].schedule") {
		t.Errorf("problem 100 = %q, want jobs[99]'s", got)
	}
}
