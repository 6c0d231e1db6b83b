package openssl_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// listenDatagram runs DTLSv1ListenDatagram and returns the answer's bytes.
func listenDatagram(t *testing.T, s *openssl.SSL, d []byte, from netip.AddrPort) (netip.AddrPort, []byte, error) {
	t.Helper()
	reply := make([]byte, 512)
	peer, n, err := s.DTLSv1ListenDatagram(d, from, reply)
	return peer, reply[:n], err
}

// The one-call listen path with a CookieSigner, whose cookies C makes and
// checks: the HelloVerifyRequest comes back in the caller's buffer, its
// cookie verifies in Go, a cookie Go made verifies in C, and the peer is
// bound in both directions.
func TestDTLSv1ListenDatagramCookieSigner(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	signer := newSigner(t, secret)
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, signer.Install(ctx))
	s, b := newPacketListener(t, ctx)

	peer, hvr, err := listenDatagram(t, s, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry)
	assert.False(t, peer.IsValid())
	assert.False(t, b.HasOutput(), "the answer was taken from the BIO")
	cookie, err := helloVerifyCookie(hvr)
	require.NoError(t, err)
	assert.True(t, signer.Verify(cookie, clientAP), "a cookie made in C verifies in Go")
	assert.False(t, signer.Verify(cookie, netip.MustParseAddrPort("192.0.2.7:40124")), "for its peer only")

	peer, hvr, err = listenDatagram(t, s, clientHello{cookie: cookie}.bytes(), clientAP)
	require.NoError(t, err, "a cookie made in C verifies in C")
	assert.Equal(t, clientAP, peer)
	assert.Empty(t, hvr)

	goMade := signer.Sign(nil, clientAP)
	peer, _, err = listenDatagram(t, s, clientHello{cookie: goMade}.bytes(), clientAP)
	require.NoError(t, err, "a cookie made in Go verifies in C")
	assert.Equal(t, clientAP, peer)

	other := netip.MustParseAddrPort("[2001:db8::7]:40123")
	_, hvr, err = listenDatagram(t, s, clientHello{cookie: goMade}.bytes(), other)
	require.ErrorIs(t, err, openssl.ErrRetry, "another peer's cookie is refused")
	assert.NotEmpty(t, hvr, "and answered with a cookie of its own")
	cookie6, err := helloVerifyCookie(hvr)
	require.NoError(t, err)
	assert.True(t, signer.Verify(cookie6, other))

	tampered := append([]byte(nil), goMade...)
	tampered[len(tampered)-1] ^= 1
	_, _, err = listenDatagram(t, s, clientHello{cookie: tampered}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry)
	old := append([]byte(nil), goMade...)
	binary.BigEndian.PutUint32(old[1:5], uint32(time.Now().Unix()-3600))
	_, _, err = listenDatagram(t, s, clientHello{cookie: old}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry, "an expired cookie is refused")

	// A server with the same secret whose cookies are made in Go (the
	// signer inside a callback of the caller's own) accepts C's, and C
	// accepts its.
	ctx2 := newDTLSServerCtx(t, false)
	signer2 := newSigner(t, secret)
	require.NoError(t, ctx2.SetCookieGenerateCallback(signer2.GenerateCookie))
	require.NoError(t, ctx2.SetCookieVerifyCallback(signer2.VerifyCookie))
	s2, _ := newPacketListener(t, ctx2)
	_, _, err = listenDatagram(t, s2, clientHello{cookie: cookie}.bytes(), clientAP)
	require.NoError(t, err, "Go accepts C's cookie through the callbacks")
	_, hvr, err = listenDatagram(t, s2, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry)
	goCookie, err := helloVerifyCookie(hvr)
	require.NoError(t, err)
	_, _, err = listenDatagram(t, s, clientHello{cookie: goCookie}.bytes(), clientAP)
	require.NoError(t, err, "C accepts Go's cookie")
}

