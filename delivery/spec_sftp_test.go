package delivery

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/config"
)

const testHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGGkYU8NU87IRP7C2DVsh4jEjEE0c5vz+/HsfU1sqRCm host"

func TestSFTPValidate(t *testing.T) {
	t.Setenv("SFTP_TEST_PW", "hunter2-secret")
	ok := func() SFTP {
		return SFTP{Host: "sftp.example.com", User: "u", KeyFile: "/k", HostKey: testHostKey, Dir: `/upload/{{.Job}}/{{.Logical.Format "2006-01-02"}}`}
	}
	no := false
	cases := []struct {
		name string
		mod  func(*SFTP)
		path string // the problem's path; "" for none
		kind config.Kind
	}{
		{"valid", func(*SFTP) {}, "", 0},
		{"password only", func(s *SFTP) { s.KeyFile, s.Password = "", "${SFTP_TEST_PW}" }, "", 0},
		{"known_hosts", func(s *SFTP) { s.HostKey, s.KnownHosts = "", "/etc/ssh/ssh_known_hosts" }, "", 0},
		{"fingerprint", func(s *SFTP) { s.HostKey = "SHA256:8SBiCnHPIe07JTBUolnYNllUzp4f52scNO/ttiOi4ik" }, "", 0},
		{"known_hosts line", func(s *SFTP) { s.HostKey = "[sftp.example.com]:2222 " + testHostKey }, "", 0},
		{"two keys", func(s *SFTP) {
			s.HostKey = testHostKey + "\n# comment\nSHA256:8SBiCnHPIe07JTBUolnYNllUzp4f52scNO/ttiOi4ik\n"
		}, "", 0},
		{"no create, mode, port", func(s *SFTP) { s.CreateDirs, s.FileMode, s.Port = &no, "0640", 2222 }, "", 0},
		{"no host", func(s *SFTP) { s.Host = "" }, "host", config.Missing},
		{"scheme", func(s *SFTP) { s.Host = "sftp://h" }, "host", config.Invalid},
		{"port in host", func(s *SFTP) { s.Host = "h:22" }, "host", config.Invalid},
		{"ipv6", func(s *SFTP) { s.Host = "::1" }, "", 0},
		{"bad port", func(s *SFTP) { s.Port = 70000 }, "port", config.Invalid},
		{"no user", func(s *SFTP) { s.User = "" }, "user", config.Missing},
		{"no auth", func(s *SFTP) { s.KeyFile = "" }, "password", config.Missing},
		{"passphrase alone", func(s *SFTP) { s.KeyFile, s.Password, s.Passphrase = "", "x", "y" }, "passphrase", config.Invalid},
		{"no pin", func(s *SFTP) { s.HostKey = "" }, "host_key", config.Missing},
		{"both pins", func(s *SFTP) { s.KnownHosts = "/x" }, "known_hosts", config.Invalid},
		{"bad key", func(s *SFTP) { s.HostKey = "ssh-ed25519 nonsense" }, "host_key", config.Invalid},
		{"bad fingerprint", func(s *SFTP) { s.HostKey = "SHA256:abc" }, "host_key", config.Invalid},
		{"marker", func(s *SFTP) { s.HostKey = "@revoked * " + testHostKey }, "host_key", config.Invalid},
		{"unset variable", func(s *SFTP) { s.HostKey = "${SFTP_TEST_NOT_SET}" }, "host_key", config.Invalid},
		{"no dir", func(s *SFTP) { s.Dir = " " }, "dir", config.Missing},
		{"bad template", func(s *SFTP) { s.Dir = "/x/{{.Job" }, "dir", config.Invalid},
		{"unknown field", func(s *SFTP) { s.Dir = "/x/{{.Jobb}}" }, "dir", config.Invalid},
		{"climbs", func(s *SFTP) { s.Dir = "/x/../{{.Job}}" }, "dir", config.Invalid},
		{"bad mode", func(s *SFTP) { s.FileMode = "0999" }, "file_mode", config.Invalid},
		{"mode too big", func(s *SFTP) { s.FileMode = "7777" }, "file_mode", config.Invalid},
		{"negative timeout", func(s *SFTP) { s.Timeout = -1 }, "timeout", config.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok()
			c.mod(&s)
			errs := s.validate()
			if c.path == "" {
				if len(errs) > 0 {
					t.Fatalf("problems: %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("want one problem at %s, got %v", c.path, errs)
			}
			var fe *config.FieldError
			if !errors.As(errs[0], &fe) || fe.Path != c.path || fe.Kind != c.kind {
				t.Fatalf("want a problem at %s (kind %d), got %#v", c.path, c.kind, errs[0])
			}
			if strings.Contains(fe.Error(), "hunter2") {
				t.Fatalf("the problem shows a secret: %v", fe)
			}
		})
	}
}

func TestSFTPDefaults(t *testing.T) {
	s := SFTP{Host: "h"}
	if a, _ := s.Addr(); a != "h:22" {
		t.Errorf("Addr = %q", a)
	}
	s = SFTP{Host: "::1", Port: 2222}
	if a, _ := s.Addr(); a != "[::1]:2222" {
		t.Errorf("Addr = %q", a)
	}
	if !s.Create() || s.ConnectTimeout() != SFTPDefaultTimeout {
		t.Error("create_dirs or timeout default is wrong")
	}
	if m, err := (&SFTP{FileMode: "640"}).Mode(); err != nil || m != 0o640 {
		t.Errorf("Mode = %o, %v", m, err)
	}
}

func TestRenderDir(t *testing.T) {
	for tmpl, want := range map[string]string{
		`/upload/{{.Job}}/{{.Logical.Format "2006-01-02"}}/`: "/upload/job/2026-01-02",
		`out/{{.RunID}}`: "out/20260102T030405Z-0000",
	} {
		s := SFTP{Dir: tmpl}
		tp, err := s.DirTemplate()
		if err != nil {
			t.Fatal(err)
		}
		got, err := RenderDir(tp, &sampleReport)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", tmpl, got, err, want)
		}
	}
	tp, _ := (&SFTP{Dir: "/x/{{.Job}}"}).DirTemplate()
	if _, err := RenderDir(tp, &Report{Job: ".."}); err == nil {
		t.Error("a job named .. climbed out of the folder")
	}
}

