package tests

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
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
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// pki is a CA and a server certificate for "localhost" and 127.0.0.1,
// written to a temporary directory for the openssl tool.
type pki struct {
	ca     *testcert.CA
	server *testcert.Pair
	caFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	return newPKIWith(t, testcert.Options{})
}

// newPKIWith is newPKI with options for the server certificate.
func newPKIWith(t *testing.T, o testcert.Options) *pki {
	t.Helper()
	dir := t.TempDir()
	ca := testcert.NewCA(t, "interop test CA")
	return &pki{
		ca:     ca,
		server: ca.Issue(t, "localhost", o).Files(t, dir, "server"),
		caFile: ca.WriteCA(t, dir),
	}
}

func (p *pki) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	return pool
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

// freeUDPPort returns a UDP port of ip nobody listens on right now, for a
// peer that must be told its port.
func freeUDPPort(t *testing.T, ip netip.Addr) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip.AsSlice()})
	require.NoError(t, err)
	port := c.LocalAddr().(*net.UDPAddr).Port
	require.NoError(t, c.Close())
	return port
}

// freeTCPPort is freeUDPPort for TCP.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
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
			if d, ok := s.DTLSGetTimeout(); ok {
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

// traceRecord is one record of an `openssl -trace` log (SSL_trace(3)), as
// written with -msgfile.
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

var (
	traceContentTypeRE = regexp.MustCompile(`^  Content Type = (\w+) \(\d+\)`)
	traceLengthRE      = regexp.MustCompile(`^  Length = (\d+)`)
	traceMessageRE     = regexp.MustCompile(`^    (\w+), Length=\d+`)
	traceCookieRE      = regexp.MustCompile(`^      cookie \(len=\d+\): ([0-9A-F]*)`)
)

// parseTrace reads the records of an SSL_trace log.
func parseTrace(t *testing.T, path string) []traceRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err, "reading the peer's trace")
	var recs []traceRecord
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case line == "Sent Record" || line == "Received Record":
			recs = append(recs, traceRecord{sent: line == "Sent Record"})
			continue
		case len(recs) == 0:
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
