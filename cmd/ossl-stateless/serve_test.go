package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testpeer"
)

var statRE = regexp.MustCompile(`(\w+)=(\d+)`)

// parseStats reads a STATS line into a map.
func parseStats(t *testing.T, line string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, kv := range statRE.FindAllStringSubmatch(line, -1) {
		n, err := strconv.Atoi(kv[2])
		require.NoError(t, err)
		m[kv[1]] = n
	}
	return m
}

// clientResult runs clients concurrently, one per input, and returns their
// results in order.
func runClients(t *testing.T, inputs []string, args ...string) []result {
	t.Helper()
	results := make([]result, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		// Started here, on the test goroutine (t.Fatal must run there);
		// only the waiting is concurrent.
		p := tool(t, fmt.Sprintf("client#%d", i), append([]string{"client"}, args...)...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Send(in)
			_ = p.CloseStdin()
			<-p.Done()
			results[i] = result{stdout: p.Stdout.String(), stderr: p.Stderr.String()}
			if err := p.Err(); err != nil {
				results[i].code = -1
				if ee, ok := err.(interface{ ExitCode() int }); ok {
					results[i].code = ee.ExitCode()
				}
			}
		}()
	}
	wg.Wait()
	return results
}

// TestDTLSEcho runs our client against our server in echo mode, with a
// certificate from a CA (verified by the client) and with the server's
// throwaway self-signed certificate (-insecure), four clients at once.
func TestDTLSEcho(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name       string
		serverArgs []string
		clientArgs []string
		verified   string
	}{
		{"CA-issued certificate, verified",
			[]string{"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-dtls1_2"},
			[]string{"-CAfile", p.CAFile, "-dtls1_2"}, "Verification: OK (127.0.0.1)"},
		{"self-signed certificate, -insecure",
			nil, []string{"-insecure", "-mtu", "1400"}, "Verification: skipped (-insecure)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startServer(t, tc.serverArgs...)
			const clients = 4
			inputs := make([]string, clients)
			for i := range inputs {
				inputs[i] = lines(fmt.Sprintf("client %d", i), 3)
			}
			results := runClients(t, inputs, append([]string{"-connect", addr}, tc.clientArgs...)...)
			for i, r := range results {
				assert.Equal(t, 0, r.code, "client %d exit status; stderr:\n%s", i, r.stderr)
				assert.Equal(t, inputs[i], r.stdout, "client %d gets its own lines back, in order, once", i)
				assert.Contains(t, r.stderr, "CONNECTED "+addr+" (DTLS over UDP")
				assert.Contains(t, r.stderr, "Protocol version: DTLSv1.2")
				assert.Regexp(t, `Cipher: \S+`, r.stderr)
				assert.Contains(t, r.stderr, "Cookie exchange: yes (HelloVerifyRequest)")
				assert.Contains(t, r.stderr, tc.verified)
				assert.Contains(t, r.stderr, "DONE 3 line(s) sent, 3 replies received")
				assertNoCrash(t, r.stderr)
			}

			// A client exits once its close_notify is sent, and the server
			// may not have read it yet; one it reads after stopServer's
			// signal is dropped (the Listener is closing), and make test
			// once saw two of four so on a loaded machine.
			waitCount(t, srv, `reason="closed by the client"`, clients)
			stats := parseStats(t, stopServer(t, srv))
			t.Logf("server stats: %v", stats)
			assert.Equal(t, clients, stats["handshakes_completed"])
			assert.GreaterOrEqual(t, stats["cookies_sent"], clients, "every client got a HelloVerifyRequest")
			assert.Equal(t, clients, stats["cookies_verified"])
			assert.Zero(t, stats["handshakes_failed"])
			assert.Zero(t, stats["live_conns"])
			log := srv.Stderr.String()
			assert.Equal(t, clients, strings.Count(log, `msg="dtls: handshake completed"`), "one log line per handshake")
			assert.Equal(t, clients, strings.Count(log, `reason="closed by the client"`), "every client closed with close_notify")
			if tc.serverArgs == nil {
				assert.Contains(t, log, "ossl-stateless: no -cert given: using a throwaway self-signed ECDSA P-256 certificate")
			} else {
				assert.NotContains(t, log, "self-signed")
			}
		})
	}
}

