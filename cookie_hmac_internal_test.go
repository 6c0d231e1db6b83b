package openssl

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/record"
)

// signerCtx is a DTLS Ctx with a CookieSigner installed whose Go callbacks
// (the C signer's fallback) count their calls.
func signerCtx(t *testing.T, secret []byte) (*Ctx, *CookieSigner, *atomic.Int64) {
	t.Helper()
	ctx, err := NewCtx(DTLSServerMethod)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	signer, err := NewCookieSigner(secret, 0)
	require.NoError(t, err)
	require.NoError(t, signer.Install(ctx))
	var calls atomic.Int64
	gen, verify := *ctx.gen[cookieDTLS].Load(), *ctx.verify[cookieDTLS].Load()
	var g genFunc = func(s *SSL, dst []byte) (int, error) { calls.Add(1); return gen(s, dst) }
	var v verifyFunc = func(s *SSL, c []byte) bool { calls.Add(1); return verify(s, c) }
	ctx.gen[cookieDTLS].Store(&g) // the C callbacks stay installed: only the Go ones change
	ctx.verify[cookieDTLS].Store(&v)
	return ctx, signer, &calls
}

func packetListener(t *testing.T, ctx *Ctx) *SSL {
	t.Helper()
	s, err := NewSSL(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	b, err := NewPacketBIO(1200, 4096)
	require.NoError(t, err)
	require.NoError(t, s.SetBIO(b, b))
	return s
}

func hvrCookie(t *testing.T, s *SSL, from netip.AddrPort) []byte {
	t.Helper()
	reply := make([]byte, 512)
	_, n, err := s.DTLSv1ListenDatagram(record.ClientHelloDatagram{}.Bytes(), from, reply)
	require.ErrorIs(t, err, ErrRetry)
	h, m, err := record.FirstDTLSHandshake(reply[:n])
	require.NoError(t, err)
	require.Equal(t, uint16(0), h.Epoch)
	hv, err := record.ParseHelloVerifyRequest(m.Body)
	require.NoError(t, err)
	return hv.Cookie
}

// handOverStale gives the Ctx's C signer the keys of a window long past,
// as if its clock had turned since the last hand-over.
func handOverStale(ctx *Ctx) {
	_ = handOverTo(ctx, &signerKeys{epoch: 12345})
}

// With a CookieSigner installed, cookies are made and checked in C: the Go
// callbacks run only when C's keys are of another window, and then hand it
// the current ones.
func TestCookieSignerRunsInC(t *testing.T) {
	ctx, signer, calls := signerCtx(t, nil)
	s := packetListener(t, ctx)
	from := netip.MustParseAddrPort("198.51.100.4:999")
	cookie := hvrCookie(t, s, from)
	valid := record.ClientHelloDatagram{Cookie: cookie}.Bytes()
	_, _, err := s.DTLSv1ListenDatagram(valid, from, nil)
	require.NoError(t, err)
	assert.Zero(t, calls.Load(), "no Go callback for a cookie made or checked")

	handOverStale(ctx)
	c2 := hvrCookie(t, s, from)
	assert.Equal(t, int64(1), calls.Load(), "stale keys: Go makes the cookie")
	assert.True(t, signer.Verify(c2, from))
	hvrCookie(t, s, from)
	assert.Equal(t, int64(1), calls.Load(), "and hands C the current keys")

	handOverStale(ctx)
	_, _, err = s.DTLSv1ListenDatagram(valid, from, nil)
	require.NoError(t, err, "Go checks what C cannot")
	assert.Equal(t, int64(2), calls.Load())
	_, _, err = s.DTLSv1ListenDatagram(valid, from, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(2), calls.Load())
}

// A second signer installed on the same Ctx replaces the first one's keys
// in C, not only its Go callbacks.
func TestCookieSignerReinstallForgetsKeys(t *testing.T) {
	ctx, first, _ := signerCtx(t, []byte("first-secret-0123456789abcdef012"))
	s := packetListener(t, ctx)
	from := netip.MustParseAddrPort("198.51.100.4:999")
	old := hvrCookie(t, s, from)
	second, err := NewCookieSigner([]byte("second-secret-123456789abcdef012"), 0)
	require.NoError(t, err)
	require.NoError(t, second.Install(ctx))
	_, n, err := s.DTLSv1ListenDatagram(record.ClientHelloDatagram{Cookie: old}.Bytes(), from, make([]byte, 512))
	require.ErrorIs(t, err, ErrRetry, "the first signer's cookie is refused")
	assert.NotZero(t, n, "and a new one sent")
	c := hvrCookie(t, s, from)
	assert.True(t, second.Verify(c, from))
	assert.False(t, first.Verify(c, from))
}

// Listeners on several goroutines share one Ctx while its keys are handed
// over again and again: every cookie they make verifies (C's readers never
// see half a key), whether C or Go made it.
func TestCookieSignerConcurrentRotation(t *testing.T) {
	ctx, signer, _ := signerCtx(t, nil)
	const workers, rounds = 4, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				handOverStale(ctx)
			}
		}
	}()
	for w := range workers {
		s := packetListener(t, ctx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(w)}), 4000)
			reply := make([]byte, 512)
			hello := record.ClientHelloDatagram{}.Bytes()
			for range rounds {
				_, n, err := s.DTLSv1ListenDatagram(hello, from, reply)
				if !assert.ErrorIs(t, err, ErrRetry) {
					return
				}
				_, m, err := record.FirstDTLSHandshake(reply[:n])
				if !assert.NoError(t, err) {
					return
				}
				hv, err := record.ParseHelloVerifyRequest(m.Body)
				if !assert.NoError(t, err) || !assert.True(t, signer.Verify(hv.Cookie, from)) {
					return
				}
				_, _, err = s.DTLSv1ListenDatagram(record.ClientHelloDatagram{Cookie: hv.Cookie}.Bytes(), from, reply)
				if !assert.NoError(t, err) {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
}
