package dtls

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openssl-stateless/openssl"
)

// Conn is a DTLS connection: a net.Conn that keeps datagram boundaries.
// Each Write sends one record in one datagram and each Read returns one
// record. It is safe for one reader and one writer at once, and Close may
// be called from any goroutine.
type Conn struct {
	pc        net.PacketConn
	udp       *net.UDPConn // pc, when it is one: zero-allocation sends
	connected bool         // pc is connected to the peer (Dial): use Write
	raddr     *net.UDPAddr
	rap       netip.AddrPort
	cfg       *Config
	srv       *serverConn   // the Listener's bookkeeping; nil on a client
	readDone  chan struct{} // the client's reader goroutine has exited; nil when there is none

	// own is the connection's own socket, connected to the peer, that the
	// goroutine driving OpenSSL reads itself (own.go); nil when the
	// connection's datagrams come through in. Set before the Conn is
	// shared, never changed; ownRetired is set when it is closed for good
	// while the connection lives on through in.
	own        *net.UDPConn
	ownRC      syscall.RawConn // own's, for sendmmsg (flight_linux.go)
	ownRetired atomic.Bool
	kicks      atomic.Uint64 // see kick
	// takeover ends linger; lingerDone is closed when it has ended. Both
	// nil on a connection that does not linger (prepareLinger).
	takeover     chan struct{}
	takeoverOnce sync.Once
	lingerDone   chan struct{}
	ownClose     sync.Once // see closeOwn
	ownDL        time.Time // own's read deadline as last set; reader only
	ownDLStale   bool      // own's deadline may differ from ownDL; reader only
	// The record buffers kept through a wait (holdBuffers): held while
	// the connection is in the sweep's list, recent when it waited
	// since the last sweep.
	held, recent atomic.Bool

	mu  sync.Mutex // guards ssl and bio: every OpenSSL call and every send
	ssl *openssl.SSL
	bio *openssl.BIO
	// final is the connection's state when its SSL was freed (teardown),
	// for ConnectionState after Close. Guarded by mu.
	final *ConnectionState

	in        chan *[]byte // datagrams routed to this peer (queue.go)
	queued    atomic.Int64 // bytes (buffer capacity) in, see account
	closed    chan struct{}
	closeOnce sync.Once

	// peerGone is closed when the socket reports the peer unreachable
	// (ICMP port unreachable on a connected socket: ECONNREFUSED).
	peerGone     chan struct{}
	peerGoneOnce sync.Once
	peerErr      error

	hsMu            sync.Mutex
	hsDone          atomic.Bool
	hsErr           error
	sendErr         error // the handshake's last failed send, guarded by mu
	cookieExchanged atomic.Bool
	maxPayload      int
	maxFrag         int // the maximum fragment length agreed, when it bounds maxPayload
	minRecord       int // guarded by mu; see shortRecordGuard
	flightsBatched  int // sendmmsg calls that sent more than one datagram (flight_linux.go); guarded by mu

	// What peer verification (verify.go) found, guarded by mu: the chain
	// the peer sent, parsed once, the chains verified, and whether the
	// user's verifiers have run.
	peerCerts      []*x509.Certificate
	verifiedChains [][]*x509.Certificate
	verifiersRun   bool
	resumed        bool         // the handshake resumed a session; set by finishHandshake
	inVerify       atomic.Bool  // runVerifiers is calling the Config's verifiers (see Close)
	closeAsked     atomic.Bool  // Close was called: a handshake that completes meanwhile fails
	verified       *verifyCache // the Ctx's chains verified before (verifycache.go)
	// The wrong-key check of a PSK server (psk.go), guarded by mu.
	pskFlight      pskFlight
	pskBadFinished int
	// The client's Config.ClientSessionCache key and the session it
	// offered, if any (session.go).
	sessionKey string
	offered    *ClientSessionState

	readMu sync.Mutex
	rdl    *deadline
	wdl    *deadline

	// Config.IdleTimeout: when data was last read or written (unix
	// nanoseconds), the timer that checks it (guarded by mu), and whether
	// it closed the connection.
	lastActive atomic.Int64
	idle       *time.Timer
	idleClosed atomic.Bool
}

