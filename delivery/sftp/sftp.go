// Package sftp delivers a run's report files to a folder on an SSH server
// over SFTP (github.com/pkg/sftp on golang.org/x/crypto/ssh).
//
// The server's key is pinned (host_key or known_hosts): a server that
// presents another is refused, and the error names both fingerprints.
//
// Deliver uploads each file to a temporary name in the same folder,
// ".NAME.joinery-tmp-RUNID", checks what it sent against the run (size
// and SHA-256, hashed from the very bytes it sent) and the size the
// server reports, and only then renames the temporary files onto their
// names, the manifest last: a reader of the folder sees either the old
// file or the whole new one, never a part, and a manifest only once every
// file it lists is in place. With the posix-rename@openssh.com extension
// (OpenSSH and most servers) the rename replaces the old file atomically;
// without it an existing file is removed first, and for that instant the
// name is missing (never partial).
//
// Delivering the same run again is safe: it overwrites the same temporary
// names, so a temporary file left behind by a crash between upload and
// rename is replaced, and renames onto the same names. A temporary file of
// a run that is never delivered again stays until someone removes it.
package sftp

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/delivery"
)

// Kind is the sftp kind of destination.
type Kind struct{}

// Name is the key of the settings in a deliver entry.
func (Kind) Name() string { return "sftp" }

// New makes the destination of spec, whose SFTP settings are valid.
func (Kind) New(spec delivery.Spec, env delivery.Env) (delivery.Destination, error) {
	if spec.SFTP == nil {
		return nil, errors.New("sftp: the deliver entry has no sftp settings")
	}
	return newDestination(spec.Name, *spec.SFTP, env)
}

// Destination delivers to one SFTP folder.
type Destination struct {
	name       string
	set        delivery.SFTP
	addr       string
	user       string
	password   string // expanded; never formatted
	keyFile    string
	passphrase string // expanded; never formatted
	pinned     delivery.HostKeys
	knownHosts string
	dir        *template.Template
	mode       fs.FileMode
	log        *slog.Logger

	// Test hooks.
	beforeRename  func(tmp string) error // after every upload, before the first rename
	onRename      func(final string)     // after each rename, in order
	noPosixRename bool                   // act as if the server lacked posix-rename
}

func newDestination(name string, set delivery.SFTP, env delivery.Env) (*Destination, error) {
	d := &Destination{name: name, set: set, log: env.Log}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if d.addr, err = set.Addr(); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("sftp host: %w", err))
	}
	if d.user, err = config.ExpandEnv(set.User); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("sftp user: %w", err))
	}
	// The secrets' errors name the variable (ExpandEnv never quotes a value).
	if d.password, err = config.ExpandEnv(set.Password); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("sftp password: %w", err))
	}
	if d.passphrase, err = config.ExpandEnv(set.Passphrase); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("sftp passphrase: %w", err))
	}
	if d.keyFile, err = config.ExpandEnv(set.KeyFile); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("sftp key_file: %w", err))
	}
	if d.password == "" && d.keyFile == "" {
		return nil, delivery.Permanent(errors.New("sftp: no password and no key_file to log in with"))
	}
	switch {
	case set.HostKey != "":
		hk, err := config.ExpandEnv(set.HostKey)
		if err == nil {
			d.pinned, err = delivery.ParseHostKeys(hk)
		}
		if err != nil {
			return nil, delivery.Permanent(fmt.Errorf("sftp host_key: %w", err))
		}
	case set.KnownHosts != "":
		if d.knownHosts, err = config.ExpandEnv(set.KnownHosts); err != nil {
			return nil, delivery.Permanent(fmt.Errorf("sftp known_hosts: %w", err))
		}
	default:
		return nil, delivery.Permanent(errors.New("sftp: no host_key or known_hosts: the server's key must be pinned"))
	}
	if d.dir, err = set.DirTemplate(); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("sftp dir: %w", err))
	}
	if d.mode, err = set.Mode(); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("sftp file_mode: %w", err))
	}
	return d, nil
}

