package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
)

// shutdownGrace bounds how long the server waits for its connections to
// close after a signal.
const shutdownGrace = 5 * time.Second

// errBackendClosed ends a TCP relay whose backend closed its connection.
var errBackendClosed = errors.New("closed by the backend")

// server is what the DTLS and the TLS servers share: the connections they
// serve, the handlers' bookkeeping and the relay loops.
type server struct {
	o            *serverOpts
	log          *slog.Logger
	stdout       io.Writer
	stderr       io.Writer
	notice       string // about the self-signed certificate, printed once listening
	clientCAs    *x509.CertPool
	clientCAsPEM []byte
	backend      string     // forward mode's backend, resolved
	outMu        sync.Mutex // one report block at a time on stdout

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

func runServer(o *serverOpts, stdout, stderr io.Writer, sig <-chan os.Signal) error {
	// Everything that can fail on a file or a name fails before the
	// server prints anything.
	creds, err := loadCredentials(&o.common)
	if err != nil {
		return err
	}
	var secret []byte // nil: NewCookieSigner picks a random one
	if o.cookieSecret != "" {
		if secret, err = loadCookieSecret(o.cookieSecret); err != nil {
			return err
		}
	}
	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelWarn
	}
	s := &server{
		o:      o,
		log:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		stdout: stdout,
		conns:  make(map[net.Conn]struct{}),
	}
	if o.caFile != "" {
		if s.clientCAs, s.clientCAsPEM, err = loadCAs(o.caFile); err != nil {
			return err
		}
	}
	if o.mode == "forward" {
		network := "udp"
		if o.tls13 {
			network = "tcp"
		}
		if s.backend, err = resolve(network, o.backend); err != nil {
			return fmt.Errorf("-backend %s: %w", o.backend, err)
		}
	}
	if creds == nil && !o.nocert {
		host, _, _ := net.SplitHostPort(o.accept)
		if creds, err = selfSigned(host); err != nil {
			return fmt.Errorf("making a self-signed certificate: %w", err)
		}
		s.notice = fmt.Sprintf("%s: no -cert given: using a throwaway self-signed ECDSA P-256 certificate for %s (SHA-256 %s); clients need -insecure\n",
			prog, names(creds.leaf), fingerprint(creds.leaf))
		s.stderr = stderr
	}
	if o.tls13 {
		return s.runTLS(creds, sig)
	}
	return s.runDTLS(creds, secret, sig)
}

// ready announces that the server listens: the self-signed certificate's
// notice on stderr, then the ACCEPT line on stdout.
func (s *server) ready(addr net.Addr) {
	if s.notice != "" {
		fmt.Fprint(s.stderr, s.notice)
	}
	fmt.Fprintf(s.stdout, "ACCEPT %s\n", addr)
}

// resolve resolves host:port once, so that a bad backend is reported at
// start and not per client.
func resolve(network, addr string) (string, error) {
	var a net.Addr
	var err error
	if network == "udp" {
		a, err = net.ResolveUDPAddr(network, addr)
	} else {
		a, err = net.ResolveTCPAddr(network, addr)
	}
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) {
			return "", fmt.Errorf("cannot resolve %s: %s", de.Name, de.Err)
		}
		return "", err
	}
	return a.String(), nil
}

// listenError shortens a listen error to its cause.
func listenError(addr, network string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
	}
	return fmt.Errorf("cannot listen on %s (%s): %w", addr, network, err)
}

// udpPortFree fails when a socket is bound to addr's port already.
// dtls.Listen binds with SO_REUSEPORT on Linux (a connection's own socket
// shares the port), so a second server of the same user on the same port
// would start, and the kernel would split clients between the two, as
// `openssl s_server` refuses to. That is only of use with a shared cookie
// secret, whose cookies verify on either server. A plain bind, closed at
// once, asks the kernel; port 0 asks for a free one anyway.
func udpPortFree(addr string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil || ua.Port == 0 {
		return nil // dtls.Listen reports a bad address
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return err
	}
	return c.Close()
}

