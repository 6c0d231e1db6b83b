package openssl_test

import (
	"github.com/openssl-stateless/openssl/internal/testmain"

	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

func TestCookieCallbackPanicIsReraised(t *testing.T) {
	type marker struct{ n int }
	for _, which := range []string{"generate", "verify"} {
		t.Run(which, func(t *testing.T) {
			ctx := newDTLSServerCtx(t, true)
			if which == "generate" {
				require.NoError(t, ctx.SetCookieGenerateCallback(func(*openssl.SSL) ([]byte, error) { panic(marker{1}) }))
			} else {
				require.NoError(t, ctx.SetCookieVerifyCallback(func(*openssl.SSL, []byte) bool { panic(marker{2}) }))
			}
			s, b := newPacketListener(t, ctx)
			dgram := clientHello{}.bytes()
			if which == "verify" {
				dgram = clientHello{cookie: []byte("any")}.bytes()
			}
			require.NoError(t, b.PushDatagram(dgram, clientAP))
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			assert.PanicsWithValue(t, marker{map[string]int{"generate": 1, "verify": 2}[which]}, func() {
				_, _ = s.DTLSv1Listen()
			}, "the callback's panic value reaches the caller")
			assert.True(t, testmain.QueueEmpty(), "the queue was drained before the panic was raised again")
			_ = b.DrainDatagrams(func([]byte) error { return nil })

			// The same listening SSL keeps working once the callbacks behave.
			fixed := newDTLSServerCtx(t, true)
			s2, b2 := newPacketListener(t, fixed)
			_, err, out := listenOnce(t, s2, b2, clientHello{}.bytes(), clientAP)
			require.ErrorIs(t, err, openssl.ErrRetry)
			require.Len(t, out, 1)
			require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) { return peerCookie(s), nil }))
			require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool { return bytes.Equal(c, peerCookie(s)) }))
			_, err, out = listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
			require.ErrorIs(t, err, openssl.ErrRetry)
			require.Len(t, out, 1)
		})
	}
}

func TestCookieGenerateLimits(t *testing.T) {
	cases := []struct {
		name    string
		size    int
		wantErr error
	}{
		{"255 bytes is the DTLS maximum", 255, nil},
		{"256 bytes is refused", 256, openssl.ErrCookieTooLong},
		{"64 KiB is refused", 1 << 16, openssl.ErrCookieTooLong},
		{"empty is refused", 0, openssl.ErrEmptyCookie},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newDTLSServerCtx(t, true)
			require.NoError(t, ctx.SetCookieGenerateCallback(func(*openssl.SSL) ([]byte, error) {
				return bytes.Repeat([]byte{0xA5}, tc.size), nil
			}))
			s, b := newPacketListener(t, ctx)
			_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
			if tc.wantErr == nil {
				require.ErrorIs(t, err, openssl.ErrRetry)
				require.Len(t, out, 1)
				cookie, perr := helloVerifyCookie(out[0])
				require.NoError(t, perr)
				assert.Len(t, cookie, tc.size)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			var oe *openssl.Error
			require.ErrorAs(t, err, &oe)
			assert.Less(t, oe.Ret, 0, "OpenSSL saw a failed generate callback: fatal")
			assert.Empty(t, out, "nothing is sent for a refused cookie")
		})
	}
}

