//go:build linux

package dtls_test

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/record"
)

// Config.Readers: several SO_REUSEPORT sockets on one address, one reader
// goroutine each. The kernel picks a socket per datagram by a hash of its
// 4-tuple, modulo the size of the port's reuseport group: a peer stays on
// one socket until the group changes.

func listenReaders(t testing.TB, cfg *dtls.Config, readers int) *dtls.Listener {
	t.Helper()
	cfg.Readers = readers
	return listen(t, cfg)
}

// Many clients from different source ports connect and round-trip, and
// the counters add up across the readers. With every connection on the
// shared sockets, the kernel's hash spreads the clients over both (all on
// one would take 2^-63 odds). With sockets per connection only a few
// ClientHellos per client reach the readers, and the connections' sockets
// join the group, which the kernel's choice depends on (how, varies with
// its version): only the total is checked there.
// TestReadersCookieVerifiedOnAnotherSocket puts a peer on each reader
// deterministically.
func TestReadersManyClients(t *testing.T) {
	forEachSocketMode(t, func(t *testing.T, shared bool) {
		p := newPKI(t)
		scfg := p.serverConfig()
		scfg.SharedSocket = shared
		l := listenReaders(t, scfg, 2)
		wait := serveEcho(t, l)
		const clients = 64
		echoClients(t, l, p.clientConfig, clients, 10)
		require.NoError(t, l.Close())
		wait()
		st := l.Stats()
		read := dtls.ReaderDatagrams(l)
		t.Logf("datagrams read per socket: %v; %+v", read, st)
		require.Len(t, read, 2)
		assert.Equal(t, uint64(clients), st.HandshakesCompleted)
		assert.Equal(t, st.HandshakesCompleted+st.HandshakesRefused, st.CookiesVerified,
			"every verified cookie is counted once, whichever reader verified it")
		assert.GreaterOrEqual(t, st.CookiesSent, uint64(clients))
		assert.Zero(t, st.LiveConns)
		if shared {
			assert.NotZero(t, read[0], "the first socket read datagrams")
			assert.NotZero(t, read[1], "the second socket read datagrams")
			// Every client sent at least its two ClientHellos, its
			// Finished flight and ten messages through these sockets.
			assert.GreaterOrEqual(t, read[0]+read[1], uint64(clients*13))
		} else {
			assert.GreaterOrEqual(t, read[0]+read[1], uint64(2*clients), "at least both ClientHellos of every client came through the readers")
		}
	})
}

// readerOf sends a cookieless ClientHello from pc and reports which of
// l's sockets read it: the counters move before the HelloVerifyRequest
// goes out, and the answer is awaited.
func readerOf(t *testing.T, l *dtls.Listener, pc *net.UDPConn) int {
	t.Helper()
	buf := make([]byte, 2048)
	for try := 0; try < 5; try++ { // loopback does not lose datagrams, but may
		before := dtls.ReaderDatagrams(l)
		_, err := pc.WriteTo(forgedClientHello(nil), l.Addr())
		require.NoError(t, err)
		require.NoError(t, pc.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			continue
		}
		require.True(t, isHelloVerifyRequest(buf[:n]), "a cookieless ClientHello is answered with a HelloVerifyRequest")
		after := dtls.ReaderDatagrams(l)
		for i := range after {
			if after[i] != before[i] {
				return i
			}
		}
	}
	t.Fatal("no reader answered")
	return -1
}

// redirectPC is a client's socket whose datagrams that redirect selects
// go to the Listener's reader other (dtls.FeedReader) instead of through
// the kernel, which would give them to the reader it gives every datagram
// of this 4-tuple to.
type redirectPC struct {
	*net.UDPConn
	l        *dtls.Listener
	other    int
	redirect func(d []byte) bool
}

func (r *redirectPC) WriteTo(p []byte, addr net.Addr) (int, error) {
	if r.redirect(p) {
		dtls.FeedReader(r.l, r.other, bytes.Clone(p), r.LocalAddr().(*net.UDPAddr).AddrPort())
		return len(p), nil
	}
	return r.UDPConn.WriteTo(p, addr)
}

func hasCookie(d []byte) bool {
	h, m, err := record.FirstDTLSHandshake(d)
	if err != nil || h.Epoch != 0 || m.Type != record.TypeClientHello {
		return false
	}
	cookie, err := record.ClientHelloCookie(m.Body)
	return err == nil && len(cookie) > 0
}

