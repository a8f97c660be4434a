package deliverytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"testing"

	"github.com/joinery/joinery/delivery"
)

// Fake is a kind of destination for tests of what drives destinations
// (the engine, the CLI): it reads every file of each report it is given
// (checked, through File.Open) and records the delivery, in memory and,
// with Log set, as a line appended to that file, which outlives a
// crashed process. Fail, when set, decides the error of each attempt
// before anything is read (nil: success). KindName is the kind it stands
// for, whose settings a Spec for it sets (default "s3": a Spec with
// S3: &delivery.S3{}).
type Fake struct {
	KindName string
	Log      string
	Fail     func(attempt int, r *delivery.Report) error
	// Block, when set, makes Deliver wait until its context ends (a
	// server that does not answer).
	Block bool

	mu        sync.Mutex
	attempts  int
	delivered []*delivery.Report
	files     map[string][]byte // by Rel, the content last delivered
}

// Files returns the content of each file delivered, the last delivery's,
// by File.Rel: a ReadBack for Conformance.
func (f *Fake) Files(testing.TB, *delivery.Report) map[string][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.files)
}

// Name is the kind's name.
func (f *Fake) Name() string {
	if f.KindName == "" {
		return "s3"
	}
	return f.KindName
}

// New returns a destination that delivers into f.
func (f *Fake) New(spec delivery.Spec, env delivery.Env) (delivery.Destination, error) {
	return fakeDest{f, spec.Name}, nil
}

// Delivered returns the reports delivered so far.
func (f *Fake) Delivered() []*delivery.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*delivery.Report(nil), f.delivered...)
}

// Attempts returns how many attempts were made.
func (f *Fake) Attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

type fakeDest struct {
	f    *Fake
	name string
}

func (d fakeDest) Deliver(ctx context.Context, r *delivery.Report) (delivery.Receipt, error) {
	f := d.f
	f.mu.Lock()
	f.attempts++
	n := f.attempts
	f.mu.Unlock()
	if f.Block {
		<-ctx.Done()
		return delivery.Receipt{}, ctx.Err()
	}
	if f.Fail != nil {
		if err := f.Fail(n, r); err != nil {
			return delivery.Receipt{}, err
		}
	}
	var rc delivery.Receipt
	for _, file := range r.Files {
		rd, err := file.Open()
		if err != nil {
			return delivery.Receipt{}, err
		}
		body, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return delivery.Receipt{}, err
		}
		f.mu.Lock()
		if f.files == nil {
			f.files = make(map[string][]byte)
		}
		f.files[file.Rel] = body
		f.mu.Unlock()
		rc.Items = append(rc.Items, file.Rel)
	}
	rc.ID = fmt.Sprintf("fake-%d", n)
	if f.Log != "" {
		lf, err := os.OpenFile(f.Log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return delivery.Receipt{}, err
		}
		_, err = fmt.Fprintf(lf, "%s %s %s\n", d.name, r.RunID, r.Event)
		if err = errors.Join(err, lf.Sync(), lf.Close()); err != nil {
			return delivery.Receipt{}, err
		}
	}
	f.mu.Lock()
	f.delivered = append(f.delivered, r)
	f.mu.Unlock()
	return rc, nil
}

func (d fakeDest) Check(ctx context.Context) error { return nil }
