package openssl

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
	"weak"
)

// SSL wraps an SSL object: one connection, or one listening endpoint for
// DTLSv1Listen and Stateless.
//
// An SSL is not safe for concurrent use, exactly like the C object: callers
// serialise its methods (the package dtls shows one way). Concurrent use is
// detected, not locked against: a method called while another runs on a
// second goroutine returns ErrConcurrentUse, or, if it has no error result,
// does nothing and returns its zero value. Close is the exception: it may be
// called at any time, and if a method is running the SSL is freed when that
// method returns.
//
// A method called on a nil *SSL, or on an SSL not made by NewSSL, returns an
// error for which errors.Is(err, ErrInvalidObject) and
// errors.Is(err, os.ErrInvalid) hold (Close included, as with a nil
// *os.File), or its zero value.
type SSL struct {
	// state is the SSL's one synchronisation: stateBusy while a method runs
	// (taken with a compare-and-swap, so a second goroutine is refused, not
	// made to wait), stateCloseRequested when Close came meanwhile, then
	// stateClosed.
	state atomic.Uint32

	ptr     *C.SSL
	res     *C.gossl_result // C memory: callbacks may move Go stacks mid-call
	addr    *C.BIO_ADDR     // DTLSv1_listen's peer, reused for every call
	ctx     *Ctx
	handle  cgo.Handle
	cleanup runtime.Cleanup
	rbio    *BIO
	wbio    *BIO

	attached   net.Addr
	attachedAP netip.AddrPort
	userData   any

	// What the cookie callbacks reported during the current operation.
	cbErr    error
	cbPanic  any
	panicked bool
}

// The states of an SSL and of a BIO, bits of one atomic word.
const (
	// stateBusy: a method has the object to itself. It is taken with a
	// compare-and-swap from 0, and given back by the method on its way out.
	stateBusy uint32 = 1 << iota
	// stateCloseRequested: Close was called while a method ran (from one of
	// the SSL's own callbacks, or on another goroutine). The method frees
	// the object on its way out, once C no longer uses it.
	stateCloseRequested
	// stateClosed: the C object is freed.
	stateClosed
	// stateOwned (a BIO only): an SSL owns the BIO since SetBIO, and the
	// BIO's methods claim that SSL instead, because OpenSSL reads and writes
	// the BIO inside the SSL's operations.
	stateOwned
)

type sslResources struct {
	ptr    *C.SSL
	res    *C.gossl_result
	addr   *C.BIO_ADDR
	handle cgo.Handle
}

// freeSSL frees the SSL (and with it the BIOs it owns), then deletes the
// handle: gossl_SSL_free clears ex_data first, so no callback can reach a
// deleted handle.
func freeSSL(r sslResources) {
	C.gossl_SSL_free(r.ptr)
	C.BIO_ADDR_free(r.addr)
	C.free(unsafe.Pointer(r.res))
	r.handle.Delete()
}

// NewSSL wraps SSL_new(3). The SSL keeps ctx alive.
func NewSSL(ctx *Ctx) (*SSL, error) {
	if ctx == nil {
		return nil, fmt.Errorf("openssl: NewSSL: %w", errNilCtx)
	}
	if ctx.method == 0 {
		return nil, fmt.Errorf("openssl: NewSSL: %w", errZeroCtx)
	}
	s := &SSL{ctx: ctx, res: newResult()}
	// The handle holds a weak pointer, so that an SSL its user forgot to
	// Close can still be collected and freed by the cleanup.
	h := cgo.NewHandle(weak.Make(s))
	err := ctx.with(func() error {
		s.ptr = C.gossl_SSL_new(ctx.ptr, C.uintptr_t(h), s.res)
		if s.ptr == nil {
			return newError("SSL_new", s.res, codeNotAvailable, nil)
		}
		return nil
	})
	if err != nil {
		h.Delete()
		C.free(unsafe.Pointer(s.res))
		return nil, err
	}
	s.addr = C.gossl_BIO_ADDR_new()
	if s.addr == nil {
		C.gossl_SSL_free(s.ptr)
		h.Delete()
		C.free(unsafe.Pointer(s.res))
		return nil, errors.New("openssl: BIO_ADDR_new: out of memory")
	}
	s.handle = h
	s.cleanup = runtime.AddCleanup(s, freeSSL, sslResources{s.ptr, s.res, s.addr, h})
	return s, nil
}