// The TLS 1.3 limits. OpenSSL's generate buffer is SSL_COOKIE_LENGTH (4096)
// bytes, but the application cookie travels behind a one-byte length inside
// OpenSSL's own cookie, so 255 is the real maximum: without our check, 256
// to 4096 bytes end in "internal error". A panic and an error travel as
// they do for DTLS.
func TestStatelessCookieCallbackSafety(t *testing.T) {
	boom := errors.New("stateless generate failed")
	cases := []struct {
		name  string
		gen   func(*openssl.SSL) ([]byte, error)
		check func(t *testing.T, run func() error)
	}{
		{"255 bytes accepted", func(*openssl.SSL) ([]byte, error) { return make([]byte, 255), nil },
			func(t *testing.T, run func() error) { require.ErrorIs(t, run(), openssl.ErrHelloRetryRequest) }},
		{"256 bytes refused", func(*openssl.SSL) ([]byte, error) { return make([]byte, 256), nil },
			func(t *testing.T, run func() error) { require.ErrorIs(t, run(), openssl.ErrCookieTooLong) }},
		{"4096 bytes refused", func(*openssl.SSL) ([]byte, error) { return make([]byte, 4096), nil },
			func(t *testing.T, run func() error) { require.ErrorIs(t, run(), openssl.ErrCookieTooLong) }},
		{"4097 bytes refused", func(*openssl.SSL) ([]byte, error) { return make([]byte, 4097), nil },
			func(t *testing.T, run func() error) { require.ErrorIs(t, run(), openssl.ErrCookieTooLong) }},
		{"error returned", func(*openssl.SSL) ([]byte, error) { return nil, boom },
			func(t *testing.T, run func() error) { require.ErrorIs(t, run(), boom) }},
		{"panic re-raised", func(*openssl.SSL) ([]byte, error) { panic("stateless boom") },
			func(t *testing.T, run func() error) {
				assert.PanicsWithValue(t, "stateless boom", func() { _ = run() })
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKI(t)
			ctx := newTLSServerCtx(t, p, newSigner(t, nil))
			require.NoError(t, ctx.SetStatelessCookieGenerateCallback(tc.gen))
			cc, sc := tcpPair(t)
			go func() { _ = goTLSClient(cc, p, tls.VersionTLS13).Handshake() }()
			srv := newStatelessServer(t, ctx, sc)
			tc.check(t, srv.untilVerdict)
		})
	}
}

// rawListen runs DTLSv1ListenAddrPort on a socket BIO until a cookie
// verifies or a fatal error, waiting in Go's poller whenever OpenSSL found
// the non-blocking socket empty.
func rawListen(t *testing.T, s *openssl.SSL, rc syscall.RawConn) (netip.AddrPort, error) {
	var peer netip.AddrPort
	var lerr error
	err := rc.Read(func(uintptr) bool {
		for {
			peer, lerr = s.DTLSv1ListenAddrPort()
			switch {
			case errors.Is(lerr, openssl.ErrWantRead):
				return false
			case errors.Is(lerr, openssl.ErrRetry):
				continue
			}
			return true
		}
	})
	require.NoError(t, err)
	return peer, lerr
}

func socketFD(t *testing.T, c *net.UDPConn) (int, syscall.RawConn) {
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var fd int
	require.NoError(t, rc.Control(func(f uintptr) { fd = int(f) }))
	return fd, rc
}

