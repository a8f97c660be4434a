package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/schedule"
	"github.com/joinery/joinery/output"
)

//go:embed templates
var templateFS embed.FS

// runsShown is how many runs the page of a job shows.
const runsShown = 10

// parseTemplates parses the pages, with the style sheet as template "css".
func parseTemplates() (*template.Template, error) {
	css, err := fs.ReadFile(templateFS, "templates/style.css")
	if err != nil {
		return nil, err
	}
	t := template.New("pages").Funcs(template.FuncMap{
		"fmtTime": fmtTime,
		"dur":     fmtDuration,
		"num":     delivery.GroupDigits,
		"size":    fmtSize,
		"fileURL": fileURL,
	})
	if _, err := t.New("css").Parse(string(css)); err != nil {
		return nil, err
	}
	return t.ParseFS(templateFS, "templates/*.html")
}

// page is what every page's template gets.
type page struct {
	Title, Version, Now string
	// CSRF is the form token of every POST.
	CSRF     string
	Flash    string
	FlashErr bool
	Jobs     []jobView // the index
	Job      *jobView  // a job's page
}

// jobView is a job as the pages show it.
type jobView struct {
	Name, Schedule, Zone, Window string
	Loc                          *time.Location
	Next                         time.Time // when the next run starts
	NextLogical                  time.Time // its scheduled time: Next, less Delay
	Delay                        time.Duration
	NextRuns                     []time.Time // the next scheduled times; each starts Delay later
	Last                         *lastRun
	Runs                         []RunView
	Err                          string // the runs could not be read
}

// lastRun is a RunView with its rows summed.
type lastRun struct {
	RunView
	Rows int64
}

func newJobView(job *jobs.Job, now time.Time) jobView {
	v := jobView{Name: job.Name, Schedule: job.Schedule, Zone: job.Location.String(), Loc: job.Location, Delay: job.Delay()}
	v.NextLogical, v.Next = job.NextStart(now)
	if job.Window.IsSet() {
		v.Window = job.Window.String()
	}
	return v
}

// render writes the page of template name.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p *page) {
	p.Version, p.CSRF = s.o.Version, s.csrf
	p.Now = time.Now().Format("2006-01-02 15:04:05 MST")
	p.Flash, p.FlashErr = s.flash(r)
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, p); err != nil {
		s.o.Logger.Error("render the status page", "page", name, "error", err)
		http.Error(w, "the page could not be made: see joinery's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = b.WriteTo(w)
}

// index is the list of jobs: schedule, next run and last run of each.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	cfg := s.o.Scheduler.Config()
	now := time.Now()
	p := &page{Title: "Jobs"}
	names := make([]string, len(cfg.Jobs))
	for i := range cfg.Jobs {
		names[i] = cfg.Jobs[i].Name
	}
	last := s.o.Runs.Recent(names, 1)
	for i := range cfg.Jobs {
		v := newJobView(&cfg.Jobs[i], now)
		if err := last[i].Err; err != nil {
			v.Err = err.Error()
		} else if runs := last[i].Runs; len(runs) > 0 {
			v.Last = &lastRun{RunView: runs[0], Rows: rows(runs[0])}
		}
		p.Jobs = append(p.Jobs, v)
	}
	s.render(w, r, "index", p)
}

