package harness

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	piondtls "github.com/pion/dtls/v3"
	"github.com/pion/logging"
	"golang.org/x/sys/unix"

	"github.com/openssl-stateless/openssl/dtls"
)

// The parameters every stack is given, so that none is measured with a
// different workload.
const (
	// Cipher is the one suite offered and accepted on all sides.
	Cipher     = "ECDHE-ECDSA-AES128-GCM-SHA256"
	pionCipher = piondtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	// MTU is the largest datagram written, on every stack.
	MTU = 1200
	// EchoSize is the message of the echo rows; EchoBuffer the buffer the
	// echo handlers and clients read into, the same small size everywhere.
	EchoSize   = 512
	EchoBuffer = 2048
	// handshakeTimeout bounds every server-side handshake.
	handshakeTimeout = 10 * time.Second
)

// Impls are the implementations a server or client can be. udpconns is a
// server only; its client is udp's.
var Impls = []string{"ours", "pion", "udp", "udpconns"}

// Server is an echo server of one implementation on 127.0.0.1.
type Server interface {
	Addr() string
	// Peers is how many connections the server holds.
	Peers() int
	Close()
}

// StartServer starts impl's echo server, built the way an application
// would build it. Ours gets no per-host bounds: every benchmark client
// comes from 127.0.0.1, and the 5000-connection rows need them all.
func StartServer(impl string, p *PKI) (Server, error) {
	switch impl {
	case "ours":
		return StartOurs(p, 0)
	case "pion":
		return startPion(p)
	case "udp":
		return startUDP()
	case "udpconns":
		return startUDPConns()
	}
	return nil, errorf("no implementation %q", impl)
}

// connSet is what both DTLS echo servers keep per accepted connection.
type connSet struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (s *connSet) add(c net.Conn) {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[net.Conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
}

func (s *connSet) done(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *connSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// echo answers each message with itself until the connection ends. No
// deadline: an idle connection then costs only what the stack keeps.
func echo(c net.Conn) {
	buf := make([]byte, EchoBuffer)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

type dtlsServer struct {
	l     net.Listener
	peers func() int
	cs    connSet
	done  chan struct{}
}

func (s *dtlsServer) Addr() string { return s.l.Addr().String() }
func (s *dtlsServer) Peers() int   { return s.peers() }
func (s *dtlsServer) Close() {
	_ = s.l.Close()
	<-s.done
	s.cs.closeAll()
}

func (s *dtlsServer) serve(handshake func(net.Conn) error) {
	defer close(s.done)
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.cs.add(c)
		go func() {
			defer s.cs.done(c)
			defer c.Close()
			if handshake != nil && handshake(c) != nil {
				return
			}
			echo(c)
		}()
	}
}

// StartOurs is StartServer("ours") with Config.Readers set to readers.
func StartOurs(p *PKI, readers int) (Server, error) {
	l, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{
		CertificatePEM: p.CertPEM, KeyPEM: p.KeyPEM, CipherList: Cipher, MTU: MTU,
		HandshakeTimeout: handshakeTimeout,
		MaxConns:         -1, MaxConnsPerHost: -1, MaxHandshakesPerHost: -1, AcceptBacklog: 1024,
		Readers: readers,
	})
	if err != nil {
		return nil, err
	}
	s := &dtlsServer{l: l, done: make(chan struct{})}
	s.peers = l.PeerCount
	go s.serve(nil)
	return s, nil
}

func quietPion() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f
}

// startPion is pion's listener as its documentation has it, with the
// handshake moved off the accept loop (its example runs it inline, which
// lets one silent source block every other): each accepted connection
// gets a goroutine that handshakes, then echoes.
func startPion(p *PKI) (Server, error) {
	l, err := piondtls.ListenWithOptions("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)},
		piondtls.WithCertificates(p.TLSCert),
		piondtls.WithCipherSuites(pionCipher),
		piondtls.WithMTU(MTU),
		piondtls.WithLoggerFactory(quietPion()),
	)
	if err != nil {
		return nil, err
	}
	s := &dtlsServer{l: l, done: make(chan struct{})}
	s.peers = s.cs.len
	go s.serve(func(c net.Conn) error {
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		defer cancel()
		return c.(*piondtls.Conn).HandshakeContext(ctx)
	})
	return s, nil
}

