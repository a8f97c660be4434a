package smtp

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/internal/testnet"
)

// files is a run's files: a CSV with non-ASCII text, a gzip file and a
// binary one that is not a multiple of 3 bytes (base64's padding).
func files() map[string][]byte {
	bin := make([]byte, 100_001)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	return map[string][]byte{
		"posts/posts-2026-11-04.csv": []byte("id,title\r\n1,Grüße\r\n2,\"a, b\"\r\n.\r\n"),
		"posts/posts.jsonl.gz":       {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"book/posts.xlsx":            bin,
	}
}

func TestDeliver(t *testing.T) {
	m := servers(t)
	spec := m.spec(t, "finance-mail")
	e := spec.Email
	e.Cc = []string{"Ops Team <ops@example.com>", "audit@example.com"}
	e.Bcc = []string{"archive@example.com"}
	e.Subject = `Posts {{.Logical.Format "2006-01-02"}}: {{range .Datasets}}{{.Rows}} rows{{end}} — Grüße`
	e.HTML = `<p>{{.Job}} <b>{{range .Datasets}}{{.Rows}}{{end}}</b> <script>{{.Job}}</script></p>`
	d := newDest(t, spec)
	want := files()
	r := newReport(t, want)

	rec, err := deliver(t, d, r)
	if err != nil {
		t.Fatal(err)
	}
	wantID := r.RunID + ".posts.finance-mail@joinery.test"
	if rec.ID != wantID {
		t.Fatalf("receipt id %q, want %q", rec.ID, wantID)
	}
	msg := received(t, m.api, rec.ID)

	if msg.From.Address != "reports@joinery.test" || msg.From.Name != "Joinery Reports" {
		t.Errorf("from %+v", msg.From)
	}
	addrs := func(l []mpAddr) (out []string) {
		for _, a := range l {
			out = append(out, a.Address)
		}
		return out
	}
	if got := addrs(msg.To); !slices.Equal(got, []string{"finance@example.com"}) {
		t.Errorf("to %v", got)
	}
	if got := addrs(msg.Cc); !slices.Equal(got, []string{"ops@example.com", "audit@example.com"}) {
		t.Errorf("cc %v", got)
	}
	if got := addrs(msg.Bcc); !slices.Equal(got, []string{"archive@example.com"}) {
		t.Errorf("bcc %v (the envelope recipients not in To or Cc)", got)
	}
	if msg.Subject != "Posts 2026-11-04: 1234 rows — Grüße" {
		t.Errorf("subject %q", msg.Subject)
	}
	if msg.Username != m.user {
		t.Errorf("authenticated as %q, want %q", msg.Username, m.user)
	}
	for _, s := range []string{"Report posts for 2026-11-04 06:00 UTC", "posts: 1234 rows", "users: 1234 matched", "posts-2026-11-04.csv ("} {
		if !strings.Contains(msg.Text, s) {
			t.Errorf("text body lacks %q:\n%s", s, msg.Text)
		}
	}
	if !strings.Contains(msg.HTML, "<b>1234</b>") || strings.Contains(msg.HTML, "<script>posts") {
		t.Errorf("html body (escaped by html/template):\n%s", msg.HTML)
	}

	// Every file, byte for byte, with its content type.
	types := map[string]string{
		"posts-2026-11-04.csv": "text/csv",
		"posts.jsonl.gz":       "application/gzip",
		"posts.xlsx":           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	}
	if len(msg.Attachments) != len(want) {
		t.Fatalf("%d attachments, want %d", len(msg.Attachments), len(want))
	}
	for _, a := range msg.Attachments {
		var content []byte
		for rel, c := range want {
			if strings.HasSuffix(rel, "/"+a.FileName) {
				content = c
			}
		}
		if content == nil {
			t.Errorf("attachment %q is none of the files", a.FileName)
			continue
		}
		if got := part(t, m.api, msg.ID, a.PartID); !bytes.Equal(got, content) {
			t.Errorf("attachment %s: %d bytes differ from the file's %d", a.FileName, len(got), len(content))
		}
		if a.ContentType != types[a.FileName] {
			t.Errorf("attachment %s: content type %q, want %q", a.FileName, a.ContentType, types[a.FileName])
		}
	}
	if len(rec.Items) < 3 {
		t.Errorf("receipt items %q", rec.Items)
	}

	// A second delivery of the run sends it again with the same Message-ID.
	if _, err := deliver(t, d, r); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(find(t, m.api, rec.ID)) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the re-sent message did not arrive with the same Message-ID")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDeliverImplicitTLS(t *testing.T) {
	m := servers(t)
	spec := m.spec(t, "tls")
	spec.Email.Host, spec.Email.Port = splitAddr(t, m.smtps)
	spec.Email.TLS = "tls"
	r := newReport(t, files())
	rec, err := deliver(t, newDest(t, spec), r)
	if err != nil {
		t.Fatal(err)
	}
	if msg := received(t, m.smtpsAPI, rec.ID); len(msg.Attachments) != 3 || msg.Username != m.user {
		t.Fatalf("%d attachments, user %q", len(msg.Attachments), msg.Username)
	}
	// starttls to an implicit TLS port: the server speaks TLS first.
	spec.Email.TLS = "starttls"
	d := newDest(t, spec)
	d.ioTimeoutFor = 2 * time.Second
	if _, err := deliver(t, d, r); err == nil {
		t.Fatal("starttls to an implicit TLS port delivered")
	}
}

// TestLoopbackPlainAuth: tls: none with a password, to a server that
// takes authentication only after STARTTLS, is refused for good.
func TestLoopbackPlainAuth(t *testing.T) {
	m := servers(t)
	spec := m.spec(t, "plain")
	spec.Email.TLS, spec.Email.CAFile = "none", ""
	_, err := deliver(t, newDest(t, spec), newReport(t, files()))
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("want a permanent error saying STARTTLS first, got %v", err)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	m := servers(t)
	spec := m.spec(t, "untrusted")
	spec.Email.CAFile = ""
	d := newDest(t, spec)
	r := newReport(t, files())
	_, err := deliver(t, d, r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a permanent certificate error, got %v", err)
	}
	if err := d.Check(context.Background()); !delivery.IsPermanent(err) {
		t.Fatalf("check: want a permanent error, got %v", err)
	}
}

// bigFiles are files of about 60 KB that do not compress much... and one
// that does: a zip of them is far smaller than the message.
func bigFiles() map[string][]byte {
	csv := bytes.Repeat([]byte("1,some text that repeats and compresses well,2026-11-04\r\n"), 2000)
	return map[string][]byte{"posts/a.csv": csv, "posts/b.csv": csv[:len(csv)/2]}
}

func TestOverSizeZip(t *testing.T) {
	m := servers(t)
	spec := m.spec(t, "zip")
	spec.Email.MaxSize = "64KiB"
	want := bigFiles()
	r := newReport(t, want)
	rec, err := deliver(t, newDest(t, spec), r)
	if err != nil {
		t.Fatal(err)
	}
	msg := received(t, m.api, rec.ID)
	if msg.Size > 64<<10 {
		t.Errorf("message of %d bytes, over max_size", msg.Size)
	}
	if len(msg.Attachments) != 1 || msg.Attachments[0].FileName != "posts-20261104T060000Z.zip" || msg.Attachments[0].ContentType != "application/zip" {
		t.Fatalf("attachments %+v, want one zip", msg.Attachments)
	}
	if !strings.Contains(msg.Text, "zipped") {
		t.Errorf("the body does not say the files were zipped:\n%s", msg.Text)
	}
	z := part(t, m.api, msg.ID, msg.Attachments[0].PartID)
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(want) {
		t.Fatalf("%d entries in the zip, want %d", len(zr.File), len(want))
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want[f.Name]) {
			t.Errorf("zip entry %s: %d bytes, want the file's %d (%v)", f.Name, len(got), len(want[f.Name]), err)
		}
	}

	// Still too large zipped: fails, permanently, and sends nothing.
	r = newReport(t, map[string][]byte{"noise.bin": randomBytes(100_000)})
	_, err = deliver(t, newDest(t, spec), r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "zipped") {
		t.Fatalf("want a permanent error saying even zipped it is too large, got %v", err)
	}
	notReceived(t, m.api, messageID(r, "zip", newDest(t, spec).from))
	// The zip file is gone.
	if left, _ := globTemp(); len(left) > 0 {
		t.Errorf("zip files left in the temporary folder: %v", left)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func globTemp() ([]string, error) {
	entries, err := os.ReadDir(os.TempDir())
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "joinery-email-") {
			out = append(out, e.Name())
		}
	}
	return out, err
}

