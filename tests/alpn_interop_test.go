package tests

// ALPN (issue 12) against the openssl and GnuTLS command-line peers:
//
//	go test -run 'ALPN' ./tests/

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl"
	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// alpnListener is a dtls.Listener with p's certificate and NextProtos that
// echoes, and reports each accepted connection's state.
func alpnListener(t *testing.T, p *pki, protos ...string) (*dtls.Listener, <-chan dtls.ConnectionState) {
	t.Helper()
	cfg := p.serverConfig()
	cfg.NextProtos = protos
	l, err := dtls.Listen("udp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	return l, acceptStates(t, l)
}

func TestALPNListenerWithOpenSSLClient(t *testing.T) {
	p := newPKI(t)
	l, got := alpnListener(t, p, "coap", "h2")
	cl := startPeer(t, "s_client", "-dtls1_2", "-connect", l.Addr().String(), "-CAfile", p.CAFile,
		"-alpn", "h2,coap", "-nocommands")
	cl.WaitFor("ALPN protocol: coap")
	assert.Equal(t, "coap", (<-got).NegotiatedProtocol, "the server's preference wins, as in crypto/tls")
	cl.Send("ping\n")
	cl.WaitFor("ping\n")
}

func TestALPNListenerWithOpenSSLClientNoOverlap(t *testing.T) {
	p := newPKI(t)
	l, _ := alpnListener(t, p, "coap")
	cl := startPeer(t, "s_client", "-dtls1_2", "-connect", l.Addr().String(), "-CAfile", p.CAFile,
		"-alpn", "mqtt", "-nocommands")
	// 1.1.1's s_client names the alert by number only.
	cl.WaitFor("SSL alert number 120") // no_application_protocol
	assert.Eventually(t, func() bool { return l.Stats().HandshakesFailed == 1 }, testpeer.Timeout, 10*time.Millisecond)
}

func TestALPNListenerWithGnuTLSClient(t *testing.T) {
	bin := testpeer.LookPath(t, "gnutls-cli")
	p := newPKI(t)
	l, got := alpnListener(t, p, "coap")
	port := strconv.Itoa(l.Addr().(*net.UDPAddr).Port)
	cl := testpeer.Start(t, "gnutls-cli", bin, "--udp", "--port", port, "--x509cafile", p.CAFile,
		"--alpn", "mqtt", "--alpn", "coap", "127.0.0.1")
	cl.WaitFor("- Application protocol: coap")
	assert.Equal(t, "coap", (<-got).NegotiatedProtocol)
}

func TestALPNDialWithOpenSSLServer(t *testing.T) {
	opensslBin(t)
	p := newPKI(t)
	for _, tc := range []struct {
		name, serverALPN string
		client           []string
		want             string
		alert            bool
	}{
		{name: "agreed", serverALPN: "coap,h2", client: []string{"h2", "coap"}, want: "coap"},
		{name: "no overlap", serverALPN: "coap", client: []string{"mqtt"}, alert: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := testpeer.FreePort(t, "udp4", net.IPv4(127, 0, 0, 1))
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			srv := startPeer(t, "s_server", "-dtls1_2", "-listen", "-accept", addr,
				"-cert", p.Server.CertFile, "-key", p.Server.KeyFile, "-alpn", tc.serverALPN, "-naccept", "1")
			srv.WaitFor("ACCEPT")
			cfg := p.clientConfig("")
			cfg.NextProtos = tc.client
			c, err := dtls.Dial("udp", addr, cfg)
			if tc.alert && opensslCLISeries(t) == "1.1" {
				// 1.1.1's s_server goes on without ALPN where 3.x
				// answers no_application_protocol; the client, as
				// crypto/tls's, takes a server that chose nothing.
				require.NoError(t, err)
				defer c.Close()
				assert.Empty(t, c.ConnectionState().NegotiatedProtocol)
				return
			}
			if tc.alert {
				require.Error(t, err)
				var alert openssl.AlertError
				require.True(t, errors.As(err, &alert), "%v", err)
				assert.Equal(t, openssl.AlertNoApplicationProtocol, alert)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, tc.want, c.ConnectionState().NegotiatedProtocol)
		})
	}
}
