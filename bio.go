package openssl

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// BIO wraps an OpenSSL BIO. Three kinds are offered:
//
//   - NewMemBIO: a memory BIO (BIO_s_mem(3)) for stream transports the Go
//     side drives, such as TLS over a net.Conn. It has no peer address.
//   - NewDatagramBIO: a datagram BIO on a socket descriptor (BIO_new_dgram(3)).
//   - NewPacketBIO: a datagram BIO whose datagrams the Go side supplies and
//     collects, for a UDP socket read by Go (one socket shared by many
//     peers, as in package dtls). Each OpenSSL read returns exactly one
//     pushed datagram; BIO_CTRL_DGRAM_GET_PEER reports that datagram's
//     source; BIO_CTRL_DGRAM_QUERY_MTU answers with the MTU given here.
//
// After SetBIO the SSL owns the BIO: it is freed by the SSL's Close, and
// its methods count as the SSL's, since OpenSSL reads and writes the BIO
// inside the SSL's operations.
//
// A BIO is not safe for concurrent use: as with an SSL, a method called
// while another runs on a second goroutine (for an owned BIO, while any
// method of its SSL runs) returns ErrConcurrentUse, or does nothing and
// returns its zero value if it has no error result; Close may be called at
// any time. Methods of a nil *BIO, or of one no constructor made, return an
// error for which errors.Is(err, ErrInvalidObject) holds, or their zero
// value.
type BIO struct {
	state   atomic.Uint32 // stateBusy, stateCloseRequested, stateClosed, stateOwned
	ptr     *C.BIO
	dg      *C.gossl_dgram // packet BIOs only: state in C memory, read by Go directly
	owner   *SSL           // set by SetBIO before stateOwned is published
	cleanup runtime.Cleanup
}

func newBIO(p *C.BIO, dg *C.gossl_dgram) *BIO {
	b := &BIO{ptr: p, dg: dg}
	b.cleanup = runtime.AddCleanup(b, func(p *C.BIO) { C.BIO_free(p) }, p)
	return b
}

// NewMemBIO wraps BIO_new(BIO_s_mem()).
func NewMemBIO() (*BIO, error) {
	p := C.gossl_BIO_new_mem()
	if p == nil {
		return nil, errors.New("openssl: BIO_new(BIO_s_mem) failed")
	}
	return newBIO(p, nil), nil
}

// NewDatagramBIO wraps BIO_new_dgram(3) on a UDP socket descriptor. With
// closeFD the BIO closes the descriptor when freed (BIO_CLOSE). A
// non-blocking descriptor makes reads return ErrWantRead (and DTLSv1Listen
// ErrRetry) instead of blocking.
func NewDatagramBIO(fd int, closeFD bool) (*BIO, error) {
	if fd < 0 {
		return nil, fmt.Errorf("openssl: NewDatagramBIO: invalid descriptor %d", fd)
	}
	p := C.gossl_BIO_new_dgram(C.int(fd), cBool(closeFD))
	if p == nil {
		return nil, errors.New("openssl: BIO_new_dgram failed")
	}
	return newBIO(p, nil), nil
}

// MinPacketBIOBuffer is the smallest buffer NewPacketBIO accepts.
const MinPacketBIOBuffer = 512

// NewPacketBIO makes a datagram BIO fed from Go. mtu is the largest datagram
// OpenSSL may write (answered to BIO_CTRL_DGRAM_QUERY_MTU, with no IP/UDP
// overhead to subtract); bufSize is the largest datagram it can take in.
func NewPacketBIO(mtu, bufSize int) (*BIO, error) {
	if bufSize < MinPacketBIOBuffer || bufSize > 1<<16 {
		return nil, fmt.Errorf("openssl: NewPacketBIO: buffer size %d outside [%d, 65536]", bufSize, MinPacketBIOBuffer)
	}
	if mtu <= 0 || mtu > 1<<16 {
		return nil, fmt.Errorf("openssl: NewPacketBIO: MTU %d outside (0, 65536]", mtu)
	}
	var dg *C.gossl_dgram
	p := C.gossl_BIO_new_packet(C.int(bufSize), C.int(mtu), &dg)
	if p == nil {
		return nil, errors.New("openssl: NewPacketBIO: out of memory")
	}
	return newBIO(p, dg), nil
}