// Over a real UDP socket (BIO_new_dgram), PeerAddr inside the callbacks and
// DTLSv1Listen's result are the client's real address, and the
// HelloVerifyRequest goes back to it.
func TestPeerAddrOverSocketBIO(t *testing.T) {
	srvConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer srvConn.Close()
	fd, rc := socketFD(t, srvConn)

	cli, err := net.DialUDP("udp", nil, srvConn.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	defer cli.Close()
	clientAddr := cli.LocalAddr().(*net.UDPAddr).AddrPort()

	var seen []netip.AddrPort
	ctx := newDTLSServerCtx(t, false)
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		seen = append(seen, s.PeerAddrPort())
		return peerCookie(s), nil
	}))
	require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
		seen = append(seen, s.PeerAddrPort())
		assert.Equal(t, clientAddr.String(), s.PeerAddr().String())
		return bytes.Equal(c, peerCookie(s))
	}))
	s, err := openssl.NewSSL(ctx)
	require.NoError(t, err)
	defer s.Close()
	b, err := openssl.NewDatagramBIO(fd, false)
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(b, b))

	// The server loop: listen until a cookie verifies, waiting in Go's
	// poller whenever the socket is empty.
	type result struct {
		peer netip.AddrPort
		err  error
	}
	done := make(chan result, 1)
	go func() {
		p, e := rawListen(t, s, rc)
		done <- result{p, e}
	}()

	_, err = cli.Write(clientHello{}.bytes())
	require.NoError(t, err)
	buf := make([]byte, 2048)
	require.NoError(t, cli.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := cli.Read(buf)
	require.NoError(t, err, "the HelloVerifyRequest reached the client's real address")
	cookie, err := helloVerifyCookie(buf[:n])
	require.NoError(t, err)
	assert.Equal(t, "cookie-for-"+clientAddr.String(), string(cookie))

	_, err = cli.Write(clientHello{cookie: cookie}.bytes())
	require.NoError(t, err)
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("DTLSv1Listen did not return after the cookie was echoed")
	}
	require.NoError(t, r.err)
	assert.Equal(t, clientAddr, r.peer)
	require.Len(t, seen, 2)
	for _, a := range seen {
		assert.Equal(t, clientAddr, a, "PeerAddr inside the callback is the real client")
	}
	got, ok := b.Peer()
	assert.True(t, ok)
	assert.Equal(t, clientAddr, got, "BIO_dgram_get_peer agrees")
}

// Over a packet BIO the callback sees the source the Go side reported, for
// IPv4 and IPv6 alike.
func TestPeerAddrOverPacketBIO(t *testing.T) {
	for _, from := range []netip.AddrPort{
		netip.MustParseAddrPort("198.51.100.9:5684"),
		netip.MustParseAddrPort("[2001:db8::17]:61000"),
	} {
		var seen netip.AddrPort
		ctx := newDTLSServerCtx(t, true)
		require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
			seen = s.PeerAddrPort()
			return peerCookie(s), nil
		}))
		s, b := newPacketListener(t, ctx)
		_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), from)
		require.ErrorIs(t, err, openssl.ErrRetry)
		require.ErrorIs(t, err, openssl.ErrWantRead, "the packet BIO ran dry after the answer")
		assert.Equal(t, from, seen)
		cookie, err := helloVerifyCookie(out[0])
		require.NoError(t, err)
		peer, err, _ := listenOnce(t, s, b, clientHello{cookie: cookie}.bytes(), from)
		require.NoError(t, err)
		assert.Equal(t, from, peer)
	}
}

// For TLS over TCP the peer is what the Go side attached: the TCP remote.
func TestPeerAddrStatelessTCP(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	var seen []string
	require.NoError(t, ctx.SetStatelessCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		seen = append(seen, s.PeerAddr().String())
		return []byte(s.PeerAddr().String()), nil
	}))
	require.NoError(t, ctx.SetStatelessCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
		seen = append(seen, s.PeerAddr().String())
		return string(c) == s.PeerAddr().String()
	}))
	cc, sc := tcpPair(t)
	go func() { _ = goTLSClient(cc, p, tls.VersionTLS13).Handshake() }()
	srv, err := openssl.NewServerConn(sc, ctx)
	require.NoError(t, err)
	defer srv.Close()
	require.NoError(t, srv.StatelessHandshake())
	require.Len(t, seen, 2)
	for _, a := range seen {
		assert.Equal(t, cc.LocalAddr().String(), a)
	}
}

func TestCookieVerifyCallbackSeesCookieBytes(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	var got []byte
	require.NoError(t, ctx.SetCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
		got = append([]byte(nil), c...)
		return false
	}))
	s, b := newPacketListener(t, ctx)
	want := []byte(strings.Repeat("z", 255))
	_, err, out := listenOnce(t, s, b, clientHello{cookie: want}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry)
	assert.Equal(t, want, got)
	require.Len(t, out, 1, "a rejected cookie is answered with a fresh HelloVerifyRequest")
}