// sslFromHandle finds the SSL a trampoline was called for.
func sslFromHandle(h C.uintptr_t) *SSL {
	if h == 0 {
		return nil
	}
	wp, ok := cgo.Handle(h).Value().(weak.Pointer[SSL])
	if !ok {
		return nil
	}
	return wp.Value()
}

// Close wraps SSL_free(3). The BIOs given to SetBIO are freed with it.
// Close is idempotent, and the one method that may be called while another
// runs, on another goroutine or from one of the SSL's own callbacks: the SSL
// is then freed when that method returns, and Close returns nil at once.
// Close of a nil *SSL returns an error, as (*os.File)(nil).Close does.
func (s *SSL) Close() error {
	if s == nil {
		return errNilSSL
	}
	for {
		st := s.state.Load()
		switch {
		case st&(stateClosed|stateCloseRequested) != 0:
			return nil
		case st&stateBusy != 0:
			// Freeing now would pull memory from under the running
			// method (and maybe from under C): it frees on its way out.
			if s.state.CompareAndSwap(st, st|stateCloseRequested) {
				return nil
			}
		case s.state.CompareAndSwap(0, stateBusy):
			if s.ptr == nil {
				s.state.Store(0)
				return errZeroSSL
			}
			s.free()
			return nil
		}
	}
}

// free frees the C objects, the owned BIOs with them (their methods find the
// SSL closed from then on). The caller holds stateBusy.
func (s *SSL) free() {
	s.cleanup.Stop()
	freeSSL(sslResources{s.ptr, s.res, s.addr, s.handle})
	s.ptr, s.res, s.addr = nil, nil, nil
	s.state.Store(stateClosed)
}

// enter claims the SSL for an operation: a method that runs libssl and may
// call back into Go. It costs one compare-and-swap; release gives the SSL
// back. From one of the SSL's own callbacks an operation is refused
// (ErrInCallback): it would reuse memory the outer operation still uses.
func (s *SSL) enter() error {
	_, err := s.claim(false)
	return err
}

// access claims the SSL for an accessor: a method that runs no callback.
// Called from one of the SSL's own callbacks it may proceed (nested is
// true), inside the operation that invoked the callback, which has the SSL
// and waits in C. leave(nested) gives the SSL back.
func (s *SSL) access() (nested bool, err error) {
	return s.claim(true)
}

func (s *SSL) claim(accessor bool) (nested bool, err error) {
	if s != nil && s.state.CompareAndSwap(0, stateBusy) {
		if s.ptr == nil { // an SSL not made by NewSSL
			s.state.Store(0)
			return false, errZeroSSL
		}
		return false, nil
	}
	return s.claimSlow(accessor)
}

// claimSlow says why the SSL cannot be claimed, unless it was released
// meanwhile. Only here, off the hot path, does it cost a cgo call: whether
// the caller runs inside one of the SSL's own callbacks, which is the
// question of which thread it runs on (see gossl_in_callback).
func (s *SSL) claimSlow(accessor bool) (nested bool, err error) {
	if s == nil {
		return false, errNilSSL
	}
	for {
		st := s.state.Load()
		switch {
		case st == 0:
			if s.state.CompareAndSwap(0, stateBusy) {
				if s.ptr == nil {
					s.state.Store(0)
					return false, errZeroSSL
				}
				return false, nil
			}
		case st&stateClosed != 0:
			return false, ErrClosed
		case C.gossl_in_callback(C.uintptr_t(s.handle)) == 1:
			if accessor {
				return true, nil
			}
			return false, ErrInCallback
		case st&stateCloseRequested != 0:
			return false, ErrClosed
		default:
			return false, ErrConcurrentUse
		}
	}
}

