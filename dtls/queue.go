package dtls

import "sync"

// Datagrams reach a Conn through its queue: the socket's reader (the
// Listener's loop, or a client's readLoop) copies each one into a pooled
// buffer and queues it; the goroutine driving OpenSSL (a handshake, a
// Read, a lingering server) hands it to the packet BIO.

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

// push hands a queued datagram to OpenSSL's read BIO.
func (c *Conn) push(bp *[]byte) {
	d := *bp
	if c.srv == nil && !c.hsDone.Load() && isHelloVerifyRequest(d) {
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

// drain empties the queue of a closed connection.
func (c *Conn) drain() {
	for {
		select {
		case bp := <-c.in:
			putBuf(bp)
		default:
			return
		}
	}
}
