package tests

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/record"
	"github.com/openssl-stateless/openssl/internal/testcert"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// newPKI is a testcert.PKI for the openssl tool: a CA, and a server
// certificate for "localhost" and 127.0.0.1, written to a temporary
// directory.
func newPKI(t *testing.T) *testcert.PKI {
	t.Helper()
	return newPKIWith(t, testcert.Options{})
}

// newPKIWith is newPKI with options for the server certificate.
func newPKIWith(t *testing.T, o testcert.Options) *testcert.PKI {
	t.Helper()
	return testcert.NewPKI(t, "interop test CA", o)
}

// newServerCtx is a server Ctx of method m with p's server certificate and
// key, loaded from their files, and a CookieSigner with a random secret
// installed, closed at the end of the test.
func newServerCtx(t *testing.T, m openssl.Method, p *testcert.PKI) (*openssl.Ctx, *openssl.CookieSigner) {
	t.Helper()
	ctx, err := openssl.NewCtx(m)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	require.NoError(t, ctx.UseCertificateFile(p.Server.CertFile))
	require.NoError(t, ctx.UsePrivateKeyFile(p.Server.KeyFile))
	signer, err := openssl.NewCookieSigner(nil, 0)
	require.NoError(t, err)
	require.NoError(t, signer.Install(ctx))
	return ctx, signer
}

// checkGoroutines fails the test if it leaves goroutines behind. Call it
// first, so that its cleanup runs after every other one.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutine(s) left behind (before %d, after %d):\n%s", n-before, before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// udpSocket is a UDP socket from package net whose descriptor OpenSSL
// reads and writes through a datagram BIO (BIO_new_dgram). Go's poller
// keeps the descriptor non-blocking: OpenSSL's reads fail with EAGAIN
// (ErrWantRead) and the Go side waits for readability with RawConn.Read.
type udpSocket struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	fd   int
}

func newUDPSocket(t *testing.T, conn *net.UDPConn) *udpSocket {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	rc, err := conn.SyscallConn()
	require.NoError(t, err)
	var fd int
	require.NoError(t, rc.Control(func(f uintptr) { fd = int(f) }))
	return &udpSocket{conn: conn, rc: rc, fd: fd}
}

// connect connects the socket to peer with connect(2), as `openssl
// s_server -listen` does after DTLSv1_listen: from then on the kernel
// delivers only that peer's datagrams to it.
func (u *udpSocket) connect(peer netip.AddrPort) error {
	var sa syscall.Sockaddr
	if peer.Addr().Is4() {
		sa = &syscall.SockaddrInet4{Port: int(peer.Port()), Addr: peer.Addr().As4()}
	} else {
		sa = &syscall.SockaddrInet6{Port: int(peer.Port()), Addr: peer.Addr().As16()}
	}
	var cerr error
	if err := u.rc.Control(func(fd uintptr) { cerr = syscall.Connect(int(fd), sa) }); err != nil {
		return err
	}
	return cerr
}

// errDeadline reports that drive gave up at its deadline.
var errDeadline = errors.New("tests: DTLS operation did not complete before the deadline")

// read reads n bytes from s with SSL_read (readFull), each read run by
// drive.
func (u *udpSocket) read(s *openssl.SSL, deadline time.Time, n int) ([]byte, error) {
	return readFull(func(b []byte) (int, error) {
		var m int
		_, err := u.drive(s, deadline, func() error {
			var rerr error
			m, rerr = s.Read(b)
			return rerr
		})
		return m, err
	}, n)
}

