package dtls

import "sync"

// Datagrams reach a Conn through its queue: the socket's reader (the
// Listener's loop, or a client's readLoop) copies each one into a pooled
// buffer and queues it; the goroutine driving OpenSSL (a handshake, a
// Read, a lingering server) hands it to the packet BIO.
//
// Anyone who knows a peer's address can send datagrams that land in its
// queue, so the queue is bounded in bytes as well as in datagrams, and a
// datagram that does not fit is dropped (UDP semantics: a peer that means
// it retransmits). Each connection may always hold queueMin bytes; beyond
// that it draws on its Listener's shared budget, up to queueMax. The memory
// an off-path sender can pin is then at most queueShared plus queueMin per
// connection, whatever the application does, and a flood aimed at some
// peers cannot starve the others' first queueMin.

const (
	// bioBuffer is the largest datagram a connection takes in: a full DTLS
	// record (16 KiB of data plus expansion) with room to spare.
	bioBuffer = 32 << 10
	// inQueue is how many routed datagrams wait for a connection's reader
	// before further ones are dropped (UDP semantics: the peer retransmits).
	inQueue = 1024
	// smallBuf is the size of pooled datagram buffers.
	smallBuf = 2048
	// queueMin is what a connection may always queue: 32 pooled buffers.
	queueMin = 64 << 10
	// queueMax is what one connection may queue at most: inQueue pooled
	// buffers, deep enough for a reader to keep up with a sender at
	// loopback speed (nettest's BasicIO).
	queueMax = inQueue * smallBuf
	// queueShared is a Listener's budget for its connections' queues
	// beyond queueMin each.
	queueShared = 64 << 20
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

// deliver queues a datagram for the connection, or drops it (and returns
// false) when the queue is full in datagrams or in bytes.
func (c *Conn) deliver(bp *[]byte) bool {
	size := int64(cap(*bp))
	if c.account(size) {
		select {
		case c.in <- bp:
			// A Close that ran since the caller found c has drained
			// already: drain what came after, or it would stay counted.
			select {
			case <-c.closed:
				c.drain()
			default:
			}
			return true
		default:
		}
	}
	c.account(-size)
	putBuf(bp)
	return false
}

// account adds delta bytes to the connection's queue, and the part above
// queueMin to its Listener's shared budget. It reports whether both stay
// within bounds. Every change of c.queued is accounted, so the shared
// budget telescopes to the sum of what each queue holds above queueMin,
// whichever goroutines interleave.
func (c *Conn) account(delta int64) bool {
	after := c.queued.Add(delta)
	ok := after <= queueMax
	if c.srv != nil {
		l := c.srv.ln
		l.queued.Add(delta)
		if shared := aboveMin(after) - aboveMin(after-delta); shared != 0 {
			if l.queuedShared.Add(shared) > queueShared && shared > 0 {
				ok = false
			}
		}
	}
	return ok
}

func aboveMin(n int64) int64 { return max(0, n-queueMin) }

// push hands a queued datagram to OpenSSL's read BIO.
func (c *Conn) push(bp *[]byte) {
	d := *bp
	if c.srv == nil && !c.hsDone.Load() && isHelloVerifyRequest(d) {
		c.cookieExchanged.Store(true)
	}
	c.mu.Lock()
	if c.minRecord > 0 && hasShortRecord(d, c.minRecord) {
		c.mu.Unlock()
		c.account(-int64(cap(*bp)))
		putBuf(bp)
		if c.srv != nil {
			c.srv.ln.datagramsDropped.Add(1)
		}
		return
	}
	c.notePSKFlight(d)
	if c.bio != nil {
		if c.bio.DatagramPending() {
			c.bio.DropDatagram() // OpenSSL did not want it; the newer one wins
		}
		_ = c.bio.PushDatagram(d, c.rap)
	}
	c.mu.Unlock()
	c.account(-int64(cap(*bp)))
	putBuf(bp)
}

// drain empties the queue of a closed connection.
func (c *Conn) drain() {
	for {
		select {
		case bp := <-c.in:
			c.account(-int64(cap(*bp)))
			putBuf(bp)
		default:
			return
		}
	}
}