// Deliver uploads the files of r, then the manifest, into the folder that
// dir names for r. The receipt's ID is the remote path of the manifest (of
// the last file when there is none); its items are the remote paths with
// their sizes and SHA-256.
func (d *Destination) Deliver(ctx context.Context, r *delivery.Report) (delivery.Receipt, error) {
	dir, err := delivery.RenderDir(d.dir, r)
	if err != nil {
		return delivery.Receipt{}, delivery.Permanent(fmt.Errorf("sftp dir: %w", err))
	}
	plan, err := d.plan(dir, r)
	if err != nil {
		return delivery.Receipt{}, err
	}
	if len(plan) == 0 {
		return delivery.Receipt{}, nil
	}

	conn, err := d.connect(ctx)
	if err != nil {
		return delivery.Receipt{}, err
	}
	defer conn.close()
	c := conn.sftp

	if err := d.ensureDir(c, dir); err != nil {
		return delivery.Receipt{}, conn.fail(ctx, err)
	}

	// Upload everything to temporary names; a failure leaves the final
	// names as they were (and removes what it uploaded, when it can).
	uploaded := make([]string, 0, len(plan))
	cleanup := func() {
		for _, tmp := range uploaded {
			_ = c.Remove(tmp)
		}
	}
	for i := range plan {
		if err := d.upload(c, &plan[i]); err != nil {
			if ctx.Err() == nil {
				cleanup()
			}
			return delivery.Receipt{}, conn.fail(ctx, err)
		}
		uploaded = append(uploaded, plan[i].tmp)
	}
	if d.beforeRename != nil {
		for _, tmp := range uploaded {
			if err := d.beforeRename(tmp); err != nil {
				return delivery.Receipt{}, err
			}
		}
	}

	// Then rename each onto its name, the manifest last.
	posix := false
	if _, ok := c.HasExtension("posix-rename@openssh.com"); ok && !d.noPosixRename {
		posix = true
	}
	var rec delivery.Receipt
	for _, f := range plan {
		if err := rename(c, f.tmp, f.final, posix); err != nil {
			if ctx.Err() == nil {
				cleanup()
			}
			return delivery.Receipt{}, conn.fail(ctx, err)
		}
		uploaded = uploaded[1:] // renamed: no longer the attempt's to remove
		if d.onRename != nil {
			d.onRename(f.final)
		}
		rec.ID = f.final
		rec.Items = append(rec.Items, fmt.Sprintf("%s %d bytes sha256:%s", f.final, f.size, f.sum))
		d.log.Debug("sftp: delivered", "destination", d.name, "path", f.final, "bytes", f.size)
	}
	return rec, nil
}

// item is one file to deliver.
type item struct {
	local      string
	final, tmp string
	size       int64
	sum        string // expected SHA-256, hex; "" for the manifest
	rel        string // for messages
}

