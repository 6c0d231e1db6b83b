//go:build cgo

package openssl

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// StreamConn runs an SSL over a stream net.Conn (TCP) through two memory
// BIOs: bytes read from the Conn are written into the read BIO, and what
// OpenSSL writes is sent to the Conn as soon as the operation that made it
// returns. It is the TLS side of this package, and how a Go server uses
// Stateless over TCP.
//
// A StreamConn is a net.Conn: safe for one reader and one writer at once.
// A Write waiting for room in the socket does not hold up a Read, so both
// ends can send more than the sockets hold while they read (as with
// crypto/tls), and a Write of any size keeps about one record of
// ciphertext in memory, not all of it.
// TLS 1.2 renegotiation is refused on both sides (OpNoRenegotiation on
// the SSL), as crypto/tls refuses it by default: a renegotiation that
// runs while a Write encrypts would make that Write wait for the peer's
// handshake messages, which only a Read takes in. A peer that asks for one
// gets a no_renegotiation alert (OpenSSL's peers then end the connection).
// Methods of a nil *StreamConn, or of one neither NewServerConn nor
// NewClientConn made, return an error for which
// errors.Is(err, ErrInvalidObject) holds, or their zero value.
type StreamConn struct {
	conn   net.Conn
	server bool

	// Locks are taken in the order below, and outMu never with mu held:
	// a send that waits for room in the socket holds outMu alone, so that
	// a Read can still feed OpenSSL what the peer sends meanwhile.
	hsMu     sync.Mutex // one handshake loop at a time, fill included
	writeMu  sync.Mutex // one Write at a time, whole: no other Write's records among its own
	outMu    sync.Mutex // the net.Conn's write side, and out
	out      []byte
	in       []byte     // the reader's: Read's fills (one reader at a time)
	unread   []byte     // statelessExchange's bytes read and not yet given to OpenSSL, under hsMu
	scan     helloScan  // its place in unread, under hsMu
	cookieOK bool       // statelessExchange saw a cookie verify, under hsMu
	mu       sync.Mutex // guards ssl, rbio, wbio and the fields below
	ssl      *SSL
	rbio     *BIO
	wbio     *BIO
	// sending is set while a send runs, or is about to (a Write's, from
	// its SSL_write on): it will take whatever is in the write BIO before
	// it stops, so a Read that made bytes (an alert, a KeyUpdate's answer)
	// leaves them to it instead of waiting on outMu behind a send stuck on
	// a full socket, and a Read sends only when no send will.
	sending bool
	// outErr is the first failed write to the net.Conn (set with outMu
	// held too). The bytes it lost were taken from OpenSSL, so the peer
	// can decrypt nothing after them: every later Write returns it, as
	// crypto/tls's does after a timeout, and what OpenSSL writes from then
	// on is discarded, so that Reads go on.
	outErr error
	// framing follows the records read from the net.Conn, and eof is an
	// end of file that came with the last bytes read: fill returns it
	// next time, after OpenSSL has had the bytes.
	framing recordFraming
	eof     bool
	hsDone  bool
	hsErr   error
	closed  bool
	// fatal is the first fatal error of a Read or a Write (an alert from
	// the peer, a protocol error), returned by every later Read and Write,
	// as crypto/tls does.
	fatal error

	hrrSent bool

	// writers counts the Writes under way: a Close that meets one closes
	// the net.Conn at once (see Close).
	writers atomic.Int32
}

const streamBuf = 16 << 10

// writeChunk is how much of a Write becomes records before they are sent:
// one TLS record's worth of plaintext. outBuf holds one record of
// ciphertext (the plaintext, a 5-byte header and at most 256 bytes of
// expansion), so a chunk leaves in one write to the net.Conn.
const (
	writeChunk = streamBuf
	outBuf     = streamBuf + 512
)

// NewServerConn makes a server-side StreamConn on conn. The SSL's peer
// address is conn.RemoteAddr(), so cookie callbacks and CookieSigner bind
// TLS 1.3 cookies to it.
func NewServerConn(conn net.Conn, ctx *Ctx) (*StreamConn, error) {
	return newStreamConn(conn, ctx, true)
}

// NewClientConn makes a client-side StreamConn on conn. Set the server name
// with SSL().SetServerName before the handshake.
func NewClientConn(conn net.Conn, ctx *Ctx) (*StreamConn, error) {
	return newStreamConn(conn, ctx, false)
}

