package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/internal/testcert"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

const cliPSK = "a1b2c3d4e5f60718293a4b5c6d7e8f90"

// TestPSKServerWithOpenSSLSClient runs `server -nocert -psk` against
// `openssl s_client -psk ... -cipher PSK-AES128-CCM8`.
func TestPSKServerWithOpenSSLSClient(t *testing.T) {
	srv, addr := startServer(t, "-nocert", "-psk", cliPSK, "-psk_identity", "node-1", "-psk_hint", "gw", "-dtls1_2")
	cl := opensslPeer(t, "s_client", "s_client", "-dtls1_2", "-connect", addr, "-psk", cliPSK,
		"-psk_identity", "node-1", "-cipher", "PSK-AES128-CCM8:@SECLEVEL=0", "-nocommands")
	out := cl.WaitFor("Cipher is PSK-AES128-CCM8")
	msg := fmt.Sprintf("hello %d over PSK\n", time.Now().UnixNano())
	cl.Send(msg)
	cl.WaitFor(msg)
	assert.Contains(t, cl.String(), "PSK identity hint: gw")
	assert.NotContains(t, out, "Server certificate")
	_ = cl.CloseStdin()
	assert.Equal(t, 0, cl.WaitStatus())
	stats := parseStats(t, stopServer(t, srv))
	assert.Equal(t, 1, stats["handshakes_completed"])
}

// TestPSKClientWithOpenSSLSServer runs `client -psk` against `openssl
// s_server -dtls1_2 -listen -nocert -psk`.
func TestPSKClientWithOpenSSLSServer(t *testing.T) {
	addr := testpeer.FreeLoopbackAddr(t, "udp")
	srv := opensslPeer(t, "s_server", "s_server", "-dtls1_2", "-listen", "-accept", addr, "-nocert",
		"-psk", cliPSK, "-psk_identity", "node-2", "-naccept", "1")
	srv.WaitFor("ACCEPT")
	cli := tool(t, "client", "client", "-connect", addr, "-psk", cliPSK, "-psk_identity", "node-2")
	msg := fmt.Sprintf("hello %d from client -psk\n", time.Now().UnixNano())
	cli.Send(msg)
	srv.WaitFor(msg)
	srv.Send("reply\n")
	cli.WaitFor("reply\n")
	_ = cli.CloseStdin()
	assert.Equal(t, 0, cli.WaitStatus())
	info := cli.Stderr.String()
	assert.Contains(t, info, "Cipher: ECDHE-PSK-CHACHA20-POLY1305")
	assert.Contains(t, info, "Verification: by pre-shared key (identity node-2)")
	assert.Equal(t, 0, srv.WaitStatus())
	assert.NotContains(t, srv.String(), "PSK warning")
}

func TestPSKFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"server", "-nocert"}, "-nocert needs -psk"},
		{[]string{"server", "-psk_hint", "x"}, "-psk_hint needs -psk"},
		{[]string{"server", "-psk", "zz"}, "-psk must be the key in hex"},
		{[]string{"client", "-psk", "00", "-tls1_3"}, "DTLS only"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			assertOneLineError(t, runTool(t, "", tc.args...), 2, tc.want)
		})
	}
}

// TestALPNServerWithOpenSSLSClient: `server -alpn coap,h2` picks its own
// first choice among s_client's offer; a client offering none of them gets
// the alert.
func TestALPNServerWithOpenSSLSClient(t *testing.T) {
	p := newPKI(t)
	srv, addr := startServer(t, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-alpn", "coap,h2")
	cl := opensslPeer(t, "s_client", "s_client", "-dtls1_2", "-connect", addr, "-CAfile", p.CAFile,
		"-alpn", "h2,coap", "-nocommands")
	cl.WaitFor("ALPN protocol: coap")
	_ = cl.CloseStdin()
	cl2 := opensslPeer(t, "s_client2", "s_client", "-dtls1_2", "-connect", addr, "-CAfile", p.CAFile,
		"-alpn", "mqtt", "-nocommands")
	// 1.1.1's s_client names the alert by number only.
	cl2.WaitFor("SSL alert number 120") // no_application_protocol
	stopServer(t, srv)
}

// TestALPNClientWithOpenSSLSServer: `client -alpn` reports what s_server
// chose.
func TestALPNClientWithOpenSSLSServer(t *testing.T) {
	p := newPKI(t)
	addr := testpeer.FreeLoopbackAddr(t, "udp")
	srv := opensslPeer(t, "s_server", "s_server", "-dtls1_2", "-listen", "-accept", addr,
		"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-alpn", "coap", "-naccept", "1")
	srv.WaitFor("ACCEPT")
	cli := tool(t, "client", "client", "-connect", addr, "-CAfile", p.CAFile, "-alpn", "mqtt,coap")
	cli.WaitForStderr("ALPN protocol: coap")
	_ = cli.CloseStdin()
	assert.Equal(t, 0, cli.WaitStatus())
}

// TestKeyLogFile: `server -keylogfile` and a client given SSLKEYLOGFILE
// write the same NSS line for their handshake.
func TestKeyLogFile(t *testing.T) {
	dir := t.TempDir()
	sfile, cfile := filepath.Join(dir, "server.keys"), filepath.Join(dir, "client.keys")
	srv, addr := startServer(t, "-nocert", "-psk", cliPSK, "-keylogfile", sfile)
	t.Setenv("SSLKEYLOGFILE", cfile)
	r := runTool(t, "ping\n", "client", "-connect", addr, "-psk", cliPSK)
	assert.Equal(t, 0, r.code, r.stderr)
	stopServer(t, srv)
	s, err := os.ReadFile(sfile)
	require.NoError(t, err)
	c, err := os.ReadFile(cfile)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(c), "CLIENT_RANDOM "), "%q", c)
	assert.Equal(t, 1, strings.Count(string(c), "\n"))
	assert.Equal(t, string(c), string(s))
}

