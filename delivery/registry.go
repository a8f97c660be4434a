package delivery

import (
	"fmt"
	"slices"
	"strings"
)

// Registry lists the kinds of destination a program offers, by name. It
// is built in one place (delivery/destinations.Default) and never
// changed after: a Registry is safe for concurrent use.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry returns a registry of kinds; a second kind of the same name
// panics (a programming error).
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: make(map[string]Kind, len(kinds))}
	for _, k := range kinds {
		if _, dup := r.kinds[k.Name()]; dup {
			panic("delivery: kind " + k.Name() + " registered twice")
		}
		r.kinds[k.Name()] = k
	}
	return r
}

// Names returns the names of the kinds, sorted.
func (r *Registry) Names() []string {
	var out []string
	for n := range r.kinds {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// New makes the destination of spec (validated) with the kind its
// settings name.
func (r *Registry) New(spec Spec, env Env) (Destination, error) {
	name := spec.Kind()
	k, ok := r.kinds[name]
	if !ok {
		return nil, fmt.Errorf("destination %s: this build of joinery has no %s destinations (it has: %s)", spec.Name, name, strings.Join(r.Names(), ", "))
	}
	return k.New(spec, env)
}
