package delivery

import (
	"net/url"

	"github.com/joinery/joinery/config"
)

// Webhook are the settings of a webhook destination: a notification
// posted to a Slack-compatible incoming webhook or to any HTTP endpoint
// that takes a JSON document (docs/DELIVERY.md#webhook).
//
//	webhook:
//	  url: ${SLACK_WEBHOOK_URL}
//	  style: slack                  # or json
//	  templates:
//	    failure: "{{.Job}} failed: {{.Error}}"
type Webhook struct {
	// URL is where the notification is posted (http or https). A webhook
	// URL is a credential (whoever has it may post), so it is secret:
	// write it as ${VAR}.
	URL string `yaml:"url,secret"`
	// Style is the body: "slack" ({"text": ...}, the default) or "json"
	// (the event as a JSON document, with the text in "text").
	Style string `yaml:"style,omitempty"`
	// Templates are the texts of the events, each a Template; an event
	// without one gets the built-in text (DefaultWebhookTemplates).
	Templates WebhookTemplates `yaml:"templates,omitempty"`

	parsed map[Event]*Template // by validate: every event's template
}

// WebhookTemplates are the texts of a webhook's events.
type WebhookTemplates struct {
	Success string `yaml:"success,omitempty"`
	Warning string `yaml:"warning,omitempty"`
	Failure string `yaml:"failure,omitempty"`
	Skipped string `yaml:"skipped,omitempty"`
	Missed  string `yaml:"missed,omitempty"`
}

// byEvent returns the templates by event; "" for those not set.
func (t WebhookTemplates) byEvent() map[Event]string {
	return map[Event]string{EventSuccess: t.Success, EventWarning: t.Warning, EventFailure: t.Failure, EventSkipped: t.Skipped, EventMissed: t.Missed}
}

// DefaultWebhookTemplates are the texts of the events a webhook's
// templates do not set.
var DefaultWebhookTemplates = WebhookTemplates{
	Success: `{{.Job}}: reports for {{date "2006-01-02 15:04 MST" .Logical}} are ready ({{count (rows .)}} rows){{range .Files}}
• {{.Rel}} ({{bytes .Size}}){{end}}`,
	Warning: `{{.Job}}: reports for {{date "2006-01-02 15:04 MST" .Logical}} are ready, with {{len .Warnings}} warning(s):{{range .Warnings}}
• {{.}}{{end}}`,
	Failure: `{{.Job}}: the run for {{date "2006-01-02 15:04 MST" .Logical}} failed after {{.Attempts}} attempt(s): {{.Error}}`,
	Skipped: `{{.Job}}: the run for {{date "2006-01-02 15:04 MST" .Logical}} was skipped: {{.Error}}`,
	Missed:  `{{.Job}}: {{len .Missed}} scheduled run(s) missed, the last for {{date "2006-01-02 15:04 MST" .Logical}}: {{.Error}}`,
}

func (s *Webhook) validate() []error {
	var errs []error
	switch {
	case s.URL == "":
		errs = append(errs, config.Required("url", "a webhook needs a url (write it as ${VAR}: whoever has it may post)"))
	default:
		// The decoder checked the variables are set; the value itself is
		// never quoted.
		if u, err := config.ExpandEnv(s.URL); err == nil {
			if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				errs = append(errs, config.Problem("url", nil, "want an http or https URL"))
			}
		}
	}
	switch s.Style {
	case "":
		s.Style = "slack"
	case "slack", "json":
	default:
		errs = append(errs, config.Problem("style", s.Style, "want slack ({\"text\": ...}) or json (the event as a JSON document)"))
	}
	s.parsed = make(map[Event]*Template)
	defaults := DefaultWebhookTemplates.byEvent()
	texts := s.Templates.byEvent()
	for _, e := range Events {
		text := texts[e]
		if text == "" {
			s.parsed[e] = MustParseTemplate(string(e), defaults[e])
			continue
		}
		t, err := ParseTemplate(string(e), text)
		if err != nil {
			errs = append(errs, config.Problem("templates."+string(e), text, err.Error()))
			continue
		}
		s.parsed[e] = t
	}
	return errs
}

// Template returns the template of event e; validate must have run.
func (s *Webhook) Template(e Event) *Template {
	if t := s.parsed[e]; t != nil {
		return t
	}
	return MustParseTemplate(string(e), DefaultWebhookTemplates.byEvent()[e])
}
