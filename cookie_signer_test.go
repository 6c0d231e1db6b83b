package openssl_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

func TestCookieSignerBindsPeer(t *testing.T) {
	c := newSigner(t, nil)
	a := netip.MustParseAddrPort("192.0.2.1:1000")
	cookie := c.Sign(nil, a)
	assert.True(t, c.Verify(cookie, a))
	assert.False(t, c.Verify(cookie, netip.MustParseAddrPort("192.0.2.1:1001")), "another port")
	assert.False(t, c.Verify(cookie, netip.MustParseAddrPort("192.0.2.2:1000")), "another host")
	assert.True(t, c.Verify(cookie, netip.MustParseAddrPort("[::ffff:192.0.2.1]:1000")), "v4-mapped is the same host")
	for i := range cookie {
		bad := bytes.Clone(cookie)
		bad[i] ^= 0x01
		assert.False(t, c.Verify(bad, a), "bit flip at byte %d", i)
	}
	assert.False(t, c.Verify(cookie[:len(cookie)-1], a))
	assert.False(t, c.Verify(nil, a))
}

func TestCookieSignerOptions(t *testing.T) {
	_, err := openssl.NewCookieSigner([]byte("short"), 0)
	assert.ErrorContains(t, err, "too short")
	_, err = openssl.NewCookieSigner(nil, time.Millisecond)
	assert.ErrorContains(t, err, "under one second")
	c, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	assert.Equal(t, 60*time.Second, c.Lifetime())
	r1, r2 := newSigner(t, nil), newSigner(t, nil)
	a := netip.MustParseAddrPort("192.0.2.1:1000")
	assert.False(t, r2.Verify(r1.Sign(nil, a), a), "random secrets differ")
}

// Two servers built with the same secret accept each other's cookies: a
// HelloVerifyRequest from one, the echoed cookie to the other.
func TestCookieSignerSharedSecretAcrossServers(t *testing.T) {
	secret := []byte("shared-secret-for-two-servers-01")
	var listeners [2]*openssl.SSL
	var bios [2]*openssl.BIO
	for i := range listeners {
		ctx := newDTLSServerCtx(t, false)
		require.NoError(t, newSigner(t, secret).Install(ctx))
		listeners[i], bios[i] = newPacketListener(t, ctx)
	}
	_, err, out := listenOnce(t, listeners[0], bios[0], clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry)
	cookie, err := helloVerifyCookie(out[0])
	require.NoError(t, err)
	peer, err, _ := listenOnce(t, listeners[1], bios[1], clientHello{cookie: cookie}.bytes(), clientAP)
	require.NoError(t, err, "server B accepts server A's cookie")
	assert.Equal(t, clientAP, peer)

	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, newSigner(t, []byte("a-different-secret-for-server-C")).Install(ctx))
	s, b := newPacketListener(t, ctx)
	_, err, out = listenOnce(t, s, b, clientHello{cookie: cookie}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry, "server C, with another secret, does not")
	assert.Len(t, out, 1)
}

func TestCookieSignerNoPeer(t *testing.T) {
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, newSigner(t, nil).Install(ctx))
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer s.Close()
	rb, _ := openssl.NewMemBIO()
	wb, _ := openssl.NewMemBIO()
	require.NoError(t, s.SetBIO(rb, wb))
	_, err = rb.Write(clientHello{}.bytes())
	require.NoError(t, err)
	_, err = s.DTLSv1Listen()
	assert.ErrorIs(t, err, openssl.ErrNoPeer, "a memory BIO without SetPeerAddr cannot be bound")
}

// BenchmarkListenHelloVerify measures the forged-ClientHello path: one
// ClientHello without a cookie answered with a HelloVerifyRequest, on a
// reused listening SSL, with the CookieSigner. allocs/op must stay 0.
func BenchmarkListenHelloVerify(b *testing.B) {
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(b, err)
	defer ctx.Close()
	require.NoError(b, newSigner(b, nil).Install(ctx))
	s, err := openssl.NewSSL(ctx)
	require.NoError(b, err)
	defer s.Close()
	bio, err := openssl.NewPacketBIO(1400, 4096)
	require.NoError(b, err)
	require.NoError(b, s.SetBIO(bio, bio))
	dgram := clientHello{}.bytes()
	discard := func([]byte) error { return nil }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = bio.PushDatagram(dgram, clientAP)
		if _, err := s.DTLSv1ListenAddrPort(); err == nil {
			b.Fatal("unexpected success")
		}
		_ = bio.DrainDatagrams(discard)
	}
}

// BenchmarkListenNewSSLPerDatagram is the design the listener avoids: a
// fresh SSL and BIO for every datagram. Compare with
// BenchmarkListenHelloVerify in the same run.
func BenchmarkListenNewSSLPerDatagram(b *testing.B) {
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(b, err)
	defer ctx.Close()
	require.NoError(b, newSigner(b, nil).Install(ctx))
	dgram := clientHello{}.bytes()
	discard := func([]byte) error { return nil }
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s, _ := openssl.NewSSL(ctx)
		bio, _ := openssl.NewPacketBIO(1400, 4096)
		_ = s.SetBIO(bio, bio)
		_ = bio.PushDatagram(dgram, clientAP)
		_, _ = s.DTLSv1ListenAddrPort()
		_ = bio.DrainDatagrams(discard)
		s.Close()
	}
}

func BenchmarkCookieSignerSignVerify(b *testing.B) {
	c := newSigner(b, nil)
	a := netip.MustParseAddrPort("192.0.2.1:1000")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = c.Sign(buf[:0], a)
		if !c.Verify(buf, a) {
			b.Fatal("verify failed")
		}
	}
}
