//go:build linux

package dtls

import (
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/openssl-stateless/openssl"
)

// A Listener's reader on Linux takes up to batchSize datagrams per
// recvmmsg and sends the HelloVerifyRequests it wrote meanwhile with one
// sendmmsg once it has routed them all: under a flood of forged
// ClientHellos the syscalls, not OpenSSL, were the cost of an answer. The
// reads go through syscall.RawConn, so Go's netpoller still does the
// waiting, and deadlines and Close still end a blocked read.
//
// Memory. A slot per datagram as big as the largest one a connection
// takes (bioBuffer) would be 1 MiB per reader, idle. Instead each slot has
// room for any datagram of the Config's MTU (at least minSlot bytes, which
// an Ethernet MTU fits), what a peer with the same MTU sends, and its iovec
// goes on into one tail buffer shared by every slot: a datagram
// longer than its slot is whole when no later datagram of the batch was
// also that long (each overwrites the tail). A longer one that was
// overwritten is dropped and counted, as UDP may, and the reader then
// takes one datagram per read, with the whole tail for it, for
// singleReads reads: long datagrams (a peer's big records on a shared
// socket, a jumbo-frame ClientHello) come in runs, and those reads keep
// the rest of a run whole. Only a loss starts them, and they end after a
// fixed count, whatever comes: one read per datagram answers a flood at
// about a third of the batched rate (57k/s against 182k/s when batching
// came, docs/BENCHMARKS.md), so a peer who could hold the reader there
// would cut the server's flood capacity threefold. Before, one long
// datagram in every batchSize did, and lost nothing; now it takes two in
// every batched read, and still 32 of every 40 datagrams are read in
// batches (about 0.7x of the batched rate by those figures). Anything
// longer than bioBuffer was dropped before batching too.

const (
	batchSize = 32
	// singleReads is how many reads take one datagram after a long one
	// was lost (see above).
	singleReads = 8
	minSlot     = smallBuf
	// replySize holds a HelloVerifyRequest: at most 255 bytes of cookie.
	replySize = 512
)

// batch is a reader's preallocated recvmmsg and sendmmsg state. Only the
// reader's loop uses it.
type batch struct {
	rc     syscall.RawConn
	family int // the socket's, which the reply addresses must match

	hdrs  [batchSize]mmsghdr
	names [batchSize]unix.RawSockaddrInet6 // an IPv4 source takes its prefix
	iovs  [batchSize][2]unix.Iovec         // the slot, then the shared tail
	// The datagrams' slots are the ListenBatch's: the ClientHellos of a
	// read go to DTLSv1_listen in one call (readBatch).
	lb   *openssl.ListenBatch
	slot int // the size of a slot
	// long holds a datagram longer than its slot: the kernel writes past
	// the slot into long[slot:], and the slot's part is copied before
	// it, so that the datagram is contiguous.
	long []byte

	// From the last read.
	n      int // datagrams read
	err    error
	single int // reads of one datagram left before batching again (see above)

	readFn func(fd uintptr) bool // b.recv, made once: a method value allocates

	out replies

	zoneIndex int // the last IPv6 scope ID seen, and its name
	zoneName  string
}

// mmsghdr is struct mmsghdr of recvmmsg(2) and sendmmsg(2), which
// golang.org/x/sys/unix does not define. Go pads it to Msghdr's alignment
// as C does.
type mmsghdr struct {
	Hdr unix.Msghdr
	Len uint32
}

// replies are the datagrams a reader's loop sends once its batch is
// routed, each in a buffer of its own: the listening SSL's answer buffer is
// reused by the next datagram.
type replies struct {
	rc      syscall.RawConn
	family  int
	n       int
	hdrs    [batchSize]mmsghdr
	names   [batchSize]unix.RawSockaddrInet6
	iovs    [batchSize]unix.Iovec
	bufs    [batchSize][replySize]byte
	err     error
	writeFn func(fd uintptr) bool
}

