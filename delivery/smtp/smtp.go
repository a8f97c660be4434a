// Package smtp is the email destination: one message per run, over SMTP,
// with the report files attached, zipped or linked (the email settings of
// a deliver entry, delivery.Email; docs/DELIVERY.md, email).
//
// The SMTP session (dial, EHLO, STARTTLS or implicit TLS, AUTH, MAIL,
// RCPT, DATA) is wneessen/go-mail's smtp client. The message is written
// by this package, straight into the DATA command: go-mail's own message
// writer encodes each part into a bytes.Buffer before it writes it (a
// 100 MB attachment would take about 135 MB of memory, twice during the
// buffer's growth), while here each file is read in 64 KiB pieces,
// base64-encoded and sent, so memory does not grow with the attachments.
//
// Each attachment's size and SHA-256 are checked against what the run
// wrote as it is sent; a file that differs ends the session before the
// DATA command is ended, so the server discards the message.
package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/joinery/joinery/config"
	"github.com/joinery/joinery/delivery"
)

// Kind is the email kind of destination: "email" in a deliver entry.
type Kind struct{}

// Name is "email".
func (Kind) Name() string { return "email" }

// New makes the destination of spec, whose Email settings are valid.
func (Kind) New(spec delivery.Spec, env delivery.Env) (delivery.Destination, error) {
	s := spec.Email
	if s == nil {
		return nil, errors.New("email: the deliver entry has no email settings")
	}
	t, err := s.Templates()
	if err != nil {
		return nil, fmt.Errorf("email %s: %w", spec.Name, err)
	}
	max, err := s.MaxSizeBytes()
	if err != nil {
		return nil, fmt.Errorf("email %s: max_size: %w", spec.Name, err)
	}
	d := &Destination{name: spec.Name, s: s, env: env, tmpl: t, maxSize: max}
	if d.from, err = mail.ParseAddress(s.From); err != nil {
		return nil, fmt.Errorf("email %s: from: %w", spec.Name, err)
	}
	for _, l := range []struct {
		in  []string
		out *[]*mail.Address
	}{{s.To, &d.to}, {s.Cc, &d.cc}, {s.Bcc, &d.bcc}} {
		for _, a := range l.in {
			addr, err := mail.ParseAddress(a)
			if err != nil {
				return nil, fmt.Errorf("email %s: %q: %w", spec.Name, a, err)
			}
			*l.out = append(*l.out, addr)
		}
	}
	d.addr = net.JoinHostPort(s.Host, strconv.Itoa(s.PortOrDefault()))
	return d, nil
}

// Destination is one configured email destination.
type Destination struct {
	name         string
	s            *delivery.Email
	env          delivery.Env
	tmpl         *delivery.EmailTemplates
	maxSize      int64
	from         *mail.Address
	to, cc, bcc  []*mail.Address
	addr         string        // host:port
	ioTimeoutFor time.Duration // ioTimeout when 0 (tests shorten it)
}

// ioTimeout bounds each read and write of a session (and the dial, EHLO,
// STARTTLS and AUTH together): a server that stops answering fails the
// attempt after it even when the attempt's context allows longer.
const ioTimeout = time.Minute

func (d *Destination) timeout() time.Duration {
	if d.ioTimeoutFor > 0 {
		return d.ioTimeoutFor
	}
	return ioTimeout
}

// Deliver sends one message for r. A repeated call sends it again, with the
// same Message-ID (at least once).
func (d *Destination) Deliver(ctx context.Context, r *delivery.Report) (delivery.Receipt, error) {
	msg, cleanup, err := d.compose(r)
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		return delivery.Receipt{}, d.wrap(err, nil)
	}
	sess, err := d.dial(ctx)
	if err != nil {
		return delivery.Receipt{}, err
	}
	defer sess.close()
	resp, err := sess.send(d, msg)
	if err != nil {
		return delivery.Receipt{}, d.wrap(sess.ctxErr(err), sess.secrets)
	}
	d.log().Debug("email sent", "destination", d.name, "server", d.addr, "message_id", msg.id, "response", resp)
	rec := delivery.Receipt{ID: msg.id}
	for _, a := range msg.files {
		rec.Items = append(rec.Items, fmt.Sprintf("%s (%d bytes)", a.name, a.size))
	}
	for _, l := range msg.links {
		rec.Items = append(rec.Items, "link "+l)
	}
	if resp != "" {
		rec.Items = append(rec.Items, "server: "+resp)
	}
	return rec, nil
}

