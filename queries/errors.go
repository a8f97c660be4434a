package queries

import "fmt"

// FieldError is one problem found by Validate or ValidateParam. Path is
// relative to the dataset (from.table, joins[0].on[1].left, select[2].as,
// where[0].value, order_by[1].dir, ...) or to the parameter (type,
// default); callers prefix it with its own location, e.g.
// jobs[1].datasets.posts.
type FieldError struct {
	Path  string
	Value any // the offending value; nil when the field is missing or empty
	Msg   string
	// Kind says whether the field is wrong or missing, for callers that
	// treat the two differently: nobody needs to read Msg to tell.
	Kind Kind
}

// Kind is the sort of problem a FieldError reports.
type Kind uint8

const (
	// Invalid is a field whose value is wrong (the zero Kind).
	Invalid Kind = iota
	// Missing is a required field that is missing or empty. Its Value is
	// nil and its Msg starts with "required". A shorthand string that did
	// not parse ("u.id == p.user_id") leaves empty the fields it would
	// have filled, so a caller that reports the shorthand itself can
	// leave out the Missing problems of the fields inside it.
	Missing
)

// Error formats the error as `path: "value": message`, leaving the value out
// when it is nil.
func (e *FieldError) Error() string {
	switch v := e.Value.(type) {
	case nil:
		return e.Path + ": " + e.Msg
	case string:
		return fmt.Sprintf("%s: %q: %s", e.Path, v, e.Msg)
	default:
		return fmt.Sprintf("%s: %v: %s", e.Path, v, e.Msg)
	}
}
