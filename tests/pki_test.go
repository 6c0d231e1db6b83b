package tests

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// pki is a testcert.PKI for the tests and the peers: a CA, and a server
// certificate for "localhost", 127.0.0.1 and ::1, written to a temporary
// directory; with the configurations that use it.
type pki struct{ *testcert.PKI }

func newPKI(t *testing.T) *pki {
	t.Helper()
	return newPKIWith(t, testcert.Options{})
}

// newPKIWith is newPKI with options for the server certificate.
func newPKIWith(t *testing.T, o testcert.Options) *pki {
	t.Helper()
	return &pki{testcert.NewPKI(t, "interop test CA", o)}
}

// serverConfig is a dtls.Config for a server with p's certificate.
func (p *pki) serverConfig() *dtls.Config {
	return &dtls.Config{CertificatePEM: p.Server.CertPEM, KeyPEM: p.Server.KeyPEM}
}

// clientConfig is a dtls.Config for a client that trusts p's CA and
// expects serverName ("": the host of the address dialled).
func (p *pki) clientConfig(serverName string) *dtls.Config {
	return &dtls.Config{ServerName: serverName, RootCAs: p.Pool()}
}

// newServerCtx is a server Ctx of method m with p's server certificate and
// key, loaded from their files, and a CookieSigner with a random secret
// installed, closed at the end of the test.
func newServerCtx(t *testing.T, m openssl.Method, p *pki) (*openssl.Ctx, *openssl.CookieSigner) {
	t.Helper()
	ctx, err := openssl.NewCtx(m)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	require.NoError(t, ctx.UseCertificateFile(p.Server.CertFile))
	require.NoError(t, ctx.UsePrivateKeyFile(p.Server.KeyFile))
	signer, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	require.NoError(t, signer.Install(ctx))
	return ctx, signer
}
