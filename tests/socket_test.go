package tests

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
)

// The loopback addresses the tests bind to.
var (
	loopback4 = netip.MustParseAddr("127.0.0.1")
	loopback6 = netip.MustParseAddr("::1")
)

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