// Check connects, says EHLO, upgrades with STARTTLS when configured,
// authenticates and quits, without sending anything.
func (d *Destination) Check(ctx context.Context) error {
	sess, err := d.dial(ctx)
	if err != nil {
		return err
	}
	defer sess.close()
	sess.conn.extend(d.timeout())
	if err := sess.client.Quit(); err != nil {
		return d.wrap(sess.ctxErr(err), sess.secrets)
	}
	return nil
}

func (d *Destination) log() *slog.Logger {
	if d.env.Log != nil {
		return d.env.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (d *Destination) now() time.Time {
	if d.env.Now != nil {
		return d.env.Now()
	}
	return time.Now()
}

// --- the message -----------------------------------------------------------

// composed is a message and what it carries, for the receipt.
type composed struct {
	*message
	links []string
}

// compose builds the message of r, applying the size policy: the files
// attached, or zipped into one attachment, or linked. cleanup removes the
// zip file it wrote.
func (d *Destination) compose(r *delivery.Report) (*composed, func(), error) {
	var files []delivery.File
	if d.s.Attaches() {
		files = r.Files
	}
	// A file that is not the size the run wrote fails before the session.
	for _, f := range files {
		fi, err := os.Stat(f.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("report file %s: %w", f.Path, err)
		}
		if fi.Size() != f.Size {
			return nil, nil, delivery.Permanent(fmt.Errorf("report file %s: %w: %d bytes, the run wrote %d", f.Path, errChanged, fi.Size(), f.Size))
		}
	}
	data := &delivery.EmailData{Report: r}
	atts := attachments(files)
	for _, a := range atts {
		data.Attached = append(data.Attached, delivery.EmailFile{Name: a.name, Size: a.size})
	}
	if len(files) == 0 && d.tmpl.LinkBase != nil {
		// Not attached (attach: false): linked, when there is where.
		links, err := d.links(r)
		if err != nil {
			return nil, nil, err
		}
		data.Links = links
	}
	m, err := d.render(r, data, atts)
	if err != nil {
		return nil, nil, err
	}
	size := m.size()
	if size <= d.maxSize {
		return m, nil, nil
	}

	over := fmt.Sprintf("the message with its %d attachments is %d bytes (%s), over max_size %d (%s)",
		len(atts), size, delivery.FormatEmailSize(size), d.maxSize, d.s.MaxSize)
	if d.s.MaxSize == "" {
		over = fmt.Sprintf("the message with its %d attachments is %d bytes, over max_size (default %d)", len(atts), size, d.maxSize)
	}
	switch d.s.OverSizePolicy() {
	case delivery.EmailOverSizeFail:
		return nil, nil, delivery.Permanent(errors.New(over + " and over_size is fail: nothing was sent"))

	case delivery.EmailOverSizeZip:
		zpath, zsize, err := zipFiles("", files, d.now())
		if err != nil {
			return nil, nil, fmt.Errorf("zipping the attachments: %w", err)
		}
		cleanup := func() { os.Remove(zpath) }
		name := zipAttachmentName(r)
		atts = []attachment{{name: name, contentType: "application/zip", path: zpath, size: zsize}}
		data.Attached = []delivery.EmailFile{{Name: name, Size: zsize}}
		data.Zip = name
		if m, err = d.render(r, data, atts); err != nil {
			return nil, cleanup, err
		}
		if zs := m.size(); zs > d.maxSize {
			return nil, cleanup, delivery.Permanent(fmt.Errorf("%s, and %d bytes with them zipped (over_size: zip): nothing was sent; raise max_size (up to the server's limit) or use over_size: link", over, zs))
		}
		return m, cleanup, nil

	default: // link
		links, err := d.links(r)
		if err != nil {
			return nil, nil, err
		}
		data.Attached, data.Links = nil, links
		if m, err = d.render(r, data, nil); err != nil {
			return nil, nil, err
		}
		if ls := m.size(); ls > d.maxSize {
			return nil, nil, delivery.Permanent(fmt.Errorf("%s, and %d bytes without them (over_size: link): nothing was sent", over, ls))
		}
		return m, nil, nil
	}
}

// attachments are the files as attachments, each named by its file name,
// or by its path relative to output_dir (with _ for /) when two files
// have the same name.
func attachments(files []delivery.File) []attachment {
	count := map[string]int{}
	for _, f := range files {
		count[path.Base(zipName(f))]++
	}
	var atts []attachment
	for _, f := range files {
		name := path.Base(zipName(f))
		if count[name] > 1 {
			name = strings.ReplaceAll(zipName(f), "/", "_")
		}
		atts = append(atts, attachment{name: name, contentType: contentType(f), path: f.Path, size: f.Size, sha256: f.SHA256})
	}
	return atts
}

// zipAttachmentName is the zip's name: the job and the logical time, as
// the manifest is named.
func zipAttachmentName(r *delivery.Report) string {
	return safeFileName(r.Job) + "-" + r.Logical.UTC().Format("20060102T150405Z") + ".zip"
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeFileName(s string) string {
	s = unsafeFileChars.ReplaceAllString(s, "_")
	if s == "" {
		return "report"
	}
	return s
}

// links are the links to the files of r: link_base followed by each
// file's path relative to output_dir, each segment escaped.
func (d *Destination) links(r *delivery.Report) ([]delivery.EmailFile, error) {
	var b bytes.Buffer
	if err := d.tmpl.LinkBase.Execute(&b, &delivery.EmailData{Report: r}); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("link_base: %w", err))
	}
	base := strings.TrimSpace(b.String())
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	var out []delivery.EmailFile
	for _, f := range r.Files {
		segs := strings.Split(zipName(f), "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		out = append(out, delivery.EmailFile{Name: zipName(f), Size: f.Size, URL: base + strings.Join(segs, "/")})
	}
	return out, nil
}

// render executes the templates over data and builds the message.
func (d *Destination) render(r *delivery.Report, data *delivery.EmailData, atts []attachment) (*composed, error) {
	var subject, text, htmlBody bytes.Buffer
	if err := d.tmpl.Subject.Execute(&subject, data); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("subject: %w", err))
	}
	if err := d.tmpl.Body.Execute(&text, data); err != nil {
		return nil, delivery.Permanent(fmt.Errorf("body: %w", err))
	}
	if d.tmpl.HTML != nil {
		if err := d.tmpl.HTML.Execute(&htmlBody, data); err != nil {
			return nil, delivery.Permanent(fmt.Errorf("html: %w", err))
		}
	}
	c := &composed{message: &message{
		id:       messageID(r, d.name, d.from),
		boundary: newBoundary(),
		text:     text.String(),
		html:     htmlBody.String(),
		files:    atts,
	}}
	// The links are never left out by a template that does not show them.
	var missing []delivery.EmailFile
	for _, l := range data.Links {
		c.links = append(c.links, l.URL)
		if !strings.Contains(c.text, l.URL) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		var b strings.Builder
		b.WriteString(strings.TrimRight(c.text, "\n"))
		b.WriteString("\n\nFiles (not attached):\n")
		for _, l := range missing {
			fmt.Fprintf(&b, "  %s (%d bytes)\n", l.URL, l.Size)
		}
		c.text = b.String()
	}
	if c.html != "" {
		var b strings.Builder
		for _, l := range data.Links {
			if !strings.Contains(c.html, html.EscapeString(l.URL)) {
				fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a> (%d bytes)</li>\n", html.EscapeString(l.URL), html.EscapeString(l.Name), l.Size)
			}
		}
		if b.Len() > 0 {
			c.html += "\n<p>Files (not attached):</p>\n<ul>\n" + b.String() + "</ul>\n"
		}
	}
	subj := strings.Join(strings.Fields(subject.String()), " ")
	if subj == "" {
		subj = r.Job
	}
	c.header = headerBlock(d.now(), c.id, d.from, d.to, d.cc, subj, r)
	return c, nil
}

