package openssl_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/fuzzcorpus"
	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/openssl-stateless/openssl/internal/testmain"
)

// The fuzz targets feed attacker-controlled bytes to the two stateless
// entry points, DTLSv1_listen and SSL_stateless, the way a server feeds
// them: a real certificate, a CookieSigner, and for DTLS one listening SSL
// reused across datagrams. Their seeds are in testdata/fuzz, written by
// TestFuzzSeedCorpora from internal/record's corpus (records of captured
// handshakes, and crafted first flights) and from the builders below. `make
// fuzz` runs every target; a failing input the fuzzer finds is written to
// testdata/fuzz/<target>/ and from then on runs as a seed.

// fuzzPeer is the source of every datagram FuzzDTLSv1Listen feeds.
var fuzzPeer = netip.MustParseAddrPort("198.51.100.9:4444")

// dtlsCookieMark in a datagram stands for a cookie the server's
// CookieSigner made for fuzzPeer: FuzzDTLSv1Listen puts a fresh one in its
// place, so that the fuzzer gets past the cookie check and on to what a
// verified ClientHello reaches (Accept). It is as long as a CookieSigner's
// cookie, so the substitution keeps every length field right.
var dtlsCookieMark = []byte("{{valid-cookie-here}}")

// statelessCookieMark as the data of a ClientHello's cookie extension
// stands for the cookie of the HelloRetryRequest the server sent earlier in
// the same input: FuzzStatelessHandshake waits for that HelloRetryRequest
// and sends this ClientHello rebuilt around its cookie.
var statelessCookieMark = []byte("{{cookie from the HelloRetryRequest}}")

// FuzzDTLSv1Listen feeds datagrams to DTLSv1ListenAddrPort on one
// listening SSL over a packet BIO, as package dtls does. For every
// datagram: no panic; a result of nil, ErrRetry (ErrWantRead included) or
// an *openssl.Error; OpenSSL's error queue empty; the datagram consumed; no
// answer longer than the datagram (no amplification), and any answer a
// HelloVerifyRequest whose cookie verifies; success only for a cookie the
// signer made. A verified ClientHello goes on to one Accept (which may
// answer with a whole flight: the peer has proved its address), and the
// SSL is then replaced, as the Listener replaces it.
func FuzzDTLSv1Listen(f *testing.F) {
	p := newPKI(f)
	signer := newSigner(f, nil)
	require.Len(f, signer.Sign(nil, fuzzPeer), len(dtlsCookieMark), "the mark must be as long as a cookie")
	ctx, err := openssl.NewCtx(openssl.DTLSServerMethod)
	require.NoError(f, err)
	f.Cleanup(func() { ctx.Close() })
	require.NoError(f, ctx.UseCertificatePEM(p.server.CertPEM))
	require.NoError(f, ctx.UsePrivateKeyPEM(p.server.KeyPEM))
	require.NoError(f, signer.Install(ctx))

	l := &listeningSSL{ctx: ctx}
	l.reset(f)
	f.Cleanup(l.close)
	var cookie []byte
	f.Fuzz(func(t *testing.T, d []byte) {
		if len(d) > 1<<16 {
			t.Skip("longer than a UDP datagram")
		}
		in, signed := d, false
		if bytes.Contains(d, dtlsCookieMark) {
			cookie = signer.Sign(cookie[:0], fuzzPeer)
			in, signed = bytes.ReplaceAll(d, dtlsCookieMark, cookie), true
		}
		// The error queue is per thread: the call and the check share one.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()

		require.NoError(t, l.bio.PushDatagram(in, fuzzPeer))
		peer, err := l.ssl.DTLSv1ListenAddrPort()
		replies, size := l.drain()
		if !testmain.QueueEmpty() {
			t.Fatalf("DTLSv1_listen (%v) left entries on the error queue", err)
		}
		if l.bio.DatagramPending() {
			t.Fatalf("DTLSv1_listen (%v) did not read the datagram", err)
		}
		if size > len(d) {
			t.Fatalf("a %d-byte datagram was answered with %d bytes in %d datagram(s) (%v)", len(d), size, len(replies), err)
		}
		var oe *openssl.Error
		switch {
		case err == nil:
			if peer != fuzzPeer {
				t.Fatalf("verified ClientHello from %v, want %v", peer, fuzzPeer)
			}
			if !signed {
				t.Fatalf("a ClientHello without the signer's cookie was verified")
			}
			if len(replies) != 0 {
				t.Fatalf("%d datagram(s) sent with the verdict, want none before Accept", len(replies))
			}
			l.acceptOnce(t)
		case errors.Is(err, openssl.ErrRetry):
			if len(replies) > 1 {
				t.Fatalf("%d datagrams sent for one, want at most one HelloVerifyRequest", len(replies))
			}
			if len(replies) == 1 {
				c, herr := helloVerifyCookie(replies[0])
				if herr != nil {
					t.Fatalf("the answer is not a HelloVerifyRequest: %v", herr)
				}
				if !signer.Verify(c, fuzzPeer) {
					t.Fatalf("the HelloVerifyRequest's cookie %x does not verify", c)
				}
			}
		case errors.As(err, &oe):
			l.reset(t) // a fatal error leaves the SSL in an unknown state
		default:
			t.Fatalf("DTLSv1ListenAddrPort: %T %v, want nil, ErrRetry or *openssl.Error", err, err)
		}
	})
}

// listeningSSL is FuzzDTLSv1Listen's listening SSL and its packet BIO.
type listeningSSL struct {
	ctx *openssl.Ctx
	ssl *openssl.SSL
	bio *openssl.BIO
	out [][]byte
}

func (l *listeningSSL) reset(t testing.TB) {
	l.close()
	s, err := openssl.NewSSL(l.ctx)
	require.NoError(t, err)
	b, err := openssl.NewPacketBIO(1200, 1<<16)
	if err == nil {
		err = s.SetBIO(b, b)
	}
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	s.SetAcceptState()
	l.ssl, l.bio = s, b
}

func (l *listeningSSL) close() {
	if l.ssl != nil {
		l.ssl.Close()
		l.ssl, l.bio = nil, nil
	}
}

// drain returns the datagrams OpenSSL wrote and their total size.
func (l *listeningSSL) drain() (replies [][]byte, size int) {
	l.out = l.out[:0]
	_ = l.bio.DrainDatagrams(func(p []byte) error {
		l.out = append(l.out, append([]byte(nil), p...))
		size += len(p)
		return nil
	})
	return l.out, size
}

// acceptOnce runs one Accept on the SSL DTLSv1_listen handed over, then
// makes a new listening SSL. One datagram cannot complete a handshake.
func (l *listeningSSL) acceptOnce(t *testing.T) {
	defer l.reset(t)
	err := l.ssl.Accept()
	l.drain()
	if !testmain.QueueEmpty() {
		t.Fatalf("Accept (%v) left entries on the error queue", err)
	}
	var oe *openssl.Error
	if err == nil || !(errors.Is(err, openssl.ErrWantRead) || errors.As(err, &oe)) {
		t.Fatalf("Accept after DTLSv1_listen: %v, want ErrWantRead or *openssl.Error", err)
	}
}

// FuzzStatelessHandshake feeds a client's byte stream to a TLS server's
// StreamConn.StatelessHandshake: SSL_stateless(3) until a cookie verifies,
// then SSL_do_handshake. The client is a scripted net.Conn (clientScript):
// reads return the input, then end of stream, so every input runs to a
// verdict the same way each time. A ClientHello record whose cookie
// extension carries statelessCookieMark is rebuilt around the cookie of the
// HelloRetryRequest the server sent before reading it, so that inputs can
// get past the cookie check. For every input: no panic; a verdict within
// seconds (no hang); OpenSSL's error queue empty on the server's thread; no
// cookie verified unless the input carried one the server made; no
// handshake completed (the client has no keys).
//
// The Ctx's stateless cookie callbacks are the CookieSigner's
// GenerateCookie and VerifyCookie, the latter counted: Install's scheme,
// under the DTLS label.
func FuzzStatelessHandshake(f *testing.F) {
	p := newPKI(f)
	signer := newSigner(f, nil)
	ctx := newTLSServerCtx(f, p, signer)
	var verified atomic.Int64
	require.NoError(f, ctx.SetStatelessCookieGenerateCallback(signer.GenerateCookie))
	require.NoError(f, ctx.SetStatelessCookieVerifyCallback(func(s *openssl.SSL, c []byte) bool {
		ok := signer.VerifyCookie(s, c)
		if ok {
			verified.Add(1)
		}
		return ok
	}))

	f.Fuzz(func(t *testing.T, d []byte) {
		client := newClientScript(d)
		conn, err := openssl.NewServerConn(client, ctx)
		require.NoError(t, err)
		before := verified.Load()
		type result struct {
			err   error
			clean bool
		}
		res := make(chan result, 1)
		go func() {
			// The error queue is per thread: the call and the check share one.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			err := conn.StatelessHandshake()
			clean := testmain.QueueEmpty()
			conn.Close()
			res <- result{err, clean}
		}()
		var r result
		select {
		case r = <-res:
		case <-time.After(10 * time.Second):
			t.Fatalf("StatelessHandshake still running after 10s on a %d-byte stream", len(d))
		}
		if !r.clean {
			t.Fatalf("StatelessHandshake (%v) left entries on the error queue", r.err)
		}
		if r.err == nil {
			t.Fatalf("a handshake completed with a client that has no keys")
		}
		if verified.Load() != before && !client.substituted {
			t.Fatalf("a cookie verified that the server did not send in this input")
		}
	})
}