// plan lists what Deliver uploads: the files, then the manifest, each
// with its remote names, after checking that each local file still has
// the size the run recorded.
func (d *Destination) plan(dir string, r *delivery.Report) ([]item, error) {
	var plan []item
	seen := map[string]string{}
	add := func(local, rel string, size int64, sum string) error {
		name := filepath.Base(local)
		if prev, ok := seen[name]; ok {
			return delivery.Permanent(fmt.Errorf("sftp: %s and %s would both be %s in %s: files go into one folder by their base names", prev, rel, name, dir))
		}
		seen[name] = rel
		fi, err := os.Stat(local)
		if err != nil {
			return delivery.Permanent(fmt.Errorf("sftp: the report file %s: %w: %w", rel, delivery.ErrChanged, err))
		}
		if sum != "" && fi.Size() != size {
			return delivery.Permanent(fmt.Errorf("sftp: the report file %s is %d bytes, the run wrote %d: %w (changed or replaced since)", rel, fi.Size(), size, delivery.ErrChanged))
		}
		plan = append(plan, item{
			local: local, rel: rel, size: fi.Size(), sum: sum,
			final: path.Join(dir, name),
			tmp:   path.Join(dir, tempName(name, r.RunID)),
		})
		return nil
	}
	for _, f := range r.Files {
		rel := f.Rel
		if rel == "" {
			rel = filepath.Base(f.Path)
		}
		if err := add(f.Path, rel, f.Size, f.SHA256); err != nil {
			return nil, err
		}
	}
	if r.Manifest != "" {
		if err := add(r.Manifest, filepath.Base(r.Manifest), 0, ""); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// tempName is the temporary name of a file while it is uploaded: hidden,
// with the run's id so that a repeated delivery of the run overwrites it.
func tempName(name, runID string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, runID)
	if id == "" {
		id = "run"
	}
	return "." + name + ".joinery-tmp-" + id
}

// upload writes f.local to f.tmp, hashing the bytes it sends, and checks
// them against the run and the size the server reports.
func (d *Destination) upload(c *sftp.Client, f *item) error {
	src, err := os.Open(f.local)
	if err != nil {
		return delivery.Permanent(fmt.Errorf("sftp: the report file %s: %w", f.rel, err))
	}
	defer src.Close()
	dst, err := c.OpenFile(f.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return remoteErr("create", f.tmp, err)
	}
	h := &hashing{r: src, h: sha256.New()}
	// Concurrent writes of 32 KiB packets, at most 64 in flight: memory
	// stays about 2 MiB whatever the file's size.
	n, err := dst.ReadFromWithConcurrency(h, 0)
	if err != nil {
		dst.Close()
		if h.err != nil {
			return delivery.Permanent(fmt.Errorf("sftp: reading the report file %s: %w", f.rel, h.err))
		}
		return remoteErr("write", f.tmp, err)
	}
	if err := dst.Close(); err != nil {
		return remoteErr("close", f.tmp, err)
	}
	sum := hex.EncodeToString(h.h.Sum(nil))
	if f.sum != "" && (n != f.size || !strings.EqualFold(sum, f.sum)) {
		_ = c.Remove(f.tmp)
		return delivery.Permanent(fmt.Errorf("sftp: the report file %s is not what the run wrote (%d bytes, SHA-256 %s; the run recorded %d bytes, %s): %w (changed or replaced since)", f.rel, n, sum, f.size, f.sum, delivery.ErrChanged))
	}
	f.size, f.sum = n, sum
	fi, err := c.Stat(f.tmp)
	if err != nil {
		return remoteErr("stat", f.tmp, err)
	}
	if fi.Size() != n {
		return fmt.Errorf("sftp: %s is %d bytes on the server after sending %d", f.tmp, fi.Size(), n)
	}
	if d.mode != 0 {
		if err := c.Chmod(f.tmp, d.mode); err != nil {
			return remoteErr("chmod", f.tmp, err)
		}
	}
	return nil
}

// hashing reads r and hashes what it reads.
type hashing struct {
	r   io.Reader
	h   hash.Hash
	err error // a read error other than EOF: a local problem
}

func (h *hashing) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	if err != nil && err != io.EOF {
		h.err = err
	}
	return n, err
}

// rename moves tmp onto final: atomically with posix-rename; else with
// a plain rename, which SFTP refuses when final exists, so that is removed
// first (final is missing for that instant).
func rename(c *sftp.Client, tmp, final string, posix bool) error {
	if posix {
		if err := c.PosixRename(tmp, final); err != nil {
			return remoteErr("rename onto", final, err)
		}
		return nil
	}
	err := c.Rename(tmp, final)
	if err == nil {
		return nil
	}
	if _, serr := c.Lstat(final); serr != nil {
		return remoteErr("rename onto", final, err)
	}
	if err := c.Remove(final); err != nil {
		return remoteErr("remove the old", final, err)
	}
	if err := c.Rename(tmp, final); err != nil {
		return remoteErr("rename onto", final, err)
	}
	return nil
}

// ensureDir makes dir (create_dirs) or checks that it is a folder.
func (d *Destination) ensureDir(c *sftp.Client, dir string) error {
	if d.set.Create() {
		if err := c.MkdirAll(dir); err != nil {
			return remoteErr("create the folder", dir, err)
		}
		return nil
	}
	fi, err := c.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return delivery.Permanent(fmt.Errorf("sftp: the folder %s does not exist (create_dirs is false)", dir))
		}
		return remoteErr("stat the folder", dir, err)
	}
	if !fi.IsDir() {
		return delivery.Permanent(fmt.Errorf("sftp: %s is not a folder", dir))
	}
	return nil
}

// remoteErr describes an SFTP operation that failed; permission refused
// is permanent, other failures may pass.
func remoteErr(op, p string, err error) error {
	err = fmt.Errorf("sftp: %s %s: %w", op, p, err)
	if errors.Is(err, fs.ErrPermission) {
		return delivery.Permanent(err)
	}
	return err
}