// job is the page of one job: its schedule, next runs and last runs.
func (s *Server) job(w http.ResponseWriter, r *http.Request) {
	job, err := s.o.Scheduler.Config().Job(r.PathValue("name"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	now := time.Now()
	v := newJobView(job, now)
	// From the next run to start: with jitter, a scheduled time that has
	// passed may still be waiting for its delay.
	v.NextRuns = job.Next(now.Add(-v.Delay), 5)
	runs := s.o.Runs.Recent([]string{job.Name}, runsShown)[0]
	if v.Runs = runs.Runs; runs.Err != nil {
		v.Err = runs.Err.Error()
	}
	s.render(w, r, "job", &page{Title: job.Name, Job: &v})
}

// The flash messages a redirect after a POST asks for, by ?flash=.
var flashes = map[string]string{
	"started":    "Run of %s started: it shows below when it ends.",
	"busy":       "%s is running already: not started again.",
	"stopped":    "The scheduler is not running: nothing started.",
	"reloaded":   "Configuration reloaded.",
	"reloadfail": "Reload failed, the configuration in use stays: %s",
}

// flash returns the message ?flash= asks for, and whether it says
// something failed.
func (s *Server) flash(r *http.Request) (string, bool) {
	key := r.URL.Query().Get("flash")
	format, ok := flashes[key]
	if !ok {
		return "", false
	}
	switch key {
	case "started", "busy":
		return fmt.Sprintf(format, r.PathValue("name")), key == "busy"
	case "reloadfail":
		s.mu.Lock()
		defer s.mu.Unlock()
		return fmt.Sprintf(format, s.reloadErr), true
	}
	return format, key == "stopped"
}

// runNow starts a run of the job now (see Scheduler.RunNow) and sends
// the browser back to the job's page, saying whether it started.
func (s *Server) runNow(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.o.Scheduler.Config().Job(name); err != nil {
		http.NotFound(w, r)
		return
	}
	flash := "started"
	switch err := s.o.Scheduler.RunNow(name); {
	case errors.Is(err, schedule.ErrBusy):
		flash = "busy"
	case errors.Is(err, schedule.ErrNotRunning):
		flash = "stopped"
	case err != nil:
		http.NotFound(w, r) // removed by a reload meanwhile
		return
	}
	s.o.Logger.Info("run now asked for over HTTP", "job", name, "remote", r.RemoteAddr, "result", flash)
	http.Redirect(w, r, "/jobs/"+url.PathEscape(name)+"?flash="+flash, http.StatusSeeOther)
}

// reloadTimeout bounds a reload asked for over HTTP.
const reloadTimeout = 30 * time.Second

// reload reloads the configuration and sends the browser back to the
// index, saying how it went.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), reloadTimeout)
	defer cancel()
	err := s.o.Scheduler.ReloadNow(ctx)
	s.o.Logger.Info("reload asked for over HTTP", "remote", r.RemoteAddr, "error", err)
	flash := "reloaded"
	if err != nil {
		flash = "reloadfail"
		s.mu.Lock()
		s.reloadErr = err.Error()
		s.mu.Unlock()
	}
	http.Redirect(w, r, "/?flash="+flash, http.StatusSeeOther)
}

// file serves a file of a job's runs, from output_dir: only one that a
// manifest of the job names, opened within output_dir (os.Root), as a
// download.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	cfg := s.o.Scheduler.Config()
	job, err := cfg.Job(r.PathValue("job"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	rel := r.PathValue("path")
	dir, err := output.OpenDir(cfg.OutputPath())
	if err != nil {
		http.Error(w, "output folder unreadable", http.StatusInternalServerError)
		return
	}
	defer dir.Close()
	paths, err := manifestPaths(dir, job.Name)
	if err != nil {
		http.Error(w, "manifests unreadable", http.StatusInternalServerError)
		return
	}
	if !paths[rel] {
		http.NotFound(w, r)
		return
	}
	f, err := dir.Root().Open(filepath.FromSlash(rel))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(path.Base(rel)))
	http.ServeContent(w, r, path.Base(rel), st.ModTime(), f)
}

// checkForm lets a POST through only with the process's form token, and
// only from a page of this server (http.CrossOriginProtection: the
// browser's Sec-Fetch-Site or Origin).
func (s *Server) checkForm(next http.HandlerFunc) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		if err := r.ParseForm(); err != nil || equal(r.PostForm.Get("csrf"), s.csrf) != 1 {
			http.Error(w, "the form is out of date or not this server's: reload the page and try again", http.StatusForbidden)
			return
		}
		next(w, r)
	}))
}

// newToken returns a random form token.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func rows(v RunView) int64 {
	var n int64
	for _, d := range v.Datasets {
		n += d.Rows
	}
	return n
}

// fileURL is the link that downloads a job's file at path (relative to
// output_dir, / separated).
func fileURL(job, p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return "/files/" + url.PathEscape(job) + "/" + strings.Join(parts, "/")
}

func fmtTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(cmp.Or(loc, time.UTC)).Format("2006-01-02 15:04:05 MST")
}

func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func fmtSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
