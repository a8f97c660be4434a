package config

import (
	"cmp"
	"encoding"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decoder reads one configuration file into a Go value strictly and
// collects its problems: unknown keys, duplicate keys and values of the
// wrong kind are problems, and every problem is collected (not just the
// first) with its field path and line. The validation that follows adds
// its own (Add); Err returns them all.
//
// Struct fields are matched by their yaml tag. A slice whose element struct
// has a field tagged `yaml:",key"` may be written as a mapping: each key
// becomes one element, in file order, with that field set to the key. A
// field tagged `yaml:"name,secret"` may hold a credential: no problem ever
// quotes what was written there, nor a scalar written where a struct
// holding such a field is expected (database: "user:password@tcp(...)"),
// and a ${VAR} in a string there that is not set (see ExpandEnv) is a
// problem naming the variable. Types implementing
// encoding.TextUnmarshaler accept scalars. An alias is decoded again
// wherever it is used, up to the limits below.
type Decoder struct {
	file  string
	errs  []*FieldError
	lines map[string]int // field path -> line, for problems found after decoding

	// The expansion of aliases, counted against maxAliasValues and
	// maxAliasText: each alias is decoded again wherever it is used, so a
	// few KB of nested aliases can stand for billions of values.
	aliasDepth int        // how many aliases the value being decoded is inside
	alias      *yaml.Node // the outermost alias being expanded, for the error
	aliasPath  string     // and its field path
	values     int        // values decoded inside aliases
	text       int        // bytes of keys and scalars decoded inside aliases
	stopped    bool       // a limit was reached: decoding stopped, d.errs holds why

	secret int // how many fields tagged secret the value being decoded is inside
}

// NewDecoder returns a Decoder for the configuration file named file.
func NewDecoder(file string) *Decoder {
	return &Decoder{file: file, lines: make(map[string]int)}
}

// Decode decodes data, the whole file, into v, a pointer to a struct. It
// reports whether validation should follow: false when data is not YAML or
// its aliases expand past the limits, the one problem Err returns. An empty
// file is a problem, and validation follows (it reports what is missing).
func (d *Decoder) Decode(data []byte, v any) bool {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		d.errs = append(d.errs, syntaxError(err))
		return false
	}
	if len(root.Content) == 0 {
		d.fail("", nil, "the file is empty")
		return true
	}
	d.decode("", &root, reflect.ValueOf(v).Elem())
	if d.stopped {
		// The one problem is the alias limit: the rest of the file was
		// never decoded, so validating it would only add noise.
		d.errs = d.errs[len(d.errs)-1:]
		return false
	}
	return true
}

// Add adds problems found by validation, with paths from the root of the
// file. Those without a line get the line of their field, or of the
// nearest field around it.
func (d *Decoder) Add(problems ...*FieldError) {
	d.errs = append(d.errs, problems...)
}

// Err returns the problems found, nil when there are none, as an *Error:
// each with the file and a line, in file order, the first maxProblems of
// them. The Missing problems inside a field reported itself are left out:
// a shorthand that did not parse ("u.id == p.user_id") leaves the fields
// it would have filled empty, and saying so again for each of them only
// buries the one problem there is.
func (d *Decoder) Err() error {
	if len(d.errs) == 0 {
		return nil
	}
	errs := dropFollowUps(d.errs)
	for _, e := range errs {
		e.File = d.file
		if e.Line == 0 {
			e.Line = d.lineOf(e.Path)
		}
	}
	// In file order, as an editor would walk them; problems without a
	// line (few) last.
	slices.SortStableFunc(errs, func(a, b *FieldError) int {
		return cmp.Compare(lineKey(a.Line), lineKey(b.Line))
	})
	// Keep the first ones: nobody reads a million problems, and a broken
	// file can make that many. A copy lets the rest go.
	if len(errs) > maxProblems {
		return &Error{Problems: slices.Clone(errs[:maxProblems]), More: len(errs) - maxProblems}
	}
	return &Error{Problems: errs}
}