// claim gives a method the BIO to itself: the BIO's own busy flag, or for a
// BIO an SSL owns, the SSL's. owner is the SSL claimed (nil for the BIO's
// own flag) and nested reports a call from one of that SSL's callbacks;
// done(owner, nested) gives back what claim took. accessor is as for
// (*SSL).claim: only a method that neither reads nor writes data may run
// nested.
func (b *BIO) claim(accessor bool) (owner *SSL, nested bool, err error) {
	if b != nil {
		switch b.state.Load() {
		case stateOwned:
			nested, err := b.owner.claim(accessor)
			return b.owner, nested, err
		case 0:
			if b.state.CompareAndSwap(0, stateBusy) {
				if b.ptr == nil {
					b.state.Store(0)
					return nil, false, errZeroBIO
				}
				return nil, false, nil
			}
		}
	}
	return b.claimSlow(accessor)
}

func (b *BIO) claimSlow(accessor bool) (*SSL, bool, error) {
	if b == nil {
		return nil, false, errNilBIO
	}
	for {
		st := b.state.Load()
		switch {
		case st == stateOwned:
			nested, err := b.owner.claim(accessor)
			return b.owner, nested, err
		case st == 0:
			if b.state.CompareAndSwap(0, stateBusy) {
				if b.ptr == nil {
					b.state.Store(0)
					return nil, false, errZeroBIO
				}
				return nil, false, nil
			}
		case st&(stateClosed|stateCloseRequested) != 0:
			return nil, false, ErrClosed
		default:
			return nil, false, ErrConcurrentUse
		}
	}
}

// done gives back what claim took, freeing the BIO if Close was called
// meanwhile.
func (b *BIO) done(owner *SSL, nested bool) {
	if owner != nil {
		owner.leave(nested)
	} else if !b.state.CompareAndSwap(stateBusy, 0) {
		b.free() // stateBusy|stateCloseRequested
	}
}

// release gives back a claim of the BIO's own flag.
func (b *BIO) release() { b.done(nil, false) }

func (b *BIO) free() {
	b.cleanup.Stop()
	C.BIO_free(b.ptr)
	b.ptr, b.dg = nil, nil
	b.state.Store(stateClosed)
}

// claimForSSL claims a BIO that SetBIO is about to give to an SSL.
func (b *BIO) claimForSSL() error {
	if b == nil {
		return fmt.Errorf("openssl: SetBIO: %w", errNilBIO)
	}
	for {
		st := b.state.Load()
		switch {
		case st == stateOwned:
			return errors.New("openssl: SetBIO: BIO already belongs to an SSL")
		case st == 0:
			if b.state.CompareAndSwap(0, stateBusy) {
				if b.ptr == nil {
					b.state.Store(0)
					return fmt.Errorf("openssl: SetBIO: %w", errZeroBIO)
				}
				return nil
			}
		case st&(stateClosed|stateCloseRequested) != 0:
			return ErrClosed
		default:
			return ErrConcurrentUse
		}
	}
}

// becomeOwned hands a BIO claimed by claimForSSL to s, whose SSL_set_bio
// took its reference. A Close that came meanwhile is dropped: the BIO is
// now the SSL's to free.
func (b *BIO) becomeOwned(s *SSL) {
	b.owner = s
	b.cleanup.Stop()
	b.state.Store(stateOwned)
}

