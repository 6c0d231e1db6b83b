package openssl_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// invalid checks that err reports a nil or zero-value object: both
// ErrInvalidObject and, as for a nil *os.File, os.ErrInvalid.
func invalid(t *testing.T, err error, what string) {
	t.Helper()
	assert.ErrorIs(t, err, openssl.ErrInvalidObject, what)
	assert.ErrorIs(t, err, os.ErrInvalid, what)
}

// Every exported method of a nil *SSL, or of an SSL{} no constructor made,
// returns an error or its zero value; none panics. Close included, which
// returns the error as (*os.File)(nil).Close does.
func TestNilAndZeroSSL(t *testing.T) {
	for name, s := range map[string]*openssl.SSL{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				invalid(t, s.Close(), "Close")
				invalid(t, s.Accept(), "Accept")
				invalid(t, s.Connect(), "Connect")
				invalid(t, s.Handshake(), "Handshake")
				invalid(t, s.Stateless(), "Stateless")
				_, err := s.DTLSv1Listen()
				invalid(t, err, "DTLSv1Listen")
				_, err = s.DTLSv1ListenAddrPort()
				invalid(t, err, "DTLSv1ListenAddrPort")
				_, err = s.Read(make([]byte, 1))
				invalid(t, err, "Read")
				_, err = s.Write([]byte("x"))
				invalid(t, err, "Write")
				_, err = s.Shutdown()
				invalid(t, err, "Shutdown")
				_, err = s.DTLSHandleTimeout()
				invalid(t, err, "DTLSHandleTimeout")
				invalid(t, s.SetBIO(nil, nil), "SetBIO")
				invalid(t, s.SetMTU(1200), "SetMTU")
				invalid(t, s.SetLinkMTU(1500), "SetLinkMTU")
				invalid(t, s.SetDTLSInitialTimeout(time.Second), "SetDTLSInitialTimeout")
				invalid(t, s.SetServerName("example.com"), "SetServerName")
				invalid(t, s.SetHost("example.com"), "SetHost")
				invalid(t, s.VerifyResult(), "VerifyResult")
				_, err = s.PeerCertificates()
				invalid(t, err, "PeerCertificates")

				s.SetUserData(1)
				s.SetPeerAddr(&net.UDPAddr{})
				s.SetAcceptState()
				s.SetConnectState()
				assert.Nil(t, s.UserData())
				assert.Nil(t, s.Ctx())
				assert.Nil(t, s.ReadBIO())
				assert.Nil(t, s.WriteBIO())
				assert.Nil(t, s.PeerAddr())
				assert.False(t, s.PeerAddrPort().IsValid())
				_, running := s.DTLSTimeout()
				assert.False(t, running)
				assert.Zero(t, s.DTLSDataMTU())
				assert.Zero(t, s.LinkMinMTU())
				assert.Zero(t, s.SetOptions(openssl.OpNoTicket))
				assert.Zero(t, s.ClearOptions(openssl.OpNoTicket))
				assert.Empty(t, s.Version())
				assert.Empty(t, s.CipherName())
				assert.False(t, s.SessionReused())
				assert.False(t, s.IsInitFinished())
				assert.Zero(t, s.Pending())
				assert.Zero(t, s.ShutdownState())
			})
		})
	}
	_, err := openssl.NewSSL(nil)
	invalid(t, err, "NewSSL(nil)")
	_, err = openssl.NewSSL(&openssl.Ctx{})
	invalid(t, err, "NewSSL(&Ctx{})")
}