func newStreamConn(conn net.Conn, ctx *Ctx, server bool) (*StreamConn, error) {
	if conn == nil {
		return nil, errors.New("openssl: nil net.Conn")
	}
	s, err := NewSSL(ctx)
	if err != nil {
		return nil, err
	}
	rb, err := NewMemBIO()
	if err != nil {
		s.Close()
		return nil, err
	}
	wb, err := NewMemBIO()
	if err != nil {
		rb.Close()
		s.Close()
		return nil, err
	}
	if err := s.SetBIO(rb, wb); err != nil {
		rb.Close()
		wb.Close()
		s.Close()
		return nil, err
	}
	s.SetPeerAddr(conn.RemoteAddr())
	s.SetOptions(OpNoRenegotiation)
	if server {
		s.SetAcceptState()
	} else {
		s.SetConnectState()
	}
	return &StreamConn{
		conn: conn, server: server, ssl: s, rbio: rb, wbio: wb,
		out: make([]byte, outBuf), in: make([]byte, streamBuf),
	}, nil
}

// SSL returns the underlying SSL, for settings and inspection. Do not call
// its I/O methods while the StreamConn is in use (they would return
// ErrConcurrentUse, or take bytes the StreamConn expects).
func (c *StreamConn) SSL() *SSL {
	if c.check() != nil {
		return nil
	}
	return c.ssl
}

// check says why c cannot be used at all: nil, or not made by
// NewServerConn or NewClientConn. c.conn and c.ssl are set there, never
// changed.
func (c *StreamConn) check() error {
	switch {
	case c == nil:
		return errNilStreamConn
	case c.conn == nil || c.ssl == nil:
		return errZeroStreamConn
	}
	return nil
}

// HelloRetryRequestSent reports whether StatelessHandshake sent a
// HelloRetryRequest (a cookie exchange took place).
func (c *StreamConn) HelloRetryRequestSent() bool {
	if c.check() != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hrrSent
}

// send writes everything OpenSSL has produced to the net.Conn, in the
// order it was produced. It takes c.mu only to take bytes from the write
// BIO, not while it waits for the net.Conn.
func (c *StreamConn) send() error {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	for {
		var n int
		var err error
		if cerr := c.locked(func() {
			switch {
			case c.outErr != nil:
				err = c.outErr
				c.discardOut()
			case c.wbio.Pending() > 0:
				n, err = c.wbio.Read(c.out)
			}
			c.sending = err == nil && n > 0
		}); cerr != nil {
			return cerr
		}
		if err != nil || n == 0 {
			return err
		}
		if _, werr := c.conn.Write(c.out[:n]); werr != nil {
			_ = c.locked(func() {
				c.outErr = werr
				c.discardOut()
				c.sending = false
			})
			return werr
		}
	}
}

// discardOut empties the write BIO once outErr is set: nothing in it can
// reach the peer in a form it could decrypt. Called with outMu and c.mu
// held.
func (c *StreamConn) discardOut() {
	for c.wbio.Pending() > 0 {
		if _, err := c.wbio.Read(c.out); err != nil {
			return
		}
	}
}

// flushLocked is send for Close, which holds outMu and c.mu.
func (c *StreamConn) flushLocked() error {
	if c.outErr != nil {
		return c.outErr
	}
	for c.wbio.Pending() > 0 {
		n, err := c.wbio.Read(c.out)
		if err != nil {
			return err
		}
		if _, err := c.conn.Write(c.out[:n]); err != nil {
			return err
		}
	}
	return nil
}

// fill reads once from the net.Conn into the read BIO. It runs without
// c.mu so that a blocked read never stalls a writer.
func (c *StreamConn) fill(buf []byte) error {
	n, err := c.readConn(buf)
	if err != nil {
		return err
	}
	return c.feed(buf[:n])
}

// readConn reads once from the net.Conn. Bytes that come with an error are
// returned and the error dropped: OpenSSL gets the bytes first, and the
// next read returns the error again (an end of file, which a net.Conn
// need not repeat, is remembered for it).
func (c *StreamConn) readConn(buf []byte) (int, error) {
	var eof bool
	if cerr := c.locked(func() { eof = c.eof }); cerr != nil {
		return 0, cerr
	}
	if eof {
		return 0, io.EOF
	}
	n, err := c.conn.Read(buf)
	if n == 0 {
		return 0, err
	}
	if err == io.EOF {
		if cerr := c.locked(func() { c.eof = true }); cerr != nil {
			return 0, cerr
		}
	}
	return n, nil
}

