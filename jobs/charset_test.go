package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/joinery/joinery/internal/readback"
	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
)

// TestTextIsUTF8WhateverTheDSNCharset reads latin1 and utf8mb4 columns
// through DSNs that ask for other character sets and checks that every
// report holds the exact text, as valid UTF-8; that a bound non-ASCII value
// finds its row (it is sent as UTF-8 and must be read as such); that
// binary columns keep their bytes; and that the override is logged once,
// naming what the DSN asked for.
func TestTextIsUTF8WhateverTheDSNCharset(t *testing.T) {
	raw := testdb.New(t)
	testdb.Exec(t, raw,
		"CREATE TABLE t (id INT PRIMARY KEY, l VARCHAR(20) CHARACTER SET latin1, u VARCHAR(20) CHARACTER SET utf8mb4,"+
			" tx TEXT CHARACTER SET latin1, b VARBINARY(10))",
		// MariaDB's latin1 is cp1252: it has the euro sign (0x80).
		"INSERT INTO t VALUES (1, 'café €', 'Zoë € 😀', 'Ærø ½', X'E9FF'), (2, 'cafe', 'Zoe', 'plain', X'00')")
	const config = `
jobs:
  - name: charset-check # GET_LOCK names are per server: not the "j" of other tests
    schedule: "@daily"
    datasets:
      all:
        from: t t
        select: [t.id, t.l, t.u, t.tx, t.b]
        order_by: [t.id]
      found:
        from: t t
        select: [t.id, t.l, t.u, t.tx, t.b]
        where:
          - {column: t.l, op: "=", value: "café €"}
          - {column: t.u, op: like, value: "%😀"}
    outputs:
      - {format: csv, path: "{dataset}.csv"}
      - {format: jsonl, path: "{dataset}.jsonl"}
      - {format: xlsx, path: "{job}.xlsx"}
`
	want := map[string][][]string{
		"all":   {{"1", "café €", "Zoë € 😀", "Ærø ½", "E9FF"}, {"2", "cafe", "Zoe", "plain", "00"}},
		"found": {{"1", "café €", "Zoë € 😀", "Ærø ½", "E9FF"}},
	}

	tests := []struct {
		params, overridden string // overridden: "" when nothing is logged
	}{
		{"", ""},
		{"charset=latin1", "charset=latin1"},
		{"charset=binary", "charset=binary"},
		{"charset=utf8", "charset=utf8"}, // utf8mb3: no emoji
		{"charset=cp1251", "charset=cp1251"},
		{"collation=latin1_swedish_ci", "collation=latin1_swedish_ci"},
		{"charset=latin1&collation=latin1_german1_ci", "charset=latin1&collation=latin1_german1_ci"},
		{"character_set_results=latin1&character_set_client=latin1", "character_set_client=latin1&character_set_results=latin1"},
		{"charset=utf8mb4", ""},
		{"charset=utf8mb4&collation=utf8mb4_bin", "collation=utf8mb4_bin"},
		// MySQL 8's default, unknown to MariaDB: it must not stop the connection.
		{"collation=utf8mb4_0900_ai_ci", "collation=utf8mb4_0900_ai_ci"},
	}
	base := testdb.DSN(t)
	for _, tt := range tests {
		t.Run(tt.params, func(t *testing.T) {
			dsn := base
			if tt.params != "" {
				dsn += "&" + tt.params
				if !strings.Contains(base, "?") {
					dsn = base + "?" + tt.params
				}
			}
			dir := t.TempDir()
			cfg, err := jobs.Parse(filepath.Join(dir, "config.yaml"), []byte(config))
			if err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			db, err := jobs.OpenDB(cfg.Database, dsn, slog.New(slog.NewJSONHandler(&logged, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			r := &jobs.Runner{DB: db, Config: cfg, Logger: slog.New(slog.DiscardHandler)}
			res := r.Run(context.Background(), &cfg.Jobs[0], time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC))
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if len(res.Warnings) > 0 {
				t.Errorf("warnings: %q", res.Warnings)
			}

			var overridden []string
			for line := range strings.Lines(logged.String()) {
				var rec struct {
					Msg         string
					DSNSettings string `json:"dsn_settings"`
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				if strings.Contains(rec.Msg, "character set") {
					overridden = append(overridden, rec.DSNSettings)
				}
			}
			if want := slices.DeleteFunc([]string{tt.overridden}, func(s string) bool { return s == "" }); !slices.Equal(overridden, want) {
				t.Errorf("logged overrides %q, want %q\n%s", overridden, want, logged.String())
			}

			out := cfg.OutputPath()
			f, err := excelize.OpenFile(filepath.Join(out, "charset-check.xlsx"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, ds := range []string{"all", "found"} {
				wantRows := want[ds]
				for _, name := range []string{ds + ".csv", ds + ".jsonl"} {
					b, err := os.ReadFile(filepath.Join(out, name))
					if err != nil {
						t.Fatal(err)
					}
					if !utf8.Valid(b) {
						t.Errorf("%s is not valid UTF-8: %q", name, b)
					}
				}
				header, rows := readCSV(t, filepath.Join(out, ds+".csv"))
				if want := []string{"id", "l", "u", "tx", "b"}; !slices.Equal(header, want) {
					t.Errorf("%s.csv header %q, want %q", ds, header, want)
				}
				if !slices.EqualFunc(rows, wantRows, slices.Equal) {
					t.Errorf("%s.csv rows %q, want %q", ds, rows, wantRows)
				}

				b, _ := os.ReadFile(filepath.Join(out, ds+".jsonl"))
				d := json.NewDecoder(bytes.NewReader(b))
				d.UseNumber()
				var got [][]string
				for d.More() {
					var obj map[string]any
					if err := d.Decode(&obj); err != nil {
						t.Fatalf("%s.jsonl: %v: %q", ds, err, b)
					}
					var rec []string
					for _, k := range header {
						rec = append(rec, fmt.Sprint(obj[k]))
					}
					got = append(got, rec)
				}
				if !slices.EqualFunc(got, wantRows, slices.Equal) {
					t.Errorf("%s.jsonl %q, want %q", ds, got, wantRows)
				}

				sheet, _ := f.GetRows(ds)
				if len(sheet) == 0 || !slices.EqualFunc(sheet[1:], wantRows, slices.Equal) {
					t.Errorf("xlsx sheet %s %q, want a header and %q", ds, sheet, wantRows)
				}
			}
			if tt.params == "" { // once: the readers take seconds
				cols := []readback.Column{{Name: "id", Kind: readback.Integer}, {Name: "l"}, {Name: "u"}, {Name: "tx"}, {Name: "b"}}
				var datasets []readback.Dataset
				for _, ds := range []string{"all", "found"} {
					datasets = append(datasets, readback.Dataset{Name: ds, Columns: cols, CSV: readback.CSVFile(t, filepath.Join(out, ds+".csv"))})
				}
				readback.Readers(t, filepath.Join(out, "charset-check.xlsx"), datasets)
			}
		})
	}
}