func TestOverSizeLink(t *testing.T) {
	m := servers(t)
	spec := m.spec(t, "link")
	spec.Email.MaxSize = "64KiB"
	spec.Email.OverSize = "link"
	spec.Email.LinkBase = `https://reports.example.com/{{.Job}}/{{.Logical.Format "2006-01-02"}}`
	spec.Email.Body = "The {{.Job}} report is too large to attach.\n" // names no link
	spec.Email.HTML = "<p>{{.Job}}</p>"
	r := newReport(t, map[string][]byte{"posts/a b.csv": randomBytes(100_000), "posts/c.csv": []byte("x\r\n")})
	rec, err := deliver(t, newDest(t, spec), r)
	if err != nil {
		t.Fatal(err)
	}
	msg := received(t, m.api, rec.ID)
	if len(msg.Attachments) != 0 {
		t.Fatalf("%d attachments, want none", len(msg.Attachments))
	}
	for _, link := range []string{
		"https://reports.example.com/posts/2026-11-04/posts/a%20b.csv",
		"https://reports.example.com/posts/2026-11-04/posts/c.csv",
	} {
		if !strings.Contains(msg.Text, link) || !strings.Contains(msg.HTML, link) {
			t.Errorf("the message lacks the link %s:\n%s\n%s", link, msg.Text, msg.HTML)
		}
		if !slices.Contains(rec.Items, "link "+link) {
			t.Errorf("receipt items %q lack %s", rec.Items, link)
		}
	}
}

