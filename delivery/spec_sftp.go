package delivery

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path"
	"strconv"
	"strings"
	"text/template"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/joinery/joinery/config"
)

// SFTP are the settings of a sftp destination: an SSH server, the key it
// must present, how to log in, and the folder the report files go to.
//
//	deliver:
//	  - name: partner-drop
//	    sftp:
//	      host: sftp.example.com
//	      port: 22                                    # the default
//	      user: joinery
//	      key_file: /etc/joinery/id_ed25519           # and/or password
//	      passphrase: ${SFTP_KEY_PASSPHRASE}          # when the key is encrypted
//	      host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA..."
//	      dir: /upload/{{.Job}}/{{.Logical.Format "2006-01-02"}}
//	      file_mode: "0640"
//
// The server's key is pinned: host_key or known_hosts is required, and a
// server that presents another key is refused (never trusted on first
// use). Each file is uploaded to a temporary name in dir and renamed onto
// its own name, the manifest last (the sftp package says how).
type SFTP struct {
	// Host is the server's name or address, without a port.
	Host string `yaml:"host"`
	// Port is the server's SSH port (default 22).
	Port int `yaml:"port,omitempty"`
	// User is the login.
	User string `yaml:"user"`
	// Password logs in with a password (or keyboard-interactive), usually
	// "${VAR}". With key_file too, the key is tried first.
	Password string `yaml:"password,secret,omitempty"`
	// KeyFile is the path of a private key in OpenSSH or PEM form.
	KeyFile string `yaml:"key_file,omitempty"`
	// Passphrase decrypts key_file, usually "${VAR}".
	Passphrase string `yaml:"passphrase,secret,omitempty"`
	// HostKey pins the server's key: one or more lines, each the key as in
	// authorized_keys ("ssh-ed25519 AAAA... comment") or known_hosts
	// ("host ssh-ed25519 AAAA..."; the host names are not checked, the
	// pin belongs to this destination), or its SHA-256 fingerprint as
	// ssh-keygen -l prints it ("SHA256:..."). The server must present one
	// of them.
	HostKey string `yaml:"host_key,omitempty"`
	// KnownHosts is the path of a known_hosts file to check the server's
	// key against instead of host_key (host names are checked, hashed
	// entries and @revoked are understood). A server it does not list is
	// refused.
	KnownHosts string `yaml:"known_hosts,omitempty"`
	// Dir is the remote folder, a text/template over the Report (.Job,
	// .RunID, .Logical, .WindowStart, ...): absolute, or relative to the
	// login's home folder.
	Dir string `yaml:"dir"`
	// CreateDirs creates dir and its parents when missing (default true).
	CreateDirs *bool `yaml:"create_dirs,omitempty"`
	// FileMode is the permission bits each file gets, in octal ("0640");
	// unset leaves the server's default.
	FileMode string `yaml:"file_mode,omitempty"`
	// Timeout bounds connecting, the SSH handshake and the login (default
	// 30s). The whole attempt is bounded by the deliver entry's timeout.
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

// SFTPDefaultTimeout is the default of SFTP.Timeout.
const SFTPDefaultTimeout = 30 * time.Second

// sampleReport is the report templates are tried on when the
// configuration is validated.
var sampleReport = Report{
	Job:         "job",
	RunID:       "20260102T030405Z-0000",
	Logical:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	WindowStart: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	WindowEnd:   time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
}

func (s *SFTP) validate() []error {
	var errs []error
	// Non-secret fields may name environment variables too; a problem
	// about their value quotes what was written, never the expansion.
	expand := func(field, v string) (string, bool) {
		x, err := config.ExpandEnv(v)
		if err != nil {
			errs = append(errs, config.Problem(field, v, err.Error()))
			return "", false
		}
		return x, true
	}

	switch host, ok := expand("host", s.Host); {
	case strings.TrimSpace(s.Host) == "":
		errs = append(errs, config.Required("host", "the SFTP server's name or address is required"))
	case !ok:
	case strings.Contains(host, "://"):
		errs = append(errs, config.Problem("host", s.Host, "write the server's name alone, without a scheme (sftp://)"))
	case strings.ContainsAny(host, " \t\r\n/@"):
		errs = append(errs, config.Problem("host", s.Host, "not a host name or address (the user goes in user, the folder in dir)"))
	case strings.Contains(host, ":") && net.ParseIP(strings.Trim(host, "[]")) == nil:
		errs = append(errs, config.Problem("host", s.Host, "write the port in port, not in host"))
	}
	if s.Port != 0 && (s.Port < 1 || s.Port > 65535) {
		errs = append(errs, config.Problem("port", s.Port, "a port is 1 to 65535"))
	}
	if strings.TrimSpace(s.User) == "" {
		errs = append(errs, config.Required("user", "the login is required"))
	} else {
		expand("user", s.User)
	}

	// Secrets: the decoder has checked that their variables are set and
	// never quotes them; say only what is missing.
	if s.Password == "" && s.KeyFile == "" {
		errs = append(errs, config.Required("password", "give key_file or password (or both) to log in"))
	}
	if s.Passphrase != "" && s.KeyFile == "" {
		errs = append(errs, config.Problem("passphrase", nil, "a passphrase needs a key_file to decrypt"))
	}
	if s.KeyFile != "" {
		expand("key_file", s.KeyFile)
	}

	switch {
	case s.HostKey == "" && s.KnownHosts == "":
		errs = append(errs, config.Required("host_key", "the server's key must be pinned: give host_key (the line of ssh-keyscan, or its SHA256: fingerprint) or known_hosts (a file); a server is never trusted on first use"))
	case s.HostKey != "" && s.KnownHosts != "":
		errs = append(errs, config.Problem("known_hosts", s.KnownHosts, "give host_key or known_hosts, not both"))
	case s.HostKey != "":
		if v, ok := expand("host_key", s.HostKey); ok {
			if _, err := ParseHostKeys(v); err != nil {
				errs = append(errs, config.Problem("host_key", s.HostKey, err.Error()))
			}
		}
	default:
		expand("known_hosts", s.KnownHosts)
	}

	if strings.TrimSpace(s.Dir) == "" {
		errs = append(errs, config.Required("dir", "the remote folder is required"))
	} else if t, err := s.DirTemplate(); err != nil {
		errs = append(errs, config.Problem("dir", s.Dir, err.Error()))
	} else if _, err := RenderDir(t, &sampleReport); err != nil {
		errs = append(errs, config.Problem("dir", s.Dir, err.Error()))
	}
	if s.FileMode != "" {
		if _, err := s.Mode(); err != nil {
			errs = append(errs, config.Problem("file_mode", s.FileMode, err.Error()))
		}
	}
	if s.Timeout < 0 {
		errs = append(errs, config.Problem("timeout", s.Timeout, "must not be negative"))
	}
	return errs
}

// Addr is host:port, with the environment references expanded.
func (s *SFTP) Addr() (string, error) {
	host, err := config.ExpandEnv(s.Host)
	if err != nil {
		return "", err
	}
	port := s.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)), nil
}

