package smtp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/joinery/joinery/delivery"
)

// recorder is a fake SMTP server without TLS or authentication that keeps
// the envelope and the message of each mail it takes.
type recorder struct {
	mu    sync.Mutex
	mails []recorded
}

type recorded struct {
	from string
	to   []string
	data []byte
}

func (rc *recorder) serve(c net.Conn, _ <-chan struct{}) {
	var cur recorded
	converse(c, func(cmd string, br *bufio.Reader) string {
		switch up := strings.ToUpper(cmd); {
		case strings.HasPrefix(up, "EHLO"):
			return "250-recorder\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n"
		case strings.HasPrefix(up, "MAIL FROM:"):
			cur = recorded{from: strings.Fields(cmd[len("MAIL FROM:"):])[0]}
		case strings.HasPrefix(up, "RCPT TO:"):
			cur.to = append(cur.to, cmd[len("RCPT TO:"):])
		case up == "DATA":
			fmt.Fprint(c, "354 go ahead\r\n")
			var data bytes.Buffer
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return ""
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, ".")) // dot-stuffing
			}
			cur.data = data.Bytes()
			rc.mu.Lock()
			rc.mails = append(rc.mails, cur)
			rc.mu.Unlock()
			return "250 2.0.0 queued as 42\r\n"
		case up == "QUIT":
			fmt.Fprint(c, "221 bye\r\n")
			return ""
		}
		return "250 ok\r\n"
	})
}

// TestMessage: the message as written, read back with the standard
// library: envelope, headers, body, attachments; and its size as
// computed before sending is its size as sent.
func TestMessage(t *testing.T) {
	rc := &recorder{}
	addr := fakeServer(t, rc.serve)
	spec := delivery.Spec{Name: "fake dest", Email: &delivery.Email{
		TLS: "none", From: `"Reports, Joinery" <reports@example.com>`,
		To:      []string{"Jörg Ünter <a@example.com>", "b@example.com"},
		Cc:      []string{"c@example.com"},
		Bcc:     []string{"hidden@example.com"},
		Subject: "{{.Job}}\r\nBcc: injected@example.com " + strings.Repeat("long words ", 12) + "Grüße",
		HTML:    "<p>{{.Job}}</p>",
	}}
	spec.Email.Host, spec.Email.Port = splitAddr(t, addr)
	d := newDest(t, spec)
	want := files()
	r := newReport(t, want)
	msg, cleanup, err := d.compose(r)
	if err != nil || cleanup != nil {
		t.Fatalf("compose: %v", err)
	}
	var buf bytes.Buffer
	n, err := msg.writeTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || msg.size() != n {
		t.Fatalf("size %d computed, %d written, %d counted", msg.size(), buf.Len(), n)
	}
	for i, line := range strings.Split(buf.String(), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line %d is %d characters long", i, len(line))
		}
	}

	rec, err := d.Deliver(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.mails) != 1 {
		t.Fatalf("%d mails", len(rc.mails))
	}
	got := rc.mails[0]
	if got.from != "<reports@example.com>" || strings.Join(got.to, " ") != "<a@example.com> <b@example.com> <c@example.com> <hidden@example.com>" {
		t.Errorf("envelope from %s to %v", got.from, got.to)
	}
	m, err := mail.ReadMessage(bytes.NewReader(got.data))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "posts Bcc: injected@example.com " + strings.Repeat("long words ", 12) + "Grüße"; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	if m.Header.Get("Bcc") != "" || strings.Contains(string(got.data), "hidden@") {
		t.Errorf("the message names the bcc recipient")
	}
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Name != "Jörg Ünter" {
		t.Errorf("to %v %v", to, err)
	}
	if from, err := m.Header.AddressList("From"); err != nil || from[0].Name != "Reports, Joinery" {
		t.Errorf("from %v %v", from, err)
	}
	if id := m.Header.Get("Message-ID"); id != "<"+rec.ID+">" || rec.ID != r.RunID+".posts.fake_dest@example.com" {
		t.Errorf("Message-ID %s, receipt %s", id, rec.ID)
	}

	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("content type %s %v", mt, err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	attached := map[string][]byte{}
	var text, html string
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if ct == "multipart/alternative" {
			ar := multipart.NewReader(p, cp["boundary"])
			for {
				ap, err := ar.NextRawPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(quotedprintable.NewReader(ap))
				if strings.HasPrefix(ap.Header.Get("Content-Type"), "text/html") {
					html = string(b)
				} else {
					text = string(b)
				}
			}
			continue
		}
		_, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
		if err != nil {
			t.Fatal(err)
		}
		attached[dp["filename"]] = b
		if cp["name"] != dp["filename"] {
			t.Errorf("name %q, filename %q", cp["name"], dp["filename"])
		}
		if ct == "text/csv" && cp["charset"] != "utf-8" {
			t.Errorf("csv without charset: %s", p.Header.Get("Content-Type"))
		}
	}
	if !strings.Contains(text, "posts: 1234 rows") || html != "<p>posts</p>" {
		t.Errorf("text %q\nhtml %q", text, html)
	}
	if len(attached) != len(want) {
		t.Fatalf("%d attachments, want %d", len(attached), len(want))
	}
	for rel, content := range want {
		name := rel[strings.LastIndexByte(rel, '/')+1:]
		if !bytes.Equal(attached[name], content) {
			t.Errorf("attachment %s: %d bytes, want %d", name, len(attached[name]), len(content))
		}
	}
}

func TestBase64Len(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 56, 57, 58, 114, 1000, 100_001} {
		var buf bytes.Buffer
		lw := &lineWriter{w: &buf}
		enc := base64.NewEncoder(base64.StdEncoding, lw)
		enc.Write(bytes.Repeat([]byte{0xfe}, n))
		enc.Close()
		lw.close()
		if int64(buf.Len()) != base64Len(int64(n)) {
			t.Errorf("%d bytes: %d encoded, base64Len says %d", n, buf.Len(), base64Len(int64(n)))
		}
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\r\n"), "\r\n") {
			if len(line) > 76 {
				t.Fatalf("a line of %d", len(line))
			}
		}
	}
}

func TestSameNames(t *testing.T) {
	atts := attachments(newReport(t, map[string][]byte{"a/x.csv": {1}, "b/x.csv": {2}, "c/y.csv": {3}}).Files)
	var names []string
	for _, a := range atts {
		names = append(names, a.name)
	}
	if strings.Join(names, " ") != "a_x.csv b_x.csv y.csv" {
		t.Fatalf("names %v", names)
	}
}