// Check logs in and writes and removes a probe file in the folder dir
// names up to its first template action (the whole of dir when it has
// none), creating it when create_dirs allows: it sends no report.
func (d *Destination) Check(ctx context.Context) error {
	conn, err := d.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.close()
	c := conn.sftp
	dir := staticPrefix(d.set.Dir)
	if err := d.ensureDir(c, dir); err != nil {
		return conn.fail(ctx, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	probe := path.Join(dir, ".joinery-check-"+hex.EncodeToString(b[:]))
	f, err := c.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return conn.fail(ctx, remoteErr("create a probe file", probe, err))
	}
	_, werr := f.Write([]byte("joinery validate --connect\n"))
	cerr := f.Close()
	rerr := c.Remove(probe)
	for _, e := range []error{werr, cerr} {
		if e != nil {
			return conn.fail(ctx, remoteErr("write a probe file", probe, e))
		}
	}
	if rerr != nil {
		return conn.fail(ctx, remoteErr("remove the probe file", probe, rerr))
	}
	return nil
}

// staticPrefix is the folder a dir template names before its first
// action: "/upload" for "/upload/{{.Job}}/x", "." when it starts with
// one.
func staticPrefix(tmpl string) string {
	i := strings.Index(tmpl, "{{")
	if i < 0 {
		return path.Clean(tmpl)
	}
	p := tmpl[:i]
	j := strings.LastIndex(p, "/")
	switch {
	case j < 0:
		return "."
	case j == 0:
		return "/"
	}
	return path.Clean(p[:j])
}

// connection is one SSH connection with its SFTP session.
type connection struct {
	ssh  *ssh.Client
	sftp *sftp.Client
	stop func() bool
}

func (c *connection) close() {
	c.stop()
	c.sftp.Close()
	c.ssh.Close()
}

// fail returns err, or the context's error when the attempt's time ran
// out (which closed the connection under the operation).
func (c *connection) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil && !delivery.IsPermanent(err) {
		return fmt.Errorf("%w (%w)", context.Cause(ctx), err)
	}
	return err
}

// connect dials the server, checks its key, logs in and starts SFTP.
// Refused or timed out connections are errors another attempt may cure;
// a host key that is not the pinned one and a refused login are
// permanent.
func (d *Destination) connect(ctx context.Context) (*connection, error) {
	timeout := d.set.ConnectTimeout()
	dialer := net.Dialer{Timeout: timeout}
	raw, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("sftp %s: connect: %w", d.addr, err)
	}
	// The handshake and the login get the same time as the connection.
	_ = raw.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { raw.Close() })

	cfg, err := d.clientConfig(timeout)
	if err != nil {
		stop()
		raw.Close()
		return nil, err
	}
	sc, chans, reqs, err := ssh.NewClientConn(raw, d.addr, cfg)
	if err != nil {
		stop()
		raw.Close()
		var hk *hostKeyError
		switch {
		case errors.As(err, &hk):
			return nil, delivery.Permanent(hk)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, delivery.Permanent(fmt.Errorf("sftp %s: login as %s refused: %w", d.addr, d.user, err))
		case ctx.Err() != nil:
			return nil, fmt.Errorf("sftp %s: %w (%w)", d.addr, context.Cause(ctx), err)
		}
		return nil, fmt.Errorf("sftp %s: SSH handshake: %w", d.addr, err)
	}
	_ = raw.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	sc2, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		stop()
		client.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sftp %s: %w (%w)", d.addr, context.Cause(ctx), err)
		}
		return nil, fmt.Errorf("sftp %s: starting SFTP: %w", d.addr, err)
	}
	d.log.Debug("sftp: connected", "destination", d.name, "addr", d.addr, "user", d.user)
	return &connection{ssh: client, sftp: sc2, stop: stop}, nil
}