func lineKey(l int) int {
	if l == 0 {
		return math.MaxInt
	}
	return l
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns yaml's "yaml: line 4: did not find ..." into a
// FieldError with the line in its place: yaml's syntax errors have no
// type of their own that holds it.
func syntaxError(err error) *FieldError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &FieldError{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// lineOf finds the line of path or of its nearest ancestor.
func (d *Decoder) lineOf(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// dropFollowUps leaves out the Missing problems inside a field that has a
// problem of another kind, and those of a field with such a problem
// inside it: a value that did not decode is left out (a pointer stays
// nil), so validation would say that what the file has is missing (a
// deliver entry whose s3 settings name an unset variable "needs one of
// email, s3, sftp or webhook").
func dropFollowUps(errs []*FieldError) []*FieldError {
	reported := make(map[string]bool, len(errs))
	for _, e := range errs {
		if e.Kind != Missing {
			reported[e.Path] = true
		}
	}
	out := errs[:0]
	for _, e := range errs {
		if e.Kind == Missing && (insideReported(e.Path, reported) || holdsReported(e.Path, reported)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// holdsReported reports whether a path inside path ("a.b[1].c" is inside
// "a.b[1]") is among reported.
func holdsReported(path string, reported map[string]bool) bool {
	if path == "" {
		return false
	}
	for r := range reported {
		if strings.HasPrefix(r, path+".") || strings.HasPrefix(r, path+"[") {
			return true
		}
	}
	return false
}

// insideReported reports whether a path that contains path ("a.b[1]"
// contains "a.b[1].c") is among reported.
func insideReported(path string, reported map[string]bool) bool {
	for {
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			return false
		}
		path = path[:i]
		if reported[path] {
			return true
		}
	}
}

// Limits on how far aliases may expand a configuration. They are far
// above what a real configuration needs and keep a few KB of nested
// aliases (an alias bomb) from taking the machine's memory and minutes.
const (
	// maxAliasValues is how many values (scalars, lists and mappings, and
	// the keys of mappings) may be decoded inside aliases, counting each
	// alias every time it is used. Sharing a dataset of 100 values
	// between 1,000 jobs takes 100,000; the same number of values written
	// out would be about a 1 MiB file. Without aliases the file size
	// limits the values, so only aliased ones are counted.
	maxAliasValues = 250_000

	// maxAliasText is how many bytes of keys and scalars may be decoded
	// inside aliases: a long scalar used through many aliases costs its
	// length each time (parsed, and quoted in problems), which
	// maxAliasValues alone does not bound.
	maxAliasText = 16 << 20
)

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
)

func (d *Decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	e := &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
		// A secret (a DSN's password): never echo what was written there.
		if n.Kind == yaml.ScalarNode && d.secret == 0 {
			e.Value = n.Value
			e.HasValue = true
		}
	}
	d.errs = append(d.errs, e)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return "a scalar"
}

// spend counts n against the alias limits when it is inside an alias,
// and reports whether decoding may go on. When a limit is reached it
// records the one problem and stops all decoding.
func (d *Decoder) spend(n *yaml.Node) bool {
	if d.stopped {
		return false
	}
	if d.aliasDepth == 0 {
		return true
	}
	d.values++
	d.text += len(n.Value)
	var limit string
	switch {
	case d.values > maxAliasValues:
		limit = fmt.Sprintf("more than %d values", maxAliasValues)
	case d.text > maxAliasText:
		limit = fmt.Sprintf("more than %d MiB of text", maxAliasText>>20)
	default:
		return true
	}
	d.stopped = true
	d.errs = append(d.errs, &FieldError{
		Path: d.aliasPath, Line: d.alias.Line, Value: "*" + d.alias.Value, HasValue: true,
		Msg: "aliases expand to " + limit + ", the most a configuration may hold through aliases (an alias bomb?)",
	})
	return false
}

// enterAlias starts the expansion of the alias n found at path and returns
// the value it stands for; leaveAlias ends it.
func (d *Decoder) enterAlias(path string, n *yaml.Node) *yaml.Node {
	if d.aliasDepth == 0 {
		d.alias, d.aliasPath = n, path
	}
	d.aliasDepth++
	return n.Alias
}

func (d *Decoder) leaveAlias() { d.aliasDepth-- }

// spendTree counts the values below n, which a reflect.Interface field
// hands to yaml's own decoder, against the alias limits. active holds the
// aliases being expanded, so that an alias inside its own anchor (which
// yaml reports) is not followed round and round.
func (d *Decoder) spendTree(path string, n *yaml.Node, active map[*yaml.Node]bool) bool {
	for _, c := range n.Content {
		if c.Kind == yaml.AliasNode {
			if active[c] {
				continue
			}
			active[c] = true
			ok := d.spend(d.enterAlias(path, c)) && d.spendTree(path, c.Alias, active)
			d.leaveAlias()
			delete(active, c)
			if !ok {
				return false
			}
			continue
		}
		if !d.spend(c) || !d.spendTree(path, c, active) {
			return false
		}
	}
	return true
}

func (d *Decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = d.enterAlias(path, n)
		defer d.leaveAlias()
	}
	if !d.spend(n) {
		return
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	d.value(path, n, v)
}

// value decodes n, which is not an alias, into v.
func (d *Decoder) value(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && v.Kind() != reflect.Interface {
		return // an explicit null leaves the zero value
	}

	if v.Kind() == reflect.Pointer {
		// Decode into a fresh value and keep it only if it decoded: a bad
		// value must not leave a zero behind for validation to trip on.
		e := reflect.New(v.Type().Elem())
		before := len(d.errs)
		d.value(path, n, e.Elem())
		if len(d.errs) == before {
			v.Set(e)
		}
		return
	}

	if n.Kind == yaml.ScalarNode && v.CanAddr() && v.Addr().Type().Implements(textUnmarshalerType) {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(path, n, "%v", err)
		}
		return
	}

	if v.Type() == durationType {
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "want a duration such as 30s or 1h30m, got %s", kindName(n))
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil || dur < 0 {
			d.fail(path, n, "want a positive duration such as 30s or 1h30m")
			return
		}
		v.SetInt(int64(dur))
		return
	}

	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Slice:
		d.decodeSlice(path, n, v)
	case reflect.Interface:
		// yaml's decoder limits aliases within one value, but not across
		// the many values of a configuration: count them here.
		if !d.spendTree(path, n, make(map[*yaml.Node]bool)) {
			return
		}
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(path, n, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "want a string, got %s", kindName(n))
			return
		}
		if d.secret > 0 {
			// A credential is read from the environment when it is
			// used: say now which variable is not set (never the value).
			if _, err := ExpandEnv(n.Value); err != nil {
				d.fail(path, n, "%v", err)
				return
			}
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.fail(path, n, "want true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.fail(path, n, "want a whole number")
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(n.Value, 0, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.fail(path, n, "want a whole number of at least 0")
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
			d.fail(path, n, "want a number")
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: Decoder does not support %s", v.Type()))
	}
}

type fieldInfo struct {
	index  int
	name   string
	secret bool // tagged secret: its value is never quoted in a problem
}

// fields maps yaml names to struct field indexes and reports the index of
// the `,key` field (-1 if none).
func fields(t reflect.Type) (map[string]fieldInfo, int) {
	m := make(map[string]fieldInfo)
	key := -1
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "key" {
			key = i
			continue
		}
		m[name] = fieldInfo{index: i, name: name, secret: slices.Contains(strings.Split(opts, ","), "secret")}
	}
	return m, key
}

// holdsSecret reports whether t is, or leads through struct fields, lists
// and pointers to, a struct with a field tagged secret. seen holds the
// types being looked at, for types that contain themselves.
func holdsSecret(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return false
	}
	seen[t] = true
	fs, _ := fields(t)
	for _, f := range fs {
		if f.secret || holdsSecret(t.Field(f.index).Type, seen) {
			return true
		}
	}
	return false
}

