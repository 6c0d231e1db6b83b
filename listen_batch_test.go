package openssl_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// put writes d as datagram k of b, from from.
func put(b *openssl.ListenBatch, k int, d []byte, from netip.AddrPort) {
	b.Len[k] = int32(copy(b.Datagram(k), d))
	b.From[k] = from
}

// A batch of ClientHellos from many sources, with junk among them, answers
// each as DTLSv1ListenDatagram answers it alone: every HelloVerifyRequest
// carries its own source's cookie, junk gets nothing, and the call takes
// the whole batch.
func TestDTLSv1ListenBatchAnswersEach(t *testing.T) {
	signer := newSigner(t, nil)
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, signer.Install(ctx))
	s, bio := newPacketListener(t, ctx)
	b, err := openssl.NewListenBatch(16, 2048)
	require.NoError(t, err)
	assert.Equal(t, 16, b.Cap())
	assert.Equal(t, 2048, b.Slot())

	from := func(k int) netip.AddrPort {
		if k%2 == 0 {
			return netip.MustParseAddrPort(fmt.Sprintf("192.0.2.%d:%d", k+1, 40000+k))
		}
		return netip.MustParseAddrPort(fmt.Sprintf("[2001:db8::%x]:%d", k+1, 40000+k))
	}
	junk := map[int][]byte{3: {0x16, 0xfe}, 9: nil, 12: []byte("not DTLS at all")}
	for k := range b.Cap() {
		d, isJunk := junk[k]
		if !isJunk {
			d = clientHello{}.bytes()
		}
		put(b, k, d, from(k))
	}
	next, peer, err := s.DTLSv1ListenBatch(b, 0, b.Cap())
	require.NoError(t, err)
	assert.Equal(t, b.Cap(), next, "no datagram ended the listen")
	assert.False(t, peer.IsValid())
	assert.False(t, bio.HasOutput(), "every answer was taken from the BIO")
	assert.False(t, bio.DatagramPending())
	for k := range b.Cap() {
		if _, isJunk := junk[k]; isJunk {
			assert.Zero(t, b.AnswerLen[k], "junk %d gets no answer", k)
			assert.Nil(t, b.Answer(k))
			continue
		}
		cookie, err := helloVerifyCookie(b.Answer(k))
		require.NoError(t, err, "datagram %d", k)
		assert.True(t, signer.Verify(cookie, from(k)), "datagram %d's cookie is for its source", k)
		assert.False(t, signer.Verify(cookie, from(k+1)), "and no other")
	}
}

// The batch stops right after the ClientHello whose cookie verifies (a
// real client's, through the cookie exchange): the SSL holds that peer's
// handshake and Accept answers with the server's flight, and a fresh
// listening SSL takes the rest of the batch from next.
func TestDTLSv1ListenBatchStopsAtVerifiedCookie(t *testing.T) {
	p := newPKI(t)
	signer := newSigner(t, nil)
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, ctx.UseCertificatePEM(p.server.CertPEM))
	require.NoError(t, ctx.UsePrivateKeyPEM(p.server.KeyPEM))
	require.NoError(t, signer.Install(ctx))
	s, bio := newPacketListener(t, ctx)
	b, err := openssl.NewListenBatch(6, 1500)
	require.NoError(t, err)
	forged := func(k int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("203.0.113.9"), uint16(1000+k))
	}

	cctx, err := openssl.NewCtx(openssl.DTLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { cctx.Close() })
	c, cbio := newPacketListener(t, cctx)
	c.SetConnectState()
	next := func() []byte {
		t.Helper()
		require.ErrorIs(t, c.Connect(), openssl.ErrWantRead)
		var d []byte
		require.NoError(t, cbio.DrainDatagrams(func(p []byte) error { d = append([]byte(nil), p...); return nil }))
		return d
	}
	real := netip.MustParseAddrPort("198.51.100.1:5684")
	b.Len[0], b.From[0] = int32(copy(b.Datagram(0), next())), real
	for k := 1; k < b.Cap(); k++ {
		put(b, k, clientHello{}.bytes(), forged(k))
	}
	got, peer, err := s.DTLSv1ListenBatch(b, 0, 2)
	require.NoError(t, err)
	require.Equal(t, 2, got)
	assert.False(t, peer.IsValid())
	require.NoError(t, cbio.PushDatagram(b.Answer(0), real))
	put(b, 2, next(), real) // the client's second ClientHello, with the cookie

	got, peer, err = s.DTLSv1ListenBatch(b, 2, b.Cap())
	require.NoError(t, err)
	assert.Equal(t, 3, got)
	assert.Equal(t, real, peer)
	assert.Nil(t, b.Answer(2), "a verified cookie gets no HelloVerifyRequest")
	require.ErrorIs(t, s.Accept(), openssl.ErrWantRead)
	assert.True(t, bio.HasOutput(), "Accept answers the held ClientHello with the server's flight")

	s2, _ := newPacketListener(t, ctx)
	got, peer, err = s2.DTLSv1ListenBatch(b, got, b.Cap())
	require.NoError(t, err)
	assert.Equal(t, b.Cap(), got)
	assert.False(t, peer.IsValid())
	for k := 3; k < b.Cap(); k++ {
		cookie, err := helloVerifyCookie(b.Answer(k))
		require.NoError(t, err, "datagram %d answered by the next SSL", k)
		assert.True(t, signer.Verify(cookie, forged(k)))
	}
}

