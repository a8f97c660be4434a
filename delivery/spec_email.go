package delivery

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/output"
)

// Email are the settings of an email destination: one message per run,
// sent over SMTP, with the report files attached (docs/DELIVERY.md, email).
//
//	email:
//	  host: smtp.example.com
//	  username: reports@example.com
//	  password: ${SMTP_PASSWORD}
//	  from: "Reports <reports@example.com>"
//	  to: [finance@example.com]
//	  subject: "Posts {{.Logical.Format \"2006-01-02\"}}"
//	  max_size: 20MiB
//	  over_size: zip
type Email struct {
	// Host is the SMTP server's name (also the name its certificate must
	// carry); Port defaults to 587 with starttls, 465 with tls and 25
	// with none.
	Host string `yaml:"host"`
	Port int    `yaml:"port,omitempty"`
	// TLS is starttls (the default: the session must be upgraded, a
	// server that does not offer STARTTLS is refused), tls (implicit TLS
	// from the first byte, usually port 465) or none (plain text, only to
	// a loopback host such as a local relay).
	TLS string `yaml:"tls,omitempty"`
	// CAFile is a PEM file of certificate authorities trusted for the
	// server besides the system's (a private CA, or a test server's
	// throwaway certificate). Absolute after ${VAR} expansion.
	CAFile string `yaml:"ca_file,omitempty"`

	// Username and Password authenticate the session (SCRAM, CRAM-MD5,
	// PLAIN or LOGIN, whichever the server offers, PLAIN and LOGIN only
	// over TLS or to loopback); without a username there is no AUTH.
	// Password is a ${VAR} reference, or PasswordFile names a file that
	// holds it (its trailing newline is dropped). Username may be a ${VAR}
	// reference too.
	Username     string `yaml:"username,omitempty"`
	Password     string `yaml:"password,secret,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`

	// From is the sender ("Name <addr@example.com>"); To, Cc and Bcc the
	// recipients, at least one over the three. Bcc recipients get the
	// message without a header naming them.
	From string   `yaml:"from"`
	To   []string `yaml:"to,omitempty"`
	Cc   []string `yaml:"cc,omitempty"`
	Bcc  []string `yaml:"bcc,omitempty"`

	// Subject, Body and HTML are templates (text/template; HTML is
	// html/template) over EmailData: the run (job, logical time, window,
	// parameters, datasets with rows, join diagnostics and warnings) and
	// the files attached or linked. Body is the plain text part; HTML,
	// when set, is its alternative. Defaults: DefaultEmailSubject and
	// DefaultEmailBody.
	Subject string `yaml:"subject,omitempty"`
	Body    string `yaml:"body,omitempty"`
	HTML    string `yaml:"html,omitempty"`

	// Attach attaches the files of the outputs the entry carries (the
	// default); false sends the summary alone.
	Attach *bool `yaml:"attach,omitempty"`
	// MaxSize bounds the whole message as sent (headers, body and base64
	// attachments, which weigh 4/3 of the files): "20MiB" (the default),
	// "10MB", "512KiB" or a number of bytes. OverSize says what happens to
	// a message that would be larger: zip (the default: the attachments go
	// as one zip file; still too large fails), link (no attachments; the
	// body lists a link to each file under LinkBase) or fail. Each failure
	// is permanent: never a silent drop or an empty mail.
	MaxSize  string `yaml:"max_size,omitempty"`
	OverSize string `yaml:"over_size,omitempty"`
	// LinkBase is the URL the files are published under (by an s3
	// destination, a web server over output_dir): a file's link is
	// LinkBase followed by its path relative to output_dir. It is a
	// template like Subject ("https://reports.example.com/{{.Job}}/").
	// Required by over_size: link; with attach: false, the files are
	// linked when it is set.
	LinkBase string `yaml:"link_base,omitempty"`
}

// The values of Email.TLS.
const (
	EmailStartTLS = "starttls"
	EmailTLS      = "tls"
	EmailNoTLS    = "none"
)

// The values of Email.OverSize.
const (
	EmailOverSizeZip  = "zip"
	EmailOverSizeLink = "link"
	EmailOverSizeFail = "fail"
)

