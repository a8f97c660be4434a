package deliverytest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/output"
)

// crashEnv names, in the child process of Crash, the file of what it
// delivers (a crashJob as JSON).
const crashEnv = "JOINERY_DELIVERYTEST_CRASH"

type crashJob struct {
	Spec   delivery.Spec    `json:"spec"`
	Report *delivery.Report `json:"report"`
}

// CrashChild is the child process of Crash: a destination's tests call it
// first in their TestMain. In that child (and only there) it delivers the
// report through the Engine to kind, dies by SIGKILL once the destination
// took the reports and before the ledger records it, and never returns.
func CrashChild(kind delivery.Kind) {
	p := os.Getenv(crashEnv)
	if p == "" {
		return
	}
	os.Exit(crashChild(kind, p))
}

func crashChild(kind delivery.Kind, p string) int {
	data, err := os.ReadFile(p)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var job crashJob
	if err := json.Unmarshal(data, &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	job.Report.InZone()
	dir, err := output.OpenDir(job.Report.Dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e := &delivery.Engine{Kinds: delivery.NewRegistry(kind), Hook: func(step, name string) error {
		if name == job.Spec.Name {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}}
	_, err = e.Deliver(context.Background(), delivery.Delivery{Dir: dir, Specs: []delivery.Spec{job.Spec}, Report: job.Report})
	fmt.Fprintln(os.Stderr, "not killed:", err)
	return 3
}

// Crash checks c.Kind against its server when joinery dies between the
// upload and the ledger: a child process (the test binary again, whose
// TestMain calls CrashChild) delivers a sample report through the Engine
// and is killed by SIGKILL once the destination took it, before the
// ledger says so. The ledger must then show the destination pending
// after one attempt, with the files on the server; a resume delivers
// again (at least once), the server then holds every file byte for byte,
// and the ledger says sent; a second resume sends nothing.
func Crash(t *testing.T, c Case) {
	t.Helper()
	spec := c.Spec
	if errs := spec.Validate(outputsOr(c.Outputs)); len(errs) > 0 {
		t.Fatalf("the spec is not valid: %v", errs)
	}
	dir, r := SampleFiles(t, c.Outputs)
	data, err := json.Marshal(crashJob{Spec: spec, Report: r})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "crash.json")
	if err := os.WriteFile(p, data, 0o666); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+p)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL:\n%s", err, out)
	}
	state := func() delivery.LedgerEntry {
		t.Helper()
		l, err := delivery.ReadLedger(dir, r.Job, r.RunID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Destinations {
			if e.Name == spec.Name {
				return e
			}
		}
		t.Fatalf("the ledger has no entry for %s: %+v", spec.Name, l.Destinations)
		return delivery.LedgerEntry{}
	}
	if e := state(); e.State != delivery.Pending || e.Attempts != 1 {
		t.Fatalf("after the kill: %+v, want pending after 1 attempt", e)
	}
	checkReadBack(t, c, r) // the destination had taken the files
	e := &delivery.Engine{Kinds: delivery.NewRegistry(c.Kind)}
	if err := e.Resume(t.Context(), dir, r.Job, []delivery.Spec{spec}); err != nil {
		t.Fatal(err)
	}
	if e := state(); e.State != delivery.Sent || e.Attempts != 2 {
		t.Fatalf("after the resume: %+v, want sent after 2 attempts", e)
	}
	checkReadBack(t, c, r)
	if err := e.Resume(t.Context(), dir, r.Job, []delivery.Spec{spec}); err != nil {
		t.Fatal(err)
	}
	if e := state(); e.Attempts != 2 {
		t.Errorf("a second resume made attempt %d, want none", e.Attempts)
	}
}
