package dtls

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Dial connects to a DTLS server at address ("udp", "udp4" or "udp6") and
// completes the handshake.
//
// Dials with the same *Config share what the Config makes once: its
// SSL_CTX, and the server chains it verified, which are not verified again
// for the same name while every certificate in them is valid. Reuse one
// Config for every Dial, and do not modify it after its first use (as
// with crypto/tls); a Config per Dial builds a new SSL_CTX each time.
func Dial(network, address string, cfg *Config) (*Conn, error) {
	return DialContext(context.Background(), network, address, cfg)
}

// DialContext is Dial with a context bounding the handshake (besides
// Config.HandshakeTimeout).
func DialContext(ctx context.Context, network, address string, cfg *Config) (*Conn, error) {
	if err := cfg.validate(false); err != nil {
		return nil, err
	}
	raddr, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = raddr.IP.String()
	}
	pc, err := net.DialUDP(network, nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("dtls: %w", err)
	}
	c, err := newClient(pc, raddr, cfg, host, true)
	if err != nil {
		pc.Close()
		return nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, cfg.handshakeTimeout())
	defer cancel()
	if err := c.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Client returns a client Conn over pc talking to raddr. It takes
// ownership of pc (Close closes it); the handshake runs on the first Read,
// Write or Handshake.
func Client(pc net.PacketConn, raddr net.Addr, cfg *Config) (*Conn, error) {
	if pc == nil || raddr == nil {
		return nil, errors.New("dtls: Client needs a PacketConn and a peer address")
	}
	if err := cfg.validate(false); err != nil {
		return nil, err
	}
	ua, ok := raddr.(*net.UDPAddr)
	if !ok {
		var err error
		if ua, err = net.ResolveUDPAddr("udp", raddr.String()); err != nil {
			return nil, fmt.Errorf("dtls: peer address: %w", err)
		}
	}
	// A socket connected to its peer (net.DialUDP) refuses WriteTo: it is
	// read and written as Dial's own is, and must be connected to raddr.
	connected := false
	if udp, ok := pc.(*net.UDPConn); ok {
		if ra, ok := udp.RemoteAddr().(*net.UDPAddr); ok && ra != nil {
			if !samePeer(ra.AddrPort(), ua.AddrPort()) {
				return nil, fmt.Errorf("dtls: Client: the socket is connected to %v, not to %v", ra, ua)
			}
			connected = true
		}
	}
	// The Conn's deadlines are its own; one left on pc (by a STUN
	// exchange, say) would fail every read of the reader goroutine.
	if err := pc.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("dtls: Client: %w", err)
	}
	return newClient(pc, ua, cfg, ua.IP.String(), connected)
}

// samePeer reports whether a and b name one peer: an IPv4-mapped address
// and its IPv4 form are one, and so are an IPv6 zone's interface name and
// its number.
func samePeer(a, b netip.AddrPort) bool {
	if a.Port() != b.Port() || a.Addr().Unmap().WithZone("") != b.Addr().Unmap().WithZone("") {
		return false
	}
	za, zb := a.Addr().Zone(), b.Addr().Zone()
	return za == zb || zoneIndex(za) == zoneIndex(zb) && zoneIndex(za) > 0
}

// zoneIndex is the interface index an IPv6 zone names, 0 if none is known.
func zoneIndex(zone string) int {
	if n, err := strconv.Atoi(zone); err == nil {
		return n
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return ifi.Index
	}
	return 0
}

// newClient makes a client Conn on the SSL_CTX shared by every client of
// the caller's cfg. The Conn keeps a clone of cfg whose ServerName, if
// empty, is the host dialled: the certificate is always checked against a
// name or address, never accepted for any.
func newClient(pc net.PacketConn, raddr *net.UDPAddr, cfg *Config, host string, connected bool) (*Conn, error) {
	cc, err := cfg.clientCtx()
	if err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	ssl, bio, err := newSSL(cc.sslCtx, cfg)
	if err != nil {
		return nil, err
	}
	peer := netip.AddrPortFrom(raddr.AddrPort().Addr().Unmap(), raddr.AddrPort().Port())
	_ = bio.SetPeer(peer)
	if cfg.ServerName != "" {
		if _, err := netip.ParseAddr(cfg.ServerName); err != nil { // SNI carries names, not addresses
			if err := ssl.SetServerName(cfg.ServerName); err != nil {
				ssl.Close()
				return nil, err
			}
		}
	}
	key := sessionKey(cfg.ServerName, raddr, cfg.MaxFragmentLength)
	offered := cfg.offerSession(ssl, key)
	ssl.SetConnectState()
	var own *net.UDPConn
	if udp, ok := pc.(*net.UDPConn); ok && connected {
		own = udp // Dial's socket, connected to the server: read directly
	}
	c := newConn(pc, own, peer, cfg, ssl, bio)
	c.verified = cc.verified
	c.sessionKey, c.offered = key, offered
	c.connected = own != nil
	if own == nil {
		c.readDone = make(chan struct{})
		go c.readLoop()
	}
	return c, nil
}

// readLoop routes the client socket's datagrams to the Conn.
func (c *Conn) readLoop() {
	defer close(c.readDone)
	buf := make([]byte, 1<<16)
	backoff := time.Duration(0)
	for {
		var n int
		var from netip.AddrPort
		var err error
		if c.udp != nil {
			n, from, err = c.udp.ReadFromUDPAddrPort(buf)
		} else {
			var a net.Addr
			n, a, err = c.pc.ReadFrom(buf)
			from = addrPortOf(a)
		}
		if err != nil {
			select {
			case <-c.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// A deadline set on pc since Client cleared it: clear
				// it again, and back off below in case it does not go.
				_ = c.pc.SetReadDeadline(time.Time{})
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				// Nothing listens at the peer's port: fail now rather than
				// retransmit into the void until the handshake times out.
				c.peerGoneOnce.Do(func() {
					c.peerErr = err
					close(c.peerGone)
				})
			}
			// A persistent error (from a wrapping PacketConn, say) must
			// not spin a core: back off, up to a second.
			backoff = min(max(2*backoff, time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !c.connected && netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != c.rap {
			continue
		}
		if n > bioBuffer {
			continue // OpenSSL's BIO would refuse it
		}
		c.deliver(getBuf(buf[:n]))
	}
}
