package dtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// dialVerified dials l with ccfg and returns the client and its state.
func dialVerified(t *testing.T, l *dtls.Listener, ccfg *dtls.Config) (*dtls.Conn, dtls.ConnectionState) {
	t.Helper()
	c, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, c.ConnectionState()
}

// A Config that dials the same server again does not verify the same chain
// again; what it reports is what a fresh verification reports.
func TestVerifiedChainsRemembered(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	ccfg := p.clientConfig()
	c1, cs1 := dialVerified(t, l, ccfg)
	assert.Equal(t, 0, dtls.VerifyCacheHits(c1))
	c2, cs2 := dialVerified(t, l, ccfg)
	assert.Equal(t, 1, dtls.VerifyCacheHits(c2), "the second Dial's chain came from the cache")
	require.NotEmpty(t, cs2.VerifiedChains)
	assert.Same(t, cs2.PeerCertificates[0], cs2.VerifiedChains[0][0], "this handshake's leaf heads the chain")
	assert.True(t, cs2.VerifiedChains[0][len(cs2.VerifiedChains[0])-1].Equal(p.ca.Cert))
	assert.Equal(t, len(cs1.VerifiedChains), len(cs2.VerifiedChains))

	// Another Config has its own Ctx and verifies for itself.
	c3, _ := dialVerified(t, l, p.clientConfig())
	assert.Equal(t, 0, dtls.VerifyCacheHits(c3))

	// A server this Config's roots do not trust is refused every time:
	// refusals are not remembered, and a trusted chain before changes
	// nothing.
	stranger := newSelfSigned(t, "localhost")
	l2 := listen(t, &dtls.Config{CertificatePEM: stranger.certPEM, KeyPEM: stranger.keyPEM})
	serveEcho(t, l2)
	for range 2 {
		_, err := dtls.Dial("udp", l2.Addr().String(), ccfg)
		var ve *tls.CertificateVerificationError
		require.ErrorAs(t, err, &ve)
	}
}

// An entry serves only while every certificate of its chain is valid: the
// same certificate, once expired, is verified again and refused.
func TestVerifiedChainsExpire(t *testing.T) {
	ca := testcert.NewCA(t, "short-lived CA")
	notAfter := time.Now().Add(3 * time.Second).Truncate(time.Second)
	srv := ca.Issue(t, "localhost", testcert.Options{NotAfter: notAfter})
	l := listen(t, &dtls.Config{CertificatePEM: srv.CertPEM, KeyPEM: srv.KeyPEM})
	serveEcho(t, l)
	ccfg := &dtls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	_, cs := dialVerified(t, l, ccfg)
	require.NotEmpty(t, cs.VerifiedChains)
	if d := time.Until(notAfter); d > 0 {
		time.Sleep(d + 1100*time.Millisecond) // x509 compares whole seconds
	}
	_, err := dtls.Dial("udp", l.Addr().String(), ccfg)
	var ve *tls.CertificateVerificationError
	require.ErrorAs(t, err, &ve)
	var inv x509.CertificateInvalidError
	require.ErrorAs(t, ve.Err, &inv)
	assert.Equal(t, x509.Expired, inv.Reason)
}

// A Listener remembers the client certificates it verified (mutual TLS:
// devices reconnect with the same certificate).
func TestVerifiedClientChainsRemembered(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.mutualServerConfig())
	ccfg := p.certClientConfig(p.client)
	hits := []int{}
	for range 2 {
		ch := acceptAsync(l)
		dialVerified(t, l, ccfg)
		sc, ok := <-ch
		require.True(t, ok)
		defer sc.Close()
		st := sc.(*dtls.Conn).ConnectionState()
		require.NotEmpty(t, st.VerifiedChains)
		hits = append(hits, dtls.VerifyCacheHits(sc.(*dtls.Conn)))
	}
	assert.Equal(t, []int{0, 1}, hits)
}
