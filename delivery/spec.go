package delivery

import "time"

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
	On []string `yaml:"on,omitempty"`
	// Retries is how many more attempts a failed delivery gets (default
	// 5), waiting Backoff (default 30s) doubled after each, up to 10
	// minutes, jittered. Timeout bounds each attempt (default 10m).
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