// clientScript is a TLS client's end of a connection, scripted, as a
// net.Conn for the server: Read returns the input and then io.EOF; Write
// takes what the server sends and looks in it for a HelloRetryRequest's
// cookie. A ClientHello record marked with statelessCookieMark is rebuilt
// around that cookie when the server reads it (sent as it is when no
// HelloRetryRequest came first). Not safe for concurrent use: the
// StreamConn's handshake is its only user.
type clientScript struct {
	segs    [][]byte // still to be read; segs[marked] is the marked record
	marked  int      // index in segs, or -1
	rebuild func(cookie []byte) []byte

	sent, hs    []byte // the server's stream and handshake bytes, not yet parsed
	cookie      []byte // from the server's first HelloRetryRequest
	substituted bool   // the marked record went out with that cookie
	closed      bool
}

var clientScriptAddr = &net.TCPAddr{IP: net.IPv4(198, 51, 100, 9), Port: 4444}

func newClientScript(d []byte) *clientScript {
	head, rebuild, marked, tail, ok := cutMarkedClientHello(d)
	if !ok {
		return &clientScript{segs: [][]byte{d}, marked: -1}
	}
	return &clientScript{segs: [][]byte{head, marked, tail}, marked: 1, rebuild: rebuild}
}

func (c *clientScript) Read(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	for len(c.segs) > 0 && len(c.segs[0]) == 0 { // the marked record is never empty
		c.segs, c.marked = c.segs[1:], c.marked-1
	}
	if len(c.segs) == 0 {
		return 0, io.EOF
	}
	if c.marked == 0 {
		if c.cookie != nil {
			c.segs[0], c.substituted = c.rebuild(c.cookie), true
		}
		c.marked = -1
	}
	n := copy(p, c.segs[0])
	c.segs[0] = c.segs[0][n:]
	return n, nil
}

func (c *clientScript) Write(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.cookie != nil {
		return len(p), nil
	}
	c.sent = append(c.sent, p...)
	for {
		r, rest, err := record.ParseTLSRecord(c.sent)
		if err != nil {
			break
		}
		if r.Type == record.Handshake {
			c.hs = append(c.hs, r.Payload...)
		}
		c.sent = rest
	}
	for {
		m, rest, err := record.ParseTLSHandshake(c.hs)
		if err != nil {
			break
		}
		c.hs = rest
		if m.Type != record.TypeServerHello {
			continue
		}
		if sh, err := record.ParseServerHello(m.Body); err == nil && sh.IsHelloRetryRequest() {
			if cookie, ok := sh.Extensions.Cookie(); ok {
				c.cookie = bytes.Clone(cookie)
				break
			}
		}
	}
	return len(p), nil
}

func (c *clientScript) Close() error                     { c.closed = true; return nil }
func (c *clientScript) LocalAddr() net.Addr              { return clientScriptAddr }
func (c *clientScript) RemoteAddr() net.Addr             { return clientScriptAddr }
func (c *clientScript) SetDeadline(time.Time) error      { return nil }
func (c *clientScript) SetReadDeadline(time.Time) error  { return nil }
func (c *clientScript) SetWriteDeadline(time.Time) error { return nil }

// cutMarkedClientHello finds the first TLS record of d that holds one
// whole ClientHello whose cookie extension carries statelessCookieMark. It
// returns what comes before that record, a function that rebuilds the
// record around a cookie, the record, and what follows it.
func cutMarkedClientHello(d []byte) (head []byte, rebuild func(cookie []byte) []byte, marked, tail []byte, ok bool) {
	for off := 0; off < len(d); {
		r, rest, err := record.ParseTLSRecord(d[off:])
		if err != nil {
			break
		}
		end := len(d) - len(rest)
		if r.Type == record.Handshake {
			if m, left, err := record.ParseTLSHandshake(r.Payload); err == nil && len(left) == 0 && m.Type == record.TypeClientHello {
				if ch, err := record.ParseTLSClientHello(m.Body); err == nil {
					if c, found := ch.Extensions.Cookie(); found && bytes.Equal(c, statelessCookieMark) {
						return d[:off], func(cookie []byte) []byte {
							body := withCookie(ch, cookie).AppendTLS(nil)
							return record.AppendTLSRecord(nil, r.Header, record.AppendTLSHandshake(nil, record.TypeClientHello, body))
						}, d[off:end], d[end:], true
					}
				}
			}
		}
		off = end
	}
	return nil, nil, nil, nil, false
}

// withCookie returns ch with the data of its cookie extension replaced by
// one carrying cookie.
func withCookie(ch record.ClientHello, cookie []byte) record.ClientHello {
	var e record.Extensions
	for x := range ch.Extensions.All() {
		if x.Type == record.ExtCookie {
			e = e.Add(x.Type, record.CookieExtension(cookie))
		} else {
			e = e.Add(x.Type, x.Data)
		}
	}
	ch.Extensions = e
	return ch
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpora in testdata/fuzz")

// recordCorpus is internal/record's seed corpus: the records and flights of
// the handshakes in tests/testdata, and the crafted first flights.
const recordCorpus = "internal/record/testdata/fuzz"

// Seed files whose names start with "captured-" or "built-" are
// TestFuzzSeedCorpora's; others (inputs the fuzzer found) are left alone.
var seedPrefixes = []string{"captured-", "built-"}

// TestFuzzSeedCorpora checks that testdata/fuzz holds the seeds that
// fuzzSeeds derives; with -update-seeds it writes them.
func TestFuzzSeedCorpora(t *testing.T) {
	for target, seeds := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateSeeds {
			old, _ := filepath.Glob(filepath.Join(dir, "*"))
			for _, path := range old {
				if name := filepath.Base(path); slices.ContainsFunc(seedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
					require.NoError(t, os.Remove(path))
				}
			}
			require.NoError(t, os.MkdirAll(dir, 0o755))
		}
		for _, name := range slices.Sorted(maps.Keys(seeds)) {
			path := filepath.Join(dir, name)
			want := fuzzcorpus.Bytes(seeds[name])
			if *updateSeeds {
				require.NoError(t, os.WriteFile(path, want, 0o644))
				continue
			}
			if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s is missing or stale: go test . -run TestFuzzSeedCorpora -update-seeds", path)
			}
		}
	}
}

