package dtls

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openssl-stateless/openssl"
)

const (
	// bioBuffer is the largest datagram a connection takes in: a full DTLS
	// record (16 KiB of data plus expansion) with room to spare.
	bioBuffer = 32 << 10
	// inQueue is how many routed datagrams wait for a connection's reader
	// before further ones are dropped (UDP semantics: the peer retransmits).
	inQueue = 1024
	// smallBuf is the size of pooled datagram buffers.
	smallBuf = 2048
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}

// getBuf returns a buffer holding a copy of p.
func getBuf(p []byte) *[]byte {
	if len(p) > smallBuf {
		b := append([]byte(nil), p...)
		return &b
	}
	bp := bufPool.Get().(*[]byte)
	*bp = append((*bp)[:0], p...)
	return bp
}

func putBuf(bp *[]byte) {
	if cap(*bp) == smallBuf {
		bufPool.Put(bp)
	}
}

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
	server    bool
	ln        *Listener     // the server side's listener
	readDone  chan struct{} // the client's reader goroutine has exited

	mu  sync.Mutex // guards ssl and bio: every OpenSSL call and every send
	ssl *openssl.SSL
	bio *openssl.BIO

	in        chan *[]byte
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
	cookieExchanged atomic.Bool
	maxPayload      int
	accepted        bool // guarded by ln.mu
	live            bool // counted in the Listener's LiveConns; guarded by ln.mu

	readMu sync.Mutex
	rdl    *deadline
	wdl    *deadline

	// A server Conn lingers between its handshake and its first Read or
	// Write (see linger). takeover ends it; held is an application-data
	// datagram the lingering goroutine left for Read.
	takeover     chan struct{}
	takeoverOnce sync.Once
	lingerDone   chan struct{}
	held         *[]byte
}

func newConn(pc net.PacketConn, peer netip.AddrPort, cfg *Config, ssl *openssl.SSL, bio *openssl.BIO) *Conn {
	c := &Conn{
		pc:       pc,
		raddr:    net.UDPAddrFromAddrPort(peer),
		rap:      peer,
		cfg:      cfg,
		ssl:      ssl,
		bio:      bio,
		in:       make(chan *[]byte, inQueue),
		closed:   make(chan struct{}),
		peerGone: make(chan struct{}),
		rdl:      newDeadline(),
		wdl:      newDeadline(),
		takeover: make(chan struct{}),
	}
	c.udp, _ = pc.(*net.UDPConn)
	return c
}

// linger answers the peer's handshake retransmissions between the end of
// the server's handshake and the application's first Read or Write. The
// server's last flight (ChangeCipherSpec, Finished) has no timer: if it is
// lost, the client retransmits its own and only an SSL_read on the server
// answers. Without this, a connection waiting in the accept queue (or one
// the application only writes to) would leave the client's Dial to time
// out. Only datagrams without application data are processed here; the
// first one carrying data is kept for Read.
func (c *Conn) linger(limit time.Duration, stop <-chan struct{}) {
	defer close(c.lingerDone)
	t := time.NewTimer(limit)
	defer t.Stop()
	var scratch [64]byte
	for {
		select {
		case <-c.takeover:
			return
		case <-stop:
			return
		case <-c.closed:
			return
		case <-t.C:
			return
		case bp := <-c.in:
			if hasApplicationData(*bp) {
				c.held = bp
				return
			}
			c.push(bp)
			c.mu.Lock()
			if c.ssl != nil {
				_, _ = c.ssl.Read(scratch[:]) // handshake records only: no data to lose
				_ = c.flushLocked()
			}
			c.mu.Unlock()
		}
	}
}

// takeOver ends linger before the application's first Read or Write.
func (c *Conn) takeOver() {
	if c.lingerDone == nil {
		return
	}
	c.takeoverOnce.Do(func() {
		close(c.takeover)
		<-c.lingerDone
	})
}

// hasApplicationData reports whether any record of a datagram is
// application data (content type 23).
func hasApplicationData(d []byte) bool {
	for len(d) >= 13 {
		if d[0] == 23 {
			return true
		}
		n := 13 + (int(d[11])<<8 | int(d[12]))
		if n > len(d) {
			return true // malformed: let Read's SSL_read judge it
		}
		d = d[n:]
	}
	return false
}

// deliver queues a datagram for the connection; it is dropped when the
// queue is full.
func (c *Conn) deliver(bp *[]byte) bool {
	select {
	case c.in <- bp:
		return true
	default:
		putBuf(bp)
		return false
	}
}

