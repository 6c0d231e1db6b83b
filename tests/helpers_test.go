package tests

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
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
	dir := t.TempDir()
	ca := testcert.NewCA(t, "interop test CA")
	return &pki{
		ca:     ca,
		server: ca.Issue(t, "localhost", testcert.Options{}).Files(t, dir, "server"),
		caFile: ca.WriteCA(t, dir),
	}
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

// freeUDPPort returns a loopback UDP port nobody listens on right now, for
// a peer that must be told its port.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
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
	if peer.Addr().Is4() || peer.Addr().Is4In6() {
		sa = &syscall.SockaddrInet4{Port: int(peer.Port()), Addr: peer.Addr().Unmap().As4()}
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

// readFull reads exactly len(want) bytes with read and returns them; it
// stops early at an error.
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
