package jobs

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder fills Go values from a YAML node tree strictly: unknown keys,
// duplicate keys and values of the wrong kind are errors, and every error is
// collected (not just the first) with its field path and line.
//
// Struct fields are matched by their yaml tag. A slice whose element struct
// has a field tagged `yaml:",key"` may be written as a mapping: each key
// becomes one element, in file order, with that field set to the key. A
// field tagged `yaml:"name,secret"` may hold a credential: no problem ever
// quotes what was written there, nor a scalar written where a struct
// holding such a field is expected (database: "user:password@tcp(...)").
// Types implementing encoding.TextUnmarshaler accept scalars. An alias is
// decoded again wherever it is used, up to the limits below.
type decoder struct {
	errs  []*FieldError
	lines map[string]int // field path -> line, for errors found after decoding

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

func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
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
func (d *decoder) spend(n *yaml.Node) bool {
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
func (d *decoder) enterAlias(path string, n *yaml.Node) *yaml.Node {
	if d.aliasDepth == 0 {
		d.alias, d.aliasPath = n, path
	}
	d.aliasDepth++
	return n.Alias
}

func (d *decoder) leaveAlias() { d.aliasDepth-- }

// spendTree counts the values below n, which a reflect.Interface field
// hands to yaml's own decoder, against the alias limits. active holds the
// aliases being expanded, so that an alias inside its own anchor (which
// yaml reports) is not followed round and round.
func (d *decoder) spendTree(path string, n *yaml.Node, active map[*yaml.Node]bool) bool {
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

func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
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
func (d *decoder) value(path string, n *yaml.Node, v reflect.Value) {
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
		panic(fmt.Sprintf("jobs: decoder does not support %s", v.Type()))
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

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
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

func (d *decoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
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

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func reflect0(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
