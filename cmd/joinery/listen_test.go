package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestListenWithoutAuthRefused: schedule --listen on every interface
// without authentication stops at start with exit status 2, saying what
// to set.
func TestListenWithoutAuthRefused(t *testing.T) {
	p := newInProcess(t)
	for _, k := range []string{"JOINERY_HTTP_TOKEN", "JOINERY_HTTP_USER", "JOINERY_HTTP_PASSWORD"} {
		t.Setenv(k, "")
	}
	var out bytes.Buffer
	code, stderr := p.run(context.Background(), &out, "schedule", "--listen", "0.0.0.0:0")
	if code != exitUsage || !strings.Contains(stderr, "JOINERY_HTTP_TOKEN") {
		t.Errorf("exit %d, want 2 naming JOINERY_HTTP_TOKEN\n%s", code, stderr)
	}
}
