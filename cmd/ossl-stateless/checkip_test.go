package main

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testcert"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// handshakeTLS runs a TLS 1.3 handshake in process between a server
// presenting certPEM (a leaf, maybe followed by its chain) and a client,
// and returns the client's StreamConn.
func handshakeTLS(t *testing.T, certPEM, keyPEM []byte) *openssl.StreamConn {
	t.Helper()
	sctx, err := openssl.NewCtx(openssl.TLSServerMethod)
	require.NoError(t, err)
	t.Cleanup(func() { sctx.Close() })
	require.NoError(t, sctx.UseCertificatePEM(certPEM))
	require.NoError(t, sctx.UsePrivateKeyPEM(keyPEM))
	cctx, err := openssl.NewCtx(openssl.TLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { cctx.Close() })

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		_ = c.SetDeadline(time.Now().Add(testpeer.Timeout))
		s, err := openssl.NewServerConn(c, sctx)
		if err != nil {
			c.Close()
			done <- err
			return
		}
		t.Cleanup(func() { s.Close() })
		done <- s.Handshake()
	}()
	raw, err := net.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, raw.SetDeadline(time.Now().Add(testpeer.Timeout)))
	c, err := openssl.NewClientConn(raw, cctx)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Handshake())
	require.NoError(t, <-done)
	return c
}

// TestCheckIP covers the client's IP address check for OpenSSL 1.1.1,
// whose SSL_set1_host takes no IP address, on whatever OpenSSL runs here:
// a one-certificate chain is checked in Go; a longer one is refused with
// an explanation, because PeerCertificates corrupts all but its last
// certificate.
func TestCheckIP(t *testing.T) {
	ca := testcert.NewCA(t, "checkIP CA")
	leaf := ca.Issue(t, "localhost", testcert.Options{}) // IP SANs 127.0.0.1 and ::1

	c := handshakeTLS(t, leaf.CertPEM, leaf.KeyPEM)
	assert.NoError(t, checkIP(c.SSL(), "127.0.0.1"))
	assert.NoError(t, checkIP(c.SSL(), "::1"))
	err := checkIP(c.SSL(), "10.1.2.3")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate is valid for 127.0.0.1, ::1, not 10.1.2.3 (connect by a name the certificate carries, or set -servername)")

	chain := handshakeTLS(t, append(append([]byte{}, leaf.CertPEM...), ca.CertPEM...), leaf.KeyPEM)
	err = checkIP(chain.SSL(), "127.0.0.1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot check IP address 127.0.0.1 on OpenSSL")
	assert.Contains(t, err.Error(), "when the server sends a chain of certificates")
}