// drive runs op (Accept, Connect, Read, DTLSv1Listen...) until it returns
// anything but ErrWantRead, in Go's poller: when op finds the socket empty,
// RawConn.Read waits for readability, but no longer than the DTLS
// retransmission timer (DTLSv1_get_timeout); when the timer fires,
// DTLSv1_handle_timeout retransmits the last flight. It returns op's last
// error and how many retransmissions happened.
func (u *udpSocket) drive(s *openssl.SSL, deadline time.Time, op func() error) (retransmits int, err error) {
	for {
		// A deadline in the past would make RawConn.Read fail before it
		// calls op at all: reset it on every round.
		if err := u.conn.SetReadDeadline(deadline); err != nil {
			return retransmits, err
		}
		var opErr error
		rerr := u.rc.Read(func(uintptr) bool {
			opErr = op()
			if !errors.Is(opErr, openssl.ErrWantRead) {
				return true
			}
			// Wait for the socket, but only until the retransmission
			// timer (which op may just have started) fires.
			if d, ok := s.DTLSTimeout(); ok {
				if timer := time.Now().Add(d); timer.Before(deadline) {
					_ = u.conn.SetReadDeadline(timer)
				}
			}
			return false
		})
		if rerr == nil {
			return retransmits, opErr
		}
		if !errors.Is(rerr, os.ErrDeadlineExceeded) {
			return retransmits, rerr
		}
		if !time.Now().Before(deadline) {
			return retransmits, fmt.Errorf("%w (last result: %v)", errDeadline, opErr)
		}
		sent, herr := s.DTLSHandleTimeout()
		if herr != nil {
			return retransmits, herr
		}
		if sent {
			retransmits++
		}
	}
}

// readFull reads n bytes with read and returns them; it stops early at an
// error (io.ErrUnexpectedEOF for an end of stream after some bytes).
func readFull(read func([]byte) (int, error), n int) ([]byte, error) {
	got := make([]byte, 0, n)
	buf := make([]byte, 4096)
	for len(got) < n {
		m, err := read(buf)
		got = append(got, buf[:m]...)
		if err != nil {
			if errors.Is(err, io.EOF) && len(got) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return got, err
		}
	}
	return got, nil
}