// Close wraps BIO_free(3). A BIO owned by an SSL is freed with the SSL, so
// Close does nothing then. Close is idempotent, and may be called while
// another method runs: the BIO is then freed when that method returns.
// Close of a nil *BIO returns an error, as (*os.File)(nil).Close does.
func (b *BIO) Close() error {
	if b == nil {
		return errNilBIO
	}
	for {
		st := b.state.Load()
		switch {
		case st == stateOwned, st&(stateClosed|stateCloseRequested) != 0:
			return nil
		case st&stateBusy != 0:
			if b.state.CompareAndSwap(st, st|stateCloseRequested) {
				return nil
			}
		case b.state.CompareAndSwap(0, stateBusy):
			if b.ptr == nil {
				b.state.Store(0)
				return errZeroBIO
			}
			b.free()
			return nil
		}
	}
}

// BIO is an io.ReadWriteCloser, and keeps those interfaces' contracts, so
// that io.Copy, io.ReadAll, bufio and the like can drive a memory BIO: a
// helper that sees (0, nil) would spin, and one that sees n < len(p) with no
// error would lose bytes.
var _ io.ReadWriteCloser = (*BIO)(nil)

// Write wraps BIO_write(3): for a memory BIO, bytes the SSL will read; for a
// datagram or packet BIO, one datagram. It keeps io.Writer's contract: it
// returns len(p) and nil, or fewer bytes and an error saying why.
// ErrWantWrite means the BIO could not take p now (BIO_should_retry(3): a
// non-blocking socket's buffer is full) and the call may be repeated. A
// BIO_write of part of p, which none of the three kinds does, would be
// reported as io.ErrShortWrite. BIO_write takes an int: p may not be
// longer than 2^31-1 bytes.
func (b *BIO) Write(p []byte) (int, error) {
	owner, nested, err := b.claim(false)
	if err != nil {
		return 0, err
	}
	defer b.done(owner, nested)
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > math.MaxInt32 {
		return 0, fmt.Errorf("openssl: BIO_write of %d bytes: more than an int can count", len(p))
	}
	n := C.gossl_BIO_write(b.ptr, unsafe.Pointer(&p[0]), C.int(len(p)))
	var retry bool
	if n <= 0 {
		// The error path only: a second cgo call for the flag is cheap there.
		retry = C.BIO_test_flags(b.ptr, C.BIO_FLAGS_SHOULD_RETRY) != 0
	}
	runtime.KeepAlive(b)
	switch {
	case int(n) == len(p):
		return len(p), nil
	case n > 0:
		return int(n), io.ErrShortWrite
	case retry:
		return 0, ErrWantWrite
	}
	return 0, fmt.Errorf("openssl: BIO_write returned %d", int(n))
}

// Read wraps BIO_read(3): for a memory BIO, bytes the SSL wrote. It keeps
// io.Reader's contract, so that io.ReadAll, io.Copy and bufio can drain a
// BIO, and tells "nothing yet" from "nothing more", which BIO_read(3)
// returns alike (0 or -1) and BIO_should_retry(3) tells apart:
//
//   - Data: (n, nil), never with an error.
//   - Nothing yet (BIO_should_retry(3): a memory BIO's default when empty, a
//     packet BIO with no datagram, a non-blocking socket): (0, ErrWantRead).
//     Call again once more was written; io.ReadAll and io.Copy stop there
//     and return ErrWantRead with what they read.
//   - End of stream (no retry: a memory BIO after SetMemEOFReturn(0), a
//     packet BIO after SetDatagramEOF(true)): (0, io.EOF).
//   - An empty datagram on a datagram BIO: (0, ErrWantRead) too. It carries
//     nothing and anyone can send one, so it must not read as the end of
//     the stream (the packet BIO drops empty datagrams the same way).
//   - A failure (-1 or less with no retry): (0, an error).
//
// Read never returns (0, nil) unless p is empty. BIO_read takes an int, so
// a p longer than 2^31-1 bytes gets at most that many.
func (b *BIO) Read(p []byte) (int, error) {
	owner, nested, err := b.claim(false)
	if err != nil {
		return 0, err
	}
	defer b.done(owner, nested)
	if len(p) == 0 {
		return 0, nil
	}
	var retry C.int
	n := C.gossl_BIO_read(b.ptr, unsafe.Pointer(&p[0]), C.int(min(len(p), math.MaxInt32)), &retry)
	dgram := false
	if n == 0 && retry == 0 {
		// The end-of-stream path only: one more cgo call there is cheap.
		dgram = C.BIO_method_type(b.ptr) == C.BIO_TYPE_DGRAM
	}
	runtime.KeepAlive(b)
	switch {
	case n > 0:
		return int(n), nil
	case retry != 0, dgram:
		return 0, ErrWantRead
	case n == 0:
		return 0, io.EOF
	}
	return 0, fmt.Errorf("openssl: BIO_read returned %d", int(n))
}

