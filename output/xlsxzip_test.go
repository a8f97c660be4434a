package output

import (
	"hash/crc32"
	"strings"
	"testing"
)

func TestCRC32Combine(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"", ""}, {"a", ""}, {"", "b"}, {"<row>", "</sheetData></worksheet>"},
		{strings.Repeat("x", 1000), strings.Repeat("<c r=\"A1\"/>", 12345)},
	} {
		got := crc32Combine(crc32.ChecksumIEEE([]byte(tc.a)), crc32.ChecksumIEEE([]byte(tc.b)), int64(len(tc.b)))
		if want := crc32.ChecksumIEEE([]byte(tc.a + tc.b)); got != want {
			t.Errorf("crc32Combine(%.10q, %.10q) = %08x, want %08x", tc.a, tc.b, got, want)
		}
	}
}

func TestAppendExcelFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0"}, {1.5, "1.5"}, {-0.125, "-0.125"}, {45352.38541666667, "45352.3854166666"},
		{0.1 + 0.2, "0.3"}, {123456789012345678, "123456789012345000"}, {1e-7, "0.0000001"},
	} {
		if got := string(appendExcelFloat(nil, tc.f)); got != tc.want {
			t.Errorf("appendExcelFloat(%v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"", true}, {"User 12", true}, {"Zoë, 李雷 😀", true}, {`say "hi"`, true},
		{" lead", false}, {"trail ", false}, {"a&b", false}, {"<b>", false}, {"line\nbreak", false},
		{"tab\t", false}, {"_x000D_", false}, {"bad \xff utf8", false}, {"\uFFFE", false},
	} {
		if got := plainText([]byte(tc.s)); got != tc.want {
			t.Errorf("plainText(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