// clientConfig is the SSH configuration: the login's methods and the
// check of the server's key.
func (d *Destination) clientConfig(timeout time.Duration) (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{User: d.user, Timeout: timeout}
	if d.keyFile != "" {
		signer, err := d.signer()
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if d.password != "" {
		pw := d.password
		cfg.Auth = append(cfg.Auth,
			ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if d.knownHosts != "" {
		cb, err := knownhosts.New(d.knownHosts)
		if err != nil {
			return nil, delivery.Permanent(fmt.Errorf("sftp known_hosts: %w", err))
		}
		cfg.HostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
			err := cb(host, remote, key)
			var ke *knownhosts.KeyError
			var re *knownhosts.RevokedError
			switch {
			case errors.As(err, &ke):
				var want []string
				for _, k := range ke.Want {
					want = append(want, k.Key.Type()+" "+ssh.FingerprintSHA256(k.Key))
				}
				return &hostKeyError{addr: d.addr, got: key, want: strings.Join(want, ", "), from: d.knownHosts}
			case errors.As(err, &re):
				return &hostKeyError{addr: d.addr, got: key, revoked: true, from: d.knownHosts}
			}
			return err
		}
		cfg.HostKeyAlgorithms = knownAlgorithms(cb, d.addr)
		return cfg, nil
	}
	pinned := d.pinned
	cfg.HostKeyCallback = func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if pinned.Match(key) {
			return nil
		}
		return &hostKeyError{addr: d.addr, got: key, want: pinned.Describe(), from: "host_key"}
	}
	// Ask for the pinned keys' types, so that a server with keys of
	// several types presents the pinned one.
	if len(pinned.Fingerprints) == 0 {
		cfg.HostKeyAlgorithms = algorithms(pinned.Keys)
	}
	return cfg, nil
}

// signer reads key_file, decrypting it with the passphrase when it is
// encrypted. Its errors never hold the passphrase.
func (d *Destination) signer() (ssh.Signer, error) {
	pem, err := os.ReadFile(d.keyFile)
	if err != nil {
		return nil, delivery.Permanent(fmt.Errorf("sftp key_file: %w", err))
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing) && d.passphrase == "":
		return nil, delivery.Permanent(fmt.Errorf("sftp key_file %s is encrypted and no passphrase is set", d.keyFile))
	case errors.As(err, &missing):
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(d.passphrase))
		if err != nil {
			return nil, delivery.Permanent(fmt.Errorf("sftp key_file %s: cannot decrypt it with the passphrase: %w", d.keyFile, err))
		}
	case err != nil:
		return nil, delivery.Permanent(fmt.Errorf("sftp key_file %s: %w", d.keyFile, err))
	}
	return signer, nil
}

// algorithms are the host key algorithms that present keys.
func algorithms(keys []ssh.PublicKey) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, k := range keys {
		if k.Type() == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
		}
		add(k.Type())
	}
	return out
}

// knownAlgorithms are the algorithms of the keys known_hosts lists for
// addr (nil, the default, when it lists none): asked for first, so that a
// server with keys of several types presents a known one.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	// A throwaway key that is not in the file makes the callback list
	// the keys it would have accepted.
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	var ke *knownhosts.KeyError
	if tcp == nil || !errors.As(cb(addr, tcp, probe), &ke) {
		return nil
	}
	keys := make([]ssh.PublicKey, 0, len(ke.Want))
	for _, k := range ke.Want {
		keys = append(keys, k.Key)
	}
	return algorithms(keys)
}

// hostKeyError is a server that presented a key other than the pinned
// ones: its message names both fingerprints.
type hostKeyError struct {
	addr    string
	got     ssh.PublicKey
	want    string // the pinned keys, "TYPE SHA256:..., ..."; "" when known_hosts lists none for the host
	from    string // host_key or the known_hosts file
	revoked bool
}

func (e *hostKeyError) Error() string {
	got := e.got.Type() + " " + ssh.FingerprintSHA256(e.got)
	switch {
	case e.revoked:
		return fmt.Sprintf("sftp %s: the server's host key %s is marked @revoked in %s: refusing to connect", e.addr, got, e.from)
	case e.want == "":
		return fmt.Sprintf("sftp %s: the server presented the host key %s and %s lists no key for it: refusing to connect (a server is never trusted on first use; add its key)", e.addr, got, e.from)
	}
	return fmt.Sprintf("sftp %s: HOST KEY MISMATCH: the server presented %s, %s pins %s: refusing to connect (if the server's key was changed on purpose, update %s)", e.addr, got, e.from, e.want, e.from)
}
