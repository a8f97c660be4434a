package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
	"github.com/joinery/joinery/delivery/webhook"
	"github.com/joinery/joinery/internal/testnet"
	"github.com/joinery/joinery/output"
)

// hookServer is an incoming webhook in the test: it records each body
// and answers with the status its answer function gives.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	paths  []string
	answer func(n int) int
}

func newHookServer(t *testing.T, answer func(n int) int) *hookServer {
	h := &hookServer{answer: answer}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, string(body))
	h.paths = append(h.paths, r.URL.Path)
	n := len(h.bodies)
	h.mu.Unlock()
	status := http.StatusOK
	if h.answer != nil {
		status = h.answer(n)
	}
	if r.Header.Get("Content-Type") != "application/json" {
		status = http.StatusUnsupportedMediaType
	}
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status))
}

func (h *hookServer) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// hookSpec is a validated webhook entry for url, read from the
// environment as JOINERY_TEST_WEBHOOK.
func hookSpec(t *testing.T, url, style string, retries int, templates delivery.WebhookTemplates, on ...delivery.Event) delivery.Spec {
	t.Helper()
	t.Setenv("JOINERY_TEST_WEBHOOK", url)
	s := delivery.Spec{Name: "alerts", On: on, Retries: &retries, Webhook: &delivery.Webhook{URL: "${JOINERY_TEST_WEBHOOK}", Style: style, Templates: templates}}
	if errs := s.Validate(nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	return s
}

// engine delivers with the webhook kind, without waiting between attempts
// (each wait is recorded) unless wait is set.
func engine(waits *[]time.Duration, wait func()) *delivery.Engine {
	return &delivery.Engine{Kinds: delivery.NewRegistry(webhook.Kind{}), Random: func() float64 { return 0 },
		Sleep: func(ctx context.Context, d time.Duration) error {
			*waits = append(*waits, d)
			if wait != nil {
				wait()
			}
			return ctx.Err()
		}}
}

func report(t *testing.T) (*output.Dir, *delivery.Report) {
	dir, r := deliverytest.SampleFiles(t, []string{"csv"})
	r.Warnings = nil
	return dir, r
}

func TestSlackSuccess(t *testing.T) {
	h := newHookServer(t, nil)
	dir, r := report(t)
	var waits []time.Duration
	out, err := engine(&waits, nil).Deliver(t.Context(), delivery.Delivery{Dir: dir, Specs: []delivery.Spec{hookSpec(t, h.URL+"/services/T0/B0/tok", "", 0, delivery.WebhookTemplates{})}, Report: r})
	if err != nil {
		t.Fatal(err)
	}
	got := h.received()
	if len(got) != 1 || out[0].Receipt.ID != "200 OK" {
		t.Fatalf("bodies %q, outcome %+v", got, out)
	}
	var msg map[string]string
	if err := json.Unmarshal([]byte(got[0]), &msg); err != nil || len(msg) != 1 {
		t.Fatalf("body %s: want {\"text\": ...} only (%v)", got[0], err)
	}
	want := "sample: reports for 2026-11-04 06:00 CET are ready (1,234 rows)\n• " + r.Files[0].Rel + " (44 B)"
	if msg["text"] != want {
		t.Errorf("text:\n%s\nwant:\n%s", msg["text"], want)
	}
}

func TestJSONDocumentAndTemplate(t *testing.T) {
	h := newHookServer(t, nil)
	s := hookSpec(t, h.URL, "json", 0, delivery.WebhookTemplates{Failure: `{{.Job}} failed ({{.Attempts}}): {{.Error}}`}, delivery.EventFailure)
	r := delivery.SampleReport()
	r.Event, r.Error, r.Attempts, r.Files = delivery.EventFailure, "dial tcp: refused (gave up after 3 attempts)", 3, nil
	var waits []time.Duration
	if _, err := engine(&waits, nil).Notify(t.Context(), []delivery.Spec{s}, r); err != nil {
		t.Fatal(err)
	}
	var doc webhook.Document
	if err := json.Unmarshal([]byte(h.received()[0]), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Event != delivery.EventFailure || doc.Job != "sample" || doc.Attempts != 3 || doc.Window == nil || len(doc.Datasets) != 1 || doc.Datasets[0].Rows != 1234 ||
		doc.Text != "sample failed (3): dial tcp: refused (gave up after 3 attempts)" || !doc.LogicalTime.Equal(r.Logical) {
		t.Errorf("document %+v", doc)
	}
}

func TestServerDownThenBack(t *testing.T) {
	// A server that is not there: connection refused, retried; it comes
	// up on the same address during the second wait.
	addr := testnet.FreeAddr(t)
	var h *hookServer
	up := func() {
		if h != nil {
			return
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		h = &hookServer{answer: func(n int) int {
			if n == 1 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}}
		h.Server = httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
		h.Listener.Close()
		h.Listener = l
		h.Start()
		t.Cleanup(h.Close)
	}
	var waits []time.Duration
	dir, r := report(t)
	e := engine(&waits, func() {
		if len(waits) == 2 {
			up()
		}
	})
	s := hookSpec(t, "http://"+addr+"/services/T0/B0/tok", "slack", 5, delivery.WebhookTemplates{})
	out, err := e.Deliver(t.Context(), delivery.Delivery{Dir: dir, Specs: []delivery.Spec{s}, Report: r})
	if err != nil {
		t.Fatal(err)
	}
	// Refused twice, 503 once, then 200: four attempts, one message.
	if len(waits) != 3 || out[0].State != delivery.Sent || len(h.received()) != 2 {
		t.Errorf("waits %v, outcome %+v, %d requests", waits, out, len(h.received()))
	}
	l2, err := delivery.ReadLedger(dir, r.Job, r.RunID)
	if err != nil || l2.Destinations[0].Attempts != 4 || l2.Destinations[0].State != delivery.Sent {
		t.Errorf("ledger %+v %v", l2, err)
	}
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		status   int
		attempts int
		want     string
	}{
		{http.StatusNotFound, 1, "the server answered 404 Not Found: \"Not Found\" (not retried: permanent)"},
		{http.StatusForbidden, 1, "403 Forbidden"},
		{http.StatusTooManyRequests, 3, "gave up after 3 attempts: post: the server answered 429 Too Many Requests"},
		{http.StatusBadGateway, 3, "gave up after 3 attempts"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			h := newHookServer(t, func(int) int { return tt.status })
			dir, r := report(t)
			var waits []time.Duration
			_, err := engine(&waits, nil).Deliver(t.Context(), delivery.Delivery{Dir: dir, Specs: []delivery.Spec{hookSpec(t, h.URL+"/services/T0/B0/tok", "", 2, delivery.WebhookTemplates{})}, Report: r})
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(h.received()) != tt.attempts {
				t.Errorf("err = %v after %d requests; want %q after %d", err, len(h.received()), tt.want, tt.attempts)
			}
		})
	}
}

func TestSlowServer(t *testing.T) {
	release := make(chan struct{})
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer h.Close()
	defer close(release)
	dir, r := report(t)
	s := hookSpec(t, h.URL+"/services/T0/B0/tok", "", 1, delivery.WebhookTemplates{})
	s.Timeout = 50 * time.Millisecond
	var waits []time.Duration
	_, err := engine(&waits, nil).Deliver(t.Context(), delivery.Delivery{Dir: dir, Specs: []delivery.Spec{s}, Report: r})
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 attempts: attempt timed out after 50ms") {
		t.Errorf("err = %v", err)
	}
}

