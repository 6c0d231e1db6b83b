//go:build cgo

package openssl

/*
#include "shim.h"
*/
import "C"

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Cookie layout: version(1) | issued, Unix seconds (4) | HMAC-SHA256
// truncated to 16 bytes. 21 bytes in all: DTLS 1.0 (RFC 4347) caps cookies
// at 32 bytes and GnuTLS enforces that cap for DTLS 1.2 too, refusing a
// longer HelloVerifyRequest. A 128-bit tag on a cookie that lives a minute
// leaves a forger nothing to gain.
//
// cookie_hmac.c makes and checks the same cookies in C (the constants
// below are shared with it through include/shim.h).
const (
	cookieVersion  = C.GOSSL_COOKIE_VERSION
	cookieTagLen   = C.GOSSL_COOKIE_TAG_LEN
	cookieLen      = C.GOSSL_COOKIE_LEN
	cookieSkew     = C.GOSSL_COOKIE_SKEW // seconds a cookie may come from the future (clock skew between servers)
	cookieKeyLen   = C.GOSSL_COOKIE_KEY_LEN
	minSecretLen   = 16
	defaultLife    = 60 * time.Second
	keyDerivLabel  = "openssl-stateless cookie key v1"
	macInputMaxLen = 1 + 8 + 1 + 16 + 2 + 64
)

// CookieSigner is a stateless cookie scheme for DTLS HelloVerifyRequest and
// TLS 1.3 HelloRetryRequest cookies. A cookie (21 bytes) is an HMAC-SHA256,
// truncated to 128 bits, over the
// peer's address and port, the protocol, and the time it was issued, keyed
// by a key derived from the secret for the current time window. Windows are
// as long as the lifetime and keys rotate with them; cookies made with the
// current or the previous window's key verify, so a cookie is accepted for
// at most its lifetime. Verification runs in constant time. Servers built
// with the same secret (and clocks within a few seconds) accept each other's
// DTLS cookies. TLS 1.3 cookies do not travel between servers: OpenSSL wraps
// the application cookie in its own, HMAC'd with a key private to the
// SSL_CTX that no public API sets, so the client must return to the same
// Ctx.
//
// Install also sets up the same scheme in C on the Ctx: OpenSSL's
// callbacks then make and check cookies without calling into Go, with the
// keys of the current window (and its neighbours) that Go derives and hands
// over when the window turns. The keys are wiped when the Ctx's SSL_CTX is
// freed. A cookie the C side cannot handle (the first of a window, or a
// peer that is not an IP address) goes to the Go signer, which makes the
// same bytes.
//
// A CookieSigner is safe for concurrent use and allocates nothing per
// cookie once warm. Only NewCookieSigner makes a usable one: with a nil
// *CookieSigner or a zero CookieSigner{}, Install and GenerateCookie
// return an error for which errors.Is(err, ErrInvalidObject) holds, Sign
// appends nothing, and Verify and VerifyCookie report false.
type CookieSigner struct {
	secret   []byte
	lifetime time.Duration
	now      func() time.Time
	wall     bool // now is time.Now: the C signer's clock agrees with it
	keys     atomic.Pointer[signerKeys]
}

type signerKeys struct {
	epoch           int64
	cur, prev, next *epochKey
	raw             [3 * cookieKeyLen]byte // prev, cur, next: what C is handed
}

type epochKey struct {
	epoch int64
	key   [cookieKeyLen]byte
	pool  sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	in  [macInputMaxLen]byte
	sum [sha256.Size]byte
}

// NewCookieSigner returns a signer keyed by secret (at least 16 bytes), or
// by 32 random bytes if secret is nil. A cookie is valid for lifetime: 60s
// if zero, otherwise at least one second (a negative lifetime is an error).
func NewCookieSigner(secret []byte, lifetime time.Duration) (*CookieSigner, error) {
	if lifetime == 0 {
		lifetime = defaultLife
	}
	if lifetime < 0 {
		return nil, fmt.Errorf("openssl: cookie lifetime %v is negative (0 means the default, %v)", lifetime, defaultLife)
	}
	if lifetime < time.Second {
		return nil, fmt.Errorf("openssl: cookie lifetime %v is under one second", lifetime)
	}
	if secret == nil {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("openssl: cookie secret: %w", err)
		}
	} else if len(secret) < minSecretLen {
		return nil, fmt.Errorf("openssl: cookie secret of %d bytes is too short (minimum %d)", len(secret), minSecretLen)
	}
	return &CookieSigner{secret: append([]byte(nil), secret...), lifetime: lifetime, now: time.Now, wall: true}, nil
}

// Lifetime returns how long a cookie stays valid (0 for a signer
// NewCookieSigner did not make).
func (c *CookieSigner) Lifetime() time.Duration {
	if c.valid() != nil {
		return 0
	}
	return c.lifetime
}

// valid says why c cannot sign: nil, or not made by NewCookieSigner (whose
// checks keep every field usable: a zero lifetime would divide by zero).
func (c *CookieSigner) valid() error {
	switch {
	case c == nil:
		return errNilSigner
	case c.now == nil || c.lifetime < time.Second || len(c.secret) < minSecretLen:
		return errZeroSigner
	}
	return nil
}

