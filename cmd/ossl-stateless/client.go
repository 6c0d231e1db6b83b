package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
)

// errInterrupted ends the client on SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

// session is an established connection and what the handshake told.
type session struct {
	conn      net.Conn
	datagrams bool // DTLS: one reply per record; TLS: a byte stream
	protocol  string
	version   string
	cipher    string
	cookie    string
	srtp      string // the SRTP profile agreed, with -use_srtp
	peer      *x509.Certificate
	export    func(label string, context []byte, length int) ([]byte, error)
	free      func()                // frees what outlives conn (the TLS client's Ctx)
	psk       *dtls.ConnectionState // a DTLS handshake a pre-shared key authenticated
	alpn      string                // the application protocol ALPN agreed on
	// The maximum fragment length agreed (-maxfraglen) and the most a
	// record carries.
	maxFrag, maxPayload int
	resumed             bool // the handshake resumed a session (-sess_in)
}

func runClient(o *clientOpts, stdin io.Reader, stdout, stderr io.Writer, sig <-chan os.Signal) error {
	creds, err := loadCredentials(&o.common)
	if err != nil {
		return err
	}
	var roots *x509.CertPool
	if o.caFile != "" {
		if roots, _, err = loadCAs(o.caFile); err != nil {
			return err
		}
	}
	name := o.servername
	if name == "" {
		name, _, _ = net.SplitHostPort(o.connect)
	}

	interrupted := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sig:
			close(interrupted)
		case <-done:
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	go func() {
		select {
		case <-interrupted:
			cancel()
		case <-ctx.Done():
		}
	}()
	var sess *session
	if o.tls13 {
		sess, err = dialTLS(ctx, o, creds, name)
	} else {
		sess, err = dialDTLS(ctx, o, creds, roots, name)
	}
	if err != nil {
		select {
		case <-interrupted:
			return errInterrupted
		default:
		}
		return err
	}
	defer sess.free()

	info := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, format+"\n", args...)
		}
	}
	info("CONNECTED %s (%s, from %s)", sess.conn.RemoteAddr(), sess.protocol, sess.conn.LocalAddr())
	info("Protocol version: %s", sess.version)
	info("Cipher: %s", sess.cipher)
	info("Cookie exchange: %s", sess.cookie)
	if sess.resumed {
		info("Session: resumed")
	}
	if sess.alpn != "" {
		info("ALPN protocol: %s", sess.alpn)
	}
	if o.maxFragLen != 0 {
		if sess.maxFrag != 0 {
			info("Max fragment length: %d (records of at most %d bytes)", sess.maxFrag, sess.maxPayload)
		} else {
			info("Max fragment length: %d asked, not agreed (records of at most %d bytes)", o.maxFragLen, sess.maxPayload)
		}
	}
	if sess.peer != nil {
		info("Server certificate: %s (SHA-256 %s)", sess.peer.Subject, fingerprint(sess.peer))
	}
	if sess.psk != nil {
		info("%s", pskVerification(*sess.psk))
	} else if o.insecure {
		info("Verification: skipped (-insecure)")
	} else {
		info("Verification: OK (%s)", name)
	}
	if sess.srtp != "" {
		info("SRTP Extension negotiated, profile=%s", sess.srtp)
	}
	if o.keymatLabel != "" {
		km, err := sess.export(o.keymatLabel, nil, o.keymatLen)
		if err != nil {
			sess.conn.Close()
			return fmt.Errorf("-keymatexport: %w", err)
		}
		info("%s", strings.TrimSuffix(keymatText(o.keymatLabel, km), "\n"))
	}
	return exchange(sess, o, stdin, stdout, info, interrupted)
}

