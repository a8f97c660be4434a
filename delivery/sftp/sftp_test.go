package sftp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/internal/testnet"
	"github.com/joinery/joinery/output"
)

// server is the sshd of .ci/servers/sshd.sh.
type server struct {
	addr, host string
	port       int
	user, key  string
	hostKey    string
	dir        string // local and remote: the server runs here
}

// testServer returns the sshd the environment names; it skips the test
// without one, or fails it when JOINERY_REQUIRE_SFTP=1.
func testServer(t *testing.T) server {
	t.Helper()
	s := server{
		addr:    os.Getenv("JOINERY_TEST_SFTP_ADDR"),
		user:    os.Getenv("JOINERY_TEST_SFTP_USER"),
		key:     os.Getenv("JOINERY_TEST_SFTP_KEY"),
		hostKey: os.Getenv("JOINERY_TEST_SFTP_HOST_KEY"),
		dir:     os.Getenv("JOINERY_TEST_SFTP_DIR"),
	}
	if s.addr == "" || s.user == "" || s.key == "" || s.hostKey == "" || s.dir == "" {
		if os.Getenv("JOINERY_REQUIRE_SFTP") == "1" {
			t.Fatal("JOINERY_REQUIRE_SFTP=1 but JOINERY_TEST_SFTP_ADDR, _USER, _KEY, _HOST_KEY or _DIR is not set (bash .ci/run sets them)")
		}
		t.Skip("no SFTP server: JOINERY_TEST_SFTP_ADDR is not set (bash .ci/run starts one)")
	}
	host, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.host = host
	s.port, _ = strconv.Atoi(port)
	return s
}

