package openssl

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"unsafe"
)

// errListenDrained is DTLSv1Listen's ErrRetry when the read BIO had no more
// datagrams: it is both ErrRetry and ErrWantRead, and allocates nothing.
var errListenDrained error = listenDrained{}

type listenDrained struct{}

func (listenDrained) Error() string { return "openssl: retry (no more datagrams to read)" }

func (listenDrained) Is(target error) bool { return target == ErrRetry || target == ErrWantRead }

// DTLSv1Listen wraps DTLSv1_listen(3): it answers a ClientHello without a
// valid cookie with a HelloVerifyRequest and keeps no state for its sender.
// The SSL must be new (or only ever used for listening) with its BIOs set,
// its Ctx must have a DTLS method (on a TLS one DTLSv1Listen returns an
// error for which errors.Is(err, ErrWrongMethod) holds; Stateless is the TLS
// counterpart), and the Ctx must have cookie callbacks (SetCookieGenerateCallback and
// SetCookieVerifyCallback, or a CookieSigner).
//
// Results, as the manual page defines them:
//   - a ClientHello with a verified cookie: the peer's address and nil. The
//     SSL is ready for Accept, which completes the handshake. With a BIO
//     that cannot report its peer (a memory BIO) the address is nil.
//   - a non-fatal outcome: ErrRetry. A HelloVerifyRequest was sent, no
//     datagram was available, or an invalid datagram was dropped. Error
//     queue entries left by a drop are discarded here, never passed on to
//     the next call. Call again for the next datagram. When the read BIO
//     ran dry during the call (after answering, OpenSSL reads on until it
//     does), errors.Is(err, ErrWantRead) holds as well: on a non-blocking
//     socket, wait for readability before calling again; otherwise another
//     datagram may already be waiting.
//   - a fatal error: an *Error. A missing callback, or a generate callback
//     that failed, is reported so; its Go error is the *Error's Err.
//
// A panic in a cookie callback never unwinds through C: OpenSSL sees a
// failure and the panic is raised again here, once C has returned.
//
// DTLSv1_listen cannot reassemble fragments, so only ClientHellos that fit
// in one datagram are answered; others are dropped (ErrRetry).
func (s *SSL) DTLSv1Listen() (net.Addr, error) {
	ap, err := s.DTLSv1ListenAddrPort()
	if err != nil || !ap.IsValid() {
		return nil, err
	}
	return net.UDPAddrFromAddrPort(ap), nil
}

// DTLSv1ListenAddrPort is DTLSv1Listen returning a netip.AddrPort, without
// allocating. The address is the zero value when the BIO reports no peer.
func (s *SSL) DTLSv1ListenAddrPort() (netip.AddrPort, error) {
	if err := s.enter(); err != nil {
		return netip.AddrPort{}, err
	}
	defer s.release()
	defer runtime.KeepAlive(s) // s.res is read after the call
	if !s.ctx.method.IsDTLS() {
		return netip.AddrPort{}, wrongMethod("DTLSv1Listen", s.ctx.method, "Stateless")
	}
	ret := C.gossl_DTLSv1_listen(s.ptr, s.addr, s.res)
	cause := s.end()
	switch {
	case ret >= 1:
		return addrPortFromC(&s.res.peer), nil
	case ret == 0 && cause == nil:
		if s.res.rbio_retry != 0 {
			return netip.AddrPort{}, errListenDrained
		}
		return netip.AddrPort{}, ErrRetry
	}
	return netip.AddrPort{}, newError("DTLSv1_listen", s.res, ErrorCode(s.res.ssl_err), cause)
}

// DTLSv1ListenDatagram is PushDatagram, DTLSv1ListenAddrPort and
// DrainDatagrams in one call into C, for a listening SSL whose read and
// write BIOs are packet BIOs (NewPacketBIO; one BIO may be both): d,
// received from `from`, is copied into the read BIO as the next datagram
// and DTLSv1_listen(3) runs on it, then the datagram it sent (a
// HelloVerifyRequest) is copied into reply and taken from the BIO; n is its
// length, 0 if it sent none. peer and err are DTLSv1ListenAddrPort's. If
// OpenSSL wrote more than one datagram, or one longer than reply, all of it
// stays in the write BIO for DrainDatagrams (HasOutput reports it) and n is
// 0. d is consumed whatever the outcome. It allocates nothing, and with a
// CookieSigner installed on the Ctx, runs no Go code inside the call
// (see CookieSigner).
//
// Errors besides DTLSv1ListenAddrPort's: a BIO that is no packet BIO, a
// datagram longer than the read BIO's buffer, and ErrDatagramPending when
// a datagram pushed before is still unread.
func (s *SSL) DTLSv1ListenDatagram(d []byte, from netip.AddrPort, reply []byte) (peer netip.AddrPort, n int, err error) {
	if err := s.enter(); err != nil {
		return netip.AddrPort{}, 0, err
	}
	// One defer and few returns: the compiler open-codes it, which costs
	// nothing here, where a deferred call would cost a tenth of the path.
	defer s.release()
	return s.listenDatagram(d, from, reply)
}

