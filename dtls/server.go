package dtls

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/openssl-stateless/openssl/internal/record"
)

// The server side of connections: what a Listener keeps per connection and
// per source host, the admission of a peer whose cookie verified (within
// the bounds of Config), its handshake up to the accept queue, the
// lingering after it, and its removal.

// serverConn is what a Listener keeps for each of its connections, beside
// the Conn itself: whether the application has it, whether it counts as
// live, and the lingering between the end of the handshake and the
// application's first Read or Write. A client Conn has none.
type serverConn struct {
	ln       *Listener
	hostAddr netip.Addr // the source host it counts against (hostOf)
	host     *hostCount

	// Guarded by ln.mu.
	accepted  bool  // handed out by Accept: Listener.Close leaves it open
	live      bool  // counted in Stats.LiveConns
	counted   bool  // counted in ln.nconns and host.conns
	successor *Conn // a reconnect from the same address, shaking hands
	replaces  *Conn // on a successor: the connection it is to replace

	// The random of the ClientHello whose cookie admitted the
	// connection (both of a DTLS 1.2 client's ClientHellos carry the
	// same). Set before the connection is shared, never changed.
	random    [record.RandomLen]byte
	hasRandom bool
}

func newServerConn(ln *Listener, hostAddr netip.Addr, host *hostCount) *serverConn {
	return &serverConn{ln: ln, hostAddr: hostAddr, host: host}
}

// prepareLinger makes the channels of linger, before the connection is
// handed to the application (whose first Read ends it).
func (c *Conn) prepareLinger() {
	c.takeover, c.lingerDone = make(chan struct{}), make(chan struct{})
}

// linger answers the peer's handshake retransmissions between the end of
// the handshake and the first sign that the peer has it: the peer's first
// record of data, or the application's first Read (which answers them
// itself), for at most limit. The side that sends the last flight (the
// server after a full handshake, the client after a resumed one) has no
// timer for it: if it is lost, the peer retransmits its own flight and
// only an SSL_read answers (RFC 6347, 4.2.4). Without this, a connection
// waiting in the accept queue, or one the application only writes to,
// would leave the peer's handshake to time out. Each datagram is processed
// with SSL_peek: handshake retransmissions are answered, records that fail
// to authenticate (anyone can send some from the peer's address) are
// dropped by OpenSSL, and the first real data ends lingering and stays in
// the SSL for the first Read. Writes go on meanwhile (c.mu serializes the
// OpenSSL calls).
func (c *Conn) linger(limit time.Duration, stop <-chan struct{}) {
	defer close(c.lingerDone)
	end := time.Now().Add(limit)
	t := time.NewTimer(limit)
	defer t.Stop()
	var scratch [1]byte
	for {
		if c.direct() {
			if err := c.awaitOwn(time.Time{}, c.takeover, stop, end); err != nil {
				return
			}
			if !c.lingerStep(scratch[:]) {
				return
			}
			continue
		}
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
			c.push(bp)
			if !c.lingerStep(scratch[:]) {
				return
			}
		}
	}
}

// lingerStep lets OpenSSL process the datagram in the BIO with SSL_peek,
// and reports whether lingering goes on: not once real data has arrived.
func (c *Conn) lingerStep(scratch []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssl == nil {
		return false
	}
	n, _ := c.ssl.Peek(scratch)
	_ = c.flushLocked()
	if n <= 0 {
		// Nothing for the application: the record buffers the peek
		// took go until the next operation, as before any wait (pump),
		// since linger may last through a write-only application's
		// Writes for up to HandshakeTimeout.
		c.ssl.FreeBuffers()
	}
	return n <= 0
}

// takeOver ends linger before the application's first Read, which takes
// the datagrams from then on. Set up before the handshake's end is
// published (hsDone), so a Read that saw it sees the channels.
func (c *Conn) takeOver() {
	if c.lingerDone == nil {
		return
	}
	c.takeoverOnce.Do(func() {
		close(c.takeover)
		c.kick()
		<-c.lingerDone
	})
}

// hostCount is what a Listener holds for one source host, for
// Config.MaxConnsPerHost and MaxHandshakesPerHost.
type hostCount struct{ conns, handshakes int }

// hostOf is the source host a peer counts against: its IPv4 address, or
// its IPv6 /64 (one customer's prefix, commonly).
func hostOf(peer netip.AddrPort) netip.Addr {
	ip := peer.Addr()
	if ip.Is4() {
		return ip
	}
	p, _ := ip.Prefix(64)
	return p.Addr()
}