// Install registers the signer as all four cookie callbacks of ctx: DTLS
// (SSL_CTX_set_cookie_generate_cb(3), SSL_CTX_set_cookie_verify_cb(3)) and
// TLS 1.3 (SSL_CTX_set_stateless_cookie_generate_cb(3),
// SSL_CTX_set_stateless_cookie_verify_cb(3)).
func (c *CookieSigner) Install(ctx *Ctx) error {
	if err := c.valid(); err != nil {
		return fmt.Errorf("openssl: CookieSigner.Install: %w", err)
	}
	if err := ctx.check(); err != nil {
		return fmt.Errorf("openssl: CookieSigner.Install: %w", err)
	}
	for _, kind := range []int{cookieDTLS, cookieStateless} {
		k := byte(kind)
		// OpenSSL calls these only inside an operation of s, on the
		// goroutine that has s: they read its peer without claiming it.
		// With the C signer installed they run only for what it leaves
		// to Go, and hand it the keys of the current window.
		gen := func(s *SSL, dst []byte) (int, error) {
			n, err := c.generate(s, k, dst, true)
			c.handOver(s)
			return n, err
		}
		verify := func(s *SSL, cookie []byte) bool {
			ok := c.verify(s, k, cookie, true)
			c.handOver(s)
			return ok
		}
		if err := ctx.setGen(kind, gen); err != nil {
			return err
		}
		if err := ctx.setVerify(kind, verify); err != nil {
			return err
		}
	}
	if !c.wall {
		return nil
	}
	// The C signer replaces the trampolines just set (they stay its
	// fallback) and gets the current keys now, not on the first cookie.
	err := ctx.with(func() error {
		if C.gossl_cookie_signer_install(ctx.ptr, C.long(c.lifetime/time.Second)) != 1 {
			return errors.New("openssl: CookieSigner.Install: out of memory")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return handOverTo(ctx, c.keysFor(c.now().Unix()))
}

// handOverTo gives ctx's C signer keys (Install's first hand-over).
func handOverTo(ctx *Ctx, keys *signerKeys) error {
	return ctx.with(func() error {
		if C.gossl_cookie_signer_keys(ctx.ptr, nil, C.int64_t(keys.epoch), (*C.uchar)(&keys.raw[0])) != 1 {
			return errors.New("openssl: CookieSigner.Install: no C signer on the Ctx")
		}
		return nil
	})
}

// handOver gives the C signer of s's Ctx the keys of the current window,
// from one of the Go callbacks: C leaves a cookie to Go when its keys are
// of another window. It costs a lock in C when they are current.
func (c *CookieSigner) handOver(s *SSL) {
	if !c.wall {
		return
	}
	keys := c.keysFor(c.now().Unix())
	C.gossl_cookie_signer_keys(nil, s.ptr, C.int64_t(keys.epoch), (*C.uchar)(&keys.raw[0]))
	runtime.KeepAlive(keys)
}

// GenerateCookie has the shape of a generate callback, for code that
// registers its own callbacks and uses the signer inside them.
func (c *CookieSigner) GenerateCookie(s *SSL) ([]byte, error) {
	if err := c.valid(); err != nil {
		return nil, err
	}
	buf := make([]byte, cookieLen)
	n, err := c.generate(s, cookieDTLS, buf, false)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// VerifyCookie has the shape of a verify callback and accepts what
// GenerateCookie made.
func (c *CookieSigner) VerifyCookie(s *SSL, cookie []byte) bool {
	return c.valid() == nil && c.verify(s, cookieDTLS, cookie, false)
}

// Sign appends a cookie for peer to dst. A signer NewCookieSigner did not
// make appends nothing: Sign has no error result, and no cookie it could
// make would verify.
func (c *CookieSigner) Sign(dst []byte, peer netip.AddrPort) []byte {
	if c.valid() != nil {
		return dst
	}
	var buf [cookieLen]byte
	n := c.sign(buf[:], cookieDTLS, peer.Addr().Unmap(), peer.Port(), nil, c.now().Unix())
	return append(dst, buf[:n]...)
}

// Verify reports whether cookie was made by Sign (or by a signer with the
// same secret) for peer and is still within its lifetime.
func (c *CookieSigner) Verify(cookie []byte, peer netip.AddrPort) bool {
	return c.valid() == nil && c.check(cookie, cookieDTLS, peer.Addr().Unmap(), peer.Port(), nil)
}

// generate and verify serve the installed callbacks (claimed: s is the SSL
// whose operation runs them) and GenerateCookie and VerifyCookie (which
// claim s to read its peer).
func (c *CookieSigner) generate(s *SSL, kind byte, dst []byte, claimed bool) (int, error) {
	if len(dst) < cookieLen {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrCookieTooLong, cookieLen, len(dst))
	}
	addr, port, other, err := peerOf(s, claimed)
	if err != nil {
		return 0, err
	}
	return c.sign(dst, kind, addr, port, other, c.now().Unix()), nil
}

func (c *CookieSigner) verify(s *SSL, kind byte, cookie []byte, claimed bool) bool {
	addr, port, other, err := peerOf(s, claimed)
	if err != nil {
		return false
	}
	return c.check(cookie, kind, addr, port, other)
}

// peerOf returns the IP peer, or for other transports the attached
// address's string form; ErrNoPeer if there is neither.
func peerOf(s *SSL, claimed bool) (netip.Addr, uint16, []byte, error) {
	if !claimed {
		nested, err := s.access()
		if err != nil {
			return netip.Addr{}, 0, nil, err
		}
		defer s.leave(nested)
	}
	ap := s.peerAddrPort()
	if ap.IsValid() {
		return ap.Addr().Unmap(), ap.Port(), nil, nil
	}
	if s.attached != nil {
		return netip.Addr{}, 0, []byte(s.attached.Network() + "|" + s.attached.String()), nil
	}
	return netip.Addr{}, 0, nil, ErrNoPeer
}

func (c *CookieSigner) epochOf(unix int64) int64 {
	return unix / int64(c.lifetime/time.Second)
}

// keysFor returns the keys of now's window and the one before, deriving
// them when the window turns.
func (c *CookieSigner) keysFor(now int64) *signerKeys {
	e := c.epochOf(now)
	k := c.keys.Load()
	if k != nil && k.epoch == e {
		return k
	}
	nk := &signerKeys{epoch: e}
	if k != nil && k.epoch == e-1 {
		nk.prev = k.cur
	} else {
		nk.prev = c.newEpochKey(e - 1)
	}
	if k != nil && k.epoch == e-1 && k.next != nil {
		nk.cur = k.next
	} else {
		nk.cur = c.newEpochKey(e)
	}
	// Derived ahead, so that a cookie claiming the next window (a peer
	// server's clock slightly ahead, or a forger) costs no allocation.
	nk.next = c.newEpochKey(e + 1)
	copy(nk.raw[:cookieKeyLen], nk.prev.key[:])
	copy(nk.raw[cookieKeyLen:], nk.cur.key[:])
	copy(nk.raw[2*cookieKeyLen:], nk.next.key[:])
	// Losing this race only means another goroutine derived the same keys.
	c.keys.CompareAndSwap(k, nk)
	return nk
}

func (c *CookieSigner) newEpochKey(e int64) *epochKey {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(keyDerivLabel))
	var eb [8]byte
	binary.BigEndian.PutUint64(eb[:], uint64(e))
	m.Write(eb[:])
	key := m.Sum(nil)
	ek := &epochKey{epoch: e}
	copy(ek.key[:], key)
	ek.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return ek
}

// mac computes the cookie MAC into st.sum.
func (ek *epochKey) mac(st *macState, kind byte, issued int64, addr netip.Addr, port uint16, other []byte) {
	in := st.in[:0]
	in = append(in, kind)
	in = binary.BigEndian.AppendUint64(in, uint64(issued))
	if addr.IsValid() {
		a := addr.As16()
		if addr.Is4() {
			in = append(in, 4)
		} else {
			in = append(in, 6)
		}
		in = append(in, a[:]...)
		in = binary.BigEndian.AppendUint16(in, port)
	} else {
		in = append(in, 0)
	}
	st.h.Reset()
	st.h.Write(in)
	if len(other) > 0 {
		st.h.Write(other)
	}
	st.h.Sum(st.sum[:0])
}

func (c *CookieSigner) sign(dst []byte, kind byte, addr netip.Addr, port uint16, other []byte, now int64) int {
	now = int64(uint32(now)) // the cookie carries 32 bits of it
	ek := c.keysFor(now).cur
	st := ek.pool.Get().(*macState)
	ek.mac(st, kind, now, addr, port, other)
	dst[0] = cookieVersion
	binary.BigEndian.PutUint32(dst[1:5], uint32(now))
	copy(dst[5:cookieLen], st.sum[:cookieTagLen])
	ek.pool.Put(st)
	return cookieLen
}

func (c *CookieSigner) check(cookie []byte, kind byte, addr netip.Addr, port uint16, other []byte) bool {
	if len(cookie) != cookieLen || cookie[0] != cookieVersion {
		return false
	}
	now := c.now().Unix()
	issued := int64(binary.BigEndian.Uint32(cookie[1:5]))
	if issued > now+cookieSkew || now-issued > int64(c.lifetime/time.Second) {
		return false
	}
	keys := c.keysFor(now)
	var ek *epochKey
	switch c.epochOf(issued) {
	case keys.cur.epoch:
		ek = keys.cur
	case keys.prev.epoch:
		ek = keys.prev
	case keys.next.epoch:
		// Issued by a server whose clock runs slightly ahead (within cookieSkew).
		ek = keys.next
	default:
		return false
	}
	st := ek.pool.Get().(*macState)
	ek.mac(st, kind, issued, addr, port, other)
	ok := hmac.Equal(st.sum[:cookieTagLen], cookie[5:cookieLen])
	ek.pool.Put(st)
	return ok
}