// newConn makes a Conn; own, when not nil, is a socket of its own
// connected to peer.
func newConn(pc net.PacketConn, own *net.UDPConn, peer netip.AddrPort, cfg *Config, ssl *openssl.SSL, bio *openssl.BIO) *Conn {
	depth := inQueue
	if own != nil {
		// Only what the shared socket had already received when own was
		// connected comes through the queue.
		depth = ownQueue
	}
	c := &Conn{
		pc:       pc,
		own:      own,
		raddr:    net.UDPAddrFromAddrPort(peer),
		rap:      peer,
		cfg:      cfg,
		ssl:      ssl,
		bio:      bio,
		in:       make(chan *[]byte, depth),
		closed:   make(chan struct{}),
		peerGone: make(chan struct{}),
		rdl:      newDeadline(),
		wdl:      newDeadline(),
	}
	c.udp, _ = pc.(*net.UDPConn)
	if own != nil {
		c.ownRC, _ = own.SyscallConn()
	}
	ssl.SetUserData(c) // for the verify callback
	return c
}

// newSSL makes an SSL on a packet BIO with the Config's MTU.
func newSSL(sslCtx *openssl.Ctx, cfg *Config) (*openssl.SSL, *openssl.BIO, error) {
	ssl, err := openssl.NewSSL(sslCtx)
	if err != nil {
		return nil, nil, err
	}
	bio, err := openssl.NewPacketBIO(cfg.mtu(), bioBuffer)
	if err != nil {
		ssl.Close()
		return nil, nil, err
	}
	if err := ssl.SetBIO(bio, bio); err != nil {
		bio.Close()
		ssl.Close()
		return nil, nil, err
	}
	if err := ssl.SetMTU(cfg.mtu()); err != nil {
		ssl.Close()
		return nil, nil, err
	}
	if cfg.RetransmitTimeout != 0 {
		if err := ssl.SetDTLSInitialTimeout(cfg.RetransmitTimeout); err != nil {
			ssl.Close()
			return nil, nil, err
		}
	}
	return ssl, bio, nil
}

