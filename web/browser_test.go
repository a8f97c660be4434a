package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/joinery/joinery/internal/testdb"
	"github.com/joinery/joinery/jobs"
	"github.com/joinery/joinery/jobs/history"
	"github.com/joinery/joinery/jobs/schedule"
)

// browserConfig is the configuration of the browser test: a job that
// runs and one that fails, on the schedule given.
const browserConfig = `
database: {dsn: "%s"}
timezone: Europe/Berlin
output_dir: out
jobs:
  - name: daily
    schedule: "%s"
    datasets:
      users:
        from: users u
        joins: [{table: posts, as: p, type: left, on: "p.user_id = u.id"}]
        select: [u.id, u.name, p.title]
    outputs: [{format: csv, path: "{job}/{date}.csv"}]
  - name: broken
    schedule: "0 7 * * *"
    timezone: America/New_York
    datasets:
      gone: {from: no_such_table t, select: [t.id]}
    outputs: [{format: csv, path: "{job}/{date}.csv"}]
`

// chromium returns the path of a Chromium or Chrome, or skips the test
// without one (fails it when JOINERY_REQUIRE_BROWSER=1, as .ci/run sets).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("JOINERY_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium on PATH, and JOINERY_REQUIRE_BROWSER=1")
	}
	t.Skip("no chromium on PATH (install Debian's chromium; JOINERY_REQUIRE_BROWSER=1 makes this a failure)")
	return ""
}

// artifacts returns the folder screenshots go to: $JOINERY_TEST_ARTIFACTS/<test>
// when set (kept), else a temporary folder of the test.
func artifacts(t *testing.T) string {
	dir := t.TempDir()
	if base := os.Getenv("JOINERY_TEST_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBrowser drives the status page in a headless Chromium, as a phone
// would show it, against a scheduler running on the test database: the
// page lists the jobs; "Run now" runs a job, and the page shows the run,
// its rows and join diagnostics and its file; a failing job's run shows
// its error; after config.yaml changes, "Reload configuration" shows the
// new schedule. Screenshots of each page go to artifacts.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	db := testdb.New(t)
	testdb.SeedUsersPosts(t, db)
	dir := t.TempDir()
	path := writeFile(t, dir, "config.yaml", fmt.Sprintf(browserConfig, testdb.DSN(t), "0 6 * * *"))
	cfg := load(t, path)
	sqlDB, err := jobs.OpenDB(cfg.Database, testdb.DSN(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	rc := &history.Recorder{OutputDir: cfg.OutputPath()}
	runner := &jobs.Runner{DB: sqlDB, Config: cfg, Logger: logger}
	runner.Hooks.Result = rc.Result
	sched := &schedule.Scheduler{Runner: runner, Logger: logger, Grace: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- sched.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Error(err)
		}
	}()

	const token = "browser-test-token"
	srv, err := New(Options{
		Auth: Auth{Token: token}, Scheduler: sched, Ping: sqlDB.PingContext, Gatherer: prometheus.NewRegistry(),
		Runs: &HistoryRuns{OutputDir: rc.OutputDir}, Logger: logger, Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first call starts the browser, with a context that lives as long
	// as it: a timeout on it would stop the browser.
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	bctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelTimeout()
	if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": "Bearer " + token}}); err != nil {
		t.Fatal(err)
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			loc, _ := chromedp.Run(bctx, chromedp.Location())
			body, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("%s: %v (at %s)\n%s", what, err, loc, body)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shots := artifacts(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// waitFor reloads the job's page until a run of the outcome shows
	// with the text given (its history record is written when it ends).
	waitFor := func(job, outcome, with string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			do("open "+job+"'s page", chromedp.Navigate(hs.URL+"/jobs/"+job), chromedp.WaitVisible(css("#run-now")))
			found, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`Array.from(document.querySelectorAll('.run-view[data-outcome="`+outcome+`"]')).some(e => e.innerText.includes(`+strconv.Quote(with)+`))`))
			if err != nil {
				t.Fatal(err)
			}
			if found {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s run of %s showing %q on its page within 60 s", outcome, job, with)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}

	// A phone's screen: the viewport meta makes the page as wide as it.
	do("open the index", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2)),
		chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(css("#job-daily")))
	shot("index-before")
	page := text("main")
	for _, want := range []string{"daily", "0 6 * * *", "Europe/Berlin", "broken", "America/New_York", "no runs yet"} {
		if !strings.Contains(page, want) {
			t.Errorf("the index lacks %q:\n%s", want, page)
		}
	}

	do("run daily now", chromedp.Click(css("#job-daily button.run")), chromedp.WaitVisible(css("#flash")))
	if flash := text("#flash"); !strings.Contains(flash, "Run of daily started") {
		t.Errorf("flash after run now: %q", flash)
	}
	waitFor("daily", "succeeded", "left join p:")
	shot("job-daily")
	page = text("main")
	for _, want := range []string{"users", "left join p:", "matched", "daily/", ".csv", "csv ·"} {
		if !strings.Contains(page, want) {
			t.Errorf("daily's page lacks %q:\n%s", want, page)
		}
	}

	do("open the index", chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(css("#job-broken")))
	do("run broken now", chromedp.Click(css("#job-broken button.run")))
	do("wait for the flash", chromedp.WaitVisible(css("#flash")))
	waitFor("broken", "failed", "no_such_table")
	shot("job-broken")
	if page := text("main"); !strings.Contains(page, "no_such_table") {
		t.Errorf("broken's page lacks its error:\n%s", page)
	}

	writeFile(t, dir, "config.yaml", fmt.Sprintf(browserConfig, testdb.DSN(t), "30 7 * * 1-5"))
	do("reload", chromedp.Navigate(hs.URL+"/"), chromedp.WaitVisible(css("#reload")),
		chromedp.Click(css("#reload")), chromedp.WaitVisible(css("#flash")))
	shot("index-after-reload")
	if page := text("main"); !strings.Contains(page, "Configuration reloaded") || !strings.Contains(page, "30 7 * * 1-5") || strings.Contains(page, "0 6 * * *") {
		t.Errorf("after the reload the index shows:\n%s", page)
	}
	do("a desktop's width", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(hs.URL+"/jobs/daily"), chromedp.WaitVisible(css("#run-now")))
	shot("job-daily-desktop")
	t.Logf("screenshots in %s", shots)
}