// newBatch returns the batch state for udp, with slots of at least mtu
// bytes, or nil when udp is nil (a
// wrapped net.PacketConn, read one datagram at a time) or not an IPv4 or
// IPv6 socket.
func newBatch(udp *net.UDPConn, mtu int) *batch {
	if udp == nil {
		return nil
	}
	rc, err := udp.SyscallConn()
	if err != nil {
		return nil
	}
	family := 0
	if err := rc.Control(func(fd uintptr) {
		family, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_DOMAIN)
	}); err != nil || (family != unix.AF_INET && family != unix.AF_INET6) {
		return nil
	}
	slot := max(minSlot, mtu)
	lb, err := openssl.NewListenBatch(batchSize, slot)
	if err != nil {
		return nil
	}
	b := &batch{
		rc:     rc,
		family: family,
		lb:     lb,
		slot:   slot,
		long:   make([]byte, bioBuffer),
	}
	b.readFn = b.recv
	b.out.rc, b.out.family = rc, family
	b.out.writeFn = b.out.send
	for i := range b.hdrs {
		b.iovs[i][0].Base = &lb.Datagram(i)[0]
		b.iovs[i][0].SetLen(slot)
		b.iovs[i][1].Base = &b.long[slot]
		b.iovs[i][1].SetLen(len(b.long) - slot)
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i][0]
		h.SetIovlen(2)
	}
	for i := range b.out.hdrs {
		h := &b.out.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.out.names[i]))
		h.Iov = &b.out.iovs[i]
		h.SetIovlen(1)
		b.out.iovs[i].Base = &b.out.bufs[i][0]
	}
	return b
}

// read waits for datagrams and reads as many as the batch takes.
func (b *batch) read() (int, error) {
	b.n, b.err = 0, nil
	if err := b.rc.Read(b.readFn); err != nil {
		return 0, err
	}
	return b.n, b.err
}

// recv is one recvmmsg, for RawConn.Read: false asks it to wait.
func (b *batch) recv(fd uintptr) bool {
	vlen := batchSize
	if b.single > 0 {
		vlen = 1
		b.single--
	}
	for i := 0; i < vlen; i++ {
		b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.hdrs[i].Hdr.Flags = 0
	}
	for {
		// The socket is non-blocking: the kernel returns what has come,
		// at least one, or EAGAIN.
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(vlen), 0, 0, 0)
		switch e {
		case 0:
			b.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		b.err = &net.OpError{Op: "read", Net: "udp", Err: e}
		return true
	}
}

// datagram returns the i-th datagram of the last read and its source, or
// ok false when it is dropped: too long for the reader's buffers, or
// overwritten by a later long one (see above), or from an address of
// another family. Call it in order, for each i below read's count: a long
// datagram is moved where the next one may go.
func (b *batch) datagram(i int) (d []byte, from netip.AddrPort, ok bool) {
	m := &b.hdrs[i]
	n := int(m.Len)
	if n > b.slot {
		if m.Hdr.Flags&unix.MSG_TRUNC != 0 { // longer than any read takes
			return nil, netip.AddrPort{}, false
		}
		if b.longAfter(i) {
			b.single = singleReads
			return nil, netip.AddrPort{}, false
		}
		copy(b.long, b.lb.Datagram(i))
		d = b.long[:n]
	} else {
		d = b.lb.Datagram(i)[:n]
	}
	from, ok = b.source(&b.names[i], m.Hdr.Namelen)
	return d, from, ok
}

// longAfter reports whether a datagram after the i-th of the last read
// also used the tail.
func (b *batch) longAfter(i int) bool {
	for j := i + 1; j < b.n; j++ {
		if int(b.hdrs[j].Len) > b.slot {
			return true
		}
	}
	return false
}