// What DTLSv1ListenBatch refuses, and what it drops unread.
func TestDTLSv1ListenBatchErrors(t *testing.T) {
	_, err := openssl.NewListenBatch(0, 2048)
	require.Error(t, err)
	_, err = openssl.NewListenBatch(8, 1<<16+1)
	require.Error(t, err)

	ctx := newDTLSServerCtx(t, true)
	s, bio := newPacketListener(t, ctx)
	b, err := openssl.NewListenBatch(4, 2048)
	require.NoError(t, err)
	for k := range b.Cap() {
		put(b, k, clientHello{}.bytes(), clientAP)
	}
	for _, r := range [][2]int{{-1, 2}, {3, 2}, {0, 5}} {
		_, _, err := s.DTLSv1ListenBatch(b, r[0], r[1])
		assert.Error(t, err, "range %v", r)
	}
	_, _, err = s.DTLSv1ListenBatch(nil, 0, 0)
	assert.ErrorIs(t, err, openssl.ErrInvalidObject)
	_, _, err = s.DTLSv1ListenBatch(&openssl.ListenBatch{}, 0, 0)
	assert.ErrorIs(t, err, openssl.ErrInvalidObject, "a zero ListenBatch")
	short := *b
	short.AnswerLen = short.AnswerLen[:2]
	_, _, err = s.DTLSv1ListenBatch(&short, 0, 2)
	assert.ErrorIs(t, err, openssl.ErrInvalidObject, "a resized AnswerLen")
	next, _, err := s.DTLSv1ListenBatch(b, 2, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, next, "an empty range takes nothing")

	require.NoError(t, bio.PushDatagram([]byte{1}, clientAP))
	_, _, err = s.DTLSv1ListenBatch(b, 0, 1)
	require.ErrorIs(t, err, openssl.ErrDatagramPending)
	bio.DropDatagram()

	// Longer than the slot says the datagram could be: dropped unread.
	b.Len[1] = int32(b.Slot() + 1)
	next, _, err = s.DTLSv1ListenBatch(b, 0, 3)
	require.NoError(t, err)
	assert.Equal(t, 3, next)
	assert.Equal(t, int32(-1), b.AnswerLen[1])
	assert.NotNil(t, b.Answer(0))
	assert.NotNil(t, b.Answer(2))
	// The Go callbacks run on this path too: the cookie is the test's.
	cookie, err := helloVerifyCookie(b.Answer(2))
	require.NoError(t, err)
	assert.Equal(t, []byte("cookie-for-"+clientAP.String()), cookie)

	tctx, err := openssl.NewCtx(openssl.TLSServerMethod)
	require.NoError(t, err)
	defer tctx.Close()
	ts, err := openssl.NewSSL(tctx)
	require.NoError(t, err)
	defer ts.Close()
	_, _, err = ts.DTLSv1ListenBatch(b, 0, 1)
	require.ErrorIs(t, err, openssl.ErrWrongMethod)

	m, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	rb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	wb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	require.NoError(t, m.SetBIO(rb, wb))
	_, _, err = m.DTLSv1ListenBatch(b, 0, 1)
	require.Error(t, err, "memory BIOs are no packet BIOs")
	m.Close()
	_, _, err = m.DTLSv1ListenBatch(b, 0, 1)
	require.ErrorIs(t, err, openssl.ErrClosed)
}

// Nothing is allocated per batch.
func TestDTLSv1ListenBatchAllocs(t *testing.T) {
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, newSigner(t, nil).Install(ctx))
	s, _ := newPacketListener(t, ctx)
	b, err := openssl.NewListenBatch(16, 2048)
	require.NoError(t, err)
	for k := range b.Cap() {
		put(b, k, clientHello{}.bytes(), netip.AddrPortFrom(clientAP.Addr(), uint16(k+1)))
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if next, _, err := s.DTLSv1ListenBatch(b, 0, b.Cap()); err != nil || next != b.Cap() {
			t.Fatal(next, err)
		}
	}))
}