// Pending wraps BIO_ctrl_pending(3): bytes waiting to be read.
func (b *BIO) Pending() int {
	owner, nested, err := b.claim(true)
	if err != nil {
		return 0
	}
	defer b.done(owner, nested)
	return int(C.BIO_ctrl_pending(b.ptr))
}

// SetMemEOFReturn wraps BIO_set_mem_eof_return(3): what reading an empty
// memory BIO returns. The default, -1 (any negative value), means "retry":
// Read and SSL calls return ErrWantRead. 0 means end of stream: Read
// returns io.EOF, and to an SSL reading the BIO the transport has closed. A
// positive v is refused: BIO_read would return it as a count of bytes it
// never copied, as the manual page warns.
func (b *BIO) SetMemEOFReturn(v int) error {
	owner, nested, err := b.claim(false)
	if err != nil {
		return err
	}
	defer b.done(owner, nested)
	if v > 0 {
		return fmt.Errorf("openssl: SetMemEOFReturn(%d): a positive value reads as a byte count; use 0 (end of stream) or a negative value (retry)", v)
	}
	C.gossl_BIO_set_mem_eof_return(b.ptr, C.long(v))
	runtime.KeepAlive(b)
	return nil
}

// Peer wraps BIO_dgram_get_peer(3). ok is false when the BIO knows no peer
// (a memory BIO never does).
func (b *BIO) Peer() (addr netip.AddrPort, ok bool) {
	owner, nested, err := b.claim(true)
	if err != nil {
		return netip.AddrPort{}, false
	}
	defer b.done(owner, nested)
	if b.dg != nil {
		ap := addrPortFromC(&b.dg.peer)
		return ap, ap.IsValid()
	}
	var a C.gossl_addr
	if C.gossl_BIO_dgram_get_peer(b.ptr, &a) != 1 {
		return netip.AddrPort{}, false
	}
	ap := addrPortFromC(&a)
	return ap, ap.IsValid()
}

// SetPeer wraps BIO_dgram_set_peer(3): where an unconnected datagram BIO
// sends.
func (b *BIO) SetPeer(addr netip.AddrPort) error {
	return b.addrCtrl(addr, false)
}

// SetConnected wraps BIO_ctrl_set_connected(3): tells the BIO its socket is
// now connected to addr (after connect(2)), or, with the zero AddrPort,
// that it is not.
func (b *BIO) SetConnected(addr netip.AddrPort) error {
	return b.addrCtrl(addr, true)
}

func (b *BIO) addrCtrl(addr netip.AddrPort, connected bool) error {
	owner, nested, err := b.claim(false)
	if err != nil {
		return err
	}
	defer b.done(owner, nested)
	var a C.gossl_addr
	addrPortToC(addr, &a)
	var ok C.int
	if connected {
		ok = C.gossl_BIO_ctrl_set_connected(b.ptr, &a)
	} else {
		ok = C.gossl_BIO_dgram_set_peer(b.ptr, &a)
	}
	runtime.KeepAlive(b)
	if ok != 1 {
		return fmt.Errorf("openssl: setting the BIO's peer to %v failed", addr)
	}
	return nil
}

