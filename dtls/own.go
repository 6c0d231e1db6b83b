package dtls

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// A connection with a socket of its own (a client's from Dial; a server
// connection's from socket_linux.go) is read by the goroutine that drives
// OpenSSL, straight into the packet BIO's buffer: no reader goroutine, no
// queue, no copy. Something else may need that goroutine while it is
// blocked in the read (a datagram queued before the socket was connected,
// a new read deadline, a cancelled handshake, the application taking over
// from linger): kick interrupts the read by moving its deadline into the
// past, and the reader then looks at everything again.

// ownQueue is the queue's depth on a connection with its own socket: it
// only carries what the shared socket received for the peer before the
// connection's own was connected.
const ownQueue = 64

var (
	errAwaitTimer = errors.New("dtls: DTLS timer fired")
	errAwaitDone  = errors.New("dtls: wait ended")
)

// aLongTimeAgo is a read deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// direct reports whether the connection reads its own socket.
func (c *Conn) direct() bool { return c.own != nil && !c.ownRetired.Load() }

// kick makes a reader blocked on the connection's own socket look again at
// what it waits for. The counter is bumped first, so a reader that set its
// deadline after this kick's sees the count changed and does not block.
func (c *Conn) kick() {
	c.kicks.Add(1)
	if c.direct() {
		_ = c.own.SetReadDeadline(aLongTimeAgo)
	}
}

// retireOwn closes the connection's own socket for good, leaving the
// connection to the shared socket: the peer's datagrams go to the
// Listener's socket again, whose loop routes them (a reconnect's handshake
// beside this connection needs them routed). What the socket had received
// already goes to route first.
func (c *Conn) retireOwn(route func(d []byte, from netip.AddrPort)) {
	if c.own == nil || c.ownRetired.Swap(true) {
		return
	}
	c.kicks.Add(1)
	drainSocket(c.own, func(d []byte) { route(d, c.rap) })
	c.closeOwn()
}

// isReconnect reports whether d, from a server connection's peer, starts
// a new handshake: an epoch-0 ClientHello once the handshake is done, or
// during it one whose random is not the handshake's (a client that gave
// up, or restarted, and tries again from the same port: OpenSSL's
// handshake would ignore it until HandshakeTimeout). Either goes through
// the Listener's cookie exchange, so a forged one admits nothing; a
// retransmission of the handshake's own ClientHello stays with it.
func (c *Conn) isReconnect(d []byte) bool {
	if c.srv == nil || !isInitialClientHello(d) {
		return false
	}
	if c.hsDone.Load() {
		return true
	}
	r, ok := clientHelloRandom(d)
	return ok && c.srv.hasRandom && r != c.srv.random
}

// closeOwn closes the connection's own socket once, and returns only when
// that close has: when no read of it is in progress, since a read may
// receive into the BIO's buffer, which teardown frees next. A second
// net.UDPConn.Close returns at once, without waiting for the reads the
// first one waits for: a teardown that met retireOwn's close half done
// would free the buffer under a read. sync.Once makes the second caller
// wait for the first.
func (c *Conn) closeOwn() {
	c.ownClose.Do(func() { _ = c.own.Close() })
}

// awaitOwn waits on the connection's own socket until the next datagram is
// in the BIO (nil), the DTLS timer is due at timer (errAwaitTimer), done or
// stop is closed or the deadline at passes (errAwaitDone), or the
// connection is closed (net.ErrClosed). nil also means "look again": a
// kick, or the socket retired. A zero timer or at means none.
func (c *Conn) awaitOwn(timer time.Time, done, stop <-chan struct{}, at time.Time) error {
	kicks := c.kicks.Load()
	// The checks first: linger has no other way out while the queue
	// holds datagrams.
	if closedChan(c.closed) {
		return net.ErrClosed
	}
	if closedChan(done) || closedChan(stop) {
		return errAwaitDone
	}
	select {
	case bp := <-c.in:
		c.push(bp)
		return nil
	default:
	}
	if !at.IsZero() || !timer.IsZero() { // time.Now only when a deadline is set: it is a syscall on some VMs
		now := time.Now()
		if !at.IsZero() && !now.Before(at) {
			return errAwaitDone
		}
		if !timer.IsZero() && !now.Before(timer) {
			return errAwaitTimer
		}
	}
	dl := at
	if !timer.IsZero() && (dl.IsZero() || timer.Before(dl)) {
		dl = timer
	}
	if c.ownDLStale || !dl.Equal(c.ownDL) {
		_ = c.own.SetReadDeadline(dl)
		c.ownDL, c.ownDLStale = dl, false
	}
	if c.kicks.Load() != kicks {
		return nil
	}
	c.mu.Lock()
	if c.bio == nil {
		c.mu.Unlock()
		return net.ErrClosed
	}
	if c.bio.DatagramPending() {
		c.bio.DropDatagram() // OpenSSL did not want it; the newer one wins
	}
	buf := c.bio.DatagramBuffer()
	c.mu.Unlock()
	// Close closes own before it frees the BIO, and waits for this read
	// to return first: buf stays valid throughout.
	n, err := c.own.Read(buf)
	if err != nil {
		return c.ownReadError(err, timer, at)
	}
	return c.took(buf[:n])
}