// sendEach sends each datagram with send, and returns the first error.
func (c *Conn) sendEach(ps [][]byte) error {
	var first error
	for _, p := range ps {
		if err := c.send(p); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// send writes one datagram to the peer.
func (c *Conn) send(p []byte) error {
	if c.direct() {
		_, err := c.own.Write(p)
		if err == nil || !c.ownRetired.Load() {
			return err
		}
		// Retired meanwhile: the shared socket sends.
	}
	var err error
	switch {
	case c.connected:
		_, err = c.udp.Write(p)
	case c.udp != nil:
		_, err = c.udp.WriteToUDPAddrPort(p, c.rap)
	default:
		_, err = c.pc.WriteTo(p, c.raddr)
	}
	return err
}

// flushLocked sends what OpenSSL wrote. Called with c.mu held.
func (c *Conn) flushLocked() error {
	if c.bio == nil {
		return nil
	}
	switch n := c.bio.OutputDatagrams(); {
	case n == 0:
		return nil
	case n > 1 && c.direct():
		// A flight: one sendmmsg (flight_linux.go). One datagram, every
		// application record, takes no pooled batch state.
		return c.flushOwn()
	}
	return c.bio.DrainDatagrams(c.send)
}

// pump drives OpenSSL: it runs step on c.ssl, under c.mu and followed by
// a flush of what OpenSSL wrote, until step stops asking for a datagram.
// Between steps it hands OpenSSL the next datagram of the queue or, when
// the DTLS timer fires first, retransmits. It gives up when done is closed
// (returning expired's error), when the socket reports the peer gone, or
// when c is closed. The handshake and Read share it: the state machine
// needs the same feeding in both, and after the handshake a DTLS timer
// may still run for the last flight.
//
// On a connection with a socket of its own the wait is awaitOwn: the
// datagram is read from the socket by this goroutine. at returns when done
// will close, if it is a deadline (the zero time otherwise).
func (c *Conn) pump(step func(*openssl.SSL) (int, error), done <-chan struct{}, at func() time.Time, expired func() error) (int, error) {
	var timer *time.Timer // made only once OpenSSL runs its timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if closedChan(c.closed) {
			return 0, net.ErrClosed
		}
		if closedChan(done) {
			return 0, expired()
		}
		c.mu.Lock()
		if c.ssl == nil {
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		n, err := step(c.ssl)
		// A lost datagram is retransmitted on the timer; a send that
		// fails is remembered for the handshake's timeout to tell.
		c.noteSend(c.flushLocked())
		if !errors.Is(err, openssl.ErrWantRead) {
			c.mu.Unlock()
			return n, err
		}
		var wait time.Duration
		var running, hold bool
		switch {
		case !c.hsDone.Load():
			wait, running = c.ssl.DTLSTimeout()
		case c.srv == nil && c.direct():
			// A client's buffers stay through the wait, until a sweep
			// finds the connection quiet (holdBuffers). A server's go
			// at once, as below: with thousands of connections, the
			// same 33 KiB freed and taken again by the next one stays
			// in the caches, where holding them for each made the
			// server's round trips dearer, not cheaper (issue 9).
			wait, running = c.ssl.DTLSTimeout()
			hold = true
		default:
			// About to wait for a datagram, with no record pending:
			// OpenSSL's record buffers, half of what an idle DTLS
			// connection holds (33 of 70 KiB in 3.0), go until the
			// next operation takes them back.
			wait, running = c.ssl.IdleDTLSTimeout()
		}
		c.mu.Unlock()
		if hold {
			c.holdBuffers()
		}
		if c.direct() {
			var fireAt time.Time
			if running {
				fireAt = time.Now().Add(wait)
			}
			switch err := c.awaitOwn(fireAt, done, nil, at()); err {
			case nil:
			case errAwaitTimer:
				if err := c.retransmit(); err != nil {
					return 0, err
				}
			case errAwaitDone:
				return 0, expired()
			default:
				return 0, err
			}
			continue
		}
		var fire <-chan time.Time
		if running {
			// Since Go 1.23 Reset leaves no stale fire in the channel.
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			fire = timer.C
		}
		select {
		case bp := <-c.in:
			c.push(bp)
		case <-fire:
			if err := c.retransmit(); err != nil {
				return 0, err
			}
		case <-done:
			return 0, expired()
		case <-c.peerGone:
			return 0, c.peerErr
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
}

// retransmit runs DTLSv1_handle_timeout once the DTLS timer has fired and
// sends what it retransmits. It fails once OpenSSL has given up on the
// peer (too many retransmissions).
func (c *Conn) retransmit() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl == nil {
		return net.ErrClosed
	}
	_, err := c.ssl.DTLSHandleTimeout()
	c.noteSend(c.flushLocked())
	return err
}

// noteSend keeps the last failed send of the handshake (a socket that
// refuses every send, say), so that its timeout says why. Called with
// c.mu held.
func (c *Conn) noteSend(err error) {
	if err != nil && !c.hsDone.Load() {
		c.sendErr = err
	}
}

// timeout is the error of an expired deadline or handshake timeout, as
// package net words a deadline: a *net.OpError whose Timeout is true and
// which errors.Is os.ErrDeadlineExceeded.
func (c *Conn) timeout(op string) error {
	return &net.OpError{Op: op, Net: "udp", Addr: c.raddr, Err: os.ErrDeadlineExceeded}
}

// Handshake runs the handshake if it has not run yet, bounded by
// Config.HandshakeTimeout and by the read and write deadlines, as the
// underlying connection's deadlines bound crypto/tls's. Read and Write
// call it.
func (c *Conn) Handshake() error {
	if c.hsDone.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.handshakeTimeout())
	defer cancel()
	return c.HandshakeContext(ctx)
}

// HandshakeContext runs the handshake, giving up when ctx is done or the
// earlier of the read and write deadlines (as they stand when it starts)
// passes. The first error is kept and returned by every later call, as
// crypto/tls keeps it.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.hsDone.Load() {
		return nil
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone.Load() || c.hsErr != nil {
		return c.hsErr
	}
	if dl := earlier(c.rdl.when(), c.wdl.when()); !dl.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	if c.direct() {
		// A cancellation without a deadline must reach a goroutine
		// blocked reading the socket.
		stop := context.AfterFunc(ctx, c.kick)
		defer stop()
	}
	deadline := func() time.Time { t, _ := ctx.Deadline(); return t }
	_, err := c.pump(c.handshakeStep, ctx.Done(), deadline, func() error {
		// The deadline passed by the clock awaitOwn reads; ctx's own
		// timer may fire a moment later.
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return c.timeout("handshake")
		}
		return ctx.Err()
	})
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) && !isTimeout(err) {
		err = fmt.Errorf("dtls: handshake with %v: %w", c.rap, err)
	}
	if isTimeout(err) {
		c.mu.Lock()
		if c.sendErr != nil {
			err = fmt.Errorf("%w (sending to the peer failed: %v)", err, c.sendErr)
		}
		c.mu.Unlock()
	}
	if err == nil {
		err = c.finishHandshake()
	}
	if err == nil && c.closeAsked.Load() {
		// Closed by a verifier (see Close), whose close waits for c.mu.
		err = net.ErrClosed
	}
	if err != nil {
		c.hsErr = err
		c.forgetOffered()
		return err
	}
	// A client that resumed a session sent the last flight: it answers
	// the server's retransmissions as a server does after a full
	// handshake (linger), for one that only writes. The channels are
	// made under c.mu, unless the connection is closing: teardown reads
	// them under c.mu after c.closed is closed, so either it sees them
	// and waits for linger, or no linger starts.
	lingers := false
	if c.srv == nil {
		c.mu.Lock()
		if lingers = c.resumed && !closedChan(c.closed); lingers {
			c.prepareLinger()
		}
		c.mu.Unlock()
	}
	c.hsDone.Store(true)
	c.startIdleTimer()
	if lingers {
		go c.linger(c.cfg.handshakeTimeout(), nil)
	}
	return nil
}

