package sftp

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/internal/testnet"
)

// passwordServer is an SSH server in the test (golang.org/x/crypto/ssh
// with pkg/sftp's server on this machine's files) that takes one user's
// password: the test sshd takes keys only, since a password login there
// would need a password on a system user.
func passwordServer(t *testing.T, user, password string) (addr string, hostKey ssh.PublicKey) {
	t.Helper()
	signer := newKey(t)
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == user && string(pw) == password {
				return nil, nil
			}
			return nil, errPasswordRefused
		},
	}
	cfg.AddHostKey(signer)
	addr = testnet.Serve(t, func(c net.Conn) { serveSFTP(c, cfg) })
	return addr, signer.PublicKey()
}

var errPasswordRefused = errors.New("password refused")

// serveSFTP serves the sftp subsystem on one connection.
func serveSFTP(c net.Conn, cfg *ssh.ServerConfig) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for req := range creqs {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				_ = req.Reply(ok, nil)
				if ok {
					go func() {
						if srv, err := sftp.NewServer(ch); err == nil {
							_ = srv.Serve()
						}
						ch.Close()
					}()
				}
			}
		}()
	}
}

func TestPasswordLogin(t *testing.T) {
	const password = "correct-horse-SECRET"
	addr, hostKey := passwordServer(t, "joinery", password)
	host, port, _ := net.SplitHostPort(addr)
	t.Setenv("JOINERY_TEST_PW", password)
	t.Setenv("JOINERY_TEST_PW_WRONG", "wrong-SECRET-pw")
	set := delivery.SFTP{
		Host: host, User: "joinery", Password: "${JOINERY_TEST_PW}",
		HostKey: string(ssh.MarshalAuthorizedKey(hostKey)),
		Dir:     t.TempDir() + "/{{.Job}}",
		Timeout: 10 * time.Second,
	}
	set.Port = mustAtoi(t, port)
	d := newDest(t, set)
	r := report(t, "r1", threeFiles)
	if err := d.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deliver(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	checkFolder(t, remoteDir(t, d, r), r)

	set.Password = "${JOINERY_TEST_PW_WRONG}"
	_, err := newDest(t, set).Deliver(context.Background(), r)
	if !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a wrong password: %v, want a permanent refusal", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("the error shows a password: %v", err)
	}
	t.Log(err)
}
