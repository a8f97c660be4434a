package delivery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/joinery/joinery/output"
)

// Engine delivers the reports of runs to their destinations: each
// destination on its own goroutine, with its own retries, the state of a
// committed run's delivery recorded in its Ledger before and after every
// attempt. An Engine is safe for concurrent use.
type Engine struct {
	Kinds *Registry
	Log   *slog.Logger
	// Now is the clock of the ledger's timestamps; nil: time.Now.
	Now func() time.Time
	// Sleep waits d between attempts, or returns ctx's error when it ends
	// first; nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Random is the source of the backoff's jitter, in [0, 1); nil:
	// math/rand.
	Random func() float64
	// KeepLedgers is how many ledgers of each job are kept (the newest;
	// pending ones always); 0: DefaultKeepLedgers.
	KeepLedgers int

	// Hook, when set, is called after each attempt's Deliver returned and
	// before the ledger records its outcome, with the step "delivered"
	// and the destination's name. An error stops that destination there,
	// recording nothing, as a crash would. Tests use it.
	Hook func(step, name string) error
}

// DefaultKeepLedgers is how many ledgers of each job an Engine keeps.
const DefaultKeepLedgers = 200

// Delivery is the delivery of one committed run.
type Delivery struct {
	Dir    *output.Dir
	Specs  []Spec  // the job's deliver list, validated
	Report *Report // the run; its Event is success or warning
	// Only, when set, limits the delivery to the destinations it names.
	Only []string
	// Again are destinations delivered even when the ledger says they
	// were sent already (joinery deliver --to NAME).
	Again []string
	// Pending delivers only the destinations the ledger has pending
	// (resuming after a crash or a stop).
	Pending bool
}

// Outcome is what a delivery did with one destination.
type Outcome struct {
	Name    string
	State   State  // Sent or Failed; Pending when stopped
	Skipped string // why the destination was left alone ("sent already")
	Err     error  // secrets redacted
	Receipt *Receipt
}

// Deliver delivers the committed run d.Report to each of d.Specs that is
// used for its events (success, and warning when it has warnings) and
// not sent already, recording every attempt in the run's ledger. It
// returns what happened to each destination, and an error naming those
// that failed or are still pending. Another delivery of the same run
// under way (in this process or another) makes it fail at once.
func (e *Engine) Deliver(ctx context.Context, d Delivery) ([]Outcome, error) {
	r := d.Report
	unlock, ok, err := d.Dir.LockState(lockName(r.Job, r.RunID), false)
	if err != nil {
		return nil, fmt.Errorf("deliver: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("deliver: a delivery of run %s of %s is under way already", r.RunID, r.Job)
	}
	defer unlock()

	l, err := ReadLedger(d.Dir, r.Job, r.RunID)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l = &Ledger{Job: r.Job, RunID: r.RunID, Created: e.now(), Report: r}
	case err != nil:
		return nil, fmt.Errorf("deliver: %w", err)
	}
	warned := len(r.Warnings) > 0
	var (
		outcomes []Outcome
		work     []int // indexes in d.Specs
	)
	for i := range d.Specs {
		s := &d.Specs[i]
		if len(d.Only) > 0 && !slices.Contains(d.Only, s.Name) {
			continue
		}
		if !s.Uses(EventSuccess) && !(warned && s.Uses(EventWarning)) {
			if len(d.Only) > 0 {
				outcomes = append(outcomes, Outcome{Name: s.Name, Skipped: "not used for committed runs (on: " + joinEvents(s.On) + ")"})
			}
			continue
		}
		ent := l.entry(s.Name)
		switch {
		case ent != nil && ent.State == Sent && !slices.Contains(d.Again, s.Name):
			outcomes = append(outcomes, Outcome{Name: s.Name, State: Sent, Skipped: "sent already, " + ent.SentAt.Format(time.RFC3339), Receipt: ent.Receipt})
			continue
		case d.Pending && (ent == nil || ent.State != Pending):
			continue
		}
		work = append(work, i)
	}
	if len(work) == 0 {
		return outcomes, nil
	}
	// Files are checked once, before any destination that carries them
	// sends anything: a file that changed is not the run's.
	var fileErr error
	for _, i := range work {
		if d.Specs[i].Webhook == nil {
			fileErr = r.CheckFiles()
			break
		}
	}

	var mu sync.Mutex // guards l and its file
	save := func() error {
		mu.Lock()
		defer mu.Unlock()
		return writeLedger(d.Dir, l)
	}
	update := func(name string, f func(*LedgerEntry)) error {
		mu.Lock()
		defer mu.Unlock()
		f(l.entry(name))
		return writeLedger(d.Dir, l)
	}
	// Every destination of the delivery is in the ledger, pending, before
	// the first attempt of any: a crash from now on leaves each resumable.
	now := e.now()
	for _, i := range work {
		s := &d.Specs[i]
		ev := EventSuccess
		if warned && s.Uses(EventWarning) {
			ev = EventWarning
		}
		if ent := l.entry(s.Name); ent != nil {
			ent.State, ent.Event, ent.Updated = Pending, ev, now
		} else {
			l.Destinations = append(l.Destinations, LedgerEntry{Name: s.Name, Kind: s.Kind(), Event: ev, State: Pending, Started: now, Updated: now})
		}
	}
	if err := save(); err != nil {
		return outcomes, fmt.Errorf("deliver: ledger: %w", err)
	}

	results := make([]Outcome, len(work))
	var wg sync.WaitGroup
	for k, i := range work {
		s := d.Specs[i]
		rep := e.reportFor(r, &s, l.entry(s.Name).Event, d.Dir)
		wg.Go(func() {
			results[k] = e.deliverOne(ctx, s, rep, fileErr, update)
		})
	}
	wg.Wait()
	outcomes = append(outcomes, results...)
	e.prune(d.Dir, r.Job)
	return outcomes, outcomesErr(outcomes)
}

