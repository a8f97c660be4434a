package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/joinery/joinery/jobs"
)

// fakeScheduler is a Scheduler on a fixed configuration.
type fakeScheduler struct {
	cfg     *jobs.Config
	ran     []string
	reloads int
}

func (f *fakeScheduler) Config() *jobs.Config { return f.cfg }
func (f *fakeScheduler) RunNow(job string) error {
	f.ran = append(f.ran, job)
	return nil
}
func (f *fakeScheduler) ReloadNow(context.Context) error { f.reloads++; return nil }

// testConfig loads a configuration of one job j whose output_dir is a
// fresh folder.
func testConfig(t testing.TB) *jobs.Config {
	t.Helper()
	return load(t, writeFile(t, t.TempDir(), "config.yaml", `
database: {dsn: "u:secret@tcp(db:3306)/app"}
timezone: Europe/Berlin
output_dir: out
jobs:
  - name: j
    schedule: "0 6 * * *"
    datasets:
      d: {from: users u, select: [u.id]}
    outputs: [{format: csv, path: "{job}/{date}.csv"}]
`))
}

// writeFile writes text to dir/name and returns its path.
func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// load loads the configuration file at path.
func load(t testing.TB, path string) *jobs.Config {
	t.Helper()
	cfg, err := jobs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newTestServer(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Scheduler == nil {
		o.Scheduler = &fakeScheduler{cfg: testConfig(t)}
	}
	if o.Gatherer == nil {
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "joinery_test_total", Help: "A test counter."})
		c.Add(3)
		reg.MustRegister(c)
		o.Gatherer = reg
	}
	if o.Runs == nil {
		o.Runs = &HistoryRuns{OutputDir: o.Scheduler.Config().OutputPath()}
	}
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get serves a GET of target with the header given (name, value pairs).
func get(s http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = "127.0.0.1:8080"
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// TestAuth: with a token or a user and password configured, every
// endpoint but /healthz wants them.
func TestAuth(t *testing.T) {
	s := newTestServer(t, Options{Auth: Auth{Token: "s3cret", User: "ops", Password: "pw"}})
	for _, path := range []string{"/", "/metrics", "/readyz", "/jobs/j"} {
		t.Run(path, func(t *testing.T) {
			if w := get(s, path); w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("no token: %d %q, want 401 with a challenge", w.Code, w.Header().Get("WWW-Authenticate"))
			}
			if w := get(s, path, "Authorization", "Bearer wrong"); w.Code != http.StatusUnauthorized {
				t.Errorf("wrong token: %d, want 401", w.Code)
			}
			if w := get(s, path, "Authorization", "Bearer s3cret"); w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
				t.Errorf("right token: %d", w.Code)
			}
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.SetBasicAuth("ops", "wrong")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("wrong password: %d, want 401", w.Code)
			}
			r.SetBasicAuth("ops", "pw")
			w = httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code == http.StatusUnauthorized {
				t.Errorf("right password: %d", w.Code)
			}
		})
	}
	if w := get(s, "/healthz"); w.Code != http.StatusOK {
		t.Errorf("/healthz without a token: %d, want 200", w.Code)
	}
	if w := get(s, "/metrics", "Authorization", "Bearer s3cret"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "joinery_test_total 3") {
		t.Errorf("/metrics: %d\n%s", w.Code, w.Body.String())
	}
}

// TestWithoutAuthOnlyLocalhost: without authentication a request for
// another host (DNS rebinding) is refused.
func TestWithoutAuthOnlyLocalhost(t *testing.T) {
	s := newTestServer(t, Options{})
	if w := get(s, "/metrics"); w.Code != http.StatusOK {
		t.Errorf("127.0.0.1: %d, want 200", w.Code)
	}
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Host = "evil.example:8080"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("evil.example: %d, want 403", w.Code)
	}
}

// TestListen: without authentication only loopback addresses.
func TestListen(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0"} {
		if _, err := Listen(addr, Auth{}); !errors.Is(err, ErrNeedsAuth) {
			t.Errorf("Listen(%q) without auth = %v, want ErrNeedsAuth", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := Listen(addr, Auth{})
		if err != nil {
			t.Errorf("Listen(%q) = %v", addr, err)
			continue
		}
		ln.Close()
	}
	ln, err := Listen("0.0.0.0:0", Auth{Token: "t"})
	if err != nil {
		t.Fatalf("Listen with a token = %v", err)
	}
	ln.Close()
	if _, err := AuthFromEnv(func(k string) string { return map[string]string{EnvUser: "ops"}[k] }); err == nil {
		t.Error("a user without a password was taken")
	}
}

// TestReadyz: 200 when all is well; 503 naming the database and the
// output folder when they fail.
func TestReadyz(t *testing.T) {
	cfg := testConfig(t)
	ping := error(nil)
	s := newTestServer(t, Options{Scheduler: &fakeScheduler{cfg: cfg}, Ping: func(context.Context) error { return ping }})
	if w := get(s, "/readyz"); w.Code != http.StatusOK || w.Body.String() != "ok\n" {
		t.Errorf("ready: %d %q", w.Code, w.Body.String())
	}
	ping = errors.New("dial tcp db:3306: connection refused")
	cfg.OutputDir = "/proc/joinery"
	w := get(s, "/readyz")
	if body := w.Body.String(); w.Code != http.StatusServiceUnavailable || !strings.Contains(body, "database: dial tcp") || !strings.Contains(body, "output folder: ") {
		t.Errorf("not ready: %d %q", w.Code, body)
	}
}
