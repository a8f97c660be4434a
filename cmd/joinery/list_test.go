package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const listConfig = `
timezone: Europe/Berlin
jobs:
  - name: hourly
    schedule: "0 * * * *"
    window: last 1h
    datasets: {d: {from: users u, select: [u.id]}}
    outputs: [{format: csv, path: "{job}/{datetime}.csv"}]
  - name: nightly
    schedule: "30 2 * * *"
    timezone: America/New_York
    window: previous_day
    datasets: {d: {from: users u, select: [u.id]}}
    outputs: [{format: csv, path: "{job}/{date}.csv"}, {format: xlsx, path: "{job}/{date}.xlsx"}]
  - name: island
    schedule: "*/15 2 * * *"
    timezone: Australia/Lord_Howe
    datasets: {d: {from: users u, select: [u.id]}}
    outputs: [{format: jsonl, path: "{job}/{datetime}.jsonl"}]
`

// listJobs is the table of listConfig's jobs that list shows first.
const listJobs = `JOB      SCHEDULE      TIMEZONE             WINDOW        OUTPUTS
hourly   0 * * * *     Europe/Berlin        last 1h       csv:{job}/{datetime}.csv
nightly  30 2 * * *    America/New_York     previous_day  csv:{job}/{date}.csv xlsx:{job}/{date}.xlsx
island   */15 2 * * *  Australia/Lord_Howe  -             jsonl:{job}/{datetime}.jsonl
`

// TestListAroundAClockChange shows the runs and windows of each job from
// a reference time read in each job's zone: Berlin's hourly job in both
// copies of 02:00 (the second with its offset) with windows that meet,
// New York's 02:30 moved to 03:30 on the day it is skipped, Lord Howe's
// quarter hours after its half-hour change.
func TestListAroundAClockChange(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(listConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "2026-10-25T01:00", "--next", "4"}, listJobs + `
JOB      RUN AT                       WINDOW FROM                  WINDOW TO
hourly   2026-10-25 01:00 CEST        2026-10-25 00:00 CEST        2026-10-25 01:00 CEST
hourly   2026-10-25 02:00 CEST        2026-10-25 01:00 CEST        2026-10-25 02:00 CEST
hourly   2026-10-25 02:00 CET +01:00  2026-10-25 02:00 CEST        2026-10-25 02:00 CET +01:00
hourly   2026-10-25 03:00 CET         2026-10-25 02:00 CET +01:00  2026-10-25 03:00 CET
nightly  2026-10-25 02:30 EDT         2026-10-24 00:00 EDT         2026-10-25 00:00 EDT
nightly  2026-10-26 02:30 EDT         2026-10-25 00:00 EDT         2026-10-26 00:00 EDT
nightly  2026-10-27 02:30 EDT         2026-10-26 00:00 EDT         2026-10-27 00:00 EDT
nightly  2026-10-28 02:30 EDT         2026-10-27 00:00 EDT         2026-10-28 00:00 EDT
island   2026-10-25 02:00 +11:00      -                            -
island   2026-10-25 02:15 +11:00      -                            -
island   2026-10-25 02:30 +11:00      -                            -
island   2026-10-25 02:45 +11:00      -                            -
`},
		{[]string{"--from", "2026-03-07T12:00:00Z", "--next", "2"}, listJobs + `
JOB      RUN AT                   WINDOW FROM           WINDOW TO
hourly   2026-03-07 13:00 CET     2026-03-07 12:00 CET  2026-03-07 13:00 CET
hourly   2026-03-07 14:00 CET     2026-03-07 13:00 CET  2026-03-07 14:00 CET
nightly  2026-03-08 03:30 EDT     2026-03-07 00:00 EST  2026-03-08 00:00 EST
nightly  2026-03-09 02:30 EDT     2026-03-08 00:00 EST  2026-03-09 00:00 EDT
island   2026-03-08 02:00 +11:00  -                     -
island   2026-03-08 02:15 +11:00  -                     -
`},
		{[]string{"--next", "0"}, listJobs},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), nil, append([]string{"list", "--config", cfg}, tt.args...), &out, &errb); code != exitOK {
				t.Fatalf("exit %d\n%s", code, errb.String())
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), nil, []string{"list", "--config", cfg, "--from", "soon"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), `--from "soon": want a date`) {
		t.Errorf("--from soon: exit %d\n%s", code, errb.String())
	}
}
