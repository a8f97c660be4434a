package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joinery/joinery/jobs"
)

// TestExitStatusAfterTheCommit: a run that committed its reports but whose
// step after the commit failed is printed as committed, with the step's
// error, and makes run exit 4; a failed run still makes it exit 1, and
// the message names both.
func TestExitStatusAfterTheCommit(t *testing.T) {
	ctx := context.Background()
	job := &jobs.Job{Name: "a"}
	delivered := &jobs.Result{Job: "a", Logical: time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC), Attempts: 1,
		Files: []string{"/r/a.csv"}, Commit: &jobs.Commit{}}
	undelivered := *delivered
	undelivered.PostCommit = []*jobs.StepError{{Step: "deliver", Err: syscall.ECONNREFUSED}}
	failed := &jobs.Result{Job: "b", Attempts: 1, Err: errors.New("query: boom")}
	locked := &jobs.Result{Job: "c", Attempts: 1, Err: jobs.ErrAlreadyRunning}

	var out bytes.Buffer
	printResult(&out, &undelivered)
	if got := out.String(); !strings.HasPrefix(got, "a: ok in ") || !strings.Contains(got, "  wrote /r/a.csv\n  failed after the commit: deliver: connection refused\n") {
		t.Errorf("summary:\n%s", got)
	}

	for _, tt := range []struct {
		name    string
		results []*jobs.Result
		code    int
		msg     string
	}{
		{"delivered", []*jobs.Result{delivered}, exitOK, ""},
		{"not delivered", []*jobs.Result{&undelivered, delivered}, exitAfterCommit, "committed, but a step after the commit failed: a (deliver)"},
		{"and locked", []*jobs.Result{locked, &undelivered}, exitAfterCommit, "committed, but a step after the commit failed: a (deliver)"},
		{"and failed", []*jobs.Result{&undelivered, failed}, exitFailed, "1 of 2 jobs failed: b; committed, but a step after the commit failed: a (deliver)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tl := tally{jobs: len(tt.results), total: len(tt.results)}
			for _, res := range tt.results {
				tl.add(ctx, job, res)
			}
			err := tl.err(ctx)
			code, msg := exitOK, ""
			if err != nil {
				code, msg = exitFailed, err.Error()
				if ee := (*exitError)(nil); errors.As(err, &ee) {
					code = ee.code
				}
			}
			if code != tt.code || msg != tt.msg {
				t.Errorf("exit %d %q, want %d %q", code, msg, tt.code, tt.msg)
			}
		})
	}
}
