package xlsxw

import (
	"strings"
	"testing"
)

func TestSheetName(t *testing.T) {
	tests := []struct {
		in   string
		used []string
		want string
	}{
		{"users", nil, "users"},
		{"a/b\\c:d*e?f[g]h", nil, "a_b_c_d_e_f_g_h"},
		{"'quoted'", nil, "quoted"},
		{"", nil, "Sheet"},
		{"History", nil, "History_"},
		{strings.Repeat("x", 40), nil, strings.Repeat("x", 31)},
		{strings.Repeat("😀", 20), nil, strings.Repeat("😀", 15)}, // 2 UTF-16 units each
		{"Users", []string{"users"}, "Users (2)"},
		{"Users", []string{"users", "users (2)"}, "Users (3)"},
		{strings.Repeat("x", 40), []string{strings.Repeat("x", 31)}, strings.Repeat("x", 27) + " (2)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			used := make(map[string]bool)
			for _, u := range tt.used {
				used[u] = true
			}
			if got := sheetName(tt.in, used); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