func TestNilAndZeroCtx(t *testing.T) {
	for name, c := range map[string]*openssl.Ctx{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				invalid(t, c.Close(), "Close")
				assert.Zero(t, c.Method())
				invalid(t, c.UseCertificateFile("/nonexistent"), "UseCertificateFile")
				invalid(t, c.UsePrivateKeyFile("/nonexistent"), "UsePrivateKeyFile")
				invalid(t, c.UseCertificatePEM(nil), "UseCertificatePEM")
				invalid(t, c.UsePrivateKeyPEM(nil), "UsePrivateKeyPEM")
				invalid(t, c.AddCAPEM(nil), "AddCAPEM")
				invalid(t, c.LoadVerifyLocations("/nonexistent", ""), "LoadVerifyLocations")
				invalid(t, c.SetDefaultVerifyPaths(), "SetDefaultVerifyPaths")
				invalid(t, c.SetVerify(openssl.VerifyPeer, -1), "SetVerify")
				invalid(t, c.SetCertVerifyCallback(nil), "SetCertVerifyCallback")
				invalid(t, c.SetMinProtoVersion(0), "SetMinProtoVersion")
				invalid(t, c.SetMaxProtoVersion(0), "SetMaxProtoVersion")
				invalid(t, c.SetReadAhead(true), "SetReadAhead")
				assert.Zero(t, c.MinProtoVersion())
				assert.Zero(t, c.MaxProtoVersion())
				invalid(t, c.SetCipherList("DEFAULT"), "SetCipherList")
				invalid(t, c.SetCiphersuites("TLS_AES_128_GCM_SHA256"), "SetCiphersuites")
				assert.Zero(t, c.SetOptions(openssl.OpNoTicket))
				assert.Zero(t, c.ClearOptions(openssl.OpNoTicket))
				assert.Zero(t, c.Options())
				invalid(t, c.SetQuietShutdown(true), "SetQuietShutdown")
				invalid(t, c.SetCookieGenerateCallback(nil), "SetCookieGenerateCallback")
				invalid(t, c.SetCookieVerifyCallback(nil), "SetCookieVerifyCallback")
				invalid(t, c.SetStatelessCookieGenerateCallback(nil), "SetStatelessCookieGenerateCallback")
				invalid(t, c.SetStatelessCookieVerifyCallback(nil), "SetStatelessCookieVerifyCallback")
			})
		})
	}
}

func TestNilAndZeroBIO(t *testing.T) {
	for name, b := range map[string]*openssl.BIO{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				invalid(t, b.Close(), "Close")
				_, err := b.Write([]byte("x"))
				invalid(t, err, "Write")
				_, err = b.Read(make([]byte, 1))
				invalid(t, err, "Read")
				invalid(t, b.SetMemEOFReturn(0), "SetMemEOFReturn")
				invalid(t, b.SetPeer(clientAP), "SetPeer")
				invalid(t, b.SetConnected(clientAP), "SetConnected")
				invalid(t, b.SetDatagram(0, clientAP), "SetDatagram")
				invalid(t, b.PushDatagram([]byte{1}, clientAP), "PushDatagram")
				invalid(t, b.DrainDatagrams(func([]byte) error { return nil }), "DrainDatagrams")
				invalid(t, b.SetMTU(1200), "SetMTU")
				b.DropDatagram()
				b.SetDatagramEOF(true)
				assert.Zero(t, b.Pending())
				_, ok := b.Peer()
				assert.False(t, ok)
				assert.False(t, b.IsPacketBIO())
				assert.Nil(t, b.DatagramBuffer())
				assert.False(t, b.DatagramPending())
				assert.False(t, b.HasOutput())
			})
		})
	}

	ctx := newDTLSServerCtx(t, true)
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer s.Close()
	invalid(t, s.SetBIO(nil, nil), "SetBIO(nil, nil)")
	invalid(t, s.SetBIO(&openssl.BIO{}, &openssl.BIO{}), "SetBIO of zero BIOs")
	b, err := openssl.NewPacketBIO(1200, 2048)
	require.NoError(t, err)
	invalid(t, s.SetBIO(b, nil), "SetBIO(b, nil)")
	require.NoError(t, s.SetBIO(b, b), "a refused SetBIO leaves the BIO free to give")
	assert.Error(t, b.DrainDatagrams(nil), "a nil send function")
	assert.Error(t, b.SetMTU(0))
	assert.Error(t, b.SetMTU(-1))
}

func TestNilAndZeroBIOAddr(t *testing.T) {
	for name, a := range map[string]*openssl.BIOAddr{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				invalid(t, a.Close(), "Close")
				invalid(t, a.SetUDPAddr(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9}), "SetUDPAddr")
				assert.Nil(t, a.UDPAddr())
				assert.False(t, a.AddrPort().IsValid())
			})
		})
	}
}

// A zero CookieSigner divided by its zero lifetime; a nil one dereferenced
// nil. Both now refuse to work, with an error where the method has one.
func TestNilAndZeroCookieSigner(t *testing.T) {
	ctx := newDTLSServerCtx(t, false)
	s, _ := newPacketListener(t, ctx)
	peer := netip.MustParseAddrPort("192.0.2.1:1000")
	for name, c := range map[string]*openssl.CookieSigner{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				invalid(t, c.Install(ctx), "Install")
				_, err := c.GenerateCookie(s)
				invalid(t, err, "GenerateCookie")
				assert.False(t, c.VerifyCookie(s, make([]byte, 21)))
				assert.Equal(t, []byte("x"), c.Sign([]byte("x"), peer), "Sign appends nothing")
				assert.False(t, c.Verify(make([]byte, 21), peer))
				assert.Zero(t, c.Lifetime())
			})
		})
	}

	good := newSigner(t, nil)
	invalid(t, good.Install(nil), "Install(nil)")
	invalid(t, good.Install(&openssl.Ctx{}), "Install(&Ctx{})")
	require.NotPanics(t, func() {
		_, err := good.GenerateCookie(nil)
		invalid(t, err, "GenerateCookie(nil)")
		assert.False(t, good.VerifyCookie(nil, nil))
	})

	c, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, c.Lifetime(), "0 means the documented default")
	_, err = openssl.NewCookieSigner(nil, -time.Second)
	assert.ErrorContains(t, err, "negative")
	_, err = openssl.NewCookieSigner(nil, time.Millisecond)
	assert.Error(t, err, "under one second")
}

