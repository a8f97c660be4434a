package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
	"github.com/joinery/joinery/output"
)

// The crash test delivers a run in a child process (this test binary
// again, see TestMain), which dies by SIGKILL after a destination took
// the reports and before the ledger recorded it.

// Environment of the child process.
const (
	crashEnv    = "JOINERY_DELIVERY_CRASH" // the report as JSON; set only in the child
	crashLogEnv = "JOINERY_DELIVERY_LOG"   // the fake destinations' log
)

func TestMain(m *testing.M) {
	if p := os.Getenv(crashEnv); p != "" {
		os.Exit(crashChild(p))
	}
	os.Exit(m.Run())
}

func crashSpecs() []delivery.Spec { return []delivery.Spec{spec("a", 0), spec("b", 0)} }

// crashChild delivers the report in the file p to a, then to a and b,
// and dies once b has it, before the ledger records it.
func crashChild(p string) int {
	data, err := os.ReadFile(p)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var r delivery.Report
	if err := json.Unmarshal(data, &r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	dir, err := output.OpenDir(r.Dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e := &delivery.Engine{Kinds: delivery.NewRegistry(&deliverytest.Fake{Log: os.Getenv(crashLogEnv)})}
	if _, err := e.Deliver(context.Background(), delivery.Delivery{Dir: dir, Specs: crashSpecs(), Report: &r, Only: []string{"a"}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e.Hook = func(step, name string) error {
		if name == "b" {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	_, err = e.Deliver(context.Background(), delivery.Delivery{Dir: dir, Specs: crashSpecs(), Report: &r})
	fmt.Fprintln(os.Stderr, "not killed:", err)
	return 3
}

func TestCrashBetweenUploadAndLedger(t *testing.T) {
	fx := newFixture(t)
	data, err := json.Marshal(fx.report)
	if err != nil {
		t.Fatal(err)
	}
	reportFile := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(reportFile, data, 0o666); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "delivered.log")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+reportFile, crashLogEnv+"="+logFile)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed:\n%s", err, out)
	}
	log := func() string {
		data, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	id := fx.report.RunID
	if got, want := log(), "a "+id+" success\nb "+id+" success\n"; got != want {
		t.Fatalf("delivered before the kill:\n%s\nwant:\n%s", got, want)
	}
	l := ledgerOf(t, fx)
	if a, b := entry(t, l, "a"), entry(t, l, "b"); a.State != delivery.Sent || b.State != delivery.Pending || b.Attempts != 1 {
		t.Fatalf("ledger after the kill: a %+v, b %+v", a, b)
	}
	// The next resume (schedule's start, the job's next run, joinery
	// deliver) sends b again (at least once) and never a.
	fake := &deliverytest.Fake{Log: logFile}
	e := fx.engine(fake)
	if err := e.Resume(t.Context(), fx.dir, fx.report.Job, crashSpecs()); err != nil {
		t.Fatal(err)
	}
	if got := log(); strings.Count(got, "a ") != 1 || strings.Count(got, "b ") != 2 {
		t.Errorf("delivered in all:\n%s\nwant a once, b twice", got)
	}
	if b := entry(t, ledgerOf(t, fx), "b"); b.State != delivery.Sent || b.Attempts != 2 {
		t.Errorf("b after resume: %+v", b)
	}
	if err := e.Resume(t.Context(), fx.dir, fx.report.Job, crashSpecs()); err != nil || fake.Attempts() != 1 {
		t.Errorf("second resume: %v, %d attempts in all, want 1", err, fake.Attempts())
	}
}
