// Package delivery takes the reports of a committed run to where people
// read them: e-mail, object storage, SFTP, and notifications to chat and
// webhooks. It is the contract every destination meets and the shared
// pieces: the spec of a job's deliver list, the run as destinations see it
// (Report), the templates, and the error that says "do not try again".
//
// It sits below jobs, like output: jobs decodes a job's deliver list into
// []Spec and validates it through Spec.Validate, never knowing a kind of
// destination. Each kind of destination lives in a package of its own
// below delivery (delivery/smtp, delivery/s3, delivery/sftp,
// delivery/webhook), which imports this one and never the other way round;
// a Registry lists the kinds a program offers (delivery/destinations).
//
// Delivery happens after the run's commit point (a jobs.Hooks step): a
// destination that fails never deletes, rewrites or re-queries the local
// reports. docs/DELIVERY.md says what each destination delivers exactly
// once and what at least once.
package delivery

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/joinery/joinery/internal/localtime"
	"github.com/joinery/joinery/output"
)

// Destination is one configured destination, ready to deliver.
type Destination interface {
	// Deliver takes the files of r that the destination carries to it.
	// It may be called again for the same run after a failure or a crash
	// (the ledger records an attempt before it is made), so it must be
	// safe to repeat: an object store overwrites the same key, SFTP
	// renames onto the same name; an e-mail is sent again (at least once).
	// An error that another attempt cannot cure (authentication refused,
	// a bucket that does not exist, a message over the size limit with
	// the policy fail) is wrapped with Permanent.
	Deliver(ctx context.Context, r *Report) (Receipt, error)
	// Check reaches the destination without delivering anything (SMTP
	// EHLO and authentication, the bucket exists and takes writes, SFTP
	// login and the folder): validate --connect.
	Check(ctx context.Context) error
}

// Receipt is what a destination says it did, for the ledger and logs.
type Receipt struct {
	// ID identifies what was delivered: the message id of an e-mail, the
	// ETag (or version id) of the last object, the remote path of a file.
	ID string `json:"id,omitempty"`
	// Items are the delivered objects or attachments, one line each (a
	// key with its ETag, a remote path, an attachment name and size).
	Items []string `json:"items,omitempty"`
}

// Kind is one kind of destination: its name in config.yaml (the key of
// its settings in a deliver entry, such as "email") and its constructor.
type Kind interface {
	// Name is the key of the kind's settings in a deliver entry.
	Name() string
	// New makes the destination of spec, whose settings for this kind
	// are set and valid (Spec.Validate passed).
	New(spec Spec, env Env) (Destination, error)
}

// Env is what a destination gets from the program that runs it.
type Env struct {
	// Log is the run's logger; destinations log at debug level, the
	// engine logs outcomes.
	Log *slog.Logger
	// Now is the clock, for timestamps (nil: time.Now).
	Now func() time.Time
}

// Report is a committed run as destinations see it: what a template may
// name, and the files to carry. It is built from a jobs.Run after the
// commit, or from a manifest for joinery deliver.
type Report struct {
	Job     string    `json:"job"`
	RunID   string    `json:"run_id"`
	Logical time.Time `json:"logical"` // in the job's zone
	// Zone is the name of the job's zone (Logical's location): the ledger
	// keeps it, so that a resumed delivery's times are in it too.
	Zone string `json:"zone,omitempty"`
	// WindowStart and WindowEnd are the run's data window; zero when the
	// job has none.
	WindowStart time.Time      `json:"window_start,omitzero"`
	WindowEnd   time.Time      `json:"window_end,omitzero"`
	Params      []output.Param `json:"params,omitempty"`
	Datasets    []Dataset      `json:"datasets,omitempty"`
	Warnings    []string       `json:"warnings,omitempty"` // the run's warnings
	// Files are the files the destination carries (the outputs its spec
	// names), each with its absolute path; a destination reads each once
	// and checks its size and SHA-256 (the job's lock is free again, and a
	// later run may replace a file).
	Files []File `json:"files,omitempty"`
	// Manifest is the absolute path of the run's manifest; "" when the
	// run wrote no file. An object store uploads it last, as its commit
	// marker.
	Manifest string `json:"manifest,omitempty"`
	// Dir is output_dir, for destinations that name files relative to it.
	Dir string `json:"dir,omitempty"`

	// Event is what the report is about: success or warning for a
	// committed run, failure, skipped or missed for the notifications.
	Event Event `json:"event"`
	// Error is why the run failed or was skipped (failure, skipped): the
	// run's error, with "gave up after N attempts" when it was retried;
	// "" otherwise.
	Error string `json:"error,omitempty"`
	// Attempts is how many attempts the run made (0 for skipped and
	// missed).
	Attempts int `json:"attempts,omitempty"`
	// Missed are the scheduled times the scheduler dropped (missed).
	Missed []time.Time `json:"missed,omitempty"`
}

// InZone puts r's times (logical time, window, missed times, datetime
// parameters) in its Zone, when it names one this system knows: after r

// was read back from JSON, which keeps offsets but not zones.
func (r *Report) InZone() {
	if r.Zone == "" {
		return
	}
	loc, err := time.LoadLocation(r.Zone)
	if err != nil {
		return
	}
	in := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.In(loc)
	}
	r.Logical, r.WindowStart, r.WindowEnd = in(r.Logical), in(r.WindowStart), in(r.WindowEnd)
	for i := range r.Missed {
		r.Missed[i] = in(r.Missed[i])
	}
	for i, p := range r.Params {
		switch v := p.Value.(type) {
		case time.Time:
			r.Params[i].Value = in(v)
		case []any:
			for k, e := range v {
				if t, ok := e.(time.Time); ok {
					v[k] = in(t)
				}
			}
		}
	}
}

// exact returns r with its times exact (localtime.Exact): in their zone,
// or in UTC when the zone's offset has seconds, which RFC 3339 would cut
// to whole minutes; InZone puts them back in the zone. (Not a MarshalJSON
// method: the template data that embed Report would lose their fields.)
func (r *Report) exact() *Report {
	c := *r
	c.Logical, c.WindowStart, c.WindowEnd = localtime.Exact(c.Logical), localtime.Exact(c.WindowStart), localtime.Exact(c.WindowEnd)
	if len(c.Missed) > 0 {
		c.Missed = make([]time.Time, len(r.Missed))
		for i, t := range r.Missed {
			c.Missed[i] = localtime.Exact(t)
		}
	}
	return &c
}

// Dataset is one dataset of a run, for templates.
type Dataset struct {
	Name     string   `json:"name"`
	Rows     int64    `json:"rows"`
	Joins    []string `json:"joins,omitempty"` // join diagnostics, one line per diagnosed join
	Warnings []string `json:"warnings,omitempty"`
}

// File is one report file of a run.
type File struct {
	output.File        // Path is absolute
	Rel         string `json:"rel"`              // the path relative to output_dir, with / separators
	Output      string `json:"output,omitempty"` // the name of the output that wrote it
}

// ErrPermanent is wrapped by Permanent errors.
var ErrPermanent = errors.New("permanent")

// permanent is an error another attempt cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string        { return p.err.Error() }
func (p permanent) Unwrap() []error      { return []error{p.err, ErrPermanent} }
func (p permanent) Is(target error) bool { return target == ErrPermanent }

// Permanent marks err as one that another attempt cannot cure: the
// engine records the destination as failed at once instead of retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }
