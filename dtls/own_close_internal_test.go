package dtls

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// closeOwn returns only once the socket's close has, for every caller: the
// second of two concurrent closes (retireOwn's and teardown's) waits while
// a read of the socket is in progress, as the first does, since teardown
// frees the buffer the read receives into. A second net.UDPConn.Close
// returns at once.
func TestCloseOwnWaitsForReads(t *testing.T) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	rc, err := udp.SyscallConn()
	require.NoError(t, err)
	c := &Conn{own: udp}

	// A read in progress: the socket is held until release.
	inRead, release := make(chan struct{}), make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_ = rc.Read(func(uintptr) bool {
			close(inRead)
			<-release
			return true
		})
	}()
	<-inRead
	first, second := make(chan struct{}), make(chan struct{})
	go func() { c.closeOwn(); close(first) }()
	time.Sleep(50 * time.Millisecond) // the first close is under way, waiting for the read
	go func() { c.closeOwn(); close(second) }()
	select {
	case <-second:
		t.Fatal("the second close returned while a read was in progress")
	case <-first:
		t.Fatal("the first close returned while a read was in progress")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	<-readDone
	<-first
	<-second
}
