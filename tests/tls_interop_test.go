package tests

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// TestStatelessServerWithOpenSSLClient runs the TLS 1.3 stateless cookie
// exchange (SSL_stateless through StreamConn.StatelessHandshake) against
// `openssl s_client -tls1_3`, in its default middlebox-compatibility mode
// (a ChangeCipherSpec precedes the second ClientHello) and with
// -no_middlebox.
func TestStatelessServerWithOpenSSLClient(t *testing.T) {
	opensslBin(t)
	for _, tc := range []struct {
		name      string
		args      []string
		middlebox bool
	}{
		{"middlebox compat (default)", nil, true},
		{"no_middlebox", []string{"-no_middlebox"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := newPKI(t)

			ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: loopback4.AsSlice()})
			require.NoError(t, err)
			t.Cleanup(func() { ln.Close() })
			require.NoError(t, ln.SetDeadline(time.Now().Add(testpeer.Timeout)))

			ctx, _ := newServerCtx(t, openssl.TLSServerMethod, p)

			clientAP := netip.AddrPortFrom(loopback4, uint16(testpeer.FreePort(t, "tcp4", loopback4.AsSlice())))
			traceFile := filepath.Join(t.TempDir(), "s_client.trace")
			args := append([]string{"s_client", "-tls1_3",
				"-connect", ln.Addr().String(), "-bind", clientAP.String(),
				"-CAfile", p.CAFile, "-verify_return_error", "-verify_hostname", "localhost",
				"-brief", traceFlag(t), "-msgfile", traceFile, "-ign_eof", "-nocommands"}, tc.args...)
			cli := startPeer(t, args...)

			conn, err := ln.AcceptTCP()
			require.NoError(t, err)
			assert.Equal(t, clientAP, conn.RemoteAddr().(*net.TCPAddr).AddrPort())
			require.NoError(t, conn.SetDeadline(time.Now().Add(testpeer.Timeout)))
			srv, err := openssl.NewServerConn(conn, ctx)
			require.NoError(t, err)
			t.Cleanup(func() { srv.Close() })

			require.NoError(t, srv.StatelessHandshake())
			assert.True(t, srv.HelloRetryRequestSent(), "the first ClientHello was answered with a HelloRetryRequest")
			assert.Equal(t, "TLSv1.3", srv.SSL().Version())
			cli.WaitFor("CONNECTION ESTABLISHED")

			const fromClient = "hello from openssl s_client over TLS 1.3\n"
			cli.Send(fromClient)
			got, err := readFull(srv.Read, len(fromClient))
			require.NoError(t, err)
			assert.Equal(t, fromClient, string(got))

			const fromServer = "hello from the Go stateless server\n"
			n, err := srv.Write([]byte(fromServer))
			require.NoError(t, err)
			assert.Equal(t, len(fromServer), n)
			cli.WaitFor(fromServer)

			// close_notify: s_client answers with its own and exits with 0.
			require.NoError(t, srv.Close())
			require.NoError(t, cli.Wait(), "s_client exit status")

			assert.Contains(t, cli.String(), "Verification: OK")

			// s_client's trace (complete once it exited). SSL_trace labels
			// the HelloRetryRequest "ServerHello"; it is the one carrying
			// the cookie extension. In middlebox-compatibility mode a
			// ChangeCipherSpec precedes the second ClientHello: the record
			// StatelessHandshake has to step over.
			recs := parseTrace(t, traceFile)
			t.Logf("s_client's first records: %v", firstRecords(recs, 5))
			var sent []string
			var hrr *traceMessage
			for _, r := range recs {
				if !r.sent && hrr == nil && len(r.messages) > 0 {
					hrr = &r.messages[0]
				}
				if r.sent {
					sent = append(sent, r.String())
					if r.String() == "> Handshake[ClientHello+cookie]" {
						break
					}
				}
			}
			require.NotNil(t, hrr)
			assert.Equal(t, traceMessage{name: "ServerHello", cookieExt: true}, *hrr, "the server's first answer is a HelloRetryRequest with a cookie")
			want := []string{"> Handshake[ClientHello]", "> Handshake[ClientHello+cookie]"}
			if tc.middlebox {
				want = []string{"> Handshake[ClientHello]", "> ChangeCipherSpec", "> Handshake[ClientHello+cookie]"}
			}
			assert.Equal(t, want, sent, "the records s_client sent up to its second ClientHello")
		})
	}
}

