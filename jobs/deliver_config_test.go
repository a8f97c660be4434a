package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/delivery"
)

// deliverJob is a valid job with two csv outputs and an xlsx one, and
// the deliver list given.
func deliverJob(deliver string) string {
	return strings.Replace("jobs:\n"+jobYAML("a", "@daily"), `      - {format: xlsx, path: "{job}.xlsx"}`,
		`      - {format: xlsx, path: "{job}.xlsx"}
      - {format: csv, path: "{job}-1.csv"}
      - {format: csv, path: "{job}-2.csv", name: second}
    deliver:
`+deliver, 1)
}

func TestDeliverConfig(t *testing.T) {
	t.Setenv("JOINERY_TEST_HOOK", "https://hooks.example.com/services/T0/B0/sekrit-token")
	cfg, err := Parse("c.yaml", []byte(deliverJob(`      - {name: alerts, outputs: [xlsx, csv-1], webhook: {url: "${JOINERY_TEST_HOOK}"}}
`)))
	if err != nil {
		t.Fatal(err)
	}
	j := cfg.Jobs[0]
	var names []string
	for _, o := range j.Outputs {
		names = append(names, o.Name)
	}
	if got, want := strings.Join(names, " "), "xlsx csv-1 second"; got != want {
		t.Errorf("output names %q, want %q", got, want)
	}
	d := j.Deliver[0]
	if d.Kind() != "webhook" || *d.Retries != delivery.DefaultRetries || d.Backoff != delivery.DefaultBackoff || d.Timeout != 30*time.Second {
		t.Errorf("defaults: kind %s retries %d backoff %s timeout %s", d.Kind(), *d.Retries, d.Backoff, d.Timeout)
	}
	if got := d.On; len(got) != 2 || got[0] != delivery.EventSuccess || got[1] != delivery.EventFailure {
		t.Errorf("on = %v, want [success failure]", got)
	}
	if d.Webhook.URL != "${JOINERY_TEST_HOOK}" || d.Webhook.Style != "slack" {
		t.Errorf("webhook %+v: want the reference kept, style slack", d.Webhook)
	}
}

