package queries

import (
	"encoding"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden compiles every testdata/golden/*.yaml dataset and compares the
// SQL, columns and args with the matching .sql file. On a mismatch the
// actual output is written beside it as .sql.FAIL. A file is either a
// dataset, or a goldenFile: {env: ..., dataset: ...} to compile it with a
// window, parameters, earlier datasets or diagnostics.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden datasets in testdata/golden")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			d, env := loadGolden(t, file)
			d.Name = name
			q, err := Compile(&d, env)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			checkQueryShape(t, q)
			got := formatGolden(filepath.Base(file), q)
			goldenPath := strings.TrimSuffix(file, ".yaml") + ".sql"
			failPath := goldenPath + ".FAIL"
			if *update {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				os.Remove(failPath)
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test ./queries -update to create it)", err)
			}
			if got != string(want) {
				if err := os.WriteFile(failPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Errorf("compiled query differs from %s; got written to %s:\n%s", goldenPath, failPath, got)
				return
			}
			os.Remove(failPath)
		})
	}
}

// checkQueryShape asserts what must hold for every compiled query,
// whatever the golden file says.
func checkQueryShape(t *testing.T, q Query) {
	t.Helper()
	if n := strings.Count(q.SQL, "?"); n != len(q.Args) {
		t.Errorf("%d placeholders but %d args", n, len(q.Args))
	}
	if len(q.ArgNames) != len(q.Args) {
		t.Errorf("%d arg names for %d args", len(q.ArgNames), len(q.Args))
	}
	for i, a := range q.Args {
		if s, ok := a.(string); ok && strings.HasPrefix(s, labelMark) {
			t.Errorf("arg %d is a label: %q", i+1, s)
		}
	}
	for _, bad := range []string{"LIKE BINARY", "FULL", "IS TRUE", "IS FALSE", "NULLS FIRST", "NULLS LAST", "IN ()"} {
		if strings.Contains(q.SQL, bad) {
			t.Errorf("SQL contains %q: %s", bad, q.SQL)
		}
	}
	if strings.Contains(q.SQL, "UNION") && !strings.Contains(q.SQL, "UNION ALL") {
		t.Errorf("a distinct UNION drops equal rows: %s", q.SQL)
	}
}

func formatGolden(source string, q Query) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- compiled from %s; refresh with: go test ./queries -update\n", source)
	b.WriteString(q.SQL)
	b.WriteString("\n-- columns: ")
	b.WriteString(strings.Join(q.Columns, ", "))
	b.WriteString("\n-- args:\n")
	for i, a := range q.Args {
		fmt.Fprintf(&b, "-- %d: %T %#v", i+1, a, a)
		if q.ArgNames[i] != "" {
			fmt.Fprintf(&b, " (%s)", q.ArgNames[i])
		}
		b.WriteString("\n")
	}
	for i, j := range q.Joins {
		fmt.Fprintf(&b, "-- diagnostics %d: %s join %s, key %s\n", i, j.Type, j.Alias, j.Key)
	}
	return b.String()
}

// goldenFile is a golden case that needs an environment.
type goldenFile struct {
	Env struct {
		// Window is [start, end) in RFC 3339; bound in Location.
		Window      []string       `yaml:"window"`
		Location    string         `yaml:"location"`
		Params      map[string]any `yaml:"params"`
		Diagnostics bool           `yaml:"diagnostics"`
		Before      []struct {
			Name    string  `yaml:"name"`
			Dataset Dataset `yaml:"dataset"`
		} `yaml:"before"` // datasets defined before this one
	} `yaml:"env"`
	Dataset Dataset `yaml:"dataset"`
}

// loadGolden reads a golden case: a bare dataset or a goldenFile.
func loadGolden(t *testing.T, path string) (Dataset, Env) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "\ndataset:") {
		return loadDataset(t, path), Env{}
	}
	var g goldenFile
	decodeFile(t, path, &g)
	env := Env{Params: g.Env.Params, Diagnostics: g.Env.Diagnostics, Location: time.UTC}
	if g.Env.Location != "" {
		if env.Location, err = time.LoadLocation(g.Env.Location); err != nil {
			t.Fatal(err)
		}
	}
	if len(g.Env.Window) == 2 {
		var w Window
		if w.Start, err = time.Parse(time.RFC3339, g.Env.Window[0]); err != nil {
			t.Fatal(err)
		}
		if w.End, err = time.Parse(time.RFC3339, g.Env.Window[1]); err != nil {
			t.Fatal(err)
		}
		env.Window = &w
	}
	for _, b := range g.Env.Before {
		b.Dataset.Name = b.Name
		env.Datasets = append(env.Datasets, b.Dataset)
	}
	// The dataset itself comes last, so that it sees the others.
	g.Dataset.Name = strings.TrimSuffix(filepath.Base(path), ".yaml")
	env.Datasets = append(env.Datasets, g.Dataset)
	return g.Dataset, env
}

// loadDataset decodes one dataset from a YAML file the way the config
// decoder does: mappings fill struct fields by yaml tag (unknown keys are
// errors), scalars go through encoding.TextUnmarshaler when the target
// implements it, and an `any` receives plain Go values.
func loadDataset(t *testing.T, path string) Dataset {
	t.Helper()
	var d Dataset
	decodeFile(t, path, &d)
	return d
}

func decodeFile(t *testing.T, path string, into any) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeText(string(src), into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// decodeYAML decodes YAML text the way decodeFile decodes a file.
func decodeYAML(t *testing.T, src string, into any) {
	t.Helper()
	if err := decodeText(src, into); err != nil {
		t.Fatal(err)
	}
}

func decodeText(src string, into any) error {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		return err
	}
	return decodeNode(&n, reflect.ValueOf(into).Elem())
}

func decodeNode(n *yaml.Node, v reflect.Value) error {
	if n.Kind == yaml.DocumentNode {
		return decodeNode(n.Content[0], v)
	}
	if v.Kind() == reflect.Interface {
		var x any
		if err := n.Decode(&x); err != nil {
			return err
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
		return nil
	}
	if n.Kind == yaml.ScalarNode && v.CanAddr() {
		if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
			if err := u.UnmarshalText([]byte(n.Value)); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			return nil
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := decodeNode(n, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: want a mapping for %s", n.Line, v.Type())
		}
		fields := map[string]int{}
		for i := 0; i < v.NumField(); i++ {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if tag != "" {
				fields[tag] = i
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := fields[key]
			if !ok {
				return fmt.Errorf("line %d: unknown field %q in %s", n.Content[i].Line, key, v.Type())
			}
			if err := decodeNode(n.Content[i+1], v.Field(f)); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode {
			// A single value where a list is expected is a list of one.
			s := reflect.MakeSlice(v.Type(), 1, 1)
			if err := decodeNode(n, s.Index(0)); err != nil {
				return err
			}
			v.Set(s)
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: want a list for %s", n.Line, v.Type())
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if err := decodeNode(e, s.Index(i)); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		v.Set(s)
	default:
		return n.Decode(v.Addr().Interface())
	}
	return nil
}
