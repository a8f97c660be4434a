package output

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/joinery/joinery/internal/localtime"
)

// Template fields of a Spec's path. Times are the run's logical time in
// the report's zone.
//
//	{job}       the job's name
//	{dataset}   the dataset's name (formats with a file per dataset)
//	{date}      2006-01-02
//	{time}      150405
//	{datetime}  20060102T150405
//	{from}      the start of the run's data window: 2006-01-02 when it is
//	            at midnight, else 2006-01-02T150405
//	{to}        the end of the window, likewise
//	{run}       when the run started, 20060102T150405 (unlike the others,
//	            it differs between two runs for the same logical time)
//	{param.NAME} the value of the run's parameter NAME: as given, a
//	            datetime as {from} writes it, a list's values joined
//	            with ","
//
// A time whose wall clock comes round a second time, when clocks go back,
// has its UTC offset after it (020000+0100 in {time}, 20261025T020000+0100
// in {datetime}), so that a job that runs in both copies of the repeated
// hour writes two sets of files: the first copy is named as any other time.
//
// Path separators in {job}, {dataset} and parameter values are replaced by
// "_", and so are control characters in parameter values.
var templateFields = map[string]bool{"job": true, "dataset": true, "date": true, "time": true, "datetime": true,
	"from": true, "to": true, "run": true}

// paramField is the prefix of {param.NAME}.
const paramField = "param."

// ParamFields returns the parameter names tmpl uses as {param.NAME}, each
// once, in order (none for a template that does not parse: Registry.Validate
// reports that).
func ParamFields(tmpl string) []string {
	var out []string
	_ = walkTemplate(tmpl, func(_, field string) {
		if name, ok := strings.CutPrefix(field, paramField); ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	})
	return out
}

// sampleParams gives each parameter tmpl names a sample value, for
// expanding a template before any run.
func sampleParams(tmpl string) []Param {
	var ps []Param
	for _, name := range ParamFields(tmpl) {
		ps = append(ps, Param{Name: name, Type: "string", Value: "param"})
	}
	return ps
}

// pathTime writes a time of a path, {from} and {to} and datetime
// parameters: 2006-01-02 at midnight, else 2006-01-02T150405.
func pathTime(v time.Time) string {
	if v.Hour() == 0 && v.Minute() == 0 && v.Second() == 0 && v.Nanosecond() == 0 && !localtime.Repeated(v) {
		return v.Format("2006-01-02")
	}
	return v.Format("2006-01-02T150405" + repeated(v))
}

// expand returns a Spec's path template with its fields replaced by vars;
// see templateFields for the fields. It does not add an extension or check
// that the result stays inside output_dir (Registry.Validate does).
func expand(tmpl string, vars Vars) (string, error) {
	t := vars.Logical
	if vars.Location != nil {
		t = t.In(vars.Location)
	}
	var b strings.Builder
	var missing, noParam string
	err := walkTemplate(tmpl, func(lit string, field string) {
		b.WriteString(lit)
		switch field {
		case "job":
			b.WriteString(safeSegment(vars.Job))
		case "dataset":
			b.WriteString(safeSegment(vars.Dataset))
		case "date":
			b.WriteString(t.Format("2006-01-02"))
		case "time":
			b.WriteString(t.Format("150405" + repeated(t)))
		case "datetime":
			b.WriteString(t.Format("20060102T150405" + repeated(t)))
		case "from", "to", "run":
			v := map[string]time.Time{"from": vars.WindowStart, "to": vars.WindowEnd, "run": vars.RunTime}[field]
			if v.IsZero() {
				if missing == "" {
					missing = field
				}
				return
			}
			if vars.Location != nil {
				v = v.In(vars.Location)
			}
			if field == "run" {
				b.WriteString(v.Format("20060102T150405" + repeated(v)))
			} else {
				b.WriteString(pathTime(v))
			}
		default:
			name, ok := strings.CutPrefix(field, paramField)
			if !ok {
				return
			}
			i := slices.IndexFunc(vars.Params, func(p Param) bool { return p.Name == name })
			if i < 0 {
				if noParam == "" {
					noParam = name
				}
				return
			}
			b.WriteString(safeParam(ParamText(vars.Params[i].Value, ",", func(t time.Time) string {
				if vars.Location != nil {
					t = t.In(vars.Location)
				}
				return pathTime(t)
			})))
		}
	})
	if err != nil {
		return "", err
	}
	if noParam != "" {
		return "", fmt.Errorf("path %q: {param.%s}: the run has no parameter %s", tmpl, noParam, noParam)
	}
	if missing == "run" {
		return "", fmt.Errorf("path %q: {run} needs the run's start time", tmpl)
	}
	if missing != "" {
		return "", fmt.Errorf("path %q: {%s} needs a run window, and this run has none", tmpl, missing)
	}
	return b.String(), nil
}

// repeated returns the layout of t's UTC offset when t's wall clock is the
// second copy of one (see templateFields), else "".
func repeated(t time.Time) string {
	if localtime.Repeated(t) {
		return "-0700"
	}
	return ""
}

// WindowFields returns the fields of tmpl that need a run window, {from}
// and {to}, in the order they appear (none for a template that does not
// parse: Registry.Validate reports that).
func WindowFields(tmpl string) []string {
	var out []string
	_ = walkTemplate(tmpl, func(_, field string) {
		if (field == "from" || field == "to") && !slices.Contains(out, field) {
			out = append(out, field)
		}
	})
	return out
}