// earlier returns the earlier of two deadlines; the zero time is none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// startIdleTimer arms Config.IdleTimeout once the handshake is done.
func (c *Conn) startIdleTimer() {
	d := c.cfg.IdleTimeout
	if d <= 0 {
		return
	}
	c.touch()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl != nil {
		c.idle = time.AfterFunc(d, c.checkIdle)
	}
}

// touch records activity for Config.IdleTimeout.
func (c *Conn) touch() {
	if c.cfg.IdleTimeout > 0 {
		c.lastActive.Store(time.Now().UnixNano())
	}
}

// checkIdle closes the connection if it has been idle for IdleTimeout, and
// otherwise looks again when it could be.
func (c *Conn) checkIdle() {
	d := c.cfg.IdleTimeout
	idle := time.Since(time.Unix(0, c.lastActive.Load()))
	if idle < d {
		c.mu.Lock()
		if c.idle != nil {
			c.idle.Reset(d - idle)
		}
		c.mu.Unlock()
		return
	}
	select {
	case <-c.closed: // closed by its user meanwhile: not for idling
		return
	default:
	}
	c.idleClosed.Store(true)
	c.closeNow()
}

// closedErr is the error of an operation on a closed connection: it says
// so when the idle timeout closed it.
func (c *Conn) closedErr() error {
	if c.idleClosed.Load() {
		return fmt.Errorf("dtls: connection closed after %v without data: %w", c.cfg.IdleTimeout, net.ErrClosed)
	}
	return net.ErrClosed
}

// handshakeStep is one SSL_accept or SSL_connect.
func (c *Conn) handshakeStep(ssl *openssl.SSL) (int, error) {
	if c.srv != nil {
		return 0, c.checkPSKFinished(ssl, ssl.Accept())
	}
	return 0, ssl.Connect()
}

// finishHandshake learns the payload limit, and makes sure a client that
// verifies its server did get a certificate: the verify callback only runs
// for certificates that arrive (an anonymous cipher sends none).
func (c *Conn) finishHandshake() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl == nil { // closed since the last step
		return net.ErrClosed
	}
	// A resumed session was verified when it was made, for the same name
	// (the cache key holds it); a pre-shared key authenticates the server.
	if c.srv == nil && !c.cfg.InsecureSkipVerify && len(c.peerCerts) == 0 && !c.usedPSK() && !c.ssl.SessionReused() {
		return fmt.Errorf("dtls: handshake with %v: server sent no certificate", c.rap)
	}
	if !c.verifiersRun {
		// No certificate came (a server that asked for none, a client
		// that sent none, a resumed session, a pre-shared key): the
		// verify callback did not run.
		if err := c.restorePeer(); err != nil {
			return fmt.Errorf("dtls: handshake with %v: %w", c.rap, err)
		}
		if err := c.runVerifiers(c.ssl, false); err != nil {
			return fmt.Errorf("dtls: handshake with %v: %w", c.rap, err)
		}
	}
	c.saveSession()
	c.resumed = c.ssl.SessionReused()
	c.offered = nil // it holds a master secret: no longer than needed
	c.minRecord = shortRecordGuard(c.ssl.CipherName())
	c.maxPayload = c.ssl.DTLSDataMTU()
	if c.maxPayload <= 0 {
		c.maxPayload = c.cfg.mtu() - 100
	}
	if mfl := c.ssl.MaxFragmentLength(); mfl > 0 && mfl < c.maxPayload {
		// The client asked for records of at most mfl bytes (RFC 6066),
		// and OpenSSL ends the connection on a longer SSL_write over
		// DTLS: Write refuses it instead.
		c.maxPayload, c.maxFrag = mfl, mfl
	}
	// A connection may idle from here on (one the application has not
	// read yet, or an IoT device asleep): see pump.
	c.ssl.FreeBuffers()
	return nil
}

