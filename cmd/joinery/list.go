package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/joinery/joinery/internal/localtime"
	"github.com/joinery/joinery/queries"
)

// cmdList is joinery list: the jobs, and the next runs of each with their
// windows.
func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("list", "list [--next N] [--from TIME]", stdout, stderr)
	n := fs.Int("next", 3, "how many runs of each job to show, with their windows")
	from := fs.String("from", "", "show the runs at or after this time, read like --at in each job's zone (default now)")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	if *n < 0 || *n > 1000 {
		return usageErr("--next %d: want 0 to 1000", *n)
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSCHEDULE\tTIMEZONE\tWINDOW\tOUTPUTS")
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		var outs []string
		for _, o := range j.Outputs {
			outs = append(outs, o.Format+":"+o.Path)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Name, j.Schedule, j.Location, cmp.Or(j.Window.String(), "-"), strings.Join(outs, " "))
	}
	if err := tw.Flush(); err != nil || *n == 0 {
		return err
	}
	// The runs in a table of their own, one a row: a window's bounds are
	// as long as a run's time, and a row per run keeps each job's
	// consecutive windows under each other, where their meeting shows.
	now := time.Now()
	fmt.Fprintln(stdout)
	fmt.Fprintln(tw, "JOB\tRUN AT\tWINDOW FROM\tWINDOW TO")
	for i := range cfg.Jobs {
		j := &cfg.Jobs[i]
		ref := now
		if *from != "" {
			if ref, err = queries.ParseTime(*from, j.Location); err != nil {
				return usageErr("--from %v", err)
			}
			ref = ref.Add(-time.Nanosecond) // a run at exactly --from is shown
		}
		for _, t := range j.Next(ref, *n) {
			start, end := "-", "-"
			if j.Window.IsSet() {
				w := j.Window.Bounds(t, j.Location)
				start, end = listTime(w.Start), listTime(w.End)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.Name, listTime(t), start, end)
		}
	}
	return tw.Flush()
}

// listTime formats a time for list: its wall clock and zone abbreviation
// (the offset where the zone has no letters for it), and the offset after
// a wall clock that is the second copy of one (clocks went back), so that
// each time reads as one instant.
func listTime(t time.Time) string {
	name, _ := t.Zone()
	switch {
	case strings.ContainsAny(name, "+-0123456789"):
		return t.Format("2006-01-02 15:04 -07:00")
	case localtime.Repeated(t):
		return t.Format("2006-01-02 15:04 MST -07:00")
	}
	return t.Format("2006-01-02 15:04 MST")
}
