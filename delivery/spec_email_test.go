package delivery

import (
	"errors"
	"strings"
	"testing"

	"github.com/joinery/joinery/config"
)

func validEmail() *Email {
	return &Email{
		Host: "smtp.example.com", Username: "reports", Password: "${JOINERY_TEST_UNSET_PASSWORD:-x}",
		From: "Reports <reports@example.com>", To: []string{"a@example.com"},
	}
}

// problems returns "path: message" for each problem.
func problems(errs []error) []string {
	var out []string
	for _, err := range errs {
		var fe *config.FieldError
		if !errors.As(err, &fe) {
			out = append(out, "not a FieldError: "+err.Error())
			continue
		}
		out = append(out, fe.Path+": "+fe.Msg)
	}
	return out
}

func TestEmailValidate(t *testing.T) {
	if errs := validEmail().validate(); len(errs) != 0 {
		t.Fatalf("a valid email: %v", problems(errs))
	}
	f := false
	for _, tc := range []struct {
		name string
		edit func(*Email)
		want string // a path and the start of its message; "" for none
	}{
		{"no host", func(e *Email) { e.Host = "" }, "host: required"},
		{"host with port", func(e *Email) { e.Host = "smtp.example.com:587" }, "host: want a host name"},
		{"port", func(e *Email) { e.Port = 70000 }, "port: want a port"},
		{"tls mode", func(e *Email) { e.TLS = "ssl" }, "tls: want starttls"},
		{"plain text to a remote host", func(e *Email) { e.TLS = "none" }, "tls: none sends"},
		{"plain text to loopback", func(e *Email) { e.TLS, e.Host = "none", "127.0.0.1" }, ""},
		{"plain text to localhost", func(e *Email) { e.TLS, e.Host = "none", "localhost" }, ""},
		{"literal password", func(e *Email) { e.Password = "hunter2" }, "password: write the password as a ${VAR}"},
		{"both passwords", func(e *Email) { e.PasswordFile = "/run/secrets/smtp" }, "password_file: give password or password_file"},
		{"relative password file", func(e *Email) { e.Password, e.PasswordFile = "", "secrets/smtp" }, "password_file: want an absolute path"},
		{"password file from the environment", func(e *Email) { e.Password, e.PasswordFile = "", "${CREDENTIALS_DIRECTORY}/smtp" }, ""},
		{"user without password", func(e *Email) { e.Password = "" }, "password: required with a username"},
		{"password without user", func(e *Email) { e.Username = "" }, "username: required with a password"},
		{"no auth", func(e *Email) { e.Username, e.Password = "", "" }, ""},
		{"username variable unset", func(e *Email) { e.Username = "${JOINERY_TEST_UNSET_USER}" }, "username: environment variable JOINERY_TEST_UNSET_USER is not set"},
		{"no from", func(e *Email) { e.From = "" }, "from: required"},
		{"bad from", func(e *Email) { e.From = "reports" }, "from: not an e-mail address"},
		{"bad cc", func(e *Email) { e.Cc = []string{"ok@example.com", "not an address"} }, "cc[1]: not an e-mail address"},
		{"header injection", func(e *Email) { e.To = []string{"a@example.com\r\nBcc: x@evil.example"} }, "to[0]: not an e-mail address"},
		{"no recipient", func(e *Email) { e.To = nil }, "to: required: at least one recipient"},
		{"bcc only", func(e *Email) { e.To, e.Bcc = nil, []string{"b@example.com"} }, ""},
		{"subject syntax", func(e *Email) { e.Subject = "{{.Job" }, "subject: "},
		{"subject field", func(e *Email) { e.Subject = "{{.Nope}}" }, "subject: "},
		{"body field", func(e *Email) { e.Body = "{{range .Datasets}}{{.Rowz}}{{end}}" }, "body: "},
		{"html field", func(e *Email) { e.HTML = "<p>{{.Nope}}</p>" }, "html: "},
		{"html ok", func(e *Email) { e.HTML = "<p>{{.Job}}: {{range .Datasets}}{{.Name}} {{.Rows}}{{end}}</p>" }, ""},
		{"functions", func(e *Email) {
			e.Body = `{{range .Attached}}{{.Name}} {{size .Size}}{{end}} {{join .Warnings ", "}}`
		}, ""},
		{"max size", func(e *Email) { e.MaxSize = "10 parsecs" }, "max_size: want a size"},
		{"max size tiny", func(e *Email) { e.MaxSize = "100" }, "max_size: want at least"},
		{"over size", func(e *Email) { e.OverSize = "drop" }, "over_size: want zip, link or fail"},
		{"link without base", func(e *Email) { e.OverSize = "link" }, "link_base: required"},
		{"link base", func(e *Email) { e.OverSize, e.LinkBase = "link", "https://r.example.com/{{.Job}}/" }, ""},
		{"link base scheme", func(e *Email) { e.LinkBase = "ftp://r.example.com/" }, "link_base: want an http"},
		{"link base field", func(e *Email) { e.LinkBase = "https://r.example.com/{{.Nope}}/" }, "link_base: "},
		{"attach false", func(e *Email) { e.Attach = &f }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := validEmail()
			tc.edit(e)
			got := problems(append(e.validate(), literalSecrets(e)...))
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("want no problem, got %q", got)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("want one problem %q..., got %q", tc.want, got)
			}
		})
	}
}

// TestEmailPasswordNeverQuoted: a password written in the file is refused
// without being repeated.
func TestEmailPasswordNeverQuoted(t *testing.T) {
	e := validEmail()
	e.Password = "hunter2-secret"
	for _, err := range e.validate() {
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("the problem quotes the password: %v", err)
		}
	}
}

func TestParseEmailSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20, "10MB": 10_000_000, "10 MB": 10_000_000, "20MiB": 20 << 20,
		"512KiB": 512 << 10, "512k": 512 << 10, "1.5GB": 1_500_000_000, "2G": 2 << 30, "7b": 7,
	} {
		if got, err := parseEmailSize(in); err != nil || got != want {
			t.Errorf("parseEmailSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "0", "1XB", "1.2.3MB", "0.1"} {
		if got, err := parseEmailSize(in); err == nil {
			t.Errorf("parseEmailSize(%q) = %d, want an error", in, got)
		}
	}
	if got, _ := validEmail().MaxSizeBytes(); got != 20<<20 {
		t.Errorf("default max size %d", got)
	}
}

func TestFormatEmailSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 20 << 20: "20.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := FormatEmailSize(n); got != want {
			t.Errorf("FormatEmailSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestEmailDefaults(t *testing.T) {
	e := validEmail()
	if e.PortOrDefault() != 587 || e.TLSMode() != "starttls" || !e.Attaches() || e.OverSizePolicy() != "zip" {
		t.Fatalf("defaults: %d %s %v %s", e.PortOrDefault(), e.TLSMode(), e.Attaches(), e.OverSizePolicy())
	}
	e.TLS = "tls"
	if e.PortOrDefault() != 465 {
		t.Fatalf("tls port %d", e.PortOrDefault())
	}
	e.TLS = "none"
	if e.PortOrDefault() != 25 {
		t.Fatalf("none port %d", e.PortOrDefault())
	}
}
