package openssl

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"net/netip"
	"runtime"
	"unsafe"
)

// ListenBatch holds datagrams for DTLSv1ListenBatch and the answers it
// makes, in two buffers of fixed-size slots: datagram k is Datagram(k)
// (Len[k] bytes of it, from From[k]), and its answer, for From[k], is
// Answer(k), at most ListenAnswerMax bytes. The layout is the one
// recvmmsg(2) and sendmmsg(2) take, so a batch read from a socket is
// answered in one call into C and written back in one more syscall.
type ListenBatch struct {
	// Len[k] is the length of datagram k and From[k] its source; the
	// caller sets both before DTLSv1ListenBatch.
	Len  []int32
	From []netip.AddrPort
	// AnswerLen[k] is the length of datagram k's answer, set by
	// DTLSv1ListenBatch: 0 when it has none, -1 when the datagram was
	// longer than the SSL's read BIO takes and was dropped unread.
	AnswerLen []int32

	slot  int
	data  []byte
	reply []byte
	from  []C.gossl_addr // From in C's layout, filled for each call
}

// ListenAnswerMax bounds an answer of DTLSv1ListenBatch. The answer is a
// HelloVerifyRequest: a record and handshake header, a version and a
// cookie of at most 255 bytes, 283 bytes in all.
const ListenAnswerMax = 512

// NewListenBatch returns a ListenBatch of n slots for datagrams of up to
// slot bytes each: what the peers' MTU lets a ClientHello be.
func NewListenBatch(n, slot int) (*ListenBatch, error) {
	if n <= 0 || slot <= 0 || slot > 1<<16 || n > 1<<10 {
		return nil, fmt.Errorf("openssl: a ListenBatch of %d slots of %d bytes: want 1 to 1024 slots of 1 to 65536 bytes", n, slot)
	}
	return &ListenBatch{
		Len:       make([]int32, n),
		From:      make([]netip.AddrPort, n),
		AnswerLen: make([]int32, n),
		slot:      slot,
		data:      make([]byte, n*slot),
		reply:     make([]byte, n*ListenAnswerMax),
		from:      make([]C.gossl_addr, n),
	}, nil
}

// Cap returns the number of slots.
func (b *ListenBatch) Cap() int { return len(b.from) }

// Slot returns the size of a slot.
func (b *ListenBatch) Slot() int { return b.slot }

// Datagram returns slot k of the datagrams, whole: the buffer to receive
// datagram k into. Its first Len[k] bytes are the datagram.
func (b *ListenBatch) Datagram(k int) []byte {
	return b.data[k*b.slot : (k+1)*b.slot : (k+1)*b.slot]
}

// Answer returns datagram k's answer (nil when it has none).
func (b *ListenBatch) Answer(k int) []byte {
	n := int(b.AnswerLen[k])
	if n <= 0 {
		return nil
	}
	at := k * ListenAnswerMax
	return b.reply[at : at+n : at+n]
}

// DTLSv1ListenBatch is DTLSv1ListenDatagram over datagrams start to end-1
// of b, in order and in one call into C: each is answered (AnswerLen,
// Answer) or dropped as DTLSv1ListenDatagram would, and nothing is kept
// for its source. The call stops after the first datagram whose cookie
// verifies, or that fails as DTLSv1ListenDatagram would fail with an
// error other than ErrRetry: that datagram is next-1, and peer and err are
// DTLSv1ListenDatagram's for it (a valid peer and nil: the SSL holds the
// peer's ClientHello, ready for Accept; a fresh listening SSL takes the
// rest of the batch from next). Otherwise next is end, peer the zero
// AddrPort and err nil: every datagram was answered or dropped. A
// datagram longer than the SSL's read BIO takes (NewPacketBIO's buffer) or
// than b's slot is dropped unread, with AnswerLen -1; an answer longer
// than ListenAnswerMax is dropped, with AnswerLen 0.
//
// The SSL's read and write BIOs must be packet BIOs, with no datagram
// pending. It allocates nothing, and with a CookieSigner installed on the
// Ctx runs no Go code inside the call.
func (s *SSL) DTLSv1ListenBatch(b *ListenBatch, start, end int) (next int, peer netip.AddrPort, err error) {
	if b == nil {
		return start, netip.AddrPort{}, errNilBatch
	}
	if n := len(b.from); n == 0 || len(b.Len) != n || len(b.From) != n || len(b.AnswerLen) != n {
		// C reads and writes all three up to end.
		return start, netip.AddrPort{}, errZeroBatch
	}
	if start < 0 || end > b.Cap() || start > end {
		return start, netip.AddrPort{}, fmt.Errorf("openssl: DTLSv1ListenBatch over [%d, %d) of a batch of %d", start, end, b.Cap())
	}
	if err := s.enter(); err != nil {
		return start, netip.AddrPort{}, err
	}
	defer s.release()
	return s.listenBatch(b, start, end)
}

func (s *SSL) listenBatch(b *ListenBatch, start, end int) (int, netip.AddrPort, error) {
	if !s.ctx.method.IsDTLS() {
		return start, netip.AddrPort{}, wrongMethod("DTLSv1ListenBatch", s.ctx.method, "Stateless")
	}
	if s.rbio == nil || s.rbio.dg == nil || s.wbio == nil || s.wbio.dg == nil {
		return start, netip.AddrPort{}, errNotPacketBIO
	}
	if s.rbio.dg.in_ready != 0 {
		return start, netip.AddrPort{}, ErrDatagramPending
	}
	if start == end {
		return end, netip.AddrPort{}, nil
	}
	for k := start; k < end; k++ {
		addrPortToC(b.From[k], &b.from[k])
	}
	// Go memory without Go pointers in it, for the call's duration only:
	// the datagrams and answers are copied between it and the BIOs in C.
	got := int(C.gossl_DTLSv1_listen_batch(s.ptr, s.addr,
		(*C.uchar)(unsafe.Pointer(&b.data[0])), C.int(b.slot), (*C.int32_t)(unsafe.Pointer(&b.Len[0])),
		&b.from[0], (*C.uchar)(unsafe.Pointer(&b.reply[0])), C.int(ListenAnswerMax), (*C.int32_t)(unsafe.Pointer(&b.AnswerLen[0])),
		C.int(start), C.int(end), s.res))
	cause := s.end()
	defer runtime.KeepAlive(s) // s.res
	// Checked above; the C side checks again.
	if got < 0 {
		return start, netip.AddrPort{}, ErrDatagramPending
	}
	switch ret := s.res.ret; {
	case ret >= 1:
		from := b.From[got-1]
		return got, netip.AddrPortFrom(from.Addr().WithZone(""), from.Port()), nil
	case ret == 0 && cause == nil:
		return got, netip.AddrPort{}, nil
	}
	return got, netip.AddrPort{}, newError("DTLSv1_listen", s.res, ErrorCode(s.res.ssl_err), cause)
}
