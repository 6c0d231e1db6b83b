package dtls_test

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The Config fields a crypto/tls user reaches for: a tls.Certificate,
// version bounds, an OpenSSL cipher string, client certificates verified if
// given, a shared CookieSigner, and a Logger with one line per handshake.
func TestConfigFieldsTakeEffect(t *testing.T) {
	p := newPKI(t)
	pair, err := tls.X509KeyPair(p.server.CertPEM, p.server.KeyPEM)
	require.NoError(t, err)
	signer, err := openssl.NewCookieSigner([]byte("a secret shared by a server farm"), 0)
	require.NoError(t, err)
	var logs syncBuffer
	scfg := &dtls.Config{
		Certificates: []tls.Certificate{pair},
		MinVersion:   dtls.VersionDTLS12,
		MaxVersion:   dtls.VersionDTLS12,
		CipherList:   "ECDHE-ECDSA-AES128-GCM-SHA256",
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    p.pool(),
		CookieSigner: signer,
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	}
	l := listen(t, scfg)
	serveEcho(t, l)

	// Without a client certificate: allowed (verified only if given).
	c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	roundTrip(t, c, []byte("anonymous"))
	cs := c.ConnectionState()
	assert.Equal(t, dtls.VersionDTLS12, cs.Version)
	assert.Equal(t, "ECDHE-ECDSA-AES128-GCM-SHA256", openssl.CipherSuiteOpenSSLName(cs.CipherSuite))
	require.NoError(t, c.Close())

	// With one from the trusted CA.
	ccfg := p.clientConfig()
	cpair, err := tls.X509KeyPair(p.client.CertPEM, p.client.KeyPEM)
	require.NoError(t, err)
	ccfg.Certificates = []tls.Certificate{cpair}
	c, err = dtls.Dial("udp", l.Addr().String(), ccfg)
	require.NoError(t, err)
	roundTrip(t, c, []byte("with a certificate"))
	require.NoError(t, c.Close())

	// A client that insists on DTLS 1.0 cannot meet a 1.2-only server.
	old := p.clientConfig()
	old.MaxVersion = dtls.VersionDTLS10
	old.HandshakeTimeout = 2 * time.Second
	_, err = dtls.Dial("udp", l.Addr().String(), old)
	require.Error(t, err)

	require.Eventually(t, func() bool { return strings.Count(logs.String(), "handshake completed") == 2 }, 3*time.Second, 10*time.Millisecond,
		"one log line per completed handshake: %s", logs.String())
	assert.Contains(t, logs.String(), "cipher=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
}

// Client with no ServerName checks the certificate against the peer's IP
// address, as Dial does, rather than accepting any name.
func TestClientDefaultsServerNameToPeerIP(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	c, err := dtls.Client(pc, l.Addr(), &dtls.Config{RootCAs: p.pool()})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Handshake(), "the certificate carries 127.0.0.1")
	assert.Equal(t, "127.0.0.1", c.ConnectionState().ServerName)
}

// The Ctx shared by a Config's clients is freed with the Config.
func TestClientCtxFreedWithConfig(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	serveEcho(t, l)
	before := dtls.ClientCtxCount()
	for i := 0; i < 5; i++ {
		c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
		require.NoError(t, err)
		c.Close()
	}
	require.Eventually(t, func() bool {
		runtime.GC()
		return dtls.ClientCtxCount() <= before
	}, 5*time.Second, 50*time.Millisecond, "five Configs, five Ctxs, all freed once the Configs are gone")
}