// walkTemplate calls fn for each literal run and the field that follows it
// (field is empty after the last literal).
func walkTemplate(tmpl string, fn func(lit, field string)) error {
	rest := tmpl
	for {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			fn(rest, "")
			return nil
		}
		if rest[open] == '}' {
			return fmt.Errorf("path %q: unexpected }", tmpl)
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] != '}' {
			return fmt.Errorf("path %q: unclosed {", tmpl)
		}
		field := rest[open+1 : open+1+end]
		if name, ok := strings.CutPrefix(field, paramField); ok {
			if !paramName.MatchString(name) {
				return fmt.Errorf("path %q: {%s}: want {param.NAME} with the name of a parameter of the job", tmpl, field)
			}
		} else if !templateFields[field] {
			return fmt.Errorf("path %q: unknown field {%s} (want {job}, {dataset}, {date}, {time}, {datetime}, {from}, {to}, {run} or {param.NAME})", tmpl, field)
		}
		fn(rest[:open], field)
		rest = rest[open+1+end+1:]
	}
}

// paramName is what a parameter's name may be (queries.ValidateParam).
var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// safeParam is safeSegment for a parameter's value, which comes from the
// command line: control characters go too.
func safeParam(s string) string {
	return safeSegment(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s))
}

// safeSegment keeps a name from adding or leaving directories.
func safeSegment(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}

// checkTemplate validates an output spec's path in format f for a job
// with the given number of datasets: the path uses known fields only; the
// path of a format with a file per dataset names {dataset} when there is
// more than one dataset; that of a PerJob format (one file for all
// datasets) does not name {dataset}; the path is relative and stays inside
// output_dir; its extension, if any, is one of the format's (.csv or .txt
// for csv, .xlsx for xlsx, ...), with .gz added for gzip (".gz" is
// appended to a path that has only the format's extension). It returns
// the extension to append to expanded paths ("" when the template has
// one). Registry.Validate checks the other fields.
func checkTemplate(f Format, spec Spec, datasets int) (string, error) {
	exts := f.Extensions() // the first is the default
	gz := ""
	if spec.Gzip && slices.Contains(f.Options(), "gzip") {
		gz = ".gz"
	}
	if strings.TrimSpace(spec.Path) == "" {
		return "", errors.New("path is empty")
	}
	hasDataset := false
	var shape strings.Builder // the template with every field as "x"
	if err := walkTemplate(spec.Path, func(lit, field string) {
		shape.WriteString(lit)
		if field != "" {
			shape.WriteString("x")
		}
		hasDataset = hasDataset || field == "dataset"
	}); err != nil {
		return "", err
	}
	if !f.PerJob() && datasets > 1 && !hasDataset {
		return "", fmt.Errorf("path %q: %s %s output of a job with %d datasets writes one file per dataset and must contain {dataset}", spec.Path, article(f.Name()), f.Name(), datasets)
	}
	if f.PerJob() && hasDataset {
		return "", fmt.Errorf("path %q: %s %s output is one file with every dataset in it and must not contain {dataset}", spec.Path, article(f.Name()), f.Name())
	}
	at := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	sample, err := expand(spec.Path, Vars{Job: "job", Dataset: "dataset", Logical: at, WindowStart: at, WindowEnd: at, RunTime: at,
		Params: sampleParams(spec.Path)})
	if err != nil {
		return "", err
	}
	if !filepath.IsLocal(sample) || strings.HasSuffix(sample, "/") {
		return "", fmt.Errorf("path %q: must be a relative file path inside output_dir (no leading /, no ..)", spec.Path)
	}
	name := strings.ToLower(shape.String())
	got := filepath.Ext(name)
	switch {
	case got == "":
		return exts[0] + gz, nil
	case gz != "" && got == gz && slices.Contains(exts, filepath.Ext(strings.TrimSuffix(name, gz))):
		return "", nil
	case slices.Contains(exts, got):
		return gz, nil
	default:
		want := strings.Join(exts, " or ")
		if gz != "" {
			want += " (with .gz or without)"
		}
		return "", fmt.Errorf("path %q: extension %s does not match format %s (want %s)", spec.Path, got, spec.Format, want)
	}
}

// destination expands a path template for vars: a clean path relative to
// output_dir.
func destination(tmpl string, vars Vars, ext string) (string, error) {
	p, err := expand(tmpl, vars)
	if err != nil {
		return "", err
	}
	p += ext
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("path %q: expands to %q, outside output_dir", tmpl, p)
	}
	return filepath.Clean(p), nil
}

// SamplePaths returns the files spec would write for a job named job with
// the given datasets, all at one fixed logical time, relative to
// output_dir: two outputs whose samples meet would overwrite each other.
func (reg *Registry) SamplePaths(spec Spec, job string, datasets []string) ([]string, error) {
	f, err := reg.Lookup(spec.Format)
	if err != nil {
		return nil, err
	}
	ext, err := checkTemplate(f, spec, len(datasets))
	if err != nil {
		return nil, err
	}
	at := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	vars := Vars{Job: job, Logical: at, WindowStart: at, WindowEnd: at, RunTime: at, Params: sampleParams(spec.Path)}
	if f.PerJob() {
		datasets = []string{""}
	}
	var out []string
	for _, ds := range datasets {
		vars.Dataset = ds
		p, err := destination(spec.Path, vars, ext)
		if err != nil {
			return nil, err
		}
		out = append(out, filepath.Clean(p))
	}
	return out, nil
}