// fuzzSeeds returns each target's seeds by file name.
func fuzzSeeds(t *testing.T) map[string]map[string][]byte {
	dgrams := fuzzcorpus.Read(t, filepath.Join(recordCorpus, "FuzzParseDatagram"))
	streams := fuzzcorpus.Read(t, filepath.Join(recordCorpus, "FuzzParseTLSStream"))
	random := bytes.Repeat([]byte{0x5a}, record.RandomLen)

	// DTLSv1_listen: every datagram of the record corpus, then first
	// flights with the cookie mark: crafted, and each captured ClientHello
	// re-encoded around it. A second ClientHello has message_seq 1; after
	// one with 0, OpenSSL 3.0's Accept waits for another and answers
	// nothing.
	listen := map[string][]byte{}
	maps.Copy(listen, dgrams)
	for name, c := range map[string]record.ClientHelloDatagram{
		"valid-cookie":                {Cookie: dtlsCookieMark, MessageSeq: 1},
		"valid-cookie-seq-0":          {Cookie: dtlsCookieMark},
		"valid-cookie-first-fragment": {Cookie: dtlsCookieMark, MessageSeq: 1, Truncate: 10},
		"valid-cookie-dtls10":         {Cookie: dtlsCookieMark, MessageSeq: 1, Version: record.VersionDTLS10},
		"valid-cookie-no-suites":      {Cookie: dtlsCookieMark, MessageSeq: 1, CipherSuites: record.CipherSuites{}},
	} {
		c.Random = random
		listen["built-"+name] = c.Bytes()
	}
	// The shortest datagram that gets an answer: a first fragment that
	// ends with the (empty) cookie. With a CookieSigner the answer is 49
	// bytes, this is 61.
	whole := record.ClientHelloDatagram{Random: random}.Bytes()
	bodyLen := len(whole) - record.DTLSHeaderLen - record.DTLSHandshakeHeaderLen
	listen["built-shortest-answered"] = record.ClientHelloDatagram{Random: random, Truncate: bodyLen - (2 + record.RandomLen + 1 + 1)}.Bytes()
	for _, name := range slices.Sorted(maps.Keys(dgrams)) {
		if !strings.HasPrefix(name, "captured-") {
			continue
		}
		h, m, err := record.FirstDTLSHandshake(dgrams[name])
		if err != nil || m.Type != record.TypeClientHello || m.IsFragment() || h.Epoch != 0 {
			continue
		}
		ch, err := record.ParseDTLSClientHello(m.Body)
		require.NoError(t, err, name)
		ch.Cookie = dtlsCookieMark
		msg := record.AppendDTLSHandshake(nil, record.TypeClientHello, m.MessageSeq, ch.AppendDTLS(nil))
		listen["built-valid-cookie-"+name] = record.AppendDTLSRecord(nil, h, msg)
	}
	dedupe(listen)

	// SSL_stateless: every stream of the record corpus; the client's side
	// of each captured TLS 1.3 exchange (a ClientHello, a ChangeCipherSpec,
	// a ClientHello with the cookie), whole; and that side again with the
	// second ClientHello's cookie replaced by the mark, with and without
	// the ChangeCipherSpec.
	stateless := map[string][]byte{}
	maps.Copy(stateless, streams)
	type exchange struct{ first, ccs []byte }
	exchanges := map[string]*exchange{} // by capture
	for _, name := range slices.Sorted(maps.Keys(streams)) {
		s := streams[name]
		if !strings.HasPrefix(name, "captured-") || !strings.Contains(name, "s_client") || strings.HasSuffix(name, "-run") {
			continue
		}
		capture := name[:strings.LastIndex(name, "-")]
		x := exchanges[capture]
		if x == nil {
			x = &exchange{}
			exchanges[capture] = x
		}
		r, _, err := record.ParseTLSRecord(s)
		require.NoError(t, err, name)
		switch {
		case r.Type == record.ChangeCipherSpec:
			x.ccs = s
		case r.Type == record.Handshake && len(r.Payload) > 0 && record.HandshakeType(r.Payload[0]) == record.TypeClientHello:
			m, _, err := record.ParseTLSHandshake(r.Payload)
			require.NoError(t, err, name)
			ch, err := record.ParseTLSClientHello(m.Body)
			require.NoError(t, err, name)
			if _, ok := ch.Extensions.Cookie(); !ok {
				x.first = s
				continue
			}
			marked := record.AppendTLSRecord(nil, r.Header, record.AppendTLSHandshake(nil, record.TypeClientHello, withCookie(ch, statelessCookieMark).AppendTLS(nil)))
			stateless["built-client-side-"+capture] = slices.Concat(x.first, x.ccs, s)
			stateless["built-cookie-exchange-"+capture] = slices.Concat(x.first, x.ccs, marked)
			stateless["built-cookie-exchange-no-ccs-"+capture] = slices.Concat(x.first, marked)
			stateless["built-cookie-alone-"+capture] = marked
		}
	}
	require.True(t, slices.ContainsFunc(slices.Collect(maps.Keys(stateless)), func(name string) bool {
		return strings.HasPrefix(name, "built-cookie-exchange-")
	}), "no captured TLS 1.3 exchange in %s", recordCorpus)
	dedupe(stateless)

	corpora := map[string]map[string][]byte{"FuzzDTLSv1Listen": listen, "FuzzStatelessHandshake": stateless}
	for target, seeds := range corpora {
		t.Logf("%s: %d seeds", target, len(seeds))
	}
	return corpora
}

// dedupe drops seeds whose bytes another seed with a smaller name has.
func dedupe(seeds map[string][]byte) {
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		k := string(seeds[name])
		if seen[k] {
			delete(seeds, name)
		}
		seen[k] = true
	}
}