// listenDatagram is DTLSv1ListenDatagram once s is claimed.
func (s *SSL) listenDatagram(d []byte, from netip.AddrPort, reply []byte) (netip.AddrPort, int, error) {
	if !s.ctx.method.IsDTLS() {
		return netip.AddrPort{}, 0, wrongMethod("DTLSv1Listen", s.ctx.method, "Stateless")
	}
	if s.rbio == nil || s.rbio.dg == nil || s.wbio == nil || s.wbio.dg == nil {
		return netip.AddrPort{}, 0, errNotPacketBIO
	}
	rd, wd := s.rbio.dg, s.wbio.dg
	switch {
	case rd.in_ready != 0:
		return netip.AddrPort{}, 0, ErrDatagramPending
	case len(d) > int(rd.in_cap):
		return netip.AddrPort{}, 0, fmt.Errorf("openssl: datagram of %d bytes does not fit the %d-byte buffer", len(d), int(rd.in_cap))
	}
	// The datagram goes in and the answer comes out by Go's copies into
	// and out of the BIOs' C memory: no Go pointer crosses.
	copy(s.rbio.datagramBuffer(), d)
	addrPortToC(from, &s.res.aux)
	got := int(C.gossl_DTLSv1_listen_datagram(s.ptr, s.addr, C.int(len(d)), s.res))
	cause := s.end()
	n := 0
	if got > 0 && got <= len(reply) {
		n = copy(reply, unsafe.Slice((*byte)(unsafe.Pointer(wd.out)), 2+got)[2:])
		wd.out_len = 0
	}
	var peer netip.AddrPort
	var err error
	switch ret := s.res.ret; {
	case got < 0: // checked above; the C side checks again
		err = ErrDatagramPending
	case ret >= 1:
		// The peer DTLSv1_listen reports is the read BIO's, from: as
		// DTLSv1ListenAddrPort would return it, through gossl_addr.
		peer = netip.AddrPortFrom(from.Addr().WithZone(""), from.Port())
	case ret == 0 && cause == nil && s.res.rbio_retry != 0:
		err = errListenDrained
	case ret == 0 && cause == nil:
		err = ErrRetry
	default:
		err = newError("DTLSv1_listen", s.res, ErrorCode(s.res.ssl_err), cause)
	}
	runtime.KeepAlive(s) // s.res and the BIOs' C memory
	return peer, n, err
}

// Stateless wraps SSL_stateless(3), the TLS 1.3 counterpart of
// DTLSv1Listen: a ClientHello without a valid cookie is answered with a
// HelloRetryRequest carrying one, and nothing is kept for the client.
// The Ctx needs a TLS method (on a DTLS one Stateless returns an error for
// which errors.Is(err, ErrWrongMethod) holds, where SSL_stateless would
// only want to read; DTLSv1Listen is the DTLS counterpart) and
// SetStatelessCookieGenerateCallback and SetStatelessCookieVerifyCallback
// (or a CookieSigner).
//
// Results:
//   - nil (1): the cookie verified; continue with Accept.
//   - ErrHelloRetryRequest (0): a HelloRetryRequest was sent; deliver it,
//     read the client's next ClientHello and call Stateless again.
//     errors.Is(err, ErrRetry) holds.
//   - ErrWantRead (-1, SSL_ERROR_WANT_READ): the read BIO ran dry before a
//     whole ClientHello arrived. Whatever the call took from the BIO is
//     lost: SSL_stateless begins with SSL_clear, which empties OpenSSL's
//     record and message buffers. So call Stateless only once the BIO
//     holds a whole ClientHello (one with a post-quantum key share is
//     longer than a TCP segment), over a memory BIO as over a non-blocking
//     socket; and with read_ahead set (Ctx.SetReadAhead), OpenSSL takes
//     what follows the ClientHello too, which the next call drops, so give
//     it one message at a time. StreamConn.StatelessHandshake does both.
//   - an *Error (-1): anything else. The manual allows a retry. One case is
//     expected: a TLS 1.3 client in middlebox-compatibility mode sends a
//     ChangeCipherSpec before its second ClientHello, and OpenSSL 3.0
//     returns -1 with SSL_ERROR_SYSCALL and an empty error queue after
//     consuming it; the next call succeeds. StreamConn.StatelessHandshake
//     handles this.
//
// A TLS 1.2 (or older) ClientHello makes OpenSSL fail the handshake: an
// *Error, and OpenSSL sends the client an alert.
func (s *SSL) Stateless() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.release()
	defer runtime.KeepAlive(s) // s.res is read after the call
	if s.ctx.method.IsDTLS() {
		return wrongMethod("Stateless", s.ctx.method, "DTLSv1Listen")
	}
	// The peer attached with SetPeerAddr goes along, so that a
	// CookieSigner's cookies are made in C (see CookieSigner).
	addrPortToC(s.attachedAP, &s.res.aux)
	ret := C.gossl_SSL_stateless_peer(s.ptr, s.res)
	cause := s.end()
	switch {
	case ret == 1:
		return nil
	case ret == 0 && cause == nil && s.res.nerr == 0:
		// SSL_stateless also returns 0, with OpenSSL's error queue
		// filled, when its SSL_clear fails: that is no HelloRetryRequest.
		return ErrHelloRetryRequest
	}
	return sslResultError("SSL_stateless", s.res, cause)
}