// IsPacketBIO reports whether b was made by NewPacketBIO (false once it
// is freed).
func (b *BIO) IsPacketBIO() bool {
	owner, nested, err := b.claim(true)
	if err != nil {
		return false
	}
	defer b.done(owner, nested)
	return b.dg != nil
}

var errNotPacketBIO = errors.New("openssl: not a packet BIO (NewPacketBIO)")

// DatagramBuffer returns the packet BIO's inbound buffer, C memory that stays
// valid until the BIO is freed. Reading a datagram straight into it and
// calling SetDatagram avoids a copy. nil for other BIOs.
func (b *BIO) DatagramBuffer() []byte {
	owner, nested, err := b.claim(true)
	if err != nil {
		return nil
	}
	defer b.done(owner, nested)
	if b.dg == nil {
		return nil
	}
	return b.datagramBuffer()
}

func (b *BIO) datagramBuffer() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(b.dg.in)), int(b.dg.in_cap))
}

// SetDatagram marks the first n bytes of DatagramBuffer as the next
// datagram, received from `from`. It fails with ErrDatagramPending while the
// previous datagram is unread.
func (b *BIO) SetDatagram(n int, from netip.AddrPort) error {
	owner, nested, err := b.claim(false)
	if err != nil {
		return err
	}
	defer b.done(owner, nested)
	return b.setDatagram(n, from)
}

// setDatagram is SetDatagram for a caller that has claimed b.
func (b *BIO) setDatagram(n int, from netip.AddrPort) error {
	d := b.dg
	if d == nil {
		return errNotPacketBIO
	}
	if d.in_ready != 0 {
		return ErrDatagramPending
	}
	if n < 0 || n > int(d.in_cap) {
		return fmt.Errorf("openssl: datagram of %d bytes does not fit the %d-byte buffer", n, int(d.in_cap))
	}
	addrPortToC(from, &d.peer)
	d.in_len = C.int(n)
	d.in_ready = 1
	return nil
}

// PushDatagram copies p into the packet BIO as the next datagram from
// `from`: one OpenSSL read will return exactly p.
func (b *BIO) PushDatagram(p []byte, from netip.AddrPort) error {
	owner, nested, err := b.claim(false)
	if err != nil {
		return err
	}
	defer b.done(owner, nested)
	d := b.dg
	if d == nil {
		return errNotPacketBIO
	}
	if d.in_ready != 0 {
		return ErrDatagramPending
	}
	if len(p) > int(d.in_cap) {
		return fmt.Errorf("openssl: datagram of %d bytes does not fit the %d-byte buffer", len(p), int(d.in_cap))
	}
	copy(b.datagramBuffer(), p)
	return b.setDatagram(len(p), from)
}

// DatagramPending reports whether the pushed datagram is still unread.
func (b *BIO) DatagramPending() bool {
	owner, nested, err := b.claim(true)
	if err != nil {
		return false
	}
	defer b.done(owner, nested)
	return b.dg != nil && b.dg.in_ready != 0
}

// DropDatagram discards the pushed datagram if OpenSSL has not read it.
func (b *BIO) DropDatagram() {
	owner, nested, err := b.claim(false)
	if err != nil {
		return
	}
	defer b.done(owner, nested)
	if b.dg != nil {
		b.dg.in_ready = 0
	}
}

// SetDatagramEOF makes reads of an empty packet BIO return end of file
// instead of "retry".
func (b *BIO) SetDatagramEOF(eof bool) {
	owner, nested, err := b.claim(false)
	if err != nil {
		return
	}
	defer b.done(owner, nested)
	if b.dg != nil {
		b.dg.eof = cBool(eof)
	}
}