// Read reads one record's data into p. A record longer than p is
// truncated, as a UDP socket truncates a datagram, but not silently: Read
// returns the first len(p) bytes with an error wrapping io.ErrShortBuffer,
// and the rest of that record is gone; the next Read returns the next
// record whole. MaxPayload bytes hold any record from a peer with the same
// MTU; 16 KiB hold any record at all. Read returns io.EOF after the
// peer's close_notify, net.ErrClosed after Close, and a net.Error whose
// Timeout is true when the read deadline passes.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.takeOver()
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.pump(func(ssl *openssl.SSL) (int, error) { return readRecord(ssl, p) },
		c.rdl.wait(), c.rdl.when, func() error { return c.timeout("read") })
	if n > 0 {
		c.touch()
	}
	// A type switch, not errors.As: its target would escape, an
	// allocation per Read.
	if _, short := err.(*shortReadError); short {
		return n, err
	}
	switch {
	case errors.Is(err, net.ErrClosed):
		return n, c.closedErr()
	case err == nil, err == io.EOF, isTimeout(err):
		return n, err
	case err == c.peerErr:
		return n, &net.OpError{Op: "read", Net: "udp", Addr: c.raddr, Err: err}
	}
	if _, ok := err.(*net.OpError); ok { // from the connection's own socket
		return n, err
	}
	return n, fmt.Errorf("dtls: read: %w", err)
}

// readRecord is one SSL_read into p that keeps record boundaries: when
// the record did not fit, the rest of it is read and dropped, so that it
// does not come back as the next "record". Whatever p holds, OpenSSL's
// SSL_pending counts what is left of the current record.
func readRecord(ssl *openssl.SSL, p []byte) (int, error) {
	n, err := ssl.Read(p)
	if n < len(p) || err != nil {
		return n, err
	}
	rest := ssl.Pending()
	if rest == 0 {
		return n, nil
	}
	total := n + rest
	var scratch [1024]byte
	for rest > 0 {
		m, err := ssl.Read(scratch[:min(rest, len(scratch))])
		if m <= 0 || err != nil {
			break
		}
		rest -= m
	}
	return n, &shortReadError{record: total, buffer: len(p)}
}

// shortReadError reports a record cut to the Read buffer's size.
type shortReadError struct{ record, buffer int }

func (e *shortReadError) Error() string {
	return fmt.Sprintf("dtls: read: record of %d bytes truncated to the %d-byte buffer", e.record, e.buffer)
}

// Unwrap makes errors.Is(err, io.ErrShortBuffer) hold.
func (e *shortReadError) Unwrap() error { return io.ErrShortBuffer }

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// Write sends p as one record in one datagram. A p longer than one datagram
// can carry gives ErrMessageTooLarge and sends nothing.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	// A lingering connection goes on lingering (see linger): a Write
	// takes no datagram.
	if closedChan(c.closed) {
		return 0, c.closedErr()
	}
	if closedChan(c.wdl.wait()) {
		return 0, c.timeout("write")
	}
	if len(p) > c.maxPayload {
		return 0, c.tooLarge(len(p))
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl == nil {
		return 0, c.closedErr()
	}
	c.touch()
	n, err := c.ssl.Write(p)
	if ferr := c.flushLocked(); err == nil && ferr != nil {
		return 0, fmt.Errorf("dtls: write: %w", ferr)
	}
	if err != nil {
		return n, fmt.Errorf("dtls: write: %w", err)
	}
	return n, nil
}

