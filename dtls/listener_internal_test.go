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

// bareReader is the one reader of a Listener with no socket and no loop.
func bareReader(t *testing.T) *reader {
	t.Helper()
	certPEM, keyPEM, err := testcert.SelfSigned("localhost")
	require.NoError(t, err)
	cfg := &Config{CertificatePEM: certPEM, KeyPEM: keyPEM}
	sslCtx, err := cfg.newCtx(true)
	require.NoError(t, err)
	t.Cleanup(func() { sslCtx.Close() })
	l := &Listener{cfg: cfg, sslCtx: sslCtx, log: slog.New(slog.DiscardHandler), failed: make(chan struct{}),
		acceptCh: make(chan *Conn, 1), closed: make(chan struct{})}
	r := l.newReader(nil)
	l.readers = []*reader{r}
	return r
}

func TestListeningSSLRemade(t *testing.T) {
	r := bareReader(t)
	require.True(t, r.listening(), "a missing listening SSL is made on the next datagram")
	require.NotNil(t, r.lssl)
	t.Cleanup(func() { r.lssl.Close() })
}

func TestListeningSSLFailureReported(t *testing.T) {
	r := bareReader(t)
	l := r.ln
	require.NoError(t, l.sslCtx.Close()) // from here on NewSSL fails
	require.False(t, r.listening())
	require.False(t, r.listening(), "within 10ms of a failure, no new attempt")
	select {
	case <-l.failed:
		t.Fatal("one failure is not yet fatal")
	default:
	}
	// A second later, still failing: Accept reports it.
	r.lsslDownSince = r.lsslDownSince.Add(-2 * time.Second)
	r.lsslRetry = time.Time{}
	require.False(t, r.listening())
	_, err := l.Accept()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no listening SSL")
	assert.True(t, errors.Is(err, openssl.ErrClosed), "the cause is kept: %v", err)
}

// A cookieless ClientHello from a new source costs the listener no
// allocation: one cgo call in, the HelloVerifyRequest out through a buffer
// of the Listener's, then to the socket.
func TestListenPathAllocatesNothing(t *testing.T) {
	r := bareReader(t)
	l := r.ln
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { udp.Close() })
	r.udp, r.pc, l.pc = udp, udp, udp
	signer, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	require.NoError(t, signer.Install(l.sslCtx)) // as NewListener does
	require.True(t, r.listening())
	t.Cleanup(func() { r.lssl.Close() })
	hello := record.ClientHelloDatagram{}.Bytes()
	from := udp.LocalAddr().(*net.UDPAddr).AddrPort() // the answers go to the socket itself, unread
	allocs := testing.AllocsPerRun(100, func() {
		r.lmu.Lock()
		r.listen(hello, from, nil)
		r.lmu.Unlock()
	})
	assert.Zero(t, allocs)
	assert.EqualValues(t, 101, l.cookiesSent.Load(), "every one answered")
	assert.Zero(t, l.datagramsDropped.Load())
}
