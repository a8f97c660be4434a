package smtp

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path"
	"strings"
	"time"

	"github.com/joinery/joinery/delivery"
)

// message is one e-mail, ready to be written: the header block, the
// text (and html) body, and the attachments, which are read from their
// files while the message is written, never held in memory.
type message struct {
	id       string // Message-ID, without the angle brackets
	header   []byte // the top-level header block, without Content-Type and the blank line
	boundary string
	text     string
	html     string // "" when there is no html alternative
	files    []attachment
}

// attachment is one attached file.
type attachment struct {
	name        string // as named in the message
	contentType string
	path        string
	size        int64
	sha256      string // hex; "" for a file this package wrote (the zip)
}

// errChanged is the cause of the error for a report file that is not what
// the run wrote (a later run replaced it, or it was edited): the contract's
// delivery.ErrChanged, which the engine and the conformance test look for.
var errChanged = delivery.ErrChanged

// writeTo writes the message to w, reading each attachment from its file
// and checking its size and SHA-256 before the part ends. The message is
// not complete when it returns an error: the caller must then drop the
// SMTP session without ending the DATA command, so the server discards it.
func (m *message) writeTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	err := m.write(cw, false)
	return cw.n, err
}

// size returns the number of bytes writeTo writes, without reading the
// files: each attachment counts as its encoded length.
func (m *message) size() int64 {
	cw := &countWriter{w: io.Discard}
	_ = m.write(cw, true) // only attachments fail, and not in a dry run
	return cw.n
}

func (m *message) write(cw *countWriter, dry bool) error {
	if _, err := cw.Write(m.header); err != nil {
		return err
	}
	mw := multipart.NewWriter(cw)
	if err := mw.SetBoundary(m.boundary); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(cw, "Content-Type: multipart/mixed; boundary=%q\r\n\r\nThis is a multi-part message in MIME format.\r\n", m.boundary); err != nil {
		return err
	}
	if err := m.writeBody(mw); err != nil {
		return err
	}
	for _, a := range m.files {
		h := textproto.MIMEHeader{}
		params := map[string]string{"name": a.name}
		if strings.HasPrefix(a.contentType, "text/") {
			params["charset"] = "utf-8"
		}
		h.Set("Content-Type", mime.FormatMediaType(a.contentType, params))
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.name}))
		h.Set("Content-Transfer-Encoding", "base64")
		pw, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if dry {
			cw.n += base64Len(a.size)
			continue
		}
		if err := a.copyTo(pw); err != nil {
			return err
		}
	}
	return mw.Close()
}

// writeBody writes the text part, or a multipart/alternative of the text
// and html parts.
func (m *message) writeBody(mw *multipart.Writer) error {
	if m.html == "" {
		return writeText(mw, "text/plain", m.text)
	}
	boundary := "alt-" + m.boundary
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary}))
	pw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	alt := multipart.NewWriter(pw)
	if err := alt.SetBoundary(boundary); err != nil {
		return err
	}
	if err := writeText(alt, "text/plain", m.text); err != nil {
		return err
	}
	if err := writeText(alt, "text/html", m.html); err != nil {
		return err
	}
	return alt.Close()
}

// writeText writes a text part in UTF-8, quoted-printable.
func writeText(mw *multipart.Writer, contentType, text string) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", contentType+"; charset=utf-8")
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	pw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	qw := quotedprintable.NewWriter(pw)
	if _, err := io.WriteString(qw, crlf(text)); err != nil {
		return err
	}
	return qw.Close()
}

