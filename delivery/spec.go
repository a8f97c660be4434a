package delivery

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/joinery/joinery/config"
)

// Spec is one entry of a job's deliver list in config.yaml: a named
// destination, the outputs it carries, when it is used, how it retries,
// and the settings of exactly one kind of destination.
//
//	deliver:
//	  - name: finance-mail
//	    outputs: [workbook]          # the job's outputs by name; default all
//	    email: {to: [finance@example.com], subject: "Posts {{.Logical.Format \"2006-01-02\"}}"}
//	  - name: alerts
//	    on: [failure, skipped]
//	    webhook: {url: "${SLACK_WEBHOOK_URL}", style: slack}
//
// Credentials are written as ${VAR} references in fields tagged secret,
// read from the environment when used, never logged.
type Spec struct {
	// Name names the destination in logs, the ledger and deliver --to;
	// unique within the job.
	Name string `yaml:"name"`
	// Outputs are the names of the job's outputs whose files it carries;
	// empty means every output.
	Outputs []string `yaml:"outputs,omitempty"`
	// On are the events it is used for: success (a committed run; the
	// default of destinations that carry files), failure (a run that gave
	// up), warning (a committed run with warnings or expect rules that did
	// not hold), skipped (another run held the job's lock), missed (the
	// scheduler dropped scheduled times). Notifications default to
	// success and failure.
	On []Event `yaml:"on,omitempty"`
	// Retries is how many more attempts a failed delivery gets (default
	// 5), waiting Backoff (default 30s) doubled after each, up to 10
	// minutes, jittered. Timeout bounds each attempt (default 10m; 30s
	// for a webhook).
	Retries *int          `yaml:"retries,omitempty"`
	Backoff time.Duration `yaml:"backoff,omitempty"`
	Timeout time.Duration `yaml:"timeout,omitempty"`

	// The kind: exactly one is set.
	Email   *Email   `yaml:"email,omitempty"`
	S3      *S3      `yaml:"s3,omitempty"`
	SFTP    *SFTP    `yaml:"sftp,omitempty"`
	Webhook *Webhook `yaml:"webhook,omitempty"`
}

// kindSettings are the settings of one kind of destination.
type kindSettings interface {
	// validate returns the problems of the settings, each made with
	// config.Problem with a path relative to the settings ("to[0]").
	validate() []error
}

// Event is what happened to a run that a destination may be used for.
type Event string

// The events; see Spec.On.
const (
	EventSuccess Event = "success" // a committed run
	EventWarning Event = "warning" // a committed run with warnings
	EventFailure Event = "failure" // a run that failed for good
	EventSkipped Event = "skipped" // a run not made: another run held the job's lock
	EventMissed  Event = "missed"  // scheduled times the scheduler dropped
)

// Events are every event, in the order the documentation lists them.
var Events = []Event{EventSuccess, EventWarning, EventFailure, EventSkipped, EventMissed}

// Committed reports whether e is about a run that committed reports:
// success or warning. Only those carry files and have a ledger.
func (e Event) Committed() bool { return e == EventSuccess || e == EventWarning }

// Defaults of a Spec; see Spec.
const (
	DefaultRetries        = 5
	DefaultBackoff        = 30 * time.Second
	MaxBackoff            = 10 * time.Minute
	DefaultTimeout        = 10 * time.Minute
	DefaultWebhookTimeout = 30 * time.Second
	maxRetries            = 100
)

// namePattern is what a destination's name may be: it names files of the
// ledger's records and is typed on the command line.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Kind returns the name of the kind of destination s has ("email", "s3",
// "sftp", "webhook"); "" when none is set.
func (s *Spec) Kind() string {
	kinds := s.kinds()
	if len(kinds) == 0 {
		return ""
	}
	return kinds[0].name
}

type setKind struct {
	name     string
	settings kindSettings
}

// kinds returns the kinds set in s, in the order of Spec's fields.
func (s *Spec) kinds() []setKind {
	var out []setKind
	if s.Email != nil {
		out = append(out, setKind{"email", s.Email})
	}
	if s.S3 != nil {
		out = append(out, setKind{"s3", s.S3})
	}
	if s.SFTP != nil {
		out = append(out, setKind{"sftp", s.SFTP})
	}
	if s.Webhook != nil {
		out = append(out, setKind{"webhook", s.Webhook})
	}
	return out
}