// feed hands bytes read from the net.Conn to OpenSSL's read BIO.
func (c *StreamConn) feed(p []byte) error {
	var werr error
	if cerr := c.locked(func() {
		if _, werr = c.rbio.Write(p); werr == nil {
			c.framing.feed(p)
		}
	}); cerr != nil {
		return cerr
	}
	return werr
}

// truncated turns the net.Conn's end of file into io.ErrUnexpectedEOF when
// it cuts a record short. At a record boundary it stays io.EOF, as
// crypto/tls has it (servers that skip close_notify are common).
func (c *StreamConn) truncated(err error) error {
	if err != io.EOF {
		return err
	}
	var inside bool
	if cerr := c.locked(func() { inside = c.framing.inside() }); cerr != nil {
		return cerr
	}
	if inside {
		return io.ErrUnexpectedEOF
	}
	return io.EOF
}

// recordFraming follows the TLS record framing of a byte stream, to tell
// an end of file between records from one inside a record whatever
// OpenSSL has consumed (after a record's header alone it holds nothing
// SSL_has_pending would report).
type recordFraming struct {
	hdr  [5]byte
	have int  // bytes of the current record's header seen
	left int  // bytes of its body still to come
	v2   bool // past the first record's second byte: no SSLv2 header any more
}

// feed takes the next bytes of the stream. The first record may be a
// ClientHello in SSLv2's format (a 2-byte header whose first byte has its
// top bit set), which OpenSSL's server still accepts.
func (f *recordFraming) feed(p []byte) {
	for len(p) > 0 {
		if f.left > 0 {
			k := min(f.left, len(p))
			f.left -= k
			p = p[k:]
			continue
		}
		f.hdr[f.have] = p[0]
		f.have++
		p = p[1:]
		switch {
		case f.have == 2 && !f.v2:
			f.v2 = true
			if f.hdr[0]&0x80 != 0 {
				f.left = int(f.hdr[0]&0x7f)<<8 | int(f.hdr[1])
				f.have = 0
			}
		case f.have == len(f.hdr):
			f.left = int(f.hdr[3])<<8 | int(f.hdr[4])
			f.have = 0
		}
	}
}

// inside reports whether the bytes so far end inside a record.
func (f *recordFraming) inside() bool { return f.have > 0 || f.left > 0 }

// statelessRetries bounds how many times StatelessHandshake retries
// SSL_stateless after a -1 that consumed input without a verdict.
const statelessRetries = 4

// maxHelloRetryRequests is how many HelloRetryRequests StatelessHandshake
// sends before it gives up on the client.
const maxHelloRetryRequests = 2

// StatelessHandshake runs the server's stateless cookie exchange with
// Stateless (SSL_stateless(3)) and then completes the handshake. A
// ClientHello without a valid cookie is answered with a HelloRetryRequest;
// the client's second ClientHello must carry the cookie.
//
// A TLS 1.3 client in middlebox-compatibility mode (the default of
// `openssl s_client`) sends a ChangeCipherSpec before its second
// ClientHello. OpenSSL 3.0's SSL_stateless consumes it and returns -1 with
// SSL_ERROR_SYSCALL and an empty error queue; the next call reads the
// ClientHello and succeeds. `openssl s_server -stateless` gives up there;
// StatelessHandshake retries when the call consumed input.
//
// Each call of SSL_stateless is given one whole message (a ClientHello
// that arrives over several reads is gathered first), since the call
// drops what an earlier one took of an unfinished message. After two
// HelloRetryRequests it gives up with an error: a client aborts at the
// second (RFC 8446, 4.1.4). Once the handshake has completed, or failed,
// StatelessHandshake returns what Handshake returns.
func (c *StreamConn) StatelessHandshake() error {
	if err := c.check(); err != nil {
		return err
	}
	if !c.server {
		return errors.New("openssl: StatelessHandshake on a client connection")
	}
	if err := c.statelessExchange(); err != nil {
		return err
	}
	return c.Handshake()
}