// exchange sends stdin line by line and prints the replies; at the end of
// stdin it waits for outstanding replies, then closes with close_notify.
func exchange(sess *session, o *clientOpts, stdin io.Reader, stdout io.Writer, info func(string, ...any), interrupted <-chan struct{}) error {
	conn := sess.conn
	var replies, replyBytes atomic.Int64
	activity := make(chan struct{}, 1)
	readErr := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				readErr <- fmt.Errorf("internal error: %v", v)
			}
		}()
		buf := make([]byte, 1<<16) // a whole record: DTLS drops what does not fit
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				_, _ = stdout.Write(buf[:n])
				replyBytes.Add(int64(n))
				replies.Add(1)
				select {
				case activity <- struct{}{}:
				default:
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()

	lines := make(chan string)
	stdinErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		br := bufio.NewReaderSize(stdin, 64<<10)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				select {
				case lines <- line:
				case <-stop:
					return
				}
			}
			if err != nil {
				stdinErr <- err
				return
			}
		}
	}()

	var sent, sentBytes int64
	// closed closes the connection (close_notify) and waits for the
	// reader, so that every reply is printed before we return.
	closed := false
	closeConn := func() {
		if !closed {
			closed = true
			_ = conn.Close()
			select {
			case <-readErr:
			case <-time.After(time.Second):
			}
		}
	}
	defer closeConn()

	peerClosed := func(err error) error {
		if errors.Is(err, io.EOF) {
			info("CLOSED by the server (close_notify) after %d line(s) sent, %d repl%s", sent, replies.Load(), plural(replies.Load(), "y", "ies"))
			closed = true
			_ = conn.Close()
			return nil
		}
		closed = true
		_ = conn.Close()
		if msg, ok := alertMessage(err); ok {
			return fmt.Errorf("connection to %s: %s", o.connect, msg)
		}
		return fmt.Errorf("connection to %s: %w", o.connect, err)
	}

	for eof := false; !eof; {
		select {
		case line := <-lines:
			if _, err := conn.Write([]byte(line)); err != nil {
				if errors.Is(err, dtls.ErrMessageTooLarge) {
					return fmt.Errorf("stdin line %d is %d bytes: one datagram carries at most %d here (raise -mtu or shorten the line)",
						sent+1, len(line), conn.(*dtls.Conn).MaxPayload())
				}
				// A write fails once the server has ended the connection;
				// why (an alert, a close_notify) reaches the reader.
				select {
				case rerr := <-readErr:
					return peerClosed(rerr)
				case <-time.After(500 * time.Millisecond):
				}
				return fmt.Errorf("sending to %s: %w", o.connect, err)
			}
			sent++
			sentBytes += int64(len(line))
		case err := <-stdinErr:
			if !errors.Is(err, io.EOF) {
				return fmt.Errorf("reading stdin: %w", err)
			}
			eof = true
		case err := <-readErr:
			return peerClosed(err)
		case <-interrupted:
			return errInterrupted
		}
	}

	// Wait for the replies: as many as lines sent (TLS: as many bytes),
	// or until none came for -wait.
	want, got := sent, &replies
	if !sess.datagrams {
		want, got = sentBytes, &replyBytes
	}
	timer := time.NewTimer(o.wait)
	defer timer.Stop()
wait:
	for got.Load() < want {
		select {
		case <-activity:
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(o.wait)
		case <-timer.C:
			break wait
		case err := <-readErr:
			return peerClosed(err)
		case <-interrupted:
			return errInterrupted
		}
	}
	closeConn()
	if sess.datagrams {
		info("DONE %d line(s) sent, %d repl%s received", sent, replies.Load(), plural(replies.Load(), "y", "ies"))
	} else {
		info("DONE %d line(s) sent (%d bytes), %d bytes received", sent, sentBytes, replyBytes.Load())
	}
	return nil
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// refusalWatch is a connected UDP socket as a net.PacketConn that notices
// ICMP port unreachable (ECONNREFUSED), which dtls.Conn's reader skips: the
// handshake then fails at once instead of at its timeout.
type refusalWatch struct {
	*net.UDPConn
	raddr   *net.UDPAddr
	once    sync.Once
	refused chan struct{}
}

func (w *refusalWatch) note(err error) {
	if err != nil && errors.Is(err, syscall.ECONNREFUSED) {
		w.once.Do(func() { close(w.refused) })
	}
}

func (w *refusalWatch) ReadFrom(p []byte) (int, net.Addr, error) {
	n, err := w.UDPConn.Read(p)
	w.note(err)
	return n, w.raddr, err
}

func (w *refusalWatch) WriteTo(p []byte, _ net.Addr) (int, error) {
	n, err := w.UDPConn.Write(p)
	w.note(err)
	return n, err
}

