package delivery_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
	"github.com/joinery/joinery/output"
)

// fixture is an output_dir with two committed files (outputs csv and
// xlsx) and a report of them.
type fixture struct {
	dir    *output.Dir
	report *delivery.Report
	sleeps []time.Duration
	mu     sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir, r := deliverytest.SampleFiles(t, nil)
	return &fixture{dir: dir, report: r}
}

func (fx *fixture) engine(kinds ...delivery.Kind) *delivery.Engine {
	return &delivery.Engine{
		Kinds:  delivery.NewRegistry(kinds...),
		Random: func() float64 { return 0 },
		Sleep: func(ctx context.Context, d time.Duration) error {
			fx.mu.Lock()
			fx.sleeps = append(fx.sleeps, d)
			fx.mu.Unlock()
			return ctx.Err()
		},
	}
}

// spec is a destination of the fake kind (s3 settings) named name.
func spec(name string, retries int, outputs ...string) delivery.Spec {
	return delivery.Spec{Name: name, Outputs: outputs, On: []delivery.Event{delivery.EventSuccess}, Retries: &retries,
		Backoff: time.Second, Timeout: time.Minute, S3: &delivery.S3{}}
}

func ledgerOf(t *testing.T, fx *fixture) *delivery.Ledger {
	t.Helper()
	l, err := delivery.ReadLedger(fx.dir, fx.report.Job, fx.report.RunID)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func entry(t *testing.T, l *delivery.Ledger, name string) delivery.LedgerEntry {
	t.Helper()
	for _, e := range l.Destinations {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no ledger entry %s in %+v", name, l.Destinations)
	return delivery.LedgerEntry{}
}

func TestDeliverOnceAndNotAgain(t *testing.T) {
	fx := newFixture(t)
	fake := &deliverytest.Fake{}
	e := fx.engine(fake)
	d := delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("all", 2), spec("book", 2, "xlsx")}, Report: fx.report}
	out, err := e.Deliver(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].State != delivery.Sent || out[1].State != delivery.Sent {
		t.Fatalf("outcomes %+v", out)
	}
	got := map[int]bool{}
	for _, r := range fake.Delivered() {
		got[len(r.Files)] = true
	}
	if !got[2] || !got[1] {
		t.Errorf("files per delivery %v: want one with both files, one with the workbook only", got)
	}
	l := ledgerOf(t, fx)
	for _, name := range []string{"all", "book"} {
		if e := entry(t, l, name); e.State != delivery.Sent || e.Attempts != 1 || e.Receipt == nil || e.SentAt.IsZero() {
			t.Errorf("entry %+v", e)
		}
	}
	// Delivered again: nothing is sent twice.
	out, err = e.Deliver(t.Context(), d)
	if err != nil || fake.Attempts() != 2 {
		t.Fatalf("second delivery: %v, %d attempts in all, want 2", err, fake.Attempts())
	}
	if !strings.HasPrefix(out[0].Skipped, "sent already") {
		t.Errorf("outcome %+v: want skipped, sent already", out[0])
	}
	// Asked by name: sent again.
	d.Only, d.Again = []string{"book"}, []string{"book"}
	if _, err := e.Deliver(t.Context(), d); err != nil || fake.Attempts() != 3 {
		t.Fatalf("again: %v, %d attempts", err, fake.Attempts())
	}
	if e := entry(t, ledgerOf(t, fx), "book"); e.Attempts != 2 || e.State != delivery.Sent {
		t.Errorf("entry after --to: %+v", e)
	}
}

func TestRetriesWithBackoff(t *testing.T) {
	fx := newFixture(t)
	var pendingBefore []bool
	fake := &deliverytest.Fake{}
	fake.Fail = func(n int, r *delivery.Report) error {
		l, _ := delivery.ReadLedger(fx.dir, r.Job, r.RunID)
		pendingBefore = append(pendingBefore, l != nil && l.Destinations[0].State == delivery.Pending && l.Destinations[0].Attempts == n)
		if n <= 2 {
			return errors.New("connection refused")
		}
		return nil
	}
	_, err := fx.engine(fake).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("x", 5)}, Report: fx.report})
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{500 * time.Millisecond, time.Second}; !slices.Equal(fx.sleeps, want) {
		t.Errorf("waits %v, want %v (backoff doubled, jitter 0)", fx.sleeps, want)
	}
	if !slices.Equal(pendingBefore, []bool{true, true, true}) {
		t.Errorf("pending with the attempt's number before each attempt: %v", pendingBefore)
	}
	if e := entry(t, ledgerOf(t, fx), "x"); e.State != delivery.Sent || e.Attempts != 3 || e.LastError != "" {
		t.Errorf("entry %+v", e)
	}
}

