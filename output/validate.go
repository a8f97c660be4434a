package output

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/joinery/joinery/config"
)

// problem is a problem with one field of a Spec: field is its YAML name
// ("delimiter", "columns.email.width"), relative to the output, and value
// the offending value ("" when there is none to show). Every problem of
// the package is made here.
func problem(field, value, msg string) *config.FieldError {
	if value == "" {
		return config.Problem(field, nil, msg)
	}
	return config.Problem(field, value, msg)
}

// templateProblem is the problem an error of checkTemplate reports: its
// own when it is about the format, else one with field (path or latest),
// whose template is value.
func templateProblem(field, value string, err error) error {
	if formatProblem(err) {
		return err
	}
	return problem(field, value, err.Error())
}

// formatProblem reports whether an error of checkTemplate is about the
// format rather than the path.
func formatProblem(err error) bool {
	var fe *config.FieldError
	return errors.As(err, &fe) && fe.Path == "format"
}

// maxSheetRows is how many data rows fit on a sheet below the header.
const maxSheetRows = 1<<20 - 1

// Validate checks a Spec for a job with the given number of datasets and
// returns every problem, each a *config.FieldError whose path is relative
// to the output. See CheckTemplate for the path's rules; Latest follows the
// same ones.
func (s Spec) Validate(datasets int) []error {
	var errs []error
	fail := func(field, value, format string, args ...any) {
		errs = append(errs, problem(field, value, fmt.Sprintf(format, args...)))
	}
	if _, err := checkTemplate(s, datasets); err != nil {
		errs = append(errs, templateProblem("path", s.Path, err))
	}
	if s.Latest != "" {
		l := s
		l.Path = s.Latest
		if _, err := checkTemplate(l, datasets); err != nil && !formatProblem(err) {
			errs = append(errs, templateProblem("latest", s.Latest, err))
		} else if s.Latest == s.Path {
			fail("latest", s.Latest, "same as path: the latest copy needs a name of its own")
		}
	} else if s.LatestMode != "" {
		fail("latest_mode", s.LatestMode, "set latest (the stable name) too")
	}
	oneOf := func(field, value string, allowed ...string) {
		if value != "" && !slices.Contains(allowed, value) {
			fail(field, value, "want %s", strings.Join(allowed, " or "))
		}
	}
	oneOf("latest_mode", s.LatestMode, "link", "copy")
	oneOf("binary", s.Binary, "hex", "base64")
	oneOf("zero_dates", s.ZeroDates, "text", "empty")
	oneOf("line_ending", s.LineEnding, "crlf", "lf")
	oneOf("decimals", s.Decimals, "auto", "number", "text")
	oneOf("strings", s.Strings, "inline", "shared")

	csvOnly := func(field string, set bool) {
		if set && s.Format != "csv" {
			fail(field, "", "is a csv option; this output is %s", s.Format)
		}
	}
	csvOnly("bom", s.BOM != nil)
	csvOnly("preset", s.Preset != "")
	csvOnly("decimal_separator", s.DecimalSeparator != "")
	csvOnly("date_format", s.DateFormat != "")
	csvOnly("datetime_format", s.DateTimeFormat != "")
	oneOf("preset", s.Preset, PresetExcelDE)
	oneOf("decimal_separator", s.DecimalSeparator, ".", ",")
	for _, f := range []struct {
		field, value string
		datetime     bool
	}{{"date_format", s.DateFormat, false}, {"datetime_format", s.DateTimeFormat, true}} {
		if f.value == "" {
			continue
		}
		if _, err := parseLayout(f.value, f.datetime); err != nil {
			fail(f.field, f.value, "%v", err)
		}
	}
	if p := s.withPreset(); p.DecimalSeparator == "," && (p.Delimiter == "" || p.Delimiter == ",") && s.Format == "csv" {
		fail("decimal_separator", ",", "a decimal comma needs another delimiter, such as \";\" (or the preset excel-de)")
	}
	csvOnly("delimiter", s.Delimiter != "")
	csvOnly("line_ending", s.LineEnding != "")
	csvOnly("quote_all", s.QuoteAll)
	csvOnly("null_as", s.NullAs != "")
	csvOnly("escape_formulas", s.EscapeFormulas != nil)
	if s.Gzip && s.Format == "xlsx" {
		fail("gzip", "", "is a csv and jsonl option: an xlsx file is already compressed")
	}
	xlsxOnly := func(field string, set bool) {
		if set && s.Format != "xlsx" {
			fail(field, "", "is an xlsx option; this output is %s", s.Format)
		}
	}
	xlsxOnly("decimals", s.Decimals != "")
	xlsxOnly("strings", s.Strings != "")
	xlsxOnly("about", s.About != nil)
	xlsxOnly("max_rows_per_sheet", s.MaxRowsPerSheet != 0)

	if d := s.Delimiter; d != "" {
		r, size := utf8.DecodeRuneInString(d)
		switch {
		case size != len(d) || r == utf8.RuneError:
			fail("delimiter", d, "want exactly one character")
		case r == '"' || r == '\r' || r == '\n' || r == '\'':
			fail("delimiter", d, "cannot be a quote, an apostrophe or a line break")
		}
	}
	if s.MaxRowsPerSheet < 0 || s.MaxRowsPerSheet > maxSheetRows {
		fail("max_rows_per_sheet", fmt.Sprint(s.MaxRowsPerSheet), "want 1 to %d", maxSheetRows)
	}
	seen := make(map[string]bool)
	for _, c := range s.Columns {
		p := "columns." + c.Name
		switch {
		case strings.TrimSpace(c.Name) == "":
			fail("columns", "", "a column name is empty")
		case seen[c.Name]:
			fail(p, "", "given twice")
		}
		seen[c.Name] = true
		if c.Width != 0 && (c.Width < 1 || c.Width > 255) {
			fail(p+".width", fmt.Sprint(c.Width), "want 1 to 255 (Excel's limit)")
		}
		if c.Decimals != "" && c.Decimals != "auto" && c.Decimals != "number" && c.Decimals != "text" {
			fail(p+".decimals", c.Decimals, "want auto, number or text")
		}
		if s.Format != "xlsx" && (c.Format != "" || c.Width != 0 || c.Hidden || c.Decimals != "") {
			fail(p, "", "format, width, hidden and decimals are xlsx settings; a %s output takes only label", s.Format)
		}
		if len(c.Format) > 255 {
			fail(p+".format", "", "longer than Excel's 255 characters")
		}
	}
	return errs
}