// udpServer is the bare Go UDP echo: one goroutine, one buffer, no DTLS.
// It also answers forged ClientHellos (it echoes them), so the flood rows
// can use it as the socket's ceiling.
type udpServer struct {
	pc   *net.UDPConn
	done chan struct{}
}

func startUDP() (Server, error) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	s := &udpServer{pc: pc, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, EchoBuffer)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			_, _ = pc.WriteToUDPAddrPort(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
		}
	}()
	return s, nil
}

func (s *udpServer) Addr() string { return s.pc.LocalAddr().String() }
func (s *udpServer) Peers() int   { return 0 }
func (s *udpServer) Close()       { _ = s.pc.Close(); <-s.done }

// udpConnsServer is the bare UDP echo in the shape of ours on Linux: a
// peer's first datagram, read from the shared socket, gets the peer a socket
// of its own (SO_REUSEPORT, bound beside the shared one, connected to the
// peer) and a goroutine that reads it and echoes. Against udpServer's one
// goroutine on one socket, it shows what that shape costs per round trip
// (a goroutine woken per datagram, a socket per peer) apart from DTLS.
type udpConnsServer struct {
	pc    *net.UDPConn
	mu    sync.Mutex
	peers map[netip.AddrPort]*net.UDPConn
	wg    sync.WaitGroup
	done  chan struct{}
}

func reusePort(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}

func startUDPConns() (Server, error) {
	lc := net.ListenConfig{Control: reusePort}
	p, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &udpConnsServer{pc: p.(*net.UDPConn), peers: map[netip.AddrPort]*net.UDPConn{}, done: make(chan struct{})}
	go s.serve()
	return s, nil
}

func (s *udpConnsServer) serve() {
	defer close(s.done)
	d := net.Dialer{LocalAddr: s.pc.LocalAddr(), Control: reusePort}
	buf := make([]byte, EchoBuffer)
	for {
		n, from, err := s.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		s.mu.Lock()
		c := s.peers[from]
		s.mu.Unlock()
		if c == nil {
			nc, err := d.Dial("udp4", from.String())
			if err != nil {
				continue
			}
			c = nc.(*net.UDPConn)
			s.mu.Lock()
			s.peers[from] = c
			s.mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); echo(c) }()
		}
		_, _ = c.Write(buf[:n])
	}
}

func (s *udpConnsServer) Addr() string { return s.pc.LocalAddr().String() }
func (s *udpConnsServer) Peers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.peers)
}
func (s *udpConnsServer) Close() {
	_ = s.pc.Close()
	<-s.done
	s.mu.Lock()
	for _, c := range s.peers {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Client dials one implementation's connections, all from one
// configuration made once, as an application would.
type Client struct {
	impl string
	ours *dtls.Config
	pion []piondtls.ClientOption
}

// NewClient is impl's client, verifying the server against p's CA under
// the name "localhost".
func NewClient(impl string, p *PKI) *Client {
	return &Client{
		impl: impl,
		ours: &dtls.Config{RootCAs: p.Pool, ServerName: "localhost", CipherList: Cipher, MTU: MTU},
		pion: []piondtls.ClientOption{
			piondtls.WithRootCAs(p.Pool),
			piondtls.WithServerName("localhost"),
			piondtls.WithCipherSuites(pionCipher),
			piondtls.WithMTU(MTU),
			piondtls.WithLoggerFactory(quietPion()),
		},
	}
}

// Dial returns a connection whose handshake is complete.
func (c *Client) Dial(addr string) (net.Conn, error) {
	switch c.impl {
	case "ours":
		return dtls.Dial("udp", addr, c.ours)
	case "pion":
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		conn, err := piondtls.DialWithOptions("udp", ua, c.pion...)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		defer cancel()
		if err := conn.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return conn, nil
	case "udp", "udpconns":
		return net.Dial("udp", addr)
	}
	return nil, errorf("no implementation %q", c.impl)
}
