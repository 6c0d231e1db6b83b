package pion_test

// The servers compared: our dtls.Listener, pion/dtls, and a plain UDP
// reflector (no DTLS at all: the socket's own ceiling). Each is an echo
// server on 127.0.0.1 built the way an application would build it.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	piondtls "github.com/pion/dtls/v3"
	"github.com/pion/logging"

	"github.com/openssl-stateless/openssl/dtls"
)

// handshakeTimeout bounds each server-side handshake for both
// implementations: our DefaultHandshakeTimeout.
const handshakeTimeout = dtls.DefaultHandshakeTimeout

// One ECDSA P-256 CA and leaf for "localhost", shared by every server of
// the process, ours and pion's.
type pkiT struct {
	pool    *x509.CertPool
	certPEM []byte
	keyPEM  []byte
	tlsCert tls.Certificate
}

var (
	pkiOnce sync.Once
	thePKI  pkiT
)

func getPKI(tb testing.TB) *pkiT {
	pkiOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		caTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}
		caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		must(err)
		ca, err := x509.ParseCertificate(caDER)
		must(err)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		must(err)
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		must(err)
		thePKI.pool = x509.NewCertPool()
		thePKI.pool.AddCert(ca)
		thePKI.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		thePKI.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
		thePKI.tlsCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return &thePKI
}

// Both sides of both implementations use this one suite.
const (
	ourCipher  = "ECDHE-ECDSA-AES128-GCM-SHA256"
	pionCipher = piondtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
)

type server interface {
	addr() *net.UDPAddr
	// peers is how many sources the server keeps a connection for.
	peers() int
	close()
}

type impl struct {
	name  string
	start func(tb testing.TB) server
	// dial opens a client connection with a completed handshake.
	dial func(tb testing.TB, addr *net.UDPAddr) net.Conn
}

var (
	implOurs = impl{"ours", startOurs, dialOurs}
	implPion = impl{"pion", startPion, dialPion}
	implUDP  = impl{"udp", startReflector, nil}
)

// connSet is what both echo servers keep per accepted connection.
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

func echo(c net.Conn) {
	buf := make([]byte, 1<<16)
	for {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// ---- ours

type oursServer struct {
	l    *dtls.Listener
	cs   connSet
	done chan struct{}
}

func startOurs(tb testing.TB) server {
	p := getPKI(tb)
	l, err := dtls.Listen("udp", "127.0.0.1:0", &dtls.Config{
		CertificatePEM: p.certPEM, KeyPEM: p.keyPEM, CipherList: ourCipher,
		HandshakeTimeout: handshakeTimeout,
	})
	if err != nil {
		tb.Fatal(err)
	}
	s := &oursServer{l: l, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.cs.add(c)
			go func() {
				defer s.cs.done(c)
				defer c.Close()
				echo(c)
			}()
		}
	}()
	return s
}

func (s *oursServer) addr() *net.UDPAddr { return s.l.Addr().(*net.UDPAddr) }
func (s *oursServer) peers() int         { return s.l.PeerCount() }
func (s *oursServer) close() {
	s.l.Close()
	<-s.done
	s.cs.closeAll()
}

func dialOurs(tb testing.TB, addr *net.UDPAddr) net.Conn {
	c, err := dtls.Dial("udp", addr.String(), &dtls.Config{
		RootCAs: getPKI(tb).pool, ServerName: "localhost", CipherList: ourCipher,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// ---- pion

func quietPion() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	return f
}

type pionServer struct {
	l    net.Listener
	cs   connSet
	done chan struct{}
}

// startPion is pion's listener as its documentation has it, with the
// handshake moved off the accept loop (its example runs it inline, which
// would let one forged source block every other for 30 s): each accepted
// connection gets a goroutine that handshakes with a 10 s timeout, then
// echoes.
func startPion(tb testing.TB) server {
	p := getPKI(tb)
	l, err := piondtls.ListenWithOptions("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)},
		piondtls.WithCertificates(p.tlsCert),
		piondtls.WithCipherSuites(pionCipher),
		piondtls.WithLoggerFactory(quietPion()),
	)
	if err != nil {
		tb.Fatal(err)
	}
	s := &pionServer{l: l, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.cs.add(c)
			go func() {
				defer s.cs.done(c)
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
				err := c.(*piondtls.Conn).HandshakeContext(ctx)
				cancel()
				if err != nil {
					return
				}
				echo(c)
			}()
		}
	}()
	return s
}

func (s *pionServer) addr() *net.UDPAddr { return s.l.Addr().(*net.UDPAddr) }
func (s *pionServer) peers() int         { return s.cs.len() }
func (s *pionServer) close() {
	s.l.Close()
	<-s.done
	s.cs.closeAll()
}

func dialPion(tb testing.TB, addr *net.UDPAddr) net.Conn {
	c, err := piondtls.DialWithOptions("udp", addr,
		piondtls.WithRootCAs(getPKI(tb).pool),
		piondtls.WithServerName("localhost"),
		piondtls.WithCipherSuites(pionCipher),
		piondtls.WithLoggerFactory(quietPion()),
	)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		tb.Fatal(err)
	}
	return c
}

// ---- plain UDP reflector: answers every datagram with a fixed
// HelloVerifyRequest-shaped datagram, on one goroutine, no allocation.

type reflector struct {
	pc   *net.UDPConn
	done chan struct{}
}

func startReflector(tb testing.TB) server {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	r := &reflector{pc: pc, done: make(chan struct{})}
	hvr := fakeHVR()
	go func() {
		defer close(r.done)
		buf := make([]byte, 1<<16)
		for {
			_, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			_, _ = pc.WriteToUDPAddrPort(hvr, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
		}
	}()
	return r
}

func (r *reflector) addr() *net.UDPAddr { return r.pc.LocalAddr().(*net.UDPAddr) }
func (r *reflector) peers() int         { return 0 }
func (r *reflector) close()             { r.pc.Close(); <-r.done }

// fakeHVR is a HelloVerifyRequest record with a 20-byte cookie: the size
// OpenSSL's answer has here.
func fakeHVR() []byte {
	body := []byte{0xfe, 0xff, 20}
	body = append(body, make([]byte, 20)...)
	hs := []byte{3, 0, 0, byte(len(body)), 0, 0, 0, 0, 0, 0, 0, byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(hs))}
	return append(rec, hs...)
}
