//go:build linux

package dtls

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// One read's ClientHellos go to DTLSv1_listen together (listenBatch). A
// cookie that verifies ends a call and admits its peer; that peer's later
// datagrams of the same read (here a duplicate of the same ClientHello)
// are its connection's, as one datagram at a time they would have been,
// and not a second handshake; the rest of the read is answered by the
// fresh listening SSL. The batch is filled by hand, on a batch of the
// test's own beside the reader's (whose loop sees no traffic).
func TestListenBatchAdmitsOnceAndGoesOn(t *testing.T) {
	p := testcert.NewPKI(t, "batch CA", testcert.Options{})
	l, err := Listen("udp", "127.0.0.1:0", &Config{CertificatePEM: p.Server.CertPEM, KeyPEM: p.Server.KeyPEM})
	require.NoError(t, err)
	defer l.Close()
	r := l.readers[0]
	b := newBatch(r.udp, l.cfg.mtu())
	require.NotNil(t, b)

	// The client's address: a socket of its own, so that what the server
	// sends it lands somewhere.
	peerConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer peerConn.Close()
	peer := peerConn.LocalAddr().(*net.UDPAddr).AddrPort()
	other := netip.MustParseAddrPort("127.0.0.1:9") // a forged source

	cctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	require.NoError(t, err)
	defer cctx.Close()
	c, err := openssl.NewSSL(cctx)
	require.NoError(t, err)
	defer c.Close()
	cbio, err := openssl.NewPacketBIO(1200, bioBuffer)
	require.NoError(t, err)
	require.NoError(t, c.SetBIO(cbio, cbio))
	c.SetConnectState()
	flight := func() []byte {
		t.Helper()
		require.ErrorIs(t, c.Connect(), openssl.ErrWantRead)
		var d []byte
		require.NoError(t, cbio.DrainDatagrams(func(p []byte) error { d = append([]byte(nil), p...); return nil }))
		return d
	}
	put := func(k int, d []byte, from netip.AddrPort) {
		b.lb.Len[k] = int32(copy(b.lb.Datagram(k), d))
		b.lb.From[k] = from
	}

	put(0, flight(), peer)
	r.listenBatch(b, 1)
	b.out.flush()
	hvr := b.lb.Answer(0)
	require.NotNil(t, hvr, "the first ClientHello is answered")
	require.NoError(t, cbio.PushDatagram(hvr, peer))
	second := flight()

	put(0, second, peer)
	put(1, second, peer)
	put(2, record.ClientHelloDatagram{}.Bytes(), other)
	r.listenBatch(b, 3)
	b.out.flush()
	st := l.Stats()
	assert.Equal(t, uint64(1), st.CookiesVerified, "one handshake for the peer")
	assert.Equal(t, uint64(2), st.CookiesSent, "its first ClientHello and the forged one")
	assert.Equal(t, 1, l.PeerCount(), "the duplicate went to the connection, not to a second handshake")
	assert.Equal(t, int32(-1), b.lb.Len[1], "taken out of the listen")
	assert.NotNil(t, b.lb.Answer(2), "the rest of the read is answered by the next listening SSL")
}
