//go:build linux

package dtls

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A Listener on Linux gives each connection a socket of its own: a UDP
// socket bound to the Listener's address with SO_REUSEPORT and connected to
// the peer. The kernel prefers a connected socket whose 4-tuple matches
// over the unconnected ones of the same reuseport group, so the peer's
// datagrams land there and the goroutine that drives OpenSSL (a handshake,
// a Read) reads them itself: no hand-off through the Listener's loop, no
// thread wake-up per datagram. Datagrams from everyone else still reach
// the Listener's socket, which is in the same group. SO_REUSEPORT lets
// only sockets of the same effective user join the group.

const ownSocketsSupported = true

// reusePort is a net.ListenConfig / net.Dialer Control that sets
// SO_REUSEPORT, and for IPv6 sockets IPV6_V6ONLY to v6only (-1 leaves
// Go's choice).
func reusePort(v6only int) func(network, address string, rc syscall.RawConn) error {
	return func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil && v6only >= 0 && network == "udp6" {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, v6only)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// listenReusePort opens the Listener's socket with SO_REUSEPORT set.
func listenReusePort(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: reusePort(-1)}
	pc, err := lc.ListenPacket(context.Background(), network, laddr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// ownSocketOrigin says whether connections of a Listener on udp can have
// sockets of their own, and with which local address and IPV6_V6ONLY
// setting: udp must have SO_REUSEPORT set (Listen sets it; a socket given
// to NewListener may not have it).
func ownSocketOrigin(udp *net.UDPConn) (laddr *net.UDPAddr, v6only int, ok bool) {
	laddr, _ = udp.LocalAddr().(*net.UDPAddr)
	if laddr == nil || laddr.Port == 0 {
		return nil, 0, false
	}
	rc, err := udp.SyscallConn()
	if err != nil {
		return nil, 0, false
	}
	reuse, family := 0, 0
	v6only = -1
	cerr := rc.Control(func(fd uintptr) {
		reuse, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT)
		family, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_DOMAIN)
		if family == syscall.AF_INET6 {
			v6only, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY)
		}
	})
	if cerr != nil || reuse != 1 {
		return nil, 0, false
	}
	return laddr, v6only, true
}

// pendingBufs holds readPending's buffers: most calls find the socket
// empty and take none, but a Close behind a peer's last datagrams, or a
// flood's strays, would otherwise make 64 KiB each time.
var pendingBufs = sync.Pool{New: func() any { b := make([]byte, 1<<16); return &b }}

// readPending hands f what udp has received, each datagram with its
// source, without waiting. f must not keep d.
func readPending(udp *net.UDPConn, f func(d []byte, from netip.AddrPort)) {
	rc, err := udp.SyscallConn()
	if err != nil {
		return
	}
	// Control, not Read: Read would queue behind a reader blocked on the
	// socket (and fail at once on a kick's deadline in the past), where
	// the kernel lets both receive at the same time.
	_ = rc.Control(func(fd uintptr) {
		var probe [1]byte
		if _, _, err := syscall.Recvfrom(int(fd), probe[:], syscall.MSG_DONTWAIT|syscall.MSG_PEEK); err == syscall.EAGAIN {
			return // the common case: nothing came, no buffer taken
		}
		bp := pendingBufs.Get().(*[]byte)
		defer pendingBufs.Put(bp)
		buf := *bp
		for {
			n, sa, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			if err == syscall.ECONNREFUSED {
				// An ICMP error the socket held (our close_notify to a
				// port the peer had closed, before it opened it again):
				// reported once, and the datagrams behind it remain.
				continue
			}
			if err != nil || n < 0 {
				return // EAGAIN: empty; anything else: nothing to read
			}
			var from netip.AddrPort
			switch a := sa.(type) {
			case *syscall.SockaddrInet4:
				from = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
			case *syscall.SockaddrInet6:
				addr := netip.AddrFrom16(a.Addr)
				if a.ZoneId != 0 { // a link-local peer: its datagrams are routed by address and zone
					addr = addr.WithZone(zoneName(int(a.ZoneId)))
				}
				from = netip.AddrPortFrom(addr.Unmap(), uint16(a.Port))
			default:
				continue
			}
			f(buf[:n], from)
		}
	})
}

// drainSocket hands what a connected udp has received to f, without
// waiting. f must not keep d.
func drainSocket(udp *net.UDPConn, f func(d []byte)) {
	readPending(udp, func(d []byte, _ netip.AddrPort) { f(d) })
}

// dialOwn makes a connection's own socket: bound to laddr beside the
// Listener's socket, connected to peer.
func dialOwn(laddr *net.UDPAddr, v6only int, peer netip.AddrPort) (*net.UDPConn, error) {
	network := "udp4"
	if v6only >= 0 { // the Listener's socket is IPv6
		network = "udp6"
		if a := peer.Addr(); a.Is4() || a.Is4In6() {
			// An IPv4 peer of a dual-stack socket. Go reads a mapped
			// address as IPv4 and refuses it on "udp6"; "udp" with the
			// IPv6 wildcard as the local address makes an IPv6 socket
			// connected to the mapped address.
			network = "udp"
			peer = netip.AddrPortFrom(a.Unmap(), peer.Port())
		}
	}
	d := net.Dialer{LocalAddr: laddr, Control: reusePort(v6only)}
	c, err := d.Dial(network, peer.String())
	if err != nil {
		return nil, err
	}
	udp := c.(*net.UDPConn)
	// Anyone who knows the peer's address can fill this buffer while the
	// application does not read: it is the connection's queue bound
	// (queue.go's queueMin; the kernel doubles it for its bookkeeping).
	if err := udp.SetReadBuffer(queueMin); err != nil {
		udp.Close()
		return nil, err
	}
	return udp, nil
}

// takeStrays hands f what udp received between its bind and its connect,
// each datagram with its source. In that window the socket was an
// unconnected member of the reuseport group, and the kernel's hash could
// give it anyone's datagram (a flood's ClientHello, another peer's
// record): read as the peer's, it would reach the wrong connection and be
// lost to its own. Call it once the socket is connected, before anyone
// reads it.
func takeStrays(udp *net.UDPConn, f func(d []byte, from netip.AddrPort)) {
	readPending(udp, f)
}