func TestPermanentAndGiveUp(t *testing.T) {
	fx := newFixture(t)
	perm := &deliverytest.Fake{KindName: "s3", Fail: func(int, *delivery.Report) error { return delivery.Permanent(errors.New("535 authentication failed")) }}
	_, err := fx.engine(perm).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("p", 5)}, Report: fx.report})
	if err == nil || !strings.Contains(err.Error(), "authentication failed (not retried: permanent)") || perm.Attempts() != 1 {
		t.Errorf("permanent: %v after %d attempts", err, perm.Attempts())
	}
	if e := entry(t, ledgerOf(t, fx), "p"); e.State != delivery.Failed || !strings.Contains(e.LastError, "authentication failed") {
		t.Errorf("entry %+v", e)
	}

	fx = newFixture(t)
	down := &deliverytest.Fake{Fail: func(int, *delivery.Report) error { return errors.New("connection refused") }}
	_, err = fx.engine(down).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("d", 2)}, Report: fx.report})
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts: connection refused") {
		t.Errorf("give up: %v", err)
	}
	if e := entry(t, ledgerOf(t, fx), "d"); e.State != delivery.Failed || e.Attempts != 3 {
		t.Errorf("entry %+v", e)
	}
	// joinery deliver tries a failed destination again.
	down.Fail = nil
	if _, err := fx.engine(down).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("d", 2)}, Report: fx.report}); err != nil {
		t.Fatal(err)
	}
	if e := entry(t, ledgerOf(t, fx), "d"); e.State != delivery.Sent || e.Attempts != 4 {
		t.Errorf("entry %+v", e)
	}
}

func TestAttemptTimeout(t *testing.T) {
	fx := newFixture(t)
	slow := &deliverytest.Fake{Block: true}
	s := spec("slow", 1)
	s.Timeout = 20 * time.Millisecond
	_, err := fx.engine(slow).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{s}, Report: fx.report})
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 attempts: attempt timed out after 20ms") {
		t.Errorf("err = %v", err)
	}
}

func TestChangedFileNeverSent(t *testing.T) {
	fx := newFixture(t)
	f := fx.report.Files[0]
	if err := os.WriteFile(f.Path, []byte(strings.Repeat("9", int(f.Size))), 0o666); err != nil {
		t.Fatal(err)
	}
	fake := &deliverytest.Fake{}
	_, err := fx.engine(fake).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("x", 5)}, Report: fx.report})
	if err == nil || !strings.Contains(err.Error(), "is not the one its run wrote: its SHA-256 differs") || fake.Attempts() != 0 {
		t.Errorf("err = %v, %d attempts; want the file refused before any attempt", err, fake.Attempts())
	}
	if e := entry(t, ledgerOf(t, fx), "x"); e.State != delivery.Failed {
		t.Errorf("entry %+v", e)
	}
	os.Remove(fx.report.Files[0].Path)
	_, err = fx.engine(fake).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("x", 5)}, Report: fx.report})
	if err == nil || !strings.Contains(err.Error(), "it is gone") {
		t.Errorf("vanished file: %v", err)
	}
}

func TestSecretsRedacted(t *testing.T) {
	t.Setenv("JOINERY_TEST_HOOK_URL", "https://hooks.example.com/services/T0/B0/sekrit-token")
	fx := newFixture(t)
	// A destination that puts its credential in its error, as a careless
	// client library may.
	fake := &deliverytest.Fake{KindName: "webhook", Fail: func(int, *delivery.Report) error {
		return delivery.Permanent(errors.New(`Post "https://hooks.example.com/services/T0/B0/sekrit-token": 404; path /services/T0/B0/sekrit-token`))
	}}
	s := spec("hook", 0)
	s.S3, s.Webhook = nil, &delivery.Webhook{URL: "${JOINERY_TEST_HOOK_URL}"}
	out, err := fx.engine(fake).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{s}, Report: fx.report})
	data, _ := os.ReadFile(filepath.Join(fx.dir.Path(), ".joinery", "deliveries", fx.report.Job, fx.report.RunID+".json"))
	for what, text := range map[string]string{"error": err.Error(), "outcome": out[0].Err.Error(), "ledger": string(data)} {
		if strings.Contains(text, "sekrit") {
			t.Errorf("the %s shows the secret:\n%s", what, text)
		}
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("err = %v", err)
	}
}

func TestStoppedStaysPendingAndResumes(t *testing.T) {
	fx := newFixture(t)
	fake := &deliverytest.Fake{Fail: func(n int, _ *delivery.Report) error {
		if n == 1 {
			return errors.New("503 try later")
		}
		return nil
	}}
	e := fx.engine(fake)
	ctx, cancel := context.WithCancel(t.Context())
	e.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	specs := []delivery.Spec{spec("x", 5)}
	out, err := e.Deliver(ctx, delivery.Delivery{Dir: fx.dir, Specs: specs, Report: fx.report})
	if err == nil || out[0].State != delivery.Pending {
		t.Fatalf("stopped: %v %+v", err, out)
	}
	if got := ledgerOf(t, fx).Pending(); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("pending %v", got)
	}
	if err := fx.engine(fake).Resume(t.Context(), fx.dir, fx.report.Job, specs); err != nil {
		t.Fatal(err)
	}
	if e := entry(t, ledgerOf(t, fx), "x"); e.State != delivery.Sent || e.Attempts != 2 {
		t.Errorf("after resume: %+v", e)
	}
	// Nothing left: a second resume sends nothing.
	if err := fx.engine(fake).Resume(t.Context(), fx.dir, fx.report.Job, specs); err != nil || fake.Attempts() != 2 {
		t.Errorf("second resume: %v, %d attempts", err, fake.Attempts())
	}
}

