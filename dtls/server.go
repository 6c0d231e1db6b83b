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
// out. Only datagrams without application data are processed here; the
// first one carrying data ends lingering and waits in the read BIO, where
// the first SSL_read finds it (nothing else feeds the BIO before Read).
func (c *Conn) linger(limit time.Duration, stop <-chan struct{}) {
	s := c.srv
	defer close(s.lingerDone)
	t := time.NewTimer(limit)
	defer t.Stop()
	var scratch [64]byte
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
			if hasApplicationData(*bp) {
				c.push(bp)
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
	s := c.srv
	if s == nil {
		return
	}
	s.takeoverOnce.Do(func() {
		close(s.takeover)
		<-s.lingerDone
	})
}