// push hands a routed datagram to OpenSSL's read BIO.
func (c *Conn) push(bp *[]byte) {
	d := *bp
	if !c.server && !c.hsDone.Load() && isHelloVerifyRequest(d) {
		c.cookieExchanged.Store(true)
	}
	c.mu.Lock()
	if c.bio != nil {
		if c.bio.DatagramPending() {
			c.bio.DropDatagram() // OpenSSL did not want it; the newer one wins
		}
		_ = c.bio.PushDatagram(d, c.rap)
	}
	c.mu.Unlock()
	putBuf(bp)
}

// send writes one datagram to the peer.
func (c *Conn) send(p []byte) error {
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
	if c.bio == nil || !c.bio.HasOutput() {
		return nil
	}
	return c.bio.DrainDatagrams(c.send)
}

// Handshake runs the handshake if it has not run yet, bounded by
// Config.HandshakeTimeout. Read and Write call it.
func (c *Conn) Handshake() error {
	if c.hsDone.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.handshakeTimeout())
	defer cancel()
	return c.HandshakeContext(ctx)
}

// HandshakeContext runs the handshake, giving up when ctx is done. The
// first error is kept and returned by every later call.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.hsDone.Load() {
		return nil
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone.Load() || c.hsErr != nil {
		return c.hsErr
	}
	err := c.handshake(ctx)
	if err != nil {
		c.hsErr = err
		return err
	}
	c.hsDone.Store(true)
	return nil
}

func (c *Conn) handshake(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.ssl == nil {
			c.mu.Unlock()
			return net.ErrClosed
		}
		var err error
		if c.server {
			err = c.ssl.Accept()
		} else {
			err = c.ssl.Connect()
		}
		_ = c.flushLocked() // a lost flight is retransmitted on the timer
		if err == nil {
			// Still under c.mu: a Close racing with the end of the
			// handshake must not free the SSL in between.
			ferr := c.finishHandshakeLocked()
			c.mu.Unlock()
			return ferr
		}
		wait, running := c.ssl.DTLSTimeout()
		c.mu.Unlock()
		if !errors.Is(err, openssl.ErrWantRead) {
			return fmt.Errorf("dtls: handshake with %v: %w", c.rap, err)
		}
		var fire <-chan time.Time
		if running {
			timer.Reset(wait)
			fire = timer.C
		}
		select {
		case bp := <-c.in:
			c.push(bp)
		case <-fire:
			if err := c.retransmit(); err != nil {
				return fmt.Errorf("dtls: handshake with %v: %w", c.rap, err)
			}
		case <-c.peerGone:
			return fmt.Errorf("dtls: handshake with %v: %w", c.rap, c.peerErr)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return &net.OpError{Op: "handshake", Net: "udp", Addr: c.raddr, Err: timeoutError{op: "handshake"}}
			}
			return ctx.Err()
		case <-c.closed:
			return net.ErrClosed
		}
		if running {
			// Drain a fire that raced with a datagram, so Reset starts clean.
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

// retransmit runs DTLSv1_handle_timeout once the DTLS timer has fired and
// sends what it retransmits.
func (c *Conn) retransmit() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl == nil {
		return net.ErrClosed
	}
	_, err := c.ssl.DTLSHandleTimeout()
	_ = c.flushLocked()
	return err
}

// finishHandshakeLocked learns the payload limit, and makes sure a client
// that verifies its server did get a certificate: the verify callback only
// runs for certificates that arrive (an anonymous cipher sends none).
// Called with c.mu held.
func (c *Conn) finishHandshakeLocked() error {
	if !c.server && !c.cfg.InsecureSkipVerify {
		certs, err := c.ssl.PeerCertificates()
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return fmt.Errorf("dtls: handshake with %v: server sent no certificate", c.rap)
		}
	}
	c.maxPayload = c.ssl.DTLSDataMTU()
	if c.maxPayload <= 0 {
		c.maxPayload = c.cfg.mtu() - 100
	}
	return nil
}