// settings are key-login settings for s, into a folder of the test's own,
// emptied first (the server's folder outlives a test run).
func (s server) settings(t *testing.T) delivery.SFTP {
	t.Helper()
	own := filepath.Join(s.dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.RemoveAll(own); err != nil {
		t.Fatal(err)
	}
	return delivery.SFTP{
		Host:    s.host,
		Port:    s.port,
		User:    s.user,
		KeyFile: s.key,
		HostKey: s.hostKey,
		Dir:     own + "/{{.Job}}/{{.Logical.Format \"2006-01-02\"}}",
		Timeout: 10 * time.Second,
	}
}

func newDest(t *testing.T, set delivery.SFTP) *Destination {
	t.Helper()
	d, err := Kind{}.New(delivery.Spec{Name: "drop", SFTP: &set}, delivery.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return d.(*Destination)
}

// report writes files (name -> content) and a manifest into a folder of
// its own and returns the report of them.
func report(t *testing.T, runID string, files map[string][]byte) *delivery.Report {
	t.Helper()
	dir := t.TempDir()
	r := &delivery.Report{Job: "posts", RunID: runID, Logical: time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC), Dir: dir}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(files[n])
		r.Files = append(r.Files, delivery.File{
			File: output.File{Path: p, Size: int64(len(files[n])), SHA256: hex.EncodeToString(sum[:])},
			Rel:  n, Output: "out",
		})
	}
	r.Manifest = filepath.Join(dir, runID+".manifest.json")
	if err := os.WriteFile(r.Manifest, []byte(`{"run":"`+runID+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// remoteDir is the folder d delivers r into, on this machine.
func remoteDir(t *testing.T, d *Destination, r *delivery.Report) string {
	dir, err := delivery.RenderDir(d.dir, r)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkFolder checks that dir holds exactly the files of r, byte for byte,
// and no temporary file.
func checkFolder(t *testing.T, dir string, r *delivery.Report) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	var want []string
	locals := append([]string{r.Manifest}, func() (ps []string) {
		for _, f := range r.Files {
			ps = append(ps, f.Path)
		}
		return
	}()...)
	for _, p := range locals {
		want = append(want, filepath.Base(p))
		local, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		remote, err := os.ReadFile(filepath.Join(dir, filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(local, remote) {
			t.Errorf("%s differs on the server: %d bytes, want %d", filepath.Base(p), len(remote), len(local))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the folder holds %q, want %q", got, want)
	}
}

var threeFiles = map[string][]byte{
	"posts.csv":  []byte("id,title\n1,hello\n2,\"a, b\"\n"),
	"posts.xlsx": bytes.Repeat([]byte{0, 1, 2, 0xff}, 50_000),
	"posts.jsonl": []byte(`{"id":1}
{"id":2}
`),
}

func TestDeliver(t *testing.T) {
	s := testServer(t)
	set := s.settings(t)
	set.FileMode = "0640"
	d := newDest(t, set)
	var renamed []string
	d.onRename = func(p string) { renamed = append(renamed, filepath.Base(p)) }
	r := report(t, "20261104T060000Z-a1", threeFiles)

	rec, err := d.Deliver(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	dir := remoteDir(t, d, r)
	checkFolder(t, dir, r)
	if len(renamed) != 4 || renamed[3] != filepath.Base(r.Manifest) {
		t.Errorf("renamed in the order %q: want the manifest last", renamed)
	}
	if rec.ID != filepath.Join(dir, filepath.Base(r.Manifest)) || len(rec.Items) != 4 {
		t.Errorf("receipt %+v", rec)
	}
	if !strings.Contains(rec.Items[0], r.Files[0].SHA256) {
		t.Errorf("receipt item %q lacks the SHA-256", rec.Items[0])
	}
	fi, err := os.Stat(filepath.Join(dir, "posts.csv"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("file mode %v, %v; want 0640", fi.Mode(), err)
	}

	// Again: the same names are overwritten, nothing is added.
	renamed = nil
	if _, err := d.Deliver(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	checkFolder(t, dir, r)
	if len(renamed) != 4 {
		t.Errorf("renamed %q on the second delivery", renamed)
	}

	// A run that rewrote the files under the same names, to a server
	// without posix-rename: the old files are removed, then replaced.
	changed := map[string][]byte{}
	for n, b := range threeFiles {
		changed[n] = append([]byte("v2 "), b...)
	}
	r2 := report(t, "20261104T060000Z-a1", changed)
	d.noPosixRename = true
	if _, err := d.Deliver(context.Background(), r2); err != nil {
		t.Fatal(err)
	}
	checkFolder(t, dir, r2)
}

func TestDeliverCreateDirs(t *testing.T) {
	s := testServer(t)
	set := s.settings(t)
	no := false
	set.CreateDirs = &no
	d := newDest(t, set)
	r := report(t, "r1", threeFiles)
	_, err := d.Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a missing folder with create_dirs false: %v, want a permanent error", err)
	}
	if err := os.MkdirAll(remoteDir(t, d, r), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deliver(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	checkFolder(t, remoteDir(t, d, r), r)
}

func TestCrashBetweenUploadAndRename(t *testing.T) {
	s := testServer(t)
	d := newDest(t, s.settings(t))
	r := report(t, "20261104T060000Z-c1", threeFiles)
	dir := remoteDir(t, d, r)
	crash := errors.New("crash")
	d.beforeRename = func(string) error { return crash }
	if _, err := d.Deliver(context.Background(), r); !errors.Is(err, crash) {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Fatalf("after the crash the folder holds %d entries, want the 4 temporary files", len(entries))
	}
	for _, e := range entries {
		if !strings.Contains(e.Name(), ".joinery-tmp-") {
			t.Errorf("%s reached its name before the rename", e.Name())
		}
	}
	// Spoil a temporary file, as a crash mid-upload would: the next
	// delivery of the run overwrites it.
	if err := os.WriteFile(filepath.Join(dir, entries[0].Name()), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.beforeRename = nil
	if _, err := d.Deliver(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	checkFolder(t, dir, r)
}

func TestChangedFile(t *testing.T) {
	s := testServer(t)
	d := newDest(t, s.settings(t))
	r := report(t, "r1", threeFiles)
	// Same size, other bytes: only the hash tells.
	b := bytes.ToUpper(threeFiles["posts.csv"])
	if err := os.WriteFile(r.Files[0].Path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := d.Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "changed or replaced") {
		t.Fatalf("err = %v, want a permanent error about the changed file", err)
	}
	if entries, _ := os.ReadDir(remoteDir(t, d, r)); len(entries) != 0 {
		t.Errorf("a failed delivery left %d files", len(entries))
	}
	// Another size: refused before connecting.
	if err := os.WriteFile(r.Files[0].Path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deliver(context.Background(), r); !delivery.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
}

func TestHostKeyMismatch(t *testing.T) {
	s := testServer(t)
	serverKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.hostKey))
	if err != nil {
		t.Fatal(err)
	}
	other := newKey(t)
	set := s.settings(t)
	set.HostKey = string(ssh.MarshalAuthorizedKey(other.PublicKey()))
	d := newDest(t, set)
	r := report(t, "r1", threeFiles)
	_, err = d.Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	for _, fp := range []string{ssh.FingerprintSHA256(serverKey), ssh.FingerprintSHA256(other.PublicKey())} {
		if !strings.Contains(err.Error(), fp) {
			t.Errorf("the error does not name %s: %v", fp, err)
		}
	}
	t.Log(err)
	if err := d.Check(context.Background()); !delivery.IsPermanent(err) {
		t.Errorf("Check: %v, want permanent", err)
	}

	// A fingerprint pins too.
	set.HostKey = ssh.FingerprintSHA256(serverKey)
	if err := newDest(t, set).Check(context.Background()); err != nil {
		t.Errorf("pinned by fingerprint: %v", err)
	}

	// known_hosts: right, wrong, and silent about the host.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	set.HostKey = ""
	set.KnownHosts = kh
	line := func(host string, k ssh.PublicKey) string {
		return fmt.Sprintf("[%s]:%d %s", host, s.port, ssh.MarshalAuthorizedKey(k))
	}
	for _, c := range []struct {
		name, file string
		ok         bool
		want       string
	}{
		{"right", line(s.host, serverKey), true, ""},
		{"wrong", line(s.host, other.PublicKey()), false, ssh.FingerprintSHA256(other.PublicKey())},
		{"other host", line("example.com", serverKey), false, "lists no key"},
		{"revoked", "@revoked " + line(s.host, serverKey), false, "revoked"},
	} {
		if err := os.WriteFile(kh, []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
		err := newDest(t, set).Check(context.Background())
		switch {
		case c.ok && err != nil:
			t.Errorf("known_hosts %s: %v", c.name, err)
		case !c.ok && (!delivery.IsPermanent(err) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("known_hosts %s: %v, want a permanent error with %q", c.name, err, c.want)
		}
	}
}

// newKey makes an ed25519 key.
func newKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeKey writes a new private key, encrypted when passphrase is set.
func writeKey(t *testing.T, passphrase string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoginRefused(t *testing.T) {
	s := testServer(t)
	const passphrase, password = "pass-phrase-SECRET-1", "pass-word-SECRET-2"
	t.Setenv("JOINERY_TEST_SFTP_PASSPHRASE", passphrase)
	t.Setenv("JOINERY_TEST_SFTP_PASSWORD", password)
	r := report(t, "r1", threeFiles)
	for _, c := range []struct {
		name string
		mod  func(*delivery.SFTP)
		want string
	}{
		{"unknown key", func(set *delivery.SFTP) { set.KeyFile = writeKey(t, "") }, "refused"},
		// Decrypted (the login is what fails), so the passphrase was used.
		{"encrypted key", func(set *delivery.SFTP) {
			set.KeyFile, set.Passphrase = writeKey(t, passphrase), "${JOINERY_TEST_SFTP_PASSPHRASE}"
		}, "refused"},
		{"wrong passphrase", func(set *delivery.SFTP) {
			set.KeyFile, set.Passphrase = writeKey(t, "another one"), "${JOINERY_TEST_SFTP_PASSPHRASE}"
		}, "passphrase"},
		{"no passphrase", func(set *delivery.SFTP) { set.KeyFile = writeKey(t, passphrase) }, "no passphrase"},
		{"missing key file", func(set *delivery.SFTP) { set.KeyFile = "/nonexistent/id" }, "no such file"},
		// The test sshd takes no passwords: a refused password login.
		{"password", func(set *delivery.SFTP) { set.KeyFile, set.Password = "", "${JOINERY_TEST_SFTP_PASSWORD}" }, "refused"},
		{"other user", func(set *delivery.SFTP) { set.User = "joinery-no-such-user" }, "refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			set := s.settings(t)
			c.mod(&set)
			d := newDest(t, set)
			_, err := d.Deliver(context.Background(), r)
			if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a permanent error with %q", err, c.want)
			}
			if cerr := d.Check(context.Background()); !delivery.IsPermanent(cerr) {
				t.Errorf("Check: %v, want permanent", cerr)
			}
			for _, secret := range []string{passphrase, password} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows a secret: %v", err)
				}
			}
			t.Log(err)
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestServerDown(t *testing.T) {
	s := testServer(t)
	rl := testnet.NewRelay(t, s.addr)
	addr := rl.Addr
	host, port, _ := net.SplitHostPort(addr)
	set := s.settings(t)
	set.Host = host
	set.Port, _ = strconv.Atoi(port)
	d := newDest(t, set)
	r := report(t, "r1", threeFiles)

	_, err := d.Deliver(context.Background(), r)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("nothing listening: %v, want an error to try again", err)
	}
	t.Log(err)
	if err := d.Check(context.Background()); err == nil || delivery.IsPermanent(err) {
		t.Fatalf("Check with nothing listening: %v, want an error to try again", err)
	}

	// The server is back.
	rl.Start(t)
	if _, err := d.Deliver(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	checkFolder(t, remoteDir(t, d, r), r)
}

func TestTimeouts(t *testing.T) {
	s := testServer(t)
	// A server that takes the connection and never says a word.
	silent := testnet.Serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	host, port, _ := net.SplitHostPort(silent)
	set := s.settings(t)
	set.Host = host
	set.Port, _ = strconv.Atoi(port)
	set.Timeout = 300 * time.Millisecond
	r := report(t, "r1", threeFiles)

	start := time.Now()
	_, err := newDest(t, set).Deliver(context.Background(), r)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("a silent server: %v, want an error to try again", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the handshake timeout took %v", el)
	}
	t.Log(err)

	// The attempt's context bounds it too.
	set.Timeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = newDest(t, set).Deliver(ctx, r)
	if err == nil || delivery.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a silent server past the deadline: %v, want the deadline", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the deadline took %v", el)
	}
}

func TestCheck(t *testing.T) {
	s := testServer(t)
	set := s.settings(t)
	d := newDest(t, set)
	if err := d.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	prefix := staticPrefix(set.Dir)
	entries, err := os.ReadDir(prefix)
	if err != nil {
		t.Fatalf("Check did not create %s: %v", prefix, err)
	}
	if len(entries) != 0 {
		t.Errorf("Check left %d files in %s", len(entries), prefix)
	}
	no := false
	set.CreateDirs = &no
	set.Dir = filepath.Join(prefix, "missing", "{{.Job}}")
	if err := newDest(t, set).Check(context.Background()); !delivery.IsPermanent(err) {
		t.Errorf("Check of a missing folder without create_dirs: %v, want permanent", err)
	}
}

func TestStaticPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"/upload/{{.Job}}/x": "/upload",
		"/upload/a/":         "/upload/a",
		"{{.Job}}/x":         ".",
		"/{{.Job}}":          "/",
		"up/x{{.Job}}":       "up",
	} {
		if got := staticPrefix(in); got != want {
			t.Errorf("staticPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBigFileMemory(t *testing.T) {
	s := testServer(t)
	if testing.Short() {
		t.Skip("-short")
	}
	const size = 64 << 20
	dir := t.TempDir()
	p := filepath.Join(dir, "big.csv")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	rng := mrand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	for range size / len(buf) {
		_, _ = rng.Read(buf)
		f.Write(buf)
		h.Write(buf)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	r := &delivery.Report{Job: "big", RunID: "r1", Logical: time.Now(), Dir: dir, Files: []delivery.File{{
		File: output.File{Path: p, Size: size, SHA256: sum}, Rel: "big.csv",
	}}}
	d := newDest(t, s.settings(t))

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	_, err = d.Deliver(context.Background(), r)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	grew := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("64 MiB in %v (%.0f MiB/s), peak heap %.1f MiB (%.1f MiB above the start)",
		el.Round(time.Millisecond), float64(size)/(1<<20)/el.Seconds(), float64(peak.Load())/(1<<20), float64(grew)/(1<<20))
	if grew > 16<<20 {
		t.Errorf("the heap grew by %d MiB while uploading 64 MiB: not streamed", grew>>20)
	}
	remote := filepath.Join(remoteDir(t, d, r), "big.csv")
	rf, err := os.Open(remote)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	rh := sha256.New()
	if _, err := io.Copy(rh, rf); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(rh.Sum(nil)); got != sum {
		t.Errorf("the uploaded file's SHA-256 is %s, want %s", got, sum)
	}
	_ = os.Remove(remote)
}