func dialDTLS(ctx context.Context, o *clientOpts, creds *credentials, roots *x509.CertPool, name string) (*session, error) {
	raddr, err := net.ResolveUDPAddr("udp", o.connect)
	if err != nil {
		return nil, dialError(o.connect, err)
	}
	uc, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, dialError(o.connect, err)
	}
	pc := &refusalWatch{UDPConn: uc, raddr: raddr, refused: make(chan struct{})}
	cfg := &dtls.Config{
		RootCAs:                roots,
		ServerName:             name,
		InsecureSkipVerify:     o.insecure,
		MTU:                    o.mtu,
		HandshakeTimeout:       o.timeout,
		CipherList:             o.cipher,
		SRTPProtectionProfiles: o.srtp,
		MaxFragmentLength:      o.maxFragLen,
	}
	if creds != nil {
		cfg.CertificatePEM, cfg.KeyPEM = creds.certPEM, creds.keyPEM
	}
	if o.dtls12 {
		cfg.MinVersion, cfg.MaxVersion = dtls.VersionDTLS12, dtls.VersionDTLS12
	}
	if err := o.iotOpts.clientConfig(cfg); err != nil {
		uc.Close()
		return nil, err
	}
	c, err := dtls.Client(pc, raddr, cfg)
	if err != nil {
		uc.Close()
		return nil, err
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-pc.refused:
			cancel()
		case <-hctx.Done():
		}
	}()
	if err := c.HandshakeContext(hctx); err != nil {
		c.Close()
		select {
		case <-pc.refused:
			return nil, fmt.Errorf("cannot connect to %s: connection refused (ICMP port unreachable): no DTLS server there", o.connect)
		default:
		}
		return nil, handshakeError("DTLS", o, err)
	}
	if err := o.sessionWritten(); err != nil {
		c.Close()
		return nil, err
	}
	cs := c.ConnectionState()
	sess := &session{
		conn:      c,
		datagrams: true,
		protocol:  "DTLS over UDP",
		version:   dtlsVersionText(cs.Version),
		cipher:    openssl.CipherSuiteOpenSSLName(cs.CipherSuite),
		cookie:    "no",
		export:    cs.ExportKeyingMaterial,
		free:      func() {},
	}
	if len(o.srtp) > 0 {
		sess.srtp = "none"
		if p := cs.SRTPProtectionProfile; p != 0 {
			sess.srtp = srtpOpenSSLName(p)
		}
	}
	if cs.CookieExchanged {
		sess.cookie = "yes (HelloVerifyRequest)"
	}
	sess.maxFrag, sess.maxPayload = cs.MaxFragmentLength, c.MaxPayload()
	if len(cs.PeerCertificates) > 0 {
		sess.peer = cs.PeerCertificates[0]
	}
	if cs.PSKIdentity != "" {
		sess.psk = &cs
	}
	sess.alpn = cs.NegotiatedProtocol
	sess.resumed = cs.DidResume
	return sess, nil
}

func dialTLS(ctx context.Context, o *clientOpts, creds *credentials, name string) (*session, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", o.connect)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cannot connect to %s: no answer within %v", o.connect, o.timeout)
		}
		return nil, dialError(o.connect, err)
	}
	sslCtx, err := openssl.NewCtx(openssl.TLSClientMethod)
	if err != nil {
		raw.Close()
		return nil, err
	}
	fail := func(err error) (*session, error) {
		raw.Close()
		sslCtx.Close()
		return nil, err
	}
	if err := sslCtx.SetMinProtoVersion(openssl.VersionTLS13); err != nil {
		return fail(err)
	}
	if creds != nil {
		if err := sslCtx.UseCertificatePEM(creds.certPEM); err != nil {
			return fail(fmt.Errorf("-cert %s: %w", o.cert, err))
		}
		if err := sslCtx.UsePrivateKeyPEM(creds.keyPEM); err != nil {
			return fail(fmt.Errorf("-key %s: %w", o.key, err))
		}
	}
	// OpenSSL verifies the chain and the name, and on failure sends the
	// server an alert, as s_client -verify_return_error does.
	if o.insecure {
		err = sslCtx.SetVerify(openssl.VerifyNone, -1)
	} else {
		if o.caFile != "" {
			err = sslCtx.LoadVerifyLocations(o.caFile, "")
		} else {
			err = sslCtx.SetDefaultVerifyPaths()
		}
		if err == nil {
			err = sslCtx.SetVerify(openssl.VerifyPeer, -1)
		}
	}
	if err != nil {
		return fail(err)
	}
	sniff := &helloSniffer{Conn: raw}
	sc, err := openssl.NewClientConn(sniff, sslCtx)
	if err != nil {
		return fail(err)
	}
	// SNI (a host name; an IP address is not sent), and with
	// verification the name or address the certificate must carry.
	err = sc.SSL().SetServerName(name)
	if err == nil && !o.insecure {
		err = sc.SSL().SetHost(name)
	}
	if err != nil {
		sc.Close()
		return fail(fmt.Errorf("-servername %s: %w", name, err))
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stopWatch := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	err = sc.Handshake()
	stopWatch()
	if err != nil {
		var ve *openssl.VerifyError
		if !o.insecure && errors.As(sc.SSL().VerifyResult(), &ve) {
			err = ve
		}
		sc.Close()
		sslCtx.Close()
		if ctx.Err() == context.DeadlineExceeded || errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("no TLS handshake with %s within %v: no answer", o.connect, o.timeout)
		}
		return nil, handshakeError("TLS", o, err)
	}
	_ = raw.SetDeadline(time.Time{})
	sess := &session{
		conn:      sc,
		datagrams: false,
		protocol:  "TLS over TCP",
		version:   sc.SSL().Version(),
		cipher:    sc.SSL().CipherName(),
		cookie:    sniff.Verdict(),
		export:    sc.ExportKeyingMaterial,
		free:      func() { sslCtx.Close() },
	}
	if certs, err := sc.SSL().PeerCertificates(); err == nil && len(certs) > 0 {
		sess.peer = certs[0]
	}
	return sess, nil
}

