package main

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// TestServerWithOpenSSLSClientDTLS runs two `openssl s_client -dtls1_2`
// at once against our DTLS echo server: each goes through the cookie
// exchange (counted by the server), verifies our certificate, gets its own
// line echoed, and ends with close_notify (exit 0). (-msg cannot show the
// HelloVerifyRequest: OpenSSL 3.0 prints DTLS records as "Not TLS data".)
func TestServerWithOpenSSLSClientDTLS(t *testing.T) {
	p := newPKI(t)
	srv, addr := startServer(t, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile)
	const clients = 2
	peers := make([]*testpeer.Proc, clients)
	msgs := make([]string, clients)
	for i := range peers {
		// -nocommands: a line starting with Q, R, k... is data, not a
		// command. -verify_ip checks the certificate's IP SAN.
		peers[i] = opensslPeer(t, fmt.Sprintf("s_client#%d", i), "s_client", "-dtls1_2", "-connect", addr,
			"-CAfile", p.CAFile, "-verify_return_error", "-verify_ip", "127.0.0.1", "-brief", "-nocommands")
		msgs[i] = fmt.Sprintf("hello %d from openssl s_client %d\n", time.Now().UnixNano(), i)
	}
	for i, pr := range peers {
		// -brief prints its summary after CONNECTION ESTABLISHED;
		// Verification comes after the version.
		out := pr.WaitFor("Verification: OK")
		assert.Contains(t, out, "CONNECTION ESTABLISHED\n", "s_client#%d", i)
		assert.Contains(t, out, "Protocol version: DTLSv1.2", "s_client#%d", i)
	}
	for i, pr := range peers {
		pr.Send(msgs[i])
	}
	for i, pr := range peers {
		pr.WaitFor(msgs[i])
	}
	for _, pr := range peers {
		_ = pr.CloseStdin() // s_client sends close_notify and exits 0
	}
	for i, pr := range peers {
		assert.Equal(t, 0, pr.WaitStatus(), "s_client#%d exit status", i)
		assert.Equal(t, 1, strings.Count(pr.Stdout.String(), msgs[i]), "s_client#%d sees its line once", i)
	}
	for range peers {
		srv.WaitForStderr(`reason="closed by the client"`)
	}
	stats := parseStats(t, stopServer(t, srv))
	t.Logf("server stats: %v", stats)
	assert.Equal(t, clients, stats["handshakes_completed"])
	assert.GreaterOrEqual(t, stats["cookies_sent"], clients)
	assert.Equal(t, clients, stats["cookies_verified"])
	assert.Zero(t, stats["handshakes_failed"])
}

// TestClientWithOpenSSLSServerDTLS runs our client against `openssl
// s_server -dtls1_2 -listen`, which answers the first ClientHello with a
// HelloVerifyRequest (DTLSv1_listen): a line each way, then close_notify.
func TestClientWithOpenSSLSServerDTLS(t *testing.T) {
	p := newPKI(t)
	addr := testpeer.FreeLoopbackAddr(t, "udp")
	srv := opensslPeer(t, "s_server", "s_server", "-dtls1_2", "-listen", "-accept", addr,
		"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-naccept", "1")
	srv.WaitFor("ACCEPT")

	cli := tool(t, "client", "client", "-connect", addr, "-CAfile", p.CAFile, "-dtls1_2")
	fromClient := fmt.Sprintf("hello %d from ossl-stateless client\n", time.Now().UnixNano())
	cli.Send(fromClient)
	srv.WaitFor(fromClient) // s_server prints what it receives
	fromServer := fmt.Sprintf("hello %d from openssl s_server\n", time.Now().UnixNano())
	srv.Send(fromServer) // and sends each stdin line as one record
	cli.WaitFor(fromServer)
	_ = cli.CloseStdin() // one line sent, one reply: the client closes at once

	assert.Equal(t, 0, cli.WaitStatus(), "client exit status")
	assert.Equal(t, fromServer, cli.Stdout.String())
	info := cli.Stderr.String()
	assert.Contains(t, info, "Protocol version: DTLSv1.2")
	assert.Contains(t, info, "Cookie exchange: yes (HelloVerifyRequest)")
	assert.Contains(t, info, "Verification: OK (127.0.0.1)")
	assert.Contains(t, info, "Server certificate: CN=localhost")
	assert.Contains(t, info, "DONE 1 line(s) sent, 1 reply received")
	assertNoCrash(t, info)
	// close_notify: s_server closes the connection and, with -naccept 1,
	// exits with status 0.
	assert.Equal(t, 0, srv.WaitStatus(), "s_server exit status")
	assert.Contains(t, srv.Stdout.String(), "CONNECTION CLOSED")
}

