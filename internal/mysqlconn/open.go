// Package mysqlconn is joinery's MySQL plumbing below package jobs: it
// opens the connection pool (text read as utf8mb4, temporal values as
// text, every value bound server-side, reads through a buffer), reads a
// query's rows straight from the driver (Query, Rows), holds a job run's
// session (its named lock, its snapshot, the KILL of its query when the
// run is cancelled: Session) and tells the errors that may pass from the
// others (Transient). It knows nothing of jobs: what it needs comes as
// parameters (Options, a job's name). See docs/ARCHITECTURE-run.md.
package mysqlconn

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Options are the pool's settings, from the configuration's database
// section. A timeout the DSN sets itself wins over the one here.
type Options struct {
	ConnectTimeout, ReadTimeout, WriteTimeout time.Duration
	MaxOpenConns                              int
	ConnMaxLifetime                           time.Duration
	// Second is set for another pool on a DSN whose first pool logged
	// what Open says of it (the character set it overrides).
	Second bool
}

// Open opens a connection pool to dsn with the settings of o. Whatever
// the DSN says, joinery reads temporal values as text (parseTime=false, so
// zero dates survive), binds every value server-side (no client-side
// interpolation) and runs one statement per call; the session time zone is
// UTC so that TIMESTAMP values arrive as UTC instants; and the session's
// character sets are utf8mb4 (see forceUTF8MB4), which Open logs at info
// level when the DSN asked for another.
//
// The driver's own messages (a connection dropped mid-packet, say) go to
// log at warn level, when log is not nil, instead of its default of
// stderr, outside the structured log.
func Open(dsn string, o Options, log *slog.Logger) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The parser's message never echoes the DSN, which may hold a password.
		return nil, fmt.Errorf("database.dsn: %w", err)
	}
	cfg.ParseTime = false
	cfg.InterpolateParams = false
	cfg.MultiStatements = false
	cfg.Loc = time.UTC
	if cfg.Timeout == 0 {
		cfg.Timeout = o.ConnectTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = o.ReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = o.WriteTimeout
	}
	if cfg.Params == nil {
		cfg.Params = make(map[string]string)
	}
	cfg.Params["time_zone"] = "'+00:00'"
	overridden, err := forceUTF8MB4(cfg, dsn)
	if err != nil {
		return nil, fmt.Errorf("database.dsn: %w", err)
	}
	if len(overridden) > 0 && log != nil && !o.Second {
		log.Info("the DSN's character set is overridden: joinery reads and sends text as utf8mb4",
			"dsn_settings", strings.Join(overridden, "&"))
	}
	switch cfg.Net {
	case "tcp", "tcp4", "tcp6", "unix":
		cfg.DialFunc = dialBuffered
	}
	if log != nil {
		cfg.Logger = driverLogger{log}
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("database.dsn: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(o.MaxOpenConns)
	db.SetMaxIdleConns(o.MaxOpenConns)
	db.SetConnMaxLifetime(o.ConnMaxLifetime)
	return db, nil
}

// charsetVars are the session variables that decide the character set of
// the text a connection sends and reads.
var charsetVars = []string{"character_set_client", "character_set_connection", "character_set_results", "collation_connection"}

// forceUTF8MB4 makes every connection of cfg exchange text as utf8mb4, so
// that text columns of any character set arrive as UTF-8 (the server
// converts them, a character utf8mb4 lacks cannot exist) and bound strings,
// which are UTF-8, are read as such: a DSN's charset=latin1 would have the
// server send é as the single byte 0xE9 and read a bound "é" as "Ã©".
// The driver then sends SET NAMES utf8mb4 on each new connection, which
// sets the client, connection and results character sets at once and also
// covers a server that ignores the handshake's (skip-character-set-client-
// handshake). The DSN's collation is dropped, even one of utf8mb4: the
// driver would add it to SET NAMES, and a server that does not know it
// refuses the connection (MariaDB and MySQL 8's utf8mb4_0900_ai_ci), where
// without a charset it only went into the handshake, which tolerates that.
// The session collation is then the server's default for utf8mb4; it only
// matters for comparing two bound values, columns compare by their own.
// DSN system variables that would undo SET NAMES are removed. Binary
// columns keep their bytes: the server converts no BINARY, VARBINARY or
// BLOB value. It returns the DSN settings it overrode, as key=value.
func forceUTF8MB4(cfg *mysql.Config, dsn string) ([]string, error) {
	var overridden []string
	// The driver keeps the charset parameter to itself: read it the way
	// its ParseDSN does.
	if cs, ok := dsnParam(dsn, "charset"); ok && cs != "utf8mb4" {
		overridden = append(overridden, "charset="+cs)
	}
	if cfg.Collation != "" {
		overridden = append(overridden, "collation="+cfg.Collation)
		cfg.Collation = ""
	}
	var vars []string
	for k, v := range cfg.Params {
		if slices.Contains(charsetVars, strings.ToLower(k)) {
			vars = append(vars, k+"="+v)
			delete(cfg.Params, k)
		}
	}
	slices.Sort(vars)
	return append(overridden, vars...), cfg.Apply(mysql.Charset("utf8mb4", ""))
}

// dsnParam returns the last value of the DSN parameter key as
// go-sql-driver/mysql's ParseDSN reads it: the parameters follow the first
// '?' after the last '/', separated by '&'.
func dsnParam(dsn, key string) (value string, found bool) {
	i := strings.LastIndexByte(dsn, '/')
	if i < 0 {
		return "", false
	}
	_, params, ok := strings.Cut(dsn[i+1:], "?")
	if !ok {
		return "", false
	}
	for kv := range strings.SplitSeq(params, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			value, found = v, true
		}
	}
	return value, found
}

// Redact returns dsn without its password, for logs and messages.
func Redact(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return fmt.Sprintf("%s@%s(%s)/%s", cfg.User, cfg.Net, cfg.Addr, cfg.DBName)
}

// readBufferSize is how much a connection reads from its socket at once.
const readBufferSize = 64 << 10

// dialBuffered connects like the driver would (with TCP keep-alives) and
// reads through a buffer: go-sql-driver/mysql reads 4 KB per system call,
// and 64 KB at a time saves most of those calls (see BENCHMARKS.md,
// numbers moved from code comments).
func dialBuffered(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetKeepAlive(true)
	}
	return &bufConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}, nil
}

// bufConn is a connection whose reads go through a buffer. Writes,
// deadlines and Close go straight to the connection.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

var errBuffered = errors.New("unexpected data from the server on an idle connection")

// SyscallConn serves the driver's liveness check of a pooled connection
// (a one-byte read from the socket, which must find nothing): bytes
// already in the buffer fail it as a byte on the socket would.
func (c *bufConn) SyscallConn() (syscall.RawConn, error) {
	if c.r.Buffered() > 0 {
		return nil, errBuffered
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("connection has no file descriptor")
	}
	return sc.SyscallConn()
}

// driverLogger hands go-sql-driver/mysql's messages to slog.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprint(v...)), "source", "mysql driver")
}
