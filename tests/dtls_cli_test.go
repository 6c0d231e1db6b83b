package tests

// Interop tests of the dtls package (dtls.Listener, dtls.Dial) against the
// command-line DTLS peers of OpenSSL (s_client, s_server) and GnuTLS
// (gnutls-cli, gnutls-serv), over real loopback UDP, with data both ways.
// Everything here is prefixed "cli" (helpers) or "TestDTLSLayer" (tests) so
// as not to clash with the rest of the package; run them with
//
//	go test -race -run TestDTLSLayer ./tests/

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testcert"
)

// cliTimeout bounds every peer process and every wait on one.
const cliTimeout = 20 * time.Second

// cliPKI is a CA and a server certificate for "localhost", 127.0.0.1 and
// ::1, written to a temporary directory for the command-line peers.
type cliPKI struct {
	ca     *testcert.CA
	server *testcert.Pair
	caFile string
}

func cliNewPKI(t *testing.T) *cliPKI {
	t.Helper()
	dir := t.TempDir()
	ca := testcert.NewCA(t, "dtls cli interop CA")
	return &cliPKI{
		ca:     ca,
		server: ca.Issue(t, "localhost", testcert.Options{}).Files(t, dir, "server"),
		caFile: ca.WriteCA(t, dir),
	}
}

func (p *cliPKI) serverConfig() *dtls.Config {
	return &dtls.Config{CertificatePEM: p.server.CertPEM, KeyPEM: p.server.KeyPEM}
}

func (p *cliPKI) clientConfig(serverName string) *dtls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.Cert)
	return &dtls.Config{ServerName: serverName, RootCAs: pool}
}

// cliCheckLeaks fails the test if it leaves goroutines behind. Call it
// first, so that its cleanup runs after every other one (peers killed and
// waited for, listeners and connections closed).
func cliCheckLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// cliLookPath returns the path of a command-line peer, skipping the test
// when it is not installed.
func cliLookPath(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("this interop test needs %s, not found in $PATH (apt-get install openssl gnutls-bin): %v", name, err)
	}
	return path
}

// cliFreeUDPPort returns a UDP port nobody listens on right now, for a
// peer that must be told its port. network "udp" reserves it on the
// dual-stack wildcard address, for peers (gnutls-serv) that bind 0.0.0.0
// and :: both; "udp4" on 127.0.0.1 only.
func cliFreeUDPPort(t *testing.T, network string) int {
	t.Helper()
	laddr := &net.UDPAddr{}
	if network == "udp4" {
		laddr.IP = net.IPv4(127, 0, 0, 1)
	}
	c, err := net.ListenUDP(network, laddr)
	require.NoError(t, err)
	port := c.LocalAddr().(*net.UDPAddr).Port
	require.NoError(t, c.Close())
	return port
}

// cliOutput collects what a peer prints on stdout and stderr (one pipe, so
// lines keep their order) and wakes a waiter on every write.
type cliOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // capacity 1
}

func (o *cliOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (o *cliOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// cliProc is a running command-line peer.
type cliProc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *cliOutput
	done  chan struct{} // closed once the process exited and its output is drained
	err   error         // cmd.Wait's result, valid after done
}

// cliStart starts bin with args under a cliTimeout context. The process is
// killed if still running and waited for in t.Cleanup; its output is
// logged when the test failed.
func cliStart(t *testing.T, bin, name string, args ...string) *cliProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	cmd := exec.CommandContext(ctx, bin, args...)
	out := &cliOutput{changed: make(chan struct{}, 1)}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatalf("stdin pipe for %s: %v", name, err)
	}
	p := &cliProc{t: t, name: name, cmd: cmd, stdin: stdin, out: out, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", cmd, err)
	}
	t.Logf("started %s", strings.Join(cmd.Args, " "))
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s (%v):\n%s", p.name, p.err, p.out.String())
		}
	})
	return p
}

// waitFor waits until the peer's output contains s, failing the test when
// the peer exits first or after cliTimeout.
func (p *cliProc) waitFor(s string) {
	p.t.Helper()
	timer := time.NewTimer(cliTimeout)
	defer timer.Stop()
	for {
		if strings.Contains(p.out.String(), s) {
			return
		}
		select {
		case <-p.out.changed:
		case <-p.done:
			if strings.Contains(p.out.String(), s) {
				return
			}
			p.t.Fatalf("%s exited (%v) before printing %q; output:\n%s", p.name, p.err, s, p.out.String())
		case <-timer.C:
			p.t.Fatalf("%s did not print %q within %v; output:\n%s", p.name, s, cliTimeout, p.out.String())
		}
	}
}