// def sets *p to v when it is empty.
func def(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// spec with defaults filled in; only valid specs are resolved.
func (s Spec) resolved() Spec {
	s = s.withPreset()
	def(&s.LatestMode, "link")
	def(&s.Binary, "hex")
	def(&s.ZeroDates, "text")
	def(&s.Delimiter, ",")
	def(&s.LineEnding, "crlf")
	def(&s.Decimals, "auto")
	def(&s.Strings, "inline")
	if s.EscapeFormulas == nil {
		t := true
		s.EscapeFormulas = &t
	}
	if s.BOM == nil {
		f := false
		s.BOM = &f
	}
	if s.About == nil {
		t := true
		s.About = &t
	}
	if s.MaxRowsPerSheet == 0 {
		s.MaxRowsPerSheet = maxSheetRows
	}
	return s
}

// presentation returns the ColumnSpec for a column of a dataset: a
// "dataset/column" entry wins over a plain "column" one.
func (s Spec) presentation(dataset, column string) (ColumnSpec, bool) {
	var plain, own ColumnSpec
	var hasPlain, hasOwn bool
	for _, c := range s.Columns {
		switch c.Name {
		case dataset + "/" + column:
			own, hasOwn = c, true
		case column:
			plain, hasPlain = c, true
		}
	}
	if !hasOwn {
		return plain, hasPlain
	}
	// The dataset's own entry wins for what it sets; the plain one still
	// gives the rest (a width for every dataset, a label for one).
	if hasPlain {
		if own.Label == "" {
			own.Label = plain.Label
		}
		if own.Format == "" {
			own.Format = plain.Format
		}
		if own.Width == 0 {
			own.Width = plain.Width
		}
		if own.Decimals == "" {
			own.Decimals = plain.Decimals
		}
		own.Hidden = own.Hidden || plain.Hidden
	}
	return own, true
}