// SetMTU changes the MTU a packet BIO reports.
func (b *BIO) SetMTU(mtu int) error {
	owner, nested, err := b.claim(false)
	if err != nil {
		return err
	}
	defer b.done(owner, nested)
	if b.dg == nil {
		return errNotPacketBIO
	}
	if mtu <= 0 || mtu > 1<<16 {
		return fmt.Errorf("openssl: SetMTU: MTU %d outside (0, 65536]", mtu)
	}
	b.dg.mtu = C.int(mtu)
	return nil
}

// HasOutput reports whether OpenSSL wrote datagrams not yet drained.
func (b *BIO) HasOutput() bool {
	owner, nested, err := b.claim(true)
	if err != nil {
		return false
	}
	defer b.done(owner, nested)
	return b.dg != nil && b.dg.out_len > 0
}

// OutputDatagrams reports how many datagrams OpenSSL wrote that are not yet
// drained: a caller with one sends it with DrainDatagrams, one with several
// may batch them (DrainDatagramBatches).
func (b *BIO) OutputDatagrams() int {
	owner, nested, err := b.claim(true)
	if err != nil {
		return 0
	}
	defer b.done(owner, nested)
	if b.dg == nil {
		return 0
	}
	defer runtime.KeepAlive(b)
	n := 0
	eachDatagram(b.dg, func([]byte) { n++ })
	return n
}

// DrainDatagrams calls send for each datagram OpenSSL wrote to the packet
// BIO since the last drain, in order, then empties the BIO. p aliases C
// memory and is valid only during the call. The first error from send is
// returned; the remaining datagrams are still offered to send, because on a
// datagram transport a lost datagram is the protocol's to recover. The BIO
// (and the SSL that owns it) is in use during the calls to send, which must
// not call their methods.
func (b *BIO) DrainDatagrams(send func(p []byte) error) error {
	owner, nested, err := b.claim(false)
	if err != nil {
		return err
	}
	defer b.done(owner, nested)
	d := b.dg
	if d == nil {
		return errNotPacketBIO
	}
	if send == nil {
		return errors.New("openssl: DrainDatagrams: nil send function")
	}
	defer runtime.KeepAlive(b) // d is C memory the BIO's cleanup would free
	var first error
	eachDatagram(d, func(p []byte) {
		if err := send(p); err != nil && first == nil {
			first = err
		}
	})
	d.out_len = 0
	return first
}

// eachDatagram calls f with each datagram OpenSSL wrote to d, in order:
// the output buffer holds them with a 2-byte length before each.
func eachDatagram(d *C.gossl_dgram, f func(p []byte)) {
	out := unsafe.Slice((*byte)(unsafe.Pointer(d.out)), int(d.out_len))
	for len(out) >= 2 {
		n := int(binary.BigEndian.Uint16(out))
		if 2+n > len(out) {
			break
		}
		f(out[2 : 2+n])
		out = out[2+n:]
	}
}

// DrainDatagramBatches is DrainDatagrams for a sender that takes several
// datagrams per system call (sendmmsg(2), golang.org/x/net/ipv4's
// WriteBatch): it calls send with up to len(buf) datagrams at a time, in
// order, in buf[:k]. A DTLS flight (a server's certificate flight, say)
// is several datagrams written by one SSL call, and goes out in one call
// to send when buf has room for it. The datagrams alias C memory and are
// valid only during the call; nothing is allocated. The first error from
// send is returned, and the datagrams after a failed batch are still
// offered, as DrainDatagrams does. buf must not be empty.
func (b *BIO) DrainDatagramBatches(buf [][]byte, send func(batch [][]byte) error) error {
	owner, nested, err := b.claim(false)
	if err != nil {
		return err
	}
	defer b.done(owner, nested)
	d := b.dg
	if d == nil {
		return errNotPacketBIO
	}
	switch {
	case send == nil:
		return errors.New("openssl: DrainDatagramBatches: nil send function")
	case len(buf) == 0:
		return errors.New("openssl: DrainDatagramBatches: empty batch buffer")
	}
	defer runtime.KeepAlive(b)
	var first error
	k := 0
	flush := func() {
		if k == 0 {
			return
		}
		if err := send(buf[:k]); err != nil && first == nil {
			first = err
		}
		clear(buf[:k]) // no slice of C memory outlives the call
		k = 0
	}
	eachDatagram(d, func(p []byte) {
		buf[k] = p
		k++
		if k == len(buf) {
			flush()
		}
	})
	flush()
	d.out_len = 0
	return first
}