var (
	unsafeIDChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
	asciiDomain   = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$`)
)

// messageID is the Message-ID of the message of run r to destination
// dest: the same for every attempt and every re-send of the run, so that
// a repeated message is recognisable as one (and mail systems that drop
// duplicates drop it): RUNID.JOB.DEST@domain of From.
func messageID(r *delivery.Report, dest string, from *mail.Address) string {
	clean := func(s string) string {
		s = unsafeIDChars.ReplaceAllString(s, "_")
		if s == "" {
			return "_"
		}
		return s
	}
	domain := "joinery.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		if dom := from.Address[i+1:]; asciiDomain.MatchString(dom) {
			domain = dom
		}
	}
	return clean(r.RunID) + "." + clean(r.Job) + "." + clean(dest) + "@" + domain
}

// --- the session -----------------------------------------------------------

// session is one SMTP connection, authenticated.
type session struct {
	ctx     context.Context
	client  *gosmtp.Client
	conn    *ctxConn
	stop    func() bool // stops the context's watch of conn
	secrets []string
}

func (s *session) close() {
	if s.stop != nil {
		s.stop()
	}
	if s.client != nil {
		_ = s.client.Close()
	} else if s.conn != nil {
		_ = s.conn.Close()
	}
}

// ctxErr adds the context's error to err when the context ended: the
// attempt was cancelled or timed out, which the I/O error alone does not
// say.
func (s *session) ctxErr(err error) error {
	cerr := s.ctx.Err()
	// The connection's deadline is the context's (ctxConn.clip): an I/O
	// timeout at that deadline can come back a moment before the
	// context's own timer has marked it done.
	if d, ok := s.ctx.Deadline(); cerr == nil && ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// dial connects, says EHLO, upgrades the connection (STARTTLS) or starts
// with TLS, and authenticates.
func (d *Destination) dial(ctx context.Context) (*session, error) {
	s := &session{ctx: ctx}
	user, pass, err := d.credentials()
	if err != nil {
		return nil, d.wrap(err, nil)
	}
	if pass != "" {
		s.secrets = secretForms(user, pass)
	}
	tlsConfig, err := d.tlsConfig()
	if err != nil {
		return nil, d.wrap(err, s.secrets)
	}
	implicit := d.s.TLSMode() == delivery.EmailTLS
	dialFunc := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		raw, err := nd.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := &ctxConn{Conn: raw, ctx: ctx}
		s.conn = c
		s.stop = context.AfterFunc(ctx, c.cancel)
		if !implicit {
			return c, nil
		}
		tc := tls.Client(c, tlsConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			return nil, err
		}
		return tc, nil
	}
	opts := []gomail.Option{
		gomail.WithPort(d.s.PortOrDefault()),
		gomail.WithTimeout(d.timeout()),
		gomail.WithDialContextFunc(dialFunc),
		gomail.WithTLSConfig(tlsConfig),
	}
	switch d.s.TLSMode() {
	case delivery.EmailStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default: // tls (done by dialFunc), none
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if user != "" {
		opts = append(opts, gomail.WithUsername(user), gomail.WithPassword(pass),
			// PLAIN and LOGIN refuse a connection without TLS, but to
			// localhost (go-mail's smtp checks).
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin, gomail.SMTPAuthCramMD5))
	}
	c, err := gomail.NewClient(d.s.Host, opts...)
	if err != nil {
		return nil, d.wrap(delivery.Permanent(err), s.secrets)
	}
	client, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		s.close()
		return nil, d.wrap(s.ctxErr(classifyDial(err, user)), s.secrets)
	}
	s.client = client
	return s, nil
}

// credentials reads the username and the password from the settings, the
// environment or the password file.
func (d *Destination) credentials() (user, pass string, err error) {
	if d.s.Username == "" {
		return "", "", nil
	}
	if user, err = config.ExpandEnv(d.s.Username); err != nil {
		return "", "", delivery.Permanent(fmt.Errorf("username: %w", err))
	}
	if d.s.PasswordFile != "" {
		name, err := config.ExpandEnv(d.s.PasswordFile)
		if err != nil {
			return "", "", delivery.Permanent(fmt.Errorf("password_file: %w", err))
		}
		b, err := os.ReadFile(name)
		if err != nil {
			// Say which file, never what it holds.
			var pe *os.PathError
			if errors.As(err, &pe) {
				return "", "", fmt.Errorf("password_file %s: %w", name, pe.Err)
			}
			return "", "", fmt.Errorf("password_file %s: cannot read it", name)
		}
		return user, strings.TrimRight(string(b), "\r\n"), nil
	}
	if pass, err = config.ExpandEnv(d.s.Password); err != nil {
		return "", "", delivery.Permanent(fmt.Errorf("password: %w", err))
	}
	if pass == "" {
		return "", "", delivery.Permanent(errors.New("password: the environment variable is empty"))
	}
	return user, pass, nil
}

// tlsConfig is the TLS configuration: the host's name, TLS 1.2 or later,
// the system's roots and those of ca_file.
func (d *Destination) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: d.s.Host, MinVersion: tls.VersionTLS12}
	if d.s.CAFile == "" {
		return cfg, nil
	}
	name, err := config.ExpandEnv(d.s.CAFile)
	if err != nil {
		return nil, delivery.Permanent(fmt.Errorf("ca_file: %w", err))
	}
	pem, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, delivery.Permanent(fmt.Errorf("ca_file %s: no PEM certificate in it", name))
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// send sends the message: MAIL, RCPT for each recipient, DATA. It returns
// the server's answer to the message.
func (s *session) send(d *Destination, m *composed) (string, error) {
	size := m.size()
	if ok, v := s.client.Extension("SIZE"); ok {
		if limit, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && limit > 0 && size > limit {
			return "", delivery.Permanent(fmt.Errorf("the message is %d bytes and the server takes at most %d (its SIZE): set max_size to at most %d", size, limit, limit))
		}
	}
	t := d.timeout()
	s.conn.extend(t)
	if err := s.client.Mail((&mail.Address{Address: d.from.Address}).String()); err != nil {
		return "", classify(fmt.Errorf("MAIL FROM %s refused: %w", d.from.Address, err))
	}
	for _, list := range [][]*mail.Address{d.to, d.cc, d.bcc} {
		for _, a := range list {
			s.conn.extend(t)
			if err := s.client.Rcpt((&mail.Address{Address: a.Address}).String()); err != nil {
				// No recipient gets it when one is refused: a retry then
				// sends it to no one twice.
				return "", classify(fmt.Errorf("recipient %s refused: %w", a.Address, err))
			}
		}
	}
	s.conn.extend(t)
	w, err := s.client.Data()
	if err != nil {
		return "", classify(fmt.Errorf("DATA refused: %w", err))
	}
	if _, err := m.writeTo(&idleWriter{w: w, conn: s.conn, t: t}); err != nil {
		// Drop the connection without ending DATA: the server discards
		// the incomplete message.
		s.conn.cancel()
		return "", classify(err)
	}
	s.conn.extend(t)
	if err := w.Close(); err != nil {
		return "", classify(fmt.Errorf("message refused: %w", err))
	}
	resp := ""
	if dc, ok := w.(*gosmtp.DataCloser); ok {
		resp = dc.ServerResponse()
	}
	s.conn.extend(t)
	_ = s.client.Quit() // the message is accepted: a failed QUIT changes nothing
	return resp, nil
}

// idleWriter extends the connection's deadline before each write.
type idleWriter struct {
	w    io.Writer
	conn *ctxConn
	t    time.Duration
}

func (w *idleWriter) Write(p []byte) (int, error) {
	w.conn.extend(w.t)
	return w.w.Write(p)
}

// ctxConn is a connection whose deadlines never pass the context's, and
// whose I/O fails as soon as the context is cancelled.
type ctxConn struct {
	net.Conn
	ctx context.Context
	mu  sync.Mutex
}

var past = time.Unix(1, 0)

func (c *ctxConn) clip(t time.Time) time.Time {
	if c.ctx.Err() != nil {
		return past
	}
	if d, ok := c.ctx.Deadline(); ok && (t.IsZero() || d.Before(t)) {
		return d
	}
	return t
}

func (c *ctxConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetDeadline(c.clip(t))
}

func (c *ctxConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetReadDeadline(c.clip(t))
}

func (c *ctxConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetWriteDeadline(c.clip(t))
}

// extend sets the deadline t from now (clipped to the context's).
func (c *ctxConn) extend(t time.Duration) { _ = c.SetDeadline(time.Now().Add(t)) }

// cancel fails the connection's pending and future I/O.
func (c *ctxConn) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.Conn.SetDeadline(past)
}

// --- errors ------------------------------------------------------------------

// classifyDial classifies an error of dial, EHLO, STARTTLS or AUTH.
func classifyDial(err error, user string) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "SMTP AUTH failed"):
		var te *textproto.Error
		if errors.As(err, &te) && te.Code < 500 {
			return fmt.Errorf("authentication of user %s failed for now: %w", user, err)
		}
		return delivery.Permanent(fmt.Errorf("authentication refused for user %s: %w", user, err))
	case strings.Contains(msg, "does not support SMTP AUTH"),
		errors.Is(err, gomail.ErrNoSupportedAuthDiscovered),
		errors.Is(err, gosmtp.ErrUnencrypted):
		return delivery.Permanent(fmt.Errorf("authentication impossible for user %s: %w", user, err))
	case strings.Contains(msg, "does not support STARTTLS"):
		return delivery.Permanent(fmt.Errorf("%w (tls: starttls needs it; tls: none is only for loopback)", err))
	}
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	if errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &authErr) {
		return delivery.Permanent(fmt.Errorf("TLS: the server's certificate is not trusted (ca_file adds a CA): %w", err))
	}
	return classify(err)
}

// classify marks an error permanent when the server said so (a 5xx
// reply); connection errors, timeouts and 4xx replies are for another
// attempt.
func classify(err error) error {
	if delivery.IsPermanent(err) {
		return err
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return delivery.Permanent(err)
	}
	return err
}

// wrap names the destination's server in err, and takes any form of the
// password out of its text.
func (d *Destination) wrap(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("smtp %s: %w", d.addr, err)
	msg := err.Error()
	redacted := msg
	for _, s := range secrets {
		if len(s) >= 3 {
			redacted = strings.ReplaceAll(redacted, s, "[redacted]")
		}
	}
	if redacted == msg {
		return err
	}
	e := errors.New(redacted)
	if delivery.IsPermanent(err) {
		return delivery.Permanent(e)
	}
	return e
}

// secretForms are the forms the password may take in a session's text:
// itself, and the base64 of what PLAIN and LOGIN send.
func secretForms(user, pass string) []string {
	enc := base64.StdEncoding.EncodeToString
	return []string{pass, enc([]byte(pass)), enc([]byte("\x00" + user + "\x00" + pass))}
}