// TestGoClientWithOpenSSLStatelessServer runs Go clients against `openssl
// s_server -tls1_3 -stateless`, which calls SSL_stateless once per
// ClientHello and gives up on any result but 0 and 1.
//
// A client in middlebox-compatibility mode sends a ChangeCipherSpec record
// between the HelloRetryRequest and its second ClientHello. SSL_stateless
// reads that record as the first message of a new connection and returns
// -1 (SSL_ERROR_SYSCALL with an empty error queue, as the root package's
// TestStatelessReturnCodes shows); s_server prints "ERROR" and closes the
// connection: the client's handshake fails with an unexpected EOF. That is
// `openssl s_client`'s default, this binding's client by default
// (SSL_OP_ENABLE_MIDDLEBOX_COMPAT is in OpenSSL's default options), and
// crypto/tls always (it sends the ChangeCipherSpec unconditionally and has
// no switch for it). Without middlebox compatibility the exchange
// completes. (StatelessHandshake in this package retries after that -1,
// which is why TestStatelessServerWithOpenSSLClient passes in both modes.)
// See openssl/openssl#18453 for the s_server side (closed unmerged).
//
// Version difference: none among the series the Docker matrix runs. 1.1.1w
// (bullseye), 3.0 (bookworm, and the usual host), 3.5.9 (trixie), 3.6 (sid)
// and 4.0 (experimental) behave alike here: same s_server output (ERROR,
// one DELAY), same EOF at the client, the same records in s_server's log
// ("< ClientHello", then "< ChangeCipherSpec" as the last record read; on
// all of them s_server also sends a ChangeCipherSpec after its
// HelloRetryRequest), so the
// middlebox cases are asserted on all of them. On any other series (not
// checked) their outcome is only logged.
func TestGoClientWithOpenSSLStatelessServer(t *testing.T) {
	opensslBin(t)
	series := opensslCLISeries(t)
	checked := map[string]bool{"1.1": true, "3.0": true, "3.5": true, "3.6": true, "4.0": true}[series]
	t.Logf("%s (series %q, middlebox outcome checked: %v)", opensslCLIVersion(t), series, checked)

	type client interface {
		io.ReadWriteCloser
		Handshake() error
	}
	opensslClient := func(middlebox bool) func(t *testing.T, p *pki, conn net.Conn) client {
		return func(t *testing.T, p *pki, conn net.Conn) client {
			ctx, err := openssl.NewCtx(openssl.TLSClientMethod)
			require.NoError(t, err)
			t.Cleanup(func() { ctx.Close() })
			require.NoError(t, ctx.AddCAPEM(p.CA.CertPEM))
			require.NoError(t, ctx.SetVerify(openssl.VerifyPeer, -1))
			require.NoError(t, ctx.SetMinProtoVersion(openssl.VersionTLS13))
			if middlebox {
				require.NotZero(t, ctx.Options()&openssl.OpEnableMiddleboxCompat, "middlebox compat is OpenSSL's default")
			} else {
				ctx.ClearOptions(openssl.OpEnableMiddleboxCompat)
			}
			c, err := openssl.NewClientConn(conn, ctx)
			require.NoError(t, err)
			require.NoError(t, c.SSL().SetServerName("localhost"))
			require.NoError(t, c.SSL().SetHost("localhost"))
			return c
		}
	}
	goClient := func(t *testing.T, p *pki, conn net.Conn) client {
		cfg := &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS13, RootCAs: p.Pool()}
		return tls.Client(conn, cfg)
	}

	for _, tc := range []struct {
		name      string
		newClient func(t *testing.T, p *pki, conn net.Conn) client
		// succeeds is what happens on OpenSSL 1.1.1, 3.0 and 3.5.
		succeeds bool
	}{
		{"openssl.NewClientConn without middlebox compat", opensslClient(false), true},
		{"openssl.NewClientConn with middlebox compat (default)", opensslClient(true), false},
		{"crypto/tls (always middlebox compat)", goClient, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := newPKI(t)
			serverAP := netip.AddrPortFrom(loopback4, uint16(testpeer.FreePort(t, "tcp4", loopback4.AsSlice())))
			traceFile := filepath.Join(t.TempDir(), "s_server.trace")
			srv := startPeer(t, "s_server", "-tls1_3", "-stateless",
				"-accept", serverAP.String(), "-cert", p.Server.CertFile, "-key", p.Server.KeyFile,
				"-naccept", "1", traceFlag(t), "-msgfile", traceFile)
			srv.WaitFor("ACCEPT")

			conn, err := net.DialTimeout("tcp4", serverAP.String(), testpeer.Timeout)
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })
			require.NoError(t, conn.SetDeadline(time.Now().Add(testpeer.Timeout)))
			c := tc.newClient(t, p, conn)
			t.Cleanup(func() { c.Close() })

			herr := c.Handshake()
			t.Logf("client handshake: %v", herr)
			if herr != nil {
				// s_server has given up on the connection and, with
				// -naccept 1, exits; closing our end spares it the 0.5s it
				// waits for the peer's FIN.
				_ = conn.Close()
				_ = srv.Wait()
				t.Logf("s_server output:\n%s", srv.String())
			}
			if !checked {
				t.Logf("OpenSSL %q, not one of the series this test knows: outcome only logged", series)
				if herr != nil {
					return
				}
			} else if !tc.succeeds {
				require.Error(t, herr, "s_server -stateless drops a middlebox-compat client (OpenSSL 1.1.1 to 4.0)")
				out := srv.String()
				assert.Contains(t, out, "DELAY", "the first ClientHello got a HelloRetryRequest (SSL_stateless returned 0)")
				assert.Contains(t, out, "ERROR", "SSL_stateless failed on the ChangeCipherSpec")
				assert.Equal(t, 1, countLines(out, "DELAY"))
				assertUnexpectedEOF(t, herr)
				// The last record s_server read before giving up.
				recs := parseTrace(t, traceFile)
				t.Logf("s_server's records: %v", recs)
				assert.Equal(t, []string{"< Handshake[ClientHello]", "< ChangeCipherSpec"}, receivedRecords(recs, 2),
					"s_server gave up on the ChangeCipherSpec, before reading the second ClientHello")
				return
			}
			require.NoError(t, herr)

			const fromClient = "hello from the Go client\n"
			_, err = c.Write([]byte(fromClient))
			require.NoError(t, err)
			srv.WaitFor(fromClient)

			const fromServer = "hello from openssl s_server -stateless\n"
			srv.Send(fromServer)
			got, err := readFull(c.Read, len(fromServer))
			require.NoError(t, err)
			assert.Equal(t, fromServer, string(got))

			require.NoError(t, c.Close())
			require.NoError(t, srv.Wait(), "s_server exit status")
			out := srv.String()
			assert.Contains(t, out, "DELAY", "a HelloRetryRequest was sent (SSL_stateless returned 0)")
			assert.NotContains(t, out, "ERROR")
			recs := parseTrace(t, traceFile)
			t.Logf("s_server's first records: %v", firstRecords(recs, 4))
			require.GreaterOrEqual(t, len(recs), 2)
			assert.Equal(t, "> Handshake[ServerHello+cookie]", recs[1].String(), "a HelloRetryRequest answered the first ClientHello")
			if tc.succeeds {
				assert.Equal(t, []string{"< Handshake[ClientHello]", "< Handshake[ClientHello+cookie]"}, receivedRecords(recs, 2),
					"no ChangeCipherSpec between the ClientHellos")
			}
		})
	}
}

// assertUnexpectedEOF checks that a client saw the server close the
// connection during the handshake, in crypto/tls's or OpenSSL's words.
func assertUnexpectedEOF(t *testing.T, err error) {
	t.Helper()
	var oe *openssl.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	case errors.As(err, &oe):
		assert.True(t, oe.Code == openssl.CodeSyscall || strings.Contains(err.Error(), "unexpected eof"),
			"OpenSSL reports the closed connection: %v", err)
	default:
		assert.Contains(t, err.Error(), "EOF", "the client saw the connection closed")
	}
}