// Read reads one record's data. Give it MaxPayload bytes: with a shorter
// p, OpenSSL returns the first len(p) bytes and keeps the rest of the
// record for the next Read (unlike UDP, which would drop it). It returns
// io.EOF after the peer's close_notify, net.ErrClosed after Close, and a
// net.Error whose Timeout is true when the read deadline passes.
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
	if c.held != nil { // left by linger: the first datagram with data
		c.push(c.held)
		c.held = nil
	}
	var timer *time.Timer // made only if a DTLS timer runs after the handshake
	for {
		select {
		case <-c.closed:
			return 0, net.ErrClosed
		case <-c.rdl.wait():
			return 0, &net.OpError{Op: "read", Net: "udp", Addr: c.raddr, Err: timeoutError{op: "read"}}
		default:
		}
		c.mu.Lock()
		if c.ssl == nil {
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		n, err := c.ssl.Read(p)
		_ = c.flushLocked()
		if n > 0 {
			c.mu.Unlock()
			return n, nil
		}
		wait, running := c.ssl.DTLSTimeout()
		c.mu.Unlock()
		if err == io.EOF {
			return 0, io.EOF
		}
		if !errors.Is(err, openssl.ErrWantRead) {
			return 0, fmt.Errorf("dtls: read: %w", err)
		}
		var fire <-chan time.Time
		if running { // a retransmission is due even after the handshake (the last flight)
			if timer == nil {
				timer = time.NewTimer(wait)
				defer timer.Stop()
			} else {
				timer.Reset(wait)
			}
			fire = timer.C
		}
		select {
		case bp := <-c.in:
			c.push(bp)
		case <-fire:
			_ = c.retransmit() // a failure shows in the next SSL_read
		case <-c.rdl.wait():
			return 0, &net.OpError{Op: "read", Net: "udp", Addr: c.raddr, Err: timeoutError{op: "read"}}
		case <-c.peerGone:
			return 0, &net.OpError{Op: "read", Net: "udp", Addr: c.raddr, Err: c.peerErr}
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
}

// Write sends p as one record in one datagram. A p longer than one datagram
// can carry gives ErrMessageTooLarge and sends nothing.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.takeOver()
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	case <-c.wdl.wait():
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: c.raddr, Err: timeoutError{op: "write"}}
	default:
	}
	if len(p) > c.maxPayload {
		return 0, fmt.Errorf("%w: %d bytes, at most %d at MTU %d", ErrMessageTooLarge, len(p), c.maxPayload, c.cfg.mtu())
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl == nil {
		return 0, net.ErrClosed
	}
	n, err := c.ssl.Write(p)
	if ferr := c.flushLocked(); err == nil && ferr != nil {
		return 0, fmt.Errorf("dtls: write: %w", ferr)
	}
	if err != nil {
		return n, fmt.Errorf("dtls: write: %w", err)
	}
	return n, nil
}

// MaxPayload returns the most bytes one Write can carry, known once the
// handshake is done (DTLS_get_data_mtu(3)).
func (c *Conn) MaxPayload() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxPayload
}

// Close sends close_notify if the handshake completed, then frees the
// connection. Blocked Reads and Writes return net.ErrClosed. Close is
// idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.ssl != nil {
			// IsInitFinished also covers a handshake OpenSSL completed but
			// whose peer the Go verification refused: the peer then learns
			// at once (close_notify) instead of at its idle timeout.
			if c.hsDone.Load() || c.ssl.IsInitFinished() {
				_, _ = c.ssl.Shutdown()
				_ = c.flushLocked()
			}
			c.ssl.Close() // frees the BIO too
			c.ssl, c.bio = nil, nil
		}
		c.mu.Unlock()
		close(c.closed)
		c.rdl.stop()
		c.wdl.stop()
		for {
			select {
			case bp := <-c.in:
				putBuf(bp)
				continue
			default:
			}
			break
		}
		if c.ln != nil {
			c.ln.remove(c)
			return
		}
		_ = c.pc.Close()
		<-c.readDone
	})
	return nil
}

