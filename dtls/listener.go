package dtls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openssl-stateless/openssl"
)

// Stats counts what a Listener did. All counters only grow, except
// LiveConns.
type Stats struct {
	CookiesSent         uint64 // HelloVerifyRequests sent
	CookiesVerified     uint64 // ClientHellos whose cookie verified
	CookiesRejected     uint64 // ClientHellos with a cookie that did not verify
	HandshakesCompleted uint64
	HandshakesFailed    uint64 // including timeouts
	HandshakesRefused   uint64 // verified cookies turned away: accept queue full
	LiveConns           int64  // connections past their handshake, not yet closed
	DatagramsDropped    uint64 // invalid, oversized, or for a peer whose queue was full
}

// Listener is a DTLS server on one UDP socket shared by every peer. A
// datagram from an unknown source goes through DTLSv1_listen on the one
// listening SSL; nothing is kept for that source until its cookie
// verifies. Handshakes then run concurrently, each bounded by
// Config.HandshakeTimeout.
type Listener struct {
	pc     net.PacketConn
	udp    *net.UDPConn
	cfg    *Config
	sslCtx *openssl.Ctx
	log    *slog.Logger
	signer *openssl.CookieSigner

	// Used by the read loop only.
	lssl *openssl.SSL
	lbio *openssl.BIO

	mu       sync.Mutex
	conns    map[netip.AddrPort]*Conn
	pending  int // handshakes in progress
	closing  bool
	acceptCh chan *Conn
	closed   chan struct{}
	loopDone chan struct{}
	hsWG     sync.WaitGroup
	once     sync.Once
	downOnce sync.Once

	cookiesSent, cookiesVerified, cookiesRejected      atomic.Uint64
	hsCompleted, hsFailed, hsRefused, datagramsDropped atomic.Uint64
	live                                               atomic.Int64
}

// Listen opens a UDP socket on address ("udp", "udp4" or "udp6") and
// returns a Listener on it.
func Listen(network, address string, cfg *Config) (*Listener, error) {
	if err := cfg.validate(true); err != nil {
		return nil, err
	}
	laddr, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	pc, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	l, err := NewListener(pc, cfg)
	if err != nil {
		pc.Close()
		return nil, err
	}
	return l, nil
}

// NewListener returns a Listener on pc. The Listener owns pc from here on.
func NewListener(pc net.PacketConn, cfg *Config) (*Listener, error) {
	if pc == nil {
		return nil, errors.New("dtls: nil PacketConn")
	}
	if err := cfg.validate(true); err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	sslCtx, err := cfg.newCtx(true)
	if err != nil {
		return nil, err
	}
	signer := cfg.CookieSigner
	if signer == nil {
		if signer, err = openssl.NewCookieSigner(nil, 0); err != nil {
			sslCtx.Close()
			return nil, err
		}
	}
	if err := signer.Install(sslCtx); err != nil {
		sslCtx.Close()
		return nil, err
	}
	l := &Listener{
		pc:       pc,
		cfg:      cfg,
		sslCtx:   sslCtx,
		log:      cfg.logger(),
		signer:   signer,
		conns:    make(map[netip.AddrPort]*Conn),
		acceptCh: make(chan *Conn, cfg.backlog()),
		closed:   make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	l.udp, _ = pc.(*net.UDPConn)
	if l.lssl, l.lbio, err = l.newListeningSSL(); err != nil {
		sslCtx.Close()
		return nil, err
	}
	go l.loop()
	return l, nil
}

func (l *Listener) newListeningSSL() (*openssl.SSL, *openssl.BIO, error) {
	ssl, bio, err := newSSL(l.sslCtx, l.cfg)
	if err != nil {
		return nil, nil, err
	}
	ssl.SetAcceptState()
	return ssl, bio, nil
}

// Addr returns the socket's local address.
func (l *Listener) Addr() net.Addr { return l.pc.LocalAddr() }

// Stats returns the Listener's counters.
func (l *Listener) Stats() Stats {
	return Stats{
		CookiesSent:         l.cookiesSent.Load(),
		CookiesVerified:     l.cookiesVerified.Load(),
		CookiesRejected:     l.cookiesRejected.Load(),
		HandshakesCompleted: l.hsCompleted.Load(),
		HandshakesFailed:    l.hsFailed.Load(),
		HandshakesRefused:   l.hsRefused.Load(),
		LiveConns:           l.live.Load(),
		DatagramsDropped:    l.datagramsDropped.Load(),
	}
}

// PeerCount returns how many peers the Listener keeps state for: those
// past their cookie exchange and not yet closed. Forged ClientHellos never
// count.
func (l *Listener) PeerCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Accept waits for the next connection whose handshake completed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.acceptCh:
		l.mu.Lock()
		if l.closing { // Close ran meanwhile and did not see this one
			l.mu.Unlock()
			c.Close()
			return nil, net.ErrClosed
		}
		c.srv.accepted = true
		l.mu.Unlock()
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting: Accept returns net.ErrClosed, handshakes in flight
// and connections not yet accepted are closed. Accepted connections keep
// working; the socket closes when the last of them does.
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closing = true
		var drop []*Conn
		for _, c := range l.conns {
			if !c.srv.accepted {
				drop = append(drop, c)
			}
		}
		remaining := len(l.conns) - len(drop)
		l.mu.Unlock()
		close(l.closed)
		for _, c := range drop {
			c.Close()
		}
		l.hsWG.Wait()
		for {
			select {
			case c := <-l.acceptCh:
				c.Close()
				continue
			default:
			}
			break
		}
		if remaining == 0 {
			l.shutdown()
		}
	})
	return nil
}