// send writes s to the peer's stdin.
func (p *cliProc) send(s string) {
	p.t.Helper()
	_, err := io.WriteString(p.stdin, s)
	require.NoError(p.t, err, "writing to %s's stdin", p.name)
}

// closeStdin gives the peer end of file on its stdin.
func (p *cliProc) closeStdin() {
	p.t.Helper()
	require.NoError(p.t, p.stdin.Close())
}

// wait waits for the peer to exit on its own and returns cmd.Wait's error.
func (p *cliProc) wait() error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(cliTimeout):
		p.t.Fatalf("%s did not exit within %v; output:\n%s", p.name, cliTimeout, p.out.String())
		return nil
	}
}

// cliEchoed is what the echo handler saw on one connection.
type cliEchoed struct {
	remote   string
	state    dtls.ConnectionState
	received []string // each record read, in order
	endErr   error    // the Read error that ended the loop
}

// cliEchoServer accepts connections on a Listener and echoes each record
// back as one record, remembering what it saw.
type cliEchoServer struct {
	mu      sync.Mutex
	conns   []net.Conn
	closing bool            // cleanup began: close what Accept returns
	ended   chan *cliEchoed // one per connection, when its loop ends
	done    chan struct{}   // the accept loop and every handler returned
}

// cliServeEcho starts the accept loop. The Listener and every connection
// are closed, and all handlers waited for, in t.Cleanup.
func cliServeEcho(t *testing.T, l *dtls.Listener) *cliEchoServer {
	s := &cliEchoServer{ended: make(chan *cliEchoed, 64), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			e := &cliEchoed{remote: c.RemoteAddr().String(), state: c.(*dtls.Conn).ConnectionState()}
			s.mu.Lock()
			if s.closing {
				s.mu.Unlock()
				c.Close()
				continue
			}
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 1<<16)
				for {
					n, err := c.Read(buf)
					if err != nil {
						s.mu.Lock()
						e.endErr = err
						s.mu.Unlock()
						s.ended <- e
						return
					}
					s.mu.Lock()
					e.received = append(e.received, string(buf[:n]))
					s.mu.Unlock()
					if _, err := c.Write(buf[:n]); err != nil {
						s.mu.Lock()
						e.endErr = fmt.Errorf("echo write: %w", err)
						s.mu.Unlock()
						s.ended <- e
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		s.mu.Lock()
		s.closing = true
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		select {
		case <-s.done:
		case <-time.After(cliTimeout):
			t.Errorf("echo server did not stop within %v", cliTimeout)
		}
	})
	return s
}

// waitEnded waits for n connections' handlers to end and returns what they
// saw.
func (s *cliEchoServer) waitEnded(t *testing.T, n int) []*cliEchoed {
	t.Helper()
	timer := time.NewTimer(cliTimeout)
	defer timer.Stop()
	var got []*cliEchoed
	for len(got) < n {
		select {
		case e := <-s.ended:
			got = append(got, e)
		case <-timer.C:
			t.Fatalf("only %d of %d echo handlers ended within %v", len(got), n, cliTimeout)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*cliEchoed, len(got))
	for i, e := range got {
		c := *e
		c.received = append([]string(nil), e.received...)
		out[i] = &c
	}
	return out
}

// cliReadRecord reads one record from c within cliTimeout.
func cliReadRecord(t *testing.T, c net.Conn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(cliTimeout)))
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	require.NoError(t, err, "reading a record")
	return string(buf[:n])
}

// cliSniffConn is a PacketConn that notes the cookie length of the first
// HelloVerifyRequest it reads.
type cliSniffConn struct {
	net.PacketConn
	mu        sync.Mutex
	cookieLen int // -1 until a HelloVerifyRequest arrived
}

func (c *cliSniffConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	// Record header (13), handshake header (12), server_version (2), then
	// the cookie's length byte.
	const off = 13 + 12 + 2
	if err == nil && n > off && p[0] == 22 && p[13] == 3 {
		c.mu.Lock()
		if c.cookieLen < 0 {
			c.cookieLen = int(p[off])
		}
		c.mu.Unlock()
	}
	return n, a, err
}