func (s *server) runDTLS(creds *credentials, secret []byte, sig <-chan os.Signal) error {
	o := s.o
	cfg := &dtls.Config{
		MTU:              o.mtu,
		HandshakeTimeout: o.timeout,
		Logger:           s.log,
	}
	if creds != nil {
		cfg.CertificatePEM, cfg.KeyPEM = creds.certPEM, creds.keyPEM
	}
	if err := o.iotOpts.serverConfig(cfg, s.log); err != nil {
		return err
	}
	if o.dtls12 {
		cfg.MinVersion, cfg.MaxVersion = dtls.VersionDTLS12, dtls.VersionDTLS12
	}
	signer, err := openssl.NewCookieSigner(secret, o.cookieAge)
	if err != nil {
		return err
	}
	cfg.CookieSigner = signer
	cfg.ClientCAs = s.clientCAs
	cfg.ClientAuth = o.clientAuth(s.clientCAs != nil)
	cfg.CipherList = o.cipher
	cfg.SRTPProtectionProfiles = o.srtp
	cfg.Readers = o.readers
	if secret == nil {
		if err := udpPortFree(o.accept); err != nil {
			return fmt.Errorf("%w (servers share a port only with the same -cookie-secret)", listenError(o.accept, "udp", err))
		}
	}
	l, err := dtls.Listen("udp", o.accept, cfg)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			return listenError(o.accept, "udp", err)
		}
		return err
	}
	s.ready(l.Addr())
	s.log.Info("listening", "addr", l.Addr().String(), "protocol", "DTLS", "mode", o.mode, "backend", o.backend, "readers", cfg.Readers)

	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := l.Accept()
			if err != nil {
				return // net.ErrClosed: the Listener was closed
			}
			s.start(c, func() error {
				s.report(c.(*dtls.Conn))
				return s.relay(c, true)
			})
		}
	}()

	got := <-sig
	s.log.Info("shutting down", "signal", got.String())
	_ = l.Close()
	<-acceptDone
	s.shutdown()
	st := l.Stats()
	fmt.Fprintf(s.stdout, "STATS cookies_sent=%d cookies_verified=%d cookies_rejected=%d handshakes_completed=%d handshakes_failed=%d handshakes_refused=%d live_conns=%d datagrams_dropped=%d queued_bytes=%d read_errors=%d\n",
		st.CookiesSent, st.CookiesVerified, st.CookiesRejected, st.HandshakesCompleted,
		st.HandshakesFailed, st.HandshakesRefused, st.LiveConns, st.DatagramsDropped, st.QueuedBytes, st.ReadErrors)
	return nil
}

// start serves a connection on a goroutine of its own, unless the server
// is shutting down.
func (s *server) start(c net.Conn, serve func() error) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		peer := c.RemoteAddr().String()
		var err error
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("internal error: %v", v)
			}
			_ = c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			if !errors.Is(err, errHandshake) {
				s.log.Info("connection closed", "peer", peer, "reason", s.closeReason(err))
			}
		}()
		err = serve()
	}()
}

// shutdown closes every connection (each sends close_notify) and waits,
// for a while, for their handlers.
func (s *server) shutdown() {
	s.mu.Lock()
	s.closing = true
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		s.log.Warn("connections still open after the grace period", "grace", shutdownGrace)
	}
}

// closeReason says in a few words why a connection ended.
func (s *server) closeReason(err error) string {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return "closed by the client"
	case errors.Is(err, net.ErrClosed):
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if closing {
			return "server shutting down"
		}
		return "closed"
	case errors.Is(err, errBackendClosed):
		return "closed by the backend"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf("idle for %v", s.o.idle)
	}
	return err.Error()
}

// armIdle sets the read deadline that closes an idle connection.
func (s *server) armIdle(c net.Conn) {
	if s.o.idle > 0 {
		_ = c.SetReadDeadline(time.Now().Add(s.o.idle))
	}
}

// relay serves one connection: it echoes, or forwards to the backend. A
// datagram connection relays message by message to a UDP backend; a
// stream one relays bytes to a TCP backend.
func (s *server) relay(c net.Conn, datagrams bool) error {
	if s.o.mode == "echo" {
		return s.echo(c, datagrams)
	}
	network := "tcp"
	if datagrams {
		network = "udp"
	}
	// One backend socket per client: the backend's replies come back on
	// the socket of the client they are for.
	b, err := net.DialTimeout(network, s.backend, s.o.timeout)
	if err != nil {
		return fmt.Errorf("backend %s: %w", s.backend, err)
	}
	defer b.Close()
	s.log.Debug("backend socket", "peer", c.RemoteAddr().String(), "local", b.LocalAddr().String())
	var last atomic.Int64 // time of the last message either way, for -idle
	last.Store(time.Now().UnixNano())

	back := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				back <- fmt.Errorf("internal error: %v", v)
			}
		}()
		back <- s.backToClient(c, b, datagrams, &last)
	}()
	err = s.clientToBack(c, b, datagrams, &last)
	if !datagrams && errors.Is(err, io.EOF) {
		// The client closed its side: let the backend finish its replies.
		if tc, ok := b.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_ = c.SetReadDeadline(time.Time{})
		select {
		case <-back:
			return err
		case <-time.After(s.o.timeout):
		}
	}
	_ = b.Close() // stops backToClient
	_ = c.Close()
	if berr := <-back; berr != nil && errors.Is(err, net.ErrClosed) {
		return berr // the backend side ended first, and closed c
	}
	return err
}

