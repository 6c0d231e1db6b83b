//go:build linux

package dtls

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A connection's own socket is bound into the Listener's reuseport group
// before it is connected, and in between the kernel's hash may hand it
// anyone's datagram (a flood's ClientHello once went unanswered that way).
// Here the window is held open: datagrams from many sources land on both
// sockets, then the second is connected to one peer, and takeStrays must
// give back every datagram it took, each with its true source.
func TestTakeStraysGivesBackWhatTheWindowTook(t *testing.T) {
	ls, err := listenReusePort("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer ls.Close()
	laddr := ls.LocalAddr().(*net.UDPAddr)

	// The own socket as dialOwn makes it, stopped between bind and
	// connect.
	lc := net.ListenConfig{Control: reusePort(-1)}
	pc, err := lc.ListenPacket(t.Context(), "udp4", laddr.String())
	require.NoError(t, err)
	own := pc.(*net.UDPConn)
	defer own.Close()

	const senders = 64
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer peer.Close()
	sent := map[netip.AddrPort]string{}
	for i := range senders {
		s, err := net.DialUDP("udp4", nil, laddr)
		require.NoError(t, err)
		defer s.Close()
		msg := "from sender " + string(rune('A'+i%26)) + string(rune('a'+i/26))
		_, err = s.Write([]byte(msg))
		require.NoError(t, err)
		sent[s.LocalAddr().(*net.UDPAddr).AddrPort()] = msg
	}

	// What the Listener's socket got.
	got := map[netip.AddrPort]string{}
	buf := make([]byte, 2048)
	for {
		require.NoError(t, ls.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
		n, from, err := ls.ReadFromUDPAddrPort(buf)
		if err != nil {
			break
		}
		got[from] = string(buf[:n])
	}
	require.Less(t, len(got), senders, "the hash gave the unconnected socket some of %d sources (else the test shows nothing)", senders)

	// Connected now, as Dial leaves it: what it holds is the window's.
	rc, err := own.SyscallConn()
	require.NoError(t, err)
	var cerr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		cerr = connectFD(int(fd), peer.LocalAddr().(*net.UDPAddr).AddrPort())
	}))
	require.NoError(t, cerr)
	strays := 0
	takeStrays(own, func(d []byte, from netip.AddrPort) {
		_, dup := got[from]
		assert.False(t, dup, "%v's datagram arrived twice", from)
		got[from] = string(d)
		strays++
	})
	assert.Positive(t, strays)
	assert.Equal(t, sent, got, "every datagram accounted for, each with its source")

	// Nothing left behind, and the next read is the peer's own.
	_, err = peer.WriteToUDPAddrPort([]byte("the peer"), laddr.AddrPort())
	require.NoError(t, err)
	require.NoError(t, own.SetReadDeadline(time.Now().Add(2*time.Second)))
	n, err := own.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "the peer", string(buf[:n]))
}

func connectFD(fd int, to netip.AddrPort) error {
	return syscall.Connect(fd, &syscall.SockaddrInet4{Addr: to.Addr().As4(), Port: int(to.Port())})
}