// A callback that calls back into its own SSL: an operation is refused
// with ErrInCallback (it would reuse memory the outer call is using), and
// Close is deferred until the outer operation returns.
func TestCallbackReentrancy(t *testing.T) {
	ctx := newDTLSServerCtx(t, true)
	var innerErr error
	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		_, innerErr = s.DTLSv1Listen()
		return peerCookie(s), nil
	}))
	s, b := newPacketListener(t, ctx)
	_, err, out := listenOnce(t, s, b, clientHello{}.bytes(), clientAP)
	require.ErrorIs(t, err, openssl.ErrRetry, "the outer call is unharmed")
	require.ErrorIs(t, innerErr, openssl.ErrInCallback)
	require.Len(t, out, 1)

	require.NoError(t, ctx.SetCookieGenerateCallback(func(s *openssl.SSL) ([]byte, error) {
		require.NoError(t, s.Close()) // deferred
		return peerCookie(s), nil
	}))
	require.NoError(t, b.PushDatagram(clientHello{}.bytes(), clientAP))
	_, err = s.DTLSv1Listen()
	require.ErrorIs(t, err, openssl.ErrRetry)
	_, err = s.DTLSv1Listen()
	assert.ErrorIs(t, err, openssl.ErrClosed, "closed once the operation returned")
	assert.ErrorIs(t, b.PushDatagram([]byte{1}, clientAP), openssl.ErrClosed, "with its BIO")
}

// SetCertVerifyCallback runs Go verification inside the handshake: the
// chain arrives parsed, leaf first; an error refuses the peer with a fatal
// alert and is the cause of the handshake error; a panic is raised again on
// the caller's goroutine.
func TestCertVerifyCallback(t *testing.T) {
	p := newPKI(t)
	refused := errors.New("not on the allow list")
	cases := []struct {
		name   string
		verify func(*openssl.SSL, []*x509.Certificate) error
		check  func(t *testing.T, handshake func() error)
	}{
		{"accepts", func(_ *openssl.SSL, chain []*x509.Certificate) error {
			if len(chain) != 1 || chain[0].Subject.CommonName != "localhost" {
				return errors.New("unexpected chain")
			}
			_, err := chain[0].Verify(x509.VerifyOptions{Roots: p.pool(), DNSName: "localhost"})
			return err
		}, func(t *testing.T, handshake func() error) { require.NoError(t, handshake()) }},
		{"refuses", func(*openssl.SSL, []*x509.Certificate) error { return refused },
			func(t *testing.T, handshake func() error) {
				err := handshake()
				require.ErrorIs(t, err, refused)
				var oe *openssl.Error
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "SSL_do_handshake", oe.Op)
			}},
		{"panics", func(*openssl.SSL, []*x509.Certificate) error { panic("verify boom") },
			func(t *testing.T, handshake func() error) {
				assert.PanicsWithValue(t, "verify boom", func() { _ = handshake() })
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sctx := newTLSServerCtx(t, p, nil)
			cc, sc := tcpPair(t)
			serverErr := make(chan error, 1)
			go func() {
				srv, err := openssl.NewServerConn(sc, sctx)
				if err != nil {
					serverErr <- err
					return
				}
				defer srv.Close()
				serverErr <- srv.Handshake()
			}()
			cctx, err := openssl.NewCtx(openssl.TLSClientMethod)
			require.NoError(t, err)
			defer cctx.Close()
			require.NoError(t, cctx.SetVerify(openssl.VerifyPeer, -1))
			require.NoError(t, cctx.SetCertVerifyCallback(tc.verify))
			client, err := openssl.NewClientConn(cc, cctx)
			require.NoError(t, err)
			defer client.Close()
			tc.check(t, client.Handshake)
			if tc.name != "accepts" {
				client.Close() // the alert is out; unblock the server either way
				assert.Error(t, <-serverErr, "the server saw the handshake fail")
			} else {
				assert.NoError(t, <-serverErr)
			}
		})
	}
}