func TestOverSizeFail(t *testing.T) {
	m := servers(t)
	spec := m.spec(t, "fail")
	spec.Email.MaxSize = "64KiB"
	spec.Email.OverSize = "fail"
	d := newDest(t, spec)
	r := newReport(t, bigFiles())
	_, err := deliver(t, d, r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "over max_size") {
		t.Fatalf("want a permanent error over max_size, got %v", err)
	}
	t.Log(err)
	notReceived(t, m.api, messageID(r, "fail", d.from))
}

func TestAuthRefused(t *testing.T) {
	m := servers(t)
	t.Setenv("JOINERY_TEST_WRONG_PASSWORD", "wrong-"+m.password)
	spec := m.spec(t, "refused")
	spec.Email.Password = "${JOINERY_TEST_WRONG_PASSWORD}"
	var logs bytes.Buffer
	d := newDest(t, spec)
	d.env.Log = slogTo(&logs)
	r := newReport(t, files())
	_, err := deliver(t, d, r)
	if !delivery.IsPermanent(err) {
		t.Fatalf("want a permanent error, got %v", err)
	}
	if !strings.Contains(err.Error(), m.smtp) || !strings.Contains(err.Error(), "authentication refused for user "+m.user) {
		t.Errorf("the error does not name the server and the user: %v", err)
	}
	cerr := d.Check(context.Background())
	if !delivery.IsPermanent(cerr) {
		t.Errorf("check: want a permanent error, got %v", cerr)
	}
	for _, s := range []string{err.Error(), cerr.Error(), logs.String()} {
		for _, secret := range secretForms(m.user, "wrong-"+m.password) {
			if strings.Contains(s, secret) {
				t.Fatalf("the password appears in %q", s)
			}
		}
	}
	notReceived(t, m.api, messageID(r, "refused", d.from))
}

func TestCheck(t *testing.T) {
	m := servers(t)
	d := newDest(t, m.spec(t, "check"))
	if err := d.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	spec := m.spec(t, "check")
	spec.Email.Password = "${JOINERY_TEST_UNSET_VARIABLE}"
	err := newDest(t, spec).Check(context.Background())
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "JOINERY_TEST_UNSET_VARIABLE is not set") {
		t.Fatalf("want a permanent error naming the variable, got %v", err)
	}
}

