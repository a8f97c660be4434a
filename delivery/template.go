package delivery

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/joinery/joinery/output"
)

// Template is a text/template over a Report: the subject and body of an
// e-mail, the text of a notification, an object key. Parse one with
// ParseTemplate when the configuration is validated, so that a mistake
// in it is a configuration error, not a failed delivery.
//
// Besides the Report's fields (.Job, .RunID, .Event, .Logical,
// .WindowStart, .WindowEnd, .Params, .Datasets with .Name, .Rows, .Joins
// and .Warnings, .Warnings, .Files with .Rel, .Output, .Format, .Size,
// .Rows, .Error, .Attempts, .Missed), a template may call:
//
//	date LAYOUT TIME   TIME formatted with Go's LAYOUT ("2006-01-02")
//	bytes N            N bytes in human units ("1.5 MB", powers of 1000)
//	count N            N with thousands separators ("1,234,567")
//	join SEP LIST      the strings of LIST joined with SEP
//	rows REPORT        the rows of every dataset of REPORT, summed
type Template struct {
	t *template.Template
}

// funcs are the functions templates may call; see Template.
var funcs = template.FuncMap{
	"date":  func(layout string, t time.Time) string { return t.Format(layout) },
	"bytes": humanBytes,
	"count": GroupDigits,
	"join":  func(sep string, list []string) string { return strings.Join(list, sep) },
	"rows": func(r *Report) int64 {
		var n int64
		for _, d := range r.Datasets {
			n += d.Rows
		}
		return n
	},
}

// ParseTemplate parses text as a Template named name, and executes it
// once on a sample report, so that a field the Report does not have
// ({{.Jobb}}) is an error here too, not only when a run is delivered.
func ParseTemplate(name, text string) (*Template, error) {
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template: %w", trimTemplateErr(err, name))
	}
	tt := &Template{t}
	if _, err := tt.Execute(SampleReport()); err != nil {
		return nil, err
	}
	return tt, nil
}

// MustParseTemplate is ParseTemplate for the built-in templates of
// destinations: it panics on an error.
func MustParseTemplate(name, text string) *Template {
	t, err := ParseTemplate(name, text)
	if err != nil {
		panic(err)
	}
	return t
}

// Execute returns the text of t for r.
func (t *Template) Execute(r *Report) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, r); err != nil {
		return "", fmt.Errorf("template: %w", trimTemplateErr(err, t.t.Name()))
	}
	return b.String(), nil
}

// trimTemplateErr drops the "template: NAME:" text/template starts its
// errors with: the caller says which template it is.
func trimTemplateErr(err error, name string) error {
	msg := strings.TrimPrefix(err.Error(), "template: "+name+":")
	return fmt.Errorf("%s", strings.TrimSpace(msg))
}

// SampleReport is a report with every field set, for checking templates
// and for tests.
func SampleReport() *Report {
	loc := time.FixedZone("CET", 3600)
	logical := time.Date(2026, 11, 4, 6, 0, 0, 0, loc)
	return &Report{
		Job:         "sample",
		RunID:       "20261104T050000Z-00000000",
		Event:       EventSuccess,
		Logical:     logical,
		WindowStart: logical.AddDate(0, 0, -1),
		WindowEnd:   logical,
		Params:      []output.Param{{Name: "region", Type: "string", Value: "EU"}},
		Datasets:    []Dataset{{Name: "posts", Rows: 1234, Joins: []string{"users: 2 of 1234 rows unmatched"}, Warnings: []string{"1 zero date"}}},
		Warnings:    []string{"dataset posts: 1 zero date"},
		Files: []File{{
			File:   output.File{Path: "/reports/sample/posts-2026-11-04.csv", Format: "csv", Size: 123456, SHA256: strings.Repeat("0", 64), Rows: 1234, Output: "csv"},
			Rel:    "sample/posts-2026-11-04.csv",
			Output: "csv",
		}},
		Manifest: "/reports/sample/sample-20261104T050000Z.manifest.json",
		Dir:      "/reports",
		Error:    "",
		Attempts: 1,
	}
}

// humanBytes formats n bytes in decimal units, as file browsers do.
func humanBytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	i := -1
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + " " + units[i]
}

// GroupDigits writes n with a comma every three digits ("1,234,567").
func GroupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