// tooLarge is Write's error for n bytes, naming what bounds a record: the
// MTU, or the maximum fragment length the client asked for.
func (c *Conn) tooLarge(n int) error {
	if c.maxFrag > 0 && c.maxFrag == c.maxPayload {
		return fmt.Errorf("%w: %d bytes, at most %d, the maximum fragment length the client asked for", ErrMessageTooLarge, n, c.maxPayload)
	}
	return fmt.Errorf("%w: %d bytes, at most %d at MTU %d", ErrMessageTooLarge, n, c.maxPayload, c.cfg.mtu())
}

// MaxPayload returns the most bytes one Write can carry, known once the
// handshake is done (DTLS_get_data_mtu(3)).
func (c *Conn) MaxPayload() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxPayload
}

// Close ends the connection: blocked Reads and Writes return
// net.ErrClosed, and later ones do too. If the handshake completed the
// peer gets close_notify. Close is idempotent.
//
// On a connection a Listener accepted, Close returns at once and the rest
// (close_notify, freeing the SSL, closing the connection's socket and
// handing the Listener what it still held) runs on a goroutine of its own:
// a server closing connections is not held up by OpenSSL's teardown and
// the syscalls, about 140 µs each. Listener.Close waits for the ones under
// way, and once it has begun a connection's Close does the work itself, so
// a server that closes its connections and its Listener, in either order,
// has sent every close_notify before it exits. A client's Close (Dial,
// Client) does it all before it returns, since the program may exit next.
//
// A verifier (VerifyPeerCertificate, VerifyConnection) may close its own
// connection, as with crypto/tls: the close then runs once the verifier
// has returned, and the handshake fails with net.ErrClosed.
func (c *Conn) Close() error {
	c.closeAsked.Store(true)
	if c.inVerify.Load() {
		// Most likely called from the verifier, on the goroutine that
		// holds c.mu until it returns, which close takes first.
		go c.close(true)
		return nil
	}
	c.close(true)
	return nil
}

// closeNow is Close with the teardown done before it returns, for the
// Listener's own closes (a handshake failed or refused, a connection
// replaced by its peer's reconnect, the idle timeout): no application
// waits on them, and whoever then reads the Listener's counters finds
// the connection gone.
func (c *Conn) closeNow() { c.close(false) }

func (c *Conn) close(async bool) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.idle != nil {
			c.idle.Stop()
			c.idle = nil
		}
		c.mu.Unlock()
		close(c.closed)
		if !async || c.srv == nil || !c.srv.ln.teardownStarted() {
			c.teardown()
			return
		}
		// A Read blocked on the connection's own socket sees c.closed
		// once kicked; the teardown closes that socket only later.
		c.kick()
		ln := c.srv.ln
		go func() {
			defer ln.teardownDone()
			c.teardown()
		}()
	})
}

// teardown is Close's work after c.closed: close_notify, the own socket,
// the SSL, and on a server connection the Listener's table.
func (c *Conn) teardown() {
	c.mu.Lock()
	lingerDone := c.lingerDone // made under c.mu on a client (HandshakeContext)
	// IsInitFinished also covers a handshake OpenSSL completed but whose
	// peer the Go verification refused: the peer then learns at once
	// (close_notify) instead of at its idle timeout.
	if c.ssl != nil && (c.hsDone.Load() || c.ssl.IsInitFinished()) {
		_, _ = c.ssl.Shutdown()
		_ = c.flushLocked()
	}
	c.mu.Unlock()
	var left [][]byte
	if c.own != nil {
		if c.srv != nil && !c.ownRetired.Swap(true) {
			// What the peer sent after the last datagram this connection
			// read (most often a new ClientHello right behind its
			// close_notify) would go with the socket: it goes to the
			// Listener once this connection is out of its table.
			drainSocket(c.own, func(d []byte) {
				if len(left) < ownQueue {
					left = append(left, bytes.Clone(d))
				}
			})
		}
		// Before the SSL goes: a reader may be receiving into its BIO's
		// buffer, and the close waits until no read is in progress.
		c.closeOwn()
	}
	c.mu.Lock()
	if c.ssl != nil && c.hsDone.Load() {
		// What ConnectionState reports from now on: the SSL it reads
		// goes next.
		final := c.stateOf(c.ssl, true)
		c.final = &final
	}
	if c.ssl != nil {
		c.ssl.Close() // frees the BIO too
		c.ssl, c.bio = nil, nil
	}
	c.mu.Unlock()
	c.rdl.stop()
	c.wdl.stop()
	c.drain()
	if c.srv != nil {
		c.srv.ln.remove(c)
		for _, d := range left {
			c.srv.ln.route(d, c.rap)
		}
		return
	}
	_ = c.pc.Close()
	if c.readDone != nil {
		<-c.readDone
	}
	if lingerDone != nil {
		<-lingerDone // it sees c.closed, or its socket closed
	}
}

