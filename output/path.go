package output

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Template fields of a Spec's path. Times are the run's logical time in
// the report's zone.
//
//	{job}       the job's name
//	{dataset}   the dataset's name (csv only: one file per dataset)
//	{date}      2006-01-02
//	{time}      150405
//	{datetime}  20060102T150405
//	{from}      the window's start: 2006-01-02 at midnight, else 2006-01-02T1504
//	{to}        the window's end, likewise (both empty when the run has no window)
//
// Path separators in {job} and {dataset} are replaced by "_".
var templateFields = map[string]bool{"job": true, "dataset": true, "date": true, "time": true, "datetime": true, "from": true, "to": true}

// Expand returns a Spec's path template with its fields replaced by vars;
// see templateFields for the fields. It does not add an extension or check
// that the result stays inside output_dir (CheckTemplate does).
func Expand(tmpl string, vars Vars) (string, error) {
	t := vars.Logical
	if vars.Location != nil {
		t = t.In(vars.Location)
	}
	var b strings.Builder
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
			b.WriteString(t.Format("150405"))
		case "datetime":
			b.WriteString(t.Format("20060102T150405"))
		case "from":
			b.WriteString(windowBound(vars.From, vars.Location))
		case "to":
			b.WriteString(windowBound(vars.To, vars.Location))
		}
	})
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// windowBound formats a window bound for a file name.
func windowBound(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc != nil {
		t = t.In(loc)
	}
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02T1504")
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
		if !templateFields[field] {
			return fmt.Errorf("path %q: unknown field {%s} (want {job}, {dataset}, {date}, {time}, {datetime}, {from} or {to})", tmpl, field)
		}
		fn(rest[:open], field)
		rest = rest[open+1+end+1:]
	}
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

// CheckTemplate validates an output spec for a job with the given number
// of datasets: the format is csv or xlsx; the path uses known fields only;
// a csv path names {dataset} when there is more than one dataset; an xlsx
// path (one workbook for all datasets) does not name {dataset}; the path
// is relative and stays inside output_dir; its extension, if any, matches
// the format (.csv or .txt for csv, .xlsx for xlsx).
func CheckTemplate(spec Spec, datasets int) error {
	_, err := checkTemplate(spec, datasets)
	return err
}

// checkTemplate is CheckTemplate that also returns the extension to append
// to expanded paths ("" when the template has one).
func checkTemplate(spec Spec, datasets int) (string, error) {
	var ext string
	switch spec.Format {
	case "csv":
		ext = ".csv"
	case "xlsx":
		ext = ".xlsx"
	default:
		return "", fmt.Errorf("format %q: want csv or xlsx", spec.Format)
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
	if spec.Format == "csv" && datasets > 1 && !hasDataset {
		return "", fmt.Errorf("path %q: a csv output of a job with %d datasets writes one file per dataset and must contain {dataset}", spec.Path, datasets)
	}
	if spec.Format == "xlsx" && hasDataset {
		return "", fmt.Errorf("path %q: an xlsx output is one workbook with a sheet per dataset and must not contain {dataset}", spec.Path)
	}
	sampleTime := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	sample, err := Expand(spec.Path, Vars{Job: "job", Dataset: "dataset", Logical: sampleTime, From: sampleTime, To: sampleTime})
	if err != nil {
		return "", err
	}
	if !filepath.IsLocal(sample) || strings.HasSuffix(sample, "/") {
		return "", fmt.Errorf("path %q: must be a relative file path inside output_dir (no leading /, no ..)", spec.Path)
	}
	switch got := strings.ToLower(filepath.Ext(shape.String())); {
	case got == "":
		return ext, nil
	case got == ext, spec.Format == "csv" && got == ".txt":
		return "", nil
	default:
		return "", fmt.Errorf("path %q: extension %s does not match format %s", spec.Path, got, spec.Format)
	}
}

// destination expands spec's path for vars and joins it to dir.
func destination(spec Spec, dir string, vars Vars, ext string) (string, error) {
	p, err := Expand(spec.Path, vars)
	if err != nil {
		return "", err
	}
	p += ext
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("path %q: expands to %q, outside output_dir", spec.Path, p)
	}
	return filepath.Join(dir, p), nil
}
