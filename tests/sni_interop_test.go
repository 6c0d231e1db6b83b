package tests

// Certificates chosen by SNI (issue 12) as openssl s_client sees them:
//
//	go test -run 'SNI' ./tests/

import (
	"crypto/tls"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

func TestSNIListenerWithOpenSSLClients(t *testing.T) {
	opensslBin(t)
	ca := testcert.NewCA(t, "sni interop CA")
	caFile := ca.WriteCA(t, t.TempDir())
	var certs []tls.Certificate
	for _, name := range []string{"a.example", "b.example"} {
		pair := ca.Issue(t, name, testcert.Options{Names: []string{name}})
		tc, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
		require.NoError(t, err)
		certs = append(certs, tc)
	}
	l, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{Certificates: certs})
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, name := range []string{"b.example", "a.example"} {
		cl := startPeer(t, "s_client", "-dtls1_2", "-connect", l.Addr().String(), "-servername", name,
			"-CAfile", caFile, "-verify_hostname", name, "-verify_return_error", "-brief", "-nocommands")
		cl.WaitFor("Verification: OK")
		// "CN = name" before OpenSSL 3.5, "CN=name" since.
		assert.Regexp(t, `Peer certificate: CN ?= ?`+regexp.QuoteMeta(name)+`\n`, cl.WaitFor("Verified peername: "+name))
		_ = cl.CloseStdin()
	}
}