// release gives back what enter or access (not nested) claimed, and frees
// the SSL if Close was called meanwhile. Deferred by every method, so that
// it runs even when a callback's panic is raised again.
func (s *SSL) release() {
	if !s.state.CompareAndSwap(stateBusy, 0) {
		s.free() // stateBusy|stateCloseRequested
	}
}

// leave releases what access claimed, unless the call was nested.
func (s *SSL) leave(nested bool) {
	if !nested {
		s.release()
	}
}

// SetUserData attaches a Go value to the SSL, for callbacks that need
// per-connection context (the role of SSL_set_app_data(3), kept in Go).
func (s *SSL) SetUserData(v any) {
	if nested, err := s.access(); err == nil {
		s.userData = v
		s.leave(nested)
	}
}

// UserData returns the value given to SetUserData.
func (s *SSL) UserData() any {
	nested, err := s.access()
	if err != nil {
		return nil
	}
	defer s.leave(nested)
	return s.userData
}

// Ctx returns the Ctx the SSL was created from (nil for a nil SSL).
func (s *SSL) Ctx() *Ctx {
	if s == nil {
		return nil
	}
	return s.ctx // set by NewSSL, never changed
}

// SetBIO wraps SSL_set_bio(3). The SSL takes ownership of both BIOs (one
// reference if they are the same BIO): from here on they are freed by the
// SSL's Close, and their own Close does nothing. SetBIO can be called once.
func (s *SSL) SetBIO(rbio, wbio *BIO) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.release()
	if rbio == nil || wbio == nil {
		return fmt.Errorf("openssl: SetBIO: %w", errNilBIO)
	}
	if s.rbio != nil || s.wbio != nil {
		return errors.New("openssl: SetBIO: BIOs already set on this SSL")
	}
	if err := rbio.claimForSSL(); err != nil {
		return err
	}
	if wbio != rbio {
		if err := wbio.claimForSSL(); err != nil {
			rbio.release()
			return err
		}
	}
	// Ownership transfer: SSL_set_bio takes the references the Go BIOs held.
	C.SSL_set_bio(s.ptr, rbio.ptr, wbio.ptr)
	s.rbio, s.wbio = rbio, wbio
	rbio.becomeOwned(s)
	if wbio != rbio {
		wbio.becomeOwned(s)
	}
	runtime.KeepAlive(s)
	return nil
}

// ReadBIO returns the read BIO given to SetBIO.
func (s *SSL) ReadBIO() *BIO {
	nested, err := s.access()
	if err != nil {
		return nil
	}
	defer s.leave(nested)
	return s.rbio
}

// WriteBIO returns the write BIO given to SetBIO.
func (s *SSL) WriteBIO() *BIO {
	nested, err := s.access()
	if err != nil {
		return nil
	}
	defer s.leave(nested)
	return s.wbio
}

// run is the one path into libssl for the operations that take no buffer
// and may call back into Go: one cgo call that clears the queue, calls and
// drains. SSL_read, SSL_write and DTLSv1_listen have calls of their own,
// followed by end.
//
// Callers call enter first and read s.res afterwards.
func (s *SSL) run(op C.int) (C.long, error) {
	ret := C.gossl_SSL_op(s.ptr, op, s.res)
	return ret, s.end()
}

// end hands the callbacks' outcome to the caller of an operation,
// re-raising a panic here, on the caller's goroutine, after C has
// returned.
func (s *SSL) end() error {
	runtime.KeepAlive(s)
	return s.takeCallbackOutcome()
}

func (s *SSL) callbackFailed(err error) {
	if s.cbErr == nil {
		s.cbErr = err
	}
}

func (s *SSL) callbackPanicked(v any) {
	if !s.panicked {
		s.panicked, s.cbPanic = true, v
	}
}

func (s *SSL) takeCallbackOutcome() error {
	if s.panicked {
		v := s.cbPanic
		s.panicked, s.cbPanic, s.cbErr = false, nil, nil
		panic(v)
	}
	err := s.cbErr
	s.cbErr = nil
	return err
}