// The cookie a client gets through one reader's socket verifies on the
// other, with a real client and a real handshake; then every datagram of
// the client arrives on that other reader, and its connection is found
// from there. The kernel keeps a 4-tuple on one socket of the group (a
// hash of it modulo the group's size; on Linux 6.18 connected sockets
// joining the group did not move it), so the test finds the client's
// socket with a probe and hands what should arrive on the other one to
// that reader's routing itself (dtls.FeedReader), as its loop would after
// reading it. The answers go out through the Listener's sockets, to the
// client's real socket.
func TestReadersCookieVerifiedOnAnotherSocket(t *testing.T) {
	forEachSocketMode(t, func(t *testing.T, shared bool) {
		p := newPKI(t)
		scfg := p.serverConfig()
		scfg.SharedSocket = shared
		l := listenReaders(t, scfg, 2)
		serveEcho(t, l)

		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		kernels := readerOf(t, l, pc)
		require.Equal(t, kernels, readerOf(t, l, pc), "one 4-tuple, one socket")
		other := 1 - kernels

		var afterHandshake atomic.Bool
		rpc := &redirectPC{UDPConn: pc, l: l, other: other, redirect: func(d []byte) bool {
			return hasCookie(d) || afterHandshake.Load()
		}}
		before := dtls.ReaderDatagrams(l)
		st0 := l.Stats()
		c, err := dtls.Client(rpc, l.Addr(), p.clientConfig())
		require.NoError(t, err)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, c.HandshakeContext(ctx), "the cookie from one socket verifies on the other")
		mid := dtls.ReaderDatagrams(l)
		st := l.Stats()
		t.Logf("datagrams read per socket: before %v, after the handshake %v (the kernel's socket for the client: %d)", before, mid, kernels)
		assert.Greater(t, mid[kernels], before[kernels], "the first ClientHello came through the kernel's socket")
		assert.Greater(t, mid[other], before[other], "the second ClientHello came through the other")
		assert.Equal(t, st0.CookiesVerified+1, st.CookiesVerified)
		assert.Equal(t, st0.CookiesRejected, st.CookiesRejected, "the cookie was not rejected anywhere")
		assert.True(t, c.ConnectionState().CookieExchanged)

		afterHandshake.Store(true)
		roundTrip(t, c, []byte("through the other socket"))
		after := dtls.ReaderDatagrams(l)
		assert.Greater(t, after[other], mid[other], "the round trip came through the other socket, and found the connection")
	})
}

// Close with several readers closes every socket (the port is free to
// bind again without SO_REUSEPORT), ends every goroutine and frees every
// reader's listening SSL. (make leaks runs this under LeakSanitizer too,
// but that does not see a C object a Go object still points to: an SSL
// left unfreed in a reader went unreported there, hence the count.)
func TestReadersCloseFreesEverything(t *testing.T) {
	forEachSocketMode(t, func(t *testing.T, shared bool) {
		ignore := goleak.IgnoreCurrent()
		p := newPKI(t)
		scfg := p.serverConfig()
		scfg.SharedSocket = shared
		scfg.Readers = 4
		l, err := dtls.Listen("udp", "127.0.0.1:0", scfg)
		require.NoError(t, err)
		require.Len(t, dtls.ReaderDatagrams(l), 4)
		require.Equal(t, 4, dtls.ListeningSSLs(l), "a listening SSL per reader")
		accepted := make(chan net.Conn, 1)
		go func() {
			sc, err := l.Accept()
			if err == nil {
				go echo(sc)
			}
			accepted <- sc
		}()
		c, err := dtls.Dial("udp", l.Addr().String(), p.clientConfig())
		require.NoError(t, err)
		roundTrip(t, c, []byte("four readers"))
		sc := <-accepted
		require.NotNil(t, sc)

		require.NoError(t, l.Close())
		require.NoError(t, c.Close())
		require.NoError(t, sc.Close()) // the last connection: the sockets go
		dtls.AwaitShutdown(l)
		assert.Zero(t, dtls.ListeningSSLs(l), "every reader's listening SSL was freed")
		_, err = l.Accept()
		assert.ErrorIs(t, err, net.ErrClosed)

		free, err := net.ListenUDP("udp", l.Addr().(*net.UDPAddr))
		require.NoError(t, err, "no socket of the Listener holds its port any more")
		require.NoError(t, free.Close())
		goleak.VerifyNone(t, ignore)
	})
}

// Readers is Listen's alone, and Linux's.
func TestReadersRefused(t *testing.T) {
	p := newPKI(t)
	cfg := p.serverConfig()
	cfg.Readers = 2
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer pc.Close()
	_, err = dtls.NewListener(pc, cfg)
	assert.ErrorContains(t, err, "dtls: NewListener reads the one socket it is given")
	cfg.Readers = -1
	_, err = dtls.Listen("udp", "127.0.0.1:0", cfg)
	assert.ErrorContains(t, err, "dtls: negative Readers")
	cfg.Readers = 1
	l, err := dtls.NewListener(pc, cfg)
	require.NoError(t, err, "one reader is what NewListener does")
	require.NoError(t, l.Close())
}
