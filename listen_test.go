package openssl_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

var clientAP = netip.MustParseAddrPort("192.0.2.7:40123")

// peerCookie is the test's cookie scheme: the peer's address, readable, so
// that a test can see which peer a cookie was made for.
func peerCookie(s *openssl.SSL) []byte {
	return []byte("cookie-for-" + s.PeerAddrPort().String())
}

func newDTLSServerCtx(t *testing.T, withCallbacks bool) *openssl.Ctx {
	t.Helper()
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	if withCallbacks {
		require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
			return peerCookie(s), nil
		}))
		require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
			return bytes.Equal(c, peerCookie(s))
		}))
	}
	return ctx
}

// newPacketListener returns an SSL ready for DTLSv1Listen over a packet BIO.
func newPacketListener(t *testing.T, ctx *openssl.Ctx) (*openssl.SSL, *openssl.BIO) {
	t.Helper()
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	b, err := openssl.NewPacketBIO(1400, 1<<16)
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(b, b))
	return s, b
}

// listenOnce pushes one datagram and calls DTLSv1ListenAddrPort, returning
// what OpenSSL wrote back.
func listenOnce(t *testing.T, s *openssl.SSL, b *openssl.BIO, dgram []byte, from netip.AddrPort) (netip.AddrPort, error, [][]byte) {
	t.Helper()
	require.NoError(t, b.PushDatagram(dgram, from))
	peer, err := s.DTLSv1ListenAddrPort()
	var out [][]byte
	require.NoError(t, b.DrainDatagrams(func(p []byte) error {
		out = append(out, append([]byte(nil), p...))
		return nil
	}))
	return peer, err, out
}

func TestDTLSv1ListenTable(t *testing.T) {
	validCookie := []byte("cookie-for-" + clientAP.String())
	cases := []struct {
		name      string
		callbacks bool
		dgram     []byte
		wantPeer  bool
		wantHVR   bool
		wantRetry bool
		wantFatal bool
	}{
		{name: "no cookie gives a HelloVerifyRequest", callbacks: true,
			dgram: clientHello{}.bytes(), wantHVR: true, wantRetry: true},
		{name: "valid cookie gives success and the peer", callbacks: true,
			dgram: clientHello{cookie: validCookie}.bytes(), wantPeer: true},
		{name: "DTLS 1.2 record version accepted", callbacks: true,
			dgram: clientHello{cookie: validCookie, recordVersion: 0xfefd}.bytes(), wantPeer: true},
		{name: "bad cookie gives a new HelloVerifyRequest", callbacks: true,
			dgram: clientHello{cookie: []byte("forged")}.bytes(), wantHVR: true, wantRetry: true},
		{name: "cookie for another peer gives a new HelloVerifyRequest", callbacks: true,
			dgram: clientHello{cookie: []byte("cookie-for-192.0.2.8:40123")}.bytes(), wantHVR: true, wantRetry: true},
		// OpenSSL (1.1.1 and 3.x) reads only the first fragment of a
		// fragmented ClientHello and requires the cookie to be inside it;
		// SSL_accept then reassembles the rest with state it may now keep.
		{name: "first fragment carrying a valid cookie gives success", callbacks: true,
			dgram: clientHello{cookie: validCookie, fragShort: 10}.bytes(), wantPeer: true},
		{name: "first fragment without a cookie gives a HelloVerifyRequest", callbacks: true,
			dgram: clientHello{fragShort: 10}.bytes(), wantHVR: true, wantRetry: true},
		{name: "non-initial fragment is dropped", callbacks: true,
			dgram: clientHello{cookie: validCookie, fragOffset: 5}.bytes(), wantRetry: true},
		{name: "message sequence above 2 is dropped", callbacks: true,
			dgram: clientHello{cookie: validCookie, messageSeq: 3}.bytes(), wantRetry: true},
		{name: "short record is dropped", callbacks: true,
			dgram: clientHello{}.bytes()[:recordHeaderLen-3], wantRetry: true},
		{name: "record header alone is dropped", callbacks: true,
			dgram: clientHello{}.bytes()[:recordHeaderLen], wantRetry: true},
		{name: "truncated handshake message is dropped", callbacks: true,
			dgram: clientHello{}.bytes()[:recordHeaderLen+handshakeHeaderLen+20], wantRetry: true},
		{name: "record length beyond the datagram is dropped", callbacks: true,
			dgram: clientHello{lengthExtra: 40}.bytes(), wantRetry: true},
		{name: "non-handshake record is dropped", callbacks: true,
			dgram: clientHello{contentType: ctAlert}.bytes(), wantRetry: true},
		{name: "handshake other than ClientHello is dropped", callbacks: true,
			dgram: clientHello{msgType: 2}.bytes(), wantRetry: true},
		{name: "non-zero epoch is dropped", callbacks: true,
			dgram: clientHello{epoch: 1}.bytes(), wantRetry: true},
		{name: "TLS record version is dropped", callbacks: true,
			dgram: clientHello{recordVersion: 0x0303}.bytes(), wantRetry: true},
		{name: "empty datagram is dropped", callbacks: true,
			dgram: []byte{}, wantRetry: true},
		{name: "no callbacks and no cookie is fatal", callbacks: false,
			dgram: clientHello{}.bytes(), wantFatal: true},
		{name: "no callbacks and a cookie is fatal", callbacks: false,
			dgram: clientHello{cookie: validCookie}.bytes(), wantFatal: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newDTLSServerCtx(t, tc.callbacks)
			s, b := newPacketListener(t, ctx)
			peer, err, out := listenOnce(t, s, b, tc.dgram, clientAP)
			switch {
			case tc.wantPeer:
				require.NoError(t, err)
				assert.Equal(t, clientAP, peer)
				assert.Empty(t, out, "success sends nothing until Accept")
			case tc.wantRetry:
				require.ErrorIs(t, err, openssl.ErrRetry)
				assert.False(t, peer.IsValid())
			case tc.wantFatal:
				var oe *openssl.Error
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "DTLSv1_listen", oe.Op)
				assert.Less(t, oe.Ret, 0)
				assert.NotEmpty(t, oe.Queue, "a fatal listen error carries OpenSSL's reason")
				assert.Empty(t, out)
			}
			if tc.wantHVR {
				require.Len(t, out, 1, "exactly one HelloVerifyRequest")
				cookie, err := helloVerifyCookie(out[0])
				require.NoError(t, err)
				assert.Equal(t, validCookie, cookie, "the HelloVerifyRequest carries the generated cookie")
				assert.Less(t, len(out[0]), 3*len(tc.dgram)+64, "no amplification beyond the cookie")
			} else if !tc.wantPeer && !tc.wantFatal {
				assert.Empty(t, out, "a dropped datagram is not answered")
			}
			assert.False(t, b.DatagramPending(), "DTLSv1_listen consumed the datagram")
		})
	}
}