// cliProbeCookieLen returns the length of the cookie a dtls.Listener with
// the default CookieSigner puts in its HelloVerifyRequest, as seen on the
// wire by a dtls.Client handshaking with it.
func cliProbeCookieLen(t *testing.T, p *cliPKI) int {
	t.Helper()
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	sniff := &cliSniffConn{PacketConn: uc, cookieLen: -1}
	c, err := dtls.Client(sniff, l.Addr(), p.clientConfig("localhost"))
	if err != nil {
		uc.Close()
		t.Fatalf("dtls.Client: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	require.NoError(t, c.HandshakeContext(ctx), "probe handshake with a dtls.Listener")
	require.True(t, c.ConnectionState().CookieExchanged)
	sniff.mu.Lock()
	defer sniff.mu.Unlock()
	require.GreaterOrEqual(t, sniff.cookieLen, 0, "the probe saw no HelloVerifyRequest")
	t.Logf("dtls.Listener's HelloVerifyRequest cookie: %d bytes", sniff.cookieLen)
	return sniff.cookieLen
}

// TestDTLSLayerSClientConcurrentEcho runs four `openssl s_client -dtls1_2`
// at once against a dtls.Listener echoing every record: each sends its own
// line and must see exactly that line echoed, then ends with close_notify.
func TestDTLSLayerSClientConcurrentEcho(t *testing.T) {
	cliCheckLeaks(t)
	bin := cliLookPath(t, "openssl")
	p := cliNewPKI(t)
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	srv := cliServeEcho(t, l)
	addr := l.Addr().String()

	const clients = 4
	procs := make([]*cliProc, clients)
	lines := make([]string, clients)
	for i := range procs {
		// -nocommands: a line starting with Q, R, k... is data, not a
		// command. -verify_ip checks the certificate's IP SAN.
		procs[i] = cliStart(t, bin, fmt.Sprintf("s_client#%d", i), "s_client", "-dtls1_2",
			"-connect", addr, "-CAfile", p.caFile, "-verify_return_error",
			"-verify_ip", "127.0.0.1", "-brief", "-nocommands")
		lines[i] = fmt.Sprintf("hello %d from openssl s_client %d\n", time.Now().UnixNano(), i)
	}
	for _, pr := range procs {
		pr.waitFor("CONNECTION ESTABLISHED")
	}
	for i, pr := range procs {
		pr.send(lines[i])
	}
	for i, pr := range procs {
		pr.waitFor(lines[i])
	}
	for i, pr := range procs {
		out := pr.out.String()
		assert.Contains(t, out, "Protocol version: DTLSv1.2", "s_client#%d", i)
		assert.Contains(t, out, "Verification: OK", "s_client#%d", i)
		assert.Equal(t, 1, strings.Count(out, lines[i]), "s_client#%d prints its echo once", i)
		for j := range lines {
			if j != i {
				assert.NotContains(t, out, lines[j], "s_client#%d got s_client#%d's line", i, j)
			}
		}
	}

	// End of file on stdin: s_client sends close_notify, which the
	// handler reads as io.EOF, and exits with status 0.
	for _, pr := range procs {
		pr.closeStdin()
	}
	for _, pr := range procs {
		assert.NoError(t, pr.wait(), "%s exit status", pr.name)
	}
	ended := srv.waitEnded(t, clients)
	var received []string
	for _, e := range ended {
		assert.ErrorIs(t, e.endErr, io.EOF, "connection from %s ends with the peer's close_notify", e.remote)
		assert.True(t, e.state.HandshakeComplete)
		assert.Equal(t, "DTLSv1.2", e.state.Version)
		assert.True(t, e.state.CookieExchanged)
		assert.Empty(t, e.state.PeerCertificates, "s_client sent no certificate")
		require.Len(t, e.received, 1, "one record per connection from %s", e.remote)
		received = append(received, e.received...)
	}
	assert.ElementsMatch(t, lines, received, "each s_client's line reached the server once")

	st := l.Stats()
	t.Logf("listener stats: %+v", st)
	assert.Equal(t, uint64(clients), st.HandshakesCompleted)
	assert.GreaterOrEqual(t, st.CookiesSent, uint64(clients))
	assert.GreaterOrEqual(t, st.CookiesVerified, uint64(clients))
	assert.Zero(t, st.HandshakesFailed)
	assert.Zero(t, st.HandshakesRefused)
	assert.Zero(t, st.CookiesRejected)
	assert.Eventually(t, func() bool { return l.Stats().LiveConns == 0 }, 5*time.Second, 10*time.Millisecond,
		"every connection closed")
}

// TestDTLSLayerDialSServer runs dtls.Dial against `openssl s_server
// -dtls1_2 -listen`, which answers the first ClientHello with a
// HelloVerifyRequest (DTLSv1_listen).
func TestDTLSLayerDialSServer(t *testing.T) {
	cliCheckLeaks(t)
	bin := cliLookPath(t, "openssl")
	p := cliNewPKI(t)
	port := cliFreeUDPPort(t, "udp4")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv := cliStart(t, bin, "s_server", "s_server", "-dtls1_2", "-listen",
		"-accept", addr, "-cert", p.server.CertFile, "-key", p.server.KeyFile,
		"-naccept", "1")
	srv.waitFor("ACCEPT")

	// No ServerName: Dial takes "127.0.0.1" from the address and checks
	// it against the certificate's IP SAN.
	c, err := dtls.Dial("udp", addr, p.clientConfig(""))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cs := c.ConnectionState()
	assert.True(t, cs.HandshakeComplete)
	assert.Equal(t, "DTLSv1.2", cs.Version)
	assert.NotEmpty(t, cs.CipherSuite)
	assert.True(t, cs.CookieExchanged, "s_server -listen sends a HelloVerifyRequest")
	assert.Equal(t, "127.0.0.1", cs.ServerName)
	require.NotEmpty(t, cs.PeerCertificates)
	assert.Equal(t, p.server.Leaf.Raw, cs.PeerCertificates[0].Raw, "s_server presented our certificate")

	// Conn -> s_server: s_server prints what it receives.
	fromClient := fmt.Sprintf("hello %d from dtls.Dial\n", time.Now().UnixNano())
	n, err := c.Write([]byte(fromClient))
	require.NoError(t, err)
	assert.Equal(t, len(fromClient), n)
	srv.waitFor(fromClient)

	// s_server -> Conn: s_server sends each stdin line as one record.
	fromServer := fmt.Sprintf("hello %d from openssl s_server\n", time.Now().UnixNano())
	srv.send(fromServer)
	assert.Equal(t, fromServer, cliReadRecord(t, c))

	// And once more each way, on the established connection.
	fromClient2 := "second line from dtls.Dial\n"
	_, err = c.Write([]byte(fromClient2))
	require.NoError(t, err)
	srv.waitFor(fromClient2)
	fromServer2 := "second line from openssl s_server\n"
	srv.send(fromServer2)
	assert.Equal(t, fromServer2, cliReadRecord(t, c))

	// close_notify: s_server closes the connection and, with -naccept 1,
	// exits with status 0.
	require.NoError(t, c.Close())
	require.NoError(t, srv.wait(), "s_server exit status")
	assert.Contains(t, srv.out.String(), "CONNECTION CLOSED")
}

// TestDTLSLayerGnuTLSCliEcho runs `gnutls-cli --udp` against a
// dtls.Listener echoing every record: two clients at once, each sending
// three lines and seeing each echoed.
func TestDTLSLayerGnuTLSCliEcho(t *testing.T) {
	cliCheckLeaks(t)
	bin := cliLookPath(t, "gnutls-cli")
	p := cliNewPKI(t)
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	srv := cliServeEcho(t, l)
	port := strconv.Itoa(l.Addr().(*net.UDPAddr).Port)

	// GnuTLS takes HelloVerifyRequest cookies of at most 32 bytes
	// (DTLS_MAX_COOKIE_SIZE in lib/gnutls_int.h, the DTLS 1.0 limit of RFC
	// 4347 §4.2.1; RFC 6347 raised it to 255): a longer one fails the
	// handshake with GNUTLS_E_UNEXPECTED_PACKET_LENGTH, which gnutls-cli
	// prints as "Error decoding the received TLS packet".
	if n := cliProbeCookieLen(t, p); n > 32 {
		t.Errorf("dtls.Listener sends a %d-byte HelloVerifyRequest cookie; GnuTLS clients reject cookies over 32 bytes", n)
	}

	const clients, perClient = 2, 3
	procs := make([]*cliProc, clients)
	for i := range procs {
		// gnutls-cli verifies 127.0.0.1 against the certificate's IP SAN.
		procs[i] = cliStart(t, bin, fmt.Sprintf("gnutls-cli#%d", i),
			"--udp", "--port", port, "--x509cafile", p.caFile, "127.0.0.1")
	}
	var sent []string
	for i, pr := range procs {
		pr.waitFor("- Handshake was completed")
		out := pr.out.String()
		assert.Contains(t, out, "- Status: The certificate is trusted.", "gnutls-cli#%d", i)
		assert.Contains(t, out, "(DTLS1.2-X.509)", "gnutls-cli#%d", i)
	}
	for j := 0; j < perClient; j++ {
		for i, pr := range procs {
			line := fmt.Sprintf("hello %d from gnutls-cli %d, line %d\n", time.Now().UnixNano(), i, j)
			sent = append(sent, line)
			pr.send(line)
			pr.waitFor(line)
		}
	}
	for i, pr := range procs {
		for _, line := range sent {
			want := 0
			if strings.Contains(line, fmt.Sprintf("gnutls-cli %d,", i)) {
				want = 1
			}
			assert.Equal(t, want, strings.Count(pr.out.String(), line), "gnutls-cli#%d output of %q", i, line)
		}
	}

	// End of file on stdin: gnutls-cli sends close_notify (gnutls_bye)
	// and exits with status 0.
	for _, pr := range procs {
		pr.closeStdin()
	}
	for _, pr := range procs {
		assert.NoError(t, pr.wait(), "%s exit status", pr.name)
	}
	ended := srv.waitEnded(t, clients)
	var received []string
	for _, e := range ended {
		assert.ErrorIs(t, e.endErr, io.EOF, "connection from %s ends with the peer's close_notify", e.remote)
		assert.Equal(t, "DTLSv1.2", e.state.Version)
		assert.Len(t, e.received, perClient, "records from %s", e.remote)
		received = append(received, e.received...)
	}
	assert.ElementsMatch(t, sent, received, "every line reached the server once")

	st := l.Stats()
	t.Logf("listener stats: %+v", st)
	assert.Equal(t, uint64(clients), st.HandshakesCompleted)
	assert.GreaterOrEqual(t, st.CookiesSent, uint64(clients))
	assert.Zero(t, st.HandshakesFailed)
}

// TestDTLSLayerDialGnuTLSServ runs dtls.Dial against `gnutls-serv --udp
// --echo`. gnutls-serv answers a ClientHello without a cookie with a
// HelloVerifyRequest unless started with --nocookie; CookieExchanged must
// report which happened.
func TestDTLSLayerDialGnuTLSServ(t *testing.T) {
	bin := cliLookPath(t, "gnutls-serv")
	for _, tc := range []struct {
		name   string
		flags  []string
		cookie bool
	}{
		{name: "cookie", cookie: true},
		{name: "nocookie", flags: []string{"--nocookie"}, cookie: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cliCheckLeaks(t)
			p := cliNewPKI(t)
			port := cliFreeUDPPort(t, "udp")
			args := append([]string{"--udp", "--port", strconv.Itoa(port),
				"--x509certfile", p.server.CertFile, "--x509keyfile", p.server.KeyFile, "--echo"}, tc.flags...)
			srv := cliStart(t, bin, "gnutls-serv", args...)
			srv.waitFor(fmt.Sprintf("listening on IPv4 0.0.0.0 port %d...done", port))

			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			c, err := dtls.Dial("udp", addr, p.clientConfig("localhost"))
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			cs := c.ConnectionState()
			assert.True(t, cs.HandshakeComplete)
			assert.Equal(t, "DTLSv1.2", cs.Version)
			assert.NotEmpty(t, cs.CipherSuite)
			assert.Equal(t, tc.cookie, cs.CookieExchanged, "gnutls-serv %v", tc.flags)
			require.NotEmpty(t, cs.PeerCertificates)
			assert.Equal(t, p.server.Leaf.Raw, cs.PeerCertificates[0].Raw, "gnutls-serv presented our certificate")

			for i := 0; i < 3; i++ {
				msg := fmt.Sprintf("hello %d from dtls.Dial, record %d\n", time.Now().UnixNano(), i)
				n, err := c.Write([]byte(msg))
				require.NoError(t, err)
				assert.Equal(t, len(msg), n)
				assert.Equal(t, msg, cliReadRecord(t, c), "gnutls-serv echoes record %d", i)
				// gnutls-serv logs what it echoed.
				srv.waitFor(fmt.Sprintf("*** Processing %d bytes command: %s", len(msg), msg))
			}
			// The largest record one datagram carries at the default MTU.
			// gnutls-serv's UDP echo reads a long record in pieces (254
			// bytes each with GnuTLS 3.7.9, the same with gnutls-cli as
			// the client) and echoes each piece as a record of its own:
			// together they must be the bytes sent.
			big := make([]byte, c.MaxPayload())
			for i := range big {
				big[i] = 'a' + byte(i%26)
			}
			require.Greater(t, len(big), 1000)
			n, err := c.Write(big)
			require.NoError(t, err)
			assert.Equal(t, len(big), n)
			var echoed strings.Builder
			records := 0
			for echoed.Len() < len(big) {
				echoed.WriteString(cliReadRecord(t, c))
				records++
			}
			assert.Equal(t, string(big), echoed.String(), "gnutls-serv echoes a %d-byte record", len(big))
			t.Logf("a %d-byte record came back as %d record(s)", len(big), records)
			require.NoError(t, c.Close())
		})
	}
}
