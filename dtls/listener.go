package dtls

import (
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
	HandshakesRefused   uint64 // verified cookies turned away by a bound: AcceptBacklog, MaxConns, the per-host limits
	LiveConns           int64  // connections past their handshake, not yet closed
	DatagramsDropped    uint64 // invalid, oversized, or for a peer whose queue was full
	QueuedBytes         int64  // held in the connections' queues now (buffer sizes)
	ReadErrors          uint64 // socket read errors, retried with a backoff
}

// Listener is a DTLS server on one UDP socket shared by every peer (or on
// Config.Readers sockets bound to one address, each read by a goroutine of
// its own). A datagram from an unknown source goes through DTLSv1_listen on
// the listening SSL of the socket it arrived on; nothing is kept for that
// source until its cookie verifies. Handshakes then run concurrently, each
// bounded by Config.HandshakeTimeout. A Listener is safe for concurrent
// use.
type Listener struct {
	// pc is the first reader's socket: the Listener's address, and where
	// the own sockets' settings come from.
	pc      net.PacketConn
	readers []*reader
	cfg     *Config
	sslCtx  *openssl.Ctx
	log     *slog.Logger
	signer  *openssl.CookieSigner

	// ownLocal is where connections' own sockets bind (socket_linux.go);
	// nil when every connection shares pc. ownV6only is pc's IPV6_V6ONLY
	// (-1 on IPv4), which they copy.
	ownLocal  *net.UDPAddr
	ownV6only int
	ownFailed atomic.Bool // a connection's own socket could not be made (logged once)

	verified *verifyCache // client chains verified before (verifycache.go)

	mu       sync.Mutex
	conns    map[netip.AddrPort]*Conn // by peer; a reconnect's successor hangs off its predecessor
	hosts    map[netip.Addr]*hostCount
	nconns   int // connections held, handshakes and successors included
	pending  int // handshakes in progress
	closing  bool
	err      error         // the fatal condition Accept reports
	failed   chan struct{} // closed when err is set
	acceptCh chan *Conn
	closed   chan struct{}
	hsWG     sync.WaitGroup
	// Connections' teardowns under way (Conn.Close), and the signal that
	// their count fell to zero; both under mu.
	teardowns     int
	teardownsIdle sync.Cond
	once          sync.Once
	downOnce      sync.Once

	queued, queuedShared atomic.Int64 // bytes in the connections' queues (queue.go)

	cookiesSent, cookiesVerified, cookiesRejected      atomic.Uint64
	hsCompleted, hsFailed, hsRefused, datagramsDropped atomic.Uint64
	readErrors                                         atomic.Uint64
	live                                               atomic.Int64
}

// reader is one socket of a Listener, the goroutine that reads it (loop),
// and the listening SSL that goroutine answers new sources with. Readers
// share everything else: the CookieSigner (installed on the one SSL_CTX),
// so a cookie minted through one socket verifies on any other, and the
// connection table, so a peer whose datagrams the kernel moves to another
// socket of the group is still found.
type reader struct {
	ln  *Listener
	pc  net.PacketConn
	udp *net.UDPConn

	// The listening SSL, used by the read loop and by a connection's
	// reader that sees its peer reconnect (relisten).
	lmu    sync.Mutex
	lssl   *openssl.SSL
	lbio   *openssl.BIO
	lreply [512]byte // lssl's answer to a datagram: a HelloVerifyRequest (at most 255 bytes of cookie)
	down   bool      // shutdown has freed lssl: no more listening
	strays []stray   // what a new own socket took before it was connected (admit), for relisten to route
	// Guarded by lmu: since when the listening SSL could not be remade,
	// and when to try next.
	lsslDownSince, lsslRetry time.Time

	datagrams atomic.Uint64 // read from pc: how the kernel spreads the load
	done      chan struct{} // closed when loop has returned
}

func (l *Listener) newReader(pc net.PacketConn) *reader {
	r := &reader{ln: l, pc: pc, done: make(chan struct{})}
	r.udp, _ = pc.(*net.UDPConn)
	return r
}

// Listen opens a UDP socket on address ("udp", "udp4" or "udp6") and
// returns a Listener on it; with Config.Readers above one, that many
// sockets on the same address (see Readers).
func Listen(network, address string, cfg *Config) (*Listener, error) {
	if err := cfg.validate(true); err != nil {
		return nil, err
	}
	n := cfg.readers()
	if n > 1 && !ownSocketsSupported {
		return nil, errors.New("dtls: Config.Readers above 1 needs Linux's SO_REUSEPORT, which spreads a port's datagrams over its sockets")
	}
	laddr, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	var pc *net.UDPConn
	if n == 1 && (cfg.SharedSocket || !ownSocketsSupported) {
		pc, err = net.ListenUDP(network, laddr)
	} else {
		pc, err = listenReusePort(network, laddr)
	}
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	pcs := []net.PacketConn{pc}
	closeAll := func() {
		for _, pc := range pcs {
			pc.Close()
		}
	}
	// The others bind where the first did: its port, when address asked
	// for any.
	for len(pcs) < n {
		more, err := listenReusePort(network, pc.LocalAddr().(*net.UDPAddr))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("dtls: socket %d of Config.Readers: %w", len(pcs)+1, err)
		}
		pcs = append(pcs, more)
	}
	l, err := newListener(pcs, cfg)
	if err != nil {
		closeAll()
		return nil, err
	}
	return l, nil
}

// NewListener returns a Listener on pc. The Listener owns pc from here on.
// It reads pc alone: Config.Readers above one is refused, since only
// Listen opens the sockets that takes.
func NewListener(pc net.PacketConn, cfg *Config) (*Listener, error) {
	if pc == nil {
		return nil, errors.New("dtls: nil PacketConn")
	}
	if err := cfg.validate(true); err != nil {
		return nil, err
	}
	if cfg.readers() > 1 {
		return nil, errors.New("dtls: NewListener reads the one socket it is given: Config.Readers above 1 needs Listen")
	}
	return newListener([]net.PacketConn{pc}, cfg)
}

// newListener returns a Listener reading pcs, which are bound to one
// address (cfg is validated).
func newListener(pcs []net.PacketConn, cfg *Config) (*Listener, error) {
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
		pc:       pcs[0],
		cfg:      cfg,
		sslCtx:   sslCtx,
		log:      cfg.logger(),
		signer:   signer,
		conns:    make(map[netip.AddrPort]*Conn),
		hosts:    make(map[netip.Addr]*hostCount),
		failed:   make(chan struct{}),
		acceptCh: make(chan *Conn, cfg.backlog()),
		closed:   make(chan struct{}),
		verified: newVerifyCache(),
	}
	l.teardownsIdle.L = &l.mu
	for _, pc := range pcs {
		r := l.newReader(pc)
		if r.lssl, r.lbio, err = l.newListeningSSL(); err != nil {
			for _, r := range l.readers {
				r.lssl.Close()
			}
			sslCtx.Close()
			return nil, err
		}
		l.readers = append(l.readers, r)
	}
	if udp := l.readers[0].udp; !cfg.SharedSocket && udp != nil {
		l.ownLocal, l.ownV6only, _ = ownSocketOrigin(udp)
	}
	for _, r := range l.readers {
		go r.loop()
	}
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

// Addr returns the socket's local address (the one every socket of
// Config.Readers is bound to).
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
		QueuedBytes:         l.queued.Load(),
		ReadErrors:          l.readErrors.Load(),
	}
}

// PeerCount returns how many connections the Listener keeps state for:
// those past their cookie exchange and not yet closed, a reconnect's
// handshake beside the connection it would replace included. Forged
// ClientHellos never count.
func (l *Listener) PeerCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nconns
}

// fail records a condition the Listener cannot recover from; Accept
// reports it from then on. Connections already made keep working.
func (l *Listener) fail(why string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && !l.closing {
		l.err = fmt.Errorf("dtls: listener failed: %s: %w", why, err)
		close(l.failed)
		l.log.Error("dtls: listener failed", "err", err)
	}
}

