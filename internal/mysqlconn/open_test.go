package mysqlconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestBufConn: reads come through the buffer, and the driver's liveness
// check (SyscallConn, then a read on the socket) fails while bytes wait in
// the buffer, as it would with the bytes still on the socket.
func TestBufConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("hello world"))
		_, _ = io.Copy(io.Discard, c)
	}()
	c, err := dialBuffered(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := make([]byte, 5)
	if _, err := io.ReadFull(c, p); err != nil || string(p) != "hello" {
		t.Fatalf("read %q, %v", p, err)
	}
	bc := c.(*bufConn)
	if bc.r.Buffered() == 0 {
		t.Fatal("the rest of the write was not buffered")
	}
	if _, err := bc.SyscallConn(); !errors.Is(err, errBuffered) {
		t.Fatalf("SyscallConn with buffered bytes: %v", err)
	}
	rest := make([]byte, 6)
	if _, err := io.ReadFull(c, rest); err != nil || string(rest) != " world" {
		t.Fatalf("read %q, %v", rest, err)
	}
	if _, err := bc.SyscallConn(); err != nil {
		t.Fatalf("SyscallConn on an idle connection: %v", err)
	}
}

// TestDriverLogger: the driver's messages become warn records of the run's
// structured log, not raw lines on stderr.
func TestDriverLogger(t *testing.T) {
	var buf bytes.Buffer
	l := driverLogger{slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Print("packets.go:58 ", "unexpected EOF\n")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %q", err, buf.String())
	}
	if rec["level"] != "WARN" || rec["msg"] != "packets.go:58 unexpected EOF" || rec["source"] != "mysql driver" {
		t.Errorf("got %v", rec)
	}
}

// TestForceUTF8MB4: whatever character set or collation a DSN asks for,
// the driver is set to send SET NAMES utf8mb4, and what was overridden is
// returned for the log.
func TestForceUTF8MB4(t *testing.T) {
	tests := []struct {
		dsn        string
		overridden []string
		want       string // the charset and collation parameters of the resulting DSN
	}{
		{"u@tcp(h:3306)/db", nil, "charset=utf8mb4"},
		{"u@tcp(h:3306)/db?charset=utf8mb4", nil, "charset=utf8mb4"},
		{"u@tcp(h:3306)/db?charset=latin1", []string{"charset=latin1"}, "charset=utf8mb4"},
		{"u:p?charset=x/y@tcp(h:3306)/db?charset=utf8mb4,utf8", []string{"charset=utf8mb4,utf8"}, "charset=utf8mb4"},
		{"u@tcp(h:3306)/db?charset=binary&charset=latin1", []string{"charset=latin1"}, "charset=utf8mb4"},
		{"u@tcp(h:3306)/db?collation=utf8mb4_bin", []string{"collation=utf8mb4_bin"}, "charset=utf8mb4"},
		{"u@tcp(h:3306)/db?charset=latin1&collation=latin1_bin", []string{"charset=latin1", "collation=latin1_bin"}, "charset=utf8mb4"},
		{"u@tcp(h:3306)/db?Character_Set_Results=latin1&sql_mode=ANSI&collation_connection=latin1_bin",
			[]string{"Character_Set_Results=latin1", "collation_connection=latin1_bin"}, "charset=utf8mb4"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			cfg, err := mysql.ParseDSN(tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			got, err := forceUTF8MB4(cfg, tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.overridden) {
				t.Errorf("overridden %q, want %q", got, tt.overridden)
			}
			var params []string
			_, query, _ := strings.Cut(cfg.FormatDSN()[strings.LastIndexByte(cfg.FormatDSN(), '/'):], "?")
			for kv := range strings.SplitSeq(query, "&") {
				if strings.HasPrefix(kv, "charset=") || strings.HasPrefix(kv, "collation=") {
					params = append(params, kv)
				}
			}
			if got := strings.Join(params, "&"); got != tt.want {
				t.Errorf("DSN's charset and collation %q, want %q", got, tt.want)
			}
			for k := range cfg.Params {
				if slices.Contains(charsetVars, strings.ToLower(k)) {
					t.Errorf("system variable %s is still set", k)
				}
			}
		})
	}
}

func TestRedactHidesPassword(t *testing.T) {
	got := Redact("reporter:hunter2@tcp(db:3306)/app?parseTime=true")
	if strings.Contains(got, "hunter2") || got != "reporter@tcp(db:3306)/app" {
		t.Errorf("Redact = %q", got)
	}
}
