package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// envRef matches ${VAR} and ${VAR:-default}. A bare $ is left alone:
// passwords may contain one.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// ExpandEnv replaces each ${VAR} in s from the environment, and each
// ${VAR:-default} with the variable or, when it is unset or empty, default.
// A variable that is not set and has no default is an error naming it
// (never its value).
func ExpandEnv(s string) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		val, ok := os.LookupEnv(m[1])
		switch {
		case m[2] != "" && val == "":
			return m[3]
		case !ok:
			missing = append(missing, m[1])
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// EnvRef is a reference to an environment variable in a value.
type EnvRef struct {
	Name       string
	HasDefault bool // ${VAR:-default}
}

// EnvRefs returns the references to environment variables in s, in order.
func EnvRefs(s string) []EnvRef {
	var refs []EnvRef
	for _, m := range envRef.FindAllStringSubmatch(s, -1) {
		refs = append(refs, EnvRef{Name: m[1], HasDefault: m[2] != ""})
	}
	return refs
}