// deliverOne makes the attempts of one destination, each recorded in the
// ledger through update before it is made and after.
func (e *Engine) deliverOne(ctx context.Context, s Spec, rep *Report, fileErr error, update func(string, func(*LedgerEntry)) error) Outcome {
	secrets := s.Secrets()
	log := e.log().With("destination", s.Name, "kind", s.Kind(), "job", rep.Job, "run_id", rep.RunID)
	out := Outcome{Name: s.Name, State: Failed}
	fail := func(err error) Outcome {
		msg := Redact(err.Error(), secrets)
		out.Err = errors.New(msg)
		if uerr := update(s.Name, func(ent *LedgerEntry) {
			ent.State, ent.LastError, ent.Updated = Failed, msg, e.now()
		}); uerr != nil {
			out.Err = fmt.Errorf("%s (and the ledger: %w)", msg, uerr)
		}
		log.Error("delivery failed", "error", msg)
		return out
	}
	if fileErr != nil && s.Webhook == nil {
		return fail(fileErr)
	}
	dest, err := e.Kinds.New(s, Env{Log: log, Now: e.Now})
	if err != nil {
		return fail(err)
	}
	for n := 1; ; n++ {
		if err := update(s.Name, func(ent *LedgerEntry) {
			ent.State, ent.Attempts, ent.Updated = Pending, ent.Attempts+1, e.now()
		}); err != nil {
			out.State, out.Err = Pending, fmt.Errorf("ledger: %w", err)
			return out
		}
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, s.Timeout)
		rc, err := dest.Deliver(actx, rep)
		timedOut := actx.Err() != nil && ctx.Err() == nil
		cancel()
		if e.Hook != nil {
			if herr := e.Hook("delivered", s.Name); herr != nil {
				out.State, out.Err = Pending, herr
				return out
			}
		}
		if err == nil {
			rc.ID, rc.Items = Redact(rc.ID, secrets), redactAll(rc.Items, secrets)
			if uerr := update(s.Name, func(ent *LedgerEntry) {
				ent.State, ent.LastError, ent.Receipt, ent.SentAt, ent.Updated = Sent, "", &rc, e.now(), e.now()
			}); uerr != nil {
				// Sent, but not recorded: it will be sent again.
				out.State, out.Err = Pending, fmt.Errorf("sent, but the ledger could not record it (it will be sent again): %w", uerr)
				return out
			}
			log.Info("delivered", "attempt", n, "receipt", rc.ID, "duration", time.Since(start).Round(time.Millisecond))
			out.State, out.Receipt = Sent, &rc
			return out
		}
		if timedOut {
			err = fmt.Errorf("attempt timed out after %s: %w", s.Timeout, err)
		}
		msg := Redact(err.Error(), secrets)
		switch {
		case ctx.Err() != nil:
			// Stopped: the entry stays pending, for the next resume.
			_ = update(s.Name, func(ent *LedgerEntry) { ent.LastError, ent.Updated = msg, e.now() })
			out.State, out.Err = Pending, fmt.Errorf("stopped (%v), pending: %s", context.Cause(ctx), msg)
			log.Warn("delivery stopped: it resumes later", "error", msg)
			return out
		case IsPermanent(err):
			return fail(fmt.Errorf("%s (not retried: permanent)", msg))
		case n > *s.Retries:
			return fail(fmt.Errorf("gave up after %d attempts: %s", n, msg))
		}
		wait := backoff(s.Backoff, MaxBackoff, n, e.random)
		_ = update(s.Name, func(ent *LedgerEntry) { ent.LastError, ent.Updated = msg, e.now() })
		log.Warn("delivery failed, retrying", "attempt", n, "error", msg, "retry_in", wait)
		if err := e.sleep(ctx, wait); err != nil {
			out.State, out.Err = Pending, fmt.Errorf("stopped (%v), pending: %s", context.Cause(ctx), msg)
			return out
		}
	}
}

