package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
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