// kindNames lists the kinds a Spec may have, for messages.
const kindNames = "email, s3, sftp or webhook"

// Validate checks s, one entry of a job's deliver list, and fills in its
// defaults (On, Retries, Backoff, Timeout). outputs are the names of the
// job's outputs. Each problem is made with config.Problem or
// config.Required, its path relative to the entry ("on[1]",
// "webhook.url"). That names are unique within the job is the caller's
// to check (see Duplicates).
func (s *Spec) Validate(outputs []string) []error {
	var errs []error
	problem := func(path string, value any, format string, args ...any) {
		errs = append(errs, config.Problem(path, value, fmt.Sprintf(format, args...)))
	}
	switch {
	case s.Name == "":
		errs = append(errs, config.Required("name", "a destination needs a name (it names it in logs, the ledger and joinery deliver --to)"))
	case !namePattern.MatchString(s.Name):
		problem("name", s.Name, "use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)")
	}
	kinds := s.kinds()
	switch len(kinds) {
	case 0:
		errs = append(errs, config.Required("", "a destination needs one of "+kindNames))
	case 1:
		for _, e := range config.Prefix(kinds[0].name, kinds[0].settings.validate()) {
			errs = append(errs, e)
		}
		for _, e := range config.Prefix(kinds[0].name, literalSecrets(kinds[0].settings)) {
			errs = append(errs, e)
		}
	default:
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = k.name
		}
		errs = append(errs, config.Problem("", nil, fmt.Sprintf("a destination has exactly one of %s, not %s: give each its own entry", kindNames, strings.Join(names, " and "))))
	}
	for i, o := range s.Outputs {
		switch {
		case !slices.Contains(outputs, o):
			problem(fmt.Sprintf("outputs[%d]", i), o, "the job has no output of that name (its outputs: %s)", strings.Join(outputs, ", "))
		case slices.Index(s.Outputs, o) < i:
			problem(fmt.Sprintf("outputs[%d]", i), o, "listed twice")
		}
	}
	if len(s.On) == 0 {
		s.On = []Event{EventSuccess}
		if s.Webhook != nil {
			s.On = []Event{EventSuccess, EventFailure}
		}
	}
	for i, e := range s.On {
		switch {
		case !slices.Contains(Events, e):
			problem(fmt.Sprintf("on[%d]", i), e, "want success, warning, failure, skipped or missed")
		case slices.Index(s.On, e) < i:
			problem(fmt.Sprintf("on[%d]", i), e, "listed twice")
		}
	}
	if s.Retries == nil {
		n := DefaultRetries
		s.Retries = &n
	} else if *s.Retries < 0 || *s.Retries > maxRetries {
		problem("retries", *s.Retries, "want 0 to %d", maxRetries)
	}
	switch {
	case s.Backoff == 0:
		s.Backoff = DefaultBackoff
	case s.Backoff < 0 || s.Backoff > MaxBackoff:
		problem("backoff", s.Backoff, "want a duration up to %s, such as 30s", MaxBackoff)
	}
	switch {
	case s.Timeout == 0 && s.Webhook != nil:
		s.Timeout = DefaultWebhookTimeout
	case s.Timeout == 0:
		s.Timeout = DefaultTimeout
	case s.Timeout < time.Second || s.Timeout > 24*time.Hour:
		problem("timeout", s.Timeout, "want 1s to 24h: the longest one attempt may take")
	}
	return errs
}

// Uses reports whether s is used for event e.
func (s *Spec) Uses(e Event) bool { return slices.Contains(s.On, e) }

// Duplicates returns the problem of each entry of specs, by index, whose
// name an earlier entry has; its path is "name", relative to the entry.
func Duplicates(specs []Spec) map[int]error {
	out := make(map[int]error)
	seen := make(map[string]int)
	for i, s := range specs {
		if s.Name == "" {
			continue
		}
		if first, dup := seen[s.Name]; dup {
			out[i] = config.Problem("name", s.Name, fmt.Sprintf("duplicate destination name (also deliver[%d])", first))
			continue
		}
		seen[s.Name] = i
	}
	return out
}
