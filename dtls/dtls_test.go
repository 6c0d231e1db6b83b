package dtls_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
)

func TestDialListenEcho(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	wait := serveEcho(t, l)
	c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
	require.NoError(t, err)
	roundTrip(t, c, []byte("hello dtls"))
	cs := c.ConnectionState()
	assert.True(t, cs.HandshakeComplete)
	assert.Equal(t, dtls.VersionDTLS12, cs.Version)
	assert.NotZero(t, cs.CipherSuite)
	assert.True(t, cs.CookieExchanged, "the server sent a HelloVerifyRequest")
	require.Len(t, cs.PeerCertificates, 1)
	assert.Equal(t, "localhost", cs.PeerCertificates[0].Subject.CommonName)
	require.NoError(t, c.Close())
	require.NoError(t, l.Close())
	wait()
	st := l.Stats()
	assert.Equal(t, uint64(1), st.CookiesSent)
	assert.Equal(t, uint64(1), st.CookiesVerified)
	assert.Equal(t, uint64(1), st.HandshakesCompleted)
	assert.Zero(t, st.HandshakesFailed)
}

func TestManyClientsEcho(t *testing.T) {
	p := newPKI(t)
	l := listen(t, p.serverConfig())
	wait := serveEcho(t, l)
	const clients = 32
	echoClients(t, l, p.clientConfig, clients, 20)
	require.NoError(t, l.Close())
	wait()
	st := l.Stats()
	assert.Equal(t, uint64(clients), st.HandshakesCompleted)
	// All clients share 127.0.0.1: beyond MaxHandshakesPerHost at once,
	// a verified cookie is refused and the client's retransmission comes
	// back with it later.
	assert.Equal(t, st.HandshakesCompleted+st.HandshakesRefused, st.CookiesVerified)
	assert.Equal(t, int64(0), st.LiveConns)
}