// DefaultEmailMaxSize is the default of Email.MaxSize, 20 MiB: below the
// limits of the common providers (25 MB, 35 MB, 150 MB) and of Postfix's
// default message_size_limit (10240000 bytes is lower: set max_size to
// 10MB for a stock Postfix).
const DefaultEmailMaxSize = 20 << 20

// DefaultEmailSubject is the subject when Email.Subject is empty.
const DefaultEmailSubject = `{{.Job}} {{.Logical.Format "2006-01-02 15:04"}}{{if .Warnings}} ({{len .Warnings}} warnings){{end}}`

// DefaultEmailBody is the plain text body when Email.Body is empty.
const DefaultEmailBody = `Report {{.Job}} for {{.Logical.Format "2006-01-02 15:04 MST"}} (run {{.RunID}}).
{{- if not .WindowStart.IsZero}}
Window: {{.WindowStart.Format "2006-01-02 15:04"}} to {{.WindowEnd.Format "2006-01-02 15:04 MST"}}
{{- end}}
{{- range .Params}}
{{.Name}}: {{.Value}}
{{- end}}

Datasets:
{{- range .Datasets}}
  {{.Name}}: {{.Rows}} rows
{{- range .Joins}}
    {{.}}
{{- end}}
{{- range .Warnings}}
    warning: {{.}}
{{- end}}
{{- end}}
{{- if .Warnings}}

Warnings:
{{- range .Warnings}}
  {{.}}
{{- end}}
{{- end}}
{{- if .Attached}}

Attached:
{{- range .Attached}}
  {{.Name}} ({{size .Size}})
{{- end}}
{{- end}}
{{- if .Zip}}
(zipped: the files were over the size limit of this message)
{{- end}}
{{- if .Links}}

Files (over the size limit of this message, not attached):
{{- range .Links}}
  {{.URL}} ({{size .Size}})
{{- end}}
{{- end}}
`

// EmailData is what the subject, body and html templates of an email
// destination see: the run, and what the message carries.
type EmailData struct {
	*Report
	// Attached are the files attached to the message, as named in it
	// (one zip file when the files were zipped).
	Attached []EmailFile
	// Zip is the name of the zip attachment when over_size: zip zipped
	// the files; "" otherwise.
	Zip string
	// Links are the links to the files when over_size: link left them out.
	Links []EmailFile
}

// EmailFile is one attachment, or one link, of a message.
type EmailFile struct {
	Name string // the attachment's file name, or the file's path relative to output_dir
	Size int64  // bytes
	URL  string // links only
}

// EmailFuncs are the functions the email templates may call besides
// text/template's own: size (a byte count as "12.3 MiB") and join
// (strings.Join).
var EmailFuncs = map[string]any{
	"size": FormatEmailSize,
	"join": strings.Join,
}

// FormatEmailSize formats a byte count for people: 512 B, 1.5 KiB, 12.3 MiB.
func FormatEmailSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if f < 1024 {
			break
		}
		f, unit = f/1024, u
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
}

// EmailTemplates are the parsed templates of an email destination.
type EmailTemplates struct {
	Subject, Body *template.Template
	HTML          *htmltemplate.Template // nil without html
	LinkBase      *template.Template     // nil without link_base
}

// Templates parses the subject, body and html templates (the defaults
// for those not set). A field a template names that EmailData lacks is
// an error when it is executed (missingkey=error).
func (s *Email) Templates() (*EmailTemplates, error) {
	var t EmailTemplates
	var err error
	subject := s.Subject
	if subject == "" {
		subject = DefaultEmailSubject
	}
	if t.Subject, err = template.New("subject").Funcs(EmailFuncs).Option("missingkey=error").Parse(subject); err != nil {
		return nil, emailTemplateErr("subject", err)
	}
	body := s.Body
	if body == "" {
		body = DefaultEmailBody
	}
	if t.Body, err = template.New("body").Funcs(EmailFuncs).Option("missingkey=error").Parse(body); err != nil {
		return nil, emailTemplateErr("body", err)
	}
	if s.HTML != "" {
		if t.HTML, err = htmltemplate.New("html").Funcs(EmailFuncs).Option("missingkey=error").Parse(s.HTML); err != nil {
			return nil, emailTemplateErr("html", err)
		}
	}
	if s.LinkBase != "" {
		if t.LinkBase, err = template.New("link_base").Funcs(EmailFuncs).Option("missingkey=error").Parse(s.LinkBase); err != nil {
			return nil, emailTemplateErr("link_base", err)
		}
	}
	return &t, nil
}

