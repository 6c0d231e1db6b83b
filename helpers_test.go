package openssl_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// pki is a testcert.PKI under the names this package's tests use.
type pki struct {
	ca             *testcert.CA
	server, client *testcert.Pair
	dir, caFile    string
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := testcert.NewPKI(t, "test CA", testcert.Options{})
	return &pki{ca: p.CA, server: p.Server, client: p.Client, dir: p.Dir, caFile: p.CAFile}
}

func (p *pki) pool() *x509.CertPool { return p.ca.Pool() }

// newTLSServerCtx is a TLS server Ctx with the server certificate and a
// CookieSigner installed.
func newTLSServerCtx(t testing.TB, p *pki, signer *openssl.CookieSigner) *openssl.Ctx {
	t.Helper()
	ctx, err := openssl.NewCtx(openssl.TLSServerMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	require.NoError(t, ctx.UseCertificatePEM(p.server.CertPEM))
	require.NoError(t, ctx.UsePrivateKeyPEM(p.server.KeyPEM))
	if signer != nil {
		require.NoError(t, signer.Install(ctx))
	}
	return ctx
}

func newSigner(t testing.TB, secret []byte) *openssl.CookieSigner {
	t.Helper()
	s, err := openssl.NewCookieSigner(secret, 0)
	require.NoError(t, err)
	return s
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	r := <-ch
	require.NoError(t, r.err)
	t.Cleanup(func() { client.Close(); r.c.Close() })
	return client, r.c
}

func goTLSClient(conn net.Conn, p *pki, maxVersion uint16) *tls.Conn {
	return tls.Client(conn, &tls.Config{
		RootCAs:    p.pool(),
		ServerName: "localhost",
		MinVersion: tls.VersionTLS12,
		MaxVersion: maxVersion,
	})
}

func isRetry(err error) bool { return errors.Is(err, openssl.ErrRetry) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }
