package openssl_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// StreamConn.StatelessHandshake end to end with crypto/tls as the client,
// data both ways, close_notify seen as io.EOF.
func TestStreamConnStatelessWithGoClient(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	cc, sc := tcpPair(t)
	client := goTLSClient(cc, p, tls.VersionTLS13)
	go func() {
		if _, err := client.Write([]byte("hello server")); err != nil {
			return
		}
		buf := make([]byte, 64)
		n, _ := client.Read(buf)
		_, _ = client.Write(append([]byte("echo:"), buf[:n]...))
		_ = client.Close()
	}()
	srv, err := openssl.NewServerConn(sc, ctx)
	require.NoError(t, err)
	defer srv.Close()
	require.NoError(t, srv.StatelessHandshake())
	assert.True(t, srv.HelloRetryRequestSent())
	// Again: nothing to do (SSL_stateless would wipe the connection, and
	// would read the client's data as a ClientHello).
	require.NoError(t, srv.StatelessHandshake())
	buf := make([]byte, 64)
	n, err := srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello server", string(buf[:n]))
	_, err = srv.Write([]byte("hello client"))
	require.NoError(t, err)
	n, err = srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "echo:hello client", string(buf[:n]))
	_, err = srv.Read(buf)
	assert.ErrorIs(t, err, io.EOF, "close_notify reads as io.EOF")
}

// A Read and a Write that both start before the handshake: one runs the
// handshake, the other waits for it, and both complete.
func TestStreamConnConcurrentFirstReadAndWrite(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, nil)
	for i := 0; i < 20; i++ {
		cc, sc := tcpPair(t)
		go func() {
			tc := goTLSClient(cc, p, tls.VersionTLS13)
			buf := make([]byte, 16)
			n, err := tc.Read(buf)
			if err == nil {
				_, _ = tc.Write(buf[:n])
			}
		}()
		srv, err := openssl.NewServerConn(sc, ctx)
		require.NoError(t, err)
		readDone := make(chan string, 1)
		go func() {
			buf := make([]byte, 16)
			n, _ := srv.Read(buf)
			readDone <- string(buf[:n])
		}()
		_, err = srv.Write([]byte("ping"))
		require.NoError(t, err)
		select {
		case got := <-readDone:
			assert.Equal(t, "ping", got)
		case <-time.After(5 * time.Second):
			t.Fatal("deadlock: Read and Write both ran a handshake loop")
		}
		srv.Close()
	}
}

// After a fatal alert from the peer, Read reports it and every later Read
// and Write returns the same error, never io.EOF (which means
// close_notify).
func TestStreamConnLatchesFatalAlert(t *testing.T) {
	p := newPKI(t)
	sctx := newTLSServerCtx(t, p, nil)
	require.NoError(t, sctx.AddCAPEM(p.ca.CertPEM))
	require.NoError(t, sctx.SetVerify(openssl.VerifyRequireClientCert, -1))
	cc, sc := tcpPair(t)
	go func() {
		srv, err := openssl.NewServerConn(sc, sctx)
		if err != nil {
			return
		}
		_ = srv.Handshake() // refuses: no client certificate
		srv.Close()
	}()
	cctx := newTLSClientCtx(t)
	client, err := openssl.NewClientConn(cc, cctx)
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, client.Handshake(), "TLS 1.3: the client finishes before the server judges it")
	_, rerr := client.Read(make([]byte, 8))
	require.Error(t, rerr)
	assert.NotErrorIs(t, rerr, io.EOF)
	assert.Contains(t, rerr.Error(), "certificate required")
	_, werr := client.Write([]byte("late"))
	assert.Equal(t, rerr, werr, "the fatal error is latched")
	_, rerr2 := client.Read(make([]byte, 8))
	assert.Equal(t, rerr, rerr2)
}

// serveTLS runs a StreamConn server handshake on conn in the background,
// then waits for one byte (or the peer's close) and closes.
func serveTLS(conn net.Conn, ctx *openssl.Ctx) {
	go func() {
		srv, err := openssl.NewServerConn(conn, ctx)
		if err != nil {
			return
		}
		defer srv.Close()
		if srv.Handshake() == nil {
			_, _ = srv.Read(make([]byte, 1))
		}
	}()
}

func newTLSClientCtx(t *testing.T) *openssl.Ctx {
	t.Helper()
	cctx, err := openssl.NewCtx(openssl.TLSClientMethod)
	require.NoError(t, err)
	t.Cleanup(func() { cctx.Close() })
	return cctx
}

// Both ends write more than the sockets hold, in one Write each, while
// another goroutine on each end reads: a Write waiting for room in its
// socket must not keep its own connection's Read from taking in what the
// peer sends, or each end waits for the other (crypto/tls's Read does not
// wait for its Write either). The deadline turns that wait into a failure.
func TestStreamConnFullDuplexBulk(t *testing.T) {
	const total = 24 << 20
	p := newPKI(t)
	cc, sc := tcpPair(t)
	srv, err := openssl.NewServerConn(sc, newTLSServerCtx(t, p, nil))
	require.NoError(t, err)
	defer srv.Close()
	cli, err := openssl.NewClientConn(cc, newTLSClientCtx(t))
	require.NoError(t, err)
	defer cli.Close()
	hs := make(chan error, 1)
	go func() { hs <- srv.Handshake() }()
	require.NoError(t, cli.Handshake())
	require.NoError(t, <-hs)

	// A 4093-byte period: records out of order show.
	at := func(seed byte, i int) byte { return seed + byte(i/4093) }
	payload := func(seed byte) []byte {
		b := make([]byte, total)
		for i := range b {
			b[i] = at(seed, i)
		}
		return b
	}
	errs := make(chan error, 4)
	for _, end := range []struct {
		c    *openssl.StreamConn
		out  byte
		from byte
	}{{cli, 1, 2}, {srv, 2, 1}} {
		require.NoError(t, end.c.SetDeadline(time.Now().Add(30*time.Second)))
		go func() {
			n, err := end.c.Write(payload(end.out))
			if err == nil && n != total {
				err = fmt.Errorf("wrote %d of %d", n, total)
			}
			errs <- err
		}()
		go func() {
			buf := make([]byte, 64<<10)
			for off := 0; off < total; {
				n, err := end.c.Read(buf)
				for i, b := range buf[:n] {
					if b != at(end.from, off+i) {
						errs <- fmt.Errorf("byte %d read is not the byte written", off+i)
						return
					}
				}
				off += n
				if err != nil {
					errs <- fmt.Errorf("after %d bytes: %w", off, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
}

// errBudget is what budgetConn's Write returns once its budget is spent.
var errBudget = errors.New("test: write budget spent")

// budgetConn writes at most the budget given to limit, counted from
// then: a Write that would exceed it sends what is left of it and fails.
type budgetConn struct {
	net.Conn
	limited atomic.Bool
	budget  atomic.Int64
}

func (b *budgetConn) limit(n int64) {
	b.budget.Store(n)
	b.limited.Store(true)
}

func (b *budgetConn) Write(p []byte) (int, error) {
	if !b.limited.Load() {
		return b.Conn.Write(p)
	}
	left := b.budget.Add(-int64(len(p))) + int64(len(p))
	if left >= int64(len(p)) {
		return b.Conn.Write(p)
	}
	n, _ := b.Conn.Write(p[:max(0, left)])
	return n, errBudget
}

// A Write sends its records as it makes them: when the net.Conn fails
// partway, Write's count is of what reached it, and the rest of the buffer
// was never encrypted (before, an 8 MiB Write encrypted all 8 MiB into
// memory first, then reported all of it written whatever the send did).
func TestStreamConnWriteCountsWhatWentOut(t *testing.T) {
	const budget, size = 1 << 20, 8 << 20
	p := newPKI(t)
	cc, sc := tcpPair(t)
	go func() {
		srv, err := openssl.NewServerConn(sc, newTLSServerCtx(t, p, nil))
		if err != nil {
			return
		}
		defer srv.Close()
		_, _ = io.Copy(io.Discard, srv)
	}()
	bc := &budgetConn{Conn: cc}
	cli, err := openssl.NewClientConn(bc, newTLSClientCtx(t))
	require.NoError(t, err)
	defer cli.Close()
	require.NoError(t, cli.Handshake())
	bc.limit(budget)
	n, err := cli.Write(make([]byte, size))
	require.ErrorIs(t, err, errBudget)
	assert.LessOrEqual(t, n, budget, "counted only what the net.Conn took")
	assert.Greater(t, n, budget*9/10, "and all of that")
}

// BenchmarkStreamConnBulk: one direction over loopback TCP, 1 MiB Writes,
// StreamConn at both ends (TLS 1.3, OpenSSL's default suite). The server
// answers a byte when it has read everything, so the time counts the
// bytes' arrival, not only their leaving.
func BenchmarkStreamConnBulk(b *testing.B) {
	const size = 1 << 20
	p := newPKI(b)
	cc, sc := tcpPair(b)
	want := int64(b.N) * size
	done := make(chan error, 1)
	go func() {
		srv, err := openssl.NewServerConn(sc, newTLSServerCtx(b, p, nil))
		if err == nil {
			defer srv.Close()
			if _, err = io.CopyN(io.Discard, srv, want); err == nil {
				_, err = srv.Write([]byte{1})
			}
		}
		done <- err
	}()
	cctx, err := openssl.NewCtx(openssl.TLSClientMethod)
	require.NoError(b, err)
	defer cctx.Close()
	cli, err := openssl.NewClientConn(cc, cctx)
	require.NoError(b, err)
	defer cli.Close()
	require.NoError(b, cli.Handshake())
	buf := make([]byte, size)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		if _, err := cli.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	_, err = io.ReadFull(cli, buf[:1])
	b.StopTimer()
	require.NoError(b, err)
	require.NoError(b, <-done)
}

// A Write that timed out may have sent part of a record, after which the
// peer can decrypt nothing: every later Write returns the same error, as
// crypto/tls's does, and sends nothing (before, the next Write sent new
// records after the gap, which the peer rejected as a bad record MAC).
// Reads go on.
func TestStreamConnWriteTimeoutIsPermanent(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	// TLS 1.2: 1.3's tickets would come after the handshake, unread by the
	// client, whose close would then reset the connection.
	sctx := newTLSServerCtx(t, p, nil)
	require.NoError(t, sctx.SetMaxProtoVersion(openssl.VersionTLS12))
	got := make(chan error, 1)
	later := make(chan struct{})
	go func() {
		srv, err := openssl.NewServerConn(sc, sctx)
		if err == nil {
			defer srv.Close()
			if err = srv.Handshake(); err != nil {
				got <- err
				return
			}
			<-later // the record arrives after the client's failed Writes
			if _, err = srv.Write([]byte("ping")); err == nil {
				_, err = io.Copy(io.Discard, srv)
			}
		}
		got <- err
	}()
	cli, err := openssl.NewClientConn(cc, newTLSClientCtx(t))
	require.NoError(t, err)
	require.NoError(t, cli.Handshake())
	require.NoError(t, cli.SetWriteDeadline(time.Now().Add(-time.Second)))
	_, err = cli.Write([]byte("lost"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, cli.SetWriteDeadline(time.Time{}))
	n, err2 := cli.Write([]byte("after"))
	assert.Zero(t, n)
	assert.Equal(t, err, err2, "the first failure, again")
	close(later)
	ping := make([]byte, 4)
	_, err = io.ReadFull(cli, ping)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(ping))
	require.NoError(t, cli.Close())
	assert.NoError(t, <-got, "the peer saw a clean end: no record after the gap")
}

// The net.Conn's end of file in the middle of a record is
// io.ErrUnexpectedEOF, not io.EOF, which a reader takes for the end of the
// data; at a record boundary without close_notify it is io.EOF, as with
// crypto/tls (which accepts that from servers that skip close_notify).
func TestStreamConnTruncatedRecord(t *testing.T) {
	p := newPKI(t)
	// Bytes of the record "hello, world" that reach the client: part of
	// the header, all of it (OpenSSL has then consumed the header and
	// holds nothing), part of the body, all (0).
	for _, cut := range []int64{3, 5, 12, 0} {
		cc, sc := tcpPair(t)
		bc := &budgetConn{Conn: sc}
		done := make(chan error, 1)
		go func() {
			srv, err := openssl.NewServerConn(bc, newTLSServerCtx(t, p, nil))
			if err == nil {
				if err = srv.Handshake(); err == nil {
					if cut > 0 {
						bc.limit(cut)
					}
					_, err = srv.Write([]byte("hello, world"))
				}
				_ = sc.Close() // no close_notify: srv is left to the cleanup
				t.Cleanup(func() { srv.Close() })
			}
			done <- err
		}()
		cli, err := openssl.NewClientConn(cc, newTLSClientCtx(t))
		require.NoError(t, err)
		got, err := io.ReadAll(cli)
		cli.Close()
		if cut > 0 {
			require.ErrorIs(t, <-done, errBudget)
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut after %d bytes of the record", cut)
			assert.Empty(t, got)
		} else {
			require.NoError(t, <-done)
			assert.NoError(t, err, "cut at a record boundary: io.EOF, which ReadAll returns as nil")
			assert.Equal(t, "hello, world", string(got))
		}
	}
}

// eofWithDataConn returns, once armed, everything its net.Conn sends until
// its end, with io.EOF coming with the last bytes (as io.Reader allows).
type eofWithDataConn struct {
	net.Conn
	armed atomic.Bool
	rest  []byte
	ended bool
}

func (c *eofWithDataConn) Read(p []byte) (int, error) {
	if !c.armed.Load() {
		return c.Conn.Read(p)
	}
	if !c.ended {
		c.rest, _ = io.ReadAll(c.Conn)
		c.ended = true
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	if len(c.rest) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// Bytes that come with io.EOF reach OpenSSL before the end of file counts:
// here the last record of data and the close_notify (before, both were
// dropped and Read returned io.EOF at once).
func TestStreamConnDataWithEOF(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	done := make(chan error, 1)
	go func() {
		srv, err := openssl.NewServerConn(sc, newTLSServerCtx(t, p, nil))
		if err == nil {
			if err = srv.Handshake(); err == nil {
				_, err = srv.Write([]byte("hello, world"))
			}
			if cerr := srv.Close(); err == nil {
				err = cerr
			}
		}
		done <- err
	}()
	ec := &eofWithDataConn{Conn: cc}
	cli, err := openssl.NewClientConn(ec, newTLSClientCtx(t))
	require.NoError(t, err)
	defer cli.Close()
	require.NoError(t, cli.Handshake())
	require.NoError(t, <-done)
	ec.armed.Store(true)
	got, err := io.ReadAll(cli)
	require.NoError(t, err)
	assert.Equal(t, "hello, world", string(got))
}

// chunkyConn returns at most max bytes per Read, as a real network does
// with a ClientHello longer than a segment.
type chunkyConn struct {
	net.Conn
	max int
}

func (c chunkyConn) Read(p []byte) (int, error) { return c.Conn.Read(p[:min(len(p), c.max)]) }

// StatelessHandshake with every ClientHello arriving in pieces: Go's
// ClientHello (an X25519MLKEM768 key share: more than a 1460-byte TCP
// segment) and the second one after the HelloRetryRequest. SSL_stateless
// starts with SSL_clear, which drops what an earlier call took from the
// BIO of an unfinished record, so it must only see whole messages. With
// read_ahead set, OpenSSL also takes what follows a message (the second
// ClientHello after the ChangeCipherSpec that comes with it), which the
// same SSL_clear would drop.
func TestStreamConnStatelessHandshakeInPieces(t *testing.T) {
	p := newPKI(t)
	ctx := newTLSServerCtx(t, p, newSigner(t, nil))
	ahead := newTLSServerCtx(t, p, newSigner(t, nil))
	require.NoError(t, ahead.SetReadAhead(true))
	for _, c := range []struct {
		ctx *openssl.Ctx
		max int
	}{{ctx, 1}, {ctx, 7}, {ctx, 100}, {ctx, 1460}, {ahead, 1}, {ahead, 1460}, {ahead, 1 << 16}} {
		cc, sc := tcpPair(t)
		require.NoError(t, sc.SetDeadline(time.Now().Add(10*time.Second)))
		client := goTLSClient(cc, p, tls.VersionTLS13)
		go func() {
			defer client.Close()
			if err := client.Handshake(); err == nil {
				_, _ = client.Write([]byte("hello"))
			}
		}()
		srv, err := openssl.NewServerConn(chunkyConn{sc, c.max}, c.ctx)
		require.NoError(t, err)
		require.NoError(t, srv.StatelessHandshake(), "reads of at most %d bytes, read_ahead %v", c.max, c.ctx == ahead)
		assert.True(t, srv.HelloRetryRequestSent())
		buf := make([]byte, 16)
		n, err := io.ReadFull(srv, buf[:5])
		require.NoError(t, err)
		assert.Equal(t, "hello", string(buf[:n]))
		srv.Close()
	}
}

// stallConn holds every Write, once armed, until release is closed, as a
// socket whose peer stopped reading would; stalled says that one is held.
type stallConn struct {
	net.Conn
	armed   atomic.Bool
	stalled chan struct{}
	release chan struct{}
}

func (c *stallConn) Write(p []byte) (int, error) {
	if c.armed.Load() {
		select {
		case c.stalled <- struct{}{}:
		default:
		}
		<-c.release
	}
	return c.Conn.Write(p)
}

// flipConn flips the last bit of every Write once armed: the peer's
// record fails authentication.
type flipConn struct {
	net.Conn
	armed atomic.Bool
}

func (c *flipConn) Write(p []byte) (int, error) {
	if !c.armed.Load() {
		return c.Conn.Write(p)
	}
	q := append([]byte(nil), p...)
	q[len(q)-1] ^= 1
	return c.Conn.Write(q)
}

// A Read whose record fails authentication makes an alert. With a Write
// stuck on a full socket, the Read leaves the alert to that Write's send,
// which takes it when the socket has room, and returns its error at once,
// instead of waiting behind the stuck Write.
func TestStreamConnReadErrorWhileWriteStuck(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	fc := &flipConn{Conn: sc}
	ready := make(chan *openssl.StreamConn, 1)
	go func() {
		srv, err := openssl.NewServerConn(fc, newTLSServerCtx(t, p, nil))
		if err != nil || srv.Handshake() != nil {
			close(ready)
			return
		}
		ready <- srv
	}()
	stc := &stallConn{Conn: cc, stalled: make(chan struct{}, 1), release: make(chan struct{})}
	cli, err := openssl.NewClientConn(stc, newTLSClientCtx(t))
	require.NoError(t, err)
	defer cli.Close()
	require.NoError(t, cli.Handshake())
	srv := <-ready
	require.NotNil(t, srv)
	defer srv.Close()

	stc.armed.Store(true)
	wrote := make(chan error, 1)
	go func() { _, err := cli.Write([]byte("stuck")); wrote <- err }()
	<-stc.stalled
	fc.armed.Store(true)
	_, err = srv.Write([]byte("corrupted"))
	require.NoError(t, err)
	read := make(chan error, 1)
	go func() { _, err := cli.Read(make([]byte, 64)); read <- err }()
	select {
	case err := <-read:
		assert.ErrorContains(t, err, "bad record mac")
	case <-time.After(10 * time.Second):
		t.Error("the Read waited behind the stuck Write")
	}
	close(stc.release)
	assert.NoError(t, <-wrote, "the Write went out once the socket had room")
	// And the alert the Read left to it went out after it.
	require.NoError(t, srv.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 64)
	n, err := srv.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "stuck", string(buf[:n]))
	_, err = srv.Read(buf)
	var alert openssl.AlertError
	require.ErrorAs(t, err, &alert, "%v", err)
	assert.Equal(t, openssl.AlertBadRecordMAC, alert)
}

// goClientHello returns the first record a crypto/tls client sends.
func goClientHello(t *testing.T) []byte {
	cc, sc := net.Pipe()
	defer sc.Close()
	go func() {
		_ = tls.Client(cc, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}).Handshake()
		cc.Close()
	}()
	hdr := make([]byte, 5)
	_, err := io.ReadFull(sc, hdr)
	require.NoError(t, err)
	rec := append(hdr, make([]byte, int(hdr[3])<<8|int(hdr[4]))...)
	_, err = io.ReadFull(sc, rec[5:])
	require.NoError(t, err)
	return rec
}

// A client that answers HelloRetryRequests with more ClientHellos without
// the cookie only spends the server's CPU (a real one aborts at the
// second, RFC 8446 4.1.4): StatelessHandshake gives up after two.
func TestStreamConnStatelessGivesUpAfterTwoHelloRetryRequests(t *testing.T) {
	p := newPKI(t)
	ch := goClientHello(t)
	cc, sc := tcpPair(t)
	require.NoError(t, sc.SetDeadline(time.Now().Add(10*time.Second)))
	go func() {
		_, _ = cc.Write(bytes.Repeat(ch, 5))
		_ = cc.(*net.TCPConn).CloseWrite()
	}()
	srv, err := openssl.NewServerConn(sc, newTLSServerCtx(t, p, newSigner(t, nil)))
	require.NoError(t, err)
	err = srv.StatelessHandshake()
	require.ErrorContains(t, err, "no valid cookie after 2 HelloRetryRequests")
	// Closing a socket with bytes unread would reset the connection, and
	// the client would not read the server's answers to the end.
	_, err = io.Copy(io.Discard, sc)
	require.NoError(t, err)
	srv.Close()

	sent, err := io.ReadAll(cc)
	require.NoError(t, err)
	hrrs := 0
	for len(sent) > 0 {
		r, rest, err := record.ParseTLSRecord(sent)
		require.NoError(t, err)
		if r.Type == record.Handshake && len(r.Payload) > 0 && r.Payload[0] == 2 { // ServerHello: here HelloRetryRequests
			hrrs++
		}
		sent = rest
	}
	assert.Equal(t, 2, hrrs)
}

// A Close that meets a Write stuck on a full socket (the peer reads
// nothing) closes the net.Conn at once, as crypto/tls does: the Write
// returns net.ErrClosed. Before, Close set a one-second write deadline and
// waited for it, and the Write returned a timeout, as if its own deadline
// had passed.
func TestStreamConnCloseDuringStuckWrite(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	ready := make(chan *openssl.StreamConn, 1)
	go func() {
		srv, err := openssl.NewServerConn(sc, newTLSServerCtx(t, p, nil))
		if err != nil || srv.Handshake() != nil {
			close(ready)
			return
		}
		ready <- srv
	}()
	cli, err := openssl.NewClientConn(cc, newTLSClientCtx(t))
	require.NoError(t, err)
	require.NoError(t, cli.Handshake())
	srv := <-ready
	require.NotNil(t, srv)
	defer srv.Close()

	type result struct {
		n   int
		err error
	}
	wrote := make(chan result, 1)
	big := make([]byte, 64<<20) // more than the two sockets hold
	go func() { n, err := cli.Write(big); wrote <- result{n, err} }()
	// Wait until the Write is stuck: its count stops growing, since the
	// server reads nothing.
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, cli.Close())
	var r result
	select {
	case r = <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the Write did not return after Close")
	}
	require.Error(t, r.err)
	assert.ErrorIs(t, r.err, net.ErrClosed)
	assert.False(t, errors.Is(r.err, os.ErrDeadlineExceeded), "%v", r.err)
	assert.Less(t, r.n, len(big))
	assert.Zero(t, r.n%(16<<10), "the count is of whole records sent: %d", r.n)
	assert.NoError(t, cli.Close(), "Close again")
	_, err = cli.Write([]byte("after"))
	assert.ErrorIs(t, err, net.ErrClosed)
}
