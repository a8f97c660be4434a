package splice

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