// LocalAddr returns the local address of the UDP socket.
func (c *Conn) LocalAddr() net.Addr { return c.pc.LocalAddr() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline for Read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for Write. UDP sends do not block, so
// it only makes Writes after the deadline fail.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}

// ConnectionState describes a connection, as crypto/tls's does.
type ConnectionState struct {
	HandshakeComplete bool
	Version           string // "DTLSv1.2"
	CipherSuite       string // OpenSSL's name, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256"
	PeerCertificates  []*x509.Certificate
	ServerName        string
	// CookieExchanged reports that the server answered with a
	// HelloVerifyRequest before the handshake: always true on a Listener's
	// connections, whose handshakes all start with DTLSv1_listen.
	CookieExchanged bool
}

// ConnectionState returns the state of the connection.
func (c *Conn) ConnectionState() ConnectionState {
	cs := ConnectionState{
		HandshakeComplete: c.hsDone.Load(),
		ServerName:        c.cfg.ServerName,
		CookieExchanged:   c.server || c.cookieExchanged.Load(),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl != nil {
		cs.Version = c.ssl.Version()
		cs.CipherSuite = c.ssl.CipherName()
		cs.PeerCertificates, _ = c.ssl.PeerCertificates()
	}
	return cs
}

// isHelloVerifyRequest reports whether a datagram starts with a
// HelloVerifyRequest record.
func isHelloVerifyRequest(d []byte) bool {
	return len(d) > 13+12 && d[0] == 22 && d[13] == 3
}

// isInitialClientHello reports whether a datagram starts with an epoch-0
// handshake record holding a ClientHello.
func isInitialClientHello(d []byte) bool {
	return len(d) > 13+12 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[13] == 1
}

// clientHelloHasCookie reports whether a datagram's ClientHello carries a
// non-empty cookie: record header (13), handshake header (12), version (2)
// and random (32) come before the session id.
func clientHelloHasCookie(d []byte) bool {
	const off = 13 + 12 + 2 + 32
	if len(d) <= off || d[0] != 22 || d[13] != 1 {
		return false
	}
	p := off + 1 + int(d[off])
	return p < len(d) && d[p] != 0
}

// Dial connects to a DTLS server at address ("udp", "udp4" or "udp6") and
// completes the handshake.
func Dial(network, address string, cfg *Config) (*Conn, error) {
	return DialContext(context.Background(), network, address, cfg)
}

// DialContext is Dial with a context bounding the handshake (besides
// Config.HandshakeTimeout).
func DialContext(ctx context.Context, network, address string, cfg *Config) (*Conn, error) {
	if err := cfg.validate(false); err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = raddr.IP.String()
	}
	pc, err := net.DialUDP(network, nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	c, err := newClient(pc, raddr, cfg, host, true)
	if err != nil {
		pc.Close()
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, cfg.handshakeTimeout())
	defer cancel()
	if err := c.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Client returns a client Conn over pc talking to raddr. It takes
// ownership of pc (Close closes it); the handshake runs on the first Read,
// Write or Handshake.
func Client(pc net.PacketConn, raddr net.Addr, cfg *Config) (*Conn, error) {
	if pc == nil || raddr == nil {
		return nil, errors.New("dtls: Client needs a PacketConn and a peer address")
	}
	if err := cfg.validate(false); err != nil {
		return nil, err
	}
	ua, ok := raddr.(*net.UDPAddr)
	if !ok {
		var err error
		if ua, err = net.ResolveUDPAddr("udp", raddr.String()); err != nil {
			return nil, fmt.Errorf("dtls: peer address: %w", err)
		}
	}
	return newClient(pc, ua, cfg, ua.IP.String(), false)
}

// newClient makes a client Conn on the Ctx shared by every client of the
// caller's cfg. The Conn keeps a clone of cfg whose ServerName, if empty,
// is the host dialled: the certificate is always checked against a name
// or address, never accepted for any.
func newClient(pc net.PacketConn, raddr *net.UDPAddr, cfg *Config, host string, connected bool) (*Conn, error) {
	ctx, err := cfg.clientCtx()
	if err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	ssl, bio, err := newSSL(ctx, cfg)
	if err != nil {
		return nil, err
	}
	peer := netip.AddrPortFrom(raddr.AddrPort().Addr().Unmap(), raddr.AddrPort().Port())
	_ = bio.SetPeer(peer)
	if cfg.ServerName != "" {
		if _, err := netip.ParseAddr(cfg.ServerName); err != nil { // SNI carries names, not addresses
			if err := ssl.SetServerName(cfg.ServerName); err != nil {
				ssl.Close()
				return nil, err
			}
		}
	}
	ssl.SetUserData(cfg.ServerName) // the name the verify callback checks
	ssl.SetConnectState()
	c := newConn(pc, peer, cfg, ssl, bio)
	c.connected = connected && c.udp != nil
	c.readDone = make(chan struct{})
	go c.readLoop()
	return c, nil
}

// newSSL makes an SSL on a packet BIO with the Config's MTU.
func newSSL(ctx *openssl.Ctx, cfg *Config) (*openssl.SSL, *openssl.BIO, error) {
	ssl, err := openssl.NewSSL(ctx)
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

// readLoop routes the client socket's datagrams to the Conn.
func (c *Conn) readLoop() {
	defer close(c.readDone)
	buf := make([]byte, 1<<16)
	for {
		var n int
		var from netip.AddrPort
		var err error
		if c.udp != nil {
			n, from, err = c.udp.ReadFromUDPAddrPort(buf)
		} else {
			var a net.Addr
			n, a, err = c.pc.ReadFrom(buf)
			if ua, ok := a.(*net.UDPAddr); ok {
				from = ua.AddrPort()
			}
		}
		if err != nil {
			select {
			case <-c.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				// Nothing listens at the peer's port: fail now rather than
				// retransmit into the void until the handshake times out.
				c.peerGoneOnce.Do(func() {
					c.peerErr = err
					close(c.peerGone)
				})
			}
			continue
		}
		if !c.connected && netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != c.rap {
			continue
		}
		c.deliver(getBuf(buf[:n]))
	}
}