func TestPasswordFile(t *testing.T) {
	m := servers(t)
	f := t.TempDir() + "/smtp"
	if err := os.WriteFile(f, []byte(m.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := m.spec(t, "password-file")
	spec.Email.Password, spec.Email.PasswordFile = "", f
	if err := newDest(t, spec).Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	spec.Email.PasswordFile = f + ".missing"
	err := newDest(t, spec).Check(context.Background())
	if err == nil || delivery.IsPermanent(err) || !strings.Contains(err.Error(), f+".missing") {
		t.Fatalf("want a retryable error naming the file, got %v", err)
	}
}

// TestServerDownThenUp: nothing listens at the address; the delivery
// fails for another attempt; the server comes up (a proxy to Mailpit on
// that address) and the next attempt delivers, once.
func TestServerDownThenUp(t *testing.T) {
	m := servers(t)
	rl := testnet.NewRelay(t, m.smtp)
	addr := rl.Addr
	spec := m.spec(t, "down")
	spec.Email.Host, spec.Email.Port = splitAddr(t, addr)
	d := newDest(t, spec)
	r := newReport(t, files())
	_, err := deliver(t, d, r)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("server down: want a retryable error, got %v", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("the error does not name the server: %v", err)
	}
	t.Log(err)

	rl.Start(t)
	rec, err := deliver(t, d, r)
	if err != nil {
		t.Fatal(err)
	}
	if msg := received(t, m.api, rec.ID); len(msg.Attachments) != 3 {
		t.Fatalf("%d attachments", len(msg.Attachments))
	}
}

// fakeServer serves each connection with serve until the test ends,
// when hang is closed.
func fakeServer(t testing.TB, serve func(c net.Conn, hang <-chan struct{})) string {
	t.Helper()
	hang := make(chan struct{})
	addr := testnet.Serve(t, func(c net.Conn) { serve(c, hang) })
	// Registered after Serve's, so it runs first: the handlers return
	// before Serve waits for them.
	t.Cleanup(func() { close(hang) })
	return addr
}

// converse greets, then answers each command (its line without CRLF)
// with what answer returns, until that is "" or the client leaves.
func converse(c net.Conn, answer func(cmd string, br *bufio.Reader) string) {
	br := bufio.NewReader(c)
	fmt.Fprint(c, "220 fake ESMTP\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		resp := answer(strings.TrimRight(line, "\r\n"), br)
		if resp == "" {
			return
		}
		fmt.Fprint(c, resp)
	}
}

// TestSlowServer: a server that never greets, and one that stops in the
// middle of the message: the attempt ends with its context, for another
// attempt.
func TestSlowServer(t *testing.T) {
	silent := fakeServer(t, func(c net.Conn, hang <-chan struct{}) { <-hang })
	stalls := fakeServer(t, func(c net.Conn, hang <-chan struct{}) {
		// Says what a server says until DATA, then reads nothing more.
		converse(c, func(cmd string, _ *bufio.Reader) string {
			switch cmd = strings.ToUpper(cmd); {
			case strings.HasPrefix(cmd, "EHLO"):
				return "250-slow\r\n250 8BITMIME\r\n"
			case cmd == "DATA":
				fmt.Fprint(c, "354 go ahead\r\n")
				<-hang
				return ""
			}
			return "250 ok\r\n"
		})
	})
	for name, addr := range map[string]string{"silent": silent, "stalls": stalls} {
		t.Run(name, func(t *testing.T) {
			spec := delivery.Spec{Name: "slow", Email: &delivery.Email{
				Host: "127.0.0.1", TLS: "none", From: "r@example.com", To: []string{"a@example.com"},
			}}
			spec.Email.Host, spec.Email.Port = splitAddr(t, addr)
			d := newDest(t, spec)
			// A large attachment, so that the writes fill the buffers.
			r := newReport(t, map[string][]byte{"big.bin": randomBytes(8 << 20)})
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := d.Deliver(ctx, r)
			took := time.Since(start)
			if err == nil || delivery.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("want a retryable deadline error, got %v", err)
			}
			if took > 3*time.Second {
				t.Fatalf("took %v with a 500ms context", took)
			}
			t.Log(err)
		})
	}
}

func TestNoStartTLS(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn, _ <-chan struct{}) {
		converse(c, func(cmd string, _ *bufio.Reader) string {
			if strings.HasPrefix(strings.ToUpper(cmd), "EHLO") {
				return "250-old\r\n250 AUTH PLAIN LOGIN\r\n"
			}
			return "250 ok\r\n"
		})
	})
	spec := delivery.Spec{Name: "old", Email: &delivery.Email{
		Host: "127.0.0.1", From: "r@example.com", To: []string{"a@example.com"},
		Username: "u", Password: "${JOINERY_TEST_FAKE_PASSWORD:-p}",
	}}
	spec.Email.Host, spec.Email.Port = splitAddr(t, addr)
	err := newDest(t, spec).Check(context.Background())
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("want a permanent error about STARTTLS, got %v", err)
	}
}