// TestDTLSVerificationFails checks the client refuses a certificate it
// cannot verify, with a hint.
func TestDTLSVerificationFails(t *testing.T) {
	p := newPKI(t)
	_, selfAddr := startServer(t)
	r := runTool(t, "x\n", "client", "-connect", selfAddr)
	assertOneLineError(t, r, 1, "the certificate of "+selfAddr+" does not verify: x509: certificate signed by unknown authority (give the CA that issued it with -CAfile, or skip verification with -insecure)")

	_, caAddr := startServer(t, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile)
	r = runTool(t, "x\n", "client", "-connect", caAddr, "-CAfile", p.CAFile, "-servername", "example.com")
	assertOneLineError(t, r, 1, "x509: certificate is valid for localhost, not example.com (connect by a name the certificate carries, or set -servername)")
}

// udpUpperBackend is a plain UDP service that answers each datagram with
// it in upper case, and remembers the sources it saw.
type udpUpperBackend struct {
	pc      *net.UDPConn
	mu      sync.Mutex
	sources map[string]int
}

func newUDPUpperBackend(t *testing.T) *udpUpperBackend {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	b := &udpUpperBackend{pc: pc, sources: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			n, from, err := pc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			b.mu.Lock()
			b.sources[from.String()]++
			b.mu.Unlock()
			_, _ = pc.WriteToUDP(bytes.ToUpper(buf[:n]), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return b
}

// TestDTLSForward runs two clients at once through `server -mode forward`
// to a plain UDP backend that answers in upper case: each client gets its
// own replies, and the backend sees one source socket per client.
func TestDTLSForward(t *testing.T) {
	backend := newUDPUpperBackend(t)
	srv, addr := startServer(t, "-mode", "forward", "-backend", backend.pc.LocalAddr().String())
	inputs := []string{lines("alice", 3), lines("bob", 3)}
	results := runClients(t, inputs, "-connect", addr, "-insecure")
	for i, r := range results {
		assert.Equal(t, 0, r.code, "client %d; stderr:\n%s", i, r.stderr)
		assert.Equal(t, strings.ToUpper(inputs[i]), r.stdout, "client %d gets the backend's replies to its own lines", i)
		assert.Contains(t, r.stderr, "Cookie exchange: yes (HelloVerifyRequest)")
	}
	backend.mu.Lock()
	sources := backend.sources
	backend.mu.Unlock()
	assert.Len(t, sources, 2, "one backend socket per client: %v", sources)
	for src, n := range sources {
		assert.Equal(t, 3, n, "three datagrams from %s", src)
	}
	stats := parseStats(t, stopServer(t, srv, syscall.SIGTERM))
	assert.Equal(t, 2, stats["handshakes_completed"])
	assert.Contains(t, srv.Stderr.String(), `msg="shutting down" signal=terminated`)
}

// tcpUpperBackend is a TCP service that answers every line in upper case.
func tcpUpperBackend(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if line != "" {
						if _, werr := io.WriteString(c, strings.ToUpper(line)); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return l
}

// TestTLS13 runs our client with -tls1_3 against our server with -tls1_3:
// with -stateless the client sees a HelloRetryRequest carrying a cookie
// and the server counts it; without, no cookie exchange; in forward mode
// the server relays to a TCP backend.
func TestTLS13(t *testing.T) {
	p := newPKI(t)
	backend := tcpUpperBackend(t)
	cert := []string{"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-tls1_3"}
	for _, tc := range []struct {
		name       string
		serverArgs []string
		cookie     string
		hrr        int
		upper      bool
	}{
		{"stateless echo", append([]string{"-stateless"}, cert...), "Cookie exchange: yes (HelloRetryRequest with a cookie)", 2, false},
		{"plain echo", cert, "Cookie exchange: no\n", 0, false},
		{"stateless forward to TCP", append([]string{"-stateless", "-mode", "forward", "-backend", backend.Addr().String()}, cert...),
			"Cookie exchange: yes (HelloRetryRequest with a cookie)", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startServer(t, tc.serverArgs...)
			inputs := []string{lines("alice", 3), lines("bob", 2)}
			results := runClients(t, inputs, "-tls1_3", "-connect", addr, "-CAfile", p.CAFile)
			for i, r := range results {
				want := inputs[i]
				if tc.upper {
					want = strings.ToUpper(want)
				}
				assert.Equal(t, 0, r.code, "client %d; stderr:\n%s", i, r.stderr)
				assert.Equal(t, want, r.stdout, "client %d", i)
				assert.Contains(t, r.stderr, "(TLS over TCP")
				assert.Contains(t, r.stderr, "Protocol version: TLSv1.3")
				assert.Contains(t, r.stderr, tc.cookie)
				assert.Contains(t, r.stderr, "Verification: OK (127.0.0.1)")
				assert.Contains(t, r.stderr, fmt.Sprintf("bytes), %d bytes received", len(want)))
			}
			stats := parseStats(t, stopServer(t, srv))
			t.Logf("server stats: %v", stats)
			assert.Equal(t, 2, stats["connections"])
			assert.Equal(t, tc.hrr, stats["hello_retry_requests"])
			assert.Equal(t, 2, stats["handshakes_completed"])
			assert.Zero(t, stats["handshakes_failed"])
			log := srv.Stderr.String()
			assert.Equal(t, 2, strings.Count(log, `msg="tls: handshake completed"`))
			assert.Equal(t, 2, strings.Count(log, fmt.Sprintf("hello_retry_request=%v", tc.hrr > 0)))
		})
	}
}

// TestMutualAuth runs `server -Verify 1 -CAfile`: a client with a certificate
// from the CA gets in, a client without one is refused (exit 1, a failed
// handshake in the server's log), over DTLS and over TLS 1.3.
func TestMutualAuth(t *testing.T) {
	p := newPKI(t)
	for _, proto := range []string{"DTLS", "TLS"} {
		t.Run(proto, func(t *testing.T) {
			var serverExtra, clientExtra []string
			failLog := `msg="dtls: handshake failed"`
			if proto == "TLS" {
				serverExtra, clientExtra = []string{"-tls1_3", "-stateless"}, []string{"-tls1_3"}
				failLog = `msg="tls: handshake failed"`
			}
			srv, addr := startServer(t, append([]string{"-cert", p.Server.CertFile, "-key", p.Server.KeyFile,
				"-CAfile", p.CAFile, "-Verify", "1"}, serverExtra...)...)
			base := append([]string{"client", "-connect", addr, "-CAfile", p.CAFile, "-timeout", "5s"}, clientExtra...)

			in := lines("client with a certificate", 2)
			r := runTool(t, in, append(base, "-cert", p.Client.CertFile, "-key", p.Client.KeyFile)...)
			assert.Equal(t, 0, r.code, "stderr:\n%s", r.stderr)
			assert.Equal(t, in, r.stdout)

			// TLS 1.3: the client finishes its side of the handshake before
			// the server checks for its certificate, and learns of the
			// refusal from the alert on its first read.
			r = runTool(t, "refused\n", append(base, "-quiet")...)
			want := "DTLS handshake with " + addr + " failed: the server sent an alert: "
			if proto == "TLS" {
				want = "connection to " + addr + ": the server sent an alert: certificate required: it wants a client certificate (give -cert and -key)"
			}
			assertOneLineError(t, r, 1, want)
			srv.WaitForStderr(failLog)

			stats := parseStats(t, stopServer(t, srv))
			assert.Equal(t, 1, stats["handshakes_completed"])
			assert.Equal(t, 1, stats["handshakes_failed"])
		})
	}
}

// TestClientCertWithoutCA runs `server -Verify 1` without -CAfile, as a
// WebRTC-style endpoint that pins fingerprints does: any client certificate
// is taken unverified and its SHA-256 fingerprint logged; a client without
// one is refused. -cipher picks the suite both sides report.
func TestClientCertWithoutCA(t *testing.T) {
	p := newPKI(t)
	srv, addr := startServer(t, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-Verify", "1",
		"-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
	base := []string{"client", "-connect", addr, "-CAfile", p.CAFile, "-timeout", "5s"}
	r := runTool(t, "hello\n", append(base, "-cert", p.Client.CertFile, "-key", p.Client.KeyFile)...)
	require.Equal(t, 0, r.code, "stderr:\n%s", r.stderr)
	assert.Contains(t, r.stderr, "Cipher: ECDHE-ECDSA-CHACHA20-POLY1305")
	sum := sha256.Sum256(p.Client.Leaf.Raw)
	srv.WaitForStderr(fmt.Sprintf("sha256=%x", sum[:]))
	assert.Contains(t, srv.Stderr.String(), "verified=false")

	r = runTool(t, "refused\n", append(base, "-quiet")...)
	assert.Equal(t, 1, r.code)
	stats := parseStats(t, stopServer(t, srv))
	assert.Equal(t, 1, stats["handshakes_completed"])
	assert.Equal(t, 1, stats["handshakes_failed"])
}

// TestIdleTimeout starts a server with -idle 300ms and a client that keeps
// stdin open: the server closes the idle connection with close_notify, and
// the client reports it and exits 0.
func TestIdleTimeout(t *testing.T) {
	for _, proto := range []string{"DTLS", "TLS"} {
		t.Run(proto, func(t *testing.T) {
			var serverExtra, clientExtra []string
			if proto == "TLS" {
				serverExtra, clientExtra = []string{"-tls1_3", "-stateless"}, []string{"-tls1_3"}
			}
			srv, addr := startServer(t, append([]string{"-idle", "300ms"}, serverExtra...)...)
			cli := tool(t, "client", append([]string{"client", "-connect", addr, "-insecure"}, clientExtra...)...)
			line := "one line, then silence\n"
			cli.Send(line)
			cli.WaitFor(line)
			assert.Equal(t, 0, cli.WaitStatus(), "the client exits 0 when the server closes")
			assert.Contains(t, cli.Stderr.String(), "CLOSED by the server (close_notify) after 1 line(s) sent, 1 reply")
			srv.WaitForStderr(`reason="idle for 300ms"`)
			stopServer(t, srv)
		})
	}
}

// TestClientInterrupted sends SIGINT to a connected client whose stdin is
// still open: it closes with close_notify (the server sees a clean close)
// and exits 1 with one line.
func TestClientInterrupted(t *testing.T) {
	srv, addr := startServer(t)
	cli := tool(t, "client", "client", "-connect", addr, "-insecure", "-quiet")
	cli.Send("ping\n")
	cli.WaitFor("ping\n")
	assert.Equal(t, 1, cli.Interrupt())
	assert.Equal(t, prog+": interrupted\n", cli.Stderr.String())
	srv.WaitForStderr(`reason="closed by the client"`)
	stopServer(t, srv)
}

// TestClientLineTooLong sends a line longer than one datagram carries at
// -mtu 256: the client stops with a clear message and exit status 1.
func TestClientLineTooLong(t *testing.T) {
	_, addr := startServer(t)
	long := strings.Repeat("x", 1000) + "\n"
	r := runTool(t, "short\n"+long, "client", "-connect", addr, "-insecure", "-quiet", "-mtu", "256")
	// The first line went out; its echo may or may not beat the exit.
	assert.Contains(t, []string{"", "short\n"}, r.stdout)
	r.stdout = ""
	assertOneLineError(t, r, 1, "stdin line 2 is 1001 bytes: one datagram carries at most ")
	assert.Contains(t, r.stderr, "(raise -mtu or shorten the line)")
}

// TestDTLSForwardBackendDown forwards to a UDP port nobody listens on: the
// client gets no reply, waits -wait and exits 0; the server logs that the
// backend is unreachable and keeps serving.
func TestDTLSForwardBackendDown(t *testing.T) {
	srv, addr := startServer(t, "-mode", "forward", "-backend", testpeer.FreeLoopbackAddr(t, "udp"))
	r := runTool(t, "anyone there?\n", "client", "-connect", addr, "-insecure", "-wait", "300ms")
	assert.Equal(t, 0, r.code, "stderr:\n%s", r.stderr)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "DONE 1 line(s) sent, 0 replies received")
	srv.WaitForStderr(`msg="backend unreachable (ICMP port unreachable)"`)
	stats := parseStats(t, stopServer(t, srv))
	assert.Equal(t, 1, stats["handshakes_completed"])
}

// waitCount waits, up to testpeer.Timeout, until p's stderr holds s n
// times; the caller asserts the count.
func waitCount(t *testing.T, p *testpeer.Proc, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(testpeer.Timeout)
	for strings.Count(p.Stderr.String(), s) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