// TestSessionFiles: session files pass between openssl s_client and our
// client in both directions, and each resumes against our server.
func TestSessionFiles(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	fromSClient, fromClient := filepath.Join(dir, "s_client.sess"), filepath.Join(dir, "client.sess")
	srv, addr := startServer(t, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile)

	sc := opensslPeer(t, "s_client", "s_client", "-dtls1_2", "-connect", addr, "-CAfile", p.CAFile,
		"-sess_out", fromSClient, "-nocommands")
	sc.WaitFor("New, TLSv1.2")
	_ = sc.CloseStdin()
	_ = sc.WaitStatus()

	r := runTool(t, "ping\n", "client", "-connect", addr, "-CAfile", p.CAFile, "-sess_in", fromSClient, "-sess_out", fromClient)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Session: resumed", "our client resumed s_client's session")

	sc2 := opensslPeer(t, "s_client2", "s_client", "-dtls1_2", "-connect", addr, "-CAfile", p.CAFile,
		"-sess_in", fromClient, "-nocommands")
	sc2.WaitFor("Reused, TLSv1.2")
	_ = sc2.CloseStdin()
	stopServer(t, srv)
}

// TestSessionResumptionWithClientCerts: a server that requires client
// certificates resumes openssl s_client's session, over DTLS and over TLS
// 1.3: OpenSSL resumes none on such a server without a session ID context
// (the handshake failed with an internal_error alert before dtls and the
// TLS server set one).
func TestSessionResumptionWithClientCerts(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct{ name, proto, newSession, reused string }{
		{"dtls", "-dtls1_2", "New, TLSv1.2", "Reused, TLSv1.2"},
		{"tls13", "-tls1_3", "", "Reused, TLSv1.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := filepath.Join(t.TempDir(), "s_client.sess")
			args := []string{"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-CAfile", p.CAFile, "-Verify", "1"}
			if tc.proto == "-tls1_3" {
				args = append(args, "-tls1_3")
			}
			srv, addr := startServer(t, args...)
			client := []string{"s_client", tc.proto, "-connect", addr, "-CAfile", p.CAFile, "-cert", p.Client.CertFile, "-key", p.Client.KeyFile, "-nocommands"}
			sc := opensslPeer(t, "s_client", append(client, "-sess_out", sess)...)
			if tc.newSession != "" {
				sc.WaitFor(tc.newSession)
			} else {
				// TLS 1.3's ticket comes after the handshake: wait for
				// the file.
				require.Eventually(t, func() bool { st, err := os.Stat(sess); return err == nil && st.Size() > 0 }, 10*time.Second, 20*time.Millisecond)
			}
			_ = sc.CloseStdin()
			_ = sc.WaitStatus()

			sc2 := opensslPeer(t, "s_client2", append(client, "-sess_in", sess)...)
			sc2.WaitFor(tc.reused)
			_ = sc2.CloseStdin()
			_ = sc2.WaitStatus()
			stopServer(t, srv)
		})
	}
}

// TestServerNameCert2: `server -servername b.example -cert2` serves the
// second certificate to openssl s_client -servername b.example, and the
// main one to our client, which names localhost.
func TestServerNameCert2(t *testing.T) {
	p := newPKI(t)
	second := p.CA.Issue(t, "b.example", testcert.Options{Names: []string{"b.example"}}).Files(t, t.TempDir(), "b")
	srv, addr := startServer(t, "-cert", p.Server.CertFile, "-key", p.Server.KeyFile,
		"-servername", "b.example", "-cert2", second.CertFile, "-key2", second.KeyFile)
	cl := opensslPeer(t, "s_client", "s_client", "-dtls1_2", "-connect", addr, "-servername", "b.example",
		"-CAfile", p.CAFile, "-verify_hostname", "b.example", "-verify_return_error", "-brief", "-nocommands")
	cl.WaitFor("Verification: OK")
	// "CN = b.example" before OpenSSL 3.5, "CN=b.example" since.
	assert.Regexp(t, `Peer certificate: CN ?= ?b\.example\n`, cl.WaitFor("Verified peername: b.example"))
	_ = cl.CloseStdin()
	r := runTool(t, "ping\n", "client", "-connect", addr, "-CAfile", p.CAFile, "-servername", "localhost")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Verification: OK (localhost)")
	stopServer(t, srv)
}