// Accept waits for the next connection whose handshake completed. It
// returns net.ErrClosed after Close, and the error of a condition the
// Listener cannot recover from (its socket closed underneath it) once that
// happens.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case <-l.failed:
		return nil, l.failure()
	default:
	}
	select {
	case <-l.failed:
		return nil, l.failure()
	case c := <-l.acceptCh:
		l.mu.Lock()
		if l.closing { // Close ran meanwhile and did not see this one
			l.mu.Unlock()
			c.closeNow()
			return nil, net.ErrClosed
		}
		c.srv.accepted = true
		l.mu.Unlock()
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *Listener) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close stops accepting: Accept returns net.ErrClosed, handshakes in flight
// and connections not yet accepted are closed. Accepted connections keep
// working; the socket closes when the last of them does. Close returns
// once every connection closed so far has finished closing (sent its
// close_notify, freed its SSL).
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closing = true
		var drop []*Conn
		for _, c := range l.conns {
			if !c.srv.accepted {
				drop = append(drop, c)
			}
			if succ := c.srv.successor; succ != nil {
				drop = append(drop, succ)
			}
		}
		kick := make([]*Conn, 0, len(l.conns))
		for _, c := range l.conns {
			kick = append(kick, c)
		}
		l.mu.Unlock()
		// Lingering connections reading their own sockets look at
		// l.closed only when kicked: closed first, so that one that
		// sees a kick's count sees l.closed too, and does not go back
		// to wait out its linger.
		close(l.closed)
		for _, c := range kick {
			c.kick()
		}
		for _, c := range drop {
			c.closeNow()
		}
		l.hsWG.Wait()
		for {
			select {
			case c := <-l.acceptCh:
				c.closeNow()
				continue
			default:
			}
			break
		}
		l.mu.Lock()
		// The connections closed before and above send their
		// close_notify and leave the table on goroutines of their own.
		for l.teardowns > 0 {
			l.teardownsIdle.Wait()
		}
		last := l.nconns == 0
		l.mu.Unlock()
		if last {
			l.shutdown()
		}
	})
	return nil
}

// shutdown closes the sockets and frees the listening SSLs and the Ctx.
func (l *Listener) shutdown() {
	l.downOnce.Do(func() {
		for _, r := range l.readers {
			_ = r.pc.Close()
		}
		for _, r := range l.readers {
			<-r.done
			r.lmu.Lock()
			r.down = true
			if r.lssl != nil {
				r.lssl.Close()
				r.lssl, r.lbio = nil, nil
			}
			r.lmu.Unlock()
		}
		l.sslCtx.Close()
	})
}

func (r *reader) writeTo(p []byte, to netip.AddrPort) {
	if r.udp != nil {
		_, _ = r.udp.WriteToUDPAddrPort(p, to)
		return
	}
	_, _ = r.pc.WriteTo(p, net.UDPAddrFromAddrPort(to))
}

// readFrom reads a datagram and its source, from any net.PacketConn: a
// wrapper whose addresses are not *net.UDPAddr is served through their
// text.
func (r *reader) readFrom(buf []byte) (int, netip.AddrPort, error) {
	if r.udp != nil {
		return r.udp.ReadFromUDPAddrPort(buf)
	}
	n, a, err := r.pc.ReadFrom(buf)
	return n, addrPortOf(a), err
}

// addrPortOf returns a's address and port; the zero AddrPort when a has
// none.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case nil:
		return netip.AddrPort{}
	case *net.UDPAddr:
		return a.AddrPort()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return ap
}

// loop reads every datagram of the reader's socket. Known peers get theirs
// through their queue; anything else is answered right here, on this
// goroutine, with no allocation: that is the path a flood of forged
// ClientHellos takes. On Linux a UDP socket is read and answered in
// batches (batch_linux.go).
func (r *reader) loop() {
	defer close(r.done)
	if b := newBatch(r.udp, r.ln.cfg.mtu()); b != nil {
		r.batchLoop(b)
		return
	}
	buf := make([]byte, 1<<16)
	backoff := time.Duration(0)
	for {
		n, from, err := r.readFrom(buf)
		if err != nil {
			if r.readFailed(err, &backoff) {
				return
			}
			continue
		}
		backoff = 0
		r.datagrams.Add(1)
		if !from.IsValid() {
			r.ln.datagramsDropped.Add(1) // a PacketConn that gave no usable address
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		r.route(buf[:n], from, nil)
	}
}

// batchLoop is loop reading a batch of datagrams at a time.
func (r *reader) batchLoop(b *batch) {
	backoff := time.Duration(0)
	for {
		if err := r.readBatch(b); err != nil {
			if r.readFailed(err, &backoff) {
				return
			}
			continue
		}
		backoff = 0
	}
}

// readBatch waits for datagrams, routes as many as one read takes, and
// sends the replies routing queued before it returns: none waits on a read
// that may block. The datagrams for DTLSv1_listen (from sources with no
// connection) stay in their slots, marked by their length in the
// ListenBatch, and go to it together once the rest are routed
// (listenBatch): one call into C for all of them, where it was one each.
func (r *reader) readBatch(b *batch) error {
	n, err := b.read()
	if err != nil {
		return err
	}
	r.datagrams.Add(uint64(n))
	lb := b.lb
	listen := false
	for i := 0; i < n; i++ {
		lb.Len[i] = -1 // DTLSv1ListenBatch skips it
		d, from, ok := b.datagram(i)
		if !ok {
			r.ln.datagramsDropped.Add(1)
			continue
		}
		// Everything route does with d is done when it returns (a
		// connection's queue and the listening BIO take copies): the
		// next read reuses the batch's buffers.
		if len(d) > b.slot {
			r.route(d, from, &b.out) // whole in the shared tail, not in its slot: alone
			continue
		}
		if r.routeKnown(d, from) {
			continue
		}
		lb.Len[i], lb.From[i] = int32(len(d)), from
		listen = true
	}
	if listen {
		r.listenBatch(b, n)
	}
	b.out.flush()
	return nil
}

// listenBatch runs DTLSv1_listen over the datagrams of b's last read that
// readBatch left for it, with listen's outcomes and counts for each: one
// call into C answers them all, unless a cookie verifies, which ends a
// call; its peer is admitted, and the next call goes on from there with
// the fresh listening SSL.
func (r *reader) listenBatch(b *batch, n int) {
	l, lb := r.ln, b.lb
	r.lmu.Lock()
	for start := 0; start < n; {
		if !r.listening() {
			for k := start; k < n; k++ {
				if lb.Len[k] >= 0 {
					l.datagramsDropped.Add(1)
				}
			}
			break
		}
		next, peer, err := r.lssl.DTLSv1ListenBatch(lb, start, n)
		if next == start && err != nil {
			// Refused outright (never seen: the listening SSL is
			// the reader's own): the rest go one at a time.
			l.log.Error("dtls: DTLSv1ListenBatch failed", "err", err)
			for k := start; k < n; k++ {
				if lb.Len[k] >= 0 {
					r.listen(lb.Datagram(k)[:lb.Len[k]], lb.From[k], &b.out)
				}
			}
			break
		}
		// Every datagram but one that ended the call was answered
		// (ErrRetry, as DTLSv1ListenDatagram reports it) or dropped.
		ended := peer.IsValid() || err != nil
		for k := start; k < next; k++ {
			if lb.Len[k] < 0 {
				continue
			}
			ans, d := lb.Answer(k), lb.Datagram(k)[:lb.Len[k]]
			if ans != nil {
				if buf := b.out.next(); len(ans) > len(buf) || !b.out.commit(copy(buf, ans), lb.From[k]) {
					r.writeTo(ans, lb.From[k])
				}
			}
			if ended && k == next-1 {
				r.listened(d, lb.From[k], err, ans != nil)
			} else {
				r.listened(d, lb.From[k], openssl.ErrRetry, ans != nil)
			}
		}
		if peer.IsValid() {
			// The peer's later datagrams of this read (a retransmitted
			// ClientHello, say) are its connection's now, as they
			// would have been one datagram at a time. Its address is
			// the source of the datagram that admitted it, zone and all.
			admitted := lb.From[next-1]
			for k := next; k < n; k++ {
				if lb.Len[k] >= 0 && lb.From[k] == admitted && r.routeKnown(lb.Datagram(k)[:lb.Len[k]], admitted) {
					lb.Len[k] = -1
				}
			}
		}
		start = next
	}
	r.unlockRouteStrays(&b.out)
}

// readFailed handles a read error of the loop, and reports whether the loop
// ends: when the socket is closed.
func (r *reader) readFailed(err error, backoff *time.Duration) bool {
	l := r.ln
	if errors.Is(err, net.ErrClosed) {
		if !l.isClosing() {
			l.fail("socket closed", err) // underneath us: nothing more will arrive
		}
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	// Another error (ENOBUFS, an ICMP error reported on the socket):
	// retry, backing off so that a persistent one does not spin a core,
	// and count it.
	l.readErrors.Add(1)
	if *backoff == 0 {
		l.log.Warn("dtls: socket read failed; retrying", "err", err)
	}
	*backoff = min(max(2**backoff, time.Millisecond), time.Second)
	time.Sleep(*backoff) // shutdown closes the socket: ErrClosed ends the loop
	return false
}

// route hands a datagram that did not come through a reader's socket (a
// connection's own socket passing on what is not its own) to its peer's
// connection, or to the first reader's DTLSv1_listen.
func (l *Listener) route(d []byte, from netip.AddrPort) { l.readers[0].route(d, from, nil) }

// route hands a datagram to its peer's connection, whichever reader's
// socket it came through, or to this reader's DTLSv1_listen. Replies are
// queued on out, when the caller is the reader's loop, or sent at once.
func (r *reader) route(d []byte, from netip.AddrPort, out *replies) {
	if !r.routeKnown(d, from) {
		r.relisten(d, from, out)
	}
}

// routeKnown is route but for DTLSv1_listen: it hands a datagram to its
// peer's connection, or drops it while the Listener closes, and reports
// whether it did; if not, the datagram is for DTLSv1_listen.
func (r *reader) routeKnown(d []byte, from netip.AddrPort) bool {
	l := r.ln
	l.mu.Lock()
	c := l.conns[from]
	var succ *Conn
	if c != nil {
		succ = c.srv.successor
	}
	closing := l.closing || l.err != nil // a failed Listener admits no one: Accept would never hand them out
	l.mu.Unlock()
	switch {
	case succ != nil:
		// A reconnect shakes hands beside the connection it would
		// replace. Its epoch-0 flights are its own; an encrypted
		// datagram may be either's (the old one's data, the new one's
		// Finished), so both get it: a record that is not for a
		// connection fails to decrypt there and OpenSSL drops it.
		if epoch, ok := firstEpoch(d); ok && epoch == 0 {
			l.deliver(succ, d)
			return true
		}
		l.deliver(c, d)
		l.deliver(succ, d)
		return true
	case c != nil && !c.isReconnect(d):
		l.deliver(c, d)
		return true
	}
	// An unknown source, or a known one starting a new handshake
	// (isReconnect): a client that lost its state and reconnects from the
	// same address and port (RFC 6347, 4.2.8). Both go through the cookie
	// exchange. A reconnect's handshake then runs beside a completed
	// connection, which goes only once the new handshake completes: a
	// replayed ClientHello, cookie and all, ends nothing. An unfinished
	// handshake is replaced at once instead (admit): two would mix their
	// flights at the client.
	if closing {
		l.datagramsDropped.Add(1)
		return true
	}
	return false
}

// relisten answers a reconnect's ClientHello that a connection with its own
// socket received, through the first reader's DTLSv1_listen.
func (l *Listener) relisten(d []byte, from netip.AddrPort) { l.readers[0].relisten(d, from, nil) }

// relisten answers a datagram through DTLSv1_listen: one from an unknown
// source, or a reconnect's ClientHello (from the read loop, or from the
// reader of a connection with its own socket). Replies go as route's do.
func (r *reader) relisten(d []byte, from netip.AddrPort, out *replies) {
	r.lmu.Lock()
	if !r.listening() {
		r.lmu.Unlock()
		r.ln.datagramsDropped.Add(1)
		return
	}
	r.listen(d, from, out)
	r.unlockRouteStrays(out)
}

// unlockRouteStrays releases r.lmu and routes the strays admit collected
// meanwhile, as if the Listener's socket had read them: route takes the
// locks, so not before they are released.
func (r *reader) unlockRouteStrays(out *replies) {
	strays := r.strays
	r.strays = nil
	r.lmu.Unlock()
	for _, st := range strays {
		r.route(st.d, st.from, out)
	}
}

// stray is a datagram a connection's own socket received before it was
// connected, and its source (socket_linux.go, takeStrays).
type stray struct {
	d    []byte
	from netip.AddrPort
}

func (l *Listener) deliver(c *Conn, d []byte) {
	if len(d) > bioBuffer || !c.deliver(getBuf(d)) {
		l.datagramsDropped.Add(1)
		return
	}
	if c.direct() {
		c.kick() // its reader may be blocked on its own socket
	}
}

// listening reports whether there is a listening SSL, remaking it if a
// fatal DTLSv1_listen error or a failed remake left none: at most every
// 10ms, and the Listener fails if it stays impossible for a second.
// Called with r.lmu held.
func (r *reader) listening() bool {
	if r.lssl != nil {
		return true
	}
	if r.down {
		return false
	}
	now := time.Now()
	if now.Before(r.lsslRetry) {
		return false
	}
	ssl, bio, err := r.ln.newListeningSSL()
	if err != nil {
		if r.lsslDownSince.IsZero() {
			r.lsslDownSince = now
		} else if now.Sub(r.lsslDownSince) > time.Second {
			r.ln.fail("no listening SSL since "+r.lsslDownSince.Format(time.RFC3339), err)
		}
		r.lsslRetry = now.Add(10 * time.Millisecond)
		return false
	}
	r.lssl, r.lbio = ssl, bio
	r.lsslDownSince = time.Time{}
	return true
}

func (l *Listener) isClosing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing
}

// listen runs DTLSv1_listen on d, in one cgo call that takes d in and
// hands the answer back (DTLSv1ListenDatagram), allocating nothing. The
// answer is written into out's next buffer and queued there, when out is
// not nil. Called with r.lmu held.
func (r *reader) listen(d []byte, from netip.AddrPort, out *replies) {
	l := r.ln
	if len(d) > bioBuffer { // more than the listening BIO takes in (no ClientHello is so long)
		l.datagramsDropped.Add(1)
		return
	}
	reply := r.lreply[:]
	if out != nil {
		reply = out.next()
	}
	_, n, err := r.lssl.DTLSv1ListenDatagram(d, from, reply)
	sent := n > 0
	if sent {
		if out == nil || !out.commit(n, from) {
			r.writeTo(reply[:n], from)
		}
	} else if r.lbio.HasOutput() {
		// More than one datagram, or a longer one: never seen from
		// DTLSv1_listen, but sent as it came.
		_ = r.lbio.DrainDatagrams(func(p []byte) error {
			sent = true
			r.writeTo(p, from)
			return nil
		})
	}
	r.listened(d, from, err, sent)
}

// listened counts DTLSv1_listen's outcome for d, from `from`, and acts on
// it: a cookie that verified (err nil) admits from; ErrRetry is a
// HelloVerifyRequest sent (sent) or d dropped; anything else leaves the
// listening SSL in an unknown state, and it is replaced. Called with r.lmu
// held.
func (r *reader) listened(d []byte, from netip.AddrPort, err error, sent bool) {
	l := r.ln
	switch {
	case err == nil:
		l.cookiesVerified.Add(1)
		// from, not peer: the binding reports the peer without its IPv6
		// zone, and a link-local peer's later datagrams come with it.
		l.admit(r, from, d)
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
		l.log.Error("dtls: DTLSv1_listen failed", "peer", from, "err", err)
		l.datagramsDropped.Add(1)
		r.lssl.Close()
		r.lssl, r.lbio = nil, nil
		r.listening()
	}
}
