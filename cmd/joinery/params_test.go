package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestParamWithSeveralJobs: with --all, a --param goes to the jobs that
// declare it and the others run without it; one that no selected job
// declares is a usage error. (sql needs no database.)
func TestParamWithSeveralJobs(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), nil, []string{"sql", "--config", "../../config.yaml", "--all", "--param", "min_views=7"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "= 7 (int64)  -- param min_views") || !strings.Contains(out.String(), "-- job users-posts,") {
		t.Errorf("want every job's SQL and min_views bound to 7 in monthly-authors:\n%s", out.String())
	}

	out.Reset()
	errb.Reset()
	code = run(context.Background(), nil, []string{"sql", "--config", "../../config.yaml", "--all", "--param", "min_views=7", "--param", "regoin=EU"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "--param regoin: none of the selected jobs declares it") || out.Len() > 0 {
		t.Errorf("exit %d, want %d, the parameter named and no SQL\nstdout:\n%s\nstderr:\n%s", code, exitUsage, out.String(), errb.String())
	}

	// Named alone, a job still refuses a parameter it does not declare.
	errb.Reset()
	code = run(context.Background(), nil, []string{"sql", "--config", "../../config.yaml", "users-posts", "--param", "min_views=7"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), `unknown parameter "min_views"`) {
		t.Errorf("exit %d, want %d and the unknown parameter\n%s", code, exitUsage, errb.String())
	}
}
