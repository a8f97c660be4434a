package smtp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/output"
)

// The Mailpit servers .ci/servers/mailpit.sh starts.
type mailpit struct {
	smtp, api       string // the STARTTLS server
	smtps, smtpsAPI string // the implicit TLS one
	user, password  string
	ca              string
}

// servers returns the Mailpit servers, or skips the test when there are
// none (fails it with JOINERY_REQUIRE_SMTP=1).
func servers(t testing.TB) *mailpit {
	t.Helper()
	m := &mailpit{
		smtp: os.Getenv("JOINERY_TEST_SMTP_ADDR"), api: os.Getenv("JOINERY_TEST_MAILPIT_API"),
		smtps: os.Getenv("JOINERY_TEST_SMTPS_ADDR"), smtpsAPI: os.Getenv("JOINERY_TEST_MAILPIT_SMTPS_API"),
		user: os.Getenv("JOINERY_TEST_SMTP_USER"), password: os.Getenv("JOINERY_TEST_SMTP_PASSWORD"),
		ca: os.Getenv("JOINERY_TEST_SMTP_CA"),
	}
	if m.smtp == "" || m.api == "" || m.smtps == "" || m.smtpsAPI == "" || m.password == "" || m.ca == "" {
		if os.Getenv("JOINERY_REQUIRE_SMTP") == "1" {
			t.Fatal("JOINERY_REQUIRE_SMTP=1 but the JOINERY_TEST_SMTP_* variables of .ci/servers/mailpit.sh are not all set")
		}
		t.Skip("no Mailpit: run bash .ci/run (or set the JOINERY_TEST_SMTP_* variables of .ci/servers/mailpit.sh)")
	}
	return m
}

// spec is a deliver entry to the STARTTLS server, authenticated through
// the password in $JOINERY_TEST_SMTP_PASSWORD.
func (m *mailpit) spec(t testing.TB, name string) delivery.Spec {
	t.Helper()
	host, port := splitAddr(t, m.smtp)
	return delivery.Spec{Name: name, Email: &delivery.Email{
		Host: host, Port: port, CAFile: m.ca,
		Username: m.user, Password: "${JOINERY_TEST_SMTP_PASSWORD}",
		From: "Joinery Reports <reports@joinery.test>",
		To:   []string{"Finance <finance@example.com>"},
	}}
}

func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	if _, err := fmt.Sscan(addr[i+1:], &port); err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return addr[:i], port
}

// newDest makes the destination of spec, logging to the test.
func newDest(t testing.TB, spec delivery.Spec) *Destination {
	t.Helper()
	d, err := Kind{}.New(spec, delivery.Env{Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return d.(*Destination)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newReport writes files (relative path -> content) into a folder and
// returns a run that carries them, with a run id of its own.
func newReport(t testing.TB, files map[string][]byte) *delivery.Report {
	t.Helper()
	dir := t.TempDir()
	var b [4]byte
	_, _ = rand.Read(b[:])
	logical := time.Date(2026, 11, 4, 6, 0, 0, 0, time.UTC)
	r := &delivery.Report{
		Job: "posts", RunID: "20261104T060000Z-" + hex.EncodeToString(b[:]), Logical: logical,
		WindowStart: logical.Add(-24 * time.Hour), WindowEnd: logical,
		Datasets: []delivery.Dataset{{Name: "posts", Rows: 1234, Joins: []string{"users: 1234 matched"}}},
		Dir:      dir,
	}
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, files[rel], 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(files[rel])
		format := strings.TrimPrefix(filepath.Ext(strings.TrimSuffix(rel, ".gz")), ".")
		r.Files = append(r.Files, delivery.File{
			File: output.File{Path: p, Format: format, Size: int64(len(files[rel])), SHA256: hex.EncodeToString(sum[:])},
			Rel:  rel, Output: format,
		})
	}
	return r
}

// mpMessage is a message as Mailpit's API shows it.
type mpMessage struct {
	ID, MessageID, Subject, Text, HTML, Username string
	From                                         mpAddr
	To, Cc, Bcc                                  []mpAddr
	Size                                         int64
	Attachments                                  []struct {
		PartID, FileName, ContentType string
		Size                          int64
		Checksums                     struct{ SHA256 string }
	}
}

type mpAddr struct{ Name, Address string }

func apiGet(t testing.TB, api, path string, v any) {
	t.Helper()
	resp, err := http.Get(api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// find returns the ids of the messages with the Message-ID id.
func find(t testing.TB, api, id string) []string {
	t.Helper()
	var res struct {
		Messages []struct{ ID, MessageID string }
	}
	apiGet(t, api, "/api/v1/search?query="+url.QueryEscape(`message-id:"`+id+`"`), &res)
	var ids []string
	for _, m := range res.Messages {
		if m.MessageID == id {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// received waits for the message with the Message-ID id and returns it.
func received(t testing.TB, api, id string) *mpMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ids := find(t, api, id); len(ids) > 0 {
			if len(ids) > 1 {
				t.Fatalf("%d messages with Message-ID %s, want 1", len(ids), id)
			}
			var m mpMessage
			apiGet(t, api, "/api/v1/message/"+ids[0], &m)
			return &m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with Message-ID %s in Mailpit after 10 s", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notReceived checks that no message with the Message-ID id arrives.
func notReceived(t testing.TB, api, id string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // Mailpit stores a message it took at once
	if ids := find(t, api, id); len(ids) > 0 {
		t.Fatalf("a message with Message-ID %s arrived, want none", id)
	}
}

// part returns the decoded content of a part of a message.
func part(t testing.TB, api, id, partID string) []byte {
	t.Helper()
	resp, err := http.Get(api + "/api/v1/message/" + id + "/part/" + partID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("part %s of %s: %s %v", partID, id, resp.Status, err)
	}
	return b
}

// deliver delivers r with a time limit.
func deliver(t testing.TB, d *Destination, r *delivery.Report) (delivery.Receipt, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return d.Deliver(ctx, r)
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
