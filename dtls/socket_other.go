//go:build !linux

package dtls

import (
	"errors"
	"net"
	"net/netip"
)

// Other systems' SO_REUSEPORT does not promise that a connected socket
// takes its peer's datagrams from the rest of the group: every connection
// shares the Listener's socket.
const ownSocketsSupported = false

func listenReusePort(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
	return net.ListenUDP(network, laddr)
}

func ownSocketOrigin(*net.UDPConn) (*net.UDPAddr, int, bool) { return nil, 0, false }

func drainSocket(*net.UDPConn, func([]byte)) {}

func takeStrays(*net.UDPConn, func([]byte, netip.AddrPort)) {}

func dialOwn(*net.UDPAddr, int, netip.AddrPort) (*net.UDPConn, error) {
	return nil, errors.New("dtls: sockets per connection are Linux-only")
}
