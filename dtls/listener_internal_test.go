package dtls

import (
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// The listening SSL is gone after a fatal DTLSv1_listen error (listen
// frees it). These tests drive listening, which the read loop calls for
// every new source, on a Listener without a loop: one that can remake its
// SSL does so at once; one that cannot (its SSL_CTX closed, so SSL_new is
// refused) retries no more than every 10ms, and after a second of failing
// makes Accept report it, instead of dropping every new peer in silence.

func bareListener(t *testing.T) *Listener {
	t.Helper()
	certPEM, keyPEM, err := testcert.SelfSigned("localhost")
	require.NoError(t, err)
	cfg := &Config{CertificatePEM: certPEM, KeyPEM: keyPEM}
	sslCtx, err := cfg.newCtx(true)
	require.NoError(t, err)
	t.Cleanup(func() { sslCtx.Close() })
	return &Listener{cfg: cfg, sslCtx: sslCtx, log: slog.New(slog.DiscardHandler), failed: make(chan struct{}),
		acceptCh: make(chan *Conn, 1), closed: make(chan struct{})}
}

func TestListeningSSLRemade(t *testing.T) {
	l := bareListener(t)
	require.True(t, l.listening(), "a missing listening SSL is made on the next datagram")
	require.NotNil(t, l.lssl)
	t.Cleanup(func() { l.lssl.Close() })
}

func TestListeningSSLFailureReported(t *testing.T) {
	l := bareListener(t)
	require.NoError(t, l.sslCtx.Close()) // from here on NewSSL fails
	require.False(t, l.listening())
	require.False(t, l.listening(), "within 10ms of a failure, no new attempt")
	select {
	case <-l.failed:
		t.Fatal("one failure is not yet fatal")
	default:
	}
	// A second later, still failing: Accept reports it.
	l.lsslDownSince = l.lsslDownSince.Add(-2 * time.Second)
	l.lsslRetry = time.Time{}
	require.False(t, l.listening())
	_, err := l.Accept()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no listening SSL")
	assert.True(t, errors.Is(err, openssl.ErrClosed), "the cause is kept: %v", err)
}

// A cookieless ClientHello from a new source costs the listener no
// allocation: one cgo call in, the HelloVerifyRequest out through a buffer
// of the Listener's, then to the socket.
func TestListenPathAllocatesNothing(t *testing.T) {
	l := bareListener(t)
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { udp.Close() })
	l.udp, l.pc = udp, udp
	signer, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	require.NoError(t, signer.Install(l.sslCtx)) // as NewListener does
	require.True(t, l.listening())
	t.Cleanup(func() { l.lssl.Close() })
	hello := record.ClientHelloDatagram{}.Bytes()
	from := udp.LocalAddr().(*net.UDPAddr).AddrPort() // the answers go to the socket itself, unread
	allocs := testing.AllocsPerRun(100, func() {
		l.lmu.Lock()
		l.listen(hello, from)
		l.lmu.Unlock()
	})
	assert.Zero(t, allocs)
	assert.EqualValues(t, 101, l.cookiesSent.Load(), "every one answered")
	assert.Zero(t, l.datagramsDropped.Load())
}