// dialError shortens a resolve or connect error.
func dialError(addr string, err error) error {
	var de *net.DNSError
	if errors.As(err, &de) {
		return fmt.Errorf("cannot resolve %s: %s", de.Name, de.Err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
	}
	return fmt.Errorf("cannot connect to %s: %w", addr, err)
}

// handshakeError explains a failed handshake.
func handshakeError(proto string, o *clientOpts, err error) error {
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		hint := "give the CA that issued it with -CAfile, or skip verification with -insecure"
		var ua x509.UnknownAuthorityError
		var he x509.HostnameError
		switch {
		case errors.As(ve.Err, &he):
			hint = "connect by a name the certificate carries, or set -servername"
		case !errors.As(ve.Err, &ua):
			hint = "skip verification with -insecure to connect anyway"
		}
		return fmt.Errorf("the certificate of %s does not verify: %v (%s)", o.connect, ve.Err, hint)
	}
	var oe *openssl.VerifyError
	if errors.As(err, &oe) {
		hint := "give the CA that issued it with -CAfile, or skip verification with -insecure"
		switch {
		case oe.Code.IsNameMismatch():
			hint = "connect by a name the certificate carries, or set -servername"
		case oe.Code == openssl.VerifyErrCertHasExpired, oe.Code == openssl.VerifyErrCertNotYetValid:
			hint = "skip verification with -insecure to connect anyway"
		}
		return fmt.Errorf("the certificate of %s does not verify: %s (%s)", o.connect, oe.Code, hint)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("no %s handshake with %s within %v: no answer (is a %s server listening there?)", proto, o.connect, o.timeout, proto)
	}
	if errors.Is(err, context.Canceled) {
		return errInterrupted
	}
	if msg, ok := alertMessage(err); ok {
		return fmt.Errorf("%s handshake with %s failed: %s", proto, o.connect, msg)
	}
	return fmt.Errorf("%s handshake with %s failed: %w", proto, o.connect, err)
}

// alertMessage describes an alert from the server, with a hint where one
// helps. A TLS 1.3 client learns that the server wanted its certificate
// only after its side of the handshake, on its first read.
func alertMessage(err error) (string, bool) {
	var alert openssl.AlertError
	if !errors.As(err, &alert) {
		return "", false
	}
	msg := "the server sent an alert: " + alert.String()
	switch alert {
	case openssl.AlertCertificateRequired:
		msg += ": it wants a client certificate (give -cert and -key)"
	case openssl.AlertHandshakeFailure:
		msg += ": it may want a client certificate (-cert and -key), or share no version or cipher with us"
	}
	return msg, true
}

// dtlsVersionText names a DTLS version as OpenSSL's SSL_get_version does.
func dtlsVersionText(v uint16) string {
	switch v {
	case dtls.VersionDTLS12:
		return "DTLSv1.2"
	case dtls.VersionDTLS10:
		return "DTLSv1"
	}
	return dtls.VersionName(v)
}
