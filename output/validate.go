package output

import (
	"fmt"
	"slices"
	"strings"

	"github.com/joinery/joinery/config"
)

// Validate checks an output spec for a job with the given number of
// datasets and returns every problem, each a *config.FieldError whose path is relative
// to the output: first the
// format, the path (see CheckTemplate) and the options every format takes,
// then options of other formats set on this one, then the format's own
// options (Format.Check), then the columns' settings.
func (reg *Registry) Validate(s Spec, datasets int) []error {
	var errs []error
	fail := func(field, value, format string, args ...any) {
		errs = append(errs, Problem(field, value, fmt.Sprintf(format, args...)))
	}
	f, err := reg.Lookup(s.Format)
	if err != nil {
		fail("format", s.Format, "%v", err)
	} else if _, err := checkTemplate(f, s, datasets); err != nil {
		fail("path", s.Path, "%v", err)
	}
	if s.Latest != "" {
		l := s
		l.Path = s.Latest
		var err error
		if f != nil { // else the format is reported, and the path cannot be checked
			_, err = checkTemplate(f, l, datasets)
		}
		if err != nil {
			fail("latest", s.Latest, "%v", err)
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
	if f == nil {
		return errs
	}

	own := f.Check(s)
	reported := make(map[string]bool)
	for _, err := range own {
		if fe, ok := err.(*config.FieldError); ok {
			reported[fe.Path] = true
		}
	}
	for _, o := range formatOptions {
		if !o.set(s) || reported[o.name] || slices.Contains(f.Options(), o.name) {
			continue
		}
		if owners := reg.owners(o.name); len(owners) > 0 {
			fail(o.name, "", "is %s %s option; this output is %s", article(owners[0]), list(owners, "and"), f.Name())
		}
	}
	errs = append(errs, own...)

	seen := make(map[string]bool)
	presentation := slices.Contains(f.Options(), "columns")
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
		if !presentation && (c.Format != "" || c.Width != 0 || c.Hidden || c.Decimals != "") {
			fail(p, "", "format, width, hidden and decimals are %s settings; %s %s output takes only label",
				list(reg.owners("columns"), "and"), article(f.Name()), f.Name())
		}
		if len(c.Format) > 255 {
			fail(p+".format", "", "longer than Excel's 255 characters")
		}
	}
	return errs
}

// formatOptions are the options of Spec that belong to formats (each
// format lists those it takes in Format.Options), in the order problems
// are reported, with whether a spec sets each. "columns" stands for column
// settings beyond a label, which Validate checks itself.
var formatOptions = [...]struct {
	name string
	set  func(Spec) bool
}{
	{"bom", func(s Spec) bool { return s.BOM != nil }},
	{"preset", func(s Spec) bool { return s.Preset != "" }},
	{"decimal_separator", func(s Spec) bool { return s.DecimalSeparator != "" }},
	{"date_format", func(s Spec) bool { return s.DateFormat != "" }},
	{"datetime_format", func(s Spec) bool { return s.DateTimeFormat != "" }},
	{"delimiter", func(s Spec) bool { return s.Delimiter != "" }},
	{"line_ending", func(s Spec) bool { return s.LineEnding != "" }},
	{"quote_all", func(s Spec) bool { return s.QuoteAll }},
	{"null_as", func(s Spec) bool { return s.NullAs != "" }},
	{"escape_formulas", func(s Spec) bool { return s.EscapeFormulas != nil }},
	{"gzip", func(s Spec) bool { return s.Gzip }},
	{"decimals", func(s Spec) bool { return s.Decimals != "" }},
	{"strings", func(s Spec) bool { return s.Strings != "" }},
	{"about", func(s Spec) bool { return s.About != nil }},
	{"max_rows_per_sheet", func(s Spec) bool { return s.MaxRowsPerSheet != 0 }},
}

// def sets *p to v when it is empty.
func def(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// resolved is s with the defaults of the options every format takes
// filled in; a format fills in its own (Format.New). Only valid specs are
// resolved.
func (s Spec) resolved() Spec {
	def(&s.LatestMode, "link")
	def(&s.Binary, "hex")
	def(&s.ZeroDates, "text")
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