// emailTemplateErr is a problem at path whose message is err's, without the
// template's name that text/template puts first.
func emailTemplateErr(path string, err error) *config.FieldError {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: ")
	return config.Problem(path, nil, msg)
}

// PortOrDefault returns the port to connect to: Port, or the default of the TLS mode.
func (s *Email) PortOrDefault() int {
	switch {
	case s.Port != 0:
		return s.Port
	case s.TLSMode() == EmailTLS:
		return 465
	case s.TLSMode() == EmailNoTLS:
		return 25
	}
	return 587
}

// TLSMode returns TLS, or its default starttls.
func (s *Email) TLSMode() string {
	if s.TLS == "" {
		return EmailStartTLS
	}
	return s.TLS
}

// Attaches reports whether the files are attached (Attach, default true).
func (s *Email) Attaches() bool { return s.Attach == nil || *s.Attach }

// OverSizePolicy returns OverSize, or its default zip.
func (s *Email) OverSizePolicy() string {
	if s.OverSize == "" {
		return EmailOverSizeZip
	}
	return s.OverSize
}

// MaxSizeBytes returns MaxSize in bytes, DefaultEmailMaxSize when it is empty.
func (s *Email) MaxSizeBytes() (int64, error) {
	if s.MaxSize == "" {
		return DefaultEmailMaxSize, nil
	}
	return parseEmailSize(s.MaxSize)
}

// emailSizeUnits are the units parseEmailSize accepts, by their lower-case name.
var emailSizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// parseEmailSize parses a size such as 10MB (10,000,000 bytes), 20MiB
// (20×2^20), 512KiB, 1.5GB or 1048576 (bytes). KB, MB and GB are powers of
// 1000, KiB, MiB and GiB (and K, M, G) powers of 1024. It must be
// positive.
func parseEmailSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := emailSizeUnits[unit]
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" {
		return 0, errors.New("want a size such as 10MB, 20MiB, 512KiB or a number of bytes")
	}
	n := f * float64(mult)
	if n < 1 || n > 1<<50 {
		return 0, errors.New("want a size between 1 byte and 1 PiB")
	}
	return int64(n), nil
}

// emailLoopbackHost reports whether host names the machine itself:
// localhost or a loopback address.
func emailLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (s *Email) validate() []error {
	var errs []error
	add := func(path string, value any, format string, args ...any) {
		errs = append(errs, config.Problem(path, value, fmt.Sprintf(format, args...)))
	}

	switch {
	case s.Host == "":
		errs = append(errs, config.Required("host", "required: the SMTP server's name"))
	case strings.ContainsAny(s.Host, " /:@") && net.ParseIP(strings.Trim(s.Host, "[]")) == nil:
		add("host", s.Host, "want a host name or an IP address, without a port (port: is its own setting)")
	}
	if s.Port < 0 || s.Port > 65535 {
		add("port", s.Port, "want a port from 1 to 65535")
	}
	switch s.TLSMode() {
	case EmailStartTLS, EmailTLS:
	case EmailNoTLS:
		if s.Host != "" && !emailLoopbackHost(s.Host) {
			add("tls", s.TLS, "none sends the message (and the password) in plain text: only to a loopback host such as localhost or 127.0.0.1; use starttls or tls")
		}
	default:
		add("tls", s.TLS, "want starttls, tls or none")
	}
	if s.CAFile != "" {
		if err := emailAbsPath(s.CAFile); err != nil {
			add("ca_file", s.CAFile, "%v", err)
		}
	}

	switch {
	case s.Password != "" && s.PasswordFile != "":
		add("password_file", nil, "give password or password_file, not both")
	case (s.Password != "" || s.PasswordFile != "") && s.Username == "":
		errs = append(errs, config.Required("username", "required with a password"))
	case s.Username != "" && s.Password == "" && s.PasswordFile == "":
		errs = append(errs, config.Required("password", "required with a username: a ${VAR} reference, or password_file"))
	}
	for _, ref := range config.EnvRefs(s.Username) {
		if _, ok := os.LookupEnv(ref.Name); !ok && !ref.HasDefault {
			add("username", nil, "environment variable %s is not set", ref.Name)
		}
	}
	// A password written in the file: Spec.Validate (literalSecrets).
	if s.PasswordFile != "" {
		if err := emailAbsPath(s.PasswordFile); err != nil {
			add("password_file", s.PasswordFile, "%v", err)
		}
	}

	if s.From == "" {
		errs = append(errs, config.Required("from", "required: the sender's address"))
	} else if _, err := mail.ParseAddress(s.From); err != nil {
		add("from", s.From, "not an e-mail address: %v", emailAddrErr(err))
	}
	for _, l := range []struct {
		key   string
		addrs []string
	}{{"to", s.To}, {"cc", s.Cc}, {"bcc", s.Bcc}} {
		for i, a := range l.addrs {
			if _, err := mail.ParseAddress(a); err != nil {
				add(fmt.Sprintf("%s[%d]", l.key, i), a, "not an e-mail address: %v", emailAddrErr(err))
			}
		}
	}
	if len(s.To)+len(s.Cc)+len(s.Bcc) == 0 {
		errs = append(errs, config.Required("to", "required: at least one recipient in to, cc or bcc"))
	}

	if t, err := s.Templates(); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, t.check()...)
	}

	max, err := s.MaxSizeBytes()
	if err != nil {
		add("max_size", s.MaxSize, "%v", err)
	} else if max < 4096 {
		add("max_size", s.MaxSize, "want at least 4KiB: the headers and the summary alone take about that")
	}
	switch s.OverSizePolicy() {
	case EmailOverSizeZip, EmailOverSizeFail:
	case EmailOverSizeLink:
		if s.LinkBase == "" {
			errs = append(errs, config.Required("link_base", "required by over_size: link: the URL the files are published under"))
		}
	default:
		add("over_size", s.OverSize, "want zip, link or fail")
	}
	if s.LinkBase != "" {
		if !strings.HasPrefix(s.LinkBase, "https://") && !strings.HasPrefix(s.LinkBase, "http://") && !strings.HasPrefix(s.LinkBase, "{{") {
			add("link_base", s.LinkBase, "want an http:// or https:// URL")
		}
	}
	return errs
}