// Mode is file_mode as permission bits, 0 when it is unset.
func (s *SFTP) Mode() (fs.FileMode, error) {
	if s.FileMode == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s.FileMode, 8, 32)
	if err != nil || n > 0o777 {
		return 0, errors.New(`want permission bits in octal, such as "0640"`)
	}
	return fs.FileMode(n), nil
}

// Create reports whether missing folders are created (create_dirs).
func (s *SFTP) Create() bool { return s.CreateDirs == nil || *s.CreateDirs }

// ConnectTimeout is timeout or its default.
func (s *SFTP) ConnectTimeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return SFTPDefaultTimeout
}

// DirTemplate parses dir.
func (s *SFTP) DirTemplate() (*template.Template, error) {
	return template.New("dir").Option("missingkey=error").Parse(s.Dir)
}

// RenderDir executes a dir template on r and checks the folder it names:
// not empty, one line, no "..".
func RenderDir(t *template.Template, r *Report) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, r); err != nil {
		return "", err
	}
	dir := b.String()
	switch {
	case strings.TrimSpace(dir) == "":
		return "", errors.New("the folder is empty")
	case strings.ContainsAny(dir, "\x00\r\n"):
		return "", fmt.Errorf("the folder %q holds a control character", dir)
	case strings.Contains(dir, "\\"):
		return "", fmt.Errorf("the folder %q holds a backslash: SFTP paths use /", dir)
	}
	for _, seg := range strings.Split(dir, "/") {
		if seg == ".." {
			return "", fmt.Errorf("the folder %q climbs out with ..", dir)
		}
	}
	return path.Clean(dir), nil
}

// HostKeys are the keys a server may present, parsed from host_key.
type HostKeys struct {
	Keys         []ssh.PublicKey
	Fingerprints []string // SHA256:...
}

// Match reports whether key is one of hk.
func (hk HostKeys) Match(key ssh.PublicKey) bool {
	fp := ssh.FingerprintSHA256(key)
	for _, k := range hk.Keys {
		if ssh.FingerprintSHA256(k) == fp && k.Type() == key.Type() {
			return true
		}
	}
	for _, f := range hk.Fingerprints {
		if f == fp {
			return true
		}
	}
	return false
}

// Describe lists the pinned keys as "TYPE SHA256:..." for messages.
func (hk HostKeys) Describe() string {
	var parts []string
	for _, k := range hk.Keys {
		parts = append(parts, k.Type()+" "+ssh.FingerprintSHA256(k))
	}
	parts = append(parts, hk.Fingerprints...)
	return strings.Join(parts, ", ")
}

// ParseHostKeys parses host_key: one key or fingerprint a line; blank lines
// and # comments are skipped.
func ParseHostKeys(text string) (HostKeys, error) {
	var hk HostKeys
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		if fp, ok := strings.CutPrefix(line, "SHA256:"); ok {
			if len(fp) != 43 || strings.ContainsAny(fp, " \t=") {
				return hk, fmt.Errorf("line %d: a SHA-256 fingerprint is SHA256: and 43 base64 characters, as ssh-keygen -l prints it", n)
			}
			hk.Fingerprints = append(hk.Fingerprints, line)
			continue
		}
		if strings.HasPrefix(line, "@") {
			return hk, fmt.Errorf("line %d: markers (@cert-authority, @revoked) belong in a known_hosts file", n)
		}
		if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
			hk.Keys = append(hk.Keys, k)
			continue
		}
		if _, _, k, _, _, err := ssh.ParseKnownHosts([]byte(line)); err == nil {
			hk.Keys = append(hk.Keys, k)
			continue
		}
		return hk, fmt.Errorf("line %d: not a public key line (ssh-keyscan HOST or the server's /etc/ssh/ssh_host_*_key.pub gives one) nor a SHA256: fingerprint", n)
	}
	if n == 0 {
		return hk, errors.New("no key")
	}
	return hk, nil
}