// BIOAddr wraps a BIO_ADDR (BIO_ADDR_new(3)), for code that speaks to
// OpenSSL's address API. It converts to and from net.UDPAddr. A BIOAddr is
// not safe for concurrent use. Methods of a nil *BIOAddr, or of one
// NewBIOAddr did not make, return an error for which
// errors.Is(err, ErrInvalidObject) holds, or their zero value.
type BIOAddr struct {
	ptr     *C.BIO_ADDR
	closed  bool
	cleanup runtime.Cleanup
}

// NewBIOAddr wraps BIO_ADDR_new(3) and, if addr is not nil,
// BIO_ADDR_rawmake(3) with it.
func NewBIOAddr(addr *net.UDPAddr) (*BIOAddr, error) {
	p := C.gossl_BIO_ADDR_new()
	if p == nil {
		return nil, errors.New("openssl: BIO_ADDR_new failed")
	}
	a := &BIOAddr{ptr: p}
	a.cleanup = runtime.AddCleanup(a, func(p *C.BIO_ADDR) { C.BIO_ADDR_free(p) }, p)
	if addr != nil {
		if err := a.SetUDPAddr(addr); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// SetUDPAddr wraps BIO_ADDR_rawmake(3).
func (a *BIOAddr) SetUDPAddr(addr *net.UDPAddr) error {
	if err := a.check(); err != nil {
		return err
	}
	if addr == nil {
		return errors.New("openssl: SetUDPAddr: nil address")
	}
	ap := addr.AddrPort()
	if !ap.IsValid() {
		return fmt.Errorf("openssl: SetUDPAddr: %v is not an IP address", addr)
	}
	var c C.gossl_addr
	addrPortToC(ap, &c)
	defer runtime.KeepAlive(a)
	if C.gossl_BIO_ADDR_rawmake(a.ptr, &c) != 1 {
		return fmt.Errorf("openssl: BIO_ADDR_rawmake(%v) failed", addr)
	}
	return nil
}

// UDPAddr converts with BIO_ADDR_family(3), BIO_ADDR_rawaddress(3) and
// BIO_ADDR_rawport(3). It returns nil for AF_UNSPEC (an address a BIO could
// not fill in) and for families other than IPv4 and IPv6.
func (a *BIOAddr) UDPAddr() *net.UDPAddr {
	ap := a.AddrPort()
	if !ap.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(ap)
}

// AddrPort is UDPAddr as a netip.AddrPort.
func (a *BIOAddr) AddrPort() netip.AddrPort {
	if a == nil || a.ptr == nil {
		return netip.AddrPort{}
	}
	var c C.gossl_addr
	C.gossl_BIO_ADDR_get(a.ptr, &c)
	runtime.KeepAlive(a)
	return addrPortFromC(&c)
}

// Close wraps BIO_ADDR_free(3). It is idempotent. Close of a nil *BIOAddr
// returns an error, as (*os.File)(nil).Close does.
func (a *BIOAddr) Close() error {
	if a == nil {
		return errNilBIOAddr
	}
	if a.ptr == nil {
		if !a.closed {
			return errZeroBIOAddr
		}
		return nil
	}
	a.cleanup.Stop()
	C.BIO_ADDR_free(a.ptr)
	a.ptr, a.closed = nil, true
	return nil
}

// check says why a's methods cannot run.
func (a *BIOAddr) check() error {
	switch {
	case a == nil:
		return errNilBIOAddr
	case a.closed:
		return ErrClosed
	case a.ptr == nil:
		return errZeroBIOAddr
	}
	return nil
}