func TestNilAndZeroStreamConn(t *testing.T) {
	for name, c := range map[string]*openssl.StreamConn{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				invalid(t, c.Close(), "Close")
				invalid(t, c.Handshake(), "Handshake")
				invalid(t, c.StatelessHandshake(), "StatelessHandshake")
				_, err := c.Read(make([]byte, 1))
				invalid(t, err, "Read")
				_, err = c.Write([]byte("x"))
				invalid(t, err, "Write")
				invalid(t, c.SetDeadline(time.Time{}), "SetDeadline")
				invalid(t, c.SetReadDeadline(time.Time{}), "SetReadDeadline")
				invalid(t, c.SetWriteDeadline(time.Time{}), "SetWriteDeadline")
				assert.Nil(t, c.SSL())
				assert.Nil(t, c.LocalAddr())
				assert.Nil(t, c.RemoteAddr())
				assert.False(t, c.HelloRetryRequestSent())
			})
		})
	}
	cc, _ := tcpPair(t)
	_, err := openssl.NewServerConn(cc, nil)
	invalid(t, err, "NewServerConn with a nil Ctx")
	_, err = openssl.NewClientConn(nil, nil)
	assert.Error(t, err, "a nil net.Conn")
}

// Stateless on a DTLS SSL used to answer "want read" (SSL_stateless has
// nothing to do there); DTLSv1Listen on a TLS SSL failed with OpenSSL's
// words only. Both now say the method is wrong, and name it.
func TestWrongMethod(t *testing.T) {
	dctx := newDTLSServerCtx(t, true)
	ds, db := newPacketListener(t, dctx)
	require.NoError(t, db.PushDatagram(clientHello{}.bytes(), clientAP))
	err := ds.Stateless()
	require.ErrorIs(t, err, openssl.ErrWrongMethod)
	assert.NotErrorIs(t, err, openssl.ErrWantRead)
	assert.ErrorContains(t, err, "DTLS_server_method")
	assert.ErrorContains(t, err, "DTLSv1Listen", "names the DTLS counterpart")
	assert.True(t, db.DatagramPending(), "nothing was read")

	tctx := newTLSServerCtx(t, newPKI(t), newSigner(t, nil))
	ts, err := openssl.NewSSL(tctx)
	require.NoError(t, err)
	defer ts.Close()
	rb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	wb, err := openssl.NewMemBIO()
	require.NoError(t, err)
	require.NoError(t, ts.SetBIO(rb, wb))
	_, err = ts.DTLSv1Listen()
	require.ErrorIs(t, err, openssl.ErrWrongMethod)
	assert.ErrorContains(t, err, "TLS_server_method")
	assert.ErrorContains(t, err, "Stateless", "names the TLS counterpart")
	assert.False(t, errors.Is(err, openssl.ErrRetry))
}

// Strings OpenSSL reads up to their first NUL are refused when they hold
// one: "a.example\x00.evil" was sent in SNI, and checked against the
// server's certificate, as "a.example".
func TestStringsWithNUL(t *testing.T) {
	ctx, err := openssl.NewCtx(openssl.TLSClientMethod)
	require.NoError(t, err)
	defer ctx.Close()
	ssl, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer ssl.Close()
	const bad = "a.example\x00.evil"
	for name, err := range map[string]error{
		"SetServerName":      ssl.SetServerName(bad),
		"SetHost":            ssl.SetHost(bad),
		"SetCipherList":      ctx.SetCipherList("ALL\x00:eNULL"),
		"SetCiphersuites":    ctx.SetCiphersuites("TLS_AES_128_GCM_SHA256\x00"),
		"UsePSKIdentityHint": ctx.UsePSKIdentityHint(bad),
	} {
		assert.ErrorContains(t, err, "NUL byte", name)
	}
	assert.NoError(t, ssl.SetServerName("a.example"), "the same name without the NUL")
	assert.NoError(t, ssl.SetHost("a.example"))
}