// source decodes a source address as net.UDPConn's ReadFromUDPAddrPort
// does, unmapped as the loop keys peers.
func (b *batch) source(sa *unix.RawSockaddrInet6, namelen uint32) (netip.AddrPort, bool) {
	port := func(p *uint16) uint16 {
		pb := (*[2]byte)(unsafe.Pointer(p))
		return uint16(pb[0])<<8 | uint16(pb[1])
	}
	switch {
	case sa.Family == unix.AF_INET && namelen >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(&sa4.Port)), true
	case sa.Family == unix.AF_INET6 && namelen >= unix.SizeofSockaddrInet6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(b.zone(int(sa.Scope_id)))
		}
		return netip.AddrPortFrom(a.Unmap(), port(&sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// zone names an IPv6 scope ID as Go's net package does (the interface's
// name, else the number), remembering the last one: a link-local peer's
// datagrams would otherwise allocate a name each.
func (b *batch) zone(index int) string {
	if index != b.zoneIndex || b.zoneName == "" {
		b.zoneIndex, b.zoneName = index, zoneName(index)
	}
	return b.zoneName
}

// zoneName names an IPv6 scope ID as Go's net package does: the
// interface's name, else the number.
func zoneName(index int) string {
	if ifi, err := net.InterfaceByIndex(index); err == nil {
		return ifi.Name
	}
	return strconv.Itoa(index)
}

// next returns the buffer for the next reply, sending the queued ones
// first when none is left.
func (q *replies) next() []byte {
	if q.n == len(q.bufs) {
		q.flush()
	}
	return q.bufs[q.n][:]
}

// commit queues the first n bytes of the buffer next returned, for to. It
// reports false, queueing nothing, for an address it cannot write (a zone,
// which needs an interface index; the other family on an IPv4 socket):
// the caller sends those itself.
func (q *replies) commit(n int, to netip.AddrPort) bool {
	a := to.Addr()
	if a.Zone() != "" {
		return false
	}
	sa := &q.names[q.n]
	pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
	pb[0], pb[1] = byte(to.Port()>>8), byte(to.Port())
	h := &q.hdrs[q.n].Hdr
	if q.family == unix.AF_INET {
		if !a.Is4() && !a.Is4In6() {
			return false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = a.Unmap().As4()
		h.Namelen = unix.SizeofSockaddrInet4
	} else {
		sa.Family = unix.AF_INET6
		sa.Addr = a.As16() // an IPv4 peer of a dual-stack socket: mapped
		sa.Flowinfo, sa.Scope_id = 0, 0
		h.Namelen = unix.SizeofSockaddrInet6
	}
	q.iovs[q.n].SetLen(n)
	q.n++
	return true
}

// flush sends the queued replies. Errors are ignored, as writeTo ignores
// them: a reply is a datagram that may be lost.
func (q *replies) flush() {
	if q.n == 0 {
		return
	}
	_ = q.rc.Write(q.writeFn)
	q.n = 0
}

// send is sendmmsg for RawConn.Write, until every queued reply was sent or
// failed: false asks it to wait until the socket takes more.
func (q *replies) send(fd uintptr) bool {
	for q.n > 0 {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&q.hdrs[0])), uintptr(q.n), 0, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			// The first queued reply failed (its destination, say):
			// the others may not.
			n = 1
		}
		q.shift(int(n))
	}
	return true
}

// shift forgets the first k queued replies, moving the rest to the front.
func (q *replies) shift(k int) {
	if k >= q.n {
		q.n = 0
		return
	}
	// Rare (a partial send): moving the buffers costs what their sends
	// do.
	copy(q.names[:], q.names[k:q.n])
	copy(q.bufs[:], q.bufs[k:q.n])
	for i := 0; i < q.n-k; i++ {
		q.iovs[i].SetLen(int(q.iovs[i+k].Len))
		q.hdrs[i].Hdr.Namelen = q.hdrs[i+k].Hdr.Namelen
	}
	q.n -= k
}