// crlf ends each line of s with CRLF, as a mail message's lines end.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// copyTo writes the file base64-encoded, in lines of 76 characters, and
// checks that it is the file the run wrote: its size (before and while
// reading) and its SHA-256 (at its end, before the part is closed).
func (a *attachment) copyTo(w io.Writer) error {
	f, err := os.Open(a.path)
	if err != nil {
		return fmt.Errorf("attachment %s: %w", a.name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return fmt.Errorf("attachment %s: %w", a.name, err)
	} else if fi.Size() != a.size {
		return delivery.Permanent(fmt.Errorf("report file %s: %w: %d bytes, the run wrote %d", a.path, errChanged, fi.Size(), a.size))
	}
	lw := &lineWriter{w: w}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	var h hash.Hash
	src := io.Reader(f)
	if a.sha256 != "" {
		h = sha256.New()
		src = io.TeeReader(f, h)
	}
	buf := make([]byte, 64<<10)
	n, err := io.CopyBuffer(enc, io.LimitReader(src, a.size+1), buf)
	if err != nil {
		return fmt.Errorf("attachment %s: %w", a.name, err)
	}
	if n != a.size {
		return delivery.Permanent(fmt.Errorf("report file %s: %w: %d bytes read, the run wrote %d", a.path, errChanged, n, a.size))
	}
	if h != nil {
		if sum := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(sum, a.sha256) {
			return delivery.Permanent(fmt.Errorf("report file %s: %w: its SHA-256 is %s, the run wrote %s", a.path, errChanged, sum, a.sha256))
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return lw.close()
}

// base64Len is the length of n bytes base64-encoded in lines of 76
// characters, each ended by CRLF.
func base64Len(n int64) int64 {
	l := (n + 2) / 3 * 4
	return l + (l+75)/76*2
}

// lineWriter breaks base64 text into lines of 76 characters.
type lineWriter struct {
	w   io.Writer
	col int
	buf []byte
}

var crlfBytes = []byte("\r\n")

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	// Build whole lines in one buffer: one Write per chunk, not per line.
	l.buf = l.buf[:0]
	for len(p) > 0 {
		k := min(76-l.col, len(p))
		l.buf = append(l.buf, p[:k]...)
		p = p[k:]
		l.col += k
		if l.col == 76 {
			l.buf = append(l.buf, crlfBytes...)
			l.col = 0
		}
	}
	if _, err := l.w.Write(l.buf); err != nil {
		return 0, err
	}
	return n, nil
}

func (l *lineWriter) close() error {
	if l.col == 0 {
		return nil
	}
	l.col = 0
	_, err := l.w.Write(crlfBytes)
	return err
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// newBoundary returns a random MIME boundary.
func newBoundary() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return "joinery-" + hex.EncodeToString(b[:])
}

// headerBlock writes the top-level headers of a message (all but
// Content-Type).
func headerBlock(date time.Time, id string, from *mail.Address, to, cc []*mail.Address, subject string, r *delivery.Report) []byte {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	fmt.Fprintf(w, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(w, "From: %s\r\n", from.String())
	writeAddrs(w, "To", to)
	writeAddrs(w, "Cc", cc)
	fmt.Fprintf(w, "Subject: %s\r\n", encodeHeader("Subject", subject))
	fmt.Fprintf(w, "Message-ID: <%s>\r\n", id)
	w.WriteString("MIME-Version: 1.0\r\n")
	w.WriteString("Auto-Submitted: auto-generated\r\n")
	fmt.Fprintf(w, "X-Joinery-Job: %s\r\n", encodeHeader("X-Joinery-Job", r.Job))
	fmt.Fprintf(w, "X-Joinery-Run: %s\r\n", encodeHeader("X-Joinery-Run", r.RunID))
	w.Flush()
	return b.Bytes()
}

// writeAddrs writes an address header, one address a line.
func writeAddrs(w *bufio.Writer, key string, addrs []*mail.Address) {
	if len(addrs) == 0 {
		return
	}
	w.WriteString(key + ": ")
	for i, a := range addrs {
		if i > 0 {
			w.WriteString(",\r\n ")
		}
		w.WriteString(a.String())
	}
	w.WriteString("\r\n")
}

// encodeHeader encodes an unstructured header value: one line (a template
// may have put line breaks in it: a header injection), RFC 2047 encoded
// words when it is not plain ASCII, folded so that no line is longer than
// 78 characters where it has spaces to fold at.
func encodeHeader(key, v string) string {
	v = strings.Join(strings.Fields(v), " ")
	enc := mime.QEncoding.Encode("utf-8", v)
	// Fold at the spaces between words (or encoded words).
	var b strings.Builder
	col := len(key) + 2
	for i, word := range strings.Split(enc, " ") {
		if i > 0 {
			if col+1+len(word) > 78 {
				b.WriteString("\r\n")
				col = 0
			}
			b.WriteString(" ")
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}

// contentType returns the MIME type of a report file, by its format and
// name, without parameters (text types are UTF-8, which the part says).
func contentType(f delivery.File) string {
	name := strings.ToLower(f.Rel)
	if name == "" {
		name = strings.ToLower(f.Path)
	}
	switch ext := path.Ext(name); {
	case ext == ".gz":
		return "application/gzip"
	case ext == ".zip":
		return "application/zip"
	case f.Format == "csv" || ext == ".csv":
		return "text/csv"
	case f.Format == "tsv" || ext == ".tsv":
		return "text/tab-separated-values"
	case f.Format == "jsonl" || ext == ".jsonl" || ext == ".ndjson":
		return "application/jsonl"
	case f.Format == "json" || ext == ".json":
		return "application/json"
	case f.Format == "xlsx" || ext == ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "application/octet-stream"
}

// zipFiles writes files into a new zip file in dir ("" for the system's
// temporary folder), each under its path relative to output_dir, checking
// each file's size and SHA-256 as it is read. The caller removes it.
func zipFiles(dir string, files []delivery.File, modified time.Time) (string, int64, error) {
	tmp, err := os.CreateTemp(dir, "joinery-email-*.zip")
	if err != nil {
		return "", 0, err
	}
	name := tmp.Name()
	fail := func(err error) (string, int64, error) {
		tmp.Close()
		os.Remove(name)
		return "", 0, err
	}
	bw := bufio.NewWriterSize(tmp, 64<<10)
	zw := zip.NewWriter(bw)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: zipName(f), Method: zip.Deflate, Modified: modified})
		if err != nil {
			return fail(err)
		}
		a := attachment{path: f.Path, size: f.Size, sha256: f.SHA256, name: f.Rel}
		if err := a.copyRaw(w); err != nil {
			return fail(err)
		}
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return "", 0, err
	}
	return name, fi.Size(), nil
}

// zipName is a file's name in the zip: its path relative to output_dir.
func zipName(f delivery.File) string {
	if f.Rel != "" {
		return f.Rel
	}
	return path.Base(strings.ReplaceAll(f.Path, "\\", "/"))
}

// copyRaw copies the file to w unencoded, with the checks of copyTo.
func (a *attachment) copyRaw(w io.Writer) error {
	f, err := os.Open(a.path)
	if err != nil {
		return fmt.Errorf("report file %s: %w", a.path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(f, a.size+1), make([]byte, 64<<10))
	if err != nil {
		return fmt.Errorf("report file %s: %w", a.path, err)
	}
	if n != a.size {
		return delivery.Permanent(fmt.Errorf("report file %s: %w: %d bytes, the run wrote %d", a.path, errChanged, n, a.size))
	}
	if sum := hex.EncodeToString(h.Sum(nil)); a.sha256 != "" && !strings.EqualFold(sum, a.sha256) {
		return delivery.Permanent(fmt.Errorf("report file %s: %w: its SHA-256 is %s, the run wrote %s", a.path, errChanged, sum, a.sha256))
	}
	return nil
}