// check executes the templates against a sample run, which finds the
// fields and methods they name that do not exist.
func (t *EmailTemplates) check() []error {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	data := &EmailData{
		Report: &Report{
			Job: "job", RunID: "20260102T030405Z-00000000", Logical: now,
			WindowStart: now.Add(-24 * time.Hour), WindowEnd: now,
			Params:   []output.Param{{Name: "p", Value: "v"}},
			Datasets: []Dataset{{Name: "d", Rows: 1, Joins: []string{"j"}, Warnings: []string{"w"}}},
			Warnings: []string{"w"},
			Files:    []File{{File: output.File{Path: "/r/a.csv", Format: "csv", Size: 1}, Rel: "a.csv", Output: "o"}},
			Dir:      "/r",
		},
		Attached: []EmailFile{{Name: "a.csv", Size: 1}},
		Zip:      "a.zip",
		Links:    []EmailFile{{Name: "a.csv", Size: 1, URL: "https://example.com/a.csv"}},
	}
	var errs []error
	var b bytes.Buffer
	if err := t.Subject.Execute(&b, data); err != nil {
		errs = append(errs, emailTemplateErr("subject", err))
	}
	if err := t.Body.Execute(&b, data); err != nil {
		errs = append(errs, emailTemplateErr("body", err))
	}
	if t.HTML != nil {
		if err := t.HTML.Execute(&b, data); err != nil {
			errs = append(errs, emailTemplateErr("html", err))
		}
	}
	if t.LinkBase != nil {
		if err := t.LinkBase.Execute(&b, data); err != nil {
			errs = append(errs, emailTemplateErr("link_base", err))
		}
	}
	return errs
}

// emailAbsPath checks that a file setting is an absolute path once its
// ${VAR} references are expanded (those are checked when it is used).
func emailAbsPath(p string) error {
	if len(config.EnvRefs(p)) > 0 {
		return nil
	}
	if !filepath.IsAbs(p) {
		return errors.New("want an absolute path (or one starting with a ${VAR} reference, such as ${CREDENTIALS_DIRECTORY}/smtp)")
	}
	return nil
}

// emailAddrErr is net/mail's error without its "mail: " prefix.
func emailAddrErr(err error) string { return strings.TrimPrefix(err.Error(), "mail: ") }