// handshakeOp runs an operation whose success is a return of 1.
func (s *SSL) handshakeOp(op C.int, name string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.release()
	ret, cause := s.run(op)
	if ret == 1 {
		return nil
	}
	return sslResultError(name, s.res, cause)
}

// Accept wraps SSL_accept(3). ErrWantRead and ErrWantWrite mean "call again
// when the BIO is ready"; other errors are fatal.
func (s *SSL) Accept() error { return s.handshakeOp(C.GOSSL_OP_ACCEPT, "SSL_accept") }

// Connect wraps SSL_connect(3).
func (s *SSL) Connect() error { return s.handshakeOp(C.GOSSL_OP_CONNECT, "SSL_connect") }

// Handshake wraps SSL_do_handshake(3), for an SSL whose role was set with
// SetAcceptState or SetConnectState.
func (s *SSL) Handshake() error { return s.handshakeOp(C.GOSSL_OP_DO_HANDSHAKE, "SSL_do_handshake") }

// The record calls give C their buffer as *C.uchar, not unsafe.Pointer:
// cgo checks an unsafe.Pointer argument for Go pointers in the memory it
// points to, which a byte buffer cannot hold, and that check's look-ups in
// the heap's metadata (runtime.inHeapOrStack) were the largest cost of ours
// per record, 2% of each side's CPU in make bench's 16-worker echo (about
// 0.35 µs per round trip each). cgo skips the check for pointers to types
// without pointers. The buffer still moves to the heap and stays alive
// through the call, as for any argument of a call that may run Go
// callbacks (TestRecordBuffersEscape).

// Read wraps SSL_read_ex(3). It returns io.EOF after the peer's close_notify,
// ErrWantRead when the read BIO has nothing more yet.
func (s *SSL) Read(p []byte) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.release()
	if len(p) == 0 {
		return 0, nil
	}
	ret := C.gossl_SSL_read(s.ptr, (*C.uchar)(unsafe.Pointer(&p[0])), C.size_t(len(p)), s.res)
	cause := s.end()
	if ret > 0 {
		return int(ret), nil
	}
	return 0, sslResultError("SSL_read_ex", s.res, cause)
}

// Peek wraps SSL_peek_ex(3): it reads like Read, processing whatever records
// arrive (handshake messages, alerts, records that fail to authenticate
// and are dropped), but leaves the data it returns for the next Read.
func (s *SSL) Peek(p []byte) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.release()
	if len(p) == 0 {
		return 0, nil
	}
	ret := C.gossl_SSL_peek(s.ptr, (*C.uchar)(unsafe.Pointer(&p[0])), C.size_t(len(p)), s.res)
	cause := s.end()
	if ret > 0 {
		return int(ret), nil
	}
	return 0, sslResultError("SSL_peek_ex", s.res, cause)
}

// Write wraps SSL_write_ex(3). On DTLS each Write is one record.
func (s *SSL) Write(p []byte) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.release()
	if len(p) == 0 {
		return 0, nil
	}
	ret := C.gossl_SSL_write(s.ptr, (*C.uchar)(unsafe.Pointer(&p[0])), C.size_t(len(p)), s.res)
	cause := s.end()
	if ret > 0 {
		return int(ret), nil
	}
	return 0, sslResultError("SSL_write_ex", s.res, cause)
}

// Shutdown wraps SSL_shutdown(3): it sends close_notify. done reports that
// the peer's close_notify has been received as well (a return of 1).
func (s *SSL) Shutdown() (done bool, err error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.release()
	ret, cause := s.run(C.GOSSL_OP_SHUTDOWN)
	switch {
	case ret == 1:
		return true, nil
	case ret == 0:
		return false, nil
	}
	return false, sslResultError("SSL_shutdown", s.res, cause)
}