// TestSFTPDecode reads the settings as config.yaml holds them: the
// secrets are never quoted, and an unquoted file_mode keeps its octal
// digits.
func TestSFTPDecode(t *testing.T) {
	t.Setenv("SFTP_TEST_PASSPHRASE", "pp-SECRET")
	const yml = `
deliver:
  - name: drop
    sftp:
      host: sftp.example.com
      user: joinery
      key_file: /etc/joinery/id_ed25519
      passphrase: ${SFTP_TEST_PASSPHRASE}
      password: literal-SECRET
      host_key: "` + testHostKey + `"
      dir: /upload/{{.Job}}
      file_mode: 0640
      create_dirs: false
      timeout: 5s
  - name: bad
    sftp:
      host: h
      user: u
      password: ${SFTP_TEST_UNSET_SECRET}
      dir: /x
`
	var v struct {
		Deliver []Spec `yaml:"deliver"`
	}
	d := config.NewDecoder("config.yaml")
	if !d.Decode([]byte(yml), &v) || len(v.Deliver) != 2 || v.Deliver[0].SFTP == nil {
		t.Fatalf("decoded %+v: %v", v, d.Err())
	}
	for i, s := range v.Deliver {
		if s.SFTP == nil { // the decoder's problem inside it stands
			continue
		}
		d.Add(config.Prefix("deliver["+strconv.Itoa(i)+"].sftp", s.SFTP.validate())...)
	}
	err := d.Err()
	var ce *config.Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Path != "deliver[1].sftp.password" {
		t.Fatalf("want the unset variable of the second entry alone, got %v", err)
	}
	if strings.Contains(err.Error(), "SECRET\"") || strings.Contains(err.Error(), "literal-SECRET") || strings.Contains(err.Error(), "pp-SECRET") {
		t.Fatalf("a problem shows a secret: %v", err)
	}
	s := v.Deliver[0].SFTP
	if m, err := s.Mode(); err != nil || m != 0o640 || s.Create() || s.ConnectTimeout() != 5*time.Second {
		t.Errorf("decoded %+v: mode %o, %v", s, m, err)
	}
	t.Log(err)
}