// TestChangedFile: a file that is not what the run wrote is never sent:
// one of another size fails before the session, one of the same size but
// other content fails in the middle of the message, which the server then
// discards.
func TestChangedFile(t *testing.T) {
	m := servers(t)
	d := newDest(t, m.spec(t, "changed"))
	for name, change := range map[string]func([]byte) []byte{
		"size":    func(b []byte) []byte { return append(b, 'x') },
		"content": func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
	} {
		t.Run(name, func(t *testing.T) {
			r := newReport(t, map[string][]byte{"a.csv": []byte("a\r\n"), "big.bin": randomBytes(3 << 20)})
			f := r.Files[1].Path
			b, _ := os.ReadFile(f)
			if err := os.WriteFile(f, change(b), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := deliver(t, d, r)
			if !delivery.IsPermanent(err) || !errors.Is(err, errChanged) {
				t.Fatalf("want a permanent error about the changed file, got %v", err)
			}
			t.Log(err)
			notReceived(t, m.api, messageID(r, "changed", d.from))
		})
	}
}

// TestRefusedRecipient: a server that refuses one recipient (550, or 450
// for a while) gets no DATA: nobody receives the message, so a retry does
// not send it twice to the recipients it accepted. 5xx is permanent, 4xx
// retried.
func TestRefusedRecipient(t *testing.T) {
	for _, tc := range []struct {
		code      string
		permanent bool
	}{{"550 5.1.1 no such user", true}, {"450 4.2.1 mailbox busy", false}} {
		t.Run(tc.code[:3], func(t *testing.T) {
			var mu sync.Mutex
			var cmds []string
			addr := fakeServer(t, func(c net.Conn, _ <-chan struct{}) {
				converse(c, func(cmd string, _ *bufio.Reader) string {
					mu.Lock()
					cmds = append(cmds, cmd)
					mu.Unlock()
					switch up := strings.ToUpper(cmd); {
					case strings.HasPrefix(up, "EHLO"):
						return "250-fake\r\n250 8BITMIME\r\n"
					case strings.HasPrefix(up, "RCPT") && strings.Contains(up, "GONE@"):
						return tc.code + "\r\n"
					case up == "QUIT":
						fmt.Fprint(c, "221 bye\r\n")
						return ""
					case up == "DATA":
						return "554 the test wants no DATA\r\n"
					}
					return "250 ok\r\n"
				})
			})
			spec := delivery.Spec{Name: "mail", Email: &delivery.Email{
				Host: "127.0.0.1", TLS: "none", From: "r@example.com",
				To: []string{"a@example.com"}, Cc: []string{"gone@example.com"}, Bcc: []string{"b@example.com"},
			}}
			spec.Email.Host, spec.Email.Port = splitAddr(t, addr)
			d := newDest(t, spec)
			_, err := d.Deliver(t.Context(), newReport(t, map[string][]byte{"a.csv": []byte("a\n1\n")}))
			if err == nil || delivery.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), "recipient gone@example.com refused") {
				t.Fatalf("err = %v (permanent %v), want permanent %v", err, delivery.IsPermanent(err), tc.permanent)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range cmds {
				if strings.EqualFold(c, "DATA") || strings.Contains(strings.ToUpper(c), "B@EXAMPLE.COM") {
					t.Errorf("after the refusal the client said %q (commands: %q)", c, cmds)
				}
			}
		})
	}
}