func TestDeliverConfigProblems(t *testing.T) {
	t.Setenv("JOINERY_TEST_HOOK", "https://hooks.example.com/services/T0/B0/sekrit-token")
	t.Setenv("JOINERY_TEST_NOTURL", "ftp:sekrit-token")
	hook := `webhook: {url: "${JOINERY_TEST_HOOK}"}`
	tests := []struct {
		name, deliver string
		want          [][]string
	}{
		{"no name", "      - {" + hook + "}\n", [][]string{{"jobs[0].deliver[0].name", "needs a name"}}},
		{"bad name", "      - {name: a/b, " + hook + "}\n", [][]string{{"jobs[0].deliver[0].name", `"a/b"`}}},
		{"duplicate", "      - {name: x, " + hook + "}\n      - {name: x, " + hook + "}\n", [][]string{{"jobs[0].deliver[1].name", "duplicate destination name (also deliver[0])"}}},
		{"no kind", "      - {name: x}\n", [][]string{{"jobs[0].deliver[0]", "needs one of email, s3, sftp or webhook"}}},
		{"two kinds", "      - {name: x, " + hook + ", s3: {}}\n", [][]string{{"jobs[0].deliver[0]", "not s3 and webhook"}}},
		{"unknown output", "      - {name: x, outputs: [pdf], " + hook + "}\n", [][]string{{"jobs[0].deliver[0].outputs[0]", `"pdf"`, "no output of that name (its outputs: xlsx, csv-1, second)"}}},
		{"bad event", "      - {name: x, on: [sucess], " + hook + "}\n", [][]string{{"jobs[0].deliver[0].on[0]", `"sucess"`, "want success"}}},
		{"retries", "      - {name: x, retries: -1, " + hook + "}\n", [][]string{{"jobs[0].deliver[0].retries", "want 0 to 100"}}},
		{"backoff", "      - {name: x, backoff: 1h, " + hook + "}\n", [][]string{{"jobs[0].deliver[0].backoff", "up to 10m0s"}}},
		{"timeout", "      - {name: x, timeout: 1ms, " + hook + "}\n", [][]string{{"jobs[0].deliver[0].timeout", "want 1s to 24h"}}},
		{"no url", "      - {name: x, webhook: {style: slack}}\n", [][]string{{"jobs[0].deliver[0].webhook.url", "needs a url"}}},
		{"unset url", "      - {name: x, webhook: {url: '${JOINERY_TEST_NOPE_HOOK}'}}\n", [][]string{{"jobs[0].deliver[0].webhook.url", "JOINERY_TEST_NOPE_HOOK is not set"}}},
		{"not http", "      - {name: x, webhook: {url: '${JOINERY_TEST_NOTURL}'}}\n", [][]string{{"jobs[0].deliver[0].webhook.url", "want an http or https URL"}}},
		{"style", "      - {name: x, webhook: {url: '${JOINERY_TEST_HOOK}', style: teams}}\n", [][]string{{"jobs[0].deliver[0].webhook.style", `"teams"`}}},
		{"template syntax", "      - {name: x, webhook: {url: '${JOINERY_TEST_HOOK}', templates: {failure: '{{.Job'}}}\n", [][]string{{"jobs[0].deliver[0].webhook.templates.failure", "template"}}},
		{"template field", "      - {name: x, webhook: {url: '${JOINERY_TEST_HOOK}', templates: {success: '{{.Jobb}}'}}}\n", [][]string{{"jobs[0].deliver[0].webhook.templates.success", "Jobb"}}},
		{"template key", "      - {name: x, webhook: {url: '${JOINERY_TEST_HOOK}', templates: {sucess: x}}}\n", [][]string{{"jobs[0].deliver[0].webhook.templates.sucess", "unknown field"}}},
		{"secret url never quoted", "      - {name: x, webhook: {url: 'https://h/services/sekrit-token', style: teams}}\n", [][]string{{"jobs[0].deliver[0].webhook.style"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(deliverJob(tt.deliver)))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			for _, want := range tt.want {
				if !anyProblem(ce.Problems, want) {
					t.Errorf("no problem contains all of %q in:\n%v", want, err)
				}
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("the error shows the webhook's token:\n%v", err)
			}
		})
	}
}

func TestOutputNameProblems(t *testing.T) {
	y := strings.Replace("jobs:\n"+jobYAML("a", "@daily"), `      - {format: xlsx, path: "{job}.xlsx"}`,
		`      - {format: xlsx, path: "{job}.xlsx", name: x}
      - {format: csv, path: "{job}.csv", name: x}
      - {format: csv, path: "{job}-2.csv", name: "a b"}`, 1)
	_, err := Parse("c.yaml", []byte(y))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	for _, want := range [][]string{{"jobs[0].outputs[1].name", "duplicate output name (also outputs[0])"}, {"jobs[0].outputs[2].name", `"a b"`}} {
		if !anyProblem(ce.Problems, want) {
			t.Errorf("no problem contains all of %q in:\n%v", want, err)
		}
	}
}

// An unset variable in a kind's settings is the one problem: the settings
// that did not decode are not also reported missing ("needs one of").
func TestUnsetSecretIsTheOnlyProblem(t *testing.T) {
	_, err := Parse("c.yaml", []byte(deliverJob("      - {name: x, webhook: {url: '${JOINERY_TEST_NOPE_HOOK}'}}\n")))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	if len(ce.Problems) != 1 || !anyProblem(ce.Problems, []string{"jobs[0].deliver[0].webhook.url", "JOINERY_TEST_NOPE_HOOK is not set"}) {
		t.Errorf("want the one problem of the unset variable, got:\n%v", err)
	}
}
