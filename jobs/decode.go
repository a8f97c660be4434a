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
// becomes one element, in file order, with that field set to the key.
// Types implementing encoding.TextUnmarshaler accept scalars.
type decoder struct {
	errs  []*FieldError
	lines map[string]int // field path -> line, for errors found after decoding
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
)

func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	e := &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
		// A DSN holds a password: never echo what was written there.
		if n.Kind == yaml.ScalarNode && !secret(path) {
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

func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && v.Kind() != reflect.Interface {
		return // an explicit null leaves the zero value
	}

	if v.Kind() == reflect.Pointer {
		// Decode into a fresh value and keep it only if it decoded: a bad
		// value must not leave a zero behind for validation to trip on.
		e := reflect.New(v.Type().Elem())
		before := len(d.errs)
		d.decode(path, n, e.Elem())
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
	index int
	name  string
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
		name, opt, _ := strings.Cut(tag, ",")
		if opt == "key" {
			key = i
			continue
		}
		m[name] = fieldInfo{index: i, name: name}
	}
	return m, key
}

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "want a mapping, got %s", kindName(n))
		return
	}
	fs, _ := fields(v.Type())
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
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
					p := join(path, k.Value)
					if seen[k.Value] {
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

// secret reports whether the value at path may hold a credential.
func secret(path string) bool {
	return path == "database" || strings.HasPrefix(path, "database.dsn")
}