// LocalAddr returns the local address of the UDP socket.
func (c *Conn) LocalAddr() net.Addr { return c.pc.LocalAddr() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	c.kick()
	return nil
}

// SetReadDeadline sets the deadline for Read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdl.set(t)
	c.kick()
	return nil
}

// SetWriteDeadline sets the deadline for Write. UDP sends do not block, so
// it only makes Writes after the deadline fail.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}

// ConnectionState describes a connection, with crypto/tls's field names
// and meanings.
type ConnectionState struct {
	// Version is the DTLS version (VersionDTLS12); VersionName names it.
	Version           uint16
	HandshakeComplete bool
	// CipherSuite is the suite's IANA id; CipherSuiteName names it.
	CipherSuite uint16
	// ServerName is, on a server, the name the client sent in its
	// server_name extension ("" for none); on a client, the name the
	// server's certificate was checked against.
	ServerName string
	// PeerCertificates is the chain the peer sent, leaf first. As with
	// crypto/tls, connections that received the same certificate share
	// one parsed *x509.Certificate: do not modify it.
	PeerCertificates []*x509.Certificate
	// VerifiedChains are the chains verification built from
	// PeerCertificates: none where it was skipped (InsecureSkipVerify,
	// RequestClientCert, RequireAnyClientCert).
	VerifiedChains [][]*x509.Certificate
	// SRTPProtectionProfile is the DTLS-SRTP profile agreed on, or 0.
	SRTPProtectionProfile SRTPProtectionProfile
	// CookieExchanged reports that the server answered with a
	// HelloVerifyRequest before the handshake: always true on a Listener's
	// connections, whose handshakes all start with DTLSv1_listen.
	CookieExchanged bool

	// PSKIdentity is the identity of the pre-shared key the handshake
	// used ("" for none): the device, on a server.
	PSKIdentity string
	// NegotiatedProtocol is the application protocol ALPN agreed on
	// (Config.NextProtos), "" for none.
	NegotiatedProtocol string
	// DidResume reports that the handshake resumed an earlier session
	// (Config.ClientSessionCache, SessionTicketKeys). No certificate is
	// sent then: PeerCertificates and VerifiedChains are the session's
	// (see ClientSessionState).
	DidResume bool
	// MaxFragmentLength is the most data a record carries that the client
	// asked for and the server agreed to (RFC 6066;
	// Config.MaxFragmentLength), 0 for none.
	MaxFragmentLength int

	conn *Conn
}

// ExportKeyingMaterial returns length bytes of keying material derived
// from the connection's secrets (RFC 5705), as crypto/tls's does: the SRTP
// keys of DTLS-SRTP with the label "EXTRACTOR-dtls_srtp" and a nil
// context (RFC 5764, 4.2). It needs the extended master secret (RFC
// 7627), which OpenSSL negotiates by default, and an open connection.
func (cs *ConnectionState) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	c := cs.conn
	if c == nil {
		return nil, errors.New("dtls: ExportKeyingMaterial on a ConnectionState not from a Conn")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl == nil {
		return nil, c.closedErr()
	}
	b, err := c.ssl.ExportKeyingMaterial(label, context, length)
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	return b, nil
}

// ConnectionState returns the state of the connection; after Close, its
// state when it closed, as crypto/tls's does.
func (c *Conn) ConnectionState() ConnectionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cs ConnectionState
	if c.ssl == nil && c.final != nil {
		cs = *c.final
	} else {
		cs = c.stateOf(c.ssl, c.hsDone.Load())
	}
	cs.conn = c
	return cs
}