// TestMaxFragLenWithOpenSSL: `client -maxfraglen 512` against `openssl
// s_server`, which agrees, and the negotiation the other way: `openssl
// s_client -maxfraglen 512` against our server, which echoes its line.
// (What a Listener's connection does with a longer Write is
// TestMaxFragmentLengthWithOpenSSL's, in tests/.)
func TestMaxFragLenWithOpenSSL(t *testing.T) {
	p := newPKI(t)
	addr := testpeer.FreeLoopbackAddr(t, "udp")
	srv := opensslPeer(t, "s_server", "s_server", "-dtls1_2", "-listen", "-accept", addr,
		"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-naccept", "1")
	srv.WaitFor("ACCEPT")
	cli := tool(t, "client", "client", "-connect", addr, "-CAfile", p.CAFile, "-maxfraglen", "512")
	line := strings.Repeat("c", 500) + "\n"
	cli.Send(line)
	srv.WaitFor(line)
	srv.Send("ok\n")
	cli.WaitFor("ok\n")
	_ = cli.CloseStdin()
	assert.Equal(t, 0, cli.WaitStatus(), "client exit status")
	assert.Contains(t, cli.Stderr.String(), "Max fragment length: 512 (records of at most 512 bytes)")
	assert.Equal(t, 0, srv.WaitStatus(), "s_server exit status")

	ours, oursAddr := startServer(t, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile)
	sc := opensslPeer(t, "s_client", "s_client", "-dtls1_2", "-maxfraglen", "512", "-connect", oursAddr,
		"-CAfile", p.CAFile, "-brief", "-nocommands")
	sc.WaitFor("CONNECTION ESTABLISHED")
	line = strings.Repeat("s", 500) + "\n"
	sc.Send(line)
	sc.WaitFor(line) // the echo
	_ = sc.CloseStdin()
	_ = sc.WaitStatus()
	stopServer(t, ours)
}

// clientHelloRE finds the ClientHellos s_client sends, in its -msg output:
// ">>> TLS 1.3, Handshake [length 00dc], ClientHello" (1.1.1 and 3.0).
var clientHelloRE = regexp.MustCompile(`(?m)^>>> .*ClientHello$`)

// hexDump returns the hex digits of -msg output, whitespace removed, so
// that a byte sequence can be found across the dump's line breaks.
func hexDump(out string) string {
	return strings.ToLower(strings.Join(strings.Fields(out), ""))
}

// TestStatelessServerWithOpenSSLSClientTLS13 runs `openssl s_client
// -tls1_3` against `server -stateless -tls1_3`: with its default options
// (middlebox compatibility: a ChangeCipherSpec before the second
// ClientHello, which `openssl s_server -stateless` fails on) and with
// -no_middlebox. The client sends two ClientHellos, the first answered
// with a HelloRetryRequest; its line comes back; close_notify ends it.
func TestStatelessServerWithOpenSSLSClientTLS13(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default options (middlebox compat)", nil},
		{"no_middlebox", []string{"-no_middlebox"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startServer(t, "-tls1_3", "-stateless", "-cert", p.Server.CertFile, "-key", p.Server.KeyFile)
			cli := opensslPeer(t, "s_client", append([]string{"s_client", "-tls1_3", "-connect", addr,
				"-CAfile", p.CAFile, "-verify_return_error", "-verify_ip", "127.0.0.1", "-brief", "-nocommands", "-msg"}, tc.args...)...)
			out := cli.WaitFor("Verification: OK")
			assert.Contains(t, out, "CONNECTION ESTABLISHED\n")
			assert.Contains(t, out, "Protocol version: TLSv1.3")
			assert.Len(t, clientHelloRE.FindAllString(out, -1), 2, "two ClientHellos: the second carries the cookie")
			// The special random of a HelloRetryRequest, in the dump of the
			// server's first handshake message.
			assert.Contains(t, hexDump(out), fmt.Sprintf("%x", hrrRandom), "the server sent a HelloRetryRequest")

			line := fmt.Sprintf("hello %d from openssl s_client over TLS 1.3\n", time.Now().UnixNano())
			cli.Send(line)
			cli.WaitFor(line)
			_ = cli.CloseStdin()
			assert.Equal(t, 0, cli.WaitStatus(), "s_client exit status")
			srv.WaitForStderr(`reason="closed by the client"`)

			log := srv.Stderr.String()
			assert.Contains(t, log, `msg="tls: handshake completed"`)
			assert.Contains(t, log, "hello_retry_request=true")
			stats := parseStats(t, stopServer(t, srv))
			t.Logf("server stats: %v", stats)
			assert.Equal(t, 1, stats["connections"])
			assert.Equal(t, 1, stats["hello_retry_requests"])
			assert.Equal(t, 1, stats["handshakes_completed"])
			assert.Zero(t, stats["handshakes_failed"])
		})
	}
}

