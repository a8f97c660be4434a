package output

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Param is one parameter of a run (a job's params, given with --param or
// defaulted): the About sheet lists it, the manifest records it, and a path
// template names it as {param.NAME}.
type Param struct {
	Name string
	Type string // as declared: string, int, decimal, date, datetime, bool, list<...>
	// Value is what queries.ResolveParams gives: a string (string, decimal
	// and date values), an int64, a bool, a time.Time, or a []any of these
	// for a list.
	Value any
}

// ManifestParam is a Param in a manifest. Value is the JSON of the value:
// a number, true or false, a string (a datetime in RFC 3339, in the job's
// zone), or an array of these.
type ManifestParam struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// ManifestParams returns ps as a manifest records them.
func ManifestParams(ps []Param) []ManifestParam {
	out := make([]ManifestParam, len(ps))
	for i, p := range ps {
		v, err := json.Marshal(p.Value)
		if err != nil { // not one of the types above
			v, _ = json.Marshal(ParamText(p.Value, ", ", func(t time.Time) string { return t.Format(time.RFC3339) }))
		}
		out[i] = ManifestParam{Name: p.Name, Type: p.Type, Value: v}
	}
	return out
}

// paramsKey identifies a run's parameters among runs of the same job and
// logical time: "" when there are none. Manifests that record the same
// values, compact or indented, give the same key.
func paramsKey(ps []ManifestParam) string {
	var b bytes.Buffer
	for _, p := range ps {
		b.WriteString(p.Name)
		b.WriteByte(0)
		if err := json.Compact(&b, p.Value); err != nil {
			b.Write(p.Value)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// ParamText writes a parameter's value as text: lists joined with sep,
// times by timeText.
func ParamText(v any, sep string, timeText func(time.Time) string) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return timeText(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = ParamText(x, sep, timeText)
		}
		return strings.Join(parts, sep)
	}
	return ""
}

// Param returns p's value as the run had it (see Param.Value): an int64
// for an int, a bool, a time.Time in loc for a datetime, a []any of these
// for a list, and a string otherwise. A value that does not decode as its
// type is its JSON text.
func (p ManifestParam) Param(loc *time.Location) Param {
	return Param{Name: p.Name, Type: p.Type, Value: decodeParam(p.Type, p.Value, loc)}
}

func decodeParam(typ string, raw json.RawMessage, loc *time.Location) any {
	if loc == nil {
		loc = time.UTC
	}
	if elem, ok := strings.CutPrefix(typ, "list<"); ok {
		elem = strings.TrimSuffix(elem, ">")
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return string(raw)
		}
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = decodeParam(elem, it, loc)
		}
		return out
	}
	switch typ {
	case "int":
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64); err == nil {
			return n
		}
	case "bool":
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return b
		}
	case "datetime":
		var t time.Time
		if json.Unmarshal(raw, &t) == nil {
			return t.In(loc)
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// MarshalJSON writes p as a manifest records it: name, type and value.
func (p Param) MarshalJSON() ([]byte, error) {
	return json.Marshal(ManifestParams([]Param{p})[0])
}

// UnmarshalJSON reads what MarshalJSON wrote, the value decoded by its
// type (ManifestParam.Param); a datetime is in the zone of its offset.
func (p *Param) UnmarshalJSON(data []byte) error {
	var mp ManifestParam
	if err := json.Unmarshal(data, &mp); err != nil {
		return err
	}
	*p = Param{Name: mp.Name, Type: mp.Type, Value: decodeParam(mp.Type, mp.Value, nil)}
	if t, ok := p.Value.(time.Time); ok { // keep the offset it was written with
		var orig time.Time
		if json.Unmarshal(mp.Value, &orig) == nil {
			p.Value = t.In(orig.Location())
		}
	}
	return nil
}
