package delivery

import "testing"

func TestTemplateFuncs(t *testing.T) {
	tests := []struct{ text, want string }{
		{`{{bytes 999}} {{bytes 1000}} {{bytes 123456}} {{bytes 1500000}} {{bytes 2000000000}}`, "999 B 1 kB 123.5 kB 1.5 MB 2 GB"},
		{`{{count 1234567}} {{count -1234}} {{count 12}}`, "1,234,567 -1,234 12"},
		{`{{date "2006-01-02" .Logical}} {{join ", " .Warnings}} {{rows .}}`, "2026-11-04 dataset posts: 1 zero date 1234"},
		{`{{range .Datasets}}{{.Name}}: {{range .Joins}}{{.}}{{end}}{{end}}`, "posts: users: 2 of 1234 rows unmatched"},
	}
	for _, tt := range tests {
		tmpl, err := ParseTemplate("t", tt.text)
		if err != nil {
			t.Fatalf("%s: %v", tt.text, err)
		}
		got, err := tmpl.Execute(SampleReport())
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.text, got, err, tt.want)
		}
	}
	for _, bad := range []string{`{{.Nope}}`, `{{.Job`, `{{nofunc .Job}}`, `{{date .Logical}}`} {
		if _, err := ParseTemplate("t", bad); err == nil {
			t.Errorf("%s: parsed, want an error when the configuration is read", bad)
		}
	}
}