// TestClientWithOpenSSLSServerTLS13 runs our -tls1_3 client against
// `openssl s_server -tls1_3` (no cookie exchange) and checks that it
// reports none, and that lines go both ways.
func TestClientWithOpenSSLSServerTLS13(t *testing.T) {
	p := newPKI(t)
	addr := testpeer.FreeLoopbackAddr(t, "tcp")
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	srv := opensslPeer(t, "s_server", "s_server", "-tls1_3", "-accept", addr,
		"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-naccept", "1")
	srv.WaitFor("ACCEPT")

	// -wait 300ms: over TCP the client waits for as many bytes as it sent,
	// and s_server answers with fewer; the wait ends it.
	cli := tool(t, "client", "client", "-tls1_3", "-connect", "localhost:"+port, "-CAfile", p.CAFile, "-wait", "300ms")
	fromClient := "hello from ossl-stateless client over TLS 1.3\n"
	cli.Send(fromClient)
	srv.WaitFor(fromClient)
	fromServer := "hello from openssl s_server\n"
	srv.Send(fromServer)
	cli.WaitFor(fromServer)
	_ = cli.CloseStdin()
	assert.Equal(t, 0, cli.WaitStatus())
	info := cli.Stderr.String()
	assert.Contains(t, info, "Protocol version: TLSv1.3")
	assert.Contains(t, info, "Cookie exchange: no\n")
	assert.Contains(t, info, "Verification: OK (localhost)")
	assert.Equal(t, 0, srv.WaitStatus(), "s_server exit status")
}

// keymatRE is the keying material line s_server, s_client and our tool
// print for -keymatexport.
var keymatRE = regexp.MustCompile(`Keying material: ([0-9A-F]{120})\n`)

// TestSRTPKeymatExportWithOpenSSL runs our server with -use_srtp and
// -keymatexport against `openssl s_client` with the same flags, and our
// client against `openssl s_server`: both sides print the same profile and
// the same 60 bytes, in the same format.
func TestSRTPKeymatExportWithOpenSSL(t *testing.T) {
	p := newPKI(t)
	flags := []string{"-use_srtp", "SRTP_AES128_CM_SHA1_80", "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60"}
	t.Run("our server", func(t *testing.T) {
		srv, addr := startServer(t, append([]string{"-cert", p.Server.CertFile, "-key", p.Server.KeyFile}, flags...)...)
		cl := opensslPeer(t, "s_client", append([]string{"s_client", "-dtls1_2", "-connect", addr, "-CAfile", p.CAFile,
			"-verify_return_error", "-nocommands"}, flags...)...)
		theirs := waitMatch(t, cl.String, keymatRE)
		ours := waitMatch(t, srv.Stdout.String, keymatRE)
		assert.Equal(t, theirs, ours)
		assert.Contains(t, cl.String(), "SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80")
		assert.Contains(t, srv.Stdout.String(), "SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80")
		assert.Contains(t, srv.Stdout.String(), "    Label: 'EXTRACTOR-dtls_srtp'\n    Length: 60 bytes\n")
	})
	t.Run("our client", func(t *testing.T) {
		port := testpeer.FreePort(t, "udp4", net.IPv4(127, 0, 0, 1))
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		srv := opensslPeer(t, "s_server", append([]string{"s_server", "-dtls1_2", "-listen", "-accept", addr,
			"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-naccept", "1"}, flags...)...)
		srv.WaitFor("ACCEPT")
		r := runTool(t, "one line\n", append([]string{"client", "-connect", addr, "-CAfile", p.CAFile, "-wait", "200ms"}, flags...)...)
		require.Equal(t, 0, r.code, "stderr:\n%s", r.stderr)
		assert.Contains(t, r.stderr, "SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80")
		m := keymatRE.FindStringSubmatch(r.stderr + "\n")
		require.NotNil(t, m, "stderr:\n%s", r.stderr)
		assert.Equal(t, waitMatch(t, srv.String, keymatRE), m[1])
	})
}

// waitMatch waits until out() matches re and returns the first group.
func waitMatch(t *testing.T, out func() string, re *regexp.Regexp) string {
	t.Helper()
	var got string
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(out())
		if m != nil {
			got = m[1]
		}
		return m != nil
	}, testpeer.Timeout, 10*time.Millisecond, "no match for %v in:\n%s", re, out())
	return got
}