// statelessExchange runs SSL_stateless until a cookie verifies.
//
// SSL_stateless starts with SSL_clear, which drops whatever an earlier call
// took into OpenSSL's buffers without finishing its message: a ClientHello
// split over two reads (one longer than a TCP segment, as with a
// post-quantum key share) would be lost, and so would bytes OpenSSL read
// ahead of the message (a Ctx with read_ahead set). So the exchange keeps
// what it reads in c.unread and gives the read BIO one unit at a time: the
// records of one whole ClientHello, or one ChangeCipherSpec (helloScan).
func (c *StreamConn) statelessExchange() error {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	// Once a cookie has verified, or the handshake has run, there is
	// nothing to exchange, and SSL_stateless's SSL_clear would wipe the
	// connection.
	var done bool
	if cerr := c.locked(func() { done = c.hsDone || c.hsErr != nil }); cerr != nil {
		return cerr
	}
	if done || c.cookieOK {
		return nil
	}
	buf := make([]byte, streamBuf)
	retries, hrrs := 0, 0
	for {
		k := c.scan.next(c.unread)
		if k == 0 {
			n, err := c.readConn(buf)
			c.unread = append(c.unread, buf[:n]...)
			if err == io.EOF && len(c.unread) > 0 {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return fmt.Errorf("openssl: stateless handshake: %w", c.truncated(err))
			}
			continue
		}
		unit := c.unread[:k]
		c.unread, c.scan = c.unread[k:], helloScan{}
		if err := c.feed(unit); err != nil {
			return err
		}
		var before, after int
		var err error
		if cerr := c.locked(func() {
			before = c.rbio.Pending()
			err = c.ssl.Stateless()
			after = c.rbio.Pending()
			if errors.Is(err, ErrHelloRetryRequest) {
				c.hrrSent = true
			}
		}); cerr != nil {
			return cerr
		}
		var oe *Error
		again := errors.Is(err, ErrHelloRetryRequest) || errors.Is(err, ErrWantRead)
		// OpenSSL 3.0 answers a ChangeCipherSpec (a TLS 1.3 client's, in
		// middlebox-compatibility mode) with SSL_ERROR_SYSCALL and nothing
		// queued, having consumed it; the next unit succeeds.
		quirk := !again && errors.As(err, &oe) && oe.Code == CodeSyscall && len(oe.Queue) == 0 &&
			after < before && retries < statelessRetries
		if ferr := c.send(); ferr != nil {
			if err != nil && !again && !quirk {
				return err // what made the alert that could not be sent
			}
			return ferr
		}
		switch {
		case err == nil:
			// The handshake goes on from the read BIO: give it the rest.
			rest := c.unread
			c.unread, c.cookieOK = nil, true
			return c.feed(rest)
		case errors.Is(err, ErrHelloRetryRequest):
			// A client that gets a second HelloRetryRequest aborts (RFC
			// 8446, 4.1.4): one that goes on only spends the server's CPU.
			if hrrs++; hrrs == maxHelloRetryRequests {
				return fmt.Errorf("openssl: stateless handshake: no valid cookie after %d HelloRetryRequests", hrrs)
			}
		case again:
		case quirk:
			retries++
		default:
			return err
		}
	}
}

// helloBufferMax bounds the bytes statelessExchange keeps unread (plus
// one read): past it, OpenSSL is given them as they are. No real
// ClientHello is that long; OpenSSL refuses the bytes, or takes them and
// asks for more, and the next call drops what it took.
const helloBufferMax = 256 << 10

// Limits of OpenSSL's: the longest ClientHello its server accepts
// (CLIENT_HELLO_MAX_LENGTH), the longest record it reads past the header
// without compression (SSL3_RT_MAX_ENCRYPTED_LENGTH less the 1024 bytes
// of compression's allowance; no ClientHello record comes near it), and
// the shortest SSLv2-format record (MIN_SSL2_RECORD_LEN).
const (
	clientHelloMax = 131396
	recordMax      = 16384 + 320
	ssl2RecordMin  = 9
)

// helloScan finds the units statelessExchange gives SSL_stateless. It
// keeps its place between reads, so that a ClientHello sent in many small
// records and segments is parsed once, not once per segment.
type helloScan struct {
	off int     // bytes of whole records scanned
	got int     // bytes of the handshake message seen, its header included
	hdr [4]byte // the message's header, as far as seen
}