// shutdown closes the socket and frees the listening SSL and the Ctx.
func (l *Listener) shutdown() {
	l.downOnce.Do(func() {
		_ = l.pc.Close()
		<-l.loopDone
		if l.lssl != nil {
			l.lssl.Close()
		}
		l.sslCtx.Close()
	})
}

// remove forgets a closed connection.
func (l *Listener) remove(c *Conn) {
	l.mu.Lock()
	if l.conns[c.rap] == c {
		delete(l.conns, c.rap)
	}
	if c.srv.live {
		c.srv.live = false
		l.live.Add(-1)
	}
	last := l.closing && len(l.conns) == 0
	l.mu.Unlock()
	if last {
		// Not from the read loop: Close is never called there.
		go l.shutdown()
	}
}

func (l *Listener) writeTo(p []byte, to netip.AddrPort) {
	if l.udp != nil {
		_, _ = l.udp.WriteToUDPAddrPort(p, to)
		return
	}
	_, _ = l.pc.WriteTo(p, net.UDPAddrFromAddrPort(to))
}

func (l *Listener) readFrom(buf []byte) (int, netip.AddrPort, error) {
	if l.udp != nil {
		return l.udp.ReadFromUDPAddrPort(buf)
	}
	n, a, err := l.pc.ReadFrom(buf)
	if ua, ok := a.(*net.UDPAddr); ok {
		return n, ua.AddrPort(), err
	}
	return n, netip.AddrPort{}, err
}

// loop reads every datagram of the socket. Known peers get theirs through
// their queue; anything else is answered right here, on this goroutine,
// with no allocation: that is the path a flood of forged ClientHellos takes.
func (l *Listener) loop() {
	defer close(l.loopDone)
	buf := make([]byte, 1<<16)
	for {
		n, from, err := l.readFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case <-l.closed:
				if l.isDown() {
					return
				}
			default:
			}
			time.Sleep(time.Millisecond) // a persistent error must not spin a core
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		l.mu.Lock()
		c := l.conns[from]
		closing := l.closing
		l.mu.Unlock()
		if c != nil && !(c.hsDone.Load() && isInitialClientHello(buf[:n])) {
			if n > bioBuffer || !c.deliver(getBuf(buf[:n])) {
				l.datagramsDropped.Add(1)
			}
			continue
		}
		// An unknown source, or a known one whose handshake is long done
		// sending an epoch-0 ClientHello: a client that lost its state and
		// reconnects from the same address and port (RFC 6347, 4.2.8). Both
		// go through the cookie exchange; admit replaces the old connection
		// only once the new cookie verifies, so a forged ClientHello cannot
		// tear down a live connection.
		if closing || l.lssl == nil {
			l.datagramsDropped.Add(1)
			continue
		}
		l.listen(buf[:n], from)
	}
}