func (d *Decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		// A scalar in place of a struct that holds a secret may be the
		// secret, written a level up.
		hide := holdsSecret(v.Type(), make(map[reflect.Type]bool))
		if hide {
			d.secret++
		}
		d.fail(path, n, "want a mapping, got %s", kindName(n))
		if hide {
			d.secret--
		}
		return
	}
	fs, _ := fields(v.Type())
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if !d.spend(k) {
			return
		}
		p := join(path, k.Value)
		f, ok := fs[k.Value]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.fail(path, k, "keys must be plain names")
		case !ok:
			d.fail(p, k, "unknown field (known: %s)", knownFields(fs))
			d.errs[len(d.errs)-1].HasValue = false
		case seen[k.Value]:
			d.fail(p, k, "field given twice")
			d.errs[len(d.errs)-1].HasValue = false
		case f.secret:
			seen[k.Value] = true
			d.secret++
			d.decode(p, val, v.Field(f.index))
			d.secret--
		default:
			seen[k.Value] = true
			d.decode(p, val, v.Field(f.index))
		}
	}
}

func knownFields(fs map[string]fieldInfo) string {
	names := make([]string, 0, len(fs))
	for name := range fs {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (d *Decoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	elem := v.Type().Elem()
	switch n.Kind {
	case yaml.SequenceNode:
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(fmt.Sprintf("%s[%d]", path, i), c, s.Index(i))
		}
		v.Set(s)
		return
	case yaml.MappingNode:
		if elem.Kind() == reflect.Struct {
			if _, key := fields(elem); key >= 0 {
				s := reflect.MakeSlice(v.Type(), 0, len(n.Content)/2)
				seen := make(map[string]bool)
				for i := 0; i+1 < len(n.Content); i += 2 {
					k, val := n.Content[i], n.Content[i+1]
					if !d.spend(k) {
						return
					}
					p := join(path, k.Value)
					switch {
					case k.Kind != yaml.ScalarNode:
						// The Value of an alias is its anchor's name,
						// which would name the element instead.
						d.fail(path, k, "keys must be plain names")
						continue
					case seen[k.Value]:
						d.fail(p, k, "defined twice")
						continue
					}
					seen[k.Value] = true
					e := reflect.New(elem).Elem()
					e.Field(key).SetString(k.Value)
					d.decode(p, val, e)
					s = reflect.Append(s, e)
				}
				v.Set(s)
				return
			}
		}
	case yaml.ScalarNode:
		if elem.Kind() == reflect.String || reflect.PointerTo(elem).Implements(textUnmarshalerType) {
			// A single value where a list is expected: accept it as a list of one.
			s := reflect.MakeSlice(v.Type(), 1, 1)
			d.decode(path+"[0]", n, s.Index(0))
			v.Set(s)
			return
		}
	}
	d.fail(path, n, "want a list, got %s", kindName(n))
}