// remove forgets a closed connection. A connection closed while its
// successor (a reconnect) shakes hands leaves its place to it.
func (l *Listener) remove(c *Conn) {
	l.mu.Lock()
	s := c.srv
	if l.conns[c.rap] == c {
		if succ := s.successor; succ != nil {
			l.conns[c.rap] = succ
			succ.srv.replaces = nil
			s.successor = nil
		} else {
			delete(l.conns, c.rap)
		}
	}
	if r := s.replaces; r != nil {
		if r.srv.successor == c {
			r.srv.successor = nil
		}
		s.replaces = nil
	}
	if s.counted {
		s.counted = false
		l.nconns--
		s.host.conns--
		l.forgetHost(s)
	}
	if s.live {
		s.live = false
		l.live.Add(-1)
	}
	last := l.closing && l.nconns == 0
	l.mu.Unlock()
	if last {
		// Not from the read loop: Close is never called there.
		go l.shutdown()
	}
}

// teardownStarted counts a connection's teardown (Conn.Close) that is to
// run on a goroutine of its own, until teardownDone. Once the Listener is
// closing it refuses (false) and the teardown runs on the caller's: Close
// has no later point at which to wait for it, and a server that closes
// its Listener, then its connections, then exits must still have sent
// every close_notify.
func (l *Listener) teardownStarted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	l.teardowns++
	return true
}

func (l *Listener) teardownDone() {
	l.mu.Lock()
	l.teardowns--
	if l.teardowns == 0 {
		l.teardownsIdle.Broadcast()
	}
	l.mu.Unlock()
}

// forgetHost drops a host's counts once nothing counts against them.
// Called with l.mu held.
func (l *Listener) forgetHost(s *serverConn) {
	if s.host.conns == 0 && s.host.handshakes == 0 && l.hosts[s.hostAddr] == s.host {
		delete(l.hosts, s.hostAddr)
	}
}

// admit turns r's listening SSL into a connection for peer and starts its
// handshake, unless a bound refuses it: the accept backlog, MaxConns, or
// the peer's host's share of either. A peer that already has a
// connection gets a successor, which replaces it only once its own
// handshake completes. Called with r.lmu held.
func (l *Listener) admit(r *reader, peer netip.AddrPort, hello []byte) {
	hostAddr := hostOf(peer)
	l.mu.Lock()
	old := l.conns[peer]
	h := l.hosts[hostAddr]
	if h == nil {
		h = &hostCount{}
	}
	why := ""
	switch {
	case l.closing:
		why = "listener closing"
	case l.err != nil:
		// Accept reports the failure and hands out no connection: a
		// reconnect through a connection's own socket would wait in the
		// queue for nothing.
		why = "listener failed"
	case l.pending+len(l.acceptCh) >= cap(l.acceptCh):
		why = "accept queue full"
	case old != nil && old.srv.successor != nil:
		why = "a reconnect is already in progress"
	case exceeds(h.handshakes, l.cfg.MaxHandshakesPerHost, DefaultMaxHandshakesPerHost):
		why = "too many handshakes from this host"
	case old == nil && exceeds(l.nconns, l.cfg.MaxConns, DefaultMaxConns):
		why = "too many connections"
	case old == nil && exceeds(h.conns, l.cfg.MaxConnsPerHost, DefaultMaxConnsPerHost):
		why = "too many connections from this host"
	}
	if why != "" {
		l.mu.Unlock()
		// The listening SSL stays ours: DTLSv1_listen clears it next time.
		l.hsRefused.Add(1)
		l.log.Warn("dtls: handshake refused", "peer", peer, "reason", why)
		return
	}
	ssl, bio, err := l.newListeningSSL()
	if err != nil {
		l.mu.Unlock()
		l.hsRefused.Add(1)
		l.log.Error("dtls: cannot make a listening SSL", "err", err)
		return
	}
	var own *net.UDPConn
	if l.ownLocal != nil && old == nil {
		// A reconnect's handshake shares the socket: its predecessor's
		// own socket, connected to the same 4-tuple, would take its
		// datagrams (it is retired below instead).
		own = l.dialOwn(peer)
	}
	if own != nil {
		takeStrays(own, func(d []byte, from netip.AddrPort) {
			r.strays = append(r.strays, stray{bytes.Clone(d), from})
		})
	}
	// A connection that shares a socket writes through the one its
	// cookie came through: any socket of the group sends from the
	// Listener's address, and the writes spread as the reads do.
	c := newConn(r.pc, own, peer, l.cfg, r.lssl, r.lbio)
	c.srv = newServerConn(l, hostAddr, h)
	c.prepareLinger()
	c.srv.random, c.srv.hasRandom = clientHelloRandom(hello)
	c.verified = l.verified
	r.lssl, r.lbio = ssl, bio
	l.hosts[hostAddr] = h
	h.conns++
	h.handshakes++
	l.nconns++
	l.pending++
	c.srv.counted = true
	if old != nil {
		old.srv.successor = c
		c.srv.replaces = old
		l.log.Info("dtls: peer reconnecting; its previous connection stays until the new handshake completes", "peer", peer)
	} else {
		l.conns[peer] = c
	}
	l.hsWG.Add(1)
	l.mu.Unlock()
	if old != nil && old.own != nil {
		// The peer's datagrams go back to the shared socket, where route
		// gives each of the two connections what may be its. Not on this
		// goroutine: it holds r.lmu, which route may take.
		go old.retireOwn(l.route)
	}
	if old != nil && !old.hsDone.Load() {
		// The client started again (a new random, a valid cookie) while
		// its last handshake had not completed: that one goes now, and
		// the new one takes its place (remove). Left running, its
		// retransmissions would reach the client in the middle of the
		// new handshake, which would take them for the new server's and
		// fail (bad signature). Not on this goroutine, as above.
		go old.closeNow()
	}
	go l.handshake(c)
}