func (l *Listener) isDown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing && len(l.conns) == 0
}

func (l *Listener) listen(d []byte, from netip.AddrPort) {
	if err := l.lbio.PushDatagram(d, from); err != nil {
		l.lbio.DropDatagram()
		l.datagramsDropped.Add(1)
		return
	}
	peer, err := l.lssl.DTLSv1ListenAddrPort()
	sent := false
	_ = l.lbio.DrainDatagrams(func(p []byte) error {
		sent = true
		l.writeTo(p, from)
		return nil
	})
	switch {
	case err == nil:
		l.cookiesVerified.Add(1)
		l.admit(peer)
	case errors.Is(err, openssl.ErrRetry):
		if !sent {
			l.datagramsDropped.Add(1)
			return
		}
		l.cookiesSent.Add(1)
		if clientHelloHasCookie(d) {
			l.cookiesRejected.Add(1)
		}
	default:
		// A fatal listen error leaves the listening SSL in an unknown
		// state: replace it.
		l.log.Error("dtls: DTLSv1_listen failed", "peer", from, "err", err)
		l.datagramsDropped.Add(1)
		l.lssl.Close()
		l.lssl, l.lbio = nil, nil
		if ssl, bio, nerr := l.newListeningSSL(); nerr == nil {
			l.lssl, l.lbio = ssl, bio
		}
	}
}

// admit turns the listening SSL into a connection for peer and starts its
// handshake, unless the accept queue is full.
func (l *Listener) admit(peer netip.AddrPort) {
	l.mu.Lock()
	if l.closing || l.pending+len(l.acceptCh) >= cap(l.acceptCh) {
		l.mu.Unlock()
		// The listening SSL stays ours: DTLSv1_listen clears it next time.
		l.hsRefused.Add(1)
		l.log.Warn("dtls: handshake refused, accept queue full", "peer", peer)
		return
	}
	ssl, bio, err := l.newListeningSSL()
	if err != nil {
		l.mu.Unlock()
		l.hsRefused.Add(1)
		l.log.Error("dtls: cannot make a listening SSL", "err", err)
		return
	}
	c := newConn(l.pc, peer, l.cfg, l.lssl, l.lbio)
	c.srv = newServerConn(l)
	l.lssl, l.lbio = ssl, bio
	old := l.conns[peer]
	l.conns[peer] = c
	l.pending++
	l.hsWG.Add(1)
	l.mu.Unlock()
	if old != nil {
		// The peer proved it owns the address again with a fresh cookie:
		// its previous connection is gone on its side.
		l.log.Info("dtls: peer reconnected, closing its previous connection", "peer", peer)
		old.Close()
	}
	go l.handshake(c)
}

func (l *Listener) handshake(c *Conn) {
	defer l.hsWG.Done()
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.handshakeTimeout())
	err := c.HandshakeContext(ctx)
	cancel()
	l.mu.Lock()
	l.pending--
	if err == nil && !l.closing {
		select {
		case l.acceptCh <- c:
			c.srv.live = true
			l.live.Add(1)
			l.hsCompleted.Add(1)
			l.mu.Unlock()
			if l.log.Enabled(context.Background(), slog.LevelInfo) {
				cs := c.ConnectionState()
				l.log.Info("dtls: handshake completed", "peer", c.rap, "version", cs.Version, "cipher", cs.CipherSuite)
			}
			// Answer retransmissions until the application takes over, for
			// as long as the client may still be retransmitting.
			c.linger(l.cfg.handshakeTimeout(), l.closed)
			return
		default:
			// admit counted this handshake against the queue, but the
			// queue may have filled since: the client only sees its
			// handshake time out.
			l.mu.Unlock()
			l.hsRefused.Add(1)
			l.log.Warn("dtls: handshake refused, accept queue full", "peer", c.rap)
			c.Close()
			return
		}
	}
	l.mu.Unlock()
	l.hsFailed.Add(1)
	if err == nil {
		err = net.ErrClosed
	}
	l.log.Warn("dtls: handshake failed", "peer", c.rap, "err", err)
	c.Close()
}