// countLines counts lines of out that contain s.
func countLines(out, s string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// traceRecord is one record of a protocol log that `openssl s_client` or
// `s_server` wrote with -msgfile: -trace (SSL_trace(3)) or, where the tool has
// no -trace, -msg (see traceFlag).
type traceRecord struct {
	sent        bool   // "Sent Record", else "Received Record"
	contentType string // "Handshake", "ChangeCipherSpec", "ApplicationData", ...
	length      int    // the record's length field: its payload, without the header
	messages    []traceMessage
}

// traceMessage is one handshake message of a traced record.
type traceMessage struct {
	name      string // "ClientHello", "HelloVerifyRequest", "ServerHello", ...
	cookie    string // the DTLS cookie field in hex ("" when empty or absent)
	cookieExt bool   // carries the TLS 1.3 cookie extension
}

// traceEnv forces the fallback of traceFlag: TESTS_OPENSSL_TRACE=msg makes
// the tests run the peers with -msg even where -trace exists, to exercise
// parseMsgDump against a live peer.
const traceEnv = "TESTS_OPENSSL_TRACE"

var traceFlagOnce struct {
	sync.Once
	flag string
	why  string
}

// traceFlag returns the option that makes `openssl s_client` and `s_server`
// log every record and handshake message to -msgfile, for parseTrace:
// "-trace" where the tool has it, else "-msg". It asks the tool once per run.
//
// Version difference: -trace exists only in an OpenSSL built with
// enable-ssl-trace. Debian's 3.0 (bookworm) and 3.5 (trixie) are; Debian's
// 1.1.1 (bullseye, 1.1.1w) is not, and its s_client and s_server reject
// the option ("Option unknown option -trace"). -msg is always there: it
// prints the same message callback's data (SSL_CTX_set_msg_callback(3)),
// every record header and handshake message in hex, which parseMsgDump
// decodes into the same traceRecords, so the tests' assertions on the
// records hold on every version.
func traceFlag(t *testing.T) string {
	t.Helper()
	bin := opensslBin(t)
	traceFlagOnce.Do(func() {
		if v := os.Getenv(traceEnv); v == "msg" {
			traceFlagOnce.flag, traceFlagOnce.why = "-msg", traceEnv+"=msg"
			return
		}
		traceFlagOnce.flag, traceFlagOnce.why = "-trace", "s_client and s_server have -trace"
		for _, cmd := range []string{"s_client", "s_server"} {
			ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
			// -help exits with status 0 on 3.x and 1 on 1.1.1, and
			// writes to stdout or stderr depending on the version:
			// only the text counts.
			out, _ := exec.CommandContext(ctx, bin, cmd, "-help").CombinedOutput()
			cancel()
			if !helpTraceRE.Match(out) {
				traceFlagOnce.flag, traceFlagOnce.why = "-msg", cmd+" -help lists no -trace (OpenSSL built without enable-ssl-trace)"
				return
			}
		}
	})
	t.Logf("peer protocol log: %s (%s)", traceFlagOnce.flag, traceFlagOnce.why)
	return traceFlagOnce.flag
}

// helpTraceRE finds the -trace option in `openssl s_client -help`:
// " -trace                     Show trace output of protocol messages".
var helpTraceRE = regexp.MustCompile(`(?m)^\s*-trace\s`)

var (
	// Version difference: OpenSSL 3.0 starts each record with "Sent Record"
	// / "Received Record", 3.5 with "Sent TLS Record" / "Received TLS
	// Record" (for DTLS records as well); both are accepted (the series
	// between were not checked). The lines below are the same in 3.0 and
	// 3.5, for every record and message these tests look at.
	traceRecordRE      = regexp.MustCompile(`^(Sent|Received) (TLS )?Record$`)
	traceContentTypeRE = regexp.MustCompile(`^  Content Type = (\w+) \(\d+\)`)
	traceLengthRE      = regexp.MustCompile(`^  Length = (\d+)`)
	traceMessageRE     = regexp.MustCompile(`^    (\w+), Length=\d+`)
	traceCookieRE      = regexp.MustCompile(`^      cookie \(len=\d+\): ([0-9A-F]*)`)
)

// parseTrace reads the records of a peer's -msgfile, written with -trace
// or -msg (told apart by their first line).
func parseTrace(t *testing.T, path string) []traceRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err, "reading the peer's trace")
	text := string(data)
	var recs []traceRecord
	if strings.HasPrefix(text, ">>> ") || strings.HasPrefix(text, "<<< ") {
		recs, err = parseMsgDump(text)
		require.NoError(t, err, "parsing the peer's -msg output")
	} else {
		recs = parseSSLTrace(text)
	}
	if len(recs) == 0 && strings.TrimSpace(text) != "" {
		// A format this parser does not know (as 3.5's "Sent TLS Record"
		// was): fail here rather than on a missing record later.
		head := strings.SplitN(text, "\n", 8)
		t.Fatalf("no record found in %s, an unknown format? It begins:\n%s", path, strings.Join(head[:len(head)-1], "\n"))
	}
	return recs
}

// parseSSLTrace reads the records of an SSL_trace log (-trace).
func parseSSLTrace(text string) []traceRecord {
	var recs []traceRecord
	for _, line := range strings.Split(text, "\n") {
		if m := traceRecordRE.FindStringSubmatch(line); m != nil {
			recs = append(recs, traceRecord{sent: m[1] == "Sent"})
			continue
		}
		if len(recs) == 0 {
			continue
		}
		r := &recs[len(recs)-1]
		if m := traceContentTypeRE.FindStringSubmatch(line); m != nil {
			r.contentType = m[1]
		} else if m := traceLengthRE.FindStringSubmatch(line); m != nil {
			r.length, _ = strconv.Atoi(m[1])
		} else if m := traceMessageRE.FindStringSubmatch(line); m != nil {
			r.messages = append(r.messages, traceMessage{name: m[1]})
		} else if len(r.messages) > 0 {
			msg := &r.messages[len(r.messages)-1]
			if m := traceCookieRE.FindStringSubmatch(line); m != nil {
				msg.cookie = m[1]
			} else if strings.Contains(line, "extension_type=cookie") {
				msg.cookieExt = true
			}
		}
	}
	return recs
}