// reportFor returns r as the destination s sees it: the event it is
// used for, and only the files of the outputs it carries, with paths
// under dir (output_dir may have moved since the ledger was written).
func (e *Engine) reportFor(r *Report, s *Spec, ev Event, dir *output.Dir) *Report {
	rep := *r
	rep.Event = ev
	rep.Dir = dir.Path()
	rep.Files = nil
	for _, f := range r.Files {
		if len(s.Outputs) > 0 && !slices.Contains(s.Outputs, f.Output) {
			continue
		}
		f.Path = dir.Abs(filepath.FromSlash(f.Rel))
		rep.Files = append(rep.Files, f)
	}
	return &rep
}

// Notify sends the notification r (a failure, a skipped run, missed
// times: nothing committed, no files, no ledger) to each of specs used
// for r.Event, retrying each as its spec says. A crash loses what was
// not sent yet.
func (e *Engine) Notify(ctx context.Context, specs []Spec, r *Report) ([]Outcome, error) {
	var outcomes []Outcome
	var mu sync.Mutex
	var wg sync.WaitGroup
	// No ledger: each update goes to an entry nobody keeps.
	noLedger := func(_ string, f func(*LedgerEntry)) error { f(&LedgerEntry{}); return nil }
	for _, s := range specs {
		if !s.Uses(r.Event) {
			continue
		}
		rep := *r
		rep.Files = nil
		wg.Go(func() {
			o := e.deliverOne(ctx, s, &rep, nil, noLedger)
			mu.Lock()
			outcomes = append(outcomes, o)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.SortFunc(outcomes, func(a, b Outcome) int { return strings.Compare(a.Name, b.Name) })
	return outcomes, outcomesErr(outcomes)
}

// Resume delivers again what the ledgers of job's runs have pending (a
// crash, a stop or a full disk cut it short), each to the destination of
// that name in specs, the job's deliver list as configured now. A run
// whose delivery is under way elsewhere is left to it.
func (e *Engine) Resume(ctx context.Context, dir *output.Dir, job string, specs []Spec) error {
	ids, err := Ledgers(dir, job)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		l, err := ReadLedger(dir, job, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pending := l.Pending()
		if len(pending) == 0 || l.Report == nil {
			continue
		}
		var names []string
		for _, name := range pending {
			if !slices.ContainsFunc(specs, func(s Spec) bool { return s.Name == name }) {
				e.log().Warn("pending delivery left alone: the job has no destination of that name any more", "job", job, "run_id", id, "destination", name)
				continue
			}
			names = append(names, name)
		}
		if len(names) == 0 {
			continue
		}
		e.log().Info("resuming a pending delivery", "job", job, "run_id", id, "destinations", names)
		if _, err := e.Deliver(ctx, Delivery{Dir: dir, Specs: specs, Report: l.Report, Only: names, Pending: true}); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// prune removes the ledgers of job past the newest KeepLedgers that have
// nothing pending, with their locks; what it cannot remove stays.
func (e *Engine) prune(dir *output.Dir, job string) {
	keep := e.KeepLedgers
	if keep <= 0 {
		keep = DefaultKeepLedgers
	}
	ids, err := Ledgers(dir, job)
	if err != nil || len(ids) <= keep {
		return
	}
	for _, id := range ids[keep:] {
		l, err := ReadLedger(dir, job, id)
		if err != nil || len(l.Pending()) > 0 {
			continue
		}
		unlock, ok, err := dir.LockState(lockName(job, id), false)
		if err != nil || !ok {
			continue
		}
		root := dir.Root()
		_ = root.Remove(filepath.Join(output.StateDir, filepath.FromSlash(ledgerName(job, id))))
		_ = root.Remove(filepath.Join(output.StateDir, filepath.FromSlash(lockName(job, id))))
		unlock()
	}
}

// outcomesErr is the error of a delivery: each destination that failed
// or is still pending.
func outcomesErr(outcomes []Outcome) error {
	var errs []error
	for _, o := range outcomes {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Name, o.Err))
		}
	}
	return errors.Join(errs...)
}

func joinEvents(es []Event) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = string(e)
	}
	return strings.Join(s, ", ")
}

func redactAll(items, secrets []string) []string {
	for i, s := range items {
		items[i] = Redact(s, secrets)
	}
	return items
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (e *Engine) random() float64 {
	if e.Random != nil {
		return e.Random()
	}
	return rand.Float64()
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// backoff returns the wait before retry n (1 for the first): base doubled
// n-1 times, at most max, with "equal jitter" (half of it fixed, half
// random), as jobs' retries wait.
func backoff(base, max time.Duration, n int, random func() float64) time.Duration {
	d := min(base, max)
	for i := 1; i < n && d < max; i++ {
		d = min(d*2, max)
	}
	half := d / 2
	return d - half + time.Duration(random()*float64(half))
}