func (s *server) echo(c net.Conn, datagrams bool) error {
	buf := make([]byte, 1<<16)
	for {
		s.armIdle(c)
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				if errors.Is(werr, dtls.ErrMessageTooLarge) {
					s.log.Warn("echo dropped", "peer", c.RemoteAddr().String(), "err", werr)
					continue
				}
				return werr
			}
		}
		if err != nil {
			return err
		}
	}
}

// clientToBack relays what the client sends to the backend.
func (s *server) clientToBack(c, b net.Conn, datagrams bool, last *atomic.Int64) error {
	buf := make([]byte, 1<<16)
	for {
		s.armIdle(c)
		n, err := c.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := b.Write(buf[:n]); werr != nil {
				if datagrams && errors.Is(werr, syscall.ECONNREFUSED) {
					s.log.Warn("backend refused a datagram (nothing listening?)", "backend", s.backend)
					continue
				}
				return fmt.Errorf("backend %s: %w", s.backend, werr)
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, last.Load())) < s.o.idle {
				continue // the backend was talking
			}
			return err
		}
	}
}

// backToClient relays the backend's replies to the client.
func (s *server) backToClient(c, b net.Conn, datagrams bool, last *atomic.Int64) error {
	buf := make([]byte, 1<<16)
	for {
		n, err := b.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := c.Write(buf[:n]); werr != nil {
				if errors.Is(werr, dtls.ErrMessageTooLarge) {
					s.log.Warn("backend reply dropped", "peer", c.RemoteAddr().String(), "err", werr)
					continue
				}
				return werr
			}
		}
		if err != nil {
			if datagrams && errors.Is(err, syscall.ECONNREFUSED) {
				s.log.Warn("backend unreachable (ICMP port unreachable)", "backend", s.backend)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil // relay closed b
			}
			_ = c.Close() // close_notify to the client
			if errors.Is(err, io.EOF) {
				return errBackendClosed
			}
			return fmt.Errorf("backend %s: %w", s.backend, err)
		}
	}
}

// clientAuth is the policy -verify, -Verify and -CAfile ask for, with
// s_server's meanings: -verify asks for a certificate, -Verify requires
// one; -CAfile alone asks for one and verifies what comes. Without
// -CAfile a certificate is taken unverified (its fingerprint is logged).
func (o *serverOpts) clientAuth(haveCAs bool) tls.ClientAuthType {
	switch {
	case o.requireDepth >= 0 && haveCAs:
		return tls.RequireAndVerifyClientCert
	case o.requireDepth >= 0:
		return tls.RequireAnyClientCert
	case haveCAs:
		return tls.VerifyClientCertIfGiven
	case o.verifyDepth >= 0:
		return tls.RequestClientCert
	}
	return tls.NoClientCert
}

// report logs a DTLS connection's client certificate and prints the SRTP
// profile and keying material that -use_srtp and -keymatexport ask for.
func (s *server) report(c *dtls.Conn) {
	cs := c.ConnectionState()
	peer := c.RemoteAddr().String()
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		s.log.Info("client certificate", "peer", peer, "subject", leaf.Subject.String(),
			"sha256", fingerprint(leaf), "verified", len(cs.VerifiedChains) > 0)
	}
	if len(s.o.srtp) > 0 {
		name := "none"
		if p := cs.SRTPProtectionProfile; p != 0 {
			name = srtpOpenSSLName(p)
		}
		s.printf("SRTP Extension negotiated, profile=%s (peer %s)\n", name, peer)
	}
	s.printKeymat(peer, cs.ExportKeyingMaterial)
}

// printKeymat prints -keymatexport's keying material as s_server does.
func (s *server) printKeymat(peer string, export func(string, []byte, int) ([]byte, error)) {
	o := s.o
	if o.keymatLabel == "" {
		return
	}
	km, err := export(o.keymatLabel, nil, o.keymatLen)
	if err != nil {
		s.log.Warn("keying material export failed", "peer", peer, "err", err)
		return
	}
	s.printf("%s", keymatText(o.keymatLabel, km))
}

// printf writes one block to stdout: connections report concurrently.
func (s *server) printf(format string, args ...any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintf(s.stdout, format, args...)
}

// keymatText is the keying material block `openssl s_server` and
// `s_client` print for -keymatexport.
func keymatText(label string, km []byte) string {
	return fmt.Sprintf("Keying material exporter:\n    Label: '%s'\n    Length: %d bytes\n    Keying material: %X\n", label, len(km), km)
}

// srtpOpenSSLName is OpenSSL's name for a profile, as s_server prints it.
func srtpOpenSSLName(p dtls.SRTPProtectionProfile) string {
	for _, n := range []string{"SRTP_AES128_CM_SHA1_80", "SRTP_AES128_CM_SHA1_32", "SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_256_GCM"} {
		if q, err := openssl.ParseSRTPProtectionProfile(n); err == nil && q == p {
			return n
		}
	}
	return p.String()
}
