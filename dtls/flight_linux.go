//go:build linux

package dtls

import (
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A connection with a socket of its own sends each flight OpenSSL wrote in
// one sendmmsg: a server's certificate flight, fragmented to the MTU, is
// several datagrams written by one SSL call, and was a write each. One
// datagram (every application record) still takes a plain write, and
// flushLocked does not come here for it.

// flightMax is the most datagrams one sendmmsg takes; a longer flight
// takes more than one.
const flightMax = 8

// flight is the sendmmsg state of one flush, pooled: a connection holds
// none while it waits, and a flush of one datagram uses only ps.
type flight struct {
	c    *Conn
	ps   [flightMax][]byte // the batch DrainDatagramBatches fills
	hdrs [flightMax]mmsghdr
	iovs [flightMax]unix.Iovec
	n    int   // datagrams in hdrs
	next int   // the first not yet tried
	ok   int   // sent
	err  error // the first a datagram failed with

	sendFn  func([][]byte) error  // f.sendBatch and f.write, made once:
	writeFn func(fd uintptr) bool // a method value allocates
}

var flights = sync.Pool{New: func() any {
	f := &flight{}
	f.sendFn, f.writeFn = f.sendBatch, f.write
	for i := range f.hdrs {
		f.hdrs[i].Hdr.Iov = &f.iovs[i]
		f.hdrs[i].Hdr.Iovlen = 1
	}
	return f
}}

// flushOwn is flushLocked on a connection with a socket of its own.
func (c *Conn) flushOwn() error {
	f := flights.Get().(*flight)
	f.c = c
	err := c.bio.DrainDatagramBatches(f.ps[:], f.sendFn)
	f.c = nil
	flights.Put(f)
	return err
}

// sendBatch sends one batch of datagrams: one sendmmsg on the
// connection's own socket, or what send does for a single one and
// once the socket is retired.
func (f *flight) sendBatch(ps [][]byte) error {
	c := f.c
	if len(ps) == 1 || !c.direct() || c.ownRC == nil {
		return c.sendEach(ps)
	}
	for i, p := range ps {
		f.iovs[i].Base = unsafe.SliceData(p)
		f.iovs[i].SetLen(len(p))
	}
	f.n, f.next, f.ok, f.err = len(ps), 0, 0, nil
	werr := c.ownRC.Write(f.writeFn)
	for i := range ps {
		f.iovs[i].Base = nil // C memory, valid only during the drain
	}
	if werr != nil {
		if c.ownRetired.Load() {
			// Retired meanwhile: the shared socket sends the rest.
			return c.sendEach(ps[f.next:])
		}
		return werr // RawConn.Write's, a *net.OpError already
	}
	if f.ok > 1 {
		c.flightsBatched++
	}
	if f.err != nil {
		return &net.OpError{Op: "write", Net: "udp", Source: c.own.LocalAddr(), Addr: c.raddr, Err: os.NewSyscallError("sendmmsg", f.err)}
	}
	return nil
}

// write is sendmmsg for RawConn.Write, until every datagram was sent or
// failed: false asks it to wait until the socket takes more.
func (f *flight) write(fd uintptr) bool {
	for f.next < f.n {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&f.hdrs[f.next])), uintptr(f.n-f.next), 0, 0, 0)
		switch e {
		case 0:
			f.next += int(n)
			f.ok += int(n)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			// The first unsent datagram failed (an ICMP error the
			// socket held, say): the others may not.
			if f.err == nil {
				f.err = syscall.Errno(e)
			}
			f.next++
		}
	}
	return true
}
