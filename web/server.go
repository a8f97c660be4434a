// Package web is the HTTP server of joinery schedule --listen: /healthz,
// /readyz, /metrics, and a status page of the jobs and their runs, with
// buttons to run a job now and to reload the configuration. It reads the
// scheduler through Scheduler and the runs through Runs; see
// docs/OPERATIONS.md#the-http-server.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/joinery/joinery/jobs"
)

// Scheduler is what the server reads and drives of the daemon: a
// *schedule.Scheduler.
type Scheduler interface {
	// Config is the configuration in use (the last reloaded).
	Config() *jobs.Config
	// RunNow starts a run of the job now, in the background, unless a run
	// of it is under way.
	RunNow(job string) error
	// ReloadNow reloads the configuration, and says why the one in use
	// stays if it does.
	ReloadNow(ctx context.Context) error
}

// Options are what a Server serves.
type Options struct {
	Auth      Auth
	Scheduler Scheduler
	// Ping checks that the database answers, for /readyz; nil skips it.
	Ping func(ctx context.Context) error
	// Gatherer is what /metrics serves.
	Gatherer prometheus.Gatherer
	// Runs are the runs the status page shows.
	Runs   Runs
	Logger *slog.Logger
	// Version is joinery's, shown in the pages' footer.
	Version string
}

// Server serves the endpoints; see the package's documentation.
type Server struct {
	o       Options
	handler http.Handler
	pages   *template.Template
	csrf    string // the form token of this process
	cop     *http.CrossOriginProtection

	mu        sync.Mutex
	reloadErr string // why the last reload asked for failed
}

// pingTimeout bounds /readyz's database check: a probe must answer
// quickly, whatever the database does.
const pingTimeout = 2 * time.Second

// New returns a Server of o.
func New(o Options) (*Server, error) {
	if o.Scheduler == nil || o.Gatherer == nil || o.Runs == nil || o.Logger == nil {
		return nil, errors.New("web: Scheduler, Gatherer, Runs and Logger are required")
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	csrf, err := newToken()
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, pages: pages, csrf: csrf, cop: http.NewCrossOriginProtection()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /jobs/{name}", s.job)
	mux.Handle("POST /jobs/{name}/run", s.checkForm(s.runNow))
	mux.Handle("POST /reload", s.checkForm(s.reload))
	mux.HandleFunc("GET /files/{job}/{path...}", s.file)
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelError)}))
	mux.HandleFunc("GET /readyz", s.readyz)
	s.handler = s.guard(mux)
	return s, nil
}

// ServeHTTP serves /healthz to anyone, and everything else to requests
// that authenticate (see Auth).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
		return
	}
	s.handler.ServeHTTP(w, r)
}

// guard lets in the requests that authenticate, and, without
// authentication, only those for a loopback host; it sets the headers
// every response has.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Cache-Control", "no-store")
		if !s.o.Auth.Configured() && !loopbackRequest(r) {
			http.Error(w, "without authentication joinery serves only requests for localhost", http.StatusForbidden)
			return
		}
		if !s.o.Auth.allows(r) {
			h.Set("WWW-Authenticate", s.o.Auth.challenge())
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readyz answers 200 when the configuration is loaded, the database
// answers and the output folder can be written, else 503 with a line for
// each check that failed.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var failed []string
	cfg := s.o.Scheduler.Config()
	if cfg == nil {
		failed = append(failed, "config: not loaded")
	}
	if s.o.Ping != nil {
		ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
		err := s.o.Ping(ctx)
		cancel()
		if err != nil {
			failed = append(failed, "database: "+err.Error())
		}
	}
	if cfg != nil {
		if err := cfg.CheckOutputDir(); err != nil {
			failed = append(failed, "output folder: "+err.Error())
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(failed, "\n"))
		return
	}
	fmt.Fprintln(w, "ok")
}

// shutdownTimeout is how long Serve waits for requests under way once
// its context ends.
const shutdownTimeout = 5 * time.Second

// Serve serves on ln until ctx ends, then lets requests under way finish
// (for up to 5 s) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	s.o.Logger.Info("serving HTTP", "address", ln.Addr().String(), "auth", s.o.Auth.Configured())
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-done
	return err
}