// TestURLNeverShown: the URL is a credential; no error, log record or
// ledger shows it, whatever fails.
func TestURLNeverShown(t *testing.T) {
	addr := testnet.FreeAddr(t)
	var logs strings.Builder
	dir, r := report(t)
	s := hookSpec(t, "http://"+addr+"/services/T0/B0/sekrit-token", "", 1, delivery.WebhookTemplates{})
	var waits []time.Duration
	e := engine(&waits, nil)
	e.Log = slogTo(&logs)
	_, err := e.Deliver(t.Context(), delivery.Delivery{Dir: dir, Specs: []delivery.Spec{s}, Report: r})
	if err == nil {
		t.Fatal("delivered to nothing")
	}
	ledger, _ := os.ReadFile(filepath.Join(dir.Path(), ".joinery", "deliveries", r.Job, r.RunID+".json"))
	for what, text := range map[string]string{"error": err.Error(), "log": logs.String(), "ledger": string(ledger)} {
		if strings.Contains(text, "sekrit") {
			t.Errorf("the %s shows the url:\n%s", what, text)
		}
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v: want the cause", err)
	}
	// validate --connect: Check says the server is not there, no URL.
	d, _ := webhook.Kind{}.New(s, delivery.Env{})
	if err := d.Check(t.Context()); err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("check: %v", err)
	}
}

func TestCheck(t *testing.T) {
	h := newHookServer(t, nil)
	d, err := webhook.Kind{}.New(hookSpec(t, h.URL+"/x", "", 0, delivery.WebhookTemplates{}), delivery.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(h.received()) != 0 {
		t.Error("check posted something")
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
