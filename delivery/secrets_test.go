package delivery_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
)

// TestEveryCredentialRedacted covers each credential field of each kind:
// with its value a marker (from the environment, or the file
// password_file names), the marker never shows in a configuration
// problem (its value written literally in the file, which is refused,
// or through ${VAR} with another setting wrong), nor in the ledger (what
// joinery history prints), a log record, an outcome or the error of an
// engine whose destination put every credential into its error, for a
// delivery and for a notification. The kinds' own tests check the
// errors their clients make (delivery/smtp, s3, sftp, webhook); the
// manifest and About sheet are written before delivery and from the run
// alone (cmd/joinery's TestDeliverySecretsNowhere reads them).
func TestEveryCredentialRedacted(t *testing.T) {
	const marker = "MARKER-s3cr3t-0451"
	pwFile := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(pwFile, []byte(marker+"-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOINERY_T_PWDIR", filepath.Dir(pwFile))
	hostKey := "SHA256:uFWlh0bZcdTQZ1rbaHoI0dP0Vd5YRZ3hZ4ynb8S0bWw"
	tests := []struct {
		kind, field string
		// spec makes the settings with ref as the field's value.
		spec func(ref string) delivery.Spec
		// literal: a literal value is refused (else allowed: none is).
		literal bool
	}{
		{"email", "password", func(ref string) delivery.Spec {
			return delivery.Spec{Email: &delivery.Email{Host: "smtp.example.com", Username: "u", Password: ref, From: "a@example.com", To: []string{"b@example.com"}}}
		}, true},
		{"email", "password_file", func(ref string) delivery.Spec {
			return delivery.Spec{Email: &delivery.Email{Host: "smtp.example.com", Username: "u", PasswordFile: "${JOINERY_T_PWDIR}/smtp-password", From: "a@example.com", To: []string{"b@example.com"}}}
		}, false},
		{"s3", "access_key_id", func(ref string) delivery.Spec {
			return delivery.Spec{S3: &delivery.S3{Bucket: "bucket-b", AccessKeyID: ref, SecretAccessKey: "${JOINERY_T_OTHER}"}}
		}, true},
		{"s3", "secret_access_key", func(ref string) delivery.Spec {
			return delivery.Spec{S3: &delivery.S3{Bucket: "bucket-b", AccessKeyID: "${JOINERY_T_OTHER}", SecretAccessKey: ref}}
		}, true},
		{"s3", "session_token", func(ref string) delivery.Spec {
			return delivery.Spec{S3: &delivery.S3{Bucket: "bucket-b", AccessKeyID: "${JOINERY_T_OTHER}", SecretAccessKey: "${JOINERY_T_OTHER}", SessionToken: ref}}
		}, true},
		{"sftp", "password", func(ref string) delivery.Spec {
			return delivery.Spec{SFTP: &delivery.SFTP{Host: "sftp.example.com", User: "u", Password: ref, HostKey: hostKey, Dir: "/up"}}
		}, true},
		{"sftp", "passphrase", func(ref string) delivery.Spec {
			return delivery.Spec{SFTP: &delivery.SFTP{Host: "sftp.example.com", User: "u", KeyFile: "/etc/joinery/id_ed25519", Passphrase: ref, HostKey: hostKey, Dir: "/up"}}
		}, true},
		{"webhook", "url", func(ref string) delivery.Spec {
			return delivery.Spec{Webhook: &delivery.Webhook{URL: ref}}
		}, true},
	}
	t.Setenv("JOINERY_T_OTHER", "other-value")
	for _, tt := range tests {
		t.Run(tt.kind+"."+tt.field, func(t *testing.T) {
			value := marker
			if tt.kind == "webhook" {
				value = "https://hooks.example.com/services/T0/B0/" + marker
			}
			t.Setenv("JOINERY_T_SECRET", value)
			named := func(s delivery.Spec) delivery.Spec {
				retries := 1
				s.Name, s.Retries, s.Backoff, s.Timeout = "dest", &retries, time.Second, time.Minute
				s.On = []delivery.Event{delivery.EventSuccess, delivery.EventFailure}
				return s
			}
			shows := func(what, text string) {
				t.Helper()
				if strings.Contains(text, marker) {
					t.Errorf("%s shows the secret:\n%s", what, text)
				}
			}

			// The configuration: valid with ${VAR}; a literal value is
			// refused without being quoted; with another setting wrong,
			// the problems do not quote the value either.
			s := named(tt.spec("${JOINERY_T_SECRET}"))
			if errs := s.Validate(nil); len(errs) > 0 {
				t.Fatalf("valid settings: %v", errs)
			}
			if tt.literal {
				lit := named(tt.spec(value))
				errs := lit.Validate(nil)
				if tt.kind != "webhook" && len(errs) == 0 {
					t.Errorf("a literal %s is allowed", tt.field)
				}
				shows("a problem of a literal value", errors.Join(errs...).Error()+"")
			}
			bad := s
			bad.Name = "bad name!"
			shows("a problem of the settings", errors.Join(bad.Validate(nil)...).Error())

			// The engine: the destination's error quotes every credential.
			secrets := s.Secrets()
			if !strings.Contains(strings.Join(secrets, " "), marker) {
				t.Fatalf("Secrets() = %q: the %s is not among them", secrets, tt.field)
			}
			fake := &deliverytest.Fake{KindName: tt.kind, Fail: func(int, *delivery.Report) error {
				return errors.New("server said: bad credentials " + strings.Join(secrets, " / "))
			}}
			var logs bytes.Buffer
			fx := newFixture(t)
			e := fx.engine(fake)
			e.Log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			out, err := e.Deliver(t.Context(), delivery.Delivery{Dir: fx.dir, Specs: []delivery.Spec{s}, Report: fx.report})
			if err == nil || len(out) != 1 || out[0].State != delivery.Failed {
				t.Fatalf("delivery: %v %+v", err, out)
			}
			shows("the error", err.Error())
			shows("the outcome", out[0].Err.Error())
			data, rerr := os.ReadFile(filepath.Join(fx.dir.Path(), ".joinery", "deliveries", fx.report.Job, fx.report.RunID+".json"))
			if rerr != nil {
				t.Fatal(rerr)
			}
			shows("the ledger", string(data))
			if !strings.Contains(string(data), "[redacted]") {
				t.Errorf("the ledger's error is not redacted:\n%s", data)
			}
			failure := *fx.report
			failure.Event, failure.Error = delivery.EventFailure, "run failed"
			_, nerr := e.Notify(t.Context(), []delivery.Spec{s}, &failure)
			if nerr == nil {
				t.Fatal("the notification did not fail")
			}
			shows("the notification's error", nerr.Error())
			shows("the log", logs.String())
		})
	}
}
