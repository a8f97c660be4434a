// Package webhook is the webhook destination of deliveries: a
// notification about a run posted to a Slack-compatible incoming webhook
// ({"text": ...}) or, with style json, to any HTTP endpoint as a JSON
// document (see Document). It carries no files: it says what happened
// and where the reports are. See docs/DELIVERY.md#webhook.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/delivery"
)

// Kind is the webhook kind of destination. Client, when set, posts the
// notifications (tests); nil: an http.Client of its own, which follows no
// redirect (a redirect would repeat a POST elsewhere).
type Kind struct {
	Client *http.Client
}

// Name is the key of the kind's settings in a deliver entry.
func (Kind) Name() string { return "webhook" }

// New returns the destination of spec, whose webhook settings are valid.
func (k Kind) New(spec delivery.Spec, env delivery.Env) (delivery.Destination, error) {
	if spec.Webhook == nil {
		return nil, fmt.Errorf("destination %s: no webhook settings", spec.Name)
	}
	c := k.Client
	if c == nil {
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &dest{spec: spec.Webhook, client: c}, nil
}

type dest struct {
	spec   *delivery.Webhook
	client *http.Client
}

// Document is the body of a json-style webhook: the event, the run, and
// the text its template made.
type Document struct {
	Event       delivery.Event `json:"event"`
	Job         string         `json:"job"`
	RunID       string         `json:"run_id,omitempty"`
	LogicalTime time.Time      `json:"logical_time"`
	Window      *Window        `json:"window,omitempty"`
	Params      []Param        `json:"params,omitempty"`
	Datasets    []Dataset      `json:"datasets,omitempty"`
	Warnings    []string       `json:"warnings,omitempty"`
	Files       []File         `json:"files,omitempty"`
	Error       string         `json:"error,omitempty"`
	Attempts    int            `json:"attempts,omitempty"`
	Missed      []time.Time    `json:"missed,omitempty"`
	Text        string         `json:"text"`
}

// Window is a run's data window, [From, To).
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Param is one of a run's parameters.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Dataset is one dataset of a run.
type Dataset struct {
	Name     string   `json:"name"`
	Rows     int64    `json:"rows"`
	Joins    []string `json:"joins,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// File is one report file of a run.
type File struct {
	Path   string `json:"path"` // relative to output_dir
	Output string `json:"output,omitempty"`
	Format string `json:"format"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows"`
}

// document describes r, with text, for a json-style webhook.
func document(r *delivery.Report, text string) Document {
	d := Document{Event: r.Event, Job: r.Job, RunID: r.RunID, LogicalTime: r.Logical, Warnings: r.Warnings,
		Error: r.Error, Attempts: r.Attempts, Missed: r.Missed, Text: text}
	if !r.WindowStart.IsZero() {
		d.Window = &Window{From: r.WindowStart, To: r.WindowEnd}
	}
	for _, p := range r.Params {
		d.Params = append(d.Params, Param{Name: p.Name, Value: fmt.Sprint(p.Value)})
	}
	for _, ds := range r.Datasets {
		d.Datasets = append(d.Datasets, Dataset{Name: ds.Name, Rows: ds.Rows, Joins: ds.Joins, Warnings: ds.Warnings})
	}
	for _, f := range r.Files {
		d.Files = append(d.Files, File{Path: f.Rel, Output: f.Output, Format: f.Format, Size: f.Size, SHA256: f.SHA256, Rows: f.Rows})
	}
	return d
}

// body returns the request body for r.
func (d *dest) body(r *delivery.Report) ([]byte, error) {
	text, err := d.spec.Template(r.Event).Execute(r)
	if err != nil {
		return nil, delivery.Permanent(err)
	}
	if d.spec.Style == "json" {
		return json.Marshal(document(r, text))
	}
	return json.Marshal(struct {
		Text string `json:"text"`
	}{text})
}

// Deliver posts the notification of r. A 2xx answer is success; 429 and
// 5xx, and errors of the network, may pass (retried); any other answer
// is permanent (a 404 webhook was deleted, a 403 token revoked).
func (d *dest) Deliver(ctx context.Context, r *delivery.Report) (delivery.Receipt, error) {
	u, err := config.ExpandEnv(d.spec.URL)
	if err != nil {
		return delivery.Receipt{}, delivery.Permanent(fmt.Errorf("url: %w", err))
	}
	body, err := d.body(r)
	if err != nil {
		return delivery.Receipt{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return delivery.Receipt{}, delivery.Permanent(errors.New("url: not a valid URL"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "joinery")
	resp, err := d.client.Do(req)
	if err != nil {
		return delivery.Receipt{}, fmt.Errorf("post: %w", stripURL(err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return delivery.Receipt{ID: resp.Status}, nil
	}
	err = fmt.Errorf("post: the server answered %s: %q", resp.Status, bytes.TrimSpace(answer))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return delivery.Receipt{}, err
	}
	return delivery.Receipt{}, delivery.Permanent(err)
}

// Check connects to the webhook's host (and makes the TLS handshake for
// https) without posting anything.
func (d *dest) Check(ctx context.Context) error {
	raw, err := config.ExpandEnv(d.spec.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("url: not a valid URL")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	var conn net.Conn
	if u.Scheme == "https" {
		conn, err = (&tls.Dialer{Config: &tls.Config{ServerName: u.Hostname()}}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	return conn.Close()
}

// stripURL drops the URL (a credential) a *url.Error quotes.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
