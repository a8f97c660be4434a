package queries

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/internal/localtime"
)

// Parameters: their declarations in a job (type, default, required), the
// values given for a run, checked against their types, references to them
// (:name in an expression, param: in a filter) and their binding.

// Param declares a named run parameter of a job. In YAML, under a job's
// params mapping: {type: int, default: 10, required: false}, or just the type
// as a string ("date"). Values come from --param name=value on the command
// line, else from Default; a Required parameter has no default and must be
// given. A parameter that is not required needs a default, so that every run
// binds a value for each. Every value is checked against Type and bound, never spliced.
type Param struct {
	Name     string `yaml:",key"`
	Type     string `yaml:"type"` // string, int, decimal, date, datetime, bool, or list<one of these>
	Default  any    `yaml:"default"`
	Required bool   `yaml:"required"`
}

// UnmarshalText parses the shorthand: the type alone.
func (p *Param) UnmarshalText(text []byte) error {
	p.Type = strings.TrimSpace(string(text))
	return nil
}

var paramTypes = []string{"string", "int", "decimal", "date", "datetime", "bool"}

// isList reports whether the parameter holds a list of values.
func (p Param) isList() bool { return strings.HasPrefix(p.Type, "list<") }

// elemType returns the type of the parameter's values (of its elements, for a list).
func (p Param) elemType() string {
	if t, ok := strings.CutPrefix(p.Type, "list<"); ok {
		return strings.TrimSuffix(t, ">")
	}
	return p.Type
}

// ValidateParam checks a declaration and returns its problems as
// *config.FieldErrors with paths relative to the parameter (type, default).
func ValidateParam(p Param, loc *time.Location) []error {
	var errs []error
	add := func(path string, value any, format string, args ...any) {
		errs = append(errs, config.Problem(path, value, fmt.Sprintf(format, args...)))
	}
	if !identRE.MatchString(p.Name) || len(p.Name) > maxIdentLen {
		add("", p.Name, "invalid parameter name: use letters, digits and underscores, not starting with a digit")
	}
	if p.Name == paramWindowStart || p.Name == paramWindowEnd {
		add("", p.Name, "reserved: the run's window provides it")
	}
	list := p.isList()
	if list && !strings.HasSuffix(p.Type, ">") || !slices.Contains(paramTypes, p.elemType()) {
		add("type", p.Type, "want one of %s, or list<type>", strings.Join(paramTypes, ", "))
		return errs
	}
	switch {
	case p.Default != nil && p.Required:
		add("required", true, "a required parameter has no default")
	case p.Default != nil:
		if _, err := p.fromConfig(p.Default, loc); err != nil {
			add("default", p.Default, "%v", err)
		}
	case !p.Required:
		// A run always has a value for every parameter: no NULLs that
		// would turn = into IS NULL, no empty lists.
		errs = append(errs, config.Required("default", "required: give a default, or set required: true"))
	}
	return errs
}

// fromConfig converts a default value decoded from YAML (a scalar, or a
// list for list parameters) into the parameter's type.
func (p Param) fromConfig(v any, loc *time.Location) (any, error) {
	if !p.isList() {
		if _, ok := v.([]any); ok {
			return nil, fmt.Errorf("want a single %s, got a list", p.Type)
		}
		return parseParamValue(p.Type, fmt.Sprint(v), loc)
	}
	items, ok := v.([]any)
	if !ok {
		return p.parse(fmt.Sprint(v), loc)
	}
	return p.parseList(items, loc)
}

// parse converts a value given on the command line: for a list parameter
// the values are separated by commas (1,2,3).
func (p Param) parse(s string, loc *time.Location) (any, error) {
	if !p.isList() {
		return parseParamValue(p.Type, s, loc)
	}
	var items []any
	for item := range strings.SplitSeq(s, ",") {
		items = append(items, strings.TrimSpace(item))
	}
	return p.parseList(items, loc)
}

func (p Param) parseList(items []any, loc *time.Location) (any, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("want at least one value")
	}
	out := make([]any, len(items))
	for i, item := range items {
		v, err := parseParamValue(p.elemType(), fmt.Sprint(item), loc)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

var decimalRE = regexp.MustCompile(`^[-+]?[0-9]+(\.[0-9]+)?$`)

// parseParamValue converts one value of a scalar type. Results: string,
// int64, bool, a decimal as its exact text, a date as "2006-01-02" and a
// datetime as a time.Time in loc (bound in the database's zone by Compile).
func parseParamValue(typ, s string, loc *time.Location) (any, error) {
	s = strings.TrimSpace(s)
	switch typ {
	case "string":
		return s, nil
	case "int":
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", s)
		}
		return i, nil
	case "decimal":
		if !decimalRE.MatchString(s) {
			return nil, fmt.Errorf("%q is not a decimal number such as 12.50", s)
		}
		return s, nil
	case "bool":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", s)
		}
		return b, nil
	case "date":
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date such as 2026-11-01", s)
		}
		return t.Format("2006-01-02"), nil
	case "datetime":
		return ParseTime(s, loc)
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