// The complete exchange on one listening SSL, reused as the design asks:
// no cookie, HelloVerifyRequest, the cookie echoed, success.
func TestDTLSv1ListenExchangeReusesSSL(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	for i := 0; i < 3; i++ { // drops and answers in between do not disturb the SSL
		_, err, _ := listenOnce(t, s, b, []byte{0x16, 0xfe}, clientAP)
		require.ErrorIs(t, err, openssl.ErrRetry)
		_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
		require.ErrorIs(t, err, openssl.ErrRetry)
		require.Len(t, out, 1)
	}
	_, _, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
	cookie, err := helloVerifyCookie(out[0])
	require.NoError(t, err)
	addr, err := func() (any, error) {
		require.NoError(t, b.PushDatagram(clientHello{cookie: cookie}.bytes(), clientAP))
		return s.DTLSv1Listen()
	}()
	require.NoError(t, err)
	assert.Equal(t, clientAP.String(), addr.(interface{ String() string }).String())
}

// With a memory BIO the peer cannot be known: DTLSv1_listen clears it to
// AF_UNSPEC, which DTLSv1Listen reports as a nil address.
func TestDTLSv1ListenMemoryBIOHasNoPeer(t *testing.T) {
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		assert.Nil(t, s.PeerAddr(), "a memory BIO has no peer")
		return []byte("mem"), nil
	}))
	require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
		return string(c) == "mem"
	}))
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer s.Close()
	rb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	wb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(rb, wb))

	_, err = rb.Write(clientHello{}.bytes())
	require.NoError(t, err)
	_, err = s.DTLSv1Listen()
	require.ErrorIs(t, err, openssl.ErrRetry)
	out := make([]byte, 2048)
	n, err := wb.Read(out)
	require.NoError(t, err)
	cookie, err := helloVerifyCookie(out[:n])
	require.NoError(t, err)
	assert.Equal(t, "mem", string(cookie))

	_, err = rb.Write(clientHello{cookie: cookie}.bytes())
	require.NoError(t, err)
	addr, err := s.DTLSv1Listen()
	require.NoError(t, err)
	assert.Nil(t, addr, "AF_UNSPEC peer becomes a nil address")
}

func TestDTLSv1ListenGenerateFailureIsFatal(t *testing.T) {
	boom := errors.New("cookie store unavailable")
	ctx := newDTLSServerCtx(t, true)
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		return nil, boom
	}))
	s, b := newPacketListener(t, ctx)
	_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, boom, "the callback's own error reaches the caller")
	var oe *openssl.Error
	require.ErrorAs(t, err, &oe)
	assert.Less(t, oe.Ret, 0)
	assert.Empty(t, out)
	assert.Contains(t, err.Error(), "cookie store unavailable")
}
