package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// The environment variables Auth comes from (see AuthFromEnv).
const (
	EnvToken    = "JOINERY_HTTP_TOKEN"
	EnvUser     = "JOINERY_HTTP_USER"
	EnvPassword = "JOINERY_HTTP_PASSWORD"
)

// Auth is what a request must carry: a bearer token, or a user and
// password (basic authentication), or either when both are set. With
// neither, every request is let in, and Listen only listens on a loopback
// address.
type Auth struct {
	Token          string
	User, Password string
}

// AuthFromEnv reads Auth from the environment: JOINERY_HTTP_TOKEN, and
// JOINERY_HTTP_USER with JOINERY_HTTP_PASSWORD (one without the other is
// an error).
func AuthFromEnv(getenv func(string) string) (Auth, error) {
	a := Auth{Token: getenv(EnvToken), User: getenv(EnvUser), Password: getenv(EnvPassword)}
	if (a.User == "") != (a.Password == "") {
		return Auth{}, fmt.Errorf("set both %s and %s for basic authentication, or neither", EnvUser, EnvPassword)
	}
	return a, nil
}

// Configured reports whether a requests must authenticate.
func (a Auth) Configured() bool { return a.Token != "" || a.User != "" }

// allows reports whether r carries the token, or the user and password.
// The comparisons take the same time whatever the values.
func (a Auth) allows(r *http.Request) bool {
	if !a.Configured() {
		return true
	}
	ok := 0
	if a.Token != "" {
		if tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
			ok |= equal(tok, a.Token)
		}
	}
	if a.User != "" {
		if u, p, found := r.BasicAuth(); found {
			ok |= equal(u, a.User) & equal(p, a.Password)
		}
	}
	return ok == 1
}

// challenge is the WWW-Authenticate header of a 401.
func (a Auth) challenge() string {
	if a.User != "" {
		return `Basic realm="joinery", charset="UTF-8"`
	}
	return `Bearer realm="joinery"`
}

// equal compares the SHA-256 of a and b in constant time: neither the
// length nor the content of the secret shows in how long it takes.
func equal(a, b string) int {
	x, y := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(x[:], y[:])
}

// ErrNeedsAuth is returned by Listen for an address that is not a
// loopback one when no authentication is configured.
var ErrNeedsAuth = errors.New("listening on an address other than loopback needs authentication: set " + EnvToken + ", or " + EnvUser + " and " + EnvPassword)

// Listen listens on addr (host:port). Without auth configured it refuses
// (ErrNeedsAuth) any address that is not a loopback one: "127.0.0.1:8080",
// "[::1]:8080" and "localhost:8080" are, ":8080" (every interface) is not.
func Listen(addr string, auth Auth) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	if !auth.Configured() && !loopbackHost(host) {
		return nil, fmt.Errorf("--listen %s: %w", addr, ErrNeedsAuth)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// localhost could name another address: what counts is where it listens.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !auth.Configured() && !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("--listen %s (%s): %w", addr, tcp, ErrNeedsAuth)
	}
	return ln, nil
}

// loopbackHost reports whether host is localhost or a loopback IP address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackRequest reports whether r names a loopback host (its Host
// header): without authentication only those are served, so that a page
// of another site whose name resolves to 127.0.0.1 (DNS rebinding) cannot
// read the status page and its form token.
func loopbackRequest(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return loopbackHost(strings.Trim(host, "[]"))
}
