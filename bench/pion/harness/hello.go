package harness

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"net"
	"time"
)

// Offsets in a one-record DTLS datagram: the 13-byte record header, the
// 12-byte handshake header, then the body. bench/c/common.c uses the same.
const (
	recordHeader    = 13
	handshakeHeader = 12
	// The ClientHello's cookie length byte: after version (2), random (32)
	// and an empty session id (1).
	cookieAt = recordHeader + handshakeHeader + 2 + 32 + 1
)

// DTLSClientHello is a DTLS 1.2 ClientHello in one record, without a
// cookie or extensions, as a flood would forge it: two ECDHE suites, no
// compression.
func DTLSClientHello() []byte {
	body := binary.BigEndian.AppendUint16(nil, 0xfefd)
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	body = append(body, random...)
	body = append(body, 0, 0) // session id, cookie: empty
	body = append(body, 0, 4, 0xc0, 0x2b, 0xc0, 0x2f, 1, 0)
	hs := []byte{1, 0, byte(len(body) >> 8), byte(len(body)), 0, 0, 0, 0, 0, 0, byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(hs) >> 8), byte(len(hs))}
	return append(rec, hs...)
}

// SpliceCookie returns hello (from DTLSClientHello) with cookie in it, as
// the client's second ClientHello.
func SpliceCookie(hello, cookie []byte) []byte {
	out := make([]byte, 0, len(hello)+len(cookie))
	out = append(out, hello[:cookieAt]...)
	out = append(out, byte(len(cookie)))
	out = append(out, cookie...)
	out = append(out, hello[cookieAt+1:]...)
	body := len(out) - recordHeader - handshakeHeader
	put24 := func(p []byte, v int) { p[0], p[1], p[2] = byte(v>>16), byte(v>>8), byte(v) }
	put24(out[recordHeader+1:], body) // length
	put24(out[recordHeader+9:], body) // fragment_length
	binary.BigEndian.PutUint16(out[11:], uint16(len(out)-recordHeader))
	return out
}

// IsHelloVerifyRequest reports whether a datagram starts with one.
func IsHelloVerifyRequest(b []byte) bool {
	return len(b) > recordHeader+handshakeHeader && b[0] == 22 && b[recordHeader] == 3
}

// HelloVerifyCookie returns the cookie of a HelloVerifyRequest datagram.
func HelloVerifyCookie(d []byte) ([]byte, error) {
	at := recordHeader + handshakeHeader + 2
	if !IsHelloVerifyRequest(d) || len(d) <= at || len(d) < at+1+int(d[at]) {
		return nil, errorf("not a HelloVerifyRequest")
	}
	return d[at+1 : at+1+int(d[at])], nil
}

// TLS13ClientHello is the first record Go's crypto/tls client sends for
// TLS 1.3 only, with an X25519 key share.
func TLS13ClientHello() ([]byte, error) {
	c := &captureConn{}
	cl := tls.Client(c, &tls.Config{
		ServerName: "localhost", MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	})
	_ = cl.Handshake() // fails at the first Read: the ClientHello is written by then
	if len(c.first) == 0 {
		return nil, errorf("crypto/tls wrote no ClientHello")
	}
	return c.first, nil
}

// captureConn keeps the first Write and fails every Read.
type captureConn struct{ first []byte }

func (c *captureConn) Write(p []byte) (int, error) {
	if c.first == nil {
		c.first = append([]byte(nil), p...)
	}
	return len(p), nil
}
func (c *captureConn) Read([]byte) (int, error)         { return 0, errorf("capture only") }
func (c *captureConn) Close() error                     { return nil }
func (c *captureConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *captureConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }
