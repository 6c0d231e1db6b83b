package dtls

import (
	"net/netip"
	"sync"
	"time"
)

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

	// takeover ends linger; lingerDone is closed when it has ended.
	takeover     chan struct{}
	takeoverOnce sync.Once
	lingerDone   chan struct{}
}

func newServerConn(ln *Listener, hostAddr netip.Addr, host *hostCount) *serverConn {
	return &serverConn{ln: ln, hostAddr: hostAddr, host: host, takeover: make(chan struct{}), lingerDone: make(chan struct{})}
}

// linger answers the peer's handshake retransmissions between the end of
// the server's handshake and the application's first Read or Write. The
// server's last flight (ChangeCipherSpec, Finished) has no timer: if it is
// lost, the client retransmits its own and only an SSL_read on the server
// answers. Without this, a connection waiting in the accept queue (or one
// the application only writes to) would leave the client's Dial to time
// out. Each datagram is processed with SSL_peek: handshake retransmissions
// are answered, records that fail to authenticate (anyone can send some
// from the peer's address) are dropped by OpenSSL, and the first real data
// ends lingering and stays in the SSL for the first Read.
func (c *Conn) linger(limit time.Duration, stop <-chan struct{}) {
	s := c.srv
	defer close(s.lingerDone)
	t := time.NewTimer(limit)
	defer t.Stop()
	var scratch [1]byte
	for {
		select {
		case <-s.takeover:
			return
		case <-stop:
			return
		case <-c.closed:
			return
		case <-t.C:
			return
		case bp := <-c.in:
			c.push(bp)
			c.mu.Lock()
			data := false
			if c.ssl != nil {
				n, _ := c.ssl.Peek(scratch[:])
				data = n > 0
				_ = c.flushLocked()
			}
			c.mu.Unlock()
			if data {
				return
			}
		}
	}
}

// takeOver ends linger before the application's first Read or Write.
func (c *Conn) takeOver() {
	s := c.srv
	if s == nil {
		return
	}
	s.takeoverOnce.Do(func() {
		close(s.takeover)
		<-s.lingerDone
	})
}
