package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
)

// TestServerCookieSecret checks that -cookie-secret keys the server's
// cookies with the file's bytes exactly as they are: the cookie of its
// HelloVerifyRequest verifies under a CookieSigner made in this process
// from the same bytes (as it would on any other instance given the file),
// and not under one whose secret lacks the file's trailing newline. The
// lines of text are the case most likely to go wrong (openssl rand -hex 32
// > file): a server that trimmed or decoded them would mint cookies that
// an instance reading the file raw refuses.
func TestServerCookieSecret(t *testing.T) {
	secret := []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n")
	path := filepath.Join(t.TempDir(), "cookie.key")
	require.NoError(t, os.WriteFile(path, secret, 0o600))
	srv, addr := startServer(t, "-cookie-secret", path, "-cookie-lifetime", "60s")

	same, err := openssl.NewCookieSigner(secret, time.Minute)
	require.NoError(t, err)
	trimmed, err := openssl.NewCookieSigner(bytes.TrimSpace(secret), time.Minute)
	require.NoError(t, err)

	raddr, err := net.ResolveUDPAddr("udp", addr)
	require.NoError(t, err)
	c, err := net.DialUDP("udp", nil, raddr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	me := c.LocalAddr().(*net.UDPAddr).AddrPort()

	_, err = c.Write(record.ClientHelloDatagram{}.Bytes())
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	require.NoError(t, err, "the server's answer to a first ClientHello")
	cookie, err := hvrCookie(buf[:n])
	require.NoError(t, err, "the answer is a HelloVerifyRequest")

	assert.True(t, same.Verify(cookie, me), "the server's cookie verifies under the file's bytes")
	assert.False(t, trimmed.Verify(cookie, me), "nor under the file's bytes without their newline")
	assert.Contains(t, stopServer(t, srv), "cookies_sent=1 ")
}