// A -msg log is one entry per call of the message callback: a line with
// the direction and the byte count, then the bytes in hex, 16 a line:
//
//	>>> ??? [length 000d]                                         (1.1.1)
//	    16 fe ff 00 00 00 00 00 00 00 00 00 c0
//	<<< TLS 1.3, Handshake [length 00d2], ClientHello             (1.1.1)
//	>>> DTLS 1.0, RecordHeader [length 000d]                      (3.x)
//	<<< Not TLS data or unknown version (version=65277, content_type=22) [length 00c0]
//
// Version difference: the labels differ (1.1.1 names no DTLS 1.2 entry and
// no record header, "???"; 3.x names some), the hex does not, so only the
// hex is read: a record header (5 bytes for TLS, 13 for DTLS) opens a
// record, a handshake message that follows is one message of it, exactly
// where SSL_trace prints "Sent Record" and the message's name.
var (
	msgEntryRE = regexp.MustCompile(`^(>>>|<<<) .*\[length ([0-9a-f]+)\]`)
	msgHexRE   = regexp.MustCompile(`^ +[0-9a-f]{2}( [0-9a-f]{2})*$`)
)

// parseMsgDump reads the records of a -msg log.
func parseMsgDump(text string) ([]traceRecord, error) {
	type entry struct {
		sent bool
		want int
		data []byte
	}
	var entries []entry
	for i, line := range strings.Split(text, "\n") {
		if m := msgEntryRE.FindStringSubmatch(line); m != nil {
			n, err := strconv.ParseUint(m[2], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q: %v", i+1, line, err)
			}
			entries = append(entries, entry{sent: m[1] == ">>>", want: int(n)})
		} else if msgHexRE.MatchString(line) && len(entries) > 0 {
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
			if err != nil {
				return nil, fmt.Errorf("line %d: %q: %v", i+1, line, err)
			}
			e := &entries[len(entries)-1]
			e.data = append(e.data, b...)
		}
	}
	var recs []traceRecord
	var dtls bool                // the current record is a DTLS record
	var inner record.ContentType // its TLS 1.3 inner content type, 0 until seen
	for i, e := range entries {
		if len(e.data) != e.want {
			return nil, fmt.Errorf("entry %d: %d bytes of hex for [length %04x]", i, len(e.data), e.want)
		}
		b := e.data
		if h, ok := msgRecordHeader(b); ok {
			recs = append(recs, traceRecord{
				sent:        e.sent,
				contentType: h.Type.String(),
				length:      int(h.Length),
			})
			dtls, inner = len(b) == record.DTLSHeaderLen, 0
			continue
		}
		if len(recs) == 0 {
			continue
		}
		r := &recs[len(recs)-1]
		if r.contentType == record.ApplicationData.String() && !dtls && inner == 0 && len(b) == 1 {
			// TLS 1.3: the real type of an encrypted record.
			inner = record.ContentType(b[0])
			continue
		}
		if r.contentType != record.Handshake.String() && inner != record.Handshake {
			continue // ChangeCipherSpec, Alert...: no message to name
		}
		if m, ok := decodeHandshake(b, dtls); ok {
			r.messages = append(r.messages, m)
		}
	}
	return recs, nil
}

// msgRecordHeader reads b, one entry of a -msg log, as a record header
// (content type, version, (DTLS: epoch and sequence number,) length) and
// reports whether it is one: 5 bytes with a TLS version or 13 with a DTLS
// one, of a content type SSL_trace names. A handshake message of 5 or 13
// bytes starting with 20-24 has 0 as its second byte (the high byte of a
// small length), not 3 or 0xfe.
func msgRecordHeader(b []byte) (record.Header, bool) {
	var h record.Header
	var err error
	var major uint16
	switch len(b) {
	case record.TLSHeaderLen:
		h, err = record.ParseTLSHeader(b)
		major = record.VersionTLS12 >> 8
	case record.DTLSHeaderLen:
		h, err = record.ParseDTLSHeader(b)
		major = record.VersionDTLS12 >> 8
	default:
		return h, false
	}
	return h, err == nil && h.Version>>8 == major && h.Type >= record.ChangeCipherSpec && h.Type <= record.Heartbeat
}