// next returns how many bytes at the start of b, a TLS byte stream from a
// client, to give SSL_stateless in one call, or 0 to read more first. b
// grows between calls; once a unit is taken from its front, the scan
// starts again from zero. A unit is one ChangeCipherSpec record (a TLS 1.3
// client in middlebox-compatibility mode sends one before its second
// ClientHello), or the records of one whole ClientHello. What OpenSSL
// refuses as soon as it has read a header is given to it at once, all of
// b: a record of another type or version or longer than OpenSSL reads, a
// ChangeCipherSpec of another length or inside a message, a handshake
// message other than a ClientHello or longer than OpenSSL allows, an
// SSLv2-format record other than a ClientHello; and more than
// helloBufferMax bytes.
func (s *helloScan) next(b []byte) int {
	if len(b) > helloBufferMax {
		return len(b)
	}
	if s.off == 0 && len(b) > 0 && b[0]&0x80 != 0 { // SSLv2's format: a 2-byte header
		if len(b) < 5 { // OpenSSL reads five bytes before it decides
			return 0
		}
		n := 2 + (int(b[0]&0x7f)<<8 | int(b[1]))
		switch {
		case b[2] != handshakeClientHello || n < 2+ssl2RecordMin || n > 2+recordMax:
			return len(b)
		case len(b) >= n:
			return n
		}
		return 0
	}
	for {
		r := b[s.off:]
		if len(r) < 5 {
			return 0
		}
		typ, n := r[0], int(r[3])<<8|int(r[4])
		if r[1] != 3 || n > recordMax || typ != recordChangeCipherSpec && typ != recordHandshake ||
			typ == recordChangeCipherSpec && (n != 1 || s.got > 0) {
			return len(b)
		}
		if len(r) < 5+n {
			return 0
		}
		s.off += 5 + n
		if typ == recordChangeCipherSpec {
			return s.off
		}
		if s.got < len(s.hdr) {
			copy(s.hdr[s.got:], r[5:5+n])
		}
		s.got += n
		if s.got >= len(s.hdr) {
			length := int(s.hdr[1])<<16 | int(s.hdr[2])<<8 | int(s.hdr[3])
			if s.hdr[0] != handshakeClientHello || length > clientHelloMax {
				return len(b)
			}
			if s.got >= len(s.hdr)+length {
				return s.off
			}
		}
	}
}

// TLS record content types (RFC 8446, 5.1) and the ClientHello's
// handshake type.
const (
	recordChangeCipherSpec = 20
	recordHandshake        = 22
	handshakeClientHello   = 1
)