// C and Go make the same bytes for the same peer in the same second.
func TestCookieSignerCAndGoBytesAgree(t *testing.T) {
	signer := newSigner(t, nil)
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, signer.Install(ctx))
	s, _ := newPacketListener(t, ctx)
	for _, from := range []netip.AddrPort{clientAP, netip.MustParseAddrPort("[2001:db8::1]:5684"), netip.MustParseAddrPort("[::ffff:192.0.2.9]:1")} {
		var same bool
		for try := 0; try < 3 && !same; try++ {
			// A second may turn between the two, and C reads the
			// coarse clock, which lags a kernel tick behind Go's: a
			// retry within the same tick would see the same split.
			if try > 0 {
				time.Sleep(20 * time.Millisecond)
			}
			_, hvr, err := listenDatagram(t, s, clientHello{}.bytes(), from)
			require.ErrorIs(t, err, openssl.ErrRetry)
			cookie, err := helloVerifyCookie(hvr)
			require.NoError(t, err)
			same = assert.ObjectsAreEqual(signer.Sign(nil, from), cookie)
		}
		assert.True(t, same, "C's cookie for %v is Go's", from)
	}
}

func TestDTLSv1ListenDatagramErrors(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	s, b := newPacketListener(t, ctx)
	require.NoError(t, b.PushDatagram([]byte{1}, clientAP))
	_, _, err := listenDatagram(t, s, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrDatagramPending)
	b.DropDatagram()
	_, _, err = listenDatagram(t, s, make([]byte, 1<<16+1), clientAP)
	require.Error(t, err)
	_, _, err = listenDatagram(t, s, nil, clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry, "an empty datagram is dropped")
	_, _, err = listenDatagram(t, s, []byte{0x16, 0xfe}, clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry, "a short one too")
	assert.False(t, b.DatagramPending(), "and consumed")

	m, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer m.Close()
	rb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	wb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	require.NoError(t, m.SetBIO(rb, wb))
	_, _, err = listenDatagram(t, m, clientHello{}.bytes(), clientAP)
	require.Error(t, err, "memory BIOs are no packet BIOs")

	tctx, err := openssl.NewCtx(openssl.TLSServerMethod)
	require.NoError(t, err)
	defer tctx.Close()
	ts, err := openssl.NewSSL(tctx)
	require.NoError(t, err)
	defer ts.Close()
	_, _, err = listenDatagram(t, ts, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrWrongMethod)

	// A user's callbacks still run through the trampolines on this path.
	_, hvr, err := listenDatagram(t, s, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry)
	cookie, err := helloVerifyCookie(hvr)
	require.NoError(t, err)
	assert.Equal(t, peerCookie(s), cookie)
}

// Nothing is allocated per datagram: no cookie (a HelloVerifyRequest out)
// and a valid cookie.
func TestDTLSv1ListenDatagramAllocs(t *testing.T) {
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, newSigner(t, nil).Install(ctx))
	s, _ := newPacketListener(t, ctx)
	hello := clientHello{}.bytes()
	reply := make([]byte, 512)
	_, n, err := s.DTLSv1ListenDatagram(hello, clientAP, reply)
	require.ErrorIs(t, err, openssl.ErrRetry)
	cookie, err := helloVerifyCookie(reply[:n])
	require.NoError(t, err)
	valid := clientHello{cookie: cookie}.bytes()
	assert.Zero(t, testing.AllocsPerRun(200, func() {
		if _, n, _ := s.DTLSv1ListenDatagram(hello, clientAP, reply); n == 0 {
			t.Fatal("no HelloVerifyRequest")
		}
	}), "allocations per cookieless ClientHello")
	assert.Zero(t, testing.AllocsPerRun(200, func() {
		if _, _, err := s.DTLSv1ListenDatagram(valid, clientAP, reply); err != nil {
			t.Fatal(err)
		}
	}), "allocations per ClientHello with a valid cookie")
}