// decodeHandshake decodes one handshake message as the message callback
// passes it: whole, with its 4-byte header, 12 bytes for DTLS. Of the body
// it reads what traceMessage holds: the cookie of a DTLS ClientHello or
// HelloVerifyRequest, the cookie extension of a ClientHello or ServerHello
// (TLS 1.3's HelloRetryRequest is a ServerHello). A message that does not
// parse counts by its name only.
func decodeHandshake(b []byte, dtls bool) (traceMessage, bool) {
	var m record.Message
	var err error
	if dtls {
		m, _, err = record.ParseDTLSHandshake(b)
	} else {
		m, _, err = record.ParseTLSHandshake(b)
	}
	if err != nil {
		return traceMessage{}, false
	}
	tm := traceMessage{name: m.Type.String()}
	cookieHex := func(c []byte) string { return strings.ToUpper(hex.EncodeToString(c)) }
	switch m.Type {
	case record.TypeClientHello:
		var ch record.ClientHello
		if dtls {
			ch, err = record.ParseDTLSClientHello(m.Body)
		} else {
			ch, err = record.ParseTLSClientHello(m.Body)
		}
		if err == nil {
			tm.cookie = cookieHex(ch.Cookie)
			_, tm.cookieExt = ch.Extensions.Find(record.ExtCookie)
		}
	case record.TypeServerHello:
		if sh, err := record.ParseServerHello(m.Body); err == nil {
			_, tm.cookieExt = sh.Extensions.Find(record.ExtCookie)
		}
	case record.TypeHelloVerifyRequest:
		if hv, err := record.ParseHelloVerifyRequest(m.Body); err == nil {
			tm.cookie = cookieHex(hv.Cookie)
		}
	}
	return tm, true
}

// String renders a record in one line, for logs: "> Handshake[ClientHello]".
func (r traceRecord) String() string {
	var b strings.Builder
	if r.sent {
		b.WriteString("> ")
	} else {
		b.WriteString("< ")
	}
	b.WriteString(r.contentType)
	if len(r.messages) > 0 {
		b.WriteString("[")
		for i, m := range r.messages {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(m.name)
			if m.cookie != "" || m.cookieExt {
				b.WriteString("+cookie")
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

// firstRecords returns the first n records (all if fewer).
func firstRecords(recs []traceRecord, n int) []traceRecord {
	if len(recs) > n {
		return recs[:n]
	}
	return recs
}

// lossyRelay forwards UDP datagrams between one client and a server, and
// drops the server's first datagram: a real loss on a real path, for the
// retransmission timers to recover from.
type lossyRelay struct {
	front *net.UDPConn // the client sends here
	back  *net.UDPConn // connected to the server
	wg    sync.WaitGroup

	mu      sync.Mutex
	client  *net.UDPAddr
	dropped []byte // the server's first datagram, which was not delivered
}

func newLossyRelay(t *testing.T, server netip.AddrPort) *lossyRelay {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: server.Addr().AsSlice()})
	require.NoError(t, err)
	back, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		front.Close()
		require.NoError(t, err)
	}
	r := &lossyRelay{front: front, back: back}
	r.wg.Add(2)
	go func() { // client -> server
		defer r.wg.Done()
		buf := make([]byte, 1<<16)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.client = from
			r.mu.Unlock()
			_, _ = back.Write(buf[:n])
		}
	}()
	go func() { // server -> client, the first datagram lost
		defer r.wg.Done()
		buf := make([]byte, 1<<16)
		for {
			n, err := back.Read(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			client, first := r.client, r.dropped == nil
			if first {
				r.dropped = append([]byte(nil), buf[:n]...)
			}
			r.mu.Unlock()
			if !first && client != nil {
				_, _ = front.WriteToUDP(buf[:n], client)
			}
		}
	}()
	t.Cleanup(func() {
		front.Close()
		back.Close()
		r.wg.Wait()
	})
	return r
}

// addr is where the client should send.
func (r *lossyRelay) addr() netip.AddrPort { return r.front.LocalAddr().(*net.UDPAddr).AddrPort() }

// droppedDatagram returns the datagram the relay did not deliver, if any.
func (r *lossyRelay) droppedDatagram() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}