func TestOneDeliveryOfARunAtATime(t *testing.T) {
	fx := newFixture(t)
	entered, release := make(chan struct{}), make(chan struct{})
	fake := &deliverytest.Fake{Fail: func(n int, _ *delivery.Report) error {
		if n == 1 {
			close(entered)
			<-release
		}
		return nil
	}}
	d := delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("x", 0)}, Report: fx.report}
	done := make(chan error)
	go func() { _, err := fx.engine(fake).Deliver(t.Context(), d); done <- err }()
	<-entered
	_, err := fx.engine(fake).Deliver(t.Context(), d)
	close(release)
	if err == nil || !strings.Contains(err.Error(), "under way already") {
		t.Errorf("second delivery: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNotify(t *testing.T) {
	fake := &deliverytest.Fake{KindName: "webhook", Fail: func(n int, _ *delivery.Report) error {
		if n == 1 {
			return errors.New("502")
		}
		return nil
	}}
	fx := newFixture(t)
	hook := func(name string, on ...delivery.Event) delivery.Spec {
		s := spec(name, 3)
		s.S3, s.Webhook, s.On = nil, &delivery.Webhook{}, on
		return s
	}
	r := &delivery.Report{Job: "nightly", Event: delivery.EventFailure, Error: "boom"}
	out, err := fx.engine(fake).Notify(t.Context(), []delivery.Spec{hook("a", delivery.EventFailure), hook("b", delivery.EventSuccess)}, r)
	if err != nil || len(out) != 1 || out[0].Name != "a" || out[0].State != delivery.Sent || fake.Attempts() != 2 {
		t.Errorf("notify: %v %+v, %d attempts", err, out, fake.Attempts())
	}
}

// TestLedgerKeepsTheReport: the report a resumed delivery reads back from
// the ledger gives templates what the run's gave them: times in the job's
// zone, parameters with their types (int64 beyond 2^53, datetimes, lists).
func TestLedgerKeepsTheReport(t *testing.T) {
	fx := newFixture(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	r := fx.report
	r.Zone = "Europe/Berlin"
	r.Logical = time.Date(2026, 10, 26, 6, 0, 0, 0, berlin)
	r.WindowStart, r.WindowEnd = time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), time.Date(2026, 10, 26, 0, 0, 0, 0, berlin)
	r.Params = []output.Param{
		{Name: "n", Type: "int", Value: int64(9007199254740993)},
		{Name: "at", Type: "datetime", Value: time.Date(2026, 3, 29, 3, 0, 0, 0, berlin)},
		{Name: "d", Type: "date", Value: "2026-10-01"},
		{Name: "ok", Type: "bool", Value: true},
		{Name: "ids", Type: "list<int>", Value: []any{int64(1), int64(2)}},
		{Name: "ts", Type: "list<datetime>", Value: []any{time.Date(2026, 7, 1, 12, 0, 0, 0, berlin)}},
	}
	r.Datasets = []delivery.Dataset{{Name: "posts", Rows: 3, Joins: []string{"p (left join): 1 matched"}, Warnings: []string{"w"}}}
	r.Attempts = 2
	tmpl, err := delivery.ParseTemplate("t", `{{.Job}} {{.RunID}} {{.Logical}} {{.WindowStart}} {{.WindowEnd}} {{.Attempts}} {{.Event}}
{{range .Params}}{{.Name}}:{{.Type}}={{.Value}} ({{printf "%T" .Value}}) {{end}}
{{range .Datasets}}{{.Name}} {{.Rows}} {{.Joins}} {{.Warnings}}{{end}} {{.Warnings}}
{{range .Files}}{{.Rel}} {{.Output}} {{.Format}} {{.Size}} {{.Rows}} {{.SHA256}} {{.Datasets}} {{.Path}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	fake := &deliverytest.Fake{Fail: func(int, *delivery.Report) error { return errors.New("503") }}
	if _, err := fx.engine(fake).Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{spec("x", 0)}, Report: r}); err == nil {
		t.Fatal("want the delivery to fail")
	}
	raw, _ := os.ReadFile(filepath.Join(fx.dir.Path(), ".joinery", "deliveries", r.Job, r.RunID+".json"))
	for _, key := range []string{`"run_id"`, `"logical"`, `"zone": "Europe/Berlin"`, `"window_start"`, `"rel"`, `"sha256"`, `"joins"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("the ledger has no %s:\n%s", key, raw)
		}
	}
	if strings.Contains(string(raw), `"RunID"`) {
		t.Errorf("the ledger's report has Go field names:\n%s", raw)
	}
	got, err := tmpl.Execute(ledgerOf(t, fx).Report)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tmpl.Execute(r)
	if got != want {
		t.Errorf("from the ledger:\n%s\nwant (the run's):\n%s", got, want)
	}
	if !strings.Contains(got, "n:int=9007199254740993 (int64)") || !strings.Contains(got, "+0200 CEST (time.Time)") {
		t.Errorf("types lost:\n%s", got)
	}
}
