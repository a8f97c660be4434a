package delivery

import (
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/joinery/joinery/config"
)

// minSecret is the shortest secret Redact hides: a shorter one would
// blank out common words (and says little anyway).
const minSecret = 4

// Secrets returns the values of the fields of s's settings tagged secret,
// as the environment expands them, and of each variable they name, and
// the password an email destination's password_file holds: what must
// never appear in a log, the ledger or an error. The engine hides them
// with Redact in every error it records, whatever the destination wrote
// into it.
func (s *Spec) Secrets() []string {
	var out []string
	for _, k := range s.kinds() {
		collectSecrets(reflect.ValueOf(k.settings), false, &out)
	}
	if s.Email != nil && s.Email.PasswordFile != "" {
		if path, err := config.ExpandEnv(s.Email.PasswordFile); err == nil {
			if data, err := os.ReadFile(path); err == nil {
				addValue(&out, strings.TrimRight(string(data), "\r\n"))
			}
		}
	}
	return out
}

func collectSecrets(v reflect.Value, secret bool, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectSecrets(v.Elem(), secret, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			collectSecrets(v.Field(i), secret || strings.Contains(tag, ",secret"), out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			collectSecrets(v.Index(i), secret, out)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			collectSecrets(v.MapIndex(k), secret, out)
		}
	case reflect.String:
		if !secret || v.String() == "" {
			return
		}
		addSecret(out, v.String())
	}
}

// addSecret adds the secret text s, as written and as the environment
// expands it, with each variable it names.
func addSecret(out *[]string, s string) {
	for _, ref := range config.EnvRefs(s) {
		if val, err := config.ExpandEnv("${" + ref.Name + "}"); err == nil {
			addValue(out, val)
		}
	}
	if val, err := config.ExpandEnv(s); err == nil {
		addValue(out, val)
	}
}

// addValue adds val and, for a URL, its path and query (what an error
// may quote of it without the rest).
func addValue(out *[]string, val string) {
	if len(val) < minSecret || slices.Contains(*out, val) {
		return
	}
	*out = append(*out, val)
	if u, err := url.Parse(val); err == nil && u.Host != "" {
		if u.RawQuery != "" {
			addValue(out, u.RawQuery)
		}
		if len(u.EscapedPath()) > 1 {
			addValue(out, u.EscapedPath())
		}
	}
}

// Redact returns msg with each of secrets replaced by "[redacted]",
// longest first.
func Redact(msg string, secrets []string) string {
	s := slices.Clone(secrets)
	slices.SortFunc(s, func(a, b string) int { return len(b) - len(a) })
	for _, x := range s {
		if len(x) >= minSecret {
			msg = strings.ReplaceAll(msg, x, "[redacted]")
		}
	}
	return msg
}

// literalSecrets returns a problem for each field of settings tagged
// secret whose value is written in the configuration instead of read
// from the environment: secrets come from the environment or from files
// only. The value is never quoted.
func literalSecrets(settings any) []error {
	v := reflect.ValueOf(settings)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var errs []error
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !strings.Contains(tag, ",secret") || f.Type.Kind() != reflect.String {
			continue
		}
		val := v.Field(i).String()
		if val == "" || len(config.EnvRefs(val)) > 0 {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		hint := ""
		if _, ok := t.FieldByName(f.Name + "File"); ok {
			hint = " (or use " + name + "_file)"
		}
		errs = append(errs, config.Problem(name, nil, "write the "+strings.ReplaceAll(name, "_", " ")+" as a ${VAR} reference to the environment"+hint+", not in the file: secrets are read from the environment or from files"))
	}
	return errs
}