// Handshake runs the handshake (SSL_do_handshake(3)) to completion if it has
// not run yet. Read and Write call it.
func (c *StreamConn) Handshake() error {
	if err := c.check(); err != nil {
		return err
	}
	// A Read and a Write that both start before the handshake must not run
	// two loops, each reading the net.Conn: one runs it, the other waits.
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	c.mu.Lock()
	if c.hsDone || c.hsErr != nil {
		err := c.hsErr
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()
	buf := make([]byte, streamBuf)
	for {
		var err error
		if cerr := c.locked(func() {
			err = c.ssl.Handshake()
			if err == nil {
				c.hsDone = true
			} else if !errors.Is(err, ErrWantRead) {
				c.hsErr = err
			}
		}); cerr != nil {
			return cerr
		}
		if ferr := c.send(); ferr != nil {
			if err != nil && !errors.Is(err, ErrWantRead) {
				return err // what made the alert that could not be sent
			}
			return ferr
		}
		if err == nil || !errors.Is(err, ErrWantRead) {
			return err
		}
		if err := c.fill(buf); err != nil {
			return fmt.Errorf("openssl: handshake: %w", c.truncated(err))
		}
	}
}

// Read reads decrypted application data; io.EOF after the peer's
// close_notify.
func (c *StreamConn) Read(p []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	for {
		var n int
		var err, ferr error
		var reply bool
		if cerr := c.locked(func() {
			if c.fatal != nil {
				err = c.fatal
				return
			}
			n, err = c.ssl.Read(p)
			reply = !c.sending && c.wbio.Pending() > 0
			if err != nil && err != io.EOF && !errors.Is(err, ErrWantRead) {
				c.fatal = err
			}
		}); cerr != nil {
			return 0, cerr
		}
		if reply {
			ferr = c.send()
		}
		if n > 0 || (err != nil && !errors.Is(err, ErrWantRead)) {
			return n, err
		}
		if ferr != nil {
			return 0, ferr
		}
		if len(p) == 0 {
			return 0, nil
		}
		if err := c.fill(c.in); err != nil {
			return 0, c.truncated(err)
		}
	}
}

// Write encrypts p and sends it, a record at a time. The count it returns
// is of the bytes whose records reached the net.Conn. Once a write to the
// net.Conn has failed (a write deadline, a broken connection), part of a
// record may be lost, and every later Write returns that error.
func (c *StreamConn) Write(p []byte) (int, error) {
	if err := c.Handshake(); err != nil { // nil and zero StreamConns too
		return 0, err
	}
	c.writers.Add(1)
	defer c.writers.Add(-1)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	written := 0
	for {
		chunk := p[written:min(len(p), written+writeChunk)]
		var n int
		var err error
		if cerr := c.locked(func() {
			switch {
			case c.fatal != nil:
				err = c.fatal
			case c.outErr != nil:
				err = c.outErr
			default:
				n, err = c.ssl.Write(chunk)
				c.sending = true // the send below takes the record
				if err != nil && err != io.EOF && !errors.Is(err, ErrWantRead) && !errors.Is(err, ErrWantWrite) {
					c.fatal = err
				}
			}
		}); cerr != nil {
			return written, cerr
		}
		// Sent whether or not the write failed: OpenSSL may have queued an
		// alert.
		if ferr := c.send(); err == nil {
			err = ferr
		}
		if err != nil {
			return written, err
		}
		written += n
		if written == len(p) {
			return written, nil
		}
	}
}

// ExportKeyingMaterial returns length bytes of keying material derived
// from the connection's secrets (RFC 5705, RFC 8446 7.5), as crypto/tls's
// ConnectionState.ExportKeyingMaterial does: see SSL.ExportKeyingMaterial.
// It fails before the handshake has completed and after Close.
func (c *StreamConn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	var out []byte
	var err error
	if lerr := c.locked(func() { out, err = c.ssl.ExportKeyingMaterial(label, context, length) }); lerr != nil {
		return nil, lerr
	}
	return out, err
}

// locked runs f with c.mu held and the connection open. The unlock is
// deferred: a panic raised again from a callback (see SSL.Stateless) must
// not leave the mutex held, or Close would block forever.
func (c *StreamConn) locked(f func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	f()
	return nil
}

// Close sends close_notify (SSL_shutdown(3)) if the handshake completed,
// closes the net.Conn and frees the SSL. Close of a nil *StreamConn returns
// an error, as (*os.File)(nil).Close does. A Close that meets a Write on
// its way out (its records being sent, perhaps waiting for room in a full
// socket) closes the net.Conn at once, without close_notify, as crypto/tls
// does: the Write returns an error for which errors.Is(err, net.ErrClosed)
// holds, and its count leaves out the record it was sending. A send of a
// Read's (an alert, a KeyUpdate's answer) does not count as a Write: Close
// waits up to a second for it, and sends close_notify after it.
func (c *StreamConn) Close() error {
	if err := c.check(); err != nil {
		return err
	}
	var err error
	connClosed := false
	if c.writers.Load() > 0 {
		// A Write's send may wait for room in the socket for as long as
		// the peer does not read: closing the net.Conn ends it now. A
		// close_notify could only go after it anyway.
		err = c.conn.Close()
		connClosed = true
	} else {
		// A send of a Read's reply, a handshake's or another Close's
		// close_notify may hold outMu, as briefly as the socket allows:
		// bound the wait, and the close_notify below with it.
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	// c.sending with outMu free is a Write between its SSL_write and its
	// send: its record is not sent here either, so the Write's count
	// stays what reached the net.Conn.
	if c.hsDone && !connClosed && !c.sending {
		_, _ = c.ssl.Shutdown()
		_ = c.flushLocked()
	}
	if !connClosed {
		err = c.conn.Close()
	}
	c.ssl.Close()
	return err
}

// LocalAddr returns the net.Conn's local address.
func (c *StreamConn) LocalAddr() net.Addr {
	if c.check() != nil {
		return nil
	}
	return c.conn.LocalAddr()
}

// RemoteAddr returns the net.Conn's remote address.
func (c *StreamConn) RemoteAddr() net.Addr {
	if c.check() != nil {
		return nil
	}
	return c.conn.RemoteAddr()
}

// SetDeadline sets the net.Conn's deadlines.
func (c *StreamConn) SetDeadline(t time.Time) error {
	if err := c.check(); err != nil {
		return err
	}
	return c.conn.SetDeadline(t)
}

// SetReadDeadline sets the net.Conn's read deadline.
func (c *StreamConn) SetReadDeadline(t time.Time) error {
	if err := c.check(); err != nil {
		return err
	}
	return c.conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the net.Conn's write deadline. A Write that
// times out leaves the TLS stream short of what OpenSSL made: every later
// Write returns the same error (as with crypto/tls).
func (c *StreamConn) SetWriteDeadline(t time.Time) error {
	if err := c.check(); err != nil {
		return err
	}
	return c.conn.SetWriteDeadline(t)
}
