package config

import (
	"slices"
	"strings"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	t.Setenv("JOINERY_TEST_PW", "s3cr$t")
	t.Setenv("JOINERY_TEST_EMPTY", "")
	tests := []struct{ in, want string }{
		{"u:${JOINERY_TEST_PW}@tcp(h)/d", "u:s3cr$t@tcp(h)/d"},
		{"u:pa$word@tcp(h)/d", "u:pa$word@tcp(h)/d"},
		{"${JOINERY_TEST_UNSET_X:-embedded}", "embedded"},
		{"${JOINERY_TEST_EMPTY:-embedded}", "embedded"},
		{"${JOINERY_TEST_PW:-x}", "s3cr$t"},
	}
	for _, tt := range tests {
		got, err := ExpandEnv(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ExpandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := ExpandEnv("${JOINERY_TEST_UNSET_Y}"); err == nil || !strings.Contains(err.Error(), "JOINERY_TEST_UNSET_Y") {
		t.Errorf("unset variable: err = %v", err)
	}
}

func TestEnvRefs(t *testing.T) {
	got := EnvRefs("${A}/x/${B:-b}/$C/${D:-}")
	want := []EnvRef{{Name: "A"}, {Name: "B", HasDefault: true}, {Name: "D", HasDefault: true}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