// dialOwn makes the socket of a new connection's own, or returns nil: the
// connection then shares the Listener's socket. Out of descriptors is the
// common failure; it is logged once per Listener.
func (l *Listener) dialOwn(peer netip.AddrPort) *net.UDPConn {
	own, err := dialOwn(l.ownLocal, l.ownV6only, peer)
	if err != nil {
		if !l.ownFailed.Swap(true) {
			l.log.Warn("dtls: no socket of its own for a connection; it shares the listening socket (logged once)", "peer", peer, "err", err)
		}
		return nil
	}
	return own
}

// exceeds reports whether n has reached the bound v (def when zero, none
// when negative).
func exceeds(n, v, def int) bool {
	b := limit(v, def)
	return b >= 0 && n >= b
}

func (l *Listener) handshake(c *Conn) {
	defer l.hsWG.Done()
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.handshakeTimeout())
	err := c.HandshakeContext(ctx)
	cancel()
	// One critical section: the backlog count and the queue move together,
	// and a connection closed since its handshake (counted is then false)
	// is not queued.
	l.mu.Lock()
	l.pending--
	c.srv.host.handshakes--
	l.forgetHost(c.srv)
	accepted, full := false, false
	if err == nil && !l.closing && c.srv.counted {
		select {
		case l.acceptCh <- c:
			accepted = true
			c.srv.live = true
			l.live.Add(1)
		default:
			full = true
		}
	}
	// A reconnect whose handshake completed replaces its predecessor: the
	// client has lost that association (RFC 6347, 4.2.8).
	var old *Conn
	if r := c.srv.replaces; r != nil {
		c.srv.replaces = nil
		if r.srv.successor == c {
			r.srv.successor = nil
		}
		if accepted {
			if l.conns[c.rap] == r {
				l.conns[c.rap] = c
			}
			old = r
		}
	}
	l.mu.Unlock()
	if old != nil {
		l.log.Info("dtls: peer reconnected, closing its previous connection", "peer", c.rap)
		old.closeNow()
	}
	switch {
	case accepted:
		l.hsCompleted.Add(1)
		if l.log.Enabled(context.Background(), slog.LevelInfo) {
			cs := c.ConnectionState()
			l.log.Info("dtls: handshake completed", "peer", c.rap, "version", VersionName(cs.Version), "cipher", CipherSuiteName(cs.CipherSuite))
		}
		// Answer retransmissions until the application takes over, for as
		// long as the client may still be retransmitting.
		c.linger(l.cfg.handshakeTimeout(), l.closed)
	case full:
		// admit counted this handshake against the backlog, so the queue
		// is full only if Accept's callers fell behind in between; the
		// client gets close_notify.
		l.log.Warn("dtls: handshake refused", "peer", c.rap, "reason", "accept queue full")
		c.closeNow()
		l.hsRefused.Add(1) // after Close: whoever sees the count sees the connection gone
	default:
		if err == nil {
			err = net.ErrClosed
		}
		l.log.Warn("dtls: handshake failed", "peer", c.rap, "err", err)
		c.closeNow()
		l.hsFailed.Add(1)
	}
}