// DTLSTimeout wraps DTLSv1_get_timeout(3): the time left before the
// retransmission timer fires, and whether a timer is running at all.
func (s *SSL) DTLSTimeout() (time.Duration, bool) {
	nested, err := s.access()
	if err != nil {
		return 0, false
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	var us C.longlong
	if C.gossl_DTLSv1_get_timeout(s.ptr, &us) != 1 {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}

// IdleDTLSTimeout is FreeBuffers then DTLSTimeout, in one call into C: for
// a caller about to wait for the next datagram, which lets an idle
// connection hold half the memory.
func (s *SSL) IdleDTLSTimeout() (time.Duration, bool) {
	if err := s.enter(); err != nil {
		return 0, false
	}
	defer s.release()
	defer runtime.KeepAlive(s)
	var us C.longlong
	if C.gossl_DTLSv1_get_timeout_idle(s.ptr, s.res, &us) != 1 {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}

// DTLSHandleTimeout wraps DTLSv1_handle_timeout(3): once the timer has
// fired, it retransmits the last flight. retransmitted is false when no
// timer had expired; an error means the handshake has failed (for example
// after too many retransmissions).
func (s *SSL) DTLSHandleTimeout() (retransmitted bool, err error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.release()
	ret, cause := s.run(C.GOSSL_OP_DTLS_HANDLE_TIMEOUT)
	switch {
	case ret > 0:
		return true, nil
	case ret == 0 && cause == nil && s.res.nerr == 0:
		return false, nil
	}
	return false, sslResultError("DTLSv1_handle_timeout", s.res, cause)
}

// SetMTU wraps SSL_set_mtu(3): the largest datagram (UDP payload) the SSL
// writes. It also sets SSL_OP_NO_QUERY_MTU, without which OpenSSL would ask
// the BIO instead and forget the value across DTLSv1_listen's SSL_clear.
func (s *SSL) SetMTU(mtu int) error {
	nested, err := s.access()
	if err != nil {
		return err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	if C.gossl_SSL_set_mtu(s.ptr, C.long(mtu)) != 1 {
		return fmt.Errorf("openssl: SSL_set_mtu(%d) refused: the minimum is %d", mtu, int(C.gossl_DTLS_get_link_min_mtu(s.ptr)))
	}
	return nil
}

// SetLinkMTU wraps DTLS_set_link_mtu(3): the MTU of the link, from which
// OpenSSL subtracts the IP and UDP overhead its BIO reports.
func (s *SSL) SetLinkMTU(mtu int) error {
	nested, err := s.access()
	if err != nil {
		return err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	if C.gossl_DTLS_set_link_mtu(s.ptr, C.long(mtu)) != 1 {
		return fmt.Errorf("openssl: DTLS_set_link_mtu(%d) refused: the minimum is %d", mtu, int(C.gossl_DTLS_get_link_min_mtu(s.ptr)))
	}
	return nil
}

// SetDTLSInitialTimeout sets the first DTLS retransmission timeout
// (OpenSSL's default is one second) through DTLS_set_timer_cb(3); later
// timeouts double up to 60 seconds, as with the default timer. Useful on
// links whose round trip is far below a second.
func (s *SSL) SetDTLSInitialTimeout(d time.Duration) error {
	nested, err := s.access()
	if err != nil {
		return err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	us := d.Microseconds()
	if us < 1000 || us > 60_000_000 {
		return fmt.Errorf("openssl: DTLS initial timeout %v outside [1ms, 60s]", d)
	}
	if C.gossl_DTLS_set_timer_cb(s.ptr, C.uint(us)) != 1 {
		return fmt.Errorf("openssl: DTLS_set_timer_cb: out of memory")
	}
	return nil
}

// DTLSDataMTU wraps DTLS_get_data_mtu(3): the most application data one
// record (one datagram) can carry at the current MTU and cipher; 0 before a
// cipher is negotiated.
func (s *SSL) DTLSDataMTU() int {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return int(C.DTLS_get_data_mtu(s.ptr))
}

// LinkMinMTU wraps DTLS_get_link_min_mtu(3).
func (s *SSL) LinkMinMTU() int {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return int(C.gossl_DTLS_get_link_min_mtu(s.ptr))
}

// SetOptions wraps SSL_set_options(3) and returns the options now set.
func (s *SSL) SetOptions(o Options) Options {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return Options(C.gossl_SSL_set_options(s.ptr, C.uint64_t(o), 0))
}

// ClearOptions wraps SSL_clear_options(3) and returns the options now set.
func (s *SSL) ClearOptions(o Options) Options {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return Options(C.gossl_SSL_set_options(s.ptr, 0, C.uint64_t(o)))
}

// SetAcceptState wraps SSL_set_accept_state(3).
func (s *SSL) SetAcceptState() {
	if nested, err := s.access(); err == nil {
		C.SSL_set_accept_state(s.ptr)
		s.leave(nested)
	}
}

// SetConnectState wraps SSL_set_connect_state(3).
func (s *SSL) SetConnectState() {
	if nested, err := s.access(); err == nil {
		C.SSL_set_connect_state(s.ptr)
		s.leave(nested)
	}
}

// SetServerName wraps SSL_set_tlsext_host_name(3): the host name a client
// sends in its server_name extension. An IP address is not sent, because
// SNI carries host names only (RFC 6066); the call then does nothing. To
// have OpenSSL check the name in the server's certificate, call SetHost
// too.
func (s *SSL) SetServerName(name string) error {
	nested, err := s.access()
	if err != nil {
		return err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	if _, err := netip.ParseAddr(name); err == nil {
		return nil
	}
	if err := noNUL("server name", name); err != nil {
		return err
	}
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if C.gossl_SSL_set_tlsext_host_name(s.ptr, cs, cBool(nested), s.res) != 1 {
		return newError("SSL_set_tlsext_host_name", s.res, codeNotAvailable, nil)
	}
	return nil
}

// SetHost wraps SSL_set1_host(3): the name the peer's certificate must
// carry when OpenSSL verifies it (SetVerify with VerifyPeer). An IP
// address is checked against the certificate's IP addresses instead
// (X509_VERIFY_PARAM_set1_ip_asc(3)). A Ctx.SetCertVerifyCallback
// replaces OpenSSL's verification, this check with it.
func (s *SSL) SetHost(name string) error {
	nested, err := s.access()
	if err != nil {
		return err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	if err := noNUL("host name", name); err != nil {
		return err
	}
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if C.gossl_SSL_set1_host(s.ptr, cs, cBool(nested), s.res) != 1 {
		return newError("SSL_set1_host", s.res, codeNotAvailable, nil)
	}
	return nil
}

// PeerAddr returns the peer the SSL talks to: inside a cookie callback, the
// source of the ClientHello being answered. It asks the read BIO
// (BIO_dgram_get_peer(3) on a datagram BIO; the source of the last datagram
// pushed into a packet BIO) and falls back to the address given to
// SetPeerAddr. A memory BIO has no peer: without SetPeerAddr the result is
// nil.
func (s *SSL) PeerAddr() net.Addr {
	nested, err := s.access()
	if err != nil {
		return nil
	}
	defer s.leave(nested)
	if ap := s.bioPeer(); ap.IsValid() {
		return net.UDPAddrFromAddrPort(ap)
	}
	return s.attached
}

// PeerAddrPort is PeerAddr as a netip.AddrPort, without allocating. It is
// the zero value when the peer is unknown or not an IP address.
func (s *SSL) PeerAddrPort() netip.AddrPort {
	nested, err := s.access()
	if err != nil {
		return netip.AddrPort{}
	}
	defer s.leave(nested)
	return s.peerAddrPort()
}

// peerAddrPort is PeerAddrPort for a caller that knows it runs inside an
// operation of s (CookieSigner's installed callbacks): no claim, and so no
// cgo call to learn that the call is nested.
func (s *SSL) peerAddrPort() netip.AddrPort {
	if ap := s.bioPeer(); ap.IsValid() {
		return ap
	}
	return s.attachedAP
}

// bioPeer asks the read BIO for its peer. The caller has claimed s.
func (s *SSL) bioPeer() netip.AddrPort {
	defer runtime.KeepAlive(s)
	if s.rbio != nil && s.rbio.dg != nil {
		return addrPortFromC(&s.rbio.dg.peer)
	}
	C.gossl_SSL_get_peer(s.ptr, &s.res.aux)
	return addrPortFromC(&s.res.aux)
}

// SetPeerAddr attaches the peer's address for transports whose BIO cannot
// report it, such as a memory BIO fed from a net.Conn. Cookie callbacks and
// CookieSigner then see it through PeerAddr.
func (s *SSL) SetPeerAddr(addr net.Addr) {
	nested, err := s.access()
	if err != nil {
		return
	}
	defer s.leave(nested)
	s.attached = addr
	s.attachedAP = netip.AddrPort{}
	switch a := addr.(type) {
	case *net.UDPAddr:
		s.attachedAP = a.AddrPort()
	case *net.TCPAddr:
		s.attachedAP = a.AddrPort()
	}
}

// Version wraps SSL_get_version(3), e.g. "DTLSv1.2" or "TLSv1.3".
func (s *SSL) Version() string {
	nested, err := s.access()
	if err != nil {
		return ""
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return C.GoString(C.SSL_get_version(s.ptr))
}

// CipherName wraps SSL_CIPHER_get_name(SSL_get_current_cipher(3)); "" before
// a cipher is negotiated.
func (s *SSL) CipherName() string {
	nested, err := s.access()
	if err != nil {
		return ""
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	if c := C.gossl_SSL_get_cipher_name(s.ptr); c != nil {
		return C.GoString(c)
	}
	return ""
}

// VerifyResult wraps SSL_get_verify_result(3) and
// X509_verify_cert_error_string(3). It returns nil when verification passed
// (or was not asked for).
func (s *SSL) VerifyResult() error {
	nested, err := s.access()
	if err != nil {
		return err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	code := VerifyCode(C.SSL_get_verify_result(s.ptr))
	if code == VerifyOK {
		return nil
	}
	return &VerifyError{Code: code}
}

// SessionReused wraps SSL_session_reused(3).
func (s *SSL) SessionReused() bool {
	nested, err := s.access()
	if err != nil {
		return false
	}
	defer s.leave(nested)
	return C.SSL_session_reused(s.ptr) == 1
}

// MaxFragmentLength is the maximum fragment length the handshake
// negotiated (RFC 6066; SSL_SESSION_get_max_fragment_length(3)) in bytes,
// or 0 when none was.
func (s *SSL) MaxFragmentLength() int {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	return int(C.gossl_SSL_max_fragment_length(s.ptr))
}

// IsInitFinished wraps SSL_is_init_finished(3): the handshake is complete.
func (s *SSL) IsInitFinished() bool {
	nested, err := s.access()
	if err != nil {
		return false
	}
	defer s.leave(nested)
	return C.SSL_is_init_finished(s.ptr) == 1
}

// Pending wraps SSL_pending(3): decrypted bytes ready to be read.
func (s *SSL) Pending() int {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return int(C.SSL_pending(s.ptr))
}

// FreeBuffers wraps SSL_free_buffers(3): it frees the SSL's record read
// and write buffers (about 33 KiB for DTLS, half of what an idle DTLS
// connection holds in OpenSSL 3.0) and reports whether it did. It does not
// while a record is pending in either, nor while part of a record is left
// unread (SSL_pending), which OpenSSL before 3.0.14 did not check
// (CVE-2024-4741). The next operation (Read, Write, a handshake step, a
// timeout, Shutdown) takes them back with SSL_alloc_buffers(3) first:
// OpenSSL's DTLS write path, unlike TLS's, does not, and would write
// through a null buffer.
func (s *SSL) FreeBuffers() bool {
	if err := s.enter(); err != nil {
		return false
	}
	defer s.release()
	defer runtime.KeepAlive(s)
	return C.gossl_SSL_free_buffers(s.ptr, s.res) == 1
}

// ShutdownState is SSL_get_shutdown(3)'s value.
type ShutdownState int

// Bits of ShutdownState.
const (
	SentShutdown     ShutdownState = C.SSL_SENT_SHUTDOWN
	ReceivedShutdown ShutdownState = C.SSL_RECEIVED_SHUTDOWN
)

// ShutdownState wraps SSL_get_shutdown(3).
func (s *SSL) ShutdownState() ShutdownState {
	nested, err := s.access()
	if err != nil {
		return 0
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	return ShutdownState(C.SSL_get_shutdown(s.ptr))
}

// PeerCertificates returns the peer's certificate chain, leaf first
// (SSL_get0_peer_certificate(3), SSL_get_peer_cert_chain(3)), parsed with
// crypto/x509. It is empty when the peer sent none. After a resumed
// handshake, which carries no certificate, it is the leaf the session
// kept, if any. As crypto/tls does, connections that received the same
// certificate share one parsed *x509.Certificate: do not modify it.
func (s *SSL) PeerCertificates() ([]*x509.Certificate, error) {
	nested, err := s.access()
	if err != nil {
		return nil, err
	}
	defer s.leave(nested)
	defer runtime.KeepAlive(s)
	n := int(C.gossl_SSL_peer_chain_len(s.ptr))
	return parseChain(n, func(i int) *C.X509 { return C.gossl_SSL_peer_chain_at(s.ptr, C.int(i)) })
}

// parseChain exports n certificates as DER and parses them, the one path
// for the chain a peer sent (after the handshake, and inside the cert
// verify callback); a certificate some connection already holds is not
// parsed again (certcache.go).
func parseChain(n int, at func(i int) *C.X509) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, n)
	// The DER goes through a pooled buffer: a certificate parsed before
	// needs no copy of its own (parsePeerCertificate copies on a miss).
	bp := derBuffers.Get().(*[]byte)
	defer derBuffers.Put(bp)
	for i := 0; i < n; i++ {
		x := at(i)
		buf := *bp
		m := int(C.gossl_i2d_X509(x, (*C.uchar)(unsafe.Pointer(&buf[0])), C.int(len(buf))))
		if m < 0 {
			buf = make([]byte, -m)
			*bp = buf
			m = int(C.gossl_i2d_X509(x, (*C.uchar)(unsafe.Pointer(&buf[0])), C.int(len(buf))))
		}
		if m <= 0 {
			return nil, fmt.Errorf("openssl: i2d_X509 of peer certificate %d failed", i)
		}
		c, err := parsePeerCertificate(buf[:m])
		if err != nil {
			return nil, fmt.Errorf("openssl: peer certificate %d: %w", i, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// derBuffers hold one certificate's DER on its way from OpenSSL to
// parsePeerCertificate.
var derBuffers = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

func addrPortFromC(a *C.gossl_addr) netip.AddrPort {
	switch a.family {
	case C.AF_INET:
		var b [4]byte
		copy(b[:], unsafe.Slice((*byte)(unsafe.Pointer(&a.addr[0])), 4))
		return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(a.port))
	case C.AF_INET6:
		var b [16]byte
		copy(b[:], unsafe.Slice((*byte)(unsafe.Pointer(&a.addr[0])), 16))
		return netip.AddrPortFrom(netip.AddrFrom16(b), uint16(a.port))
	}
	return netip.AddrPort{}
}

func addrPortToC(ap netip.AddrPort, a *C.gossl_addr) {
	*a = C.gossl_addr{}
	if !ap.IsValid() {
		return
	}
	addr := ap.Addr()
	dst := unsafe.Slice((*byte)(unsafe.Pointer(&a.addr[0])), 16)
	if addr.Is4() {
		a.family = C.AF_INET
		b := addr.As4()
		copy(dst, b[:])
	} else {
		a.family = C.AF_INET6
		b := addr.As16()
		copy(dst, b[:])
	}
	a.port = C.ushort(ap.Port())
}
