package queries

import "testing"

func TestWatermark(t *testing.T) {
	for probe, want := range map[bool]string{false: "SELECT MAX(`updated_at`) FROM `posts`", true: "SELECT MAX(`updated_at`) FROM `posts` WHERE FALSE"} {
		q, err := Watermark("posts", "updated_at", probe)
		if err != nil {
			t.Fatal(err)
		}
		if q.SQL != want || len(q.Args) != 0 {
			t.Errorf("got %q %v, want %q and no args", q.SQL, q.Args, want)
		}
	}
	for _, bad := range [][2]string{{"posts`; DROP TABLE x", "c"}, {"posts", "a.b"}, {"", "c"}, {"p", "1c"}, {"p", string(make([]byte, 65))}} {
		if _, err := Watermark(bad[0], bad[1], false); err == nil {
			t.Errorf("Watermark(%q, %q): no error", bad[0], bad[1])
		}
	}
}
