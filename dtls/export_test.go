package dtls

import "net/netip"

// ClientCtxCount is the number of client Ctxs cached for live Configs.
func ClientCtxCount() int {
	n := 0
	clientCtxs.Range(func(any, any) bool { n++; return true })
	return n
}

// OwnSocket reports whether c reads a socket of its own (own.go).
func OwnSocket(c *Conn) bool { return c.direct() }

// FlightsBatched is how many times c sent more than one datagram in one
// sendmmsg (flight_linux.go).
func FlightsBatched(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flightsBatched
}

// VerifyCacheHits is how many verifications c's Ctx answered from its
// cache (verifycache.go) so far.
func VerifyCacheHits(c *Conn) int {
	c.verified.mu.Lock()
	defer c.verified.mu.Unlock()
	return c.verified.hits
}

// ReaderDatagrams returns how many datagrams each socket of l has read, in
// the order Listen opened them (Config.Readers).
func ReaderDatagrams(l *Listener) []uint64 {
	n := make([]uint64, len(l.readers))
	for i, r := range l.readers {
		n[i] = r.datagrams.Load()
	}
	return n
}

// AwaitShutdown waits until l has closed its sockets and freed its
// listening SSLs and SSL_CTX: after Close, once its last connection has
// closed.
func AwaitShutdown(l *Listener) {
	for _, r := range l.readers {
		<-r.done
	}
	l.downOnce.Do(func() {}) // returns once a shutdown in progress has finished
}

// FeedReader hands d, from from, to l's i-th reader as if its socket had
// read it: a test's way to make a peer's datagram arrive on a socket of
// its choosing, where the kernel's choice depends on a hash it keeps.
func FeedReader(l *Listener, i int, d []byte, from netip.AddrPort) {
	r := l.readers[i]
	r.datagrams.Add(1)
	r.route(d, from, nil)
}

// ListeningSSLs returns how many listening SSLs l's readers hold (one each
// until shutdown frees them).
func ListeningSSLs(l *Listener) int {
	n := 0
	for _, r := range l.readers {
		r.lmu.Lock()
		if r.lssl != nil {
			n++
		}
		r.lmu.Unlock()
	}
	return n
}

// HoldsBuffers reports whether c kept its record buffers through a wait
// and no sweep has freed them since (own.go's holdBuffers).
func HoldsBuffers(c *Conn) bool { return c.held.Load() }

// Lingering reports whether c is on the sweep's list (own.go).
func Lingering(c *Conn) bool {
	lingering.mu.Lock()
	defer lingering.mu.Unlock()
	for _, l := range lingering.conns {
		if l == c {
			return true
		}
	}
	return false
}

// BufferLinger is own.go's bufferLinger.
const BufferLinger = bufferLinger

// LingerDone is closed once c has stopped lingering (server.go's linger);
// nil for a connection that never lingers.
func LingerDone(c *Conn) <-chan struct{} { return c.lingerDone }