// ParseTime reads a date and time in loc: RFC 3339 (which carries its own
// offset), or 2006-01-02T15:04:05, 2006-01-02 15:04:05, 2006-01-02T15:04,
// 2006-01-02 15:04 or 2006-01-02 (midnight) as a wall clock in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	t, ok := parseTime(s, loc)
	if !ok {
		return time.Time{}, fmt.Errorf("%q: want a date (2026-11-01), a date and time (2026-11-01T06:00) or RFC 3339", s)
	}
	if y := t.Year(); y < 1000 || y > 9999 { // MySQL DATETIME's range
		return time.Time{}, fmt.Errorf("%q: want a year from 1000 to 9999", s)
	}
	return t, nil
}

func parseTime(s string, loc *time.Location) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.In(loc), true
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		w, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		// As schedules read it: a wall clock that comes round twice (clocks
		// going back) means its first copy, and one that clocks skip the
		// instant as far after the change as it is into the gap (02:30 is
		// 03:30). time.Date promises neither.
		return localtime.Resolve(w, loc), true
	}
	return time.Time{}, false
}

// ResolveParams returns the value of every declared parameter: the one
// given (as command-line text) or else the default. It fails on a given name
// that is not declared, a value of the wrong type, and a required parameter
// that is missing. loc is the zone datetime values are read in.
func ResolveParams(decl []Param, given map[string]string, loc *time.Location) (map[string]any, error) {
	out := make(map[string]any, len(decl))
	var names []string
	for _, p := range decl {
		names = append(names, p.Name)
		s, ok := given[p.Name]
		switch {
		case ok:
			v, err := p.parse(s, loc)
			if err != nil {
				return nil, fmt.Errorf("parameter %s (%s): %w", p.Name, p.Type, err)
			}
			out[p.Name] = v
		case p.Default != nil:
			v, err := p.fromConfig(p.Default, loc)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: default: %w", p.Name, err)
			}
			out[p.Name] = v
		default:
			return nil, fmt.Errorf("parameter %s (%s) is required: give --param %s=VALUE", p.Name, p.Type, p.Name)
		}
	}
	for name := range given {
		if !slices.Contains(names, name) {
			if len(names) == 0 {
				return nil, fmt.Errorf("unknown parameter %q: the job declares none", name)
			}
			return nil, fmt.Errorf("unknown parameter %q (declared: %s)", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// CheckParams returns a value of its declared type for every parameter, for
// compiling a job's datasets when no run gives any (validate --connect):
// its default, or else a zero value of its type ("", 0, 0 as a decimal,
// false, 1970-01-01, 1970-01-01 00:00 in loc), a list holding one. The
// values decide the SQL (a list becomes IN (?), a bool 1 or 0, a NULL
// would turn = into IS NULL) and the compiler takes a parameter's type from
// its value, so each must be what a run would bind.
func CheckParams(decl []Param, loc *time.Location) (map[string]any, error) {
	given := make(map[string]string)
	for _, p := range decl {
		if p.Default == nil {
			given[p.Name] = zeroText[p.elemType()]
		}
	}
	return ResolveParams(decl, given, loc)
}

// zeroText is a zero value of each parameter type, as --param would give it.
var zeroText = map[string]string{
	"string": "", "int": "0", "decimal": "0", "bool": "false", "date": "1970-01-01", "datetime": "1970-01-01 00:00",
}

// param returns the declaration of the scope's parameter name, or nil.
func (s Scope) param(name string) *Param {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

// paramRef checks a reference to a run parameter and returns its
// declaration (nil for the built-in window parameters and on errors).
func (v *validator) paramRef(path, name string) *Param {
	if name == paramWindowStart || name == paramWindowEnd {
		if !v.scope.Window {
			v.add(path, name, "the job has no window: set the job's window (previous_day, previous_week, previous_month or last Nh) to use it")
		}
		return nil
	}
	p := v.scope.param(name)
	if p == nil {
		names := []string{paramWindowStart, paramWindowEnd}
		for _, p := range v.scope.Params {
			names = append(names, p.Name)
		}
		v.add(path, name, "unknown parameter (declared: %s)", strings.Join(names, ", "))
	}
	return p
}

// param returns the bound value of a run parameter: the window bounds and
// datetime values as DATETIME text in the database's zone, booleans as 1/0.
func (c *compiler) param(name string) any {
	var v any
	switch name {
	case paramWindowStart:
		v = c.env.Window.Start
	case paramWindowEnd:
		v = c.env.Window.End
	default:
		v = c.env.Params[name]
	}
	if c.label {
		if name == paramWindowStart || name == paramWindowEnd {
			return labelMark + name
		}
		return labelMark + "param " + name
	}
	return c.bound(v)
}

// paramList returns the bound values of a list parameter, never empty.
func (c *compiler) paramList(name string) []any {
	list, _ := c.env.Params[name].([]any)
	if len(list) == 0 {
		list = []any{nil} // IN (NULL) matches nothing, like NOT IN (NULL)
	}
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = c.bound(v)
		if c.label {
			out[i] = fmt.Sprintf("%sparam %s[%d]", labelMark, name, i)
		}
	}
	return out
}

func (c *compiler) bound(v any) any {
	if t, ok := v.(time.Time); ok {
		loc := c.env.Location
		if loc == nil {
			loc = time.UTC
		}
		return formatDateTime(t.In(loc))
	}
	return bindable(v)
}

// formatDateTime writes t's wall clock as MySQL DATETIME text, with
// microseconds only when there are any.
func formatDateTime(t time.Time) string {
	if t.Nanosecond() != 0 {
		return t.Format("2006-01-02 15:04:05.999999")
	}
	return t.Format("2006-01-02 15:04:05")
}