// bufferLinger is how long a client's established connection keeps
// OpenSSL's record buffers (33 KiB) once it goes quiet: between one and two
// sweeps. Freeing them before every wait, as a server connection does,
// costs a free and a malloc of both per round trip; on the client, whose
// goroutines wait on many connections at once, glibc's per-thread arenas
// then trim and grow their heaps, a page fault per page touched again: a
// fifth to a third of the client's CPU at 200 to 5000 connections in make
// bench's echo rows. A read deadline per wait instead would cost a timer
// update per round trip.
const bufferLinger = time.Second

// lingering is the sweep's list: the connections that kept their buffers
// through a wait, and the timer of the next sweep (nil when the list is
// empty).
var lingering struct {
	mu    sync.Mutex
	conns []*Conn
	sweep *time.Timer
}

// holdBuffers notes, before a wait, that the connection kept its buffers:
// on the list if it is not yet, and recent. A load and no store when both
// are already so, which is the case per round trip.
func (c *Conn) holdBuffers() {
	if !c.recent.Load() {
		c.recent.Store(true)
	}
	if c.held.Load() {
		return
	}
	c.held.Store(true)
	lingering.mu.Lock()
	lingering.conns = append(lingering.conns, c)
	if lingering.sweep == nil {
		lingering.sweep = time.AfterFunc(bufferLinger, sweepBuffers)
	}
	lingering.mu.Unlock()
}

// sweepBuffers frees the buffers of the listed connections that did not
// wait since the last sweep, and drops them and the closed ones from the
// list. A connection whose buffers it freed gets them back, and goes on the
// list again, at its next operation and wait.
func sweepBuffers() {
	lingering.mu.Lock()
	conns := lingering.conns
	lingering.conns = nil
	lingering.mu.Unlock()
	kept := conns[:0]
	for _, c := range conns {
		if c.recent.Swap(false) {
			kept = append(kept, c)
			continue
		}
		c.mu.Lock()
		if c.ssl != nil {
			c.ssl.FreeBuffers()
		}
		c.held.Store(false)
		c.mu.Unlock()
	}
	clear(conns[len(kept):])
	lingering.mu.Lock()
	lingering.conns = append(kept, lingering.conns...)
	if len(lingering.conns) > 0 {
		lingering.sweep.Reset(bufferLinger)
	} else {
		lingering.sweep = nil
	}
	lingering.mu.Unlock()
}

// ownReadError sorts out an error from the connection's own socket.
func (c *Conn) ownReadError(err error, timer, at time.Time) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		c.ownDLStale = true // a kick may have moved it
		now := time.Now()
		if !at.IsZero() && !now.Before(at) {
			return errAwaitDone
		}
		if !timer.IsZero() && !now.Before(timer) {
			return errAwaitTimer
		}
		return nil
	case errors.Is(err, net.ErrClosed):
		select {
		case <-c.closed:
			return net.ErrClosed
		default:
		}
		if c.ownRetired.Load() {
			return nil // on through the queue
		}
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		if c.srv != nil {
			// An ICMP error anyone can forge from the path: a server
			// connection does not end on one; the peer's idle timeout
			// or close_notify does.
			return nil
		}
		if !c.hsDone.Load() {
			// Nothing listens at the server's port: fail the handshake
			// now rather than retransmit into the void.
			c.peerGoneOnce.Do(func() {
				c.peerErr = err
				close(c.peerGone)
			})
			return c.peerErr
		}
		return &net.OpError{Op: "read", Net: "udp", Addr: c.raddr, Err: err}
	}
	return err
}

// took hands a datagram the reader received into the BIO's buffer to
// OpenSSL, after the checks route and push make for queued ones. d is
// read under c.mu only: Close frees the BIO under it.
func (c *Conn) took(d []byte) error {
	c.mu.Lock()
	if c.bio == nil {
		c.mu.Unlock()
		return net.ErrClosed
	}
	if c.isReconnect(d) {
		// The peer lost its state and reconnects from the same address
		// (RFC 6347, 4.2.8): that goes through the Listener's cookie
		// exchange, as on the shared socket, with a copy: the Listener
		// takes its own locks, and c.mu is not held across them.
		bp := getBuf(d)
		c.mu.Unlock()
		c.srv.ln.relisten(*bp, c.rap)
		putBuf(bp)
		return nil
	}
	defer c.mu.Unlock()
	if c.srv == nil && !c.hsDone.Load() && isHelloVerifyRequest(d) {
		c.cookieExchanged.Store(true)
	}
	if c.minRecord > 0 && hasShortRecord(d, c.minRecord) {
		if c.srv != nil {
			c.srv.ln.datagramsDropped.Add(1)
		}
		return nil
	}
	c.notePSKFlight(d)
	_ = c.bio.SetDatagram(len(d), c.rap)
	return nil
}
